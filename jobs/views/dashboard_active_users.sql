CREATE OR REPLACE VIEW dashboard_active_users AS
-- One row per tenant, application and day with any activity: distinct users active that day
-- (dau), in the 7 days (wau) and in the 30 days (mau) ending that day, and stickiness
-- (dau / mau). `day` is the partition column of the table below: a filter on it prunes files.
SELECT
    tenant_id,
    application,
    day,
    dau,
    wau,
    mau,
    CAST(dau AS DOUBLE) / nullif(mau, 0) AS stickiness
FROM gold_metrics_active_users
