DROP TRIGGER conversations_counted_update ON conversations;
DROP TRIGGER conversations_counted ON conversations;
DROP FUNCTION conversation_counts_track();
DROP TABLE conversation_counts;
DROP INDEX conversations_search_trgm_idx;
DROP INDEX messages_body_trgm_idx;
-- pg_trgm stays: other objects may use it.
DROP INDEX conversations_assigned_idx;
CREATE INDEX conversations_assigned_idx ON conversations (assigned_to, id);
DROP INDEX conversations_number_idx;
CREATE INDEX conversations_number_idx ON conversations (number_id, id);
DROP INDEX conversations_unread_activity_idx;
DROP INDEX conversations_activity_idx;
ALTER TABLE conversations DROP COLUMN last_activity_at;
