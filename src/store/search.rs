//! Running the statements that search compiles (`crate::search::plan`): the
//! store knows nothing of FHIR search, only how to read the rows back. Every
//! statement is read on the reader pool.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::Sql;
use super::{Store, StoreError};

/// The SQL type of a sort key column, so it can be read back and bound again
/// in the next page's keyset condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Text,
    Int,
    Real,
}

/// One sort key of one row; `Null` when the resource has no value for it.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
}

/// A current resource found by a search statement, or a resource contained
/// in one (`_containedType=contained`).
#[derive(Debug, Clone)]
pub struct FoundRow {
    /// The resource key (for a contained resource, its negative key).
    pub rkey: i64,
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: i64,
    /// The resource as stored; for a contained resource, its container
    /// (until `crate::search` takes the contained one out).
    pub body: Vec<u8>,
    /// For a contained resource: the type and id of its container
    /// (columns `otype`, `oid`).
    pub container: Option<(String, String)>,
    /// The sort keys `k0`, `k1`… the statement selected, in order.
    pub keys: Vec<KeyValue>,
    /// The number of matches, when the statement counted them (column `n`).
    pub total: Option<i64>,
    /// The highest resource key in the statement's snapshot, when it
    /// selected it (column `pin`).
    pub pin: Option<i64>,
}

impl Store {
    /// Rows with the columns `rkey, rtype, id, version, last_updated, body`
    /// and then one column `k<i>` per entry of `keys`.
    pub(crate) async fn search_rows(&self, sql: &Sql, keys: &[KeyKind]) -> Result<Vec<FoundRow>, StoreError> {
        let rows = sql.fetch_all(&self.reader).await?;
        rows.iter().map(|row| found(row, keys)).collect()
    }

    /// The single integer column `n` of a one-row statement (`COUNT(*) AS n`).
    pub(crate) async fn search_count(&self, sql: &Sql) -> Result<i64, StoreError> {
        Ok(sql.fetch_one(&self.reader).await?.try_get("n")?)
    }

    /// The highest resource key handed out and visible so far (0 for an
    /// empty database). A search pins its pages to it, so resources created
    /// later never shift them.
    pub(crate) async fn max_rkey(&self) -> Result<i64, StoreError> {
        let sql = Sql::new("SELECT COALESCE(MAX(rkey), 0) AS n FROM resources");
        self.search_count(&sql).await
    }
}

pub(super) fn found(row: &AnyRow, keys: &[KeyKind]) -> Result<FoundRow, StoreError> {
    let body: Option<Vec<u8>> = row.try_get("body")?;
    let keys = keys
        .iter()
        .enumerate()
        .map(|(i, kind)| key(row, &format!("k{i}"), *kind))
        .collect::<Result<_, _>>()?;
    Ok(FoundRow {
        rkey: row.try_get("rkey")?,
        resource_type: row.try_get("rtype")?,
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        last_updated: row.try_get("last_updated")?,
        // Search only reads resources that are not deleted, whose current
        // version always has a body.
        body: body.ok_or_else(|| StoreError::Corrupt("a current, undeleted version has no body".into()))?,
        keys,
        container: container(row)?,
        // `n` is selected only by page statements that count; absent, it is
        // not an error.
        total: row.try_get::<i64, _>("n").ok(),
        pin: row.try_get::<i64, _>("pin").ok(),
    })
}

/// The container's `(otype, oid)`, when the statement selected them and
/// the row is a contained resource.
fn container(row: &AnyRow) -> Result<Option<(String, String)>, StoreError> {
    if row.try_column("otype").is_err() {
        return Ok(None);
    }
    let otype: Option<String> = row.try_get("otype")?;
    let oid: Option<String> = row.try_get("oid")?;
    Ok(otype.zip(oid))
}

fn key(row: &AnyRow, column: &str, kind: KeyKind) -> Result<KeyValue, StoreError> {
    Ok(match kind {
        KeyKind::Text => row
            .try_get::<Option<String>, _>(column)?
            .map_or(KeyValue::Null, KeyValue::Text),
        KeyKind::Int => row
            .try_get::<Option<i64>, _>(column)?
            .map_or(KeyValue::Null, KeyValue::Int),
        KeyKind::Real => row
            .try_get::<Option<f64>, _>(column)?
            .map_or(KeyValue::Null, KeyValue::Real),
    })
}
