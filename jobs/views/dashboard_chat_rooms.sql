CREATE OR REPLACE VIEW dashboard_chat_rooms AS
-- One row per tenant, chat room and day with activity: messages sent, edited and deleted,
-- attachments, distinct senders and messages per sender. `day` is the partition column of
-- the table below: a filter on it prunes files.
SELECT
    tenant_id,
    room_id,
    day,
    messages,
    edits,
    deletions,
    attachments,
    senders,
    CAST(messages AS DOUBLE) / nullif(senders, 0) AS messages_per_sender
FROM gold_metrics_chat_rooms
