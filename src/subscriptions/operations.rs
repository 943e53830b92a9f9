//! `$status` and `$events` (Subscriptions Backport IG,
//! OperationDefinition-backport-subscription-status / -events).
//!
//! `$status` answers a `searchset` Bundle of SubscriptionStatus
//! `Parameters` (type `query-status`) carrying this server's delivery
//! counters in the parameter [`COUNTERS_PARAMETER`]; `$events` replays
//! stored events by number as a notification Bundle (type `query-event`),
//! built from the delivery rows exactly as they were first sent.

use serde_json::{json, Value};

use super::notification::{self, Event, StatusLine};
use super::spec::{Content, Subscription};
use crate::clock::instant;
use crate::error::FhirError;
use crate::model::Id;
use crate::outcome::IssueType;
use crate::rest::Context;
use crate::store::DeliveryCounters;

/// The delivery counters of `$status` (see docs/subscriptions.md). A
/// parameter, not an extension: `Parameters` is a plain `Resource`, which
/// has no `extension`; the IG slices `parameter` openly, so one more is
/// still a valid SubscriptionStatus.
pub const COUNTERS_PARAMETER: &str = "ipe-delivery-counters";
pub const STATUS_DEFINITION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status";
pub const EVENTS_DEFINITION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events";
/// Events one `$events` call returns at most.
const MAX_EVENTS: i64 = 1000;

/// The operations on Subscription: (name, definition).
pub const OPERATIONS: &[(&str, &str)] = &[
    ("status", STATUS_DEFINITION),
    ("events", EVENTS_DEFINITION),
    ("get-ws-binding-token", super::websocket::TOKEN_DEFINITION),
];

/// `Subscription/[id]/$name` or `Subscription/$name`.
pub async fn invoke(ctx: &Context, id: Option<&Id>, name: &str, parameters: &Value) -> Result<Value, FhirError> {
    match (name, id) {
        ("status", Some(id)) => status(ctx, &[subscription(ctx, id.as_str())?]).await,
        ("status", None) => {
            let wanted = strings(parameters, "id");
            let subs = if wanted.is_empty() {
                let mut all = ctx.subscriptions.subscriptions();
                all.sort_by(|a, b| a.id.cmp(&b.id));
                all
            } else {
                wanted
                    .iter()
                    .map(|id| subscription(ctx, id))
                    .collect::<Result<_, _>>()?
            };
            status(ctx, &subs).await
        }
        ("events", Some(id)) => events(ctx, &*subscription(ctx, id.as_str())?, parameters).await,
        ("get-ws-binding-token", Some(id)) => super::websocket::binding_token(ctx, vec![id.as_str().to_owned()]).await,
        ("get-ws-binding-token", None) => super::websocket::binding_token(ctx, strings(parameters, "id")).await,
        ("events", None) => Err(FhirError::invalid(
            IssueType::Required,
            "$events is an instance operation: Subscription/[id]/$events",
            None,
        )),
        _ => Err(FhirError::NotImplemented(format!(
            "the operation ${name} on Subscription"
        ))),
    }
}

fn subscription(ctx: &Context, id: &str) -> Result<std::sync::Arc<Subscription>, FhirError> {
    ctx.subscriptions.subscription(id).ok_or_else(|| {
        FhirError::NotFound(format!(
            "Subscription/{id} (an active, requested or erring subscription)"
        ))
    })
}

/// Every `valueString` (or other primitive) of the parameters named `name`,
/// comma-separated lists split.
fn strings(parameters: &Value, name: &str) -> Vec<String> {
    parameters["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| {
            p.as_object()?
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        })
        .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn number(parameters: &Value, name: &str) -> Result<Option<i64>, FhirError> {
    match strings(parameters, name).first() {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            FhirError::invalid(
                IssueType::Value,
                format!("{name} '{text}' is not an event number"),
                Some(name),
            )
        }),
    }
}

async fn status(ctx: &Context, subs: &[std::sync::Arc<Subscription>]) -> Result<Value, FhirError> {
    let base = ctx.subscriptions.base();
    let mut entries = Vec::new();
    for sub in subs {
        let counters = ctx.store.delivery_counters(&sub.id).await?.unwrap_or_default();
        let status = stored_status(ctx, sub).await?;
        let line = StatusLine {
            base: &base,
            status: &status,
            kind: "query-status",
            events_since_start: counters.events_since_start,
            error: counters.last_error.as_deref().filter(|_| status == "error"),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let mut parameters = notification::status_parameters(sub, sub.content, &line, &[], &id);
        if let Some(list) = parameters["parameter"].as_array_mut() {
            list.push(counters_parameter(&counters));
        }
        entries.push(json!({"fullUrl": format!("urn:uuid:{id}"), "resource": parameters, "search": {"mode": "match"}}));
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(ctx.clock.now_micros()),
        "total": entries.len(),
        "entry": entries,
    }))
}

/// The status as stored: the engine's own status writes reach the
/// in-memory subscriptions through the feed, a moment later.
async fn stored_status(ctx: &Context, sub: &Subscription) -> Result<String, FhirError> {
    let stored = ctx.store.read_current("Subscription", &sub.id).await?;
    let status = stored
        .and_then(|v| v.body)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|r| r["status"].as_str().map(str::to_owned));
    Ok(status.unwrap_or_else(|| sub.status.code().to_owned()))
}

/// Counts are 64-bit, which R4 has no integer type for: strings, as the
/// IG carries `events-since-subscription-start`.
fn counters_parameter(c: &DeliveryCounters) -> Value {
    let mut parts = vec![
        json!({"name": "queued", "valueString": c.queued.to_string()}),
        json!({"name": "delivered", "valueString": c.delivered.to_string()}),
        json!({"name": "failed", "valueString": c.failed.to_string()}),
        json!({"name": "consecutive-failures", "valueString": c.consecutive_failures.to_string()}),
        json!({"name": "latency-mean-ms", "valueDecimal": c.latency_mean_us as f64 / 1000.0}),
        json!({"name": "latency-max-ms", "valueDecimal": c.latency_max_us as f64 / 1000.0}),
    ];
    if let Some(error) = &c.last_error {
        parts.push(json!({"name": "last-error", "valueString": error}));
    }
    if let Some(at) = c.last_error_at {
        parts.push(json!({"name": "last-error-at", "valueInstant": instant(at)}));
    }
    if let Some(at) = c.last_delivered_at {
        parts.push(json!({"name": "last-delivered-at", "valueInstant": instant(at)}));
    }
    json!({"name": COUNTERS_PARAMETER, "part": parts})
}

/// `eventsSinceNumber` (default 1) to `eventsUntilNumber` (default the
/// latest), `content` (default the subscription's).
async fn events(ctx: &Context, sub: &Subscription, parameters: &Value) -> Result<Value, FhirError> {
    let counters = ctx.store.delivery_counters(&sub.id).await?.unwrap_or_default();
    let from = number(parameters, "eventsSinceNumber")?.unwrap_or(1).max(1);
    let to = number(parameters, "eventsUntilNumber")?
        .unwrap_or(counters.events_since_start)
        .min(from + MAX_EVENTS - 1);
    let content = match strings(parameters, "content").first() {
        Some(code) => Content::parse(code).ok_or_else(|| {
            FhirError::invalid(
                IssueType::Value,
                format!("content '{code}' is not empty, id-only or full-resource"),
                Some("content"),
            )
        })?,
        None => sub.content,
    };
    let rows = ctx.store.events_between(&sub.id, from, to).await?;
    let mut events = Vec::new();
    for d in &rows {
        let resource = match (&d.focus, content) {
            (Some(f), Content::FullResource) => ctx
                .store
                .read_version(&f.resource_type, &f.id, f.version)
                .await?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_slice(&b).ok()),
            _ => None,
        };
        let included = super::shape::included(ctx, sub, d, content).await?;
        events.push(Event {
            delivery: d,
            resource,
            included,
        });
    }
    let base = ctx.subscriptions.base();
    let line = StatusLine {
        base: &base,
        status: sub.status.code(),
        kind: "query-event",
        events_since_start: counters.events_since_start,
        error: None,
    };
    Ok(notification::bundle(
        sub,
        content,
        &line,
        &events,
        ctx.clock.now_micros(),
    ))
}
