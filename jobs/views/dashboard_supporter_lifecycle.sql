CREATE OR REPLACE VIEW dashboard_supporter_lifecycle AS
-- One row per tenant, context date (as_of) and lifecycle stage (prospect, new, retained,
-- recaptured, lapsed): its supporters, how many may receive appeals (marketing consent), how
-- many are LYBUNT, SYBUNT, at risk or lapsing, active regular givers, and their average
-- engagement score.
SELECT
    tenant_id,
    as_of,
    lifecycle,
    count(*) AS supporters,
    count(*) FILTER (WHERE consent_marketing) AS with_marketing_consent,
    count(*) FILTER (WHERE lybunt) AS lybunt,
    count(*) FILTER (WHERE sybunt) AS sybunt,
    count(*) FILTER (WHERE at_risk) AS at_risk,
    count(*) FILTER (WHERE lapsing) AS lapsing,
    count(*) FILTER (WHERE recurring_status = 'active') AS regular_givers,
    CAST(avg(engagement_score) AS DOUBLE) AS average_engagement
FROM gold_user_context
GROUP BY tenant_id, as_of, lifecycle
