CREATE OR REPLACE VIEW dashboard_events_hourly AS
-- One row per tenant, application, event type and hour (UTC) with events: how many were
-- accepted. `day` is the partition column of the table below: a filter on it prunes files.
SELECT
    tenant_id,
    application,
    event_type,
    CAST(hour AS TIMESTAMP) AS hour,
    events,
    day
FROM gold_metrics_events_hourly
