-- Chat activity per tenant, room and day: messages sent, edited and deleted, attachments and
-- distinct senders (counted in two steps, per sender first, instead of a DISTINCT aggregate).
WITH per_sender AS (
    SELECT
        tenant_id, room_id, event_date, sender_id,
        count(*) FILTER (WHERE event_type = 'message.created') AS messages,
        count(*) FILTER (WHERE event_type = 'message.updated') AS edits,
        count(*) FILTER (WHERE event_type = 'message.deleted') AS deletions,
        count(*) FILTER (WHERE event_type = 'message.created' AND has_attachment) AS attachments
    FROM silver.messages
    WHERE kind = 'room' AND room_id IS NOT NULL
      AND event_date >= {{ from }} AND event_date <= {{ to }}
    GROUP BY tenant_id, room_id, event_date, sender_id
)
SELECT
    tenant_id,
    room_id,
    event_date AS day,
    sum(messages) AS messages,
    sum(edits) AS edits,
    sum(deletions) AS deletions,
    sum(attachments) AS attachments,
    count(*) FILTER (WHERE messages > 0) AS senders
FROM per_sender
GROUP BY tenant_id, room_id, event_date
