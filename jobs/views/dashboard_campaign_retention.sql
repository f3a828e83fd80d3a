CREATE OR REPLACE VIEW dashboard_campaign_retention AS
-- One row per tenant, campaign, currency and calendar month in which the campaign received a
-- gift: its donors and amount (minor units) that month, its donors of the month before, how
-- many of those gave to it again (retained), and retention_rate = retained / donors of the
-- month before (NULL when it had none).
WITH monthly AS (
    SELECT
        tenant_id,
        campaign_id,
        currency,
        subject_id AS donor_id,
        CAST(date_trunc('month', event_date) AS DATE) AS month_start,
        sum(CAST(amount_minor AS DECIMAL(38, 0))) AS amount_minor
    FROM silver_donations
    GROUP BY tenant_id, campaign_id, currency, subject_id, CAST(date_trunc('month', event_date) AS DATE)
),
campaign_months AS (
    SELECT
        tenant_id,
        campaign_id,
        currency,
        month_start,
        count(*) AS donors,
        sum(amount_minor) AS amount_minor
    FROM monthly
    GROUP BY tenant_id, campaign_id, currency, month_start
),
retained AS (
    SELECT
        later.tenant_id,
        later.campaign_id,
        later.currency,
        later.month_start,
        count(*) AS retained_donors
    FROM monthly later
    JOIN monthly earlier
        ON earlier.tenant_id = later.tenant_id
        AND earlier.campaign_id = later.campaign_id
        AND earlier.currency = later.currency
        AND earlier.donor_id = later.donor_id
        AND CAST(earlier.month_start + INTERVAL '1' MONTH AS DATE) = later.month_start
    GROUP BY later.tenant_id, later.campaign_id, later.currency, later.month_start
)
SELECT
    m.tenant_id,
    m.campaign_id,
    m.currency,
    m.month_start,
    m.donors,
    m.amount_minor,
    coalesce(p.donors, 0) AS previous_donors,
    coalesce(r.retained_donors, 0) AS retained_donors,
    CAST(coalesce(r.retained_donors, 0) AS DOUBLE) / nullif(p.donors, 0) AS retention_rate
FROM campaign_months m
LEFT JOIN campaign_months p
    ON p.tenant_id = m.tenant_id
    AND p.campaign_id = m.campaign_id
    AND p.currency = m.currency
    AND CAST(p.month_start + INTERVAL '1' MONTH AS DATE) = m.month_start
LEFT JOIN retained r
    ON r.tenant_id = m.tenant_id
    AND r.campaign_id = m.campaign_id
    AND r.currency = m.currency
    AND r.month_start = m.month_start
