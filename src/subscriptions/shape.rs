//! Notification shapes (R5 `SubscriptionTopic.notificationShape`): for a
//! focus of a given type, the resources a notification brings along,
//! written as search `_include` / `_revinclude` directives rooted in the
//! focus (`Encounter:patient`, `Encounter:patient&iterate=Patient:link`).
//!
//! They are found by search itself: one search `Type?_id=<focus>` with the
//! shape's directives, whose included resources become the notification's
//! additional context (`additional-context` parts of the event, and an
//! entry each: `fullUrl` and `request` / `response` for `id-only`, the
//! resource too for `full-resource`; nothing for `empty`). What they are is
//! what the server holds when the notification is built, as for a search.

use serde_json::Value;

use super::spec::{Content, Subscription};
use super::topic::TopicError;
use crate::error::FhirError;
use crate::index::Registry;
use crate::model::ResourceType;
use crate::rest::Context;
use crate::search::params::{self, ParseOptions};
use crate::search::{Env, Plan};
use crate::store::{Delivery, DeliveryKind};

/// One `notificationShape`: its focus type and its directives as the query
/// pairs of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub resource_type: String,
    pub pairs: Vec<(String, String)>,
}

/// A resource a notification brings along with its focus.
#[derive(Debug, Clone, PartialEq)]
pub struct Included {
    pub resource_type: String,
    pub id: String,
    pub resource: Value,
}

impl Shape {
    /// Reads one R5-shaped `notificationShape` (`at`: its FHIRPath) and
    /// checks its directives as a search would.
    pub fn read(shape: &Value, registry: &Registry, at: &str) -> Result<Shape, TopicError> {
        let rtype = shape["resource"]
            .as_str()
            .and_then(|uri| ResourceType::parse(uri.rsplit('/').next().unwrap_or(uri)))
            .ok_or_else(|| TopicError {
                message: "notificationShape.resource is not a resource type".into(),
                expression: format!("{at}.resource"),
            })?;
        let mut pairs = Vec::new();
        for (name, parameter) in [("include", "_include"), ("revInclude", "_revinclude")] {
            for (i, directive) in super::topic::list(&shape[name]).into_iter().enumerate() {
                let text = directive.as_str().unwrap_or_default();
                directive_pairs(parameter, text, &mut pairs).map_err(|message| TopicError {
                    message,
                    expression: format!("{at}.{name}[{i}]"),
                })?;
            }
        }
        let strict = ParseOptions {
            strict: true,
            ..ParseOptions::default()
        };
        params::parse(Some(rtype.as_str()), &pairs, registry, &strict).map_err(|e| TopicError {
            message: format!("notificationShape: {}", describe(e)),
            expression: at.to_owned(),
        })?;
        Ok(Shape {
            resource_type: rtype.to_string(),
            pairs,
        })
    }
}

/// `Encounter:patient&iterate=Patient:link` → `_include=Encounter:patient`,
/// `_include:iterate=Patient:link`.
fn directive_pairs(parameter: &str, text: &str, pairs: &mut Vec<(String, String)>) -> Result<(), String> {
    let mut pieces = text.split('&');
    let first = pieces.next().unwrap_or_default().trim();
    if first.is_empty() {
        return Err(format!("'{text}' is not an {parameter} directive"));
    }
    pairs.push((parameter.to_owned(), first.to_owned()));
    for piece in pieces {
        match piece.split_once('=') {
            Some(("iterate", value)) => pairs.push((format!("{parameter}:iterate"), value.trim().to_owned())),
            _ => return Err(format!("'{piece}' in '{text}': only iterate=… may follow a directive")),
        }
    }
    Ok(())
}

fn describe(error: FhirError) -> String {
    match error {
        FhirError::Invalid(issues) => issues
            .iter()
            .map(|i| i.diagnostics.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// The resources the topic's shape brings along with the focus of `d`,
/// for a notification of `content`: none for `empty`, for R4 criteria
/// subscriptions (no topic) and for what is not an event.
pub async fn included(
    ctx: &Context,
    sub: &Subscription,
    d: &Delivery,
    content: Content,
) -> Result<Vec<Included>, FhirError> {
    let (Some(focus), DeliveryKind::Event, false) = (&d.focus, d.kind, content == Content::Empty) else {
        return Ok(Vec::new());
    };
    let Some(topic) = sub.topic_url().and_then(|url| ctx.subscriptions.topic(url)) else {
        return Ok(Vec::new());
    };
    let Some(shape) = topic.shapes.iter().find(|s| s.resource_type == focus.resource_type) else {
        return Ok(Vec::new());
    };
    let mut pairs = vec![("_id".to_owned(), focus.id.clone())];
    pairs.extend(shape.pairs.iter().cloned());
    let registry = ctx.registry.current();
    let request = params::parse(Some(&focus.resource_type), &pairs, &registry, &ParseOptions::default())?;
    let env = Env {
        dialect: ctx.store.dialect(),
        base: ctx.subscriptions.base(),
        now: ctx.clock.now_micros(),
    };
    let plan = Plan::compile(request, &registry, env, &[])?;
    let page = crate::search::run(&ctx.store, &plan).await?;
    for warning in &page.warnings {
        tracing::warn!(subscription = %sub.id, %warning, "a notification's included resources were cut short");
    }
    Ok(page
        .included
        .into_iter()
        .filter_map(|row| {
            let resource = serde_json::from_slice(&row.body).ok()?;
            Some(Included {
                resource_type: row.resource_type,
                id: row.id,
                resource,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn directives_become_include_pairs_and_bad_ones_are_refused_where_they_are() {
        let shape = json!({"resource": "http://hl7.org/fhir/StructureDefinition/Encounter",
            "include": ["Encounter:patient&iterate=Patient:link", "Encounter:location"],
            "revInclude": "Observation:encounter"});
        let read = Shape::read(&shape, Registry::r4(), "SubscriptionTopic.notificationShape[0]");
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        assert_eq!(
            read,
            Ok(Shape {
                resource_type: "Encounter".into(),
                pairs: pairs(&[
                    ("_include", "Encounter:patient"),
                    ("_include:iterate", "Patient:link"),
                    ("_include", "Encounter:location"),
                    ("_revinclude", "Observation:encounter"),
                ]),
            })
        );
        let bad = json!({"resource": "Encounter", "include": ["Encounter:patient", "Encounter:nonsense"]});
        let refused = Shape::read(&bad, Registry::r4(), "SubscriptionTopic.notificationShape[0]");
        assert_eq!(
            refused.map_err(|e| e.expression),
            Err("SubscriptionTopic.notificationShape[0]".to_owned())
        );
        let bad = json!({"resource": "Encounter", "include": ["Encounter:patient&sort=date"]});
        let refused = Shape::read(&bad, Registry::r4(), "SubscriptionTopic.notificationShape[1]");
        assert_eq!(
            refused.map_err(|e| e.expression),
            Err("SubscriptionTopic.notificationShape[1].include[0]".to_owned())
        );
    }
}
