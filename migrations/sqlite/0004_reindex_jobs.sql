-- Same model as migrations/postgres/0004_reindex_jobs.sql; see the comments there.
CREATE TABLE reindex_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    param_url    TEXT    NOT NULL,
    definition   TEXT    NOT NULL,
    code         TEXT    NOT NULL,
    types        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    after_rkey   INTEGER NOT NULL DEFAULT 0,
    processed    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (param_url, definition)
);
