-- The order followers read events in. Ids come from a sequence drawn at insert, but
-- transactions commit in any order, so a reader paging by id could pass an id whose
-- transaction had not committed yet and never see it. Each event keeps the id of the
-- transaction that wrote it; a page holds only events of transactions older than the oldest
-- one still in flight (all of those have ended), in (xid, id) order. Events written before
-- this migration get xid 0: they come first, by id.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_order ON events (xid, id);
