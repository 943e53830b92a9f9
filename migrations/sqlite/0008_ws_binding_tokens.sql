-- Same model as migrations/postgres/0009_ws_binding_tokens.sql; see the comments there.
CREATE TABLE subscription_ws_tokens (
    token      TEXT    PRIMARY KEY,
    sub_ids    TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX subscription_ws_tokens_expiry ON subscription_ws_tokens (expires_at);
