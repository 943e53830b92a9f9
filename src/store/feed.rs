//! Reading the change feed: "the committed changes after cursor C".
//!
//! A sequence number is assigned before commit, so under concurrent writers a
//! row with a smaller `seq` can become visible after one with a larger `seq`;
//! a reader that simply remembered the largest `seq` would skip it. Instead the
//! feed is ordered by (writing transaction id, seq) and on PostgreSQL only rows
//! of transactions older than the oldest transaction still running are handed
//! out. Every transaction that can still commit has an id at or above that
//! horizon, so nothing can later appear before a cursor already handed out.
//! SQLite has a single writer, so commit order already is seq order.

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::{Arg, Sql};
use super::{Dialect, Store, StoreError};

/// A position in the change feed. Readers persist it and ask for what follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor {
    pub txid: i64,
    pub seq: i64,
}

impl FeedCursor {
    /// Before the first change.
    pub const START: FeedCursor = FeedCursor { txid: -1, seq: -1 };
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.txid, self.seq)
    }
}

impl FromStr for FeedCursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (t, q) = s.split_once('.').ok_or_else(|| format!("bad feed cursor '{s}'"))?;
        let parse = |x: &str| x.parse::<i64>().map_err(|_| format!("bad feed cursor '{s}'"));
        Ok(FeedCursor {
            txid: parse(t)?,
            seq: parse(q)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    Create,
    Update,
    Delete,
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub cursor: FeedCursor,
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub op: ChangeOp,
    /// The version's lastUpdated, microseconds since the epoch.
    pub at: i64,
}

impl Change {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let op = match row.try_get::<&str, _>("op")? {
            "create" => ChangeOp::Create,
            "update" => ChangeOp::Update,
            "delete" => ChangeOp::Delete,
            other => return Err(StoreError::Corrupt(format!("unknown change op '{other}'"))),
        };
        Ok(Change {
            cursor: FeedCursor {
                txid: row.try_get("txid")?,
                seq: row.try_get("seq")?,
            },
            resource_type: row.try_get("rtype")?,
            id: row.try_get("id")?,
            version: row.try_get("version")?,
            op,
            at: row.try_get("at")?,
        })
    }
}

impl Store {
    /// Up to `limit` committed changes after `after`, in feed order. Calling
    /// again with the last returned cursor never skips a change.
    pub async fn changes_after(&self, after: FeedCursor, limit: i64) -> Result<Vec<Change>, StoreError> {
        let mut sql = Sql::new("SELECT txid, seq, rtype, id, version, op, at FROM change_feed WHERE (txid, seq) > (");
        sql.arg(Arg::Int(after.txid))
            .push(", ")
            .arg(Arg::Int(after.seq))
            .push(")");
        if self.dialect == Dialect::Postgres {
            sql.push(" AND txid < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint");
        }
        sql.push(" ORDER BY txid, seq LIMIT ").arg(Arg::Int(limit));
        let rows = sql.fetch_all(&self.reader).await?;
        rows.iter().map(Change::from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_text_so_readers_can_persist_it() {
        let c = FeedCursor { txid: 812, seq: 44 };
        assert_eq!(c.to_string().parse::<FeedCursor>(), Ok(c));
        assert!("12".parse::<FeedCursor>().is_err());
    }

    #[test]
    fn cursor_orders_by_transaction_then_sequence() {
        let a = FeedCursor { txid: 5, seq: 90 };
        let b = FeedCursor { txid: 6, seq: 10 };
        assert!(a < b);
        assert!(FeedCursor::START < a);
    }
}
