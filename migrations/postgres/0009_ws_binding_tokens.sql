-- Websocket binding tokens ($get-ws-binding-token, Subscriptions Backport
-- IG): a token is handed out by any node and used to bind a websocket on
-- any node, so it lives in the database. `sub_ids` is the comma-separated
-- list of the Subscriptions the token binds.
CREATE TABLE subscription_ws_tokens (
    token      TEXT   PRIMARY KEY,
    sub_ids    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX subscription_ws_tokens_expiry ON subscription_ws_tokens (expires_at);
