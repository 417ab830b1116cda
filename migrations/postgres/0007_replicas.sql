-- Hub replicas sharing one PostgreSQL database (SQLite has one hub; it keeps the tables so
-- both backends have one schema): who runs and what it holds, leases for the work only one
-- replica may do at a time, and bus messages too large for a NOTIFY, passed by reference.

CREATE TABLE replicas (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    version     TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    daemons     BIGINT NOT NULL DEFAULT 0,
    consoles    BIGINT NOT NULL DEFAULT 0,
    heartbeat_p99_us BIGINT
);

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE bus_payloads (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    body        TEXT NOT NULL
);
