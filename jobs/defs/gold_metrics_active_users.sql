-- Daily, weekly and monthly active users per tenant and application: distinct subjects with
-- any event on the day, in the 7 days, and in the 30 days ending that day. A row exists for
-- each day the application had any activity in the tenant.
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
-- Each span gives three deltas; a cross join with three markers keeps spans to one evaluation
-- (a CTE named three times would be computed three times).
deltas AS (
    SELECT
        s.tenant_id, s.application,
        CASE m.marker
            WHEN 0 THEN s.day
            WHEN 1 THEN least(CAST(s.day + INTERVAL '7 days' AS DATE), s.next_day)
            ELSE least(CAST(s.day + INTERVAL '30 days' AS DATE), s.next_day)
        END AS day,
        CASE m.marker WHEN 0 THEN 1 ELSE 0 END AS dau,
        CASE m.marker WHEN 0 THEN 1 WHEN 1 THEN -1 ELSE 0 END AS wau,
        CASE m.marker WHEN 0 THEN 1 WHEN 2 THEN -1 ELSE 0 END AS mau
    FROM spans s
    CROSS JOIN (VALUES (0), (1), (2)) AS m(marker)
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
