//! One differential element applied to the snapshot element it constrains
//! (the Publisher's `updateFromDefinition`).
//!
//! Most properties are replaced by the differential's value; lists that
//! accumulate down a profile chain (constraints, conditions, aliases,
//! mappings, codes) gain the differential's entries; slicing and binding
//! are merged key by key so a profile may change `rules` without restating
//! the discriminator.

use serde_json::{Map, Value};

/// Never copied: they describe the differential element itself, and ids and
/// paths are written from the tree.
const SKIPPED: &[&str] = &["id", "path", "sliceName"];

/// Lists the differential adds to.
const ACCUMULATED: &[&str] = &["alias", "condition", "code", "mapping"];

/// Applies `diff` onto `target`; constraints without a `source` get the
/// profile's url, as the Publisher records who added them.
pub(super) fn apply(target: &mut Map<String, Value>, diff: &Map<String, Value>, profile_url: &str) {
    for (key, value) in diff {
        let key = key.as_str();
        if SKIPPED.contains(&key) {
            continue;
        }
        match key {
            "constraint" => add_constraints(target, value, Some(profile_url)),
            "slicing" | "binding" => merge_object(target, key, value),
            "extension" => merge_extensions(target, value),
            "type" => {
                target.insert(key.to_owned(), value.clone());
            }
            _ if ACCUMULATED.contains(&key) => append_new(target, key, value),
            _ if is_value_choice(key) => replace_choice(target, key, value),
            _ => {
                target.insert(key.to_owned(), value.clone());
            }
        }
    }
}

/// Adds constraints whose key the element does not have yet.
pub(super) fn add_constraints(target: &mut Map<String, Value>, value: &Value, source: Option<&str>) {
    let Some(new) = value.as_array() else { return };
    update_array(target, "constraint", |list| {
        for constraint in new {
            let key = constraint.get("key");
            if let Some(existing) = list.iter_mut().find(|c| c.get("key") == key) {
                // A profile restating a key it inherits replaces the rule.
                *existing = with_source(constraint, source, existing.get("source"));
            } else {
                list.push(with_source(constraint, source, None));
            }
        }
    });
}

fn with_source(constraint: &Value, source: Option<&str>, inherited: Option<&Value>) -> Value {
    let mut c = constraint.clone();
    if let Some(map) = c.as_object_mut() {
        if !map.contains_key("source") {
            match (inherited, source) {
                (Some(s), _) => {
                    map.insert("source".into(), s.clone());
                }
                (None, Some(s)) => {
                    map.insert("source".into(), Value::String(s.to_owned()));
                }
                (None, None) => {}
            }
        }
    }
    c
}

/// Appends the entries of a list the element does not hold yet.
pub(super) fn append_new(target: &mut Map<String, Value>, key: &str, value: &Value) {
    let Some(new) = value.as_array() else { return };
    update_array(target, key, |list| {
        for item in new {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
    });
}

/// Runs `f` on the array at `key`, made empty when missing or not an array.
fn update_array(target: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Vec<Value>)) {
    if let Some(Value::Array(list)) = target.get_mut(key) {
        f(list);
        return;
    }
    let mut list = Vec::new();
    f(&mut list);
    target.insert(key.to_owned(), Value::Array(list));
}

fn merge_object(target: &mut Map<String, Value>, key: &str, value: &Value) {
    let (Some(Value::Object(base)), Some(diff)) = (target.get_mut(key), value.as_object()) else {
        target.insert(key.to_owned(), value.clone());
        return;
    };
    for (k, v) in diff {
        base.insert(k.clone(), v.clone());
    }
}

/// Element extensions: the differential's replace those with the same url.
fn merge_extensions(target: &mut Map<String, Value>, value: &Value) {
    let Some(new) = value.as_array() else { return };
    update_array(target, "extension", |list| {
        for ext in new {
            let url = ext.get("url");
            list.retain(|e| e.get("url") != url);
            list.push(ext.clone());
        }
    });
}

/// `fixed[x]`, `pattern[x]`, `defaultValue[x]`, `minValue[x]`, `maxValue[x]`:
/// one of each at a time, so a new one replaces the old whatever its type.
const CHOICES: &[&str] = &["fixed", "pattern", "defaultValue", "minValue", "maxValue"];

fn choice_prefix(key: &str) -> Option<&'static str> {
    CHOICES.iter().copied().find(|p| {
        key.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
    })
}

fn is_value_choice(key: &str) -> bool {
    choice_prefix(key).is_some()
}

fn replace_choice(target: &mut Map<String, Value>, key: &str, value: &Value) {
    if let Some(prefix) = choice_prefix(key) {
        target.retain(|k, _| choice_prefix(k) != Some(prefix));
    }
    target.insert(key.to_owned(), value.clone());
}
