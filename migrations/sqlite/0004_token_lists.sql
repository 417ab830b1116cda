-- Admins list and revoke admin and registration tokens; the table also holds one token per
-- session, so those two kinds get their own index.
CREATE INDEX tokens_listed ON tokens (kind, created_at) WHERE kind IN ('admin', 'registration');
