//! Subscription delivery rows (migrations `0008_subscriptions.sql` and
//! `0011_subscription_events.sql` on PostgreSQL, `0007` and `0010` on
//! SQLite): the dispatcher's feed cursor, one row per notification, the
//! event counter of each subscription (`subscription_events`, the
//! dispatcher's) and its delivery counters (`subscription_state`, the
//! worker's). The subscription engine (`crate::subscriptions`) is
//! the only user; this file holds its SQL.
//!
//! Claiming: a claim starts at the oldest pending row of a subscription
//! and takes the rows after it as a run, sent one after another, so a
//! subscription's notifications go out strictly in order. A claim is a
//! lease (`lease_owner`, `lease_until`): on PostgreSQL the candidate rows are
//! picked `FOR UPDATE SKIP LOCKED`, so two nodes never claim the same row,
//! and a row whose lease expired (its node died mid-send) is claimed again.
//! SQLite has one writer, which serialises claims already.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::feed::FeedCursor;
use super::{Dialect, Store, StoreError};

/// What a delivery row notifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    Handshake,
    Heartbeat,
    Event,
}

impl DeliveryKind {
    /// The SubscriptionStatus `type` code.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryKind::Handshake => "handshake",
            DeliveryKind::Heartbeat => "heartbeat",
            DeliveryKind::Event => "event-notification",
        }
    }

    fn parse(code: &str) -> Result<Self, StoreError> {
        match code {
            "handshake" => Ok(DeliveryKind::Handshake),
            "heartbeat" => Ok(DeliveryKind::Heartbeat),
            "event-notification" => Ok(DeliveryKind::Event),
            other => Err(StoreError::Corrupt(format!("unknown delivery kind '{other}'"))),
        }
    }
}

/// The resource version an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    /// `create`, `update` or `delete`.
    pub op: String,
}

/// A notification to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub sub_id: &'a str,
    pub kind: DeliveryKind,
    pub channel: &'a str,
    pub focus: Option<&'a Focus>,
    /// The event's time (the change's commit time), µs.
    pub at: i64,
}

/// A stored notification.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub sub_id: String,
    pub kind: DeliveryKind,
    pub channel: String,
    pub event_number: Option<i64>,
    pub focus: Option<Focus>,
    pub created_at: i64,
    pub state: String,
    /// Attempts so far, the one just claimed included.
    pub attempts: i64,
}

const DELIVERY_COLUMNS: &str =
    "id, sub_id, kind, channel, event_number, focus_type, focus_id, focus_version, op, created_at, state, attempts";

impl Delivery {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let focus = match (
            row.try_get::<Option<String>, _>("focus_type")?,
            row.try_get::<Option<String>, _>("focus_id")?,
            row.try_get::<Option<i64>, _>("focus_version")?,
        ) {
            (Some(resource_type), Some(id), Some(version)) => Some(Focus {
                resource_type,
                id,
                version,
                op: row.try_get::<Option<String>, _>("op")?.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Delivery {
            id: row.try_get("id")?,
            sub_id: row.try_get("sub_id")?,
            kind: DeliveryKind::parse(row.try_get::<&str, _>("kind")?)?,
            channel: row.try_get("channel")?,
            event_number: row.try_get("event_number")?,
            focus,
            created_at: row.try_get("created_at")?,
            state: row.try_get("state")?,
            attempts: row
                .try_get::<i64, _>("attempts")
                .or_else(|_| row.try_get::<i32, _>("attempts").map(i64::from))?,
        })
    }
}

/// A subscription's counters, for `$status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounters {
    pub events_since_start: i64,
    pub queued: i64,
    pub delivered: i64,
    pub failed: i64,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_delivered_at: Option<i64>,
    /// Mean and worst time from the change's commit to the receiver's
    /// acknowledgement, µs.
    pub latency_mean_us: i64,
    pub latency_max_us: i64,
    pub last_sent_at: Option<i64>,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// Acknowledged by the receiver; `latency_us` since the event.
    Delivered { latency_us: i64 },
    /// Failed; retried at `retry_at`, or given up when `None`.
    Failed { error: String, retry_at: Option<i64> },
}

/// An acknowledged notification, for [`Store::record_delivered`].
#[derive(Debug, Clone)]
pub struct Delivered {
    pub id: i64,
    pub sub_id: String,
    /// Since the event, µs.
    pub latency_us: i64,
}

/// The dispatcher's transaction: its cursor row is locked until
/// [`DispatchTx::finish`], so two dispatchers never turn one change into
/// notifications twice.
pub struct DispatchTx {
    tx: Transaction<'static, Any>,
    reader: String,
}

impl Store {
    /// Opens the dispatcher transaction of `reader` and returns its cursor.
    pub async fn begin_dispatch(&self, reader: &str) -> Result<(DispatchTx, FeedCursor), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO feed_cursors (reader, txid, seq) VALUES ($1, -1, -1) ON CONFLICT DO NOTHING")
            .bind(reader)
            .execute(&mut *tx)
            .await?;
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let row = sqlx::query(&format!("SELECT txid, seq FROM feed_cursors WHERE reader = $1{lock}"))
            .bind(reader)
            .fetch_one(&mut *tx)
            .await?;
        let cursor = FeedCursor {
            txid: row.try_get("txid")?,
            seq: row.try_get("seq")?,
        };
        Ok((
            DispatchTx {
                tx,
                reader: reader.to_owned(),
            },
            cursor,
        ))
    }

    /// Where `reader` is in the feed, without locking (start-up).
    pub async fn feed_cursor(&self, reader: &str) -> Result<FeedCursor, StoreError> {
        let row = sqlx::query("SELECT txid, seq FROM feed_cursors WHERE reader = $1")
            .bind(reader)
            .fetch_optional(&self.reader)
            .await?;
        Ok(match row {
            Some(row) => FeedCursor {
                txid: row.try_get("txid")?,
                seq: row.try_get("seq")?,
            },
            None => FeedCursor::START,
        })
    }

    /// Claims the due notifications of up to `subscriptions` subscriptions,
    /// leased to `node` until `lease_until`: for each, its oldest pending
    /// row (which must be due and not leased to a live node) and the up to
    /// `run - 1` pending rows after it, so the node sends them in order.
    /// A `websocket` row is claimed only when its subscription is in
    /// `bound` (a socket on this node is bound to it): the node holding the
    /// socket sends it. Returned in id order.
    ///
    /// The rows after the oldest need no lease check of their own: only a
    /// claim of a subscription's oldest pending row leases rows of it, and
    /// that row is locked (PostgreSQL) or the writer is (SQLite).
    ///
    /// The oldest pending row of each subscription is found from
    /// `subscription_state`, one index probe each, and the rows are leased
    /// by their ids: after a burst the planner's statistics lag far behind
    /// the table, and the plans of a `NOT EXISTS` over all pending rows it
    /// then chose took seconds (docs/PERFORMANCE.md, "Subscriptions").
    pub async fn claim_runs(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        subscriptions: i64,
        run: i64,
        bound: &[String],
    ) -> Result<Vec<Delivery>, StoreError> {
        let websockets = if bound.is_empty() {
            String::new()
        } else {
            format!(" OR d.sub_id IN ({})", marks(4, bound.len()))
        };
        let (skip_locked, runs) = match self.dialect {
            Dialect::Postgres => (
                " FOR UPDATE SKIP LOCKED",
                "SELECT r.id FROM heads h CROSS JOIN LATERAL (SELECT e.id FROM subscription_deliveries e \
                   WHERE e.sub_id = h.sub_id AND e.state = 'pending' AND e.id >= h.id ORDER BY e.id LIMIT $3) r",
            ),
            // No LATERAL in SQLite: number the pending rows of the claimed
            // subscriptions instead.
            Dialect::Sqlite => (
                "",
                "SELECT id FROM (SELECT e.id, row_number() OVER (PARTITION BY e.sub_id ORDER BY e.id) AS n \
                   FROM subscription_deliveries e \
                   WHERE e.state = 'pending' AND e.sub_id IN (SELECT sub_id FROM heads)) WHERE n <= $3",
            ),
        };
        let sql = format!(
            "WITH heads AS MATERIALIZED (SELECT d.id, d.sub_id FROM subscription_deliveries d \
               WHERE d.id IN (SELECT (SELECT x.id FROM subscription_deliveries x \
                   WHERE x.sub_id = s.sub_id AND x.state = 'pending' ORDER BY x.id LIMIT 1) \
                 FROM subscription_state s) \
               AND d.state = 'pending' AND d.next_attempt_at <= $1 \
               AND (d.lease_until IS NULL OR d.lease_until < $1) \
               AND (d.channel <> 'websocket'{websockets}) \
               ORDER BY d.id LIMIT $2{skip_locked}) \
             {runs}"
        );
        let mut tx = self.writer.begin().await?;
        let mut query = sqlx::query(&sql).bind(now).bind(subscriptions).bind(run);
        for id in bound {
            query = query.bind(id.as_str());
        }
        let ids = ids(&query.fetch_all(&mut *tx).await?)?;
        if ids.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE subscription_deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE state = 'pending' AND id IN ({}) RETURNING {DELIVERY_COLUMNS}",
            marks(3, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(node).bind(lease_until);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut claimed = rows.iter().map(Delivery::from_row).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Gives back claimed rows that were not attempted (a run stopped
    /// before them): their lease is cleared and the claim's attempt undone.
    pub async fn release_deliveries(&self, node: &str, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE subscription_deliveries SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 \
             WHERE lease_owner = $1 AND state = 'pending' AND id IN ({})",
            marks(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(node);
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(&self.writer).await?;
        Ok(())
    }

    /// Records acknowledged notifications (claimed by `node`) and the
    /// counters of their subscriptions, in one transaction: one commit for
    /// many notifications, where [`Store::record_attempt`] takes one each.
    /// Returns the ids recorded; a row missing from them was taken over by
    /// another node (its outcome counts).
    pub async fn record_delivered(
        &self,
        node: &str,
        now: i64,
        delivered: &[Delivered],
    ) -> Result<Vec<i64>, StoreError> {
        if delivered.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await?;
        let sql = format!(
            "UPDATE subscription_deliveries SET state = 'delivered', next_attempt_at = $1, last_error = NULL, \
             finished_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE lease_owner = $2 AND state = 'pending' AND id IN ({}) RETURNING id",
            marks(3, delivered.len())
        );
        let mut query = sqlx::query(&sql).bind(now).bind(node);
        for d in delivered {
            query = query.bind(d.id);
        }
        let recorded = ids(&query.fetch_all(&mut *tx).await?)?;
        let per_subscription = tally(delivered, &recorded);
        if !per_subscription.is_empty() {
            // One statement for all subscriptions: (sub_id, count, total, max).
            let values: Vec<String> = (0..per_subscription.len())
                .map(|i| format!("({})", marks(2 + 4 * i, 4)))
                .collect();
            let sql = format!(
                "UPDATE subscription_state SET delivered = delivered + v.column2, consecutive_failures = 0, \
                 last_delivered_at = $1, last_sent_at = $1, latency_total_us = latency_total_us + v.column3, \
                 latency_max_us = CASE WHEN latency_max_us > v.column4 THEN latency_max_us ELSE v.column4 END \
                 FROM (VALUES {}) AS v WHERE sub_id = v.column1",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now);
            for (sub_id, (count, total, max)) in &per_subscription {
                query = query.bind(sub_id.as_str()).bind(*count).bind(*total).bind(*max);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// Records the outcome of an attempt at `delivery` (claimed by `node`)
    /// and updates the subscription's counters, in one transaction. Returns
    /// the counters after it, or `None` if the lease was lost (another node
    /// took the row over; its outcome counts).
    pub async fn record_attempt(
        &self,
        delivery: &Delivery,
        node: &str,
        now: i64,
        attempt: &Attempt,
    ) -> Result<Option<DeliveryCounters>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let (state, next, error) = match attempt {
            Attempt::Delivered { .. } => ("delivered", now, None),
            Attempt::Failed { error, retry_at } => match retry_at {
                Some(at) => ("pending", *at, Some(error.as_str())),
                None => ("failed", now, Some(error.as_str())),
            },
        };
        let finished = (state != "pending").then_some(now);
        let updated = sqlx::query(
            "UPDATE subscription_deliveries SET state = $1, next_attempt_at = $2, last_error = $3, \
             finished_at = $4, lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND lease_owner = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(finished)
        .bind(delivery.id)
        .bind(node)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let counters = match attempt {
            Attempt::Delivered { latency_us } => sqlx::query(
                "UPDATE subscription_state SET delivered = delivered + 1, consecutive_failures = 0, \
                 last_delivered_at = $1, last_sent_at = $1, latency_total_us = latency_total_us + $2, \
                 latency_max_us = CASE WHEN latency_max_us > $2 THEN latency_max_us ELSE $2 END \
                 WHERE sub_id = $3",
            )
            .bind(now)
            .bind(*latency_us)
            .bind(&delivery.sub_id),
            Attempt::Failed { error, retry_at } => sqlx::query(
                "UPDATE subscription_state SET consecutive_failures = consecutive_failures + 1, \
                 failed = failed + $1, last_error = $2, last_error_at = $3 WHERE sub_id = $4",
            )
            .bind(i64::from(retry_at.is_none()))
            .bind(error.as_str())
            .bind(now)
            .bind(&delivery.sub_id),
        };
        counters.execute(&mut *tx).await?;
        let found = counters_on(&mut tx, &delivery.sub_id).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// The counters of a subscription (`None` before the dispatcher saw it).
    pub async fn delivery_counters(&self, sub_id: &str) -> Result<Option<DeliveryCounters>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        counters_on(&mut conn, sub_id).await
    }

    /// The stored notifications of `sub_id` numbered `from..=to` (events only).
    pub async fn events_between(&self, sub_id: &str, from: i64, to: i64) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM subscription_deliveries \
             WHERE sub_id = $1 AND event_number >= $2 AND event_number <= $3 ORDER BY event_number"
        );
        let rows = sqlx::query(&sql)
            .bind(sub_id)
            .bind(from)
            .bind(to)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(Delivery::from_row).collect()
    }

    /// Whether `sub_id` has nothing pending and sent nothing since `since`:
    /// a heartbeat is due.
    pub async fn idle_since(&self, sub_id: &str, since: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM subscription_deliveries WHERE sub_id = $1 AND state = 'pending') AS pending, \
             (SELECT last_sent_at FROM subscription_state WHERE sub_id = $1) AS last_sent_at",
        )
        .bind(sub_id)
        .fetch_one(&self.reader)
        .await?;
        let pending: i64 = row.try_get("pending")?;
        let last: Option<i64> = row.try_get("last_sent_at")?;
        Ok(pending == 0 && last.is_none_or(|l| l < since))
    }

    /// Queues a notification outside the dispatcher (heartbeats).
    pub async fn queue_delivery(&self, d: &NewDelivery<'_>) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        ensure_state(&mut tx, &[d.sub_id]).await?;
        insert(&mut tx, &[(d, &None)]).await?;
        // A heartbeat counts as sent when queued, so the next is a period later
        // even if this one waits behind a retry.
        sqlx::query("UPDATE subscription_state SET last_sent_at = $1 WHERE sub_id = $2")
            .bind(d.at)
            .bind(d.sub_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl DispatchTx {
    /// Queues a notification; an event gets the subscription's next event
    /// number, which it returns.
    pub async fn queue(&mut self, d: &NewDelivery<'_>) -> Result<Option<i64>, StoreError> {
        Ok(self.queue_all(std::slice::from_ref(d)).await?.pop().flatten())
    }

    /// Queues notifications in a few statements whatever their number (the
    /// events of one change for every subscription it matches): each event
    /// gets its subscription's next event number, in the order given.
    /// Returns the numbers.
    pub async fn queue_all(&mut self, all: &[NewDelivery<'_>]) -> Result<Vec<Option<i64>>, StoreError> {
        let mut sub_ids: Vec<&str> = all.iter().map(|d| d.sub_id).collect();
        sub_ids.sort_unstable();
        sub_ids.dedup();
        ensure_state(&mut self.tx, &sub_ids).await?;
        let mut events = std::collections::BTreeMap::<&str, i64>::new();
        for d in all.iter().filter(|d| d.kind == DeliveryKind::Event) {
            *events.entry(d.sub_id).or_default() += 1;
        }
        // The number after the last of this call, per subscription.
        let mut next = std::collections::HashMap::<String, i64>::new();
        for chunk in events.iter().collect::<Vec<_>>().chunks(CHUNK) {
            let values: Vec<String> = (0..chunk.len()).map(|i| format!("({})", marks(1 + 2 * i, 2))).collect();
            let sql = format!(
                "UPDATE subscription_events SET events_since_start = events_since_start + v.column2 \
                 FROM (VALUES {}) AS v WHERE sub_id = v.column1 RETURNING sub_id, events_since_start",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (sub_id, count) in chunk {
                query = query.bind(**sub_id).bind(**count);
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                let sub_id: String = row.try_get("sub_id")?;
                let total: i64 = row.try_get("events_since_start")?;
                let count = events.get(sub_id.as_str()).copied().unwrap_or_default();
                next.insert(sub_id, total - count + 1);
            }
        }
        let mut numbers = Vec::with_capacity(all.len());
        for d in all {
            numbers.push(match d.kind {
                DeliveryKind::Event => {
                    let n = next
                        .get_mut(d.sub_id)
                        .ok_or_else(|| StoreError::Corrupt(format!("no event counter for {}", d.sub_id)))?;
                    *n += 1;
                    Some(*n - 1)
                }
                _ => None,
            });
        }
        let rows: Vec<_> = all.iter().zip(&numbers).collect();
        for chunk in rows.chunks(CHUNK) {
            insert(&mut self.tx, chunk).await?;
        }
        Ok(numbers)
    }

    /// Gives up the pending notifications of a subscription that was
    /// deleted or switched off.
    pub async fn drop_pending(&mut self, sub_id: &str, now: i64, why: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE subscription_deliveries SET state = 'failed', finished_at = $1, last_error = $2 \
             WHERE sub_id = $3 AND state = 'pending'",
        )
        .bind(now)
        .bind(why)
        .bind(sub_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves the cursor to `cursor` and commits everything queued.
    pub async fn finish(mut self, cursor: FeedCursor) -> Result<(), StoreError> {
        sqlx::query("UPDATE feed_cursors SET txid = $1, seq = $2 WHERE reader = $3")
            .bind(cursor.txid)
            .bind(cursor.seq)
            .bind(&self.reader)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Rows per statement when many are written at once: up to 9 parameters
/// each, well under SQLite's 32,766.
const CHUNK: usize = 500;

/// The counter rows of `sub_ids` (the dispatcher's and the worker's).
async fn ensure_state(tx: &mut Transaction<'static, Any>, sub_ids: &[&str]) -> Result<(), StoreError> {
    for chunk in sub_ids.chunks(CHUNK) {
        let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
        for table in ["subscription_state", "subscription_events"] {
            let sql = format!(
                "INSERT INTO {table} (sub_id) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for sub_id in chunk {
                query = query.bind(*sub_id);
            }
            query.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// Inserts `rows` (each with its event number) in one statement.
async fn insert(
    tx: &mut Transaction<'static, Any>,
    rows: &[(&NewDelivery<'_>, &Option<i64>)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let at = 9 * i + 9;
            format!("({}, 'pending', ${at})", marks(9 * i + 1, 9))
        })
        .collect();
    let sql = format!(
        "INSERT INTO subscription_deliveries (sub_id, kind, channel, event_number, focus_type, focus_id, \
         focus_version, op, created_at, state, next_attempt_at) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (d, number) in rows {
        query = query
            .bind(d.sub_id)
            .bind(d.kind.code())
            .bind(d.channel)
            .bind(**number)
            .bind(d.focus.map(|f| f.resource_type.clone()))
            .bind(d.focus.map(|f| f.id.clone()))
            .bind(d.focus.map(|f| f.version))
            .bind(d.focus.map(|f| f.op.clone()))
            .bind(d.at);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// `$first, $first+1, …` (`count` of them): the placeholders of a list.
fn marks(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per subscription, of the `recorded` rows of `delivered`: how many, and
/// the total and the largest latency.
fn tally(delivered: &[Delivered], recorded: &[i64]) -> std::collections::BTreeMap<String, (i64, i64, i64)> {
    let recorded: std::collections::HashSet<i64> = recorded.iter().copied().collect();
    let mut per_subscription = std::collections::BTreeMap::<String, (i64, i64, i64)>::new();
    for d in delivered.iter().filter(|d| recorded.contains(&d.id)) {
        let entry = per_subscription.entry(d.sub_id.clone()).or_default();
        entry.0 += 1;
        entry.1 += d.latency_us;
        entry.2 = entry.2.max(d.latency_us);
    }
    per_subscription
}

async fn counters_on(conn: &mut sqlx::AnyConnection, sub_id: &str) -> Result<Option<DeliveryCounters>, StoreError> {
    let row = sqlx::query(
        "SELECT COALESCE(ev.events_since_start, 0) AS events_since_start, delivered, failed, \
         consecutive_failures, last_error, last_error_at, last_delivered_at, latency_total_us, latency_max_us, \
         last_sent_at, \
         (SELECT count(*) FROM subscription_deliveries d WHERE d.sub_id = s.sub_id AND d.state = 'pending') AS queued \
         FROM subscription_state s LEFT JOIN subscription_events ev ON ev.sub_id = s.sub_id WHERE s.sub_id = $1",
    )
    .bind(sub_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let delivered: i64 = row.try_get("delivered")?;
    let total: i64 = row.try_get("latency_total_us")?;
    Ok(Some(DeliveryCounters {
        events_since_start: row.try_get("events_since_start")?,
        queued: row.try_get("queued")?,
        delivered,
        failed: row.try_get("failed")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        last_error: row.try_get("last_error")?,
        last_error_at: row.try_get("last_error_at")?,
        last_delivered_at: row.try_get("last_delivered_at")?,
        latency_mean_us: if delivered > 0 { total / delivered } else { 0 },
        latency_max_us: row.try_get("latency_max_us")?,
        last_sent_at: row.try_get("last_sent_at")?,
    }))
}

/// The `id` column of every row.
fn ids(rows: &[AnyRow]) -> Result<Vec<i64>, sqlx::Error> {
    rows.iter().map(|row| row.try_get::<i64, _>("id")).collect()
}
