//! Subscription topics (R5 `SubscriptionTopic`,
//! <https://hl7.org/fhir/R5/subscriptiontopic.html>) as the Subscriptions
//! Backport IG carries them on R4: a `Basic` resource with code
//! `SubscriptionTopic` whose elements are cross-version extensions
//! (`http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.*`,
//! or the 4.3 ones of earlier IG builds). A `Basic` is turned into the R5
//! JSON shape first, so one reader serves it and an R5-shaped
//! `SubscriptionTopic` from a loaded package alike.
//!
//! A topic is compiled once: its query criteria into search clauses for the
//! in-memory matcher, its FHIRPath criteria into an expression.

use serde_json::{json, Map, Value};

use super::matcher::{self, Candidate};
use super::shape::Shape;
use crate::fhirpath::{Env, Expression};
use crate::index::{IndexEntry, Registry};
use crate::model::ResourceType;
use crate::search::params::{self, Clause, ParseOptions};
use crate::store::ChangeOp;

const EXTENSION_PREFIXES: [&str; 2] = [
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.",
    "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.",
];

/// A topic, ready to evaluate.
#[derive(Debug)]
pub struct Topic {
    pub url: String,
    pub title: Option<String>,
    pub status: String,
    pub triggers: Vec<Trigger>,
    /// (resource type or `None` for any, filter parameter code).
    pub can_filter_by: Vec<(Option<String>, String)>,
    /// What notifications bring along with a focus, by its type.
    pub shapes: Vec<Shape>,
    /// The `Basic` it was read from, when stored on the server.
    pub basic_id: Option<String>,
}

#[derive(Debug)]
pub struct Trigger {
    pub resource_type: String,
    /// Empty: every interaction.
    pub interactions: Vec<ChangeOp>,
    pub query: Option<QueryCriteria>,
    pub fhirpath: Option<(String, Expression)>,
}

#[derive(Debug)]
pub struct QueryCriteria {
    pub previous: Option<Vec<Clause>>,
    pub current: Option<Vec<Clause>>,
    /// `resultForCreate = test-passes`: a create passes the `previous` test.
    pub result_for_create: bool,
    /// `resultForDelete = test-passes`: a delete passes the `current` test.
    pub result_for_delete: bool,
    pub require_both: bool,
}

/// A topic that cannot be used, and where (a FHIRPath into the topic's R5 shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError {
    pub message: String,
    pub expression: String,
}

fn error(message: impl Into<String>, expression: impl Into<String>) -> TopicError {
    TopicError {
        message: message.into(),
        expression: expression.into(),
    }
}

/// Whether a `Basic` resource is a topic (its code is `SubscriptionTopic`).
pub fn is_topic_basic(resource: &Value) -> bool {
    resource["code"]["coding"]
        .as_array()
        .is_some_and(|codings| codings.iter().any(|c| c["code"] == "SubscriptionTopic"))
}

/// The R5 `SubscriptionTopic` JSON a topic `Basic` stands for.
pub fn basic_to_r5(basic: &Value) -> Value {
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("SubscriptionTopic"));
    for ext in basic["modifierExtension"].as_array().into_iter().flatten() {
        if let Some(name) = element_name(ext) {
            add(&mut out, name, extension_value(ext));
        }
    }
    for ext in basic["extension"].as_array().into_iter().flatten() {
        if let Some(name) = element_name(ext) {
            add(&mut out, name, extension_value(ext));
        }
    }
    Value::Object(out)
}

fn element_name(ext: &Value) -> Option<&str> {
    let url = ext["url"].as_str()?;
    EXTENSION_PREFIXES.iter().find_map(|p| url.strip_prefix(p))
}

/// A value[x], or for a complex extension an object of its children
/// (repeated children as arrays).
fn extension_value(ext: &Value) -> Value {
    if let Some(obj) = ext.as_object() {
        if let Some((_, v)) = obj.iter().find(|(k, _)| k.starts_with("value")) {
            return v.clone();
        }
    }
    let mut out = Map::new();
    for child in ext["extension"].as_array().into_iter().flatten() {
        if let Some(name) = child["url"].as_str() {
            add(&mut out, name, extension_value(child));
        }
    }
    Value::Object(out)
}

fn add(obj: &mut Map<String, Value>, name: &str, value: Value) {
    match obj.get_mut(name) {
        None => {
            obj.insert(name.to_owned(), value);
        }
        Some(Value::Array(list)) => list.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// A single value or an array, as a list.
pub(crate) fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// `Encounter` or `http://hl7.org/fhir/StructureDefinition/Encounter`.
fn resource_type_of(uri: &str) -> Option<ResourceType> {
    ResourceType::parse(uri.rsplit('/').next().unwrap_or(uri))
}

impl Topic {
    /// Reads and compiles an R5-shaped topic.
    pub fn from_r5(topic: &Value, registry: &Registry, basic_id: Option<String>) -> Result<Topic, TopicError> {
        let url = topic["url"]
            .as_str()
            .ok_or_else(|| error("a subscription topic needs a url", "SubscriptionTopic.url"))?;
        let mut triggers = Vec::new();
        for (i, t) in list(&topic["resourceTrigger"]).into_iter().enumerate() {
            triggers.push(Trigger::read(
                t,
                registry,
                &format!("SubscriptionTopic.resourceTrigger[{i}]"),
            )?);
        }
        if triggers.is_empty() {
            return Err(error(
                "the topic has no resourceTrigger (event triggers are not supported)",
                "SubscriptionTopic.resourceTrigger",
            ));
        }
        let can_filter_by = list(&topic["canFilterBy"])
            .into_iter()
            .filter_map(|f| {
                let param = f["filterParameter"].as_str()?;
                let rtype = f["resource"].as_str().and_then(resource_type_of).map(|t| t.to_string());
                Some((rtype, param.to_owned()))
            })
            .collect();
        let mut shapes = Vec::new();
        for (i, shape) in list(&topic["notificationShape"]).into_iter().enumerate() {
            shapes.push(Shape::read(
                shape,
                registry,
                &format!("SubscriptionTopic.notificationShape[{i}]"),
            )?);
        }
        Ok(Topic {
            url: url.to_owned(),
            title: topic["title"].as_str().map(str::to_owned),
            status: topic["status"].as_str().unwrap_or("active").to_owned(),
            triggers,
            can_filter_by,
            shapes,
            basic_id,
        })
    }

    /// Whether `rtype` is a resource this topic triggers on.
    pub fn watches(&self, rtype: &str) -> bool {
        self.triggers.iter().any(|t| t.resource_type == rtype)
    }
}

impl Trigger {
    fn read(t: &Value, registry: &Registry, at: &str) -> Result<Trigger, TopicError> {
        let rtype = t["resource"].as_str().and_then(resource_type_of).ok_or_else(|| {
            error(
                "resourceTrigger.resource is not a resource type",
                format!("{at}.resource"),
            )
        })?;
        let mut interactions = Vec::new();
        for code in list(&t["supportedInteraction"]) {
            interactions.push(match code.as_str() {
                Some("create") => ChangeOp::Create,
                Some("update") => ChangeOp::Update,
                Some("delete") => ChangeOp::Delete,
                _ => {
                    return Err(error(
                        format!("unknown supportedInteraction {code}"),
                        format!("{at}.supportedInteraction"),
                    ))
                }
            });
        }
        let query = match t.get("queryCriteria") {
            Some(q) if q.is_object() => Some(QueryCriteria::read(q, rtype, registry, &format!("{at}.queryCriteria"))?),
            _ => None,
        };
        let fhirpath = match t["fhirPathCriteria"].as_str() {
            Some(text) => Some((
                text.to_owned(),
                Expression::compile(text)
                    .map_err(|e| error(format!("fhirPathCriteria: {e}"), format!("{at}.fhirPathCriteria")))?,
            )),
            None => None,
        };
        Ok(Trigger {
            resource_type: rtype.to_string(),
            interactions,
            query,
            fhirpath,
        })
    }

    /// Whether the change `op` from `previous` to `current` fires this
    /// trigger (R5 subscriptiontopic.html#resourcetrigger).
    pub fn fires(&self, op: ChangeOp, previous: Option<&Side<'_>>, current: Option<&Side<'_>>) -> bool {
        if !self.interactions.is_empty() && !self.interactions.contains(&op) {
            return false;
        }
        if let Some(q) = &self.query {
            if !q.passes(op, previous, current) {
                return false;
            }
        }
        match &self.fhirpath {
            Some((_, expr)) => fhirpath_passes(expr, previous, current),
            None => true,
        }
    }
}

/// One side of a change: the resource and its index rows.
pub struct Side<'a> {
    pub resource: &'a Value,
    pub candidate: Candidate<'a>,
}

impl QueryCriteria {
    fn read(q: &Value, rtype: ResourceType, registry: &Registry, at: &str) -> Result<Self, TopicError> {
        let clauses = |name: &str| -> Result<Option<Vec<Clause>>, TopicError> {
            match q[name].as_str() {
                Some(text) => parse_criteria(rtype, text, registry)
                    .map(Some)
                    .map_err(|m| error(m, format!("{at}.{name}"))),
                None => Ok(None),
            }
        };
        let passes = |name: &str| q[name].as_str() == Some("test-passes");
        Ok(QueryCriteria {
            previous: clauses("previous")?,
            current: clauses("current")?,
            result_for_create: passes("resultForCreate"),
            result_for_delete: passes("resultForDelete"),
            require_both: q["requireBoth"].as_bool().unwrap_or(false),
        })
    }

    fn passes(&self, op: ChangeOp, previous: Option<&Side<'_>>, current: Option<&Side<'_>>) -> bool {
        let test = |clauses: &Option<Vec<Clause>>, side: Option<&Side<'_>>, missing: bool| {
            clauses.as_ref().map(|c| match side {
                Some(s) => matcher::matches_all(c, &s.candidate),
                None => missing,
            })
        };
        let previous = test(
            &self.previous,
            previous,
            op == ChangeOp::Create && self.result_for_create,
        );
        let current = test(&self.current, current, op == ChangeOp::Delete && self.result_for_delete);
        match (previous, current) {
            (None, None) => true,
            (Some(p), None) => p,
            (None, Some(c)) => c,
            (Some(p), Some(c)) if self.require_both => p && c,
            (Some(p), Some(c)) => p || c,
        }
    }
}

/// `%previous` and `%current` are the versions (empty when there is none).
fn fhirpath_passes(expr: &Expression, previous: Option<&Side<'_>>, current: Option<&Side<'_>>) -> bool {
    let empty = Value::Null;
    let focus = current.or(previous).map_or(&empty, |s| s.resource);
    let mut env = Env::new().with_resource(focus);
    env = match previous {
        Some(p) => env.with_json("previous", p.resource),
        None => env.with_variable("previous", Vec::new()),
    };
    env = match current {
        Some(c) => env.with_json("current", c.resource),
        None => env.with_variable("current", Vec::new()),
    };
    match expr.evaluate_boolean(focus, &env) {
        Ok(result) => result.unwrap_or(false),
        Err(e) => {
            tracing::warn!(error = %e, "a topic's fhirPathCriteria failed; the trigger does not fire");
            false
        }
    }
}

/// A search query on `rtype` (`status:not=finished&code=…`) as clauses the
/// matcher can test on one resource, or why not.
pub fn parse_criteria(rtype: ResourceType, query: &str, registry: &Registry) -> Result<Vec<Clause>, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("'{query}' is not a query string: {e}"))?;
    if pairs.is_empty() {
        return Err(format!("'{query}' has no search parameters"));
    }
    let options = ParseOptions {
        strict: true,
        ..Default::default()
    };
    let request = params::parse(Some(rtype.as_str()), &pairs, registry, &options).map_err(|e| match e {
        crate::error::FhirError::Invalid(issues) => issues
            .iter()
            .map(|i| i.diagnostics.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    })?;
    for clause in &request.clauses {
        matcher::check_supported(clause)?;
    }
    if request.clauses.is_empty() {
        return Err(format!("'{query}' has no criteria (only result parameters)"));
    }
    Ok(request.clauses)
}

/// Index rows of a resource, for a [`Side`].
pub fn index_rows(registry: &Registry, resource: &Value) -> Vec<IndexEntry> {
    crate::index::extract(registry, resource).entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encounter_complete() -> Value {
        let ext = |name: &str, value: Value| {
            let mut e = json!({"url": format!("{}{name}", EXTENSION_PREFIXES[0])});
            if let (Some(obj), Some(v)) = (e.as_object_mut(), value.as_object()) {
                obj.extend(v.clone());
            }
            e
        };
        json!({
            "resourceType": "Basic",
            "modifierExtension": [ext("status", json!({"valueCode": "active"}))],
            "extension": [
                ext("url", json!({"valueUri": "http://example.org/topic/encounter-complete"})),
                ext("resourceTrigger", json!({"extension": [
                    {"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Encounter"},
                    {"url": "supportedInteraction", "valueCode": "create"},
                    {"url": "supportedInteraction", "valueCode": "update"},
                    {"url": "queryCriteria", "extension": [
                        {"url": "previous", "valueString": "status:not=finished"},
                        {"url": "resultForCreate", "valueCode": "test-passes"},
                        {"url": "current", "valueString": "status=finished"},
                        {"url": "resultForDelete", "valueCode": "test-fails"},
                        {"url": "requireBoth", "valueBoolean": true}
                    ]},
                    {"url": "fhirPathCriteria", "valueString": "%current.status = 'finished'"}
                ]})),
                ext("canFilterBy", json!({"extension": [
                    {"url": "resource", "valueUri": "Encounter"},
                    {"url": "filterParameter", "valueString": "patient"}
                ]}))
            ],
            "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]}
        })
    }

    fn side<'a>(resource: &'a Value, rows: &'a [IndexEntry]) -> Side<'a> {
        Side {
            resource,
            candidate: Candidate {
                id: "e",
                last_updated: 0,
                entries: rows,
                base: "http://x",
                now: 0,
            },
        }
    }

    #[test]
    fn a_basic_topic_reads_as_its_r5_shape_and_fires_on_the_transition_only() {
        let basic = encounter_complete();
        assert!(is_topic_basic(&basic));
        let topic = Topic::from_r5(&basic_to_r5(&basic), Registry::r4(), None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(topic.url, "http://example.org/topic/encounter-complete");
        assert_eq!(topic.can_filter_by, vec![(Some("Encounter".into()), "patient".into())]);
        let trigger = &topic.triggers[0];
        assert_eq!(trigger.interactions, vec![ChangeOp::Create, ChangeOp::Update]);
        let planned = json!({"resourceType": "Encounter", "id": "e", "status": "planned", "class": {"code": "x"}});
        let finished = json!({"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "x"}});
        let (p_rows, f_rows) = (
            index_rows(Registry::r4(), &planned),
            index_rows(Registry::r4(), &finished),
        );
        let (p, f) = (side(&planned, &p_rows), side(&finished, &f_rows));
        assert!(trigger.fires(ChangeOp::Update, Some(&p), Some(&f)));
        assert!(!trigger.fires(ChangeOp::Update, Some(&f), Some(&f)), "already finished");
        assert!(
            trigger.fires(ChangeOp::Create, None, Some(&f)),
            "resultForCreate passes"
        );
        assert!(!trigger.fires(ChangeOp::Create, None, Some(&p)));
        assert!(
            !trigger.fires(ChangeOp::Delete, Some(&f), None),
            "delete is not a supported interaction"
        );
    }

    #[test]
    fn a_topic_with_a_chained_criterion_is_refused() {
        let topic = json!({"url": "http://t", "resourceTrigger": {"resource": "Observation",
            "queryCriteria": {"current": "subject.name=x"}}});
        let refused = Topic::from_r5(&topic, Registry::r4(), None).err();
        assert_eq!(
            refused.map(|e| e.expression),
            Some("SubscriptionTopic.resourceTrigger[0].queryCriteria.current".to_owned())
        );
    }
}
