CREATE OR REPLACE VIEW dashboard_campaign_donations AS
-- One row per tenant, campaign, currency and day with gifts: gifts, their total and average in
-- the currency's minor unit (pence, cents), donors, new donors (first gift ever that day),
-- recurring and Gift Aid gifts. Amounts are never summed across currencies. `day` is the
-- partition column of the table below: a filter on it prunes files.
SELECT
    tenant_id,
    campaign_id,
    currency,
    day,
    donations,
    amount_minor,
    average_minor,
    donors,
    new_donors,
    recurring_donations,
    gift_aid_donations,
    CAST(recurring_donations AS DOUBLE) / nullif(donations, 0) AS recurring_share
FROM gold_metrics_donations
