-- Search index rows (https://hl7.org/fhir/R4/search.html): what each current
-- resource is indexed under, one table per parameter type. Rows carry the
-- resource's internal key (`rkey`, see resources) and the parameter code;
-- the resource type comes from `resources`. They are replaced in the same
-- statement that writes a new version and removed when the resource is
-- deleted (see store/write.rs). No foreign keys: checking one per index row
-- would slow every write, and only the store writes these tables.
--
-- Every table has an index on `rkey`, for replacing a resource's rows.
-- All text is COLLATE "C" (byte order, which for UTF-8 is code-point order):
-- the values are codes, identifiers and folded strings, not prose. B-tree
-- range scans (`norm >= $p AND norm < $p || U+10FFFF`) and `LIKE 'p%'` then
-- use the indexes whatever the database's default collation, comparisons are
-- memcmp instead of a locale's strcoll (cheaper on every index insert), and
-- `ORDER BY` agrees with Rust's string order, which paging relies on.
-- Numbers are DOUBLE PRECISION: search compares ranges, and sqlx's Any driver
-- cannot bind NUMERIC.

-- string: `norm` is case-, accent- and punctuation-folded (ipe::index::
-- normalize_string) for the default prefix match; `exact` as written, for
-- `:exact` (equal `exact` implies equal `norm`, so that index serves it too).
CREATE TABLE idx_string (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    norm            TEXT COLLATE "C" NOT NULL,
    exact           TEXT COLLATE "C" NOT NULL
);
CREATE INDEX idx_string_rkey ON idx_string (rkey);
CREATE INDEX idx_string_lookup ON idx_string (param, norm);

-- token: `system` NULL when the value has none (so `|code` is `system IS
-- NULL`); `text` (Coding.display, CodeableConcept.text…) normalised like
-- strings, for `:text`. Code first in the index: it is the selective column
-- and is given in nearly every token search, the system often not.
CREATE TABLE idx_token (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    system          TEXT COLLATE "C",
    code            TEXT COLLATE "C",
    text            TEXT COLLATE "C"
);
CREATE INDEX idx_token_rkey ON idx_token (rkey);
CREATE INDEX idx_token_lookup ON idx_token (param, code, system);

-- date: the half-open range [low, high) the value covers, in microseconds
-- since the Unix epoch (UTC); open Period ends are the BIGINT limits.
CREATE TABLE idx_date (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    low             BIGINT NOT NULL,
    high            BIGINT NOT NULL
);
CREATE INDEX idx_date_rkey ON idx_date (rkey);
CREATE INDEX idx_date_lookup ON idx_date (param, low, high);

-- number: the value and the range its precision implies ([99.5, 100.5) for
-- `100`); an open Range end is ±7.9e28 (the limits of the decimal type).
CREATE TABLE idx_number (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    value           DOUBLE PRECISION NOT NULL,
    low             DOUBLE PRECISION NOT NULL,
    high            DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_number_rkey ON idx_number (rkey);
CREATE INDEX idx_number_lookup ON idx_number (param, low, high);

-- quantity: as written (`system`, `code`, `unit`, value and precision range)
-- and, when the unit is UCUM and convertible, in canonical units (`canon_*`,
-- else NULL), so `gt5000|…|mg` finds `6 g`.
CREATE TABLE idx_quantity (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    system          TEXT COLLATE "C",
    code            TEXT COLLATE "C",
    unit            TEXT COLLATE "C",
    value           DOUBLE PRECISION NOT NULL,
    low             DOUBLE PRECISION NOT NULL,
    high            DOUBLE PRECISION NOT NULL,
    canon_unit      TEXT COLLATE "C",
    canon_value     DOUBLE PRECISION,
    canon_low       DOUBLE PRECISION,
    canon_high      DOUBLE PRECISION
);
CREATE INDEX idx_quantity_rkey ON idx_quantity (rkey);
CREATE INDEX idx_quantity_lookup ON idx_quantity (param, low, high);
CREATE INDEX idx_quantity_canonical ON idx_quantity (param, canon_unit, canon_low, canon_high);

-- reference: a literal reference's `Type/id` tail (`target_type`,
-- `target_id`, `version`), the reference or canonical as written (`url`;
-- a canonical's `|version` goes to `version`), and a logical reference's
-- identifier (`id_system`, `id_value`, for `:identifier`). The id comes
-- first in the lookup index so `subject=123` (any type) can use it as well
-- as `subject=Patient/123`.
CREATE TABLE idx_reference (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    target_type     TEXT COLLATE "C",
    target_id       TEXT COLLATE "C",
    version         TEXT COLLATE "C",
    url             TEXT COLLATE "C",
    id_system       TEXT COLLATE "C",
    id_value        TEXT COLLATE "C"
);
CREATE INDEX idx_reference_rkey ON idx_reference (rkey);
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type);
CREATE INDEX idx_reference_url ON idx_reference (param, url);

-- uri: as written; byte order for `:below` (prefix).
CREATE TABLE idx_uri (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    value           TEXT COLLATE "C" NOT NULL
);
CREATE INDEX idx_uri_rkey ON idx_uri (rkey);
CREATE INDEX idx_uri_lookup ON idx_uri (param, value);

-- composite: one row per combination of the components' values within one
-- instance of the composite's base element (an Observation.component, say),
-- so `code-value-quantity=http://loinc.org|8480-6$gt100` is one row test.
-- Components 1–3 each get the same slot of typed columns (R4 composites
-- have two or three); a component fills the columns of its parameter type:
--   token      system, code
--   quantity   system, code, unit, value, low, high, canon_*
--   number     value, low, high
--   date       date_low, date_high
--   string     norm
--   reference  ref_type, ref_id, url
--   uri        url
-- The lookup index starts with component 1's code: in R4 the first
-- component is a token in every composite but one.
CREATE TABLE idx_composite (
    rkey            BIGINT NOT NULL,
    param           TEXT COLLATE "C" NOT NULL,
    c1_system       TEXT COLLATE "C",
    c1_code         TEXT COLLATE "C",
    c1_unit         TEXT COLLATE "C",
    c1_norm         TEXT COLLATE "C",
    c1_value        DOUBLE PRECISION,
    c1_low          DOUBLE PRECISION,
    c1_high         DOUBLE PRECISION,
    c1_canon_unit   TEXT COLLATE "C",
    c1_canon_value  DOUBLE PRECISION,
    c1_canon_low    DOUBLE PRECISION,
    c1_canon_high   DOUBLE PRECISION,
    c1_date_low     BIGINT,
    c1_date_high    BIGINT,
    c1_ref_type     TEXT COLLATE "C",
    c1_ref_id       TEXT COLLATE "C",
    c1_url          TEXT COLLATE "C",
    c2_system       TEXT COLLATE "C",
    c2_code         TEXT COLLATE "C",
    c2_unit         TEXT COLLATE "C",
    c2_norm         TEXT COLLATE "C",
    c2_value        DOUBLE PRECISION,
    c2_low          DOUBLE PRECISION,
    c2_high         DOUBLE PRECISION,
    c2_canon_unit   TEXT COLLATE "C",
    c2_canon_value  DOUBLE PRECISION,
    c2_canon_low    DOUBLE PRECISION,
    c2_canon_high   DOUBLE PRECISION,
    c2_date_low     BIGINT,
    c2_date_high    BIGINT,
    c2_ref_type     TEXT COLLATE "C",
    c2_ref_id       TEXT COLLATE "C",
    c2_url          TEXT COLLATE "C",
    c3_system       TEXT COLLATE "C",
    c3_code         TEXT COLLATE "C",
    c3_unit         TEXT COLLATE "C",
    c3_norm         TEXT COLLATE "C",
    c3_value        DOUBLE PRECISION,
    c3_low          DOUBLE PRECISION,
    c3_high         DOUBLE PRECISION,
    c3_canon_unit   TEXT COLLATE "C",
    c3_canon_value  DOUBLE PRECISION,
    c3_canon_low    DOUBLE PRECISION,
    c3_canon_high   DOUBLE PRECISION,
    c3_date_low     BIGINT,
    c3_date_high    BIGINT,
    c3_ref_type     TEXT COLLATE "C",
    c3_ref_id       TEXT COLLATE "C",
    c3_url          TEXT COLLATE "C"
);
CREATE INDEX idx_composite_rkey ON idx_composite (rkey);
CREATE INDEX idx_composite_lookup ON idx_composite (param, c1_code, c1_system);
