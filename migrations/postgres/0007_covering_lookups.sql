-- The lookup indexes of the index tables carry the resource key (and, for
-- references, the url that the local-reference test reads), so a
-- criterion's `rkey IN (SELECT rkey FROM idx_… WHERE param = … AND …)`
-- is an index-only scan: no heap page per matching row (631 heap blocks
-- for the 668 rows of one LOINC code before; docs/PERFORMANCE.md, search).
-- They replace the old lookups, so a write maintains as many indexes as
-- before.
DROP INDEX idx_token_lookup;
CREATE INDEX idx_token_lookup ON idx_token (param, code, system) INCLUDE (rkey);
DROP INDEX idx_string_lookup;
CREATE INDEX idx_string_lookup ON idx_string (param, norm) INCLUDE (rkey);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type) INCLUDE (rkey, url);
