-- webhook_events is the ingest path's append-only log: a foreign key on it
-- runs a lookup (and a row lock on the connection) for every stored webhook,
-- about 9 % of PostgreSQL's time at full ingest (bench/README.md). The
-- connection's events are deleted with it by `connections::delete` instead;
-- an event stored while its connection is being deleted fails processing
-- with "the connection was deleted", visible to admins.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_connection_id_fkey;
