//! Reading history: the versions of one resource, one type, or everything.

use super::sql::{Arg, Sql};
use super::{Store, StoreError, StoredVersion, VERSION_COLUMNS};
use sqlx::Row;

#[derive(Debug, Clone, Copy)]
pub enum HistoryScope<'a> {
    Instance { resource_type: &'a str, id: &'a str },
    Type { resource_type: &'a str },
    System,
}

/// Filters and page of a history read. Times are microseconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// `_since`: versions written at or after this instant.
    pub since: Option<i64>,
    /// `_at`: versions that were current at some point in [start, end).
    pub at: Option<(i64, i64)>,
    /// Versions written strictly before this instant; pins a page set so that
    /// paging is stable while others write.
    pub before: Option<i64>,
    pub count: i64,
    pub offset: i64,
}

#[derive(Debug)]
pub struct HistoryPage {
    pub versions: Vec<StoredVersion>,
    pub total: i64,
}

impl Store {
    /// Newest first, as the spec orders history.
    pub async fn history(&self, scope: HistoryScope<'_>, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let filter = history_filter(scope, q);
        let mut count = Sql::new("SELECT COUNT(*) AS n FROM ");
        count.embed(&filter);
        let total: i64 = count.fetch_one(&self.reader).await?.try_get("n")?;

        let mut page = Sql::new(format!("SELECT {VERSION_COLUMNS} FROM "));
        page.embed(&filter);
        page.push(" ORDER BY last_updated DESC, vkey DESC LIMIT ")
            .arg(Arg::Int(q.count))
            .push(" OFFSET ")
            .arg(Arg::Int(q.offset));
        let rows = page.fetch_all(&self.reader).await?;
        let versions = rows.iter().map(StoredVersion::from_row).collect::<Result<_, _>>()?;
        Ok(HistoryPage { versions, total })
    }
}

/// The `FROM` part: a subquery over the versions in scope (with each
/// version's successor time, needed for `_at`) and the WHERE clause.
fn history_filter(scope: HistoryScope<'_>, q: &HistoryQuery) -> Sql {
    let mut sql = Sql::new(format!(
        "(SELECT {VERSION_COLUMNS}, vkey, \
         LEAD(last_updated) OVER (PARTITION BY rkey ORDER BY version) AS next_updated \
         FROM resource_versions WHERE 1 = 1"
    ));
    match scope {
        HistoryScope::Instance { resource_type, id } => {
            sql.push(" AND rtype = ").arg(Arg::Text(resource_type.into()));
            sql.push(" AND id = ").arg(Arg::Text(id.into()));
        }
        HistoryScope::Type { resource_type } => {
            sql.push(" AND rtype = ").arg(Arg::Text(resource_type.into()));
        }
        HistoryScope::System => {}
    }
    sql.push(") h WHERE 1 = 1");
    if let Some(since) = q.since {
        sql.push(" AND last_updated >= ").arg(Arg::Int(since));
    }
    if let Some(before) = q.before {
        sql.push(" AND last_updated < ").arg(Arg::Int(before));
    }
    if let Some((start, end)) = q.at {
        sql.push(" AND last_updated < ").arg(Arg::Int(end));
        sql.push(" AND (next_updated IS NULL OR next_updated > ")
            .arg(Arg::Int(start))
            .push(")");
    }
    sql
}
