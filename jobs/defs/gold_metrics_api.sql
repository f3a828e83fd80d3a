-- SaaS API per tenant, route and hour: requests, client and server errors, error rate
-- (server errors / requests), latency percentiles (t-digest approximations) and response bytes.
--
-- bytes_out is summed as DECIMAL(38, 0): DataFusion's SUM over BIGINT wraps around silently on
-- overflow, a sum of BIGINTs in DECIMAL(38, 0) cannot overflow (it would take 10^19 rows), so
-- the total is exact even for rows written before the contract capped a request at 5 GiB.
SELECT
    tenant_id,
    route,
    date_trunc('hour', occurred_at) AS hour,
    count(*) AS requests,
    count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_errors,
    count(*) FILTER (WHERE status >= 500) AS server_errors,
    CAST(count(*) FILTER (WHERE status >= 500) AS DOUBLE) / count(*) AS error_rate,
    approx_percentile_cont(latency_ms, 0.5) AS latency_p50_ms,
    approx_percentile_cont(latency_ms, 0.95) AS latency_p95_ms,
    approx_percentile_cont(latency_ms, 0.99) AS latency_p99_ms,
    sum(CAST(bytes_out AS DECIMAL(38, 0))) AS bytes_out,
    event_date AS day
FROM silver.api_requests
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, route, date_trunc('hour', occurred_at), event_date
