-- Same change as migrations/postgres/0011_subscription_events.sql; see the comments there.
CREATE TABLE subscription_events (
    sub_id             TEXT    PRIMARY KEY,
    events_since_start INTEGER NOT NULL DEFAULT 0
);
INSERT INTO subscription_events (sub_id, events_since_start)
    SELECT sub_id, events_since_start FROM subscription_state;
ALTER TABLE subscription_state DROP COLUMN events_since_start;
