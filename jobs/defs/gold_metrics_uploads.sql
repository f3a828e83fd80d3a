-- Upload volume per tenant, file format and day.
--
-- Bytes and rows are summed as DECIMAL(38, 0), exact whatever the input: DataFusion's SUM over
-- BIGINT wraps around silently on overflow.
SELECT
    tenant_id,
    format,
    event_date AS day,
    count(*) AS uploads,
    sum(CAST(size_bytes AS DECIMAL(38, 0))) AS bytes,
    sum(CAST("rows" AS DECIMAL(38, 0))) AS data_rows
FROM silver.uploads
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, format, event_date
