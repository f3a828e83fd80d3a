-- Charity supporters: latest preferences and consent per supporter.
-- Each field holds its latest non-null value in event-time order, so a partial update changes
-- only the fields it carries. Only entities with events in the run's window are recomputed,
-- each from its whole history, and merged on the key.
WITH touched AS (
    SELECT DISTINCT tenant_id, supporter_id
    FROM silver.supporter_events
    WHERE event_date >= {{ from }} AND event_date <= {{ to }}
)
SELECT
    e.tenant_id,
    e.supporter_id,
    last_value(e.interests ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.interests IS NOT NULL) AS interests,
    last_value(e.preferred_channel ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.preferred_channel IS NOT NULL) AS preferred_channel,
    last_value(e.consent ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.consent IS NOT NULL) AS consent,
    last_value(e.country ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.country IS NOT NULL) AS country,
    last_value(e.birth_year ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.birth_year IS NOT NULL) AS birth_year,
    min(e.occurred_at) FILTER (WHERE e.event_type = 'supporter.registered') AS registered_at,
    max(e.occurred_at) AS updated_at,
    count(*) AS events
FROM silver.supporter_events e
JOIN touched t ON e.tenant_id = t.tenant_id AND e.supporter_id = t.supporter_id
GROUP BY e.tenant_id, e.supporter_id
