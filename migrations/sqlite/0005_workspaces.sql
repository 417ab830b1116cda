-- Workspaces: a git worktree per task, its review, and review comments.

-- What a task's worktree starts from (a branch, a commit, 'upstream'), the task whose branch
-- it starts from, and its branch name when set.
ALTER TABLE tasks ADD COLUMN base TEXT;
ALTER TABLE tasks ADD COLUMN base_from TEXT;
ALTER TABLE tasks ADD COLUMN branch TEXT;

-- A `blocks` dependency met when the upstream is 'done' (default) or once its branch is
-- 'merged'.
ALTER TABLE dependencies ADD COLUMN met_after TEXT NOT NULL DEFAULT 'done';

-- The last report of each task's worktree (JSON), where it is, and its review.
CREATE TABLE workspaces (
    task_id      TEXT PRIMARY KEY REFERENCES tasks (id),
    project_id   TEXT NOT NULL REFERENCES projects (id),
    server_id    TEXT NOT NULL REFERENCES servers (id),
    report       TEXT NOT NULL,
    review       TEXT NOT NULL DEFAULT 'unreviewed',
    merged_into  TEXT,
    merge_commit TEXT,
    merged_head  TEXT,
    removed      BIGINT NOT NULL DEFAULT 0,
    reported_at  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX workspaces_server ON workspaces (server_id);

CREATE TABLE review_comments (
    id           TEXT PRIMARY KEY,
    task_id      TEXT NOT NULL REFERENCES tasks (id),
    file         TEXT NOT NULL,
    line         BIGINT NOT NULL,
    text         TEXT NOT NULL,
    author       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX review_comments_task ON review_comments (task_id);
-- Comments still on their way to an agent (the watcher and new sessions look for these).
CREATE INDEX review_comments_waiting ON review_comments (task_id) WHERE delivered_at IS NULL;
