-- Two indexes for the statements search runs most (see the PostgreSQL
-- migration of the same name): the live resources of each type in key
-- order, and a resource's reference rows by parameter, covering what
-- `_has`, `_include` and compartment checks read of them.
CREATE INDEX resources_live ON resources (rtype, rkey) WHERE NOT deleted;
DROP INDEX idx_reference_rkey;
CREATE INDEX idx_reference_source ON idx_reference (rkey, param, rtype, target_type, target_id, url);
