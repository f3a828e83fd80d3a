-- Daily, weekly and monthly active users per tenant and application: distinct subjects with
-- any event on the day, in the 7 days, and in the 30 days ending that day.
WITH activity AS (
    SELECT DISTINCT tenant_id, source AS application, subject_id, event_date AS day
    FROM bronze.events
    WHERE event_date > {{ from }} - INTERVAL '30 days' AND event_date <= {{ to }}
),
days AS (
    SELECT DISTINCT tenant_id, application, day
    FROM activity
    WHERE day >= {{ from }}
)
SELECT
    d.tenant_id,
    d.application,
    d.day,
    count(DISTINCT a.subject_id) FILTER (WHERE a.day = d.day) AS dau,
    count(DISTINCT a.subject_id) FILTER (WHERE a.day > d.day - INTERVAL '7 days') AS wau,
    count(DISTINCT a.subject_id) AS mau
FROM days d
JOIN activity a
  ON a.tenant_id = d.tenant_id AND a.application = d.application
 AND a.day <= d.day AND a.day > d.day - INTERVAL '30 days'
GROUP BY d.tenant_id, d.application, d.day
