-- Same model as migrations/postgres/0006_subscriptions.sql; see the comments there.
CREATE TABLE feed_cursors (
    reader  TEXT    PRIMARY KEY,
    txid    INTEGER NOT NULL,
    seq     INTEGER NOT NULL
);

CREATE TABLE subscription_state (
    sub_id               TEXT    PRIMARY KEY,
    events_since_start   INTEGER NOT NULL DEFAULT 0,
    delivered            INTEGER NOT NULL DEFAULT 0,
    failed               INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_error_at        INTEGER,
    last_delivered_at    INTEGER,
    latency_total_us     INTEGER NOT NULL DEFAULT 0,
    latency_max_us       INTEGER NOT NULL DEFAULT 0,
    last_sent_at         INTEGER
);

CREATE TABLE subscription_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sub_id          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    event_number    INTEGER,
    focus_type      TEXT,
    focus_id        TEXT,
    focus_version   INTEGER,
    op              TEXT,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    finished_at     INTEGER,
    last_error      TEXT
);
CREATE INDEX subscription_deliveries_pending ON subscription_deliveries (sub_id, id) WHERE state = 'pending';
CREATE INDEX subscription_deliveries_due ON subscription_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE UNIQUE INDEX subscription_deliveries_events ON subscription_deliveries (sub_id, event_number)
    WHERE event_number IS NOT NULL;
