//! Reference and uri parameters (search.html "reference", "uri").
//!
//! A literal reference is kept as written and, when its tail is `Type/id`
//! (relative, absolute, or with `/_history/version`), also as type, id and
//! version, so `subject=Patient/1`, `subject=1` and `subject:Patient=1` all
//! work. A logical reference (Reference.identifier) is kept for
//! `:identifier`. A canonical is its URL and version (`url|version`).

use serde_json::Value;

use super::{member, IndexValue};
use crate::fhirpath::{Item, Node};
use crate::model::id::Id;
use crate::model::resource_type::ResourceType;

pub(super) fn references(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let value = match item {
        Item::Node(node) => node_reference(node),
        Item::String(text) => Some(literal(text)),
        _ => None,
    };
    out.extend(value);
}

pub(super) fn uris(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let text = match item {
        Item::Node(node) => node.json().and_then(Value::as_str),
        Item::String(text) => Some(text.as_ref()),
        _ => None,
    };
    if let Some(value) = text {
        out.push(IndexValue::Uri {
            value: value.to_owned(),
        });
    }
}

fn node_reference(node: &Node<'_>) -> Option<IndexValue> {
    let json = node.json()?;
    if node.is_resource() {
        return Some(resource_itself(node, json));
    }
    match (node.type_name(), json) {
        (Some("Reference"), Value::Object(_)) => reference(json),
        (Some("canonical"), Value::String(text)) => Some(canonical(text)),
        // A uri used as a reference (`ConceptMap.source[x]`); a code or a
        // plain string is no reference, even where an expression yields one.
        (Some("uri" | "url" | "uuid" | "oid") | None, Value::String(text)) => Some(literal(text)),
        _ => None,
    }
}

/// A Reference: its literal part, its logical part, or both.
fn reference(reference: &Value) -> Option<IndexValue> {
    let identifier = reference.get("identifier").and_then(|identifier| {
        let value = member(identifier, "value")?;
        Some((member(identifier, "system").map(str::to_owned), value.to_owned()))
    });
    let mut value = match member(reference, "reference") {
        Some(text) => literal(text),
        None if identifier.is_some() => empty(),
        None => return None,
    };
    if let IndexValue::Reference { identifier: slot, .. } = &mut value {
        *slot = identifier;
    }
    Some(value)
}

/// A reference URL: relative `Type/id[/_history/v]`, absolute with such a
/// tail, or anything else (`#contained`, `urn:uuid:…`) kept as written only.
fn literal(text: &str) -> IndexValue {
    let (target_type, id, version) = match type_and_id(text) {
        Some((target_type, id, version)) => (Some(target_type), Some(id), version),
        None => (None, None, None),
    };
    IndexValue::Reference {
        target_type,
        id,
        version,
        url: Some(text.to_owned()),
        identifier: None,
    }
}

/// `Type`, `id` and the version of a `…/Type/id[/_history/version]` URL.
fn type_and_id(text: &str) -> Option<(String, String, Option<String>)> {
    let (path, version) = match text.split_once("/_history/") {
        Some((path, version)) => (path, Id::parse(version).map(|v| v.to_string())),
        None => (text, None),
    };
    let mut segments = path.rsplit('/');
    let id = Id::parse(segments.next()?)?;
    let target_type = ResourceType::parse(segments.next()?)?;
    Some((target_type.as_str().to_owned(), id.to_string(), version))
}

/// `url|version`: never taken apart as `Type/id`, since a canonical names a
/// definition by its URL, not a resource on this server by id.
fn canonical(text: &str) -> IndexValue {
    let (url, version) = match text.split_once('|') {
        Some((url, version)) => (url, Some(version.to_owned())),
        None => (text, None),
    };
    IndexValue::Reference {
        target_type: None,
        id: None,
        version,
        url: Some(url.to_owned()),
        identifier: None,
    }
}

/// A resource reached by the expression itself (`Bundle.entry[0].resource`)
/// stands for a reference to it.
fn resource_itself(node: &Node<'_>, json: &Value) -> IndexValue {
    let target_type = node.resource_type().map(str::to_owned);
    let id = member(json, "id").map(str::to_owned);
    let url = target_type.as_ref().zip(id.as_ref()).map(|(t, id)| format!("{t}/{id}"));
    IndexValue::Reference {
        target_type,
        id,
        version: None,
        url,
        identifier: None,
    }
}

fn empty() -> IndexValue {
    IndexValue::Reference {
        target_type: None,
        id: None,
        version: None,
        url: None,
        identifier: None,
    }
}
