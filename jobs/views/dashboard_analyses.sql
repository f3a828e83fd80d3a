CREATE OR REPLACE VIEW dashboard_analyses AS
-- One row per tenant, analysis kind and day with analyses: requested, completed and failed,
-- failure_rate = failed / finished, completion_rate = completed / requested, and run-time
-- percentiles of completed analyses in milliseconds. `day` is the partition column of the
-- table below: a filter on it prunes files.
SELECT
    tenant_id,
    kind,
    day,
    requested,
    completed,
    failed,
    failure_rate,
    CAST(completed AS DOUBLE) / nullif(requested, 0) AS completion_rate,
    duration_p50_ms,
    duration_p95_ms
FROM gold_metrics_analyses
