-- Analyses per tenant, kind and day: requested, completed, failed, failure rate and run-time
-- percentiles of completed analyses.
SELECT
    tenant_id,
    kind,
    event_date AS day,
    count(*) FILTER (WHERE event_type = 'analysis.requested') AS requested,
    count(*) FILTER (WHERE event_type = 'analysis.completed') AS completed,
    count(*) FILTER (WHERE event_type = 'analysis.failed') AS failed,
    CASE WHEN count(*) FILTER (WHERE event_type <> 'analysis.requested') > 0
         THEN CAST(count(*) FILTER (WHERE event_type = 'analysis.failed') AS DOUBLE)
              / count(*) FILTER (WHERE event_type <> 'analysis.requested')
    END AS failure_rate,
    approx_percentile_cont(duration_ms, 0.5) FILTER (WHERE event_type = 'analysis.completed') AS duration_p50_ms,
    approx_percentile_cont(duration_ms, 0.95) FILTER (WHERE event_type = 'analysis.completed') AS duration_p95_ms
FROM silver.analyses
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, kind, event_date
