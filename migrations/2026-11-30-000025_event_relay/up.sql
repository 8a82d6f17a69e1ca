-- Real-time events wait here between the transaction that made the change and
-- their NOTIFY. A NOTIFY inside a writing transaction holds PostgreSQL's global
-- notify lock until that transaction's commit is flushed, so every transaction
-- that announced something committed one at a time: a campaign's sends (one
-- commit each) were capped at one commit per WAL flush. Rows written here
-- commit with the change (an event of a rolled-back change never goes out);
-- every node's relay moves them to NOTIFY in batches, one lock per batch.
--
-- UNLOGGED: no WAL per event. PostgreSQL empties it after its own crash, when
-- every LISTEN connection (and so every SSE client) is gone too and clients
-- refetch on reconnecting.
CREATE UNLOGGED TABLE event_relay (
    id      bigserial PRIMARY KEY,
    channel text NOT NULL,
    payload text NOT NULL
);
