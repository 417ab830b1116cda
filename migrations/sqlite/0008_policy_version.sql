-- One row naming the current version of the permission rules. Every rule change writes a new
-- version first; a permission request reads it (on PostgreSQL FOR SHARE) before it decides.
-- So a rule change and a request in flight serialize, and a replica's cached rules are used
-- only while their version is still the current one.

CREATE TABLE policy_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  TEXT NOT NULL
);
INSERT INTO policy_version (id, version) VALUES (1, 'initial');
