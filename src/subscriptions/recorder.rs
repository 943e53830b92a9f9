//! Group commit of acknowledged notifications: the runs of the worker hand
//! each acknowledged send here and wait until it is recorded; whatever
//! arrives while one transaction commits goes into the next. On a durable
//! database a commit waits for the disk, so one commit per notification
//! capped delivery at a few hundred per second (docs/PERFORMANCE.md,
//! "Subscriptions"); one per batch is shared by every run sending at the
//! time.
//!
//! A run sends its next notification only after the previous one is
//! recorded, so a crash repeats at most one notification per subscription:
//! the one acknowledged but not yet recorded (or in flight).

use tokio::sync::{mpsc, oneshot};

use crate::rest::Context;
use crate::store::Delivered;

/// The most hand-ins one transaction records. With at most
/// [`super::worker::RUN`] rows each, the statement stays under SQLite's
/// 32,766 bound parameters.
const BATCH: usize = 256;

/// One acknowledged notification and where to say whether it was recorded.
struct Entry {
    delivered: Vec<Delivered>,
    reply: oneshot::Sender<Outcome>,
}

/// What became of a hand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Recorded,
    /// Another node took a row over (its lease had run out).
    LeaseLost,
    /// The database refused; the rows stay leased and are sent again once
    /// the lease runs out.
    Failed,
}

/// The handle runs record through; the recorder stops when every handle
/// is dropped, after recording what was handed in.
#[derive(Clone)]
pub struct Recorder {
    entries: mpsc::UnboundedSender<Entry>,
}

impl Recorder {
    /// Starts the recorder for `node`'s claims.
    pub fn start(ctx: Context, node: String) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (entries, incoming) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(ctx, node, incoming));
        (Recorder { entries }, task)
    }

    /// Records `delivered` (the events of one notification) and waits for
    /// the commit.
    pub async fn record(&self, delivered: Vec<Delivered>) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        if self.entries.send(Entry { delivered, reply }).is_err() {
            return Outcome::Failed;
        }
        outcome.await.unwrap_or(Outcome::Failed)
    }
}

async fn run(ctx: Context, node: String, mut incoming: mpsc::UnboundedReceiver<Entry>) {
    let mut batch = Vec::new();
    while incoming.recv_many(&mut batch, BATCH).await > 0 {
        let rows: Vec<Delivered> = batch.iter().flat_map(|e| e.delivered.iter().cloned()).collect();
        let now = ctx.clock.now_micros();
        let recorded = match ctx.store.record_delivered(&node, now, &rows).await {
            Ok(ids) => Some(ids.into_iter().collect::<std::collections::HashSet<_>>()),
            Err(error) => {
                tracing::error!(%error, rows = rows.len(), "recording delivered notifications failed");
                None
            }
        };
        for entry in batch.drain(..) {
            let outcome = match &recorded {
                None => Outcome::Failed,
                Some(ids) if entry.delivered.iter().all(|d| ids.contains(&d.id)) => Outcome::Recorded,
                Some(_) => Outcome::LeaseLost,
            };
            // A run that stopped waiting needs no answer.
            let _ = entry.reply.send(outcome);
        }
    }
}
