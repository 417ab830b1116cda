-- The agent's lifecycle: its state from its own hooks, its conversation id (to resume it after
-- a reboot), sessions kept after their task by request, answers delivered whenever they come,
-- and messages submitted to an agent as its next prompt.

ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'starting';
ALTER TABLE sessions ADD COLUMN state_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN conversation_id TEXT;
-- The agent reports through hooks (Claude Code): it stays `starting` until the first one.
ALTER TABLE sessions ADD COLUMN hooks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions DROP COLUMN waiting;
UPDATE sessions SET state = 'ended' WHERE status = 'ended';
UPDATE sessions SET state_at = started_at;

ALTER TABLE tasks ADD COLUMN keep_session BIGINT NOT NULL DEFAULT 0;

-- An answer (or plan decision) is delivered when its asker received it, or when it was
-- submitted to the agent as a prompt because the asker was gone.
ALTER TABLE interventions ADD COLUMN delivered_at BIGINT;
ALTER TABLE interventions ADD COLUMN delivered_via TEXT;
UPDATE interventions SET delivered_at = answered_at, delivered_via = 'caller' WHERE status <> 'pending';
CREATE INDEX interventions_undelivered ON interventions (answered_at)
    WHERE status = 'answered' AND delivered_at IS NULL;
ALTER TABLE plans ADD COLUMN delivered_at BIGINT;
ALTER TABLE plans ADD COLUMN delivered_via TEXT;
UPDATE plans SET delivered_at = decided_at, delivered_via = 'caller' WHERE status <> 'submitted';
CREATE INDEX plans_undelivered ON plans (decided_at)
    WHERE status IN ('approved', 'rejected') AND delivered_at IS NULL;

-- Text submitted to an agent as a prompt: by an admin (`session send`), or an answer whose
-- asker was gone. `taken_at`: the agent's prompt hook saw it.
CREATE TABLE prompts (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    task_id    TEXT REFERENCES tasks (id),
    kind       TEXT NOT NULL,
    ref_id     TEXT,
    text       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    taken_at   BIGINT
);
CREATE INDEX prompts_session ON prompts (session_id);
