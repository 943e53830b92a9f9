//! What the reindex job (`crate::reindex`) needs from the store: the stored
//! SearchParameters, the job rows (`reindex_jobs`, migrations/*/0004), and —
//! inside a write transaction — batches of current resources with their
//! bodies, and replacing one parameter's index rows for them.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::index::{IndexRows, Table};
use super::sql::{Arg, Sql};
use super::{Dialect, Store, StoreError, WriteTx};
use crate::index::IndexEntry;

/// A reindex job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReindexJob {
    pub id: i64,
    pub param_url: String,
    pub code: String,
    pub types: Vec<String>,
    /// `scan`, `catch-up` or `done`.
    pub state: String,
    /// The last resource key processed in the current state.
    pub after_rkey: i64,
    /// Resources processed so far.
    pub processed: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const JOB_COLUMNS: &str = "id, param_url, code, types, state, after_rkey, processed, created_at, finished_at";

impl ReindexJob {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let types: String = row.try_get("types")?;
        Ok(ReindexJob {
            id: row.try_get("id")?,
            param_url: row.try_get("param_url")?,
            code: row.try_get("code")?,
            types: types.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            state: row.try_get("state")?,
            after_rkey: row.try_get("after_rkey")?,
            processed: row.try_get("processed")?,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    }
}

impl Store {
    /// The bodies of the current (not deleted) resources of `rtype`.
    pub async fn current_bodies(&self, rtype: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut sql = Sql::new(
            "SELECT v.body FROM resources r JOIN resource_versions v ON v.rkey = r.rkey AND v.version = r.version \
             WHERE r.rtype = ",
        );
        sql.arg(Arg::Text(rtype.to_owned()))
            .push(" AND NOT r.deleted ORDER BY r.rkey");
        let rows = sql.fetch_all(&self.reader).await?;
        rows.iter()
            .map(|row| {
                let body: Option<Vec<u8>> = row.try_get("body")?;
                body.ok_or_else(|| StoreError::Corrupt("a current, undeleted version has no body".into()))
            })
            .collect()
    }

    /// Records a job for this definition of the parameter unless there is
    /// one already; returns it when it was created now.
    pub async fn create_reindex_job(
        &self,
        param_url: &str,
        definition: &str,
        code: &str,
        types: &[String],
        now: i64,
    ) -> Result<Option<ReindexJob>, StoreError> {
        let mut sql =
            Sql::new("INSERT INTO reindex_jobs (param_url, definition, code, types, state, created_at) VALUES (");
        sql.arg(Arg::Text(param_url.to_owned())).push(", ");
        sql.arg(Arg::Text(definition.to_owned())).push(", ");
        sql.arg(Arg::Text(code.to_owned())).push(", ");
        sql.arg(Arg::Text(types.join(" "))).push(", 'scan', ");
        sql.arg(Arg::Int(now));
        sql.push(&format!(
            ") ON CONFLICT (param_url, definition) DO NOTHING RETURNING {JOB_COLUMNS}"
        ));
        let rows = sql.fetch_all(&self.writer).await?;
        rows.first().map(ReindexJob::from_row).transpose()
    }

    /// Every job, newest first.
    pub async fn reindex_jobs(&self) -> Result<Vec<ReindexJob>, StoreError> {
        let sql = Sql::new(format!("SELECT {JOB_COLUMNS} FROM reindex_jobs ORDER BY id DESC"));
        let rows = sql.fetch_all(&self.reader).await?;
        rows.iter().map(ReindexJob::from_row).collect()
    }
}

fn push_types(sql: &mut Sql, types: &[String]) {
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Text(t.clone()));
    }
}

impl WriteTx {
    /// Up to `limit` current resources of `types`, or containing a
    /// resource of `types`, after `after_rkey` in key order (only those
    /// last updated at or after `since`, if given), with their bodies. On PostgreSQL they are locked until commit, so no
    /// writer replaces their rows meanwhile; those a writer holds now are
    /// skipped — that writer is storing a new version, whose rows the
    /// catch-up pass checks.
    pub async fn reindex_batch(
        &mut self,
        types: &[String],
        after_rkey: i64,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut sql = Sql::new(
            "SELECT r.rkey, v.body FROM resources r \
             JOIN resource_versions v ON v.rkey = r.rkey AND v.version = r.version \
             WHERE NOT r.deleted AND r.rkey > ",
        );
        sql.arg(Arg::Int(after_rkey)).push(" AND (r.rtype IN (");
        push_types(&mut sql, types);
        sql.push(") OR r.rkey IN (SELECT c.rkey FROM contained_resources c WHERE c.rtype IN (");
        push_types(&mut sql, types);
        sql.push(")))");
        if let Some(since) = since {
            sql.push(" AND r.last_updated >= ").arg(Arg::Int(since));
        }
        sql.push(" ORDER BY r.rkey LIMIT ").arg(Arg::Int(limit));
        if self.dialect() == Dialect::Postgres {
            sql.push(" FOR UPDATE OF r SKIP LOCKED");
        }
        let tx = self.tx().await?;
        let rows = sql.fetch_all_on(&mut **tx).await?;
        rows.iter()
            .map(|row| {
                let body: Option<Vec<u8>> = row.try_get("body")?;
                let body =
                    body.ok_or_else(|| StoreError::Corrupt("a current, undeleted version has no body".into()))?;
                Ok((row.try_get("rkey")?, body))
            })
            .collect()
    }

    /// Replaces the index rows of parameter `code` of the resources in
    /// `rows` (by key: an rkey, or a contained resource's key; with the
    /// resource's type) with the entries given.
    pub async fn replace_param_rows(
        &mut self,
        code: &str,
        rows: &[(i64, String, Vec<IndexEntry>)],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys = format!(
            "[{}]",
            rows.iter().map(|(k, _, _)| k.to_string()).collect::<Vec<_>>().join(",")
        );
        let mut index = IndexRows::default();
        for (rkey, rtype, entries) in rows {
            index.push(*rkey, rtype, entries);
        }
        let dialect = self.dialect();
        let tx = self.tx().await?;
        // Every table but the full-text one, which has no `param`.
        for table in Table::ALL.into_iter().filter(|t| t.has_param()) {
            let name = table.name();
            let delete = match dialect {
                Dialect::Postgres => format!(
                    "DELETE FROM {name} WHERE param = $1 AND rkey IN \
                     (SELECT value::bigint FROM json_array_elements_text($2::json))"
                ),
                Dialect::Sqlite => {
                    format!("DELETE FROM {name} WHERE param = $1 AND rkey IN (SELECT value FROM json_each($2))")
                }
            };
            sqlx::query(&delete)
                .bind(code)
                .bind(keys.as_str())
                .execute(&mut **tx)
                .await?;
            let Some(json) = index.take(table) else { continue };
            let insert = match dialect {
                // The insert joins the CTE `k` (ord → rkey); here key = rkey.
                Dialect::Postgres => format!(
                    "WITH k AS (SELECT value::bigint AS ord, value::bigint AS rkey \
                     FROM json_array_elements_text($2::json)) {}",
                    table.postgres_insert("$1")
                ),
                Dialect::Sqlite => table.sqlite_insert(),
            };
            let mut q = sqlx::query(&insert).bind(json);
            if dialect == Dialect::Postgres {
                q = q.bind(keys.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Saves a job's progress with the rows it covers.
    pub async fn save_reindex_progress(&mut self, job: &ReindexJob) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE reindex_jobs SET state = ");
        sql.arg(Arg::Text(job.state.clone())).push(", after_rkey = ");
        sql.arg(Arg::Int(job.after_rkey)).push(", processed = ");
        sql.arg(Arg::Int(job.processed)).push(", finished_at = ");
        sql.arg(Arg::OptInt(job.finished_at)).push(" WHERE id = ");
        sql.arg(Arg::Int(job.id));
        let tx = self.tx().await?;
        sql.fetch_all_on(&mut **tx).await?;
        Ok(())
    }
}
