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
use crate::store::{Change, ChangeOp, DeliveryKind, DispatchTx, Focus, NewDelivery};

/// The dispatcher's cursor row in `feed_cursors`.
pub const READER: &str = "subscriptions";
const BATCH: i64 = 500;

pub async fn run(ctx: Context, base: String, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let hub = ctx.subscriptions.clone();
    loop {
        match dispatch_batch(&ctx, &base).await {
            // A full batch: there is probably more.
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "subscription dispatch failed; retrying"),
        }
        if !super::pause(&hub.feed_changed, hub.settings.poll, &mut stopped).await {
            return;
        }
    }
}

/// One batch; returns how many changes it took.
pub async fn dispatch_batch(ctx: &Context, base: &str) -> Result<usize, FhirError> {
    let (mut tx, cursor) = ctx.store.begin_dispatch(READER).await?;
    let changes = ctx.store.changes_after(cursor, BATCH).await?;
    let Some(last) = changes.last().map(|c| c.cursor) else {
        return Ok(0);
    };
    let registry = ctx.registry.current();
    let mut queued = 0;
    for change in &changes {
        match change.resource_type.as_str() {
            "Subscription" => queued += subscription_changed(ctx, &registry, &mut tx, change).await?,
            "Basic" => topic_changed(ctx, &registry, change).await?,
            _ => {}
        }
        queued += notify(ctx, &registry, &mut tx, change, base).await?;
    }
    tx.finish(last).await?;
    if queued > 0 {
        ctx.subscriptions.queued.notify_one();
    }
    Ok(changes.len())
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

/// A Subscription was written: the hub follows, a `requested` one gets its
/// handshake queued, and an `off` or deleted one loses what was pending.
async fn subscription_changed(
    ctx: &Context,
    registry: &Registry,
    tx: &mut DispatchTx,
    change: &Change,
) -> Result<usize, FhirError> {
    let hub = &ctx.subscriptions;
    let Some(resource) = version_json(ctx, "Subscription", &change.id, change.version).await? else {
        hub.remove_subscription(&change.id);
        tx.drop_pending(&change.id, change.at, "the subscription was deleted")
            .await?;
        return Ok(0);
    };
    let sub = match super::read_subscription(hub, registry, &resource) {
        Ok(sub) => sub,
        Err(issues) => {
            tracing::warn!(id = %change.id, problem = ?issues.first().map(|i| &i.diagnostics),
                "a stored Subscription can no longer be served");
            hub.remove_subscription(&change.id);
            return Ok(0);
        }
    };
    let mut queued = 0;
    match sub.status {
        Status::Requested => {
            tx.queue(&NewDelivery {
                sub_id: &sub.id,
                kind: DeliveryKind::Handshake,
                channel: &sub.channel,
                focus: None,
                at: change.at,
            })
            .await?;
            queued = 1;
        }
        Status::Off => {
            tx.drop_pending(&sub.id, change.at, "the subscription was switched off")
                .await?
        }
        Status::Active | Status::Error => {}
    }
    hub.put_subscription(sub);
    Ok(queued)
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
    let previous = version_json(ctx, rtype, &change.id, change.version - 1).await?;
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
    let mut queued = 0;
    for (sub, topic) in candidates {
        if !fires(&sub, topic.as_deref(), change.op, prev.as_ref(), cur.as_ref(), rtype) {
            continue;
        }
        tx.queue(&NewDelivery {
            sub_id: &sub.id,
            kind: DeliveryKind::Event,
            channel: &sub.channel,
            focus: Some(&focus),
            at: change.at,
        })
        .await?;
        queued += 1;
    }
    Ok(queued)
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
