//! The delivery worker: claims the due notifications (the oldest pending
//! one of each subscription), sends them side by side, records each
//! outcome, and moves subscriptions through their statuses:
//!
//! - a delivered handshake makes a `requested` subscription `active`;
//! - `error_after` consecutive failed attempts make it `error`, as does a
//!   handshake given up; a later delivery makes it `active` again;
//! - a failed attempt is retried after `retry_base · 2^(attempt-1)` (at most
//!   `retry_max`) plus up to half as much again at random, until
//!   `max_attempts`; then the notification is given up (`failed`) and the
//!   next one of the subscription goes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::notification::{self, Event, StatusLine};
use super::rest_hook::{self, Send};
use super::spec::{Status, Subscription};
use super::{email, message, websocket};
use crate::error::FhirError;
use crate::rest::Context;
use crate::store::{Attempt, Delivery, DeliveryCounters, DeliveryKind};

const CLAIM: i64 = 64;

pub async fn run(ctx: Context, base: String, node: String, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let hub = ctx.subscriptions.clone();
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "no HTTP client: subscriptions are not delivered");
            return;
        }
    };
    loop {
        let claimed = match claim(&ctx, &node).await {
            Ok(c) => c,
            Err(error) => {
                tracing::error!(%error, "claiming notifications failed; retrying");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        let sends = claimed.iter().map(|d| deliver(&ctx, &client, &base, &node, d));
        futures_util::future::join_all(sends).await;
        if busy && !*stopped.borrow() {
            continue;
        }
        // Retries come due by time alone, so poll as well as wait.
        if !super::pause(&hub.queued, hub.settings.poll, &mut stopped).await {
            return;
        }
    }
}

async fn claim(ctx: &Context, node: &str) -> Result<Vec<Delivery>, FhirError> {
    let now = ctx.clock.now_micros();
    // The lease outlives the longest send, so a live node keeps its rows.
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
    Ok(ctx.store.claim_deliveries_with(node, now, lease, CLAIM, &bound).await?)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Sends one notification and records what happened.
async fn deliver(ctx: &Context, client: &reqwest::Client, base: &str, node: &str, d: &Delivery) {
    let hub = &ctx.subscriptions;
    let sub = match subscription_of(ctx, &d.sub_id).await {
        Ok(sub) => sub,
        Err(error) => {
            // Left claimed: the lease runs out and the row is claimed again.
            tracing::error!(%error, subscription = %d.sub_id, "cannot read the subscription of a notification");
            return;
        }
    };
    let Some(sub) = sub else {
        let gone = Attempt::Failed {
            error: "the subscription no longer exists".into(),
            retry_at: None,
        };
        if let Err(error) = ctx.store.record_attempt(d, node, ctx.clock.now_micros(), &gone).await {
            tracing::error!(%error, "recording a delivery failed");
        }
        return;
    };
    let sent = match build(ctx, &sub, base, d).await {
        Ok(out) => send(ctx, client, &sub, d, out).await,
        Err(error) => Err(error),
    };
    let now = ctx.clock.now_micros();
    let attempt = match &sent {
        Ok(()) => Attempt::Delivered {
            latency_us: (now - d.created_at).max(0),
        },
        Err(error) => Attempt::Failed {
            error: error.clone(),
            retry_at: retry_at(&hub.settings, d.attempts, now),
        },
    };
    match &sent {
        Ok(()) => {
            tracing::debug!(subscription = %d.sub_id, kind = d.kind.code(), event = ?d.event_number, "notification delivered")
        }
        Err(error) => tracing::warn!(subscription = %d.sub_id, kind = d.kind.code(), event = ?d.event_number,
            attempt = d.attempts, %error, "notification not delivered"),
    }
    match ctx.store.record_attempt(d, node, now, &attempt).await {
        Ok(Some(counters)) => lifecycle(ctx, &sub, d, &attempt, &counters).await,
        Ok(None) => tracing::warn!(subscription = %d.sub_id, "a delivery lease was lost to another node"),
        Err(error) => tracing::error!(%error, "recording a delivery failed"),
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
    if hub.topic(resource["criteria"].as_str().unwrap_or_default()).is_none() {
        super::load_stored_topics(ctx).await?;
    }
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

/// The request for a notification: the status line from the hub and the
/// counters, the focus version from the store when the content needs it.
async fn build(ctx: &Context, sub: &Subscription, base: &str, d: &Delivery) -> Result<notification::Outgoing, String> {
    let events_since_start = match d.event_number {
        Some(n) => n,
        None => ctx
            .store
            .delivery_counters(&sub.id)
            .await
            .map_err(|e| format!("cannot read counters: {e}"))?
            .map_or(0, |c| c.events_since_start),
    };
    let resource = match (&d.focus, d.kind) {
        (Some(focus), DeliveryKind::Event) if needs_resource(sub) => ctx
            .store
            .read_version(&focus.resource_type, &focus.id, focus.version)
            .await
            .map_err(|e| format!("cannot read the focus: {e}"))?
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
        _ => None,
    };
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
        kind: d.kind.code(),
        events_since_start,
        error: last_error.as_deref(),
    };
    let included = super::shape::included(ctx, sub, d, sub.content)
        .await
        .map_err(|e| format!("cannot read the included resources: {e}"))?;
    let event = (d.kind == DeliveryKind::Event).then_some(Event {
        delivery: d,
        resource,
        included,
    });
    Ok(notification::outgoing(sub, &line, event, ctx.clock.now_micros()))
}

fn needs_resource(sub: &Subscription) -> bool {
    if sub.is_topic_based() {
        sub.content == super::spec::Content::FullResource
    } else {
        sub.payload.is_some()
    }
}

/// The status rules after an attempt (see the module doc).
async fn lifecycle(ctx: &Context, sub: &Subscription, d: &Delivery, attempt: &Attempt, c: &DeliveryCounters) {
    let settings = &ctx.subscriptions.settings;
    let next = match attempt {
        Attempt::Delivered { .. } if sub.status == Status::Requested && d.kind == DeliveryKind::Handshake => {
            Some((Status::Active, None))
        }
        Attempt::Delivered { .. } if sub.status == Status::Error => Some((Status::Active, None)),
        Attempt::Failed { error, retry_at } if sub.status != Status::Error && sub.status != Status::Off => {
            let handshake_lost = retry_at.is_none() && d.kind == DeliveryKind::Handshake;
            (handshake_lost || c.consecutive_failures >= i64::from(settings.error_after))
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
