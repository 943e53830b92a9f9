//! Write transactions: one database transaction that can hold any number of
//! resource writes (a single interaction, or a whole transaction Bundle).
//! Each write updates the current-state row, appends a version row and
//! appends a change-feed row, so the three never disagree.

use sqlx::{Any, Row, Transaction};

use super::{Dialect, Method, StoreError};

/// The current-state row of a resource, as seen (and on PostgreSQL locked)
/// inside a write transaction.
#[derive(Debug, Clone, Copy)]
pub struct Current {
    rkey: i64,
    pub version: i64,
    pub last_updated: i64,
    pub deleted: bool,
}

/// The next version of a resource, ready to store.
#[derive(Debug)]
pub struct NewVersion<'a> {
    pub resource_type: &'a str,
    pub id: &'a str,
    pub version: i64,
    pub last_updated: i64,
    pub method: Method,
    /// The JSON to serve; `None` writes a delete tombstone.
    pub body: Option<&'a [u8]>,
}

pub struct WriteTx {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
}

impl WriteTx {
    pub(super) async fn begin(pool: &sqlx::AnyPool, dialect: Dialect) -> Result<Self, StoreError> {
        Ok(WriteTx {
            tx: pool.begin().await?,
            dialect,
        })
    }

    /// The resource's current row. On PostgreSQL the row stays locked until
    /// commit, so concurrent updates of one resource are serialised; SQLite
    /// has one writer, which serialises them already.
    pub async fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Current>, StoreError> {
        Ok(self.locked(rtype, id, false).await?.map(|(c, _)| c))
    }

    /// [`current`](Self::current) with the current version's body (`None`
    /// for a tombstone), for read-modify-write interactions such as patch.
    pub async fn current_with_body(
        &mut self,
        rtype: &str,
        id: &str,
    ) -> Result<Option<(Current, Option<Vec<u8>>)>, StoreError> {
        self.locked(rtype, id, true).await
    }

    async fn locked(
        &mut self,
        rtype: &str,
        id: &str,
        with_body: bool,
    ) -> Result<Option<(Current, Option<Vec<u8>>)>, StoreError> {
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE OF r",
            Dialect::Sqlite => "",
        };
        let (body, join) = if with_body {
            (
                ", v.body",
                " JOIN resource_versions v ON v.rkey = r.rkey AND v.version = r.version",
            )
        } else {
            ("", "")
        };
        let sql = format!(
            "SELECT r.rkey, r.version, r.last_updated, r.deleted{body} FROM resources r{join} \
             WHERE r.rtype = $1 AND r.id = $2{lock}"
        );
        let row = sqlx::query(&sql)
            .bind(rtype)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let current = Current {
            rkey: r.try_get("rkey")?,
            version: r.try_get("version")?,
            last_updated: r.try_get("last_updated")?,
            deleted: super::get_bool(&r, "deleted")?,
        };
        let body = if with_body { r.try_get("body")? } else { None };
        Ok(Some((current, body)))
    }

    /// Stores `v` as the version after `prev` (`None`: the resource is new).
    pub async fn write(&mut self, prev: Option<&Current>, v: NewVersion<'_>) -> Result<(), StoreError> {
        let expected = prev.map_or(1, |p| p.version + 1);
        if v.version != expected {
            return Err(StoreError::Corrupt(format!(
                "version {} written after {:?}",
                v.version,
                prev.map(|p| p.version)
            )));
        }
        let deleted = v.body.is_none();
        let rkey = match prev {
            Some(p) => {
                self.update_current(p.rkey, &v, deleted).await?;
                p.rkey
            }
            None => self.insert_current(&v, deleted).await?,
        };
        sqlx::query(
            "INSERT INTO resource_versions (rkey, rtype, id, version, last_updated, method, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rkey)
        .bind(v.resource_type)
        .bind(v.id)
        .bind(v.version)
        .bind(v.last_updated)
        .bind(v.method.as_str())
        .bind(v.body)
        .execute(&mut *self.tx)
        .await?;
        let op = match (deleted, prev) {
            (true, _) => "delete",
            (false, Some(p)) if !p.deleted => "update",
            (false, _) => "create",
        };
        sqlx::query(
            "INSERT INTO change_feed (rkey, rtype, id, version, op, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(rkey)
        .bind(v.resource_type)
        .bind(v.id)
        .bind(v.version)
        .bind(op)
        .bind(v.last_updated)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_current(&mut self, v: &NewVersion<'_>, deleted: bool) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO resources (rtype, id, version, last_updated, deleted) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rtype, id) DO NOTHING RETURNING rkey",
        )
        .bind(v.resource_type)
        .bind(v.id)
        .bind(v.version)
        .bind(v.last_updated)
        .bind(deleted)
        .fetch_optional(&mut *self.tx)
        .await?;
        match row {
            Some(r) => Ok(r.try_get("rkey")?),
            None => Err(StoreError::ConcurrentCreate {
                rtype: v.resource_type.to_string(),
                id: v.id.to_string(),
            }),
        }
    }

    async fn update_current(&mut self, rkey: i64, v: &NewVersion<'_>, deleted: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE resources SET version = $1, last_updated = $2, deleted = $3 WHERE rkey = $4")
            .bind(v.version)
            .bind(v.last_updated)
            .bind(deleted)
            .bind(rkey)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
