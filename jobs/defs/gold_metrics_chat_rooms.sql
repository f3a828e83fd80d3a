-- Chat activity per tenant, room and day: messages sent, edited and deleted, distinct senders.
SELECT
    tenant_id,
    room_id,
    event_date AS day,
    count(*) FILTER (WHERE event_type = 'message.created') AS messages,
    count(*) FILTER (WHERE event_type = 'message.updated') AS edits,
    count(*) FILTER (WHERE event_type = 'message.deleted') AS deletions,
    count(*) FILTER (WHERE event_type = 'message.created' AND has_attachment) AS attachments,
    count(DISTINCT sender_id) FILTER (WHERE event_type = 'message.created') AS senders
FROM silver.messages
WHERE kind = 'room' AND room_id IS NOT NULL
  AND event_date >= {{ from }} AND event_date <= {{ to }}
GROUP BY tenant_id, room_id, event_date
