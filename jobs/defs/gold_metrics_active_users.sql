-- Daily, weekly and monthly active users per tenant and application: distinct subjects with
-- any event on the day, in the 7 days, and in the 30 days ending that day.
--
-- Linear, not a range join: each day a subject is active opens a span that counts it for the
-- next 7 (30) days, cut short where its next active day opens the next span. Spans of one
-- subject never overlap, so WAU/MAU on a day is a running sum of +1 at span starts and -1 at
-- span ends.
WITH activity AS (
    SELECT DISTINCT tenant_id, source AS application, subject_id, event_date AS day
    FROM bronze.events
    WHERE event_date > {{ from }} - INTERVAL '30 days' AND event_date <= {{ to }}
),
spans AS (
    SELECT tenant_id, application, day,
           coalesce(lead(day) OVER (PARTITION BY tenant_id, application, subject_id ORDER BY day),
                    DATE '9999-12-31') AS next_day
    FROM activity
),
deltas AS (
    SELECT tenant_id, application, day, 1 AS dau, 1 AS wau, 1 AS mau FROM spans
    UNION ALL
    SELECT tenant_id, application, least(CAST(day + INTERVAL '7 days' AS DATE), next_day), 0, -1, 0 FROM spans
    UNION ALL
    SELECT tenant_id, application, least(CAST(day + INTERVAL '30 days' AS DATE), next_day), 0, 0, -1 FROM spans
),
daily AS (
    SELECT tenant_id, application, day, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau
    FROM deltas
    GROUP BY tenant_id, application, day
),
running AS (
    SELECT tenant_id, application, day, dau,
           sum(wau) OVER (PARTITION BY tenant_id, application ORDER BY day) AS wau,
           sum(mau) OVER (PARTITION BY tenant_id, application ORDER BY day) AS mau
    FROM daily
)
SELECT tenant_id, application, day, dau, wau, mau
FROM running
WHERE dau > 0 AND day >= {{ from }} AND day <= {{ to }}
