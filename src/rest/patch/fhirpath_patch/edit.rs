//! Changing elements in FHIR JSON while keeping its rules: a primitive's
//! `_name` companion (id and extensions) goes with its value, the arrays
//! `name` and `_name` stay aligned item for item, and no empty object or
//! array is left behind.

use serde_json::{Map, Value};

/// An element as written into a resource: its JSON and, for a primitive,
/// its `_name` companion. `value` is `Null` for a primitive that has only
/// extensions.
#[derive(Debug, Clone)]
pub(super) struct ElementJson {
    pub(super) value: Value,
    pub(super) extras: Option<Value>,
}

fn companion(key: &str) -> String {
    format!("_{key}")
}

/// Sets the single (non-repeating) element `key`, in the place of `old`
/// (the element it replaces, which may be spelled differently when a
/// choice element changes type) so the document keeps its order.
pub(super) fn set_single(map: &mut Map<String, Value>, old: Option<&str>, key: &str, element: ElementJson) {
    let position = old.and_then(|old| {
        let position = map.keys().position(|k| k == old || *k == companion(old));
        map.shift_remove(old);
        map.shift_remove(&companion(old));
        position
    });
    let mut position = position.unwrap_or(map.len());
    map.shift_remove(key);
    map.shift_remove(&companion(key));
    position = position.min(map.len());
    if !element.value.is_null() {
        map.shift_insert(position, key.to_string(), element.value);
        position += 1;
    }
    if let Some(extras) = element.extras.filter(|e| !e.is_null()) {
        map.shift_insert(position, companion(key), extras);
    }
}

/// Removes the single element `key` with its companion.
pub(super) fn remove_single(map: &mut Map<String, Value>, key: &str) {
    map.shift_remove(key);
    map.shift_remove(&companion(key));
}

/// The number of items in the list `key` (counting items present only in `_key`).
pub(super) fn list_len(map: &Map<String, Value>, key: &str) -> Result<usize, String> {
    let len = |k: &str| match map.get(k) {
        None => Ok(0),
        Some(Value::Array(items)) => Ok(items.len()),
        Some(_) => Err(format!("'{k}' is not a list in the resource")),
    };
    Ok(len(key)?.max(len(&companion(key))?))
}

/// Runs `edit` on the list `key` as two aligned vectors of equal length
/// (values and companions, `Null` where absent), then writes them back
/// tidily: items with neither value nor companion are dropped, an empty
/// list is removed, and `_key` is written only if it holds something.
pub(super) fn with_list<R>(
    map: &mut Map<String, Value>,
    key: &str,
    edit: impl FnOnce(&mut Vec<Value>, &mut Vec<Value>) -> R,
) -> Result<R, String> {
    let len = list_len(map, key)?;
    let had_values = map.contains_key(key);
    let mut values = take_array(map, key);
    let mut extras = take_array(map, &companion(key));
    values.resize(len, Value::Null);
    extras.resize(len, Value::Null);
    let result = edit(&mut values, &mut extras);
    let keep: Vec<bool> = values
        .iter()
        .zip(&extras)
        .map(|(v, e)| !v.is_null() || !e.is_null())
        .collect();
    let mut flags = keep.iter();
    values.retain(|_| *flags.next().unwrap_or(&true));
    let mut flags = keep.iter();
    extras.retain(|_| *flags.next().unwrap_or(&true));
    write_list(map, key, values, extras, had_values);
    Ok(result)
}

fn take_array(map: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match map.get_mut(key) {
        Some(Value::Array(items)) => std::mem::take(items),
        _ => Vec::new(),
    }
}

fn write_list(map: &mut Map<String, Value>, key: &str, values: Vec<Value>, extras: Vec<Value>, had_values: bool) {
    let extras_key = companion(key);
    if values.is_empty() {
        map.shift_remove(key);
        map.shift_remove(&extras_key);
        return;
    }
    // Values that are all null (every item has only extensions) are written
    // only where the resource already had them.
    if values.iter().all(Value::is_null) && !had_values {
        map.shift_remove(key);
    } else {
        // `insert` keeps an existing key in its place.
        map.insert(key.to_string(), Value::Array(values));
    }
    if extras.iter().all(Value::is_null) {
        map.shift_remove(&extras_key);
    } else {
        map.insert(extras_key, Value::Array(extras));
    }
}

/// Removes what deleting left empty: objects and arrays with nothing in
/// them (FHIR JSON allows neither), recursively, keeping `name` / `_name`
/// arrays aligned.
pub(super) fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => prune_object(map),
        Value::Array(items) => {
            for item in items.iter_mut() {
                prune(item);
                // Null keeps the item's place; `prune_object` drops it if its
                // companion is empty too.
                if is_empty(item) {
                    *item = Value::Null;
                }
            }
        }
        _ => {}
    }
}

fn prune_object(map: &mut Map<String, Value>) {
    for child in map.values_mut() {
        prune(child);
    }
    let mut lists: Vec<String> = Vec::new();
    for (key, child) in map.iter() {
        let name = key.strip_prefix('_').unwrap_or(key);
        if child.is_array() && !lists.iter().any(|l| l == name) {
            lists.push(name.to_string());
        }
    }
    for name in lists {
        // Both keys hold arrays (or are absent) here, so this cannot fail.
        let _ = with_list(map, &name, |_, _| ());
    }
    let empty: Vec<String> = map
        .iter()
        .filter(|(_, child)| is_empty(child) || child.is_null())
        .map(|(key, _)| key.clone())
        .collect();
    for key in empty {
        map.shift_remove(&key);
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("object expected"),
        }
    }

    #[test]
    fn replacing_a_choice_keeps_its_place_and_drops_the_old_companion() {
        let mut m = map(json!({"status": "final", "valueString": "x", "_valueString": {"id": "1"}, "note": []}));
        let element = ElementJson {
            value: json!(true),
            extras: None,
        };
        set_single(&mut m, Some("valueString"), "valueBoolean", element);
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["status", "valueBoolean", "note"]);
    }

    #[test]
    fn list_edits_keep_values_and_extensions_aligned() {
        let mut m = map(json!({"given": ["a", "b"], "_given": [null, {"id": "b"}]}));
        with_list(&mut m, "given", |values, extras| {
            values.remove(0);
            extras.remove(0);
        })
        .expect("list");
        assert_eq!(
            Value::Object(m.clone()),
            json!({"given": ["b"], "_given": [{"id": "b"}]})
        );
        with_list(&mut m, "given", |values, extras| {
            values.insert(0, json!("c"));
            extras.insert(0, Value::Null);
        })
        .expect("list");
        assert_eq!(
            Value::Object(m.clone()),
            json!({"given": ["c", "b"], "_given": [null, {"id": "b"}]})
        );
        with_list(&mut m, "given", |values, extras| {
            values.remove(1);
            extras.remove(1);
        })
        .expect("list");
        assert_eq!(
            Value::Object(m.clone()),
            json!({"given": ["c"]}),
            "an all-null companion goes"
        );
        with_list(&mut m, "given", |values, extras| {
            values.remove(0);
            extras.remove(0);
        })
        .expect("list");
        assert!(m.is_empty(), "an empty list goes");
    }

    #[test]
    fn pruning_removes_what_deletions_left_empty() {
        let mut v = json!({"resourceType": "Patient",
            "contact": [{"name": {}, "gender": "male"}, {"name": {}}],
            "name": [{"given": ["a"], "_given": [{}]}],
            "_birthDate": {"extension": []}});
        prune(&mut v);
        assert_eq!(
            v,
            json!({"resourceType": "Patient", "contact": [{"gender": "male"}], "name": [{"given": ["a"]}]})
        );
    }
}
