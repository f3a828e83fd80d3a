-- Donations per tenant, campaign, currency and day. A new donor is one whose first gift ever
-- (over all history, not just the window) falls on that day.
--
-- amount_minor is summed as DECIMAL(38, 0), exact whatever the input: DataFusion's SUM over
-- BIGINT wraps around silently on overflow. (avg already works in DOUBLE.)
WITH first_gift AS (
    SELECT tenant_id, subject_id, min(event_date) AS first_day
    FROM silver.donations
    GROUP BY tenant_id, subject_id
)
SELECT
    d.tenant_id,
    d.campaign_id,
    d.currency,
    d.event_date AS day,
    count(*) AS donations,
    sum(CAST(d.amount_minor AS DECIMAL(38, 0))) AS amount_minor,
    CAST(avg(d.amount_minor) AS DOUBLE) AS average_minor,
    count(DISTINCT d.subject_id) AS donors,
    count(DISTINCT d.subject_id) FILTER (WHERE f.first_day = d.event_date) AS new_donors,
    count(*) FILTER (WHERE d.recurring) AS recurring_donations,
    count(*) FILTER (WHERE d.gift_aid) AS gift_aid_donations
FROM silver.donations d
JOIN first_gift f ON f.tenant_id = d.tenant_id AND f.subject_id = d.subject_id
WHERE d.event_date >= {{ from }} AND d.event_date <= {{ to }}
GROUP BY d.tenant_id, d.campaign_id, d.currency, d.event_date
