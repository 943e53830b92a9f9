-- Same model as migrations/postgres/0002_search_index.sql; see the comments
-- there. Differences: REAL for DOUBLE PRECISION, INTEGER for BIGINT, and no
-- COLLATE "C": SQLite's default BINARY collation already compares UTF-8 text
-- byte by byte (code-point order), so prefix searches use the range form
-- `norm >= $p AND norm < $p || char(1114111)` (U+10FFFF), which the indexes
-- serve. (SQLite's LIKE is case-insensitive and so cannot use them.)
CREATE TABLE idx_string (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    norm            TEXT NOT NULL,
    exact           TEXT NOT NULL
);
CREATE INDEX idx_string_rkey ON idx_string (rkey);
CREATE INDEX idx_string_lookup ON idx_string (param, norm);

CREATE TABLE idx_token (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    system          TEXT,
    code            TEXT,
    text            TEXT
);
CREATE INDEX idx_token_rkey ON idx_token (rkey);
CREATE INDEX idx_token_lookup ON idx_token (param, code, system);

CREATE TABLE idx_date (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    low             INTEGER NOT NULL,
    high            INTEGER NOT NULL
);
CREATE INDEX idx_date_rkey ON idx_date (rkey);
CREATE INDEX idx_date_lookup ON idx_date (param, low, high);

CREATE TABLE idx_number (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    value           REAL NOT NULL,
    low             REAL NOT NULL,
    high            REAL NOT NULL
);
CREATE INDEX idx_number_rkey ON idx_number (rkey);
CREATE INDEX idx_number_lookup ON idx_number (param, low, high);

CREATE TABLE idx_quantity (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    system          TEXT,
    code            TEXT,
    unit            TEXT,
    value           REAL NOT NULL,
    low             REAL NOT NULL,
    high            REAL NOT NULL,
    canon_unit      TEXT,
    canon_value     REAL,
    canon_low       REAL,
    canon_high      REAL
);
CREATE INDEX idx_quantity_rkey ON idx_quantity (rkey);
CREATE INDEX idx_quantity_lookup ON idx_quantity (param, low, high);
CREATE INDEX idx_quantity_canonical ON idx_quantity (param, canon_unit, canon_low, canon_high);

CREATE TABLE idx_reference (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    target_type     TEXT,
    target_id       TEXT,
    version         TEXT,
    url             TEXT,
    id_system       TEXT,
    id_value        TEXT
);
CREATE INDEX idx_reference_rkey ON idx_reference (rkey);
CREATE INDEX idx_reference_target ON idx_reference (param, target_id, target_type);
CREATE INDEX idx_reference_url ON idx_reference (param, url);

CREATE TABLE idx_uri (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    value           TEXT NOT NULL
);
CREATE INDEX idx_uri_rkey ON idx_uri (rkey);
CREATE INDEX idx_uri_lookup ON idx_uri (param, value);

CREATE TABLE idx_composite (
    rkey            INTEGER NOT NULL,
    param           TEXT NOT NULL,
    c1_system       TEXT,
    c1_code         TEXT,
    c1_unit         TEXT,
    c1_norm         TEXT,
    c1_value        REAL,
    c1_low          REAL,
    c1_high         REAL,
    c1_canon_unit   TEXT,
    c1_canon_value  REAL,
    c1_canon_low    REAL,
    c1_canon_high   REAL,
    c1_date_low     INTEGER,
    c1_date_high    INTEGER,
    c1_ref_type     TEXT,
    c1_ref_id       TEXT,
    c1_url          TEXT,
    c2_system       TEXT,
    c2_code         TEXT,
    c2_unit         TEXT,
    c2_norm         TEXT,
    c2_value        REAL,
    c2_low          REAL,
    c2_high         REAL,
    c2_canon_unit   TEXT,
    c2_canon_value  REAL,
    c2_canon_low    REAL,
    c2_canon_high   REAL,
    c2_date_low     INTEGER,
    c2_date_high    INTEGER,
    c2_ref_type     TEXT,
    c2_ref_id       TEXT,
    c2_url          TEXT,
    c3_system       TEXT,
    c3_code         TEXT,
    c3_unit         TEXT,
    c3_norm         TEXT,
    c3_value        REAL,
    c3_low          REAL,
    c3_high         REAL,
    c3_canon_unit   TEXT,
    c3_canon_value  REAL,
    c3_canon_low    REAL,
    c3_canon_high   REAL,
    c3_date_low     INTEGER,
    c3_date_high    INTEGER,
    c3_ref_type     TEXT,
    c3_ref_id       TEXT,
    c3_url          TEXT
);
CREATE INDEX idx_composite_rkey ON idx_composite (rkey);
CREATE INDEX idx_composite_lookup ON idx_composite (param, c1_code, c1_system);
