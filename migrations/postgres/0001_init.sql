-- Orchestratia schema, PostgreSQL flavour. Times are integer milliseconds since the Unix epoch,
-- ids are UUID text, JSON is text: the one representation both backends share.

CREATE TABLE projects (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    next_number   BIGINT NOT NULL DEFAULT 1,
    phase_counter BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- Every credential: admin tokens, server keys, session tokens, registration tokens.
-- Only the SHA-256 of the token is kept; requests are looked up by it.
CREATE TABLE tokens (
    hash         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    project_id   TEXT,
    server_id    TEXT,
    task_id      TEXT,
    session_id   TEXT,
    orchestrator BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    used_at      BIGINT,
    revoked_at   BIGINT
);
-- Partial indexes: most tokens have no server, admin tokens no session.
CREATE INDEX tokens_server ON tokens (server_id) WHERE server_id IS NOT NULL;
CREATE INDEX tokens_session ON tokens (session_id) WHERE session_id IS NOT NULL;

CREATE TABLE servers (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects (id),
    name           TEXT NOT NULL UNIQUE,
    os             TEXT NOT NULL DEFAULT '',
    hostname       TEXT NOT NULL DEFAULT '',
    repos          TEXT NOT NULL DEFAULT '{}',
    languages      TEXT NOT NULL DEFAULT '[]',
    status         TEXT NOT NULL DEFAULT 'offline',
    last_heartbeat BIGINT,
    revoked        BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE tasks (
    id                    TEXT PRIMARY KEY,
    project_id            TEXT NOT NULL REFERENCES projects (id),
    number                BIGINT NOT NULL,
    title                 TEXT NOT NULL,
    spec                  TEXT NOT NULL DEFAULT '',
    structured_spec       TEXT,
    priority              TEXT NOT NULL DEFAULT 'medium',
    repo                  TEXT,
    languages             TEXT NOT NULL DEFAULT '[]',
    agent                 TEXT,
    os                    TEXT,
    require_plan_approval BIGINT NOT NULL DEFAULT 0,
    orchestrator          BIGINT NOT NULL DEFAULT 0,
    status                TEXT NOT NULL,
    server_id             TEXT REFERENCES servers (id),
    phase                 BIGINT,
    released_by           TEXT,
    wait_reason           TEXT,
    result                TEXT,
    pipeline_key          TEXT,
    created_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    completed_at          BIGINT,
    UNIQUE (project_id, number)
);
CREATE UNIQUE INDEX tasks_pipeline_key ON tasks (project_id, pipeline_key) WHERE pipeline_key IS NOT NULL;
-- A project's tasks are found through UNIQUE (project_id, number). The indexes below are
-- partial so that a status change (the cascade's hot path) touches as few pages as possible.
CREATE INDEX tasks_done ON tasks (server_id, completed_at) WHERE status = 'done';
CREATE INDEX tasks_orchestrators ON tasks (project_id) WHERE orchestrator = 1;

CREATE TABLE dependencies (
    id            TEXT PRIMARY KEY,
    upstream_id   TEXT NOT NULL REFERENCES tasks (id),
    downstream_id TEXT NOT NULL REFERENCES tasks (id),
    dep_type      TEXT NOT NULL,
    contract_key  TEXT,
    resolved      BIGINT NOT NULL DEFAULT 0,
    resolved_at   BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX deps_upstream ON dependencies (upstream_id);
CREATE INDEX deps_downstream ON dependencies (downstream_id);

CREATE TABLE contracts (
    task_id    TEXT NOT NULL REFERENCES tasks (id),
    key        TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, key)
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    server_id   TEXT NOT NULL REFERENCES servers (id),
    task_id     TEXT REFERENCES tasks (id),
    status      TEXT NOT NULL,
    pid         BIGINT,
    tmux        TEXT,
    working_dir TEXT,
    exit_code   BIGINT,
    waiting     BIGINT NOT NULL DEFAULT 0,
    last_screen TEXT,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_server ON sessions (server_id);
CREATE INDEX sessions_open ON sessions (server_id) WHERE status IN ('starting', 'active', 'recovering');
CREATE INDEX sessions_task ON sessions (task_id);

-- Terminal output as numbered chunks (not one event per keystroke), and keyframes: the screen
-- as escape sequences, valid after output chunk `seq` (kind 1 output, 3 keyframe). Past the
-- per-session bound the oldest go, cut at a keyframe, so a replay starts on a clean screen.
CREATE TABLE session_chunks (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    seq        BIGINT NOT NULL,
    kind       BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq, kind)
);

CREATE TABLE interventions (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    question      TEXT NOT NULL,
    status        TEXT NOT NULL,
    resume_status TEXT NOT NULL,
    response      TEXT,
    answered_by   TEXT,
    created_at    BIGINT NOT NULL,
    answered_at   BIGINT
);
CREATE INDEX interventions_task ON interventions (task_id);
CREATE INDEX interventions_status ON interventions (status);

CREATE TABLE plans (
    id         TEXT PRIMARY KEY,
    task_id    TEXT NOT NULL REFERENCES tasks (id),
    content    TEXT NOT NULL,
    status     TEXT NOT NULL,
    feedback   TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX plans_task ON plans (task_id);
CREATE INDEX plans_status ON plans (status);

CREATE TABLE permission_requests (
    id         TEXT PRIMARY KEY,
    task_id    TEXT REFERENCES tasks (id),
    session_id TEXT,
    tool_name  TEXT NOT NULL,
    tool_input TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX permissions_status ON permission_requests (status);
CREATE INDEX permissions_task ON permission_requests (task_id);

CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    task_id    TEXT NOT NULL REFERENCES tasks (id),
    actor      TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_task ON notes (task_id);

-- The append-only timeline.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    project_id TEXT,
    task_id    TEXT,
    -- The other task an event is about: for cascade events task_id is the completed task
    -- (the cause) and related_task_id the downstream task, so both timelines show the step.
    related_task_id TEXT,
    server_id  TEXT,
    session_id TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX events_task ON events (task_id, id);
CREATE INDEX events_related ON events (related_task_id, id) WHERE related_task_id IS NOT NULL;
CREATE INDEX events_project ON events (project_id, id);
