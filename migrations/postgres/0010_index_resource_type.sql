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

ALTER TABLE idx_string ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_string x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_string x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_string WHERE rtype IS NULL;
ALTER TABLE idx_string ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_token ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_token x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_token x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_token WHERE rtype IS NULL;
ALTER TABLE idx_token ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_date ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_date x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_date x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_date WHERE rtype IS NULL;
ALTER TABLE idx_date ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_number ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_number x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_number x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_number WHERE rtype IS NULL;
ALTER TABLE idx_number ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_quantity ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_quantity x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_quantity x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_quantity WHERE rtype IS NULL;
ALTER TABLE idx_quantity ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_reference ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_reference x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_reference x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_reference WHERE rtype IS NULL;
ALTER TABLE idx_reference ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_uri ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_uri x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_uri x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_uri WHERE rtype IS NULL;
ALTER TABLE idx_uri ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_composite ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_composite x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_composite x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_composite WHERE rtype IS NULL;
ALTER TABLE idx_composite ALTER COLUMN rtype SET NOT NULL;

ALTER TABLE idx_text ADD COLUMN rtype TEXT COLLATE "C";
UPDATE idx_text x SET rtype = r.rtype FROM resources r WHERE r.rkey = x.rkey;
UPDATE idx_text x SET rtype = c.rtype FROM contained_resources c WHERE c.ckey = x.rkey;
DELETE FROM idx_text WHERE rtype IS NULL;
ALTER TABLE idx_text ALTER COLUMN rtype SET NOT NULL;

-- The covering lookups (0007) carry the type, so the criterion stays an
-- index-only scan.
DROP INDEX idx_token_lookup;
CREATE INDEX idx_token_lookup ON idx_token (param, code, system, rtype) INCLUDE (rkey);
DROP INDEX idx_string_lookup;
CREATE INDEX idx_string_lookup ON idx_string (param, norm) INCLUDE (rkey, rtype);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type, rtype) INCLUDE (rkey, url);
