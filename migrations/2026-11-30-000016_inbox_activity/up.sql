-- The inbox is ordered by activity: the time wacrm recorded a conversation's
-- latest inbound or outbound message (not the provider's timestamp, which may
-- arrive late or skewed). It never goes back (every writer takes GREATEST), so
-- keyset pages on (last_activity_at, id) neither repeat a conversation nor skip
-- one that did not move. A conversation with no message yet counts from its
-- creation.
ALTER TABLE conversations ADD COLUMN last_activity_at timestamptz NOT NULL DEFAULT now();
UPDATE conversations SET last_activity_at = COALESCE(last_message_at, created_at);

CREATE INDEX conversations_activity_idx ON conversations (last_activity_at, id);
-- `unread=true` when few conversations are unread (a tidy inbox) walks only them.
CREATE INDEX conversations_unread_activity_idx ON conversations (last_activity_at, id)
    WHERE unread_count > 0;
-- The number and assignee filters, in the list's order (they replace the
-- id-ordered ones, which served the creation order).
DROP INDEX conversations_number_idx;
CREATE INDEX conversations_number_idx ON conversations (number_id, last_activity_at, id);
DROP INDEX conversations_assigned_idx;
CREATE INDEX conversations_assigned_idx ON conversations (assigned_to, last_activity_at, id);

-- Search (`q`): substring matches through trigram indexes instead of a scan of
-- every message. pg_trgm ships with PostgreSQL's contrib and is a trusted
-- extension (the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm_idx ON messages USING gin (body gin_trgm_ops);
-- One index over the customer's searchable fields, joined by a unit separator
-- (U+001F, which a search term does not contain): one GIN entry set per
-- conversation version rather than four. Must match
-- `conversations::SEARCH_FIELDS` exactly for the planner to use it.
CREATE INDEX conversations_search_trgm_idx ON conversations USING gin ((
    coalesce(profile_name, '') || E'\x1f' || coalesce(customer_phone, '') || E'\x1f' ||
    coalesce(customer_user_id, '') || E'\x1f' || coalesce(customer_username, '')
) gin_trgm_ops);

-- Counts per rel_type without a scan: every change to a conversation's counted
-- key (number, rel_type, status, assignee, unread or not) appends a -1 row for
-- the old key and a +1 row for the new one. Appending never waits on another
-- transaction (no hot counter row to lock, so no contention or deadlock between
-- concurrent writers), and a count is the sum of its key's rows, which is exact
-- in any snapshot. `compact_conversation_counts` folds the rows into one per key
-- (a periodic job, and a read that finds too many).
CREATE TABLE conversation_counts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number_id   uuid NOT NULL,
    rel_type    text NOT NULL,
    status      text NOT NULL,
    assigned_to uuid,
    unread      boolean NOT NULL,
    n           bigint NOT NULL
);

CREATE FUNCTION conversation_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO conversation_counts (number_id, rel_type, status, assigned_to, unread, n)
        VALUES (OLD.number_id, OLD.rel_type, OLD.status, OLD.assigned_to, OLD.unread_count > 0, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO conversation_counts (number_id, rel_type, status, assigned_to, unread, n)
        VALUES (NEW.number_id, NEW.rel_type, NEW.status, NEW.assigned_to, NEW.unread_count > 0, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_counted AFTER INSERT OR DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversation_counts_track();
-- Only updates that move a conversation to another key: most (a new message to
-- an unread conversation) do not.
CREATE TRIGGER conversations_counted_update AFTER UPDATE ON conversations
    FOR EACH ROW
    WHEN (OLD.number_id IS DISTINCT FROM NEW.number_id
          OR OLD.rel_type IS DISTINCT FROM NEW.rel_type
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.assigned_to IS DISTINCT FROM NEW.assigned_to
          OR (OLD.unread_count > 0) IS DISTINCT FROM (NEW.unread_count > 0))
    EXECUTE FUNCTION conversation_counts_track();

INSERT INTO conversation_counts (number_id, rel_type, status, assigned_to, unread, n)
SELECT number_id, rel_type, status, assigned_to, unread_count > 0, count(*)
FROM conversations
GROUP BY number_id, rel_type, status, assigned_to, unread_count > 0;
