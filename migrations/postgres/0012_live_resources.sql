-- Two indexes for the statements search runs most (docs/PERFORMANCE.md,
-- search).
--
-- The live resources of each type, in key order. A search whose matches
-- are every resource of a type but a few (`_total` over a type, `:not`
-- alone) counts and pages them from this index alone: the count of all
-- Observations read 465 heap pages for 24,230 resources before, 58 index
-- pages after.
CREATE INDEX resources_live ON resources (rtype, rkey) WHERE NOT deleted;

-- A resource's reference rows by parameter, covering what `_has`,
-- `_include` and compartment checks read of them: one index-only probe per
-- source resource instead of an index probe and a heap read of each of its
-- reference rows. It replaces the index on the key alone (which deletes
-- still use, through its first column).
DROP INDEX idx_reference_rkey;
CREATE INDEX idx_reference_source ON idx_reference (rkey, param) INCLUDE (rtype, target_type, target_id, url);
