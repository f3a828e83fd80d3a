-- Upload volume per tenant, file format and day.
SELECT
    tenant_id,
    format,
    event_date AS day,
    count(*) AS uploads,
    sum(size_bytes) AS bytes,
    sum("rows") AS data_rows
FROM silver.uploads
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, format, event_date
