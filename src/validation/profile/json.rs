//! JSON helpers the validator and the binding finder share: FHIR pattern
//! matching, values at a path of property names, and how a type is spelled
//! in a choice property.

use serde_json::Value;

/// `dateTime` is written `DateTime` in `valueDateTime`.
pub(crate) fn same_type(code: &str, written: &str) -> bool {
    let mut chars = code.chars();
    code == written
        || chars
            .next()
            .is_some_and(|c| written.starts_with(c.to_ascii_uppercase()) && written[1..] == *chars.as_str())
}

/// The values at a path of property names in `item`, arrays flattened; a
/// `name[x]` step takes any `nameType` property.
pub(crate) fn values_at<'v>(item: &'v Value, steps: &[&str]) -> Vec<&'v Value> {
    let mut current = vec![item];
    for step in steps {
        let mut next = Vec::new();
        for value in current {
            let Some(map) = value.as_object() else { continue };
            let found: Vec<&Value> = match step.strip_suffix("[x]") {
                Some(prefix) => map
                    .iter()
                    .filter(|(k, _)| {
                        k.strip_prefix(prefix)
                            .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
                    })
                    .map(|(_, v)| v)
                    .collect(),
                None => map.get(*step).into_iter().collect(),
            };
            for v in found {
                match v {
                    Value::Array(items) => next.extend(items),
                    other => next.push(other),
                }
            }
        }
        current = next;
    }
    current
}

/// Whether `actual` has everything `pattern` has (FHIR pattern matching:
/// objects by their pattern's properties, arrays item by item in any order).
pub(crate) fn covers(actual: &Value, pattern: &Value) -> bool {
    match (actual, pattern) {
        (Value::Object(a), Value::Object(p)) => p.iter().all(|(k, pv)| a.get(k).is_some_and(|av| covers(av, pv))),
        (Value::Array(a), Value::Array(p)) => p.iter().all(|pv| a.iter().any(|av| covers(av, pv))),
        (Value::Array(a), p) => a.iter().any(|av| covers(av, p)),
        (a, p) => a == p,
    }
}
