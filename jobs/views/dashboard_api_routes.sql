CREATE OR REPLACE VIEW dashboard_api_routes AS
-- One row per tenant, API route and hour (UTC) with requests: requests, client (4xx) and
-- server (5xx) errors, error_rate = server errors / requests, client_error_rate, latency
-- percentiles in milliseconds and bytes sent. `day` is the partition column of the table
-- below: a filter on it prunes files.
SELECT
    tenant_id,
    route,
    CAST(hour AS TIMESTAMP) AS hour,
    requests,
    client_errors,
    server_errors,
    error_rate,
    CAST(client_errors AS DOUBLE) / requests AS client_error_rate,
    latency_p50_ms,
    latency_p95_ms,
    latency_p99_ms,
    bytes_out,
    day
FROM gold_metrics_api
