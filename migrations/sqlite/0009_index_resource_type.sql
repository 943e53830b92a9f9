-- Every index row carries the type of the resource it indexes; the
-- PostgreSQL migration of the same name (0010) says why. SQLite cannot add
-- a NOT NULL column without a default: the empty default is replaced at
-- once, and the store always writes the type.

ALTER TABLE idx_string ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_string SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_string.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_string.rkey),
    '');
DELETE FROM idx_string WHERE rtype = '';

ALTER TABLE idx_token ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_token SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_token.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_token.rkey),
    '');
DELETE FROM idx_token WHERE rtype = '';

ALTER TABLE idx_date ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_date SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_date.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_date.rkey),
    '');
DELETE FROM idx_date WHERE rtype = '';

ALTER TABLE idx_number ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_number SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_number.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_number.rkey),
    '');
DELETE FROM idx_number WHERE rtype = '';

ALTER TABLE idx_quantity ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_quantity SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_quantity.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_quantity.rkey),
    '');
DELETE FROM idx_quantity WHERE rtype = '';

ALTER TABLE idx_reference ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_reference SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_reference.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_reference.rkey),
    '');
DELETE FROM idx_reference WHERE rtype = '';

ALTER TABLE idx_uri ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_uri SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_uri.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_uri.rkey),
    '');
DELETE FROM idx_uri WHERE rtype = '';

ALTER TABLE idx_composite ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_composite SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_composite.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_composite.rkey),
    '');
DELETE FROM idx_composite WHERE rtype = '';

ALTER TABLE idx_text ADD COLUMN rtype TEXT NOT NULL DEFAULT '';
UPDATE idx_text SET rtype = COALESCE(
    (SELECT r.rtype FROM resources r WHERE r.rkey = idx_text.rkey),
    (SELECT c.rtype FROM contained_resources c WHERE c.ckey = idx_text.rkey),
    '');
DELETE FROM idx_text WHERE rtype = '';

-- The covering lookups (0006) carry the type.
DROP INDEX idx_token_lookup;
CREATE INDEX idx_token_lookup ON idx_token (param, code, system, rtype, rkey);
DROP INDEX idx_string_lookup;
CREATE INDEX idx_string_lookup ON idx_string (param, norm, rkey, rtype);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type, rtype, rkey, url);
