-- Marketplace parties (companies and individuals): latest profile per party.
-- Each field holds its latest non-null value in event-time order, so a partial update changes
-- only the fields it carries. Only entities with events in the run's window are recomputed,
-- each from its whole history, and merged on the key.
WITH touched AS (
    SELECT DISTINCT tenant_id, party_id
    FROM silver.party_events
    WHERE event_date >= {{ from }} AND event_date <= {{ to }}
)
SELECT
    e.tenant_id,
    e.party_id,
    last_value(e.kind ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.kind IS NOT NULL) AS kind,
    last_value(e.name ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.name IS NOT NULL) AS name,
    last_value(e.skills ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.skills IS NOT NULL) AS skills,
    last_value(e.sectors ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.sectors IS NOT NULL) AS sectors,
    last_value(e.certifications ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.certifications IS NOT NULL) AS certifications,
    last_value(e.location ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.location IS NOT NULL) AS location,
    last_value(e.capacity ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.capacity IS NOT NULL) AS capacity,
    last_value(e.availability ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.availability IS NOT NULL) AS availability,
    last_value(e.rate ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.rate IS NOT NULL) AS rate,
    last_value(e.languages ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.languages IS NOT NULL) AS languages,
    last_value(e.verified ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.verified IS NOT NULL) AS verified,
    last_value(e.preferences ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.preferences IS NOT NULL) AS preferences,
    min(e.occurred_at) FILTER (WHERE e.event_type = 'party.registered') AS registered_at,
    max(e.occurred_at) AS updated_at,
    count(*) AS events
FROM silver.party_events e
JOIN touched t ON e.tenant_id = t.tenant_id AND e.party_id = t.party_id
GROUP BY e.tenant_id, e.party_id
