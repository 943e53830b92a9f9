//! A `Subscription` resource read and checked: R4 criteria subscriptions
//! (<https://hl7.org/fhir/R4/subscription.html>, `criteria` is a search URL)
//! and topic-based ones of the Subscriptions Backport IG
//! (`criteria` is a topic canonical, with the IG's extensions). What this
//! server cannot honour is refused with the element it is about, never
//! accepted and ignored.

use serde_json::Value;

use super::topic::{parse_criteria, Topic};
use crate::index::Registry;
use crate::model::datetime::parse_range;
use crate::model::ResourceType;
use crate::outcome::{Issue, IssueType};
use crate::search::params::Clause;

pub const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";
/// The channel extension naming a per-subscription HMAC secret (see docs/subscriptions.md).
pub const HMAC_SECRET_EXTENSION: &str = "https://ipe.dev/fhir/StructureDefinition/subscription-hmac-secret";

/// The channel types this server delivers over (all of R4's).
pub const CHANNELS: &[&str] = &["rest-hook", "websocket", "email", "message"];
/// What a Subscription may ask that this server refuses at create.
pub const NOT_SUPPORTED: &[&str] = &[
    "payloads other than FHIR JSON or XML (application/fhir+json, application/fhir+xml, application/json, application/xml)",
    "custom channel types (backport-channel-type)",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Requested,
    Active,
    Error,
    Off,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Active => "active",
            Status::Error => "error",
            Status::Off => "off",
        }
    }

    pub fn parse(code: &str) -> Option<Status> {
        match code {
            "requested" => Some(Status::Requested),
            "active" => Some(Status::Active),
            "error" => Some(Status::Error),
            "off" => Some(Status::Off),
            _ => None,
        }
    }
}

/// How much of the resource a notification carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Empty,
    IdOnly,
    FullResource,
}

impl Content {
    pub fn code(self) -> &'static str {
        match self {
            Content::Empty => "empty",
            Content::IdOnly => "id-only",
            Content::FullResource => "full-resource",
        }
    }

    pub fn parse(code: &str) -> Option<Content> {
        match code {
            "empty" => Some(Content::Empty),
            "id-only" => Some(Content::IdOnly),
            "full-resource" => Some(Content::FullResource),
            _ => None,
        }
    }
}

/// What a subscription is notified of.
#[derive(Debug)]
pub enum Kind {
    /// R4: changes of `resource_type` that match `clauses` afterwards (or,
    /// for a delete, before).
    Criteria {
        resource_type: String,
        clauses: Vec<Clause>,
    },
    /// Backport: the events of a topic, narrowed by `filters` (by resource
    /// type; `None` applies to every type the topic triggers on).
    Topic {
        url: String,
        filters: Vec<(Option<String>, Vec<Clause>)>,
    },
}

/// A subscription, as the engine uses it.
#[derive(Debug)]
pub struct Subscription {
    pub id: String,
    /// The stored version this was read from.
    pub version: i64,
    pub status: Status,
    pub kind: Kind,
    pub channel: String,
    pub endpoint: String,
    /// `channel.header`, as (name, value).
    pub headers: Vec<(String, String)>,
    /// `channel.payload` (a MIME type), if any.
    pub payload: Option<String>,
    pub content: Content,
    pub heartbeat_secs: Option<u64>,
    pub timeout_secs: Option<u64>,
    /// `end`, µs.
    pub end: Option<i64>,
    pub hmac_secret: Option<String>,
    /// `backport-max-count`: the most events in one notification Bundle
    /// (topic-based subscriptions; 1 without the extension).
    pub max_count: usize,
}

impl Subscription {
    pub fn is_topic_based(&self) -> bool {
        matches!(self.kind, Kind::Topic { .. })
    }

    /// The topic canonical, or the R4 criteria.
    pub fn topic_url(&self) -> Option<&str> {
        match &self.kind {
            Kind::Topic { url, .. } => Some(url),
            Kind::Criteria { .. } => None,
        }
    }
}

fn issue(code: IssueType, message: impl Into<String>, at: &str) -> Issue {
    Issue::error(code, message).at(at)
}

/// Reads a Subscription resource. `topic` resolves a topic canonical.
pub fn read(
    resource: &Value,
    registry: &Registry,
    topic: &dyn Fn(&str) -> Option<std::sync::Arc<Topic>>,
) -> Result<Subscription, Vec<Issue>> {
    let mut issues = Vec::new();
    let id = resource["id"].as_str().unwrap_or_default().to_owned();
    let version = resource["meta"]["versionId"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let status = match resource["status"].as_str().and_then(Status::parse) {
        Some(s) => s,
        None => {
            issues.push(issue(
                IssueType::Required,
                "status must be requested, active, error or off",
                "Subscription.status",
            ));
            Status::Off
        }
    };
    let channel = &resource["channel"];
    let channel_type = channel["type"].as_str().unwrap_or_default().to_owned();
    if !CHANNELS.contains(&channel_type.as_str()) {
        issues.push(issue(
            IssueType::NotSupported,
            format!(
                "channel type '{channel_type}' is not supported by this server (supported: {})",
                CHANNELS.join(", ")
            ),
            "Subscription.channel.type",
        ));
    }
    if channel["_type"]["extension"].as_array().is_some_and(|e| !e.is_empty()) {
        issues.push(issue(
            IssueType::NotSupported,
            "custom channel types (backport-channel-type) are not supported",
            "Subscription.channel.type",
        ));
    }
    let endpoint = channel["endpoint"].as_str().unwrap_or_default().to_owned();
    if let Some(problem) = endpoint_problem(&channel_type, &endpoint) {
        issues.push(issue(IssueType::Value, problem, "Subscription.channel.endpoint"));
    }
    let headers = read_headers(channel, &mut issues);
    let payload = channel["payload"].as_str().map(str::to_owned);
    if let Some(mime) = &payload {
        if super::payload::Format::of(mime).is_none() {
            issues.push(issue(
                IssueType::NotSupported,
                format!("payload '{mime}' is not supported: notifications are sent as FHIR JSON or XML"),
                "Subscription.channel.payload",
            ));
        }
    }
    let content = read_content(channel, payload.is_some(), &mut issues);
    let ext = |name: &str| find_extension(&channel["extension"], &format!("{BACKPORT}{name}"));
    let unsigned =
        |name: &str| ext(name).and_then(|e| e["valueUnsignedInt"].as_u64().or(e["valuePositiveInt"].as_u64()));
    let end = match resource["end"].as_str() {
        Some(text) => match parse_range(text).map(|(low, _)| low) {
            Some(t) => Some(t),
            None => {
                issues.push(issue(
                    IssueType::Value,
                    format!("end '{text}' is not an instant"),
                    "Subscription.end",
                ));
                None
            }
        },
        None => None,
    };
    let hmac_secret = find_extension(&channel["extension"], HMAC_SECRET_EXTENSION)
        .and_then(|e| e["valueString"].as_str())
        .map(str::to_owned);
    let max_count = read_max_count(ext("backport-max-count"), &mut issues);
    let kind = read_kind(resource, registry, topic, &mut issues);
    if !issues.is_empty() {
        return Err(issues);
    }
    let Some(kind) = kind else { return Err(issues) };
    Ok(Subscription {
        id,
        version,
        status,
        kind,
        channel: channel_type,
        endpoint,
        headers,
        payload,
        content,
        heartbeat_secs: unsigned("backport-heartbeat-period").filter(|s| *s > 0),
        timeout_secs: unsigned("backport-timeout").filter(|s| *s > 0),
        end,
        hmac_secret,
        max_count,
    })
}

/// `backport-max-count` (a positiveInt); 1 without it.
fn read_max_count(extension: Option<&Value>, issues: &mut Vec<Issue>) -> usize {
    let Some(extension) = extension else { return 1 };
    match extension["valuePositiveInt"].as_u64().filter(|n| *n >= 1) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => {
            issues.push(issue(
                IssueType::Value,
                "backport-max-count must have a valuePositiveInt of at least 1",
                "Subscription.channel.extension",
            ));
            1
        }
    }
}

/// Why `endpoint` cannot serve the channel, if it cannot. A websocket
/// subscription needs none: the client connects to the server.
fn endpoint_problem(channel_type: &str, endpoint: &str) -> Option<String> {
    match channel_type {
        "websocket" => None,
        "email" if super::email::mailbox(endpoint).is_some() => None,
        "email" => Some("an email channel needs a mailto: endpoint with one address".to_owned()),
        _ if endpoint.starts_with("http://") || endpoint.starts_with("https://") => None,
        other => Some(format!("a {other} channel needs an http:// or https:// endpoint")),
    }
}

fn find_extension<'v>(list: &'v Value, url: &str) -> Option<&'v Value> {
    list.as_array()?.iter().find(|e| e["url"] == url)
}

fn read_headers(channel: &Value, issues: &mut Vec<Issue>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (i, h) in channel["header"].as_array().into_iter().flatten().enumerate() {
        let parsed = h.as_str().and_then(|h| h.split_once(':')).and_then(|(name, value)| {
            let name = name.trim();
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value.trim()).is_ok();
            valid.then(|| (name.to_owned(), value.trim().to_owned()))
        });
        match parsed {
            Some(pair) => headers.push(pair),
            None => issues.push(issue(
                IssueType::Value,
                "a channel header must be 'Name: value'",
                &format!("Subscription.channel.header[{i}]"),
            )),
        }
    }
    headers
}

/// The backport payload-content code; without it, `full-resource` when a
/// payload type is given and `empty` when not (R4: no payload, no body).
fn read_content(channel: &Value, has_payload: bool, issues: &mut Vec<Issue>) -> Content {
    let code = find_extension(
        &channel["_payload"]["extension"],
        &format!("{BACKPORT}backport-payload-content"),
    )
    .and_then(|e| e["valueCode"].as_str());
    match code {
        Some(code) => Content::parse(code).unwrap_or_else(|| {
            issues.push(issue(
                IssueType::Value,
                format!("payload content '{code}' is not empty, id-only or full-resource"),
                "Subscription.channel.payload.extension",
            ));
            Content::Empty
        }),
        None if has_payload => Content::FullResource,
        None => Content::Empty,
    }
}

/// A search URL (`Observation?code=…`): R4 criteria; otherwise a topic
/// canonical.
fn read_kind(
    resource: &Value,
    registry: &Registry,
    topic: &dyn Fn(&str) -> Option<std::sync::Arc<Topic>>,
    issues: &mut Vec<Issue>,
) -> Option<Kind> {
    let Some(criteria) = resource["criteria"].as_str().filter(|c| !c.is_empty()) else {
        issues.push(issue(
            IssueType::Required,
            "criteria is required",
            "Subscription.criteria",
        ));
        return None;
    };
    let is_topic = criteria.starts_with("http://") || criteria.starts_with("https://") || criteria.starts_with("urn:");
    if !is_topic {
        let (rtype, query) = criteria.split_once('?').unwrap_or((criteria, ""));
        let Some(rtype) = ResourceType::parse(rtype) else {
            issues.push(issue(
                IssueType::Value,
                format!("criteria '{criteria}' is neither Type?query nor a topic canonical URL"),
                "Subscription.criteria",
            ));
            return None;
        };
        let clauses = if query.is_empty() {
            Ok(Vec::new())
        } else {
            parse_criteria(rtype, query, registry)
        };
        return match clauses {
            Ok(clauses) => Some(Kind::Criteria {
                resource_type: rtype.to_string(),
                clauses,
            }),
            Err(message) => {
                issues.push(issue(IssueType::Value, message, "Subscription.criteria"));
                None
            }
        };
    }
    let Some(found) = topic(criteria) else {
        issues.push(issue(
            IssueType::NotFound,
            format!("the subscription topic '{criteria}' is not known to this server"),
            "Subscription.criteria",
        ));
        return None;
    };
    let mut filters = Vec::new();
    let list = &resource["_criteria"]["extension"];
    for (i, ext) in list.as_array().into_iter().flatten().enumerate() {
        if ext["url"] != format!("{BACKPORT}backport-filter-criteria") {
            continue;
        }
        let at = format!("Subscription.criteria.extension[{i}]");
        match read_filter(ext["valueString"].as_str().unwrap_or_default(), &found, registry) {
            Ok(filter) => filters.push(filter),
            Err(message) => issues.push(issue(IssueType::Value, message, &at)),
        }
    }
    Some(Kind::Topic {
        url: criteria.to_owned(),
        filters,
    })
}

/// `Encounter?patient=Patient/123` (or `patient=…` for every type the topic
/// triggers on): allowed only on the topic's `canFilterBy` parameters.
fn read_filter(text: &str, topic: &Topic, registry: &Registry) -> Result<(Option<String>, Vec<Clause>), String> {
    let (rtype, query) = match text.split_once('?') {
        Some((t, q)) => (Some(t), q),
        None => (None, text),
    };
    let types: Vec<String> = match rtype {
        Some(t) => vec![ResourceType::parse(t)
            .ok_or_else(|| format!("filter '{text}': '{t}' is not a resource type"))?
            .to_string()],
        None => topic.triggers.iter().map(|t| t.resource_type.clone()).collect(),
    };
    let mut all = Vec::new();
    for t in &types {
        let Some(rt) = ResourceType::parse(t) else { continue };
        let clauses = parse_criteria(rt, query, registry).map_err(|m| format!("filter '{text}': {m}"))?;
        for c in &clauses {
            let allowed = topic
                .can_filter_by
                .iter()
                .any(|(ft, code)| *code == c.code && ft.as_ref().is_none_or(|ft| ft == t));
            if !allowed {
                return Err(format!(
                    "filter '{text}': the topic {} does not allow filtering {t} by '{}' (canFilterBy)",
                    topic.url, c.code
                ));
            }
        }
        all = clauses;
    }
    Ok((rtype.map(str::to_owned), all))
}

/// How a client write of a Subscription is stored: the server manages the
/// status, so anything but `off` is stored as `requested` (the engine then
/// handshakes and activates it).
pub fn admit_status(resource: &mut Value) {
    let off = resource["status"] == "off";
    if let Some(obj) = resource.as_object_mut() {
        obj.insert(
            "status".into(),
            Value::String(if off { "off" } else { "requested" }.to_owned()),
        );
        obj.remove("error");
    }
}
