//! What an element's `type` says: its types, the definition its children
//! come from, the extension definition it is bound to.

use serde_json::{Map, Value};

pub(super) fn types(element: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    element.get("type").and_then(Value::as_array).into_iter().flatten()
}

/// The definition a single-typed element's children come from.
pub(super) fn single_type_definition(element: &Map<String, Value>) -> Option<String> {
    let mut all = types(element);
    let only = all.next()?;
    if all.next().is_some() {
        return None;
    }
    if let Some(profile) = first_profile(only) {
        return Some(profile.to_owned());
    }
    let code = only.get("code").and_then(Value::as_str)?;
    Some(if code.contains(':') {
        code.to_owned()
    } else {
        format!("http://hl7.org/fhir/StructureDefinition/{code}")
    })
}

fn first_profile(type_ref: &Value) -> Option<&str> {
    type_ref.get("profile")?.as_array()?.first()?.as_str()
}

/// The extension definition an element of type `Extension` is bound to.
pub(super) fn extension_profile(element: &Map<String, Value>) -> Option<String> {
    let mut all = types(element);
    let only = all.next()?;
    if all.next().is_some() || only.get("code").and_then(Value::as_str) != Some("Extension") {
        return None;
    }
    first_profile(only).map(str::to_owned)
}
