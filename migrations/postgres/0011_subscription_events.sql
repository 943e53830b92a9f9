-- A subscription's event counter (eventsSinceSubscriptionStart) moves out
-- of subscription_state into a table of its own. The dispatcher increments
-- it in its batch transaction while the worker records deliveries in
-- subscription_state: sharing one row made every recording wait for the
-- dispatcher's commit (and two transactions locking several of the same
-- rows in different orders can deadlock). Now each writes its own rows.
CREATE TABLE subscription_events (
    sub_id             TEXT   PRIMARY KEY,
    events_since_start BIGINT NOT NULL DEFAULT 0
);
INSERT INTO subscription_events (sub_id, events_since_start)
    SELECT sub_id, events_since_start FROM subscription_state;
ALTER TABLE subscription_state DROP COLUMN events_since_start;
