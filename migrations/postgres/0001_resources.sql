-- Current state of every resource: one row per (type, id). `rkey` is the
-- internal integer key that version rows, the change feed and (later) search
-- index rows refer to.
CREATE TABLE resources (
    rkey          BIGSERIAL PRIMARY KEY,
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL, -- microseconds since the Unix epoch (UTC)
    deleted       BOOLEAN NOT NULL,
    UNIQUE (rtype, id)
);

-- Every version ever written, tombstones included (body NULL for a delete).
-- The body is the JSON exactly as it is served.
CREATE TABLE resource_versions (
    vkey          BIGSERIAL PRIMARY KEY,
    rkey          BIGINT  NOT NULL REFERENCES resources (rkey),
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL,
    method        TEXT    NOT NULL, -- POST | PUT | PATCH | DELETE
    body          BYTEA,
    UNIQUE (rkey, version)
);
CREATE INDEX resource_versions_type_time ON resource_versions (rtype, last_updated);
CREATE INDEX resource_versions_time ON resource_versions (last_updated);

-- The change feed: one row per committed create/update/delete, written in the
-- same transaction as the change. `txid` is the writing transaction's id; the
-- reader only hands out rows of transactions older than the oldest one still
-- running, ordered by (txid, seq), which makes reading gap-free under
-- concurrent writers (see store/feed.rs).
CREATE TABLE change_feed (
    seq           BIGSERIAL PRIMARY KEY,
    txid          BIGINT  NOT NULL DEFAULT (pg_current_xact_id()::text)::bigint,
    rkey          BIGINT  NOT NULL,
    rtype         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    op            TEXT    NOT NULL, -- create | update | delete
    at            BIGINT  NOT NULL
);
CREATE INDEX change_feed_order ON change_feed (txid, seq);
