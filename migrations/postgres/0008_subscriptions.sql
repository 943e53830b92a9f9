-- Subscription delivery (crate::subscriptions, docs/subscriptions.md).
--
-- feed_cursors: where each change-feed reader is. The subscription
-- dispatcher locks its row, reads the changes after it, writes one delivery
-- row per notification and moves the cursor, all in one transaction: a
-- change is either fully turned into delivery rows or not at all.
CREATE TABLE feed_cursors (
    reader  TEXT   PRIMARY KEY,
    txid    BIGINT NOT NULL,
    seq     BIGINT NOT NULL
);

-- One row per Subscription the dispatcher has seen: its event counter
-- (eventsSinceSubscriptionStart, incremented in the transaction that queues
-- the event) and its delivery counters for $status.
CREATE TABLE subscription_state (
    sub_id               TEXT   PRIMARY KEY,
    events_since_start   BIGINT NOT NULL DEFAULT 0,
    delivered            BIGINT NOT NULL DEFAULT 0,
    failed               BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_error_at        BIGINT,
    last_delivered_at    BIGINT,
    latency_total_us     BIGINT NOT NULL DEFAULT 0,
    latency_max_us       BIGINT NOT NULL DEFAULT 0,
    last_sent_at         BIGINT  -- any notification (heartbeats count from it)
);

-- One row per notification. Rows of one subscription are sent in id order:
-- only the oldest pending row of a subscription can be claimed. A worker
-- claims a row by leasing it (lease_owner = its node id, lease_until); a
-- node that dies leaves a lease that expires, and another node takes the
-- row over. Timestamps are microseconds since the epoch.
CREATE TABLE subscription_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    sub_id          TEXT    NOT NULL,
    kind            TEXT    NOT NULL, -- handshake | heartbeat | event-notification
    channel         TEXT    NOT NULL, -- rest-hook (websocket, email, message: not built yet)
    event_number    BIGINT,           -- event-notification only
    focus_type      TEXT,
    focus_id        TEXT,
    focus_version   BIGINT,
    op              TEXT,             -- create | update | delete
    created_at      BIGINT  NOT NULL, -- the change's commit time (the event timestamp)
    state           TEXT    NOT NULL, -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    finished_at     BIGINT,
    last_error      TEXT
);
CREATE INDEX subscription_deliveries_pending ON subscription_deliveries (sub_id, id) WHERE state = 'pending';
CREATE INDEX subscription_deliveries_due ON subscription_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE UNIQUE INDEX subscription_deliveries_events ON subscription_deliveries (sub_id, event_number)
    WHERE event_number IS NOT NULL;
