//! The email channel: one message per notification over SMTP (lettre,
//! tokio, rustls) to the `mailto:` address of `channel.endpoint`, through
//! the server's SMTP server (`subscription_smtp_url`). The notification
//! Bundle (topic-based) or the resource (R4 with a payload) is the body,
//! `application/fhir+json`, base64-encoded so no line length or character
//! limit of mail can alter it; what has no body (an R4 notification without
//! payload, a delete) is a one-line `text/plain` note. The SMTP server
//! accepting the message acknowledges it.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::notification::Outgoing;
use super::spec::Subscription;
use super::Settings;
use crate::outcome::{Issue, IssueType};
use crate::store::Delivery;

/// The address of a `mailto:` endpoint with exactly one address.
pub fn mailbox(endpoint: &str) -> Option<Mailbox> {
    let address = endpoint.strip_prefix("mailto:")?;
    let address = address.split('?').next()?.trim();
    if address.contains(',') {
        return None;
    }
    address.parse().ok()
}

/// An email subscription needs an SMTP server configured (422 otherwise).
pub fn admit(sub: &Subscription, settings: &Settings) -> Result<(), Vec<Issue>> {
    if sub.channel == "email" && settings.smtp_url.is_none() {
        return Err(vec![Issue::error(
            IssueType::NotSupported,
            "email subscriptions need an SMTP server, and this server has none configured (subscription_smtp_url)",
        )
        .at("Subscription.channel.type")]);
    }
    Ok(())
}

/// Sends one notification; `Err` says why it was not accepted.
pub async fn send(
    settings: &Settings,
    sub: &Subscription,
    d: &Delivery,
    out: Outgoing,
    timeout: Duration,
) -> Result<(), String> {
    let url = settings.smtp_url.as_deref().ok_or("no SMTP server is configured")?;
    let message = message(settings, sub, d, out)?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| format!("the SMTP URL cannot be used: {e}"))?
        .timeout(Some(timeout))
        .build();
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("the SMTP server did not take the message: {e}"))
}

fn message(settings: &Settings, sub: &Subscription, d: &Delivery, out: Outgoing) -> Result<Message, String> {
    let to = mailbox(&sub.endpoint).ok_or("the endpoint is not a mailto: address")?;
    let from: Mailbox = settings
        .smtp_from
        .parse()
        .map_err(|e| format!("the sender '{}' is not an address: {e}", settings.smtp_from))?;
    let subject = format!("FHIR {} for Subscription/{}", d.kind.code(), sub.id);
    let part = match out.body {
        Some(bytes) => {
            let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
                .map_err(|_| "the notification cannot be encoded")?;
            let fhir = ContentType::parse(out.content_type).map_err(|e| e.to_string())?;
            SinglePart::builder().header(fhir).body(body)
        }
        None => SinglePart::plain(note(sub, d)),
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .singlepart(part)
        .map_err(|e| format!("the message cannot be built: {e}"))
}

/// The text of a notification without a body.
fn note(sub: &Subscription, d: &Delivery) -> String {
    match &d.focus {
        Some(f) => format!(
            "Subscription/{}: {} of {}/{} (version {}).\r\n",
            sub.id, f.op, f.resource_type, f.id, f.version
        ),
        None => format!("Subscription/{}: {}.\r\n", sub.id, d.kind.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailto_endpoint_names_one_address() {
        assert_eq!(
            mailbox("mailto:alerts@example.org?subject=x").map(|m| m.email.to_string()),
            Some("alerts@example.org".to_owned())
        );
        assert!(mailbox("mailto:a@example.org,b@example.org").is_none());
        assert!(mailbox("http://example.org").is_none());
        assert!(mailbox("mailto:not an address").is_none());
    }
}
