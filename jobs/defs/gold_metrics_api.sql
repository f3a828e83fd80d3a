-- SaaS API per tenant, route and hour: requests, client and server errors, error rate
-- (server errors / requests) and latency percentiles (t-digest approximations).
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
    sum(bytes_out) AS bytes_out,
    event_date AS day
FROM silver.api_requests
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, route, date_trunc('hour', occurred_at), event_date
