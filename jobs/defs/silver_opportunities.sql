-- Marketplace opportunities: latest state per opportunity, open or closed.
-- Each field holds its latest non-null value in event-time order, so a partial update changes
-- only the fields it carries. Only entities with events in the run's window are recomputed,
-- each from its whole history, and merged on the key.
WITH touched AS (
    SELECT DISTINCT tenant_id, opportunity_id
    FROM silver.opportunity_events
    WHERE event_date >= {{ from }} AND event_date <= {{ to }}
)
SELECT
    e.tenant_id,
    e.opportunity_id,
    last_value(e.poster_id ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.poster_id IS NOT NULL) AS poster_id,
    last_value(e.title ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.title IS NOT NULL) AS title,
    last_value(e.collaboration_model ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.collaboration_model IS NOT NULL) AS collaboration_model,
    last_value(e.sub_model ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.sub_model IS NOT NULL) AS sub_model,
    last_value(e.required_roles ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.required_roles IS NOT NULL) AS required_roles,
    last_value(e.sectors ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.sectors IS NOT NULL) AS sectors,
    last_value(e.budget ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.budget IS NOT NULL) AS budget,
    last_value(e.location ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.location IS NOT NULL) AS location,
    last_value(e.remote ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.remote IS NOT NULL) AS remote,
    last_value(e.radius_km ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.radius_km IS NOT NULL) AS radius_km,
    last_value(e.starts_on ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.starts_on IS NOT NULL) AS starts_on,
    last_value(e.ends_on ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.ends_on IS NOT NULL) AS ends_on,
    last_value(e.resources_offered ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.resources_offered IS NOT NULL) AS resources_offered,
    last_value(e.resources_needed ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.resources_needed IS NOT NULL) AS resources_needed,
    last_value(e.eligibility ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.eligibility IS NOT NULL) AS eligibility,
    last_value(e.prize ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.prize IS NOT NULL) AS prize,
    last_value(e.reason ORDER BY e.occurred_at, e.event_id) FILTER (WHERE e.reason IS NOT NULL) AS closed_reason,
    min(e.occurred_at) FILTER (WHERE e.event_type = 'opportunity.posted') AS posted_at,
    max(e.occurred_at) FILTER (WHERE e.event_type = 'opportunity.closed') AS closed_at,
    CASE WHEN count(*) FILTER (WHERE e.event_type = 'opportunity.closed') > 0
         THEN 'closed' ELSE 'open' END AS status,
    max(e.occurred_at) AS updated_at,
    count(*) AS events
FROM silver.opportunity_events e
JOIN touched t ON e.tenant_id = t.tenant_id AND e.opportunity_id = t.opportunity_id
GROUP BY e.tenant_id, e.opportunity_id
