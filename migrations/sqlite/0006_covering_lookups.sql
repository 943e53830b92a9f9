-- The lookup indexes of the index tables carry the resource key, so a
-- criterion's `rkey IN (SELECT rkey FROM idx_… WHERE param = … AND …)` is
-- answered from the index alone (SQLite has no INCLUDE: the key is the last
-- column). They replace the old lookups. The PostgreSQL migration of the
-- same name (0007) says why.
DROP INDEX idx_token_lookup;
CREATE INDEX idx_token_lookup ON idx_token (param, code, system, rkey);
DROP INDEX idx_string_lookup;
CREATE INDEX idx_string_lookup ON idx_string (param, norm, rkey);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type, rkey, url);
