-- Policy, inbox reminders and usage: permission rules that decide tool calls without a
-- human, which request a rule decided, which waiting items were announced again, what each
-- session's model calls cost, and projects' budgets.

CREATE TABLE permission_rules (
    id          TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    project_id  TEXT REFERENCES projects (id),
    task_id     TEXT REFERENCES tasks (id),
    session_id  TEXT,
    tool        TEXT NOT NULL,
    pattern     TEXT NOT NULL,
    effect      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    note        TEXT
);
CREATE INDEX permission_rules_project ON permission_rules (project_id);

-- The rule that decided a request, when no human did.
ALTER TABLE permission_requests ADD COLUMN rule_id TEXT;

-- Plans, permission requests and questions announced again after waiting past the deadline
-- (once each).
CREATE TABLE inbox_reminders (
    item_id     TEXT PRIMARY KEY,
    reminded_at BIGINT NOT NULL
);

-- Each session's model usage so far (totals reported by its daemon).
CREATE TABLE session_usage (
    session_id         TEXT PRIMARY KEY,
    task_id            TEXT,
    project_id         TEXT NOT NULL,
    model              TEXT,
    input_tokens       BIGINT NOT NULL DEFAULT 0,
    output_tokens      BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros        BIGINT NOT NULL DEFAULT 0,
    calls              BIGINT NOT NULL DEFAULT 0,
    unpriced_calls     BIGINT NOT NULL DEFAULT 0,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX session_usage_task ON session_usage (task_id);
CREATE INDEX session_usage_project ON session_usage (project_id);

-- A project's budget in micro-dollars, whether reaching it holds new assignments, and how
-- far it was announced ('', 'warned', 'reached').
ALTER TABLE projects ADD COLUMN budget_micros BIGINT;
ALTER TABLE projects ADD COLUMN budget_enforce BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN budget_state TEXT NOT NULL DEFAULT '';
