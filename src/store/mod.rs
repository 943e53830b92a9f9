//! Storage: resources, their versions, their search index rows and the
//! change feed, on PostgreSQL or SQLite.
//!
//! Both databases are driven through sqlx's `Any` driver with one set of SQL
//! statements; the few places where the dialects differ (row locks, the
//! change-feed visibility horizon) are switched on [`Dialect`]. The public
//! surface is small: [`Store`] for reads and [`WriteTx`] for a write
//! transaction. Timestamps are microseconds since the Unix epoch (UTC).

mod delivery;
mod error;
mod feed;
mod history;
mod index;
mod pool;
mod reindex;
mod search;
mod sql;
mod write;
mod ws_tokens;

pub use delivery::{Attempt, Delivered, Delivery, DeliveryCounters, DeliveryKind, DispatchTx, Focus, NewDelivery};
pub use error::StoreError;
pub use feed::{Change, ChangeOp, FeedCursor};
pub use history::{HistoryPage, HistoryQuery, HistoryScope};
pub(crate) use index::contained_key;
pub use index::index_float;
pub use reindex::ReindexJob;
pub use search::{FoundRow, KeyKind, KeyValue};
pub(crate) use sql::{Arg, Sql};
pub use write::{ConformanceWrite, Current, NewVersion, WriteTx};

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// Which SQL dialect a [`Store`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// How a version came to be, as recorded in history (`Bundle.entry.request.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "POST" => Ok(Method::Post),
            "PUT" => Ok(Method::Put),
            "PATCH" => Ok(Method::Patch),
            "DELETE" => Ok(Method::Delete),
            other => Err(StoreError::Corrupt(format!("unknown method '{other}'"))),
        }
    }
}

/// One stored version of a resource. `body` is `None` for a delete tombstone.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: i64,
    pub method: Method,
    pub body: Option<Vec<u8>>,
}

impl StoredVersion {
    pub fn is_deleted(&self) -> bool {
        self.body.is_none()
    }

    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(StoredVersion {
            resource_type: row.try_get("rtype")?,
            id: row.try_get("id")?,
            version: row.try_get("version")?,
            last_updated: row.try_get("last_updated")?,
            method: Method::parse(row.try_get::<&str, _>("method")?)?,
            body: row.try_get("body")?,
        })
    }
}

/// A boolean column: PostgreSQL `BOOLEAN`, SQLite `INTEGER` 0/1.
fn get_bool(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

const VERSION_COLUMNS: &str = "rtype, id, version, last_updated, method, body";

/// Connection pools and dialect. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// SQLite allows one writer at a time: its write pool has one connection,
    /// so writers queue in the pool instead of failing with SQLITE_BUSY.
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
}

impl Store {
    /// Connects to `sqlite:<path>` or `postgres://…` (creating the SQLite file
    /// and its folder if needed). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        pool::connect(url, max_connections).await
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Applies the migrations of this store's dialect.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.dialect {
            Dialect::Postgres => sqlx::migrate!("migrations/postgres"),
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite"),
        };
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// The current version of a resource (a tombstone if it was deleted).
    pub async fn read_current(&self, rtype: &str, id: &str) -> Result<Option<StoredVersion>, StoreError> {
        let sql = format!(
            "SELECT v.{cols} FROM resources r JOIN resource_versions v \
             ON v.rkey = r.rkey AND v.version = r.version \
             WHERE r.rtype = $1 AND r.id = $2",
            cols = VERSION_COLUMNS.replace(", ", ", v.")
        );
        let row = sqlx::query(&sql)
            .bind(rtype)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(StoredVersion::from_row).transpose()
    }

    /// One version of a resource.
    pub async fn read_version(&self, rtype: &str, id: &str, version: i64) -> Result<Option<StoredVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions \
             WHERE rtype = $1 AND id = $2 AND version = $3"
        );
        let row = sqlx::query(&sql)
            .bind(rtype)
            .bind(id)
            .bind(version)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(StoredVersion::from_row).transpose()
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        WriteTx::begin(&self.writer, self.dialect).await
    }
}
