//! The dispatcher: the change feed in, delivery rows out.
//!
//! Each batch is one database transaction: lock the cursor row, read the
//! changes after it, match each against the subscriptions in memory, insert
//! a delivery row per notification (numbering events per subscription) and
//! move the cursor. A crash anywhere before the commit leaves the cursor
//! where it was, so the batch is matched again; after it, every
//! notification is a row the worker will deliver.
//!
//! For each change of a watched type the version and the one before it are
//! read once and their index rows extracted once, with the extraction of the
//! write path; every subscription is then tested in memory.

use std::sync::Arc;

use serde_json::Value;

use super::matcher::{self, Candidate};
use super::spec::{Kind, Status, Subscription};
use super::topic::{index_rows, Side, Topic};
use super::Hub;
use crate::error::FhirError;
use crate::index::{IndexEntry, Registry};
use crate::rest::Context;
use crate::store::{Change, ChangeOp, DeliveryKind, DispatchTx, FeedCursor, Focus, NewDelivery};

/// The dispatcher's cursor row in `feed_cursors`.
pub const READER: &str = "subscriptions";
const BATCH: i64 = 500;
/// Notifications after which a batch commits with changes left over: in a
/// burst (every change notifying many subscriptions) the worker starts on
/// the first ones while the rest are matched, rather than after one
/// transaction of tens of thousands of rows.
const QUEUE_LIMIT: usize = 1_000;

pub async fn run(ctx: Context, base: String, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let hub = ctx.subscriptions.clone();
    loop {
        match dispatch_batch(&ctx, &base).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "subscription dispatch failed; retrying"),
        }
        if !super::pause(&hub.feed_changed, hub.settings.poll, &mut stopped).await {
            return;
        }
    }
}

/// One batch; returns whether there is probably more (it stopped at
/// [`BATCH`] changes or [`QUEUE_LIMIT`] notifications).
pub async fn dispatch_batch(ctx: &Context, base: &str) -> Result<bool, FhirError> {
    // Idle polls only read: nothing new after what this node has seen
    // means nothing new after the shared cursor either (it is never ahead
    // of what some node dispatched, and this node follows those).
    if ctx.store.changes_after(ctx.subscriptions.seen(), 1).await?.is_empty() {
        return Ok(false);
    }
    let (mut tx, cursor) = ctx.store.begin_dispatch(READER).await?;
    let registry = ctx.registry.current();
    catch_up(ctx, &registry, cursor).await?;
    let changes = ctx.store.changes_after(cursor, BATCH).await?;
    let mut last = cursor;
    let mut taken = 0;
    let mut queued = 0;
    for change in &changes {
        if queued >= QUEUE_LIMIT {
            break;
        }
        match change.resource_type.as_str() {
            "Subscription" => match follow_subscription(ctx, &registry, change).await? {
                Follow::Handshake(channel) => {
                    tx.queue(&NewDelivery {
                        sub_id: &change.id,
                        kind: DeliveryKind::Handshake,
                        channel: &channel,
                        focus: None,
                        at: change.at,
                    })
                    .await?;
                    queued += 1;
                }
                Follow::DropPending(why) => tx.drop_pending(&change.id, change.at, why).await?,
                Follow::Nothing => {}
            },
            "Basic" => topic_changed(ctx, &registry, change).await?,
            _ => {}
        }
        queued += notify(ctx, &registry, &mut tx, change, base).await?;
        last = change.cursor;
        taken += 1;
    }
    if taken == 0 {
        return Ok(false);
    }
    tx.finish(last).await?;
    ctx.subscriptions.set_seen(last);
    if queued > 0 {
        ctx.subscriptions.queued.notify_one();
    }
    Ok(taken as i64 >= BATCH || taken < changes.len())
}

/// Brings this node's hub up to `cursor`: with several nodes on one
/// database, the changes another node dispatched still change the
/// subscriptions and topics this node matches and sends with.
async fn catch_up(ctx: &Context, registry: &Registry, cursor: FeedCursor) -> Result<(), FhirError> {
    let hub = &ctx.subscriptions;
    let mut seen = hub.seen();
    while seen < cursor {
        let changes = ctx.store.changes_after(seen, BATCH).await?;
        for change in changes.iter().take_while(|c| c.cursor <= cursor) {
            match change.resource_type.as_str() {
                "Subscription" => drop(follow_subscription(ctx, registry, change).await?),
                "Basic" => topic_changed(ctx, registry, change).await?,
                _ => {}
            }
            seen = change.cursor;
        }
        if changes.last().is_none_or(|c| c.cursor >= cursor) {
            break;
        }
    }
    hub.set_seen(cursor);
    Ok(())
}

async fn version_json(ctx: &Context, rtype: &str, id: &str, version: i64) -> Result<Option<Value>, FhirError> {
    if version < 1 {
        return Ok(None);
    }
    let stored = ctx.store.read_version(rtype, id, version).await?;
    Ok(stored
        .and_then(|v| v.body)
        .and_then(|body| serde_json::from_slice(&body).ok()))
}

/// What a Subscription change asks of the delivery table.
enum Follow {
    /// It is `requested`: queue its handshake (on this channel).
    Handshake(String),
    /// It was deleted or switched off: give up what is pending.
    DropPending(&'static str),
    Nothing,
}

/// A Subscription was written: the hub follows, and says what the
/// delivery table must do.
async fn follow_subscription(ctx: &Context, registry: &Registry, change: &Change) -> Result<Follow, FhirError> {
    let hub = &ctx.subscriptions;
    let Some(resource) = version_json(ctx, "Subscription", &change.id, change.version).await? else {
        hub.remove_subscription(&change.id);
        return Ok(Follow::DropPending("the subscription was deleted"));
    };
    let mut read = super::read_subscription(hub, registry, &resource);
    if read.is_err() {
        // Its topic may come later in the feed: written by the same
        // transaction, after it. It is stored by now.
        super::learn_topic(ctx, resource["criteria"].as_str().unwrap_or_default()).await?;
        read = super::read_subscription(hub, registry, &resource);
    }
    let sub = match read {
        Ok(sub) => sub,
        Err(issues) => {
            tracing::warn!(id = %change.id, problem = ?issues.first().map(|i| &i.diagnostics),
                "a stored Subscription can no longer be served");
            hub.remove_subscription(&change.id);
            return Ok(Follow::Nothing);
        }
    };
    let follow = match sub.status {
        Status::Requested => Follow::Handshake(sub.channel.clone()),
        Status::Off => Follow::DropPending("the subscription was switched off"),
        Status::Active | Status::Error => Follow::Nothing,
    };
    hub.put_subscription(sub);
    Ok(follow)
}

/// A `Basic` was written: if it is (or was) a topic, the hub follows.
async fn topic_changed(ctx: &Context, registry: &Registry, change: &Change) -> Result<(), FhirError> {
    let hub = &ctx.subscriptions;
    let resource = version_json(ctx, "Basic", &change.id, change.version).await?;
    match resource.filter(super::topic::is_topic_basic) {
        Some(basic) => match Topic::from_r5(&super::topic::basic_to_r5(&basic), registry, Some(change.id.clone())) {
            Ok(topic) => hub.put_topic(topic),
            Err(e) => {
                tracing::warn!(error = %e.message, id = %change.id, "a stored topic cannot be used");
                hub.remove_topic_of(&change.id);
            }
        },
        None => hub.remove_topic_of(&change.id),
    }
    Ok(())
}

/// A subscription that may be notified of a change of `rtype` at `at`.
fn interested(hub: &Hub, sub: &Subscription, rtype: &str, at: i64) -> Option<Option<Arc<Topic>>> {
    if sub.status == Status::Off || sub.end.is_some_and(|end| end <= at) {
        return None;
    }
    match &sub.kind {
        Kind::Criteria { resource_type, .. } => (resource_type == rtype).then_some(None),
        Kind::Topic { url, .. } => {
            let topic = hub.topic(url)?;
            topic.watches(rtype).then_some(Some(topic))
        }
    }
}

/// Queues an event for every subscription the change matches.
async fn notify(
    ctx: &Context,
    registry: &Registry,
    tx: &mut DispatchTx,
    change: &Change,
    base: &str,
) -> Result<usize, FhirError> {
    let hub = &ctx.subscriptions;
    let rtype = change.resource_type.as_str();
    let candidates: Vec<(Arc<Subscription>, Option<Arc<Topic>>)> = hub
        .subscriptions()
        .into_iter()
        .filter_map(|sub| interested(hub, &sub, rtype, change.at).map(|topic| (sub, topic)))
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let current = match change.op {
        ChangeOp::Delete => None,
        _ => version_json(ctx, rtype, &change.id, change.version).await?,
    };
    // A create has no previous version: no read for it.
    let previous = match change.op {
        ChangeOp::Create => None,
        _ => version_json(ctx, rtype, &change.id, change.version - 1).await?,
    };
    let current_rows = current.as_ref().map(|r| index_rows(registry, r)).unwrap_or_default();
    let previous_rows = previous.as_ref().map(|r| index_rows(registry, r)).unwrap_or_default();
    let now = ctx.clock.now_micros();
    let cur = side(current.as_ref(), &current_rows, &change.id, change.at, base, now);
    let prev_updated = previous
        .as_ref()
        .and_then(|p| p["meta"]["lastUpdated"].as_str())
        .and_then(crate::model::datetime::parse_range)
        .map_or(change.at, |(low, _)| low);
    let prev = side(previous.as_ref(), &previous_rows, &change.id, prev_updated, base, now);
    let focus = Focus {
        resource_type: rtype.to_owned(),
        id: change.id.clone(),
        version: change.version,
        op: match change.op {
            ChangeOp::Create => "create",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
        .to_owned(),
    };
    let fired: Vec<NewDelivery<'_>> = candidates
        .iter()
        .filter(|(sub, topic)| fires(sub, topic.as_deref(), change.op, prev.as_ref(), cur.as_ref(), rtype))
        .map(|(sub, _)| NewDelivery {
            sub_id: &sub.id,
            kind: DeliveryKind::Event,
            channel: &sub.channel,
            focus: Some(&focus),
            at: change.at,
        })
        .collect();
    // One statement each for the counters and the rows, however many fire.
    tx.queue_all(&fired).await?;
    Ok(fired.len())
}

/// A version as the matchers see it.
fn side<'a>(
    resource: Option<&'a Value>,
    rows: &'a [IndexEntry],
    id: &'a str,
    last_updated: i64,
    base: &'a str,
    now: i64,
) -> Option<Side<'a>> {
    resource.map(|r| Side {
        resource: r,
        candidate: Candidate {
            id,
            last_updated,
            entries: rows,
            base,
            now,
        },
    })
}

/// Whether the change is an event of `sub`. R4 criteria: the version after
/// the change matches (for a delete, the one before). Topics: a trigger
/// fires, and the subscription's filters hold on that same version.
fn fires(
    sub: &Subscription,
    topic: Option<&Topic>,
    op: ChangeOp,
    prev: Option<&Side<'_>>,
    cur: Option<&Side<'_>>,
    rtype: &str,
) -> bool {
    let tested = if op == ChangeOp::Delete { prev } else { cur };
    match (&sub.kind, topic) {
        (Kind::Criteria { clauses, .. }, _) => tested.is_some_and(|s| matcher::matches_all(clauses, &s.candidate)),
        (Kind::Topic { filters, .. }, Some(topic)) => {
            let triggered = topic
                .triggers
                .iter()
                .any(|t| t.resource_type == rtype && t.fires(op, prev, cur));
            triggered
                && filters
                    .iter()
                    .filter(|(t, _)| t.as_deref().is_none_or(|t| t == rtype))
                    .all(|(_, clauses)| tested.is_some_and(|s| matcher::matches_all(clauses, &s.candidate)))
        }
        (Kind::Topic { .. }, None) => false,
    }
}
