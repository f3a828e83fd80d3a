CREATE OR REPLACE VIEW dashboard_match_funnel AS
-- One row per tenant, day and collaboration model with match feedback: distinct
-- (opportunity, candidate) pairs viewed, accepted and declined that day, acceptance_rate =
-- accepted / viewed and decline_rate = declined / viewed (NULL with no views). `day` is the
-- partition column of the table below: a filter on it prunes files.
SELECT
    tenant_id,
    day,
    model,
    viewed,
    accepted,
    declined,
    acceptance_rate,
    CAST(declined AS DOUBLE) / nullif(viewed, 0) AS decline_rate
FROM gold_metrics_match_funnel
