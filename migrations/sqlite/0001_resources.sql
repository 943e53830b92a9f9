-- Same model as migrations/postgres/0001_resources.sql; see the comments there.
CREATE TABLE resources (
    rkey          INTEGER PRIMARY KEY AUTOINCREMENT,
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    last_updated  INTEGER NOT NULL,
    deleted       INTEGER NOT NULL, -- 0 or 1 (sqlx's Any driver cannot decode SQLite BOOLEAN)
    UNIQUE (rtype, id)
);

CREATE TABLE resource_versions (
    vkey          INTEGER PRIMARY KEY AUTOINCREMENT,
    rkey          INTEGER NOT NULL REFERENCES resources (rkey),
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    last_updated  INTEGER NOT NULL,
    method        TEXT    NOT NULL,
    body          BLOB,
    UNIQUE (rkey, version)
);
CREATE INDEX resource_versions_type_time ON resource_versions (rtype, last_updated);
CREATE INDEX resource_versions_time ON resource_versions (last_updated);

-- SQLite has a single writer, so commit order is seq order and txid stays 0.
CREATE TABLE change_feed (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    txid          INTEGER NOT NULL DEFAULT 0,
    rkey          INTEGER NOT NULL,
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    op            TEXT    NOT NULL,
    at            INTEGER NOT NULL
);
CREATE INDEX change_feed_order ON change_feed (txid, seq);
