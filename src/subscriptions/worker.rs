//! The delivery worker: claims the due notifications as runs (the oldest
//! pending ones of a subscription, in order), sends each run's
//! notifications one after another while runs of other subscriptions go
//! side by side, records each outcome, and moves subscriptions through
//! their statuses:
//!
//! - a delivered handshake makes a `requested` subscription `active`;
//! - `error_after` consecutive failed attempts make it `error`, as does a
//!   handshake given up; a later delivery makes it `active` again;
//! - a failed attempt is retried after `retry_base · 2^(attempt-1)` (at most
//!   `retry_max`) plus up to half as much again at random, until
//!   `max_attempts`; then the notification is given up (`failed`) and the
//!   next one of the subscription goes.
//!
//! Acknowledged notifications are recorded through the [`Recorder`]'s
//! group commit; failures and handshakes one by one, as the status rules
//! read their counters. A failure ends its run: the rows after it are
//! given back and wait for the retry. The worker claims again as runs
//! finish, up to [`IN_FLIGHT`] subscriptions at once.
//!
//! A topic-based subscription with `backport-max-count` above 1 gets up to
//! that many consecutive events of a run in one notification Bundle.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::notification::{self, Event, StatusLine};
use super::recorder::{Outcome, Recorder};
use super::rest_hook::{self, Send};
use super::spec::{Status, Subscription};
use super::{email, message, websocket};
use crate::error::FhirError;
use crate::rest::Context;
use crate::store::{Attempt, Delivered, Delivery, DeliveryKind};

/// How many subscriptions this node sends to at once.
const IN_FLIGHT: usize = 128;
/// The most notifications claimed for one subscription at a time.
pub const RUN: i64 = 64;

/// What every run shares.
struct Runs {
    ctx: Context,
    client: reqwest::Client,
    base: String,
    node: String,
    recorder: Recorder,
    stopped: tokio::sync::watch::Receiver<bool>,
}

pub async fn run(ctx: Context, base: String, node: String, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let hub = ctx.subscriptions.clone();
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "no HTTP client: subscriptions are not delivered");
            return;
        }
    };
    let (recorder, recording) = Recorder::start(ctx.clone(), node.clone());
    let shared = Arc::new(Runs {
        ctx,
        client,
        base,
        node,
        recorder,
        stopped: stopped.clone(),
    });
    let mut runs = tokio::task::JoinSet::new();
    let mut claim_now = true;
    while !*stopped.borrow() {
        // Claims are transactions too: wait until a quarter of the slots
        // are free rather than claim for each run that ends.
        let free = IN_FLIGHT.saturating_sub(runs.len());
        if claim_now && (runs.is_empty() || free >= IN_FLIGHT / 4) {
            claim_now = match claim(&shared, free).await {
                Ok((claimed, lease_until)) => {
                    let subscriptions = by_subscription(claimed);
                    let full = subscriptions.len() >= free;
                    for rows in subscriptions {
                        runs.spawn(send_run(shared.clone(), rows, lease_until));
                    }
                    // A full claim: more are probably due.
                    full
                }
                Err(error) => {
                    tracing::error!(%error, "claiming notifications failed; retrying");
                    false
                }
            };
            continue;
        }
        tokio::select! {
            Some(_) = runs.join_next(), if !runs.is_empty() => claim_now = true,
            _ = hub.queued.notified() => claim_now = true,
            // Retries come due by time alone, so poll as well as wait.
            _ = tokio::time::sleep(hub.settings.poll) => claim_now = true,
            _ = stopped.changed() => {}
        }
    }
    // Each run finishes the send it is in and gives the rest back.
    while runs.join_next().await.is_some() {}
    drop(shared);
    let _ = recording.await;
}

/// Claims runs for up to `subscriptions` subscriptions; with the time
/// their lease runs out.
async fn claim(runs: &Runs, subscriptions: usize) -> Result<(Vec<Delivery>, i64), FhirError> {
    let ctx = &runs.ctx;
    let now = ctx.clock.now_micros();
    // The lease outlives the longest send, so a live node keeps its rows;
    // a run sends no more once the rest of its lease is shorter (see
    // `send_run`).
    let longest = ctx
        .subscriptions
        .subscriptions()
        .iter()
        .filter_map(|s| s.timeout_secs)
        .max()
        .map_or(ctx.subscriptions.settings.timeout, Duration::from_secs)
        .max(ctx.subscriptions.settings.timeout);
    let lease = now + micros(longest + ctx.subscriptions.settings.lease);
    // Websocket rows are claimed only where a socket is bound to their
    // subscription, and only for subscriptions this node has read from the
    // feed (a row would otherwise be given up as unknown).
    let mut bound = ctx.subscriptions.sockets.bound_ids();
    bound.retain(|id| ctx.subscriptions.subscription(id).is_some());
    let limit = i64::try_from(subscriptions).unwrap_or(i64::MAX);
    let claimed = ctx.store.claim_runs(&runs.node, now, lease, limit, RUN, &bound).await?;
    Ok((claimed, lease))
}

/// The claimed rows grouped by subscription, each group in id order.
fn by_subscription(claimed: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let mut groups: std::collections::BTreeMap<String, Vec<Delivery>> = Default::default();
    for d in claimed {
        groups.entry(d.sub_id.clone()).or_default().push(d);
    }
    groups.into_values().collect()
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Sends the run `rows` of one subscription in order, each notification
/// once the one before is recorded. Stops at a failure, a lost lease, a
/// lease too short for another send, or the worker stopping, and gives the
/// rows not attempted back.
async fn send_run(runs: Arc<Runs>, rows: Vec<Delivery>, lease_until: i64) {
    let ctx = &runs.ctx;
    let mut rest = rows.as_slice();
    while let Some(first) = rest.first() {
        let sub = match subscription_of(ctx, &first.sub_id).await {
            Ok(sub) => sub,
            Err(error) => {
                // Left claimed: the lease runs out and the rows are claimed again.
                tracing::error!(%error, subscription = %first.sub_id, "cannot read the subscription of a notification");
                return;
            }
        };
        let Some(sub) = sub else {
            give_up_unknown(ctx, &runs.node, rest).await;
            return;
        };
        let timeout = sub
            .timeout_secs
            .map_or(ctx.subscriptions.settings.timeout, Duration::from_secs);
        // The first send always fits in the lease (it outlives the longest
        // timeout); a later one only while half the lease margin is left.
        let lease_left = lease_until - ctx.clock.now_micros();
        let attempted = rest.len() < rows.len();
        if *runs.stopped.borrow() || (attempted && lease_left < micros(timeout + ctx.subscriptions.settings.lease / 2))
        {
            break;
        }
        let (pack, after) = rest.split_at(pack_len(&sub, rest));
        if !deliver(&runs, &sub, pack).await {
            // The first row was attempted; the others of the pack were not.
            rest = &rest[1..];
            break;
        }
        rest = after;
    }
    let ids: Vec<i64> = rest.iter().map(|d| d.id).collect();
    if let Err(error) = ctx.store.release_deliveries(&runs.node, &ids).await {
        // Their lease runs out instead.
        tracing::error!(%error, "giving back claimed notifications failed");
    }
}

/// How many rows from the start of `rest` go in one notification: the
/// consecutive events, up to the subscription's `backport-max-count`.
fn pack_len(sub: &Subscription, rest: &[Delivery]) -> usize {
    if !sub.is_topic_based() {
        return 1;
    }
    let events = rest
        .iter()
        .take(sub.max_count.max(1))
        .take_while(|d| d.kind == DeliveryKind::Event)
        .count();
    events.max(1)
}

/// The subscription of these rows is gone: each is given up.
async fn give_up_unknown(ctx: &Context, node: &str, rows: &[Delivery]) {
    let gone = Attempt::Failed {
        error: "the subscription no longer exists".into(),
        retry_at: None,
    };
    for d in rows {
        if let Err(error) = ctx.store.record_attempt(d, node, ctx.clock.now_micros(), &gone).await {
            tracing::error!(%error, "recording a delivery failed");
        }
    }
}

/// Sends one notification of `pack` (one row, or consecutive events) and
/// records what happened; `true` when it was delivered and recorded, so
/// the run goes on.
async fn deliver(runs: &Runs, sub: &Subscription, pack: &[Delivery]) -> bool {
    let ctx = &runs.ctx;
    let Some(first) = pack.first() else { return true };
    let sent = match build(ctx, sub, &runs.base, pack).await {
        Ok(out) => send(ctx, &runs.client, sub, first, out).await,
        Err(error) => Err(error),
    };
    let now = ctx.clock.now_micros();
    let last = pack.last().unwrap_or(first);
    match &sent {
        Ok(()) => tracing::debug!(subscription = %sub.id, kind = first.kind.code(),
            events = ?(first.event_number, last.event_number), "notification delivered"),
        Err(error) => tracing::warn!(subscription = %sub.id, kind = first.kind.code(),
            events = ?(first.event_number, last.event_number), attempt = first.attempts, %error,
            "notification not delivered"),
    }
    match sent {
        // The status rules need the handshake's own record.
        Ok(()) if first.kind != DeliveryKind::Handshake => {
            let delivered = pack
                .iter()
                .map(|d| Delivered {
                    id: d.id,
                    sub_id: d.sub_id.clone(),
                    latency_us: (now - d.created_at).max(0),
                })
                .collect();
            match runs.recorder.record(delivered).await {
                Outcome::Recorded => {
                    lifecycle(ctx, sub, first, &Attempt::Delivered { latency_us: 0 }, 0).await;
                    true
                }
                Outcome::LeaseLost => {
                    tracing::warn!(subscription = %sub.id, "a delivery lease was lost to another node");
                    false
                }
                Outcome::Failed => false,
            }
        }
        Ok(()) => {
            let attempt = Attempt::Delivered {
                latency_us: (now - first.created_at).max(0),
            };
            record_one(runs, sub, first, now, &attempt).await
        }
        // A failed notification counts as one attempt of its first event;
        // the others of the pack wait with the rest of the run.
        Err(error) => {
            let attempt = Attempt::Failed {
                error,
                retry_at: retry_at(&ctx.subscriptions.settings, first.attempts, now),
            };
            record_one(runs, sub, first, now, &attempt).await;
            false
        }
    }
}

/// Records one attempt in its own transaction and applies the status
/// rules; `true` when it was recorded.
async fn record_one(runs: &Runs, sub: &Subscription, d: &Delivery, now: i64, attempt: &Attempt) -> bool {
    let ctx = &runs.ctx;
    match ctx.store.record_attempt(d, &runs.node, now, attempt).await {
        Ok(Some(counters)) => {
            lifecycle(ctx, sub, d, attempt, counters.consecutive_failures).await;
            true
        }
        Ok(None) => {
            tracing::warn!(subscription = %d.sub_id, "a delivery lease was lost to another node");
            false
        }
        Err(error) => {
            tracing::error!(%error, "recording a delivery failed");
            false
        }
    }
}

/// The subscription of a claimed notification. With several nodes, another
/// node may have dispatched the Subscription and its notifications before
/// this node's dispatcher caught up with the feed: then it is read from the
/// database rather than given up as unknown. The hub is left to the
/// dispatcher, which follows the feed in order.
async fn subscription_of(ctx: &Context, id: &str) -> Result<Option<Arc<Subscription>>, FhirError> {
    let hub = &ctx.subscriptions;
    if let Some(sub) = hub.subscription(id) {
        return Ok(Some(sub));
    }
    let stored = ctx.store.read_current("Subscription", id).await?;
    let Some(resource) = stored
        .and_then(|v| v.body)
        .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
    else {
        return Ok(None);
    };
    super::learn_topic(ctx, resource["criteria"].as_str().unwrap_or_default()).await?;
    let registry = ctx.registry.current();
    Ok(super::read_subscription(hub, &registry, &resource).ok().map(Arc::new))
}

/// Sends `out` over the subscription's channel.
async fn send(
    ctx: &Context,
    client: &reqwest::Client,
    sub: &Subscription,
    d: &Delivery,
    out: notification::Outgoing,
) -> Result<(), String> {
    let settings = &ctx.subscriptions.settings;
    let timeout = sub.timeout_secs.map_or(settings.timeout, Duration::from_secs);
    let out = super::payload::encode(sub, out)?;
    match sub.channel.as_str() {
        "websocket" => {
            let frame = websocket::frame(sub, d, out.body);
            ctx.subscriptions.sockets.send(&sub.id, &frame).await
        }
        "email" => email::send(settings, sub, d, out, timeout).await,
        channel => {
            let how = Send {
                headers: &sub.headers,
                secret: sub.hmac_secret.as_deref().or(settings.hmac_secret.as_deref()),
                timeout,
            };
            match channel {
                "message" => message::send(client, &out, &how).await,
                _ => rest_hook::send(client, &out, &how).await,
            }
        }
    }
}

/// When the next attempt is due, or `None` when the budget is spent.
fn retry_at(settings: &super::Settings, attempts: i64, now: i64) -> Option<i64> {
    if attempts >= i64::from(settings.max_attempts) {
        return None;
    }
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(20);
    let delay = settings
        .retry_base
        .saturating_mul(1 << exponent)
        .min(settings.retry_max);
    // Jitter spreads the retries of many subscriptions of one failed receiver.
    let jitter_range = micros(delay) / 2 + 1;
    let jitter = i64::try_from(uuid::Uuid::new_v4().as_u128() % (jitter_range as u128)).unwrap_or(0);
    Some(now + micros(delay) + jitter)
}

/// The request for a notification of `pack`: the status line from the hub
/// and the counters, the focus versions from the store when the content
/// needs them.
async fn build(
    ctx: &Context,
    sub: &Subscription,
    base: &str,
    pack: &[Delivery],
) -> Result<notification::Outgoing, String> {
    let Some(first) = pack.first() else {
        return Err("nothing to send".to_owned());
    };
    let events_since_start = match pack.iter().filter_map(|d| d.event_number).max() {
        Some(n) => n,
        None => ctx
            .store
            .delivery_counters(&sub.id)
            .await
            .map_err(|e| format!("cannot read counters: {e}"))?
            .map_or(0, |c| c.events_since_start),
    };
    let mut events = Vec::new();
    for d in pack.iter().filter(|d| d.kind == DeliveryKind::Event) {
        let resource = match &d.focus {
            Some(focus) if needs_resource(sub) => ctx
                .store
                .read_version(&focus.resource_type, &focus.id, focus.version)
                .await
                .map_err(|e| format!("cannot read the focus: {e}"))?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
            _ => None,
        };
        let included = super::shape::included(ctx, sub, d, sub.content)
            .await
            .map_err(|e| format!("cannot read the included resources: {e}"))?;
        events.push(Event {
            delivery: d,
            resource,
            included,
        });
    }
    // In error, every notification says what went wrong (the IG's error
    // notification); a read only then.
    let last_error = match sub.status {
        Status::Error => ctx
            .store
            .delivery_counters(&sub.id)
            .await
            .map_err(|e| format!("cannot read counters: {e}"))?
            .and_then(|c| c.last_error),
        _ => None,
    };
    let line = StatusLine {
        base,
        status: sub.status.code(),
        kind: first.kind.code(),
        events_since_start,
        error: last_error.as_deref(),
    };
    Ok(notification::outgoing(sub, &line, events, ctx.clock.now_micros()))
}

fn needs_resource(sub: &Subscription) -> bool {
    if sub.is_topic_based() {
        sub.content == super::spec::Content::FullResource
    } else {
        sub.payload.is_some()
    }
}

/// The status rules after an attempt (see the module doc), with the
/// subscription's consecutive failures after it.
async fn lifecycle(ctx: &Context, sub: &Subscription, d: &Delivery, attempt: &Attempt, consecutive_failures: i64) {
    let settings = &ctx.subscriptions.settings;
    let next = match attempt {
        Attempt::Delivered { .. } if sub.status == Status::Requested && d.kind == DeliveryKind::Handshake => {
            Some((Status::Active, None))
        }
        Attempt::Delivered { .. } if sub.status == Status::Error => Some((Status::Active, None)),
        Attempt::Failed { error, retry_at } if sub.status != Status::Error && sub.status != Status::Off => {
            let handshake_lost = retry_at.is_none() && d.kind == DeliveryKind::Handshake;
            (handshake_lost || consecutive_failures >= i64::from(settings.error_after))
                .then(|| (Status::Error, Some(error.clone())))
        }
        _ => None,
    };
    let Some((status, error)) = next else { return };
    match crate::rest::managed::set_subscription_status(ctx, &sub.id, sub.version, status, error.as_deref()).await {
        Ok(true) => tracing::info!(subscription = %sub.id, status = status.code(), "subscription status changed"),
        Ok(false) => {}
        Err(error) => tracing::error!(%error, subscription = %sub.id, "cannot change the subscription's status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_until_the_budget_is_spent() {
        let settings = super::super::Settings {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(1000),
            max_attempts: 5,
            ..Default::default()
        };
        let ms = 1000;
        for (attempt, base) in [(1, 100), (2, 200), (3, 400), (4, 800)] {
            let at = retry_at(&settings, attempt, 0).unwrap_or(-1);
            assert!(
                at >= base * ms && at <= base * ms * 3 / 2 + 1,
                "attempt {attempt}: {at}"
            );
        }
        assert_eq!(retry_at(&settings, 5, 0), None);
    }
}
