//! capabilities — `GET [base]/metadata`
//! (<https://hl7.org/fhir/R4/http.html#capabilities>). Generated from what is
//! built: every claim here has code and tests behind it; what is not built
//! is not claimed. Search parameters are listed
//! per type from the registry searches use, leaving out the kinds search
//! refuses (`special` other than `near`, composites the index cannot
//! hold), plus the
//! full-text parameters `_text` and `_content`, which have no expression
//! and so are not in the registry.

use serde_json::{json, Value};

use super::Context;
use crate::index::{ParamType, Registry, SearchParam};
use crate::model::{definitions, ResourceType};

pub fn capability_statement(ctx: &Context, base: &str, started_at: &str) -> Value {
    let registry = ctx.registry.current();
    let interactions = json!([
        {"code": "read"}, {"code": "vread"}, {"code": "update"}, {"code": "patch"},
        {"code": "delete"}, {"code": "history-instance"}, {"code": "history-type"}, {"code": "create"},
        {"code": "search-type"}
    ]);
    let resources: Vec<Value> = ResourceType::all()
        .map(|t| {
            let mut resource = json!({
                "type": t.as_str(),
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
                "interaction": interactions,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": ctx.update_create,
                "conditionalCreate": true,
                // If-None-Match and If-Modified-Since on read.
                "conditionalRead": "full-support",
                "conditionalUpdate": true,
                "conditionalDelete": ctx.conditional_delete.as_str(),
                "searchInclude": search_includes(&registry, t),
                "searchParam": search_params(registry.for_type(t.as_str()), full_text_params(Some(t))),
            });
            resource["operation"] = Value::Array(operations(t));
            if t.as_str() == "Subscription" {
                describe_subscriptions(ctx, &mut resource);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": started_at,
        "publisher": "Ipê",
        "kind": "instance",
        "software": {"name": "Ipê", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Ipê FHIR R4 server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml"],
        // JSON Patch, and FHIRPath Patch as a Parameters resource in either format.
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            // Where websocket subscriptions are bound (R4 core extension).
            "extension": [{
                "url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket",
                "valueUri": crate::subscriptions::websocket::url(base),
            }],
            "resource": resources,
            "interaction": [
                {"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}, {"code": "search-system"}
            ],
            "searchParam": search_params(registry.for_type("Resource"), full_text_params(None)),
        }]
    })
}

/// The operations served on a type: `$validate` on all, the terminology
/// operations on theirs (`super::operations`), and the subscription ones.
fn operations(t: ResourceType) -> Vec<Value> {
    let validate = json!({"name": super::validate::NAME, "definition": super::validate::DEFINITION});
    let mut ops: Vec<Value> = std::iter::once(validate)
        .chain(
            super::operations::OPERATIONS
                .iter()
                .filter(|(rtype, _, _)| *rtype == t.as_str())
                .map(|(rtype, name, _)| json!({"name": name, "definition": super::operations::definition_url(rtype, name)})),
        )
        .collect();
    if t.as_str() == "Subscription" {
        ops.extend(
            crate::subscriptions::operations::OPERATIONS
                .iter()
                .map(|(name, definition)| json!({"name": name, "definition": definition})),
        );
    }
    ops
}

/// The topics subscriptions can use (the backport IG's
/// `capabilitystatement-subscriptiontopic-canonical`), and what is
/// delivered (`spec::CHANNELS`).
fn describe_subscriptions(ctx: &Context, resource: &mut Value) {
    const TOPIC: &str =
        "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical";
    let topics: Vec<Value> = ctx
        .subscriptions
        .topics()
        .iter()
        .map(|t| json!({"url": TOPIC, "valueCanonical": t.url}))
        .collect();
    if !topics.is_empty() {
        resource["extension"] = Value::Array(topics);
    }
    resource["supportedProfile"] =
        json!(["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"]);
    resource["documentation"] = json!(format!(
        "R4 criteria subscriptions (criteria = a search on the resource's own parameters; no chains or _has) and \
         topic-based subscriptions of the Subscriptions R5 Backport IG 1.1.0. Channel types delivered: {}; \
         websocket clients bind at the URL of the capabilitystatement-websocket extension with \
         'bind-with-token <token from $get-ws-binding-token>' or the R4 'bind <id>'. \
         Not supported (refused at create): {}.",
        crate::subscriptions::spec::CHANNELS.join(", "),
        crate::subscriptions::spec::NOT_SUPPORTED.join("; ")
    ));
}

/// Whether search can use the parameter: every kind but `special` (`near`
/// aside: positions are indexed), and composites of at most three plain
/// components.
fn searchable(param: &SearchParam) -> bool {
    match param.kind {
        ParamType::Special => crate::index::is_searchable_special(&param.code),
        ParamType::Composite => {
            !param.components.is_empty()
                && param.components.len() <= 3
                && param
                    .components
                    .iter()
                    .all(|c| !matches!(c.kind, ParamType::Composite | ParamType::Special))
        }
        _ => true,
    }
}

fn search_params<'r>(params: impl Iterator<Item = &'r SearchParam>, full_text: Vec<Value>) -> Vec<Value> {
    let mut listed: Vec<Value> = params
        .filter(|p| searchable(p))
        .map(|p| json!({"name": p.code, "definition": p.url, "type": p.kind.as_str()}))
        .chain(full_text)
        .collect();
    listed.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    listed
}

/// `_content` on every type, `_text` on those with a narrative (R4 defines
/// it on DomainResource; `None`: the system level, where both apply).
fn full_text_params(t: Option<ResourceType>) -> Vec<Value> {
    let mut params = vec![json!({"name": "_content", "type": "string",
        "definition": "http://hl7.org/fhir/SearchParameter/Resource-content"})];
    if t.is_none_or(|t| definitions::r4().is_a(t.as_str(), "DomainResource")) {
        params.push(json!({"name": "_text", "type": "string",
            "definition": "http://hl7.org/fhir/SearchParameter/DomainResource-text"}));
    }
    params
}

/// `_include` values: `*` and `Type:param` for each reference parameter.
fn search_includes(registry: &Registry, t: ResourceType) -> Vec<String> {
    let mut includes: Vec<String> = registry
        .for_type(t.as_str())
        .filter(|p| p.kind == ParamType::Reference)
        .map(|p| format!("{t}:{}", p.code))
        .collect();
    includes.sort();
    includes.insert(0, "*".to_owned());
    includes
}
