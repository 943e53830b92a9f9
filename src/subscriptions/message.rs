//! The `message` channel: each notification is a FHIR message
//! (<https://hl7.org/fhir/R4/messaging.html>) POSTed to `channel.endpoint`,
//! R4's "actual end-point to send messages to" (a FHIR server's
//! `[base]/$process-message`, or any messaging endpoint).
//!
//! As the backport IG's "FHIR Messaging" channel has it, the content of the
//! message is a fully-formed notification Bundle: a `message` Bundle whose
//! first entry is a `MessageHeader` and whose second is the notification
//! (`history` Bundle with its SubscriptionStatus), which the header's
//! `focus` points at. The header's event is the topic (`eventUri`, as R5's
//! `eventCanonical` names a SubscriptionTopic); an R4 criteria subscription
//! has no topic, so its event is the notification type (`eventCoding`).
//!
//! Delivery is the rest-hook's (headers, HMAC signature, timeout, retries):
//! a 2xx answer acknowledges, unless its body is a response message whose
//! `MessageHeader.response.code` is not `ok`.

use serde_json::{json, Value};

use super::notification::Outgoing;
use super::rest_hook::{self, Send};
use super::spec::Subscription;
use crate::clock::instant;

/// The code system of the SubscriptionStatus `type` (R4B/R5), the event of
/// a criteria subscription's messages.
const NOTIFICATION_TYPE_SYSTEM: &str = "http://hl7.org/fhir/subscription-notification-type";

/// The request that delivers `notification` (a notification Bundle of
/// type `kind`) to a message subscription.
pub fn outgoing(sub: &Subscription, base: &str, kind: &str, notification: Value, now: i64) -> Outgoing {
    Outgoing {
        method: reqwest::Method::POST,
        url: sub.endpoint.clone(),
        body: Some(
            message_bundle(sub, base, kind, notification, now)
                .to_string()
                .into_bytes(),
        ),
        content_type: super::notification::FHIR_JSON,
    }
}

/// The `message` Bundle carrying `notification`.
pub fn message_bundle(sub: &Subscription, base: &str, kind: &str, notification: Value, now: i64) -> Value {
    let notification_url = format!("urn:uuid:{}", notification["id"].as_str().unwrap_or_default());
    let mut header = json!({
        "resourceType": "MessageHeader",
        "id": uuid::Uuid::new_v4().to_string(),
    });
    match sub.topic_url() {
        Some(topic) => header["eventUri"] = json!(topic),
        None => header["eventCoding"] = json!({"system": NOTIFICATION_TYPE_SYSTEM, "code": kind}),
    }
    header["destination"] = json!([{"endpoint": sub.endpoint}]);
    header["source"] = json!({
        "name": "Ipê",
        "software": "Ipê",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoint": base,
    });
    header["focus"] = json!([{"reference": notification_url}]);
    let header_url = format!("urn:uuid:{}", header["id"].as_str().unwrap_or_default());
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "message",
        "timestamp": instant(now),
        "entry": [
            {"fullUrl": header_url, "resource": header},
            {"fullUrl": notification_url, "resource": notification},
        ],
    })
}

/// Sends a message; `Err` says why it was not acknowledged.
pub async fn send(client: &reqwest::Client, out: &Outgoing, how: &Send<'_>) -> Result<(), String> {
    let response = rest_hook::post(client, out, how).await?;
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading the endpoint's answer failed: {e}"))?;
    match refused(&body) {
        Some(code) => Err(format!("{} a response message with code {code}", rest_hook::ANSWERED)),
        None => Ok(()),
    }
}

/// The code of a response message (`MessageHeader.response.code`) that is
/// not `ok`; `None` for any other answer (empty, not JSON, not a message).
fn refused(body: &[u8]) -> Option<String> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    if answer["resourceType"] != "Bundle" || answer["type"] != "message" {
        return None;
    }
    let code = answer["entry"][0]["resource"]["response"]["code"].as_str()?;
    (code != "ok").then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriptions::spec::{Content, Kind};

    #[test]
    fn the_message_header_comes_first_and_focuses_on_the_notification() {
        let mut sub = crate::subscriptions::notification::tests::subscription(Content::IdOnly);
        sub.channel = "message".into();
        let notification = json!({"resourceType": "Bundle", "id": "n1", "type": "history"});
        let m = message_bundle(&sub, "https://ipe.test/fhir", "event-notification", notification, 0);
        assert_eq!(m["type"], "message");
        let header = &m["entry"][0]["resource"];
        assert_eq!(header["resourceType"], "MessageHeader");
        assert_eq!(header["eventUri"], "http://fhirserver.org/topics/patient-admission");
        assert_eq!(header["focus"][0]["reference"], "urn:uuid:n1");
        assert_eq!(m["entry"][1]["fullUrl"], "urn:uuid:n1");
        assert_eq!(header["source"]["endpoint"], "https://ipe.test/fhir");
        assert_eq!(header["destination"][0]["endpoint"], "http://receiver.test/hook");

        sub.kind = Kind::Criteria {
            resource_type: "Encounter".into(),
            clauses: Vec::new(),
        };
        let m = message_bundle(&sub, "b", "handshake", json!({"id": "n2"}), 0);
        let header = &m["entry"][0]["resource"];
        assert!(header.get("eventUri").is_none());
        assert_eq!(
            header["eventCoding"],
            json!({"system": NOTIFICATION_TYPE_SYSTEM, "code": "handshake"})
        );
    }

    #[test]
    fn a_response_message_other_than_ok_is_a_refusal() {
        let answer = |code: &str| {
            json!({"resourceType": "Bundle", "type": "message", "entry": [{"resource":
                {"resourceType": "MessageHeader", "response": {"identifier": "x", "code": code}}}]})
            .to_string()
        };
        assert_eq!(refused(answer("ok").as_bytes()), None);
        assert_eq!(
            refused(answer("transient-error").as_bytes()).as_deref(),
            Some("transient-error")
        );
        assert_eq!(refused(b""), None);
        assert_eq!(refused(br#"{"resourceType": "OperationOutcome"}"#), None);
    }
}
