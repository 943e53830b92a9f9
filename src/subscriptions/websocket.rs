//! The websocket channel. A client opens the server's websocket (`/ws`,
//! advertised in the CapabilityStatement) and binds subscriptions to it:
//!
//! - backport: `bind-with-token <token>`, the token from
//!   `$get-ws-binding-token` (any node hands it out, any node redeems it:
//!   tokens are in the database);
//! - R4: `bind <subscription id>`, answered `bound <id>`.
//!
//! Delivery goes through the database like every channel: a `websocket`
//! delivery row is claimed only by a node where a socket is bound to its
//! subscription ([`Sockets::bound_ids`] narrows the worker's claim), and is
//! delivered when written to that node's sockets. A write on node A thus
//! reaches a socket on node B when B's worker next polls. With no socket
//! bound anywhere the row stays pending, in order, until one binds.
//!
//! What is written: topic-based subscriptions get the notification Bundle
//! as a text frame (handshake, heartbeat, events); R4 criteria ones get
//! `ping <id>` for an event, a websocket ping frame for a heartbeat, and
//! their handshake is the bind itself (nothing more is written).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::spec::Subscription;
use crate::clock::instant;
use crate::error::FhirError;
use crate::outcome::IssueType;
use crate::rest::Context;
use crate::store::{Delivery, DeliveryKind};

pub const TOKEN_DEFINITION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token";
/// The path of the websocket endpoint under the base URL.
pub const PATH: &str = "/ws";
/// How long a binding token can be redeemed.
const TOKEN_LIFETIME_SECS: i64 = 600;

/// The sockets bound on this node, by subscription id.
#[derive(Default)]
pub struct Sockets {
    bound: Mutex<HashMap<String, Vec<(u64, actix_ws::Session)>>>,
    next: AtomicU64,
}

/// What one delivery writes to a socket.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Text(String),
    Ping,
    /// Nothing: the bind was the handshake.
    Nothing,
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(u64, actix_ws::Session)>>> {
        // Entries are whole sessions, so a poisoned map is still usable.
        self.bound.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A number for a new connection.
    pub fn connection(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub fn bind(&self, sub_id: &str, connection: u64, session: actix_ws::Session) {
        let mut bound = self.lock();
        let list = bound.entry(sub_id.to_owned()).or_default();
        list.retain(|(c, _)| *c != connection);
        list.push((connection, session));
    }

    /// Forgets a closed connection.
    pub fn unbind(&self, connection: u64) {
        let mut bound = self.lock();
        for list in bound.values_mut() {
            list.retain(|(c, _)| *c != connection);
        }
        bound.retain(|_, list| !list.is_empty());
    }

    /// The subscriptions with a socket on this node.
    pub fn bound_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Writes `frame` to every socket bound to `sub_id`; delivered when at
    /// least one took it (closed ones are forgotten).
    pub async fn send(&self, sub_id: &str, frame: &Frame) -> Result<(), String> {
        let sessions: Vec<(u64, actix_ws::Session)> = self.lock().get(sub_id).cloned().unwrap_or_default();
        if sessions.is_empty() {
            return Err("no websocket is bound to the subscription on this node".into());
        }
        let mut written = 0;
        for (connection, mut session) in sessions {
            let sent = match frame {
                Frame::Text(text) => session.text(text.clone()).await,
                Frame::Ping => session.ping(b"").await,
                Frame::Nothing => Ok(()),
            };
            match sent {
                Ok(()) => written += 1,
                Err(_) => self.unbind(connection),
            }
        }
        if written > 0 {
            Ok(())
        } else {
            Err("the bound websocket closed".into())
        }
    }
}

/// What a delivery writes: `body` is the notification Bundle built for the
/// subscription (topic-based ones).
pub fn frame(sub: &Subscription, d: &Delivery, body: Option<Vec<u8>>) -> Frame {
    if sub.is_topic_based() {
        return match body {
            Some(bytes) => Frame::Text(String::from_utf8_lossy(&bytes).into_owned()),
            None => Frame::Nothing,
        };
    }
    match d.kind {
        DeliveryKind::Event => Frame::Text(format!("ping {}", sub.id)),
        DeliveryKind::Heartbeat => Frame::Ping,
        DeliveryKind::Handshake => Frame::Nothing,
    }
}

/// The websocket URL for the base URL `base` (`http` → `ws`, `https` → `wss`).
pub fn url(base: &str) -> String {
    let rest = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")));
    format!("{}{PATH}", rest.unwrap_or_else(|| base.to_owned()))
}

/// Serves one connection: reads the client's bind requests until it closes.
pub async fn serve(ctx: Context, mut session: actix_ws::Session, mut stream: actix_ws::MessageStream) {
    let sockets = &ctx.subscriptions.sockets;
    let connection = sockets.connection();
    while let Some(Ok(message)) = stream.recv().await {
        let reply = match message {
            actix_ws::Message::Text(text) => bind(&ctx, connection, &session, text.trim()).await,
            actix_ws::Message::Ping(bytes) => {
                if session.pong(&bytes).await.is_err() {
                    break;
                }
                None
            }
            actix_ws::Message::Close(_) => break,
            _ => None,
        };
        if let Some(reply) = reply {
            if session.text(reply).await.is_err() {
                break;
            }
        }
    }
    sockets.unbind(connection);
    let _ = session.close(None).await;
}

/// Handles one request of the client; the text to answer, if any.
async fn bind(ctx: &Context, connection: u64, session: &actix_ws::Session, request: &str) -> Option<String> {
    let hub = &ctx.subscriptions;
    let ids = if let Some(token) = request.strip_prefix("bind-with-token ") {
        match ctx.store.ws_token(token.trim(), ctx.clock.now_micros()).await {
            Ok(Some(ids)) => ids,
            Ok(None) => return Some("error the binding token is unknown or expired".into()),
            Err(error) => return Some(format!("error cannot read the binding token: {error}")),
        }
    } else if let Some(id) = request.strip_prefix("bind ") {
        vec![id.trim().to_owned()]
    } else {
        return Some("error expected 'bind-with-token <token>' or 'bind <subscription id>'".into());
    };
    for id in &ids {
        match channel_of(ctx, id).await {
            Ok(Some(channel)) if channel == "websocket" => {}
            Ok(_) => {
                return Some(format!(
                    "error Subscription/{id} is not a websocket subscription on this server"
                ))
            }
            Err(error) => return Some(format!("error cannot read Subscription/{id}: {error}")),
        }
    }
    for id in &ids {
        hub.sockets.bind(id, connection, session.clone());
    }
    // Rows waiting for a socket can go now.
    hub.queued.notify_one();
    let r4 = request.starts_with("bind ");
    r4.then(|| format!("bound {}", ids.join(",")))
}

/// The channel type of a Subscription that is not `off`. The stored
/// resource answers when this node's hub has not read it from the feed yet
/// (it was written a moment ago, or on another node).
async fn channel_of(ctx: &Context, id: &str) -> Result<Option<String>, FhirError> {
    if let Some(sub) = ctx.subscriptions.subscription(id) {
        return Ok(Some(sub.channel.clone()));
    }
    let stored = ctx.store.read_current("Subscription", id).await?;
    let resource = stored
        .and_then(|v| v.body)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(resource
        .filter(|r| r["status"] != "off")
        .and_then(|r| r["channel"]["type"].as_str().map(str::to_owned)))
}

/// `$get-ws-binding-token` on `Subscription/[id]` or on the type with `id`
/// parameters: Parameters with `token`, `expiration`, `subscription`s and
/// `websocket-url`.
pub async fn binding_token(ctx: &Context, ids: Vec<String>) -> Result<Value, FhirError> {
    if ids.is_empty() {
        return Err(FhirError::invalid(
            IssueType::Required,
            "name the websocket subscriptions to bind: Subscription/[id]/$get-ws-binding-token or the id parameter",
            Some("id"),
        ));
    }
    for id in &ids {
        let channel = channel_of(ctx, id).await?.ok_or_else(|| {
            FhirError::NotFound(format!(
                "Subscription/{id} (an active, requested or erring subscription)"
            ))
        })?;
        if channel != "websocket" {
            return Err(FhirError::invalid(
                IssueType::Value,
                format!("Subscription/{id} has channel type '{channel}', not websocket"),
                Some("id"),
            ));
        }
    }
    let now = ctx.clock.now_micros();
    let expires = now + TOKEN_LIFETIME_SECS * 1_000_000;
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    ctx.store.put_ws_token(&token, &ids, expires, now).await?;
    let mut parameter = vec![
        json!({"name": "token", "valueString": token}),
        json!({"name": "expiration", "valueDateTime": instant(expires)}),
    ];
    parameter.extend(ids.iter().map(|id| json!({"name": "subscription", "valueString": id})));
    parameter.push(json!({"name": "websocket-url", "valueUrl": url(&ctx.subscriptions.base())}));
    Ok(json!({"resourceType": "Parameters", "parameter": parameter}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_url_follows_the_base_scheme() {
        assert_eq!(url("http://h:8080/fhir"), "ws://h:8080/fhir/ws");
        assert_eq!(url("https://h/fhir"), "wss://h/fhir/ws");
    }
}
