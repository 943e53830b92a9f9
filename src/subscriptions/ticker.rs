//! Time-driven parts of the lifecycle: a subscription whose `end` has passed
//! is switched `off`, and an active topic-based subscription with a
//! `backport-heartbeat-period` that has been sent nothing for that long gets
//! a heartbeat queued.

use std::collections::HashMap;
use std::time::Duration;

use super::spec::Status;
use crate::rest::Context;
use crate::store::{DeliveryKind, NewDelivery};

const TICK: Duration = Duration::from_secs(1);

pub async fn run(ctx: Context, mut stopped: tokio::sync::watch::Receiver<bool>) {
    // When each subscription's heartbeat is next worth checking (µs).
    let mut next_check: HashMap<String, i64> = HashMap::new();
    let never = tokio::sync::Notify::new();
    while super::pause(&never, TICK, &mut stopped).await {
        tick(&ctx, &mut next_check).await;
    }
}

async fn tick(ctx: &Context, next_check: &mut HashMap<String, i64>) {
    let hub = &ctx.subscriptions;
    let now = ctx.clock.now_micros();
    for sub in hub.subscriptions() {
        if sub.status != Status::Off && sub.end.is_some_and(|end| end <= now) {
            match crate::rest::managed::set_subscription_status(ctx, &sub.id, sub.version, Status::Off, None).await {
                Ok(_) => tracing::info!(subscription = %sub.id, "subscription ended"),
                Err(error) => tracing::error!(%error, subscription = %sub.id, "cannot end the subscription"),
            }
            continue;
        }
        let Some(period) = sub
            .heartbeat_secs
            .filter(|_| sub.is_topic_based() && sub.status == Status::Active)
        else {
            continue;
        };
        let period = i64::try_from(period).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
        if next_check.get(&sub.id).is_some_and(|at| *at > now) {
            continue;
        }
        // Check a few times per period, not every tick.
        next_check.insert(sub.id.clone(), now + (period / 4).max(1_000_000));
        match ctx.store.idle_since(&sub.id, now - period).await {
            Ok(true) => {
                let queued = ctx
                    .store
                    .queue_delivery(&NewDelivery {
                        sub_id: &sub.id,
                        kind: DeliveryKind::Heartbeat,
                        channel: &sub.channel,
                        focus: None,
                        at: now,
                    })
                    .await;
                match queued {
                    Ok(()) => hub.queued.notify_one(),
                    Err(error) => tracing::error!(%error, "cannot queue a heartbeat"),
                }
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "cannot check for a heartbeat"),
        }
    }
}
