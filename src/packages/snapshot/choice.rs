//! Choice elements (`value[x]`) and the renamed names that stand for one of
//! their types (`valueQuantity`).

use serde_json::Value;

use super::tree::Node;
use super::types::types;

/// The child named `name`, or the choice element it renames
/// (`valueQuantity` → `value[x]`, flagged `true`).
pub(super) fn find_child(node: &Node, name: &str) -> Option<(usize, bool)> {
    if let Some(index) = node.children.iter().position(|c| c.name == name) {
        return Some((index, false));
    }
    node.children
        .iter()
        .position(|c| choice_type(c, name).is_some())
        .map(|index| (index, true))
}

/// For a choice element and a renamed name, the type code it names:
/// `value[x]` + `valueQuantity` → `Quantity`, + `valueDateTime` → `dateTime`.
fn choice_type<'n>(choice: &'n Node, name: &str) -> Option<&'n str> {
    let stem = choice.name.strip_suffix("[x]")?;
    let suffix = name.strip_prefix(stem)?;
    types(&choice.element)
        .filter_map(|t| t.get("code").and_then(Value::as_str))
        .find(|code| capitalised_eq(code, suffix))
}

fn capitalised_eq(code: &str, suffix: &str) -> bool {
    let mut a = code.chars();
    let mut b = suffix.chars();
    match (a.next(), b.next()) {
        (Some(x), Some(y)) => x.to_ascii_uppercase() == y && a.as_str() == b.as_str(),
        _ => false,
    }
}

/// Keeps only the type a choice rename names.
pub(super) fn narrow_choice(choice: &mut Node, renamed: &str) {
    let Some(code) = choice_type(choice, renamed).map(str::to_owned) else {
        return;
    };
    if let Some(Value::Array(list)) = choice.element.get_mut("type") {
        list.retain(|t| t.get("code").and_then(Value::as_str) == Some(code.as_str()));
    }
}
