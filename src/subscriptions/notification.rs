//! What a notification looks like on the wire.
//!
//! Topic-based subscriptions: a `history` Bundle whose first entry is the
//! SubscriptionStatus as the IG's R4 profile has it (a `Parameters` with
//! `subscription`, `topic`, `status`, `type`,
//! `events-since-subscription-start` and one `notification-event` per
//! event), then one entry per event focus: `id-only` gives its `fullUrl`,
//! `request` and `response`, `full-resource` the resource too, `empty`
//! nothing (backport IG, "Notifications").
//!
//! R4 criteria subscriptions (subscription.html#2.46.7.1): with no payload,
//! a POST of no body to the endpoint; with one, the resource PUT to
//! `[endpoint]/[type]/[id]` (a DELETE there for a delete).

use serde_json::{json, Value};

use super::shape::Included;
use super::spec::{Content, Subscription};
use crate::clock::instant;
use crate::store::{Delivery, DeliveryKind, Focus};

const STATUS_PROFILE: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4";
const NOTIFICATION_PROFILE: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4";

const SUBSCRIPTION_ERROR: &str = "http://terminology.hl7.org/CodeSystem/subscription-error";

/// An HTTP request to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<Vec<u8>>,
    /// The media type of `body`: FHIR JSON as built, until
    /// [`super::payload::encode`] turns it into the subscription's payload type.
    pub content_type: &'static str,
}

/// The media type notifications are built in.
pub const FHIR_JSON: &str = "application/fhir+json";

/// One event of a notification, with the focus version's JSON when the
/// content needs it (and the version is not a delete), and what the
/// topic's notification shape brings along.
pub struct Event<'a> {
    pub delivery: &'a Delivery,
    pub resource: Option<Value>,
    pub included: Vec<Included>,
}

/// What the SubscriptionStatus says besides the events.
pub struct StatusLine<'a> {
    pub base: &'a str,
    /// The status code to report.
    pub status: &'a str,
    /// handshake | heartbeat | event-notification | query-status | query-event.
    pub kind: &'a str,
    pub events_since_start: i64,
    pub error: Option<&'a str>,
}

/// The SubscriptionStatus `Parameters` (backport-subscription-status-r4).
pub fn status_parameters(
    sub: &Subscription,
    content: Content,
    line: &StatusLine<'_>,
    events: &[Event<'_>],
    id: &str,
) -> Value {
    let base = line.base;
    let mut parameter = vec![json!({"name": "subscription",
        "valueReference": {"reference": format!("{base}/Subscription/{}", sub.id)}})];
    if let Some(topic) = sub.topic_url() {
        parameter.push(json!({"name": "topic", "valueCanonical": topic}));
    }
    parameter.extend([
        json!({"name": "status", "valueCode": line.status}),
        json!({"name": "type", "valueCode": line.kind}),
        json!({"name": "events-since-subscription-start", "valueString": line.events_since_start.to_string()}),
    ]);
    for event in events {
        let d = event.delivery;
        let mut part = vec![
            json!({"name": "event-number", "valueString": d.event_number.unwrap_or_default().to_string()}),
            json!({"name": "timestamp", "valueInstant": instant(d.created_at)}),
        ];
        if let (Some(focus), false) = (&d.focus, content == Content::Empty) {
            part.push(json!({"name": "focus", "valueReference": {"reference": focus_url(base, focus)}}));
            for i in &event.included {
                part.push(json!({"name": "additional-context",
                    "valueReference": {"reference": format!("{base}/{}/{}", i.resource_type, i.id)}}));
            }
        }
        parameter.push(json!({"name": "notification-event", "part": part}));
    }
    if let Some(error) = line.error {
        parameter.push(json!({"name": "error", "valueCodeableConcept": error_concept(error)}));
    }
    json!({
        "resourceType": "Parameters",
        "id": id,
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameter,
    })
}

/// What went wrong, as the IG's error notification says it: a
/// `subscription-error` code where the failure has one, and the text.
fn error_concept(error: &str) -> Value {
    match super::rest_hook::error_code(error) {
        Some((code, display)) => json!({
            "coding": [{"system": SUBSCRIPTION_ERROR, "code": code, "display": display}],
            "text": error,
        }),
        None => json!({"text": error}),
    }
}

/// The notification Bundle of a topic-based subscription.
pub fn bundle(sub: &Subscription, content: Content, line: &StatusLine<'_>, events: &[Event<'_>], now: i64) -> Value {
    let status_id = uuid::Uuid::new_v4().to_string();
    let base = line.base;
    let mut entries = vec![json!({
        "fullUrl": format!("urn:uuid:{status_id}"),
        "resource": status_parameters(sub, content, line, events, &status_id),
        "request": {"method": "GET", "url": format!("{base}/Subscription/{}/$status", sub.id)},
        "response": {"status": "200"},
    })];
    if content != Content::Empty {
        for event in events {
            if let Some(focus) = &event.delivery.focus {
                entries.push(focus_entry(base, focus, event.resource.as_ref(), content));
            }
            entries.extend(event.included.iter().map(|i| included_entry(base, i, content)));
        }
    }
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": instant(now),
        "entry": entries,
    })
}

fn focus_url(base: &str, focus: &Focus) -> String {
    format!("{base}/{}/{}", focus.resource_type, focus.id)
}

/// The entry of an event's focus, as the history interaction would show
/// the version (method, url, status of the write).
fn focus_entry(base: &str, focus: &Focus, resource: Option<&Value>, content: Content) -> Value {
    let (method, url, status) = match focus.op.as_str() {
        "create" => ("POST", focus.resource_type.clone(), "201"),
        "delete" => ("DELETE", format!("{}/{}", focus.resource_type, focus.id), "204"),
        _ => ("PUT", format!("{}/{}", focus.resource_type, focus.id), "200"),
    };
    let mut entry = json!({"fullUrl": focus_url(base, focus)});
    if let (Content::FullResource, Some(r)) = (content, resource) {
        entry["resource"] = r.clone();
    }
    entry["request"] = json!({"method": method, "url": url});
    entry["response"] = json!({"status": status});
    entry
}

/// The entry of a resource the shape brought along, as a read of it.
fn included_entry(base: &str, included: &Included, content: Content) -> Value {
    let mut entry = json!({"fullUrl": format!("{base}/{}/{}", included.resource_type, included.id)});
    if content == Content::FullResource {
        entry["resource"] = included.resource.clone();
    }
    entry["request"] = json!({"method": "GET", "url": format!("{}/{}", included.resource_type, included.id)});
    entry["response"] = json!({"status": "200"});
    entry
}

/// The request that notifies `sub` of `events` (none for a handshake or a
/// heartbeat). A topic-based subscription gets them all in one Bundle; an
/// R4 criteria one is sent one event at a time (only the first is used).
/// Messages carry a notification Bundle whatever the kind of subscription
/// (see [`super::message`]).
pub fn outgoing(sub: &Subscription, line: &StatusLine<'_>, events: Vec<Event<'_>>, now: i64) -> Outgoing {
    if sub.is_topic_based() || sub.channel == "message" {
        let body = bundle(sub, sub.content, line, &events, now);
        if sub.channel == "message" {
            return super::message::outgoing(sub, line.base, line.kind, body, now);
        }
        return Outgoing {
            method: reqwest::Method::POST,
            url: sub.endpoint.clone(),
            body: Some(body.to_string().into_bytes()),
            content_type: FHIR_JSON,
        };
    }
    let ping = Outgoing {
        method: reqwest::Method::POST,
        url: sub.endpoint.clone(),
        body: None,
        content_type: FHIR_JSON,
    };
    let Some(event) = events.into_iter().next() else {
        return ping;
    };
    let Some(focus) = &event.delivery.focus else {
        return ping;
    };
    if sub.payload.is_none() || event.delivery.kind != DeliveryKind::Event {
        return ping;
    }
    let url = format!(
        "{}/{}/{}",
        sub.endpoint.trim_end_matches('/'),
        focus.resource_type,
        focus.id
    );
    match (focus.op.as_str(), event.resource) {
        ("delete", _) | (_, None) => Outgoing {
            method: reqwest::Method::DELETE,
            url,
            body: None,
            content_type: FHIR_JSON,
        },
        (_, Some(resource)) => Outgoing {
            method: reqwest::Method::PUT,
            url,
            body: Some(resource.to_string().into_bytes()),
            content_type: FHIR_JSON,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::subscriptions::spec::{Kind, Status};

    pub(crate) fn subscription(content: Content) -> Subscription {
        Subscription {
            id: "123".into(),
            version: 1,
            status: Status::Active,
            kind: Kind::Topic {
                url: "http://fhirserver.org/topics/patient-admission".into(),
                filters: Vec::new(),
            },
            channel: "rest-hook".into(),
            endpoint: "http://receiver.test/hook".into(),
            headers: Vec::new(),
            payload: Some("application/fhir+json".into()),
            content,
            heartbeat_secs: None,
            timeout_secs: None,
            end: None,
            hmac_secret: None,
            max_count: 1,
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            id: 1,
            sub_id: "123".into(),
            kind: DeliveryKind::Event,
            channel: "rest-hook".into(),
            event_number: Some(1),
            focus: Some(Focus {
                resource_type: "Encounter".into(),
                id: "e1".into(),
                version: 1,
                op: "create".into(),
            }),
            created_at: 0,
            state: "pending".into(),
            attempts: 1,
        }
    }

    #[test]
    fn id_only_has_the_status_then_the_focus_without_its_resource() {
        let sub = subscription(Content::IdOnly);
        let d = delivery();
        let line = StatusLine {
            base: "https://fhirserver.org/fhir",
            status: "active",
            kind: "event-notification",
            events_since_start: 1,
            error: None,
        };
        let resource = json!({"resourceType": "Encounter", "id": "e1"});
        let b = bundle(
            &sub,
            sub.content,
            &line,
            &[Event {
                delivery: &d,
                resource: Some(resource),
                included: Vec::new(),
            }],
            0,
        );
        assert_eq!(b["type"], "history");
        let entries = b["entry"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["fullUrl"], "https://fhirserver.org/fhir/Encounter/e1");
        assert!(entries[1].get("resource").is_none());
        assert_eq!(entries[1]["request"], json!({"method": "POST", "url": "Encounter"}));
        let params = &entries[0]["resource"]["parameter"];
        assert_eq!(
            params[5]["part"][2]["valueReference"]["reference"],
            "https://fhirserver.org/fhir/Encounter/e1"
        );
    }

    #[test]
    fn r4_criteria_with_payload_puts_the_resource_and_deletes_on_delete() {
        let mut sub = subscription(Content::FullResource);
        sub.kind = Kind::Criteria {
            resource_type: "Encounter".into(),
            clauses: Vec::new(),
        };
        let line = StatusLine {
            base: "b",
            status: "active",
            kind: "event-notification",
            events_since_start: 1,
            error: None,
        };
        fn event(delivery: &Delivery, resource: Option<Value>) -> Vec<Event<'_>> {
            vec![Event {
                delivery,
                resource,
                included: Vec::new(),
            }]
        }
        let mut d = delivery();
        let out = outgoing(&sub, &line, event(&d, Some(json!({"id": "e1"}))), 0);
        assert_eq!(
            (out.method, out.url.as_str()),
            (reqwest::Method::PUT, "http://receiver.test/hook/Encounter/e1")
        );
        if let Some(f) = d.focus.as_mut() {
            f.op = "delete".into();
        }
        let out = outgoing(&sub, &line, event(&d, None), 0);
        assert_eq!(out.method, reqwest::Method::DELETE);
        sub.payload = None;
        let out = outgoing(&sub, &line, event(&d, None), 0);
        assert_eq!((out.method, out.body), (reqwest::Method::POST, None));
    }
}
