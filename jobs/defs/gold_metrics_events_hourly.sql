-- Events per tenant, application, event type and hour.
SELECT
    tenant_id,
    source AS application,
    event_type,
    date_trunc('hour', occurred_at) AS hour,
    count(*) AS events,
    event_date AS day
FROM bronze.events
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, source, event_type, date_trunc('hour', occurred_at), event_date
