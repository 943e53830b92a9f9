//! Websocket binding tokens (migrations `0009_ws_binding_tokens.sql` on
//! PostgreSQL, `0008` on SQLite): handed out by `$get-ws-binding-token` on
//! one node, redeemed by a websocket bound on any node.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Stores `token` for `sub_ids` until `expires_at` (µs), and forgets
    /// the tokens expired before `now`.
    pub async fn put_ws_token(
        &self,
        token: &str,
        sub_ids: &[String],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM subscription_ws_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO subscription_ws_tokens (token, sub_ids, expires_at) VALUES ($1, $2, $3)")
            .bind(token)
            .bind(sub_ids.join(","))
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The Subscriptions `token` binds, if it exists and has not expired at `now`.
    pub async fn ws_token(&self, token: &str, now: i64) -> Result<Option<Vec<String>>, StoreError> {
        let row = sqlx::query("SELECT sub_ids FROM subscription_ws_tokens WHERE token = $1 AND expires_at >= $2")
            .bind(token)
            .bind(now)
            .fetch_optional(&self.writer)
            .await?;
        match row {
            Some(row) => {
                let ids: String = row.try_get("sub_ids")?;
                Ok(Some(
                    ids.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                ))
            }
            None => Ok(None),
        }
    }
}
