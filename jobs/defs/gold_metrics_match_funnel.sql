-- Match funnel per tenant, day and collaboration model. `viewed`, `accepted` and `declined`
-- count distinct (opportunity, candidate) pairs with that event on the day; `acceptance_rate`
-- is accepted over viewed pairs (NULL with no views). Feedback on an opportunity not (yet) in
-- silver.opportunities counts under model 'unknown'.
SELECT
    f.tenant_id,
    f.event_date AS day,
    coalesce(o.collaboration_model, 'unknown') AS model,
    count(DISTINCT f.opportunity_id || '/' || f.candidate_id) FILTER (WHERE f.event_type = 'match.viewed') AS viewed,
    count(DISTINCT f.opportunity_id || '/' || f.candidate_id) FILTER (WHERE f.event_type = 'match.accepted') AS accepted,
    count(DISTINCT f.opportunity_id || '/' || f.candidate_id) FILTER (WHERE f.event_type = 'match.declined') AS declined,
    CAST(count(DISTINCT f.opportunity_id || '/' || f.candidate_id) FILTER (WHERE f.event_type = 'match.accepted') AS DOUBLE)
        / nullif(count(DISTINCT f.opportunity_id || '/' || f.candidate_id) FILTER (WHERE f.event_type = 'match.viewed'), 0) AS acceptance_rate
FROM silver.match_feedback f
LEFT JOIN silver.opportunities o ON o.tenant_id = f.tenant_id AND o.opportunity_id = f.opportunity_id
WHERE f.event_date >= {{ from }} AND f.event_date <= {{ to }}
GROUP BY f.tenant_id, f.event_date, coalesce(o.collaboration_model, 'unknown')
