-- Chat per tenant and day: active rooms (a message sent in them), room and direct messages,
-- active senders.
SELECT
    tenant_id,
    event_date AS day,
    count(DISTINCT room_id) FILTER (WHERE event_type = 'message.created' AND kind = 'room') AS active_rooms,
    count(*) FILTER (WHERE event_type = 'message.created' AND kind = 'room') AS room_messages,
    count(*) FILTER (WHERE event_type = 'message.created' AND kind = 'direct') AS direct_messages,
    count(DISTINCT sender_id) FILTER (WHERE event_type = 'message.created') AS active_senders
FROM silver.messages
WHERE event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, event_date
