-- Donor retention (Fundraising Effectiveness Project definitions) per tenant and currency (so
-- amounts are never summed across currencies), for calendar months, quarters and years up to
-- as_of. A period appears when someone gave in it:
--   retained    gave in the period and in the previous period of the same length
--   new         first gift ever in the period
--   recaptured  gave in the period, not in the previous one, but at some time before it
--   lapsed      gave in the previous period but not in this one
--   retention_rate = retained / donors of the previous period
-- Amounts are summed as DECIMAL(38, 0) from the first CTE on, exact whatever the input:
-- DataFusion's SUM over BIGINT wraps around silently on overflow.
WITH gifts AS (
    SELECT tenant_id, currency, subject_id AS donor_id, event_date,
           CAST(amount_minor AS DECIMAL(38, 0)) AS amount_minor
    FROM silver.donations
    WHERE event_date <= {{ as_of }}
),
first_gift AS (
    SELECT tenant_id, currency, donor_id, min(event_date) AS first_day FROM gifts GROUP BY tenant_id, currency, donor_id
),
periods AS (
    SELECT tenant_id, currency, donor_id, 'month' AS grain, CAST(date_trunc('month', event_date) AS DATE) AS period_start, sum(amount_minor) AS amount_minor FROM gifts GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT tenant_id, currency, donor_id, 'quarter', CAST(date_trunc('quarter', event_date) AS DATE), sum(amount_minor) FROM gifts GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT tenant_id, currency, donor_id, 'year', CAST(date_trunc('year', event_date) AS DATE), sum(amount_minor) FROM gifts GROUP BY 1, 2, 3, 4, 5
),
with_previous AS (
    SELECT *,
        CASE grain
            WHEN 'month' THEN CAST(period_start - INTERVAL '1 month' AS DATE)
            WHEN 'quarter' THEN CAST(period_start - INTERVAL '3 months' AS DATE)
            ELSE CAST(period_start - INTERVAL '1 year' AS DATE)
        END AS previous_start
    FROM periods
),
calendar AS (
    SELECT DISTINCT tenant_id, currency, grain, period_start, previous_start FROM with_previous
),
current_donors AS (
    SELECT c.tenant_id, c.currency, c.grain, c.period_start,
        count(*) AS donors,
        sum(c.amount_minor) AS amount_minor,
        count(*) FILTER (WHERE p.donor_id IS NOT NULL) AS retained_donors,
        sum(c.amount_minor) FILTER (WHERE p.donor_id IS NOT NULL) AS retained_amount_minor,
        count(*) FILTER (WHERE f.first_day >= c.period_start) AS new_donors,
        count(*) FILTER (WHERE p.donor_id IS NULL AND f.first_day < c.previous_start) AS recaptured_donors
    FROM with_previous c
    JOIN first_gift f ON f.tenant_id = c.tenant_id AND f.currency = c.currency AND f.donor_id = c.donor_id
    LEFT JOIN periods p ON p.tenant_id = c.tenant_id AND p.currency = c.currency AND p.donor_id = c.donor_id
        AND p.grain = c.grain AND p.period_start = c.previous_start
    GROUP BY c.tenant_id, c.currency, c.grain, c.period_start
),
previous_donors AS (
    SELECT k.tenant_id, k.currency, k.grain, k.period_start,
        count(p.donor_id) AS previous_donors,
        sum(p.amount_minor) AS previous_amount_minor
    FROM calendar k
    LEFT JOIN periods p ON p.tenant_id = k.tenant_id AND p.currency = k.currency
        AND p.grain = k.grain AND p.period_start = k.previous_start
    GROUP BY k.tenant_id, k.currency, k.grain, k.period_start
)
SELECT
    c.tenant_id,
    c.currency,
    c.grain,
    c.period_start,
    c.donors,
    p.previous_donors,
    c.retained_donors,
    c.new_donors,
    c.recaptured_donors,
    p.previous_donors - c.retained_donors AS lapsed_donors,
    CASE WHEN p.previous_donors > 0 THEN CAST(c.retained_donors AS DOUBLE) / p.previous_donors END AS retention_rate,
    c.amount_minor,
    coalesce(c.retained_amount_minor, 0) AS retained_amount_minor,
    coalesce(p.previous_amount_minor, 0) AS previous_amount_minor
FROM current_donors c
JOIN previous_donors p ON p.tenant_id = c.tenant_id AND p.currency = c.currency
    AND p.grain = c.grain AND p.period_start = c.period_start
