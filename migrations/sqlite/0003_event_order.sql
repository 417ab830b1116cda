-- Kept in step with migrations/postgres/0003_event_order.sql, which records each event's
-- transaction so followers read PostgreSQL's events in an order that never skips one.
-- SQLite needs nothing: its one writer assigns ids and commits in the same order, so the id
-- order is already safe for a cursor.
SELECT 1;
