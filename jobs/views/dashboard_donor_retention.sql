CREATE OR REPLACE VIEW dashboard_donor_retention AS
-- One row per tenant, currency, grain (month, quarter, year) and period in which someone gave,
-- in the Fundraising Effectiveness Project's terms: donors, donors of the previous period,
-- retained, new, recaptured and lapsed donors, retention_rate = retained / previous donors,
-- and amounts in the currency's minor unit.
SELECT
    tenant_id,
    currency,
    grain,
    period_start,
    donors,
    previous_donors,
    retained_donors,
    new_donors,
    recaptured_donors,
    lapsed_donors,
    retention_rate,
    amount_minor,
    retained_amount_minor,
    previous_amount_minor
FROM gold_metrics_donor_retention
