-- Every index row carries the type of the resource it indexes (`rtype`; for
-- a contained resource, its own type, as in contained_resources). Search
-- parameters are shared by code across types (`code`, `patient`,
-- `subject`…), so a criterion used to join `resources` to keep the rows of
-- its types: for `_has` one lookup of the source resource per index row,
-- for a chain the rows of every type referring to the target. With the
-- type on the row, a criterion reads its own rows only (docs/PERFORMANCE.md,
-- search). Rows exist only for current, undeleted resources, so no
-- `deleted` check is needed either.
--
-- Rows whose resource no longer exists cannot be searched; they are
-- removed rather than left without a type.

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['idx_string', 'idx_token', 'idx_date', 'idx_number', 'idx_quantity',
                             'idx_reference', 'idx_uri', 'idx_composite', 'idx_text'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN rtype TEXT COLLATE "C"', t);
        EXECUTE format('UPDATE %I x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey', t);
        EXECUTE format('UPDATE %I x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey', t);
        EXECUTE format('DELETE FROM %I WHERE rtype IS NULL', t);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN rtype SET NOT NULL', t);
    END LOOP;
END
$$;

-- The covering lookups (0007) carry the type, so the criterion stays an
-- index-only scan.
DROP INDEX idx_token_lookup;
CREATE INDEX idx_token_lookup ON idx_token (param, code, system, rtype) INCLUDE (rkey);
DROP INDEX idx_string_lookup;
CREATE INDEX idx_string_lookup ON idx_string (param, norm) INCLUDE (rkey, rtype);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type, rtype) INCLUDE (rkey, url);
