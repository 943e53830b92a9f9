//! Token parameters (search.html "token"): codes with an optional system,
//! from Coding, CodeableConcept, Identifier, ContactPoint and the primitives
//! searched by exact value (code, boolean, string, uri, id…).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{member, IndexValue};
use crate::fhirpath::Item;

pub(super) fn values(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let Item::Node(node) = item else {
        if let Some(code) = system_code(item) {
            push(None, Some(code.into_owned()), None, out);
        }
        return;
    };
    let Some(json) = node.json() else {
        return;
    };
    match (node.type_name(), json) {
        (Some("Coding"), Value::Object(coding)) => push_coding(coding, out),
        (Some("CodeableConcept"), Value::Object(concept)) => push_concept(concept, out),
        (Some("Identifier"), Value::Object(identifier)) => push_identifier(identifier, out),
        // The spec maps ContactPoint.value alone; ContactPoint.system is a
        // code (phone, email), not a URI, and parameters filter on it already
        // (`telecom.where(system='phone')`).
        (Some("ContactPoint"), Value::Object(contact)) => {
            if let Some(value) = contact.get("value").and_then(Value::as_str) {
                push(None, Some(value.to_owned()), None, out);
            }
        }
        (_, Value::Object(_)) => {}
        _ => {
            if let Some(code) = item.system().as_ref().and_then(system_code) {
                push(None, Some(code.into_owned()), None, out);
            }
        }
    }
}

/// A primitive's token text: its string, `true`/`false`, or a number as written.
fn system_code<'a>(item: &Item<'a>) -> Option<Cow<'a, str>> {
    match item {
        Item::String(text) => Some(text.clone()),
        Item::Boolean(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
        Item::Integer(number) => Some(Cow::Owned(number.to_string())),
        Item::Decimal(number) => Some(Cow::Owned(number.to_string())),
        _ => None,
    }
}

fn push_coding(coding: &Map<String, Value>, out: &mut Vec<IndexValue>) {
    let text = |key| coding.get(key).and_then(Value::as_str).map(str::to_owned);
    push(text("system"), text("code"), text("display"), out);
}

/// Every coding, with its display; then CodeableConcept.text on its own, so
/// `:text` finds it whatever the codings are.
fn push_concept(concept: &Map<String, Value>, out: &mut Vec<IndexValue>) {
    if let Some(codings) = concept.get("coding").and_then(Value::as_array) {
        codings
            .iter()
            .filter_map(Value::as_object)
            .for_each(|coding| push_coding(coding, out));
    }
    if let Some(text) = concept.get("text").and_then(Value::as_str) {
        push(None, None, Some(text.to_owned()), out);
    }
}

/// system|value, with Identifier.type.text for `:text`; then, for
/// `:of-type`, one row per type coding whose system is
/// `<type system>|<type code>` and whose code is the value. That system can
/// never equal a searched one (a search system has no `|`, it would be the
/// separator), so these rows only ever answer `:of-type` and plain
/// value-only searches, which they answer as the main row does.
fn push_identifier(identifier: &Map<String, Value>, out: &mut Vec<IndexValue>) {
    let text = |key| identifier.get(key).and_then(Value::as_str).map(str::to_owned);
    let identifier_type = identifier.get("type");
    let type_text = identifier_type.and_then(|t| member(t, "text")).map(str::to_owned);
    push(text("system"), text("value"), type_text, out);
    let Some(value) = text("value") else { return };
    let codings = identifier_type.and_then(|t| t.get("coding")).and_then(Value::as_array);
    for coding in codings.into_iter().flatten() {
        let (Some(system), Some(code)) = (member(coding, "system"), member(coding, "code")) else {
            continue;
        };
        push(Some(of_type_system(system, code)), Some(value.clone()), None, out);
    }
}

/// The system column of an `:of-type` row (see [`push_identifier`]).
pub fn of_type_system(system: &str, code: &str) -> String {
    format!("{system}|{code}")
}

/// Adds the token unless it is entirely empty.
fn push(system: Option<String>, code: Option<String>, text: Option<String>, out: &mut Vec<IndexValue>) {
    if system.is_some() || code.is_some() || text.is_some() {
        out.push(IndexValue::Token { system, code, text });
    }
}
