DROP INDEX campaign_recipients_latest_idx;
DROP INDEX messages_queued_idx;
