//! Write transactions: one database transaction that can hold any number of
//! resource writes (a single interaction, or a whole transaction Bundle).
//! Each write updates the current-state row, appends a version row, replaces
//! the resource's search index rows and appends a change-feed row, so they
//! never disagree.
//!
//! Round trips dominate write cost, so writes are buffered and flushed as
//! multi-row statements: before the next read inside the transaction, when
//! the buffer is full, and at commit. On PostgreSQL the whole flush is one
//! statement, and a transaction that never read anything (every create, a
//! Bundle of creates) is committed as that single atomic statement, without
//! `BEGIN`/`COMMIT`. SQLite has one writer, so its transaction is opened at
//! once and holds the writer until commit.

use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use super::index::{contained_key, contained_key_sql, IndexRows, Table};
use super::search::{found, FoundRow, KeyKind};
use super::sql::{Arg, Sql};
use super::{Dialect, Method, StoreError};
use crate::index::{ContainedEntries, IndexEntry};

/// Rows buffered before a flush is forced (keeps a statement's parameters
/// below both databases' limits: 9 per row, plus one per index table).
const FLUSH_ROWS: usize = 1000;

/// PostgreSQL: writers of one resource first queue on a transaction-scoped
/// advisory lock (class 1229997313, "IPE\x01" in ASCII, which keeps it apart
/// from other advisory lock users; key = hash of `Type/id`), and only
/// then lock the row. The change feed orders rows by transaction id, so the
/// writer that locks a resource first must also get the smaller id. A
/// writer that waits on the row lock itself may be given its id before the
/// wait ends (seen with PostgreSQL 15 while the holder had updated the row),
/// and its version then came before the holder's in the feed
/// (tests/api/feed.rs). An advisory lock wait assigns no id: once it is
/// granted the previous writer has committed, and any id assigned after is
/// larger. `LockRows` sits above the join, so the advisory lock is always
/// taken before the row lock. This holds for a transaction's first lock; one
/// that already wrote has its id, so in a transaction Bundle that updates
/// several resources the feed order can still differ from the lock order.
/// PostgreSQL: conditional writes with the same criteria queue on a
/// transaction-scoped advisory lock of class 1229997314 ("IPE\x02"; key =
/// hash of the criteria), so that of two concurrent `If-None-Exist` creates
/// the second searches after the first committed and finds its resource.
const CRITERIA_QUEUE: &str = "SELECT pg_advisory_xact_lock(1229997314, hashtext($1))";

const WRITER_QUEUE: &str = "WITH queue AS MATERIALIZED \
     (SELECT pg_advisory_xact_lock(1229997313, hashtext($1 || '/' || $2))) ";

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
    /// What the version is indexed under (`crate::index::extract` of the
    /// body); they replace the previous version's rows. Empty for a delete,
    /// which leaves the resource with no index rows.
    pub index: Vec<IndexEntry>,
    /// What its contained resources are indexed under (`_contained`
    /// searches); they replace the previous version's. Empty for a delete.
    pub contained: Vec<ContainedEntries>,
}

/// A version waiting to be flushed. `rkey` is `None` for a new resource.
struct Pending {
    rkey: Option<i64>,
    rtype: String,
    id: String,
    version: i64,
    last_updated: i64,
    method: Method,
    body: Option<Vec<u8>>,
    op: &'static str,
    index: Vec<IndexEntry>,
    contained: Vec<ContainedEntries>,
}

pub struct WriteTx {
    pool: AnyPool,
    /// Opened on the first read (PostgreSQL) or at once (SQLite).
    tx: Option<Transaction<'static, Any>>,
    dialect: Dialect,
    pending: Vec<Pending>,
    /// The resource types written, for what must follow the commit.
    written_types: Vec<String>,
    /// Conformance resources written, for the canonical registry after the
    /// commit.
    conformance: Vec<ConformanceWrite>,
}

/// A conformance resource (ValueSet, StructureDefinition, …) a transaction
/// wrote: its new body, or `None` for a delete.
#[derive(Debug, Clone)]
pub struct ConformanceWrite {
    pub resource_type: String,
    pub id: String,
    pub body: Option<Vec<u8>>,
}

impl WriteTx {
    pub(super) async fn begin(pool: &AnyPool, dialect: Dialect) -> Result<Self, StoreError> {
        let tx = match dialect {
            Dialect::Sqlite => Some(pool.begin().await?),
            Dialect::Postgres => None,
        };
        Ok(WriteTx {
            pool: pool.clone(),
            tx,
            dialect,
            pending: Vec::new(),
            written_types: Vec::new(),
            conformance: Vec::new(),
        })
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The open database transaction, opening it if needed.
    pub(super) async fn tx(&mut self) -> Result<&mut Transaction<'static, Any>, StoreError> {
        let pool = &self.pool;
        Ok(match &mut self.tx {
            Some(tx) => tx,
            slot @ None => slot.insert(pool.begin().await?),
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
        // The read must see this transaction's own writes.
        self.flush().await?;
        let (queue, lock) = match self.dialect {
            Dialect::Postgres => (WRITER_QUEUE, " FOR UPDATE OF r"),
            Dialect::Sqlite => ("", ""),
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
            "{queue}SELECT r.rkey, r.version, r.last_updated, r.deleted{body} FROM {from}resources r{join} \
             WHERE r.rtype = $1 AND r.id = $2{lock}",
            from = if queue.is_empty() { "" } else { "queue CROSS JOIN " },
        );
        let tx = self.tx().await?;
        let row = sqlx::query(&sql).bind(rtype).bind(id).fetch_optional(&mut **tx).await?;
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

    /// Holds this transaction until no other holds `key` (the criteria of a
    /// conditional write), until commit. SQLite's single writer is held
    /// from the start of the transaction, which serialises all writers.
    pub async fn queue_on(&mut self, key: &str) -> Result<(), StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(());
        }
        self.flush().await?;
        let tx = self.tx().await?;
        sqlx::query(CRITERIA_QUEUE).bind(key).execute(&mut **tx).await?;
        Ok(())
    }

    /// The rows of a search statement (`crate::search::Plan`) read inside
    /// this transaction: after [`queue_on`](Self::queue_on), on the same
    /// connection, so a conditional write sees every commit before its
    /// own and needs no second connection from the pool.
    pub(crate) async fn search_rows(&mut self, sql: &Sql, keys: &[KeyKind]) -> Result<Vec<FoundRow>, StoreError> {
        self.flush().await?;
        let tx = self.tx().await?;
        let rows = sql.fetch_all_on(&mut **tx).await?;
        rows.iter().map(|row| found(row, keys)).collect()
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
        let op = match (v.body.is_none(), prev) {
            (true, _) => "delete",
            (false, Some(p)) if !p.deleted => "update",
            (false, _) => "create",
        };
        if !self.written_types.iter().any(|t| t == v.resource_type) {
            self.written_types.push(v.resource_type.to_owned());
        }
        if crate::packages::registry::CANONICAL_TYPES.contains(&v.resource_type) {
            self.conformance.push(ConformanceWrite {
                resource_type: v.resource_type.to_owned(),
                id: v.id.to_owned(),
                body: v.body.map(<[u8]>::to_vec),
            });
        }
        self.pending.push(Pending {
            rkey: prev.map(|p| p.rkey),
            rtype: v.resource_type.to_string(),
            id: v.id.to_string(),
            version: v.version,
            last_updated: v.last_updated,
            method: v.method,
            body: v.body.map(<[u8]>::to_vec),
            op,
            index: v.index,
            contained: v.contained,
        });
        if self.pending.len() >= FLUSH_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Whether a resource of `rtype` was written.
    pub fn has_written(&self, rtype: &str) -> bool {
        self.written_types.iter().any(|t| t == rtype)
    }

    /// The conformance resources written, in order, handed over (for after
    /// the commit) rather than copied.
    pub fn take_conformance_writes(&mut self) -> Vec<ConformanceWrite> {
        std::mem::take(&mut self.conformance)
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.tx.is_none() {
            // Nothing was read: the flush is one atomic statement, so no
            // explicit transaction is needed (PostgreSQL only).
            return flush_postgres(std::mem::take(&mut self.pending), &self.pool).await;
        }
        self.flush().await?;
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Writes the buffered versions inside the open transaction.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let dialect = self.dialect;
        let tx = self.tx().await?;
        match dialect {
            Dialect::Postgres => flush_postgres(pending, &mut **tx).await,
            Dialect::Sqlite => flush_sqlite(pending, tx).await,
        }
    }
}

/// A unique violation on `resources (rtype, id)` means a concurrent create
/// of the same id won; the statement (and so the flush) wrote nothing.
fn conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::ConcurrentCreate,
        _ => StoreError::Database(e),
    }
}

/// One statement: new current rows, updated current rows, versions, index
/// rows and change-feed rows (in buffer order) from a single `VALUES` list
/// plus one JSON parameter per index table that has rows.
async fn flush_postgres<'e, E>(pending: Vec<Pending>, on: E) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    if pending.is_empty() {
        return Ok(());
    }
    let mut index = IndexRows::default();
    let mut contained = ContainedRows::default();
    for (ord, p) in pending.iter().enumerate() {
        index.push(ord as i64, &p.rtype, &p.index);
        for c in &p.contained {
            index.push_contained(ord as i64, c.position, &c.resource_type, &c.entries);
            contained.push(ord as i64, c);
        }
    }
    let replaces = pending.iter().any(|p| p.rkey.is_some());
    let mut sql = Sql::new("WITH x (ord, rkey, rtype, id, version, last_updated, method, body, op) AS (VALUES ");
    for (ord, p) in pending.into_iter().enumerate() {
        sql.push(if ord == 0 { "(" } else { ", (" });
        sql.typed_arg(Arg::Int(ord as i64), "bigint").push(", ");
        sql.typed_arg(Arg::OptInt(p.rkey), "bigint").push(", ");
        sql.typed_arg(Arg::Text(p.rtype), "text").push(", ");
        sql.typed_arg(Arg::Text(p.id), "text").push(", ");
        sql.typed_arg(Arg::Int(p.version), "bigint").push(", ");
        sql.typed_arg(Arg::Int(p.last_updated), "bigint").push(", ");
        sql.typed_arg(Arg::Text(p.method.as_str().into()), "text").push(", ");
        sql.typed_arg(Arg::Blob(p.body), "bytea").push(", ");
        sql.typed_arg(Arg::Text(p.op.into()), "text").push(")");
    }
    sql.push(
        "), \
         r AS (INSERT INTO resources (rtype, id, version, last_updated, deleted) \
               SELECT rtype, id, version, last_updated, body IS NULL FROM x WHERE rkey IS NULL ORDER BY ord \
               RETURNING rkey, rtype, id), \
         u AS (UPDATE resources SET version = x.version, last_updated = x.last_updated, deleted = x.body IS NULL \
               FROM x WHERE x.rkey IS NOT NULL AND resources.rkey = x.rkey), \
         k AS (SELECT x.ord, COALESCE(x.rkey, r.rkey) AS rkey, x.rtype, x.id, x.version, x.last_updated, \
                      x.method, x.body, x.op \
               FROM x LEFT JOIN r ON x.rkey IS NULL AND r.rtype = x.rtype AND r.id = x.id), \
         v AS (INSERT INTO resource_versions (rkey, rtype, id, version, last_updated, method, body) \
               SELECT rkey, rtype, id, version, last_updated, method, body FROM k ORDER BY ord)",
    );
    push_postgres_index(&mut sql, index, contained, replaces);
    sql.push(
        " INSERT INTO change_feed (rkey, rtype, id, version, op, at) \
         SELECT rkey, rtype, id, version, op, last_updated FROM k ORDER BY ord",
    );
    sql.fetch_all_on(on).await.map_err(conflict)?;
    Ok(())
}

/// The index CTEs of the PostgreSQL flush: when resources that existed are
/// written, a `DELETE` of their old rows per table; then an `INSERT` per
/// table with rows. All parts of one statement run on the same snapshot, so
/// the deletes cannot see (and remove) the rows inserted beside them.
///
/// Contained resources likewise: the old `contained_resources` rows of the
/// resources written are deleted, and the index rows under their keys
/// (`delc_*`, which touch nothing when there were none); the new ones are
/// inserted under keys computed from the rkeys of `k`.
fn push_postgres_index(sql: &mut Sql, mut index: IndexRows, mut contained: ContainedRows, replaces: bool) {
    if replaces {
        sql.push(
            ", del_contained AS (DELETE FROM contained_resources \
             WHERE rkey IN (SELECT rkey FROM x WHERE rkey IS NOT NULL) RETURNING ckey)",
        );
    }
    if let Some(json) = contained.take() {
        let placeholder = sql.placeholder(Arg::Text(json));
        sql.push(&format!(
            ", ins_contained AS (INSERT INTO contained_resources (ckey, rkey, rtype, id) \
             SELECT {}, k.rkey, j.rtype, j.id \
             FROM json_to_recordset({placeholder}::json) AS j(key bigint, sub bigint, rtype text, id text) \
             JOIN k ON k.ord = j.key)",
            contained_key_sql("k.rkey", "j.sub")
        ));
    }
    for table in Table::ALL {
        let name = table.name();
        if replaces {
            sql.push(&format!(
                ", del_{name} AS (DELETE FROM {name} WHERE rkey IN (SELECT rkey FROM x WHERE rkey IS NOT NULL))"
            ));
            sql.push(&format!(
                ", delc_{name} AS (DELETE FROM {name} WHERE rkey IN (SELECT ckey FROM del_contained))"
            ));
        }
        if let Some(json) = index.take(table) {
            let placeholder = sql.placeholder(Arg::Text(json));
            sql.push(&format!(", ins_{name} AS ({})", table.postgres_insert(&placeholder)));
        }
        if let Some(json) = index.take_contained(table) {
            let placeholder = sql.placeholder(Arg::Text(json));
            sql.push(&format!(
                ", insc_{name} AS ({})",
                table.postgres_insert_contained(&placeholder)
            ));
        }
    }
}

/// The `contained_resources` rows of one flush, as a JSON array in the
/// making: `{"key", "sub", "rtype", "id"}` per contained resource, `key`
/// being what ties it to its container (as in [`IndexRows`]) and `sub` its
/// position; on SQLite `ckey` too.
#[derive(Debug, Default)]
struct ContainedRows {
    json: Vec<Value>,
}

impl ContainedRows {
    fn push(&mut self, key: i64, contained: &ContainedEntries) {
        self.json.push(json!({
            "key": key,
            "sub": contained.position,
            "rtype": contained.resource_type,
            "id": contained.id,
        }));
    }

    fn push_keyed(&mut self, rkey: i64, ckey: i64, contained: &ContainedEntries) {
        self.json.push(json!({
            "key": rkey,
            "ckey": ckey,
            "rtype": contained.resource_type,
            "id": contained.id,
        }));
    }

    fn take(&mut self) -> Option<String> {
        let rows = std::mem::take(&mut self.json);
        (!rows.is_empty()).then(|| Value::Array(rows).to_string())
    }
}

/// SQLite cannot put inserts in a `WITH`: a few multi-row statements in the
/// open transaction (cheap, as SQLite runs in-process).
async fn flush_sqlite(mut pending: Vec<Pending>, tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
    let is_new: Vec<bool> = pending.iter().map(|p| p.rkey.is_none()).collect();
    if is_new.iter().any(|&n| n) {
        let mut sql = Sql::new("INSERT INTO resources (rtype, id, version, last_updated, deleted) VALUES ");
        for (n, p) in pending.iter().filter(|p| p.rkey.is_none()).enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            sql.arg(Arg::Text(p.rtype.clone()))
                .push(", ")
                .arg(Arg::Text(p.id.clone()))
                .push(", ");
            sql.arg(Arg::Int(p.version))
                .push(", ")
                .arg(Arg::Int(p.last_updated))
                .push(", ");
            sql.arg(Arg::Int(i64::from(p.body.is_none()))).push(")");
        }
        sql.push(" RETURNING rkey, rtype, id");
        let rows = sql.fetch_all_on(&mut **tx).await.map_err(conflict)?;
        assign_rkeys(&mut pending, &rows)?;
    }
    for p in pending.iter().zip(&is_new).filter(|(_, &new)| !new).map(|(p, _)| p) {
        sqlx::query("UPDATE resources SET version = $1, last_updated = $2, deleted = $3 WHERE rkey = $4")
            .bind(p.version)
            .bind(p.last_updated)
            .bind(i64::from(p.body.is_none()))
            .bind(p.rkey)
            .execute(&mut **tx)
            .await?;
    }
    write_index_sqlite(&pending, &is_new, tx).await?;
    let mut versions =
        Sql::new("INSERT INTO resource_versions (rkey, rtype, id, version, last_updated, method, body) VALUES ");
    let mut feed = Sql::new("INSERT INTO change_feed (rkey, rtype, id, version, op, at) VALUES ");
    for (n, p) in pending.into_iter().enumerate() {
        let sep = if n == 0 { "(" } else { ", (" };
        feed.push(sep)
            .arg(Arg::OptInt(p.rkey))
            .push(", ")
            .arg(Arg::Text(p.rtype.clone()))
            .push(", ");
        feed.arg(Arg::Text(p.id.clone()))
            .push(", ")
            .arg(Arg::Int(p.version))
            .push(", ");
        feed.arg(Arg::Text(p.op.into()))
            .push(", ")
            .arg(Arg::Int(p.last_updated))
            .push(")");
        versions
            .push(sep)
            .arg(Arg::OptInt(p.rkey))
            .push(", ")
            .arg(Arg::Text(p.rtype))
            .push(", ");
        versions
            .arg(Arg::Text(p.id))
            .push(", ")
            .arg(Arg::Int(p.version))
            .push(", ");
        versions
            .arg(Arg::Int(p.last_updated))
            .push(", ")
            .arg(Arg::Text(p.method.as_str().into()))
            .push(", ");
        versions.arg(Arg::Blob(p.body)).push(")");
    }
    versions.fetch_all_on(&mut **tx).await?;
    feed.fetch_all_on(&mut **tx).await?;
    Ok(())
}

/// Replaces the index rows of the flushed versions (all have rkeys by now):
/// the old rows of resources that existed are deleted, then one
/// `INSERT … SELECT … FROM json_each` per table with rows.
async fn write_index_sqlite(
    pending: &[Pending],
    is_new: &[bool],
    tx: &mut Transaction<'static, Any>,
) -> Result<(), StoreError> {
    let replaced: Vec<i64> = pending
        .iter()
        .zip(is_new)
        .filter(|(_, &new)| !new)
        .filter_map(|(p, _)| p.rkey)
        .collect();
    if !replaced.is_empty() {
        let keys: Vec<String> = replaced.iter().map(i64::to_string).collect();
        let keys = format!("[{}]", keys.join(","));
        delete_index_rows(tx, &keys).await?;
        // The contained resources of the replaced versions, and their rows.
        let gone = sqlx::query(
            "DELETE FROM contained_resources WHERE rkey IN (SELECT value FROM json_each($1)) RETURNING ckey",
        )
        .bind(keys.as_str())
        .fetch_all(&mut **tx)
        .await?;
        if !gone.is_empty() {
            let ckeys = gone
                .iter()
                .map(|row| row.try_get::<i64, _>("ckey").map(|k| k.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            delete_index_rows(tx, &format!("[{}]", ckeys.join(","))).await?;
        }
    }
    let mut index = IndexRows::default();
    let mut contained = ContainedRows::default();
    for p in pending {
        let rkey = p
            .rkey
            .ok_or_else(|| StoreError::Corrupt("a flushed version has no rkey".into()))?;
        index.push(rkey, &p.rtype, &p.index);
        for c in &p.contained {
            let ckey = contained_key(rkey, c.position).ok_or_else(|| {
                StoreError::Corrupt(format!("no contained key for rkey {rkey}, position {}", c.position))
            })?;
            index.push(ckey, &c.resource_type, &c.entries);
            contained.push_keyed(rkey, ckey, c);
        }
    }
    if let Some(json) = contained.take() {
        sqlx::query(
            "INSERT INTO contained_resources (ckey, rkey, rtype, id) \
             SELECT value ->> '$.ckey', value ->> '$.key', value ->> '$.rtype', value ->> '$.id' FROM json_each($1)",
        )
        .bind(json)
        .execute(&mut **tx)
        .await?;
    }
    for table in Table::ALL {
        if let Some(json) = index.take(table) {
            sqlx::query(&table.sqlite_insert())
                .bind(json)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Deletes the index rows of the keys in the JSON array `keys`, every table.
async fn delete_index_rows(tx: &mut Transaction<'static, Any>, keys: &str) -> Result<(), StoreError> {
    for table in Table::ALL {
        let sql = format!(
            "DELETE FROM {} WHERE rkey IN (SELECT value FROM json_each($1))",
            table.name()
        );
        sqlx::query(&sql).bind(keys).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Gives each new pending row the `rkey` its insert returned.
fn assign_rkeys(pending: &mut [Pending], rows: &[AnyRow]) -> Result<(), StoreError> {
    let mut returned = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let key: (String, String) = (row.try_get("rtype")?, row.try_get("id")?);
        returned.insert(key, row.try_get::<i64, _>("rkey")?);
    }
    for p in pending.iter_mut().filter(|p| p.rkey.is_none()) {
        let rkey = returned.get(&(p.rtype.clone(), p.id.clone()));
        p.rkey = Some(*rkey.ok_or_else(|| StoreError::Corrupt("an inserted resource row was not returned".into()))?);
    }
    Ok(())
}
