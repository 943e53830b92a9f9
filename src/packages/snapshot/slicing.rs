//! Slicing the generator adds or changes on its own.

use serde_json::{json, Value};

use super::tree::Node;

/// Slicing the Publisher assumes when a profile slices without saying how:
/// extensions by url, choice elements by type.
pub(super) fn ensure_slicing(node: &mut Node) {
    if let Some(Value::Object(slicing)) = node.element.get_mut("slicing") {
        // Type slicing is unordered; the Publisher says so when a profile
        // leaves it out.
        if node.name.ends_with("[x]") && !slicing.contains_key("ordered") {
            slicing.insert("ordered".into(), Value::Bool(false));
        }
        return;
    }
    let discriminator = if node.name == "extension" || node.name == "modifierExtension" {
        json!({"type": "value", "path": "url"})
    } else if node.name.ends_with("[x]") {
        json!({"type": "type", "path": "$this"})
    } else {
        return;
    };
    node.element.insert(
        "slicing".into(),
        json!({"discriminator": [discriminator], "ordered": false, "rules": "open"}),
    );
}

/// A choice left with one type has no room for other type slices.
pub(super) fn close_slicing(choice: &mut Node) {
    if let Some(Value::Object(slicing)) = choice.element.get_mut("slicing") {
        slicing.insert("rules".into(), Value::String("closed".into()));
    }
}
