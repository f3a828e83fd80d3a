-- Personalisation context: one row per supporter, everything the personalisation agent needs
-- to address them well, as of {{ as_of }}. Definitions (README, "Personalisation context"):
--   periods      CY = (as_of - 12 months, as_of], LY = (as_of - 24 months, as_of - 12 months]
--   lifecycle    prospect (never gave), new (first gift in CY), retained (gave in CY and LY),
--                recaptured (gave in CY, not LY, and before LY), lapsed (no gift in CY)
--   LYBUNT       gave in LY but not in CY; SYBUNT: gave before LY, not in LY nor CY
--   at_risk      last gift 12-15 months ago; lapsing: 15-24 months ago
--   RFM          over the active donor base (a gift in the last 24 months), per tenant:
--                score = ceil(5 * cume_dist) so ties share a score; recency ranks fewer days
--                higher; monetary is ranked within the supporter's currency
--   engagement   sum over interactions of weight x 0.5 ^ (age in days / 30)
--                (agent_chat 3, content_click 2, search 2, page_view 1, email_open 1)
--   consent      without marketing consent the next best action is service_only and no
--                causes are suggested
--   point in time every input is cut at as_of (event_date <= as_of): a context as of a past day
--                holds only the supporters, profiles, consent, gifts and interactions known then
WITH gifts AS (
    SELECT tenant_id, subject_id AS supporter_id, event_date, amount_minor, currency,
           campaign_id, cause, channel, recurring
    FROM silver.donations
    WHERE event_date <= {{ as_of }}
),
giving AS (
    SELECT
        tenant_id, supporter_id,
        min(event_date) AS first_gift_date,
        max(event_date) AS last_gift_date,
        count(*) AS gifts_lifetime,
        sum(amount_minor) AS lifetime_giving_minor,
        coalesce(sum(amount_minor) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '12 months'), 0) AS last_12m_giving_minor,
        count(*) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '12 months') AS gifts_cy,
        count(*) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '24 months'
                           AND event_date <= {{ as_of }} - INTERVAL '12 months') AS gifts_ly,
        count(*) FILTER (WHERE event_date <= {{ as_of }} - INTERVAL '24 months') AS gifts_before_ly,
        count(*) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '24 months') AS frequency_24m,
        coalesce(sum(amount_minor) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '24 months'), 0) AS monetary_24m,
        max(event_date) FILTER (WHERE recurring) AS last_recurring_date,
        max(currency) AS currency
    FROM gifts
    GROUP BY tenant_id, supporter_id
),
-- Scores only for the active donor base: the partition's second key keeps the others apart,
-- and their scores are nulled.
rfm AS (
    SELECT *,
        CASE WHEN frequency_24m > 0 THEN CAST(ceil(5 * cume_dist() OVER (
            PARTITION BY tenant_id, frequency_24m > 0 ORDER BY {{ as_of }} - last_gift_date DESC)) AS INT) END AS recency_score,
        CASE WHEN frequency_24m > 0 THEN CAST(ceil(5 * cume_dist() OVER (
            PARTITION BY tenant_id, frequency_24m > 0 ORDER BY frequency_24m)) AS INT) END AS frequency_score,
        CASE WHEN frequency_24m > 0 THEN CAST(ceil(5 * cume_dist() OVER (
            PARTITION BY tenant_id, currency, frequency_24m > 0 ORDER BY monetary_24m)) AS INT) END AS monetary_score
    FROM giving
),
cause_totals AS (
    SELECT tenant_id, supporter_id, cause, sum(amount_minor) AS total
    FROM gifts WHERE event_date > {{ as_of }} - INTERVAL '24 months'
    GROUP BY tenant_id, supporter_id, cause
),
-- Lists are built from ranked rows (row_number, then one CASE per length) rather than an
-- ordered array_agg, which is several times slower here.
causes AS (
    SELECT tenant_id, supporter_id,
        CASE count(*) WHEN 0 THEN NULL WHEN 1 THEN [max(cause) FILTER (WHERE n = 1)] WHEN 2 THEN [max(cause) FILTER (WHERE n = 1), max(cause) FILTER (WHERE n = 2)] ELSE [max(cause) FILTER (WHERE n = 1), max(cause) FILTER (WHERE n = 2), max(cause) FILTER (WHERE n = 3)] END AS top_causes
    FROM (SELECT *, row_number() OVER (PARTITION BY tenant_id, supporter_id ORDER BY total DESC, cause) AS n
          FROM cause_totals) ranked
    WHERE n <= 3
    GROUP BY tenant_id, supporter_id
),
campaign_totals AS (
    SELECT tenant_id, supporter_id, campaign_id, sum(amount_minor) AS total
    FROM gifts WHERE event_date > {{ as_of }} - INTERVAL '24 months'
    GROUP BY tenant_id, supporter_id, campaign_id
),
campaigns AS (
    SELECT tenant_id, supporter_id,
        CASE count(*) WHEN 0 THEN NULL WHEN 1 THEN [max(campaign_id) FILTER (WHERE n = 1)] WHEN 2 THEN [max(campaign_id) FILTER (WHERE n = 1), max(campaign_id) FILTER (WHERE n = 2)] ELSE [max(campaign_id) FILTER (WHERE n = 1), max(campaign_id) FILTER (WHERE n = 2), max(campaign_id) FILTER (WHERE n = 3)] END AS top_campaigns
    FROM (SELECT *, row_number() OVER (PARTITION BY tenant_id, supporter_id ORDER BY total DESC, campaign_id) AS n
          FROM campaign_totals) ranked
    WHERE n <= 3
    GROUP BY tenant_id, supporter_id
),
channel_counts AS (
    SELECT tenant_id, supporter_id, channel,
           row_number() OVER (PARTITION BY tenant_id, supporter_id ORDER BY count(*) DESC, channel) AS n
    FROM gifts GROUP BY tenant_id, supporter_id, channel
),
engagement AS (
    SELECT
        tenant_id, subject_id AS supporter_id,
        round(sum(
            CASE kind WHEN 'agent_chat' THEN 3.0 WHEN 'content_click' THEN 2.0 WHEN 'search' THEN 2.0 ELSE 1.0 END
            * exp(-ln(2.0) * ({{ as_of }} - event_date) / 30.0)
        ), 2) AS engagement_score,
        count(*) FILTER (WHERE event_date > {{ as_of }} - INTERVAL '90 days') AS interactions_90d,
        max(occurred_at) AS last_interaction_at
    FROM silver.interactions
    WHERE event_date <= {{ as_of }}
    GROUP BY tenant_id, subject_id
),
-- The latest searches and agent chats, ranked per kind.
latest_texts AS (
    SELECT tenant_id, subject_id, kind, occurred_at, coalesce(query, message) AS text,
           row_number() OVER (PARTITION BY tenant_id, subject_id, kind ORDER BY occurred_at DESC, event_id) AS n
    FROM silver.interactions
    WHERE event_date <= {{ as_of }}
      AND ((kind = 'search' AND query IS NOT NULL) OR (kind = 'agent_chat' AND message IS NOT NULL))
),
recent AS (
    SELECT tenant_id, subject_id AS supporter_id,
        CASE count(*) FILTER (WHERE kind = 'search' AND n <= 5) WHEN 0 THEN NULL WHEN 1 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'search')] WHEN 2 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'search'), max(text) FILTER (WHERE n = 2 AND kind = 'search')] WHEN 3 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'search'), max(text) FILTER (WHERE n = 2 AND kind = 'search'), max(text) FILTER (WHERE n = 3 AND kind = 'search')] WHEN 4 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'search'), max(text) FILTER (WHERE n = 2 AND kind = 'search'), max(text) FILTER (WHERE n = 3 AND kind = 'search'), max(text) FILTER (WHERE n = 4 AND kind = 'search')] ELSE [max(text) FILTER (WHERE n = 1 AND kind = 'search'), max(text) FILTER (WHERE n = 2 AND kind = 'search'), max(text) FILTER (WHERE n = 3 AND kind = 'search'), max(text) FILTER (WHERE n = 4 AND kind = 'search'), max(text) FILTER (WHERE n = 5 AND kind = 'search')] END AS recent_searches,
        CASE count(*) FILTER (WHERE kind = 'agent_chat' AND n <= 3) WHEN 0 THEN NULL WHEN 1 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'agent_chat')] WHEN 2 THEN [max(text) FILTER (WHERE n = 1 AND kind = 'agent_chat'), max(text) FILTER (WHERE n = 2 AND kind = 'agent_chat')] ELSE [max(text) FILTER (WHERE n = 1 AND kind = 'agent_chat'), max(text) FILTER (WHERE n = 2 AND kind = 'agent_chat'), max(text) FILTER (WHERE n = 3 AND kind = 'agent_chat')] END AS recent_agent_chats
    FROM latest_texts
    WHERE n <= 5
    GROUP BY tenant_id, subject_id
),
-- Supporters with an event after as_of: their latest state (silver.supporters) may not be the
-- one in force on as_of. None on a run as of today, and the date filter skips every file.
changed_later AS (
    SELECT DISTINCT tenant_id, supporter_id
    FROM silver.supporter_events
    WHERE event_date > {{ as_of }}
),
-- Profile and consent as they stood on as_of: the latest state where nothing changed after
-- as_of; otherwise silver.supporters' rule (each field its latest non-null value in event-time
-- order) over the events up to as_of only. So a backfill sees neither a later registration (no
-- event by then: no row) nor a later update or withdrawal of consent, and a run as of today
-- reads silver.supporters as it is: re-aggregating every supporter's events (ordered
-- aggregates over lists and structs go row by row) would cost about as much again as the rest
-- of this query. The latest value is the first of a descending array_agg rather than
-- silver.supporters' last_value, which DuckDB (the benchmark's reference) does not have.
supporters AS (
    SELECT s.tenant_id, s.supporter_id, s.interests, s.preferred_channel, s.consent, s.country,
           s.registered_at
    FROM silver.supporters s
    WHERE NOT EXISTS (SELECT 1 FROM changed_later l
                      WHERE l.tenant_id = s.tenant_id AND l.supporter_id = s.supporter_id)
    UNION ALL
    SELECT
        e.tenant_id, e.supporter_id,
        (array_agg(e.interests ORDER BY e.occurred_at DESC, e.event_id DESC) FILTER (WHERE e.interests IS NOT NULL))[1] AS interests,
        (array_agg(e.preferred_channel ORDER BY e.occurred_at DESC, e.event_id DESC) FILTER (WHERE e.preferred_channel IS NOT NULL))[1] AS preferred_channel,
        (array_agg(e.consent ORDER BY e.occurred_at DESC, e.event_id DESC) FILTER (WHERE e.consent IS NOT NULL))[1] AS consent,
        (array_agg(e.country ORDER BY e.occurred_at DESC, e.event_id DESC) FILTER (WHERE e.country IS NOT NULL))[1] AS country,
        min(e.occurred_at) FILTER (WHERE e.event_type = 'supporter.registered') AS registered_at
    FROM silver.supporter_events e
    JOIN changed_later l ON l.tenant_id = e.tenant_id AND l.supporter_id = e.supporter_id
    WHERE e.event_date <= {{ as_of }}
    GROUP BY e.tenant_id, e.supporter_id
),
-- Everyone known on as_of: a supporter with an event by then, or a donor.
people AS (
    SELECT tenant_id, supporter_id FROM supporters
    UNION
    SELECT tenant_id, supporter_id FROM gifts
),
profile AS (
    SELECT
        p.tenant_id, p.supporter_id,
        s.country, s.registered_at, s.preferred_channel, s.interests,
        coalesce(s.consent['email'], false) AS consent_email,
        coalesce(s.consent['sms'], false) AS consent_sms,
        coalesce(s.consent['post'], false) AS consent_post,
        coalesce(s.consent['phone'], false) AS consent_phone,
        coalesce(s.consent['marketing'], false) AS consent_marketing,
        g.first_gift_date, g.last_gift_date,
        {{ as_of }} - g.last_gift_date AS days_since_last_gift,
        coalesce(g.gifts_lifetime, 0) AS gifts_lifetime,
        coalesce(g.lifetime_giving_minor, 0) AS lifetime_giving_minor,
        coalesce(g.last_12m_giving_minor, 0) AS last_12m_giving_minor,
        g.currency,
        g.recency_score, g.frequency_score, g.monetary_score,
        CASE
            WHEN g.supporter_id IS NULL THEN 'prospect'
            WHEN g.gifts_cy = 0 THEN 'lapsed'
            WHEN g.gifts_ly > 0 THEN 'retained'
            WHEN g.gifts_before_ly > 0 THEN 'recaptured'
            ELSE 'new'
        END AS lifecycle,
        coalesce(g.gifts_ly > 0 AND g.gifts_cy = 0, false) AS lybunt,
        coalesce(g.gifts_before_ly > 0 AND g.gifts_ly = 0 AND g.gifts_cy = 0, false) AS sybunt,
        coalesce(g.last_gift_date <= {{ as_of }} - INTERVAL '12 months'
                 AND g.last_gift_date > {{ as_of }} - INTERVAL '15 months', false) AS at_risk,
        coalesce(g.last_gift_date <= {{ as_of }} - INTERVAL '15 months'
                 AND g.last_gift_date > {{ as_of }} - INTERVAL '24 months', false) AS lapsing,
        CASE
            WHEN g.last_recurring_date > {{ as_of }} - INTERVAL '45 days' THEN 'active'
            WHEN g.last_recurring_date IS NOT NULL THEN 'lapsed'
            ELSE 'none'
        END AS recurring_status,
        c.top_causes, k.top_campaigns, ch.channel AS top_donation_channel,
        coalesce(e.engagement_score, 0.0) AS engagement_score,
        coalesce(e.interactions_90d, 0) AS interactions_90d,
        e.last_interaction_at, t.recent_searches, t.recent_agent_chats
    FROM people p
    LEFT JOIN supporters s ON s.tenant_id = p.tenant_id AND s.supporter_id = p.supporter_id
    LEFT JOIN rfm g ON g.tenant_id = p.tenant_id AND g.supporter_id = p.supporter_id
    LEFT JOIN causes c ON c.tenant_id = p.tenant_id AND c.supporter_id = p.supporter_id
    LEFT JOIN campaigns k ON k.tenant_id = p.tenant_id AND k.supporter_id = p.supporter_id
    LEFT JOIN channel_counts ch ON ch.tenant_id = p.tenant_id AND ch.supporter_id = p.supporter_id AND ch.n = 1
    LEFT JOIN engagement e ON e.tenant_id = p.tenant_id AND e.supporter_id = p.supporter_id
    LEFT JOIN recent t ON t.tenant_id = p.tenant_id AND t.supporter_id = p.supporter_id
),
actions AS (
    SELECT *,
        CASE
            WHEN NOT consent_marketing THEN 'service_only'
            WHEN lifecycle = 'prospect' THEN 'invite_first_gift'
            WHEN lifecycle = 'new' THEN 'welcome_journey'
            WHEN lifecycle = 'recaptured' THEN 'welcome_back'
            WHEN lifecycle = 'retained' AND recurring_status = 'none' AND gifts_lifetime >= 3 THEN 'invite_regular_giving'
            WHEN lifecycle = 'retained' THEN 'thank_and_update'
            WHEN lybunt OR at_risk THEN 'reactivation_appeal'
            ELSE 'win_back'
        END AS next_best_action
    FROM profile
)
SELECT
    tenant_id, supporter_id, country, registered_at, preferred_channel, interests,
    consent_email, consent_sms, consent_post, consent_phone, consent_marketing,
    first_gift_date, last_gift_date, days_since_last_gift, gifts_lifetime,
    lifetime_giving_minor, last_12m_giving_minor, currency,
    recency_score, frequency_score, monetary_score,
    CASE WHEN recency_score IS NULL THEN NULL
         ELSE concat(CAST(recency_score AS VARCHAR), CAST(frequency_score AS VARCHAR), CAST(monetary_score AS VARCHAR))
    END AS rfm_segment,
    lifecycle, lybunt, sybunt, at_risk, lapsing, recurring_status,
    top_causes, top_campaigns, top_donation_channel,
    engagement_score, interactions_90d, last_interaction_at, recent_searches, recent_agent_chats,
    next_best_action,
    CASE WHEN consent_marketing THEN coalesce(top_causes, interests) ELSE NULL END AS suggested_causes,
    concat(
        'Supporter ', supporter_id,
        CASE WHEN country IS NULL THEN '' ELSE concat(' (', country, ')') END, '. ',
        'Lifecycle: ', lifecycle,
        CASE WHEN recency_score IS NULL THEN '' ELSE concat(', RFM ', CAST(recency_score AS VARCHAR), '-', CAST(frequency_score AS VARCHAR), '-', CAST(monetary_score AS VARCHAR)) END,
        CASE WHEN lybunt THEN ', LYBUNT' WHEN sybunt THEN ', SYBUNT' ELSE '' END,
        CASE WHEN at_risk THEN ', at risk' WHEN lapsing THEN ', lapsing' ELSE '' END, '. ',
        CASE WHEN gifts_lifetime = 0 THEN 'Has not given yet. '
             ELSE concat(
                'Gave ', currency, ' ', CAST(last_12m_giving_minor / 100 AS VARCHAR), '.', lpad(CAST(last_12m_giving_minor % 100 AS VARCHAR), 2, '0'),
                ' in the last 12 months, ', currency, ' ', CAST(lifetime_giving_minor / 100 AS VARCHAR), '.', lpad(CAST(lifetime_giving_minor % 100 AS VARCHAR), 2, '0'),
                ' over ', CAST(gifts_lifetime AS VARCHAR), ' gift(s); last gift ', CAST(last_gift_date AS VARCHAR),
                ' (', CAST(days_since_last_gift AS VARCHAR), ' days ago). ')
        END,
        CASE recurring_status WHEN 'active' THEN 'Regular giver. ' WHEN 'lapsed' THEN 'Former regular giver. ' ELSE '' END,
        CASE WHEN top_causes IS NULL THEN '' ELSE concat('Gives to: ', array_to_string(top_causes, ', '), '. ') END,
        CASE WHEN interests IS NULL THEN '' ELSE concat('Interested in: ', array_to_string(interests, ', '), '. ') END,
        CASE WHEN preferred_channel IS NULL THEN '' ELSE concat('Prefers ', preferred_channel, '. ') END,
        'Engagement ', CAST(engagement_score AS VARCHAR), ' (', CAST(interactions_90d AS VARCHAR), ' interactions in 90 days). ',
        CASE WHEN recent_searches IS NULL THEN '' ELSE concat('Recently searched: ', array_to_string(recent_searches, '; '), '. ') END,
        CASE WHEN recent_agent_chats IS NULL THEN '' ELSE concat('Recently asked the agent: ', array_to_string(recent_agent_chats, '; '), '. ') END,
        CASE WHEN consent_marketing THEN concat('Marketing consent: yes; next best action: ', next_best_action, '.')
             ELSE 'No marketing consent: service messages only, do not suggest appeals.' END
    ) AS prompt_context,
    {{ as_of }} AS as_of,
    {{ run_id }} AS run_id
FROM actions
