//! Subscriptions: R4 criteria subscriptions and topic-based ones of the
//! Subscriptions R5 Backport IG, delivered durably over rest-hook,
//! websocket, email and FHIR messaging (docs/subscriptions.md).
//!
//! # Layout
//!
//! - [`spec`]: a `Subscription` resource read and checked (what cannot be
//!   honoured is refused with a 422 at create/update).
//! - [`topic`]: `SubscriptionTopic`s (R4: `Basic` + cross-version
//!   extensions; R5-shaped ones from packages), compiled once.
//! - [`shape`]: a topic's notification shapes (`_include` /
//!   `_revinclude` of the focus), found by search.
//! - [`matcher`]: search criteria matched in memory against a resource's
//!   index rows.
//! - [`dispatcher`]: reads the change feed from its persisted cursor and
//!   turns each change into delivery rows, in one transaction per batch.
//! - [`worker`]: claims due delivery rows as runs per subscription, sends
//!   them in order, records the outcome, retries with backoff and moves
//!   subscriptions through their statuses.
//! - [`recorder`]: the group commit of acknowledged notifications.
//! - [`ticker`]: heartbeats and `end`.
//! - [`notification`]: the notification Bundles; [`rest_hook`],
//!   [`websocket`], [`email`] and [`message`]: the channels.
//! - [`operations`]: `$status` and `$events`.
//!
//! The active subscriptions and known topics are kept in a [`Hub`] shared
//! by all of these and by the REST layer; the dispatcher keeps it current
//! from the feed (a Subscription or topic change is in the feed like any
//! other).

pub mod dispatcher;
pub mod email;
pub mod matcher;
pub mod message;
pub mod notification;
pub mod operations;
pub mod payload;
pub mod recorder;
pub mod rest_hook;
pub mod shape;
pub mod spec;
pub mod ticker;
pub mod topic;
pub mod websocket;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::error::FhirError;
use crate::index::Registry;
use crate::outcome::{Issue, IssueType};
use crate::rest::Context;
use spec::Subscription;
use topic::Topic;

/// How delivery behaves (`subscription_*` settings, docs/subscriptions.md).
/// Not `Debug`: it holds the HMAC secret.
#[derive(Clone)]
pub struct Settings {
    /// First retry delay; doubled per attempt, up to `retry_max`, with jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts per notification before it is given up.
    pub max_attempts: u32,
    /// Consecutive failed attempts after which the subscription is `error`.
    pub error_after: u32,
    /// Default time a receiver has to answer (a subscription's
    /// `backport-timeout` overrides it).
    pub timeout: Duration,
    /// HMAC-SHA256 key for the signature header of every subscription
    /// without its own.
    pub hmac_secret: Option<String>,
    /// How often the feed is polled when no local write wakes the
    /// dispatcher (writes of other nodes).
    pub poll: Duration,
    /// How long a claim outlives the longest send timeout: a node that dies
    /// holding notifications delays them this much (plus the timeout).
    pub lease: Duration,
    /// The SMTP server of email subscriptions (`smtp://…`); without it
    /// email subscriptions are refused.
    pub smtp_url: Option<String>,
    /// The sender of email notifications.
    pub smtp_from: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            max_attempts: 10,
            error_after: 3,
            timeout: Duration::from_secs(10),
            hmac_secret: None,
            poll: Duration::from_millis(250),
            lease: Duration::from_secs(30),
            smtp_url: None,
            smtp_from: "ipe@localhost".to_owned(),
        }
    }
}

/// The subscriptions and topics in force, and the wake-ups between the
/// engine's tasks.
#[derive(Default)]
pub struct Hub {
    subscriptions: RwLock<HashMap<String, Arc<Subscription>>>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    pub settings: Settings,
    /// A write committed: the dispatcher has work.
    pub feed_changed: tokio::sync::Notify,
    /// Delivery rows were queued: the worker has work.
    pub queued: tokio::sync::Notify,
    /// The websockets bound on this node.
    pub sockets: websocket::Sockets,
    /// The public base URL notifications use (set when the engine starts).
    base: std::sync::OnceLock<String>,
    /// How far in the change feed this hub is current.
    seen: std::sync::Mutex<crate::store::FeedCursor>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Writers replace whole entries, so a poisoned map is still consistent.
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub fn new(settings: Settings) -> Self {
        Hub {
            settings,
            ..Default::default()
        }
    }

    pub fn seen(&self) -> crate::store::FeedCursor {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_seen(&self, cursor: crate::store::FeedCursor) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = cursor;
    }

    /// The base URL of notification references.
    pub fn base(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }

    pub fn subscription(&self, id: &str) -> Option<Arc<Subscription>> {
        read(&self.subscriptions).get(id).cloned()
    }

    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        read(&self.subscriptions).values().cloned().collect()
    }

    pub fn put_subscription(&self, sub: Subscription) {
        write(&self.subscriptions).insert(sub.id.clone(), Arc::new(sub));
    }

    pub fn remove_subscription(&self, id: &str) {
        write(&self.subscriptions).remove(id);
    }

    pub fn topic(&self, url: &str) -> Option<Arc<Topic>> {
        let (url, _) = crate::packages::registry::split_canonical(url);
        read(&self.topics).get(url).cloned()
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = read(&self.topics).values().cloned().collect();
        all.sort_by(|a, b| a.url.cmp(&b.url));
        all
    }

    pub fn put_topic(&self, topic: Topic) {
        let mut topics = write(&self.topics);
        if let Some(id) = &topic.basic_id {
            topics.retain(|_, t| t.basic_id.as_ref() != Some(id));
        }
        topics.insert(topic.url.clone(), Arc::new(topic));
    }

    /// Forgets the topic stored as `Basic/{basic_id}`.
    pub fn remove_topic_of(&self, basic_id: &str) {
        write(&self.topics).retain(|_, t| t.basic_id.as_deref() != Some(basic_id));
    }
}

/// Reads a Subscription with the hub's topics.
pub fn read_subscription(hub: &Hub, registry: &Registry, resource: &Value) -> Result<Subscription, Vec<Issue>> {
    spec::read(resource, registry, &|url| hub.topic(url))
}

/// The topics among the resources a transaction writes, as (id, JSON):
/// each topic `Basic` that compiles (one that does not is refused when it
/// is written).
pub fn topics_written<'a>(registry: &Registry, written: impl Iterator<Item = (&'a str, &'a Value)>) -> Vec<Arc<Topic>> {
    written
        .filter(|(_, r)| r["resourceType"] == "Basic" && topic::is_topic_basic(r))
        .filter_map(|(id, r)| Topic::from_r5(&topic::basic_to_r5(r), registry, Some(id.to_owned())).ok())
        .map(Arc::new)
        .collect()
}

/// The check of a client write of a Subscription or a topic `Basic` (every
/// write path stores through it): the Subscription's status is the
/// server's to manage (see [`spec::admit_status`]), and what this server
/// cannot honour is unprocessable (422).
pub async fn admit(ctx: &Context, resource: &mut Value) -> Result<(), FhirError> {
    match resource["resourceType"].as_str() {
        Some("Subscription") => {
            spec::admit_status(resource);
            let registry = ctx.registry.current();
            let criteria = resource["criteria"].as_str().unwrap_or_default().to_owned();
            // A topic the same transaction writes wins over the one in force.
            let in_transaction = |url: &str| {
                let (url, _) = crate::packages::registry::split_canonical(url);
                ctx.transaction_topics.iter().find(|t| t.url == url).cloned()
            };
            if in_transaction(&criteria).is_none() {
                learn_topic(ctx, &criteria).await?;
            }
            let topic = |url: &str| in_transaction(url).or_else(|| ctx.subscriptions.topic(url));
            let sub = spec::read(resource, &registry, &topic).map_err(FhirError::Unprocessable)?;
            email::admit(&sub, &ctx.subscriptions.settings).map_err(FhirError::Unprocessable)
        }
        Some("Basic") if topic::is_topic_basic(resource) => {
            let registry = ctx.registry.current();
            Topic::from_r5(&topic::basic_to_r5(resource), &registry, None)
                .map(drop)
                .map_err(|e| {
                    FhirError::Unprocessable(vec![Issue::error(IssueType::Value, e.message)
                        .at(format!("Basic.extension (topic element {})", e.expression))])
                })
        }
        _ => Ok(()),
    }
}

/// Makes sure the hub knows the topic `criteria` names, when it names one
/// (a canonical URL, not an R4 search): a topic stored moments ago, or
/// written later in the same transaction, may not have reached the hub
/// from the change feed yet, so the stored topics are read once more.
pub async fn learn_topic(ctx: &Context, criteria: &str) -> Result<(), FhirError> {
    if criteria.contains("://") && ctx.subscriptions.topic(criteria).is_none() {
        load_stored_topics(ctx).await?;
    }
    Ok(())
}

/// The topics stored on the server (`Basic`) into the hub.
pub async fn load_stored_topics(ctx: &Context) -> Result<usize, FhirError> {
    let registry = ctx.registry.current();
    let mut count = 0;
    for body in ctx.store.current_bodies("Basic").await? {
        let Ok(basic) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        if !topic::is_topic_basic(&basic) {
            continue;
        }
        let id = basic["id"].as_str().map(str::to_owned);
        match Topic::from_r5(&topic::basic_to_r5(&basic), &registry, id) {
            Ok(t) => {
                ctx.subscriptions.put_topic(t);
                count += 1;
            }
            Err(e) => tracing::warn!(error = %e.message, at = %e.expression, "a stored topic cannot be used"),
        }
    }
    Ok(count)
}

/// At start: the topics of loaded packages (R5-shaped `SubscriptionTopic`s)
/// and of the database, then the stored Subscriptions.
pub async fn load(ctx: &Context) -> Result<(), FhirError> {
    let registry = ctx.registry.current();
    for entry in ctx.canonicals.entries("SubscriptionTopic") {
        let Some(resource) = entry.resource() else { continue };
        match Topic::from_r5(&resource, &registry, None) {
            Ok(t) => ctx.subscriptions.put_topic(t),
            Err(e) => tracing::warn!(error = %e.message, "a package topic cannot be used"),
        }
    }
    let topics = load_stored_topics(ctx).await?;
    let mut subscriptions = 0;
    for body in ctx.store.current_bodies("Subscription").await? {
        let Ok(resource) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        match read_subscription(&ctx.subscriptions, &registry, &resource) {
            Ok(sub) => {
                ctx.subscriptions.put_subscription(sub);
                subscriptions += 1;
            }
            Err(issues) => tracing::warn!(
                id = %resource["id"],
                problem = %issues.first().map(|i| i.diagnostics.as_str()).unwrap_or_default(),
                "a stored Subscription cannot be served"
            ),
        }
    }
    rewind(ctx, &registry).await?;
    tracing::info!(topics, subscriptions, "subscriptions loaded");
    Ok(())
}

/// Puts each Subscription with changes the dispatcher has not read yet
/// back to the version it had at the cursor (absent if it was created
/// after), so the backlog is matched against the subscriptions as they were
/// when it was written; the dispatcher moves them forward again change by
/// change.
async fn rewind(ctx: &Context, registry: &Registry) -> Result<(), FhirError> {
    let hub = &ctx.subscriptions;
    let mut after = ctx.store.feed_cursor(dispatcher::READER).await?;
    hub.set_seen(after);
    let mut seen = std::collections::HashSet::new();
    loop {
        let changes = ctx.store.changes_after(after, 1000).await?;
        let Some(last) = changes.last() else { break };
        after = last.cursor;
        for change in changes.iter().filter(|c| c.resource_type == "Subscription") {
            if !seen.insert(change.id.clone()) {
                continue;
            }
            let before = match change.version {
                1 => None,
                v => ctx.store.read_version("Subscription", &change.id, v - 1).await?,
            };
            let resource = before
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            match resource.map(|r| read_subscription(hub, registry, &r)) {
                Some(Ok(sub)) => hub.put_subscription(sub),
                _ => hub.remove_subscription(&change.id),
            }
        }
    }
    Ok(())
}

/// The engine's tasks, stopped together.
pub struct Engine {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Engine {
    /// Starts the dispatcher, the worker and the ticker. `base` is the
    /// server's public base URL, used in notifications.
    pub fn start(ctx: &Context, base: String) -> Engine {
        let _ = ctx.subscriptions.base.set(base.clone());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let node = uuid::Uuid::new_v4().to_string();
        let tasks = vec![
            tokio::spawn(dispatcher::run(ctx.clone(), base.clone(), stopped.clone())),
            tokio::spawn(worker::run(ctx.clone(), base, node, stopped.clone())),
            tokio::spawn(ticker::run(ctx.clone(), stopped)),
        ];
        Engine { stop, tasks }
    }

    /// Stops the tasks; a notification being sent finishes first, so its
    /// outcome is recorded and it is not sent again.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Waits for `notify` or `wait`, whichever first; `false` once stopping.
pub(crate) async fn pause(
    notify: &tokio::sync::Notify,
    wait: Duration,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if *stopped.borrow() {
        return false;
    }
    tokio::select! {
        _ = notify.notified() => {}
        _ = tokio::time::sleep(wait) => {}
        _ = stopped.changed() => {}
    }
    !*stopped.borrow()
}
