//! Every resource in the official R4 examples package (5,306 of them:
//! the example instances and all conformance resources, Bundles of up to
//! 35 MB included) survives JSON → XML → JSON unchanged, compared as JSON
//! values.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// Files allowed to come back different, with the reason; each one is
/// printed when the test runs. None is needed today. A file belongs here
/// only for a difference that cannot be avoided and carries no meaning
/// (as JSON number spelling would be), never to hide a conversion bug.
const ALLOWED_DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn every_r4_example_survives_json_to_xml_to_json() {
    let mut resources: Vec<(String, Vec<u8>)> = common::package_json_files("hl7.fhir.r4.examples-4.0.1.tgz")
        .into_iter()
        .filter(|(name, bytes)| name != "package.json" && name != ".index.json" && is_resource(bytes))
        .collect();
    // Two threads, as the machines this runs on have two cores and this is
    // the slowest test of the crate; largest first, so neither thread ends
    // up alone with the 35 MB Bundle at the end.
    resources.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.len()));
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<(&str, Option<String>)> = std::thread::scope(|scope| {
        let other = scope.spawn(|| check_all(&resources, &next));
        let mut outcomes = check_all(&resources, &next);
        outcomes.extend(other.join().expect("checking thread"));
        outcomes
    });
    outcomes.sort_unstable_by_key(|(name, _)| *name);

    let mut failures = Vec::new();
    for (name, difference) in &outcomes {
        let Some(difference) = difference else {
            continue;
        };
        match ALLOWED_DIFFERENCES.iter().find(|(allowed, _)| allowed == name) {
            Some((_, reason)) => println!("allowed: {name}: {reason} ({difference})"),
            None => failures.push(format!("{name}: {difference}")),
        }
    }
    println!("{} resources checked, {} failed", outcomes.len(), failures.len());
    assert!(
        outcomes.len() > 5000,
        "only {} resources found in the package",
        outcomes.len()
    );
    assert!(
        failures.is_empty(),
        "{} resources did not survive:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn is_resource(bytes: &[u8]) -> bool {
    let value: Value = serde_json::from_slice(bytes).expect("examples are JSON");
    value.get("resourceType").is_some()
}

/// Checks resources, taking the next unchecked one from `next` each time;
/// gives each name with what went wrong, if anything.
fn check_all<'a>(resources: &'a [(String, Vec<u8>)], next: &AtomicUsize) -> Vec<(&'a str, Option<String>)> {
    std::iter::from_fn(|| resources.get(next.fetch_add(1, Ordering::Relaxed)))
        .map(|(name, bytes)| (name.as_str(), check(bytes)))
        .collect()
}

fn check(json: &[u8]) -> Option<String> {
    let original: Value = serde_json::from_slice(json).expect("examples are JSON");
    match round_trip(json) {
        Err(e) => Some(e),
        Ok(back) => difference(&original, &back, ""),
    }
}

fn round_trip(json: &[u8]) -> Result<Value, String> {
    let xml = ipe_xml::json_to_xml(json, false).map_err(|e| format!("to XML: {e}"))?;
    let back = ipe_xml::xml_to_json(xml.as_bytes()).map_err(|e| format!("to JSON: {e}"))?;
    serde_json::from_str(&back).map_err(|e| format!("output is not JSON: {e}"))
}

/// The first place where `a` and `b` differ, for the failure message.
fn difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                let here = format!("{path}.{key}");
                match y.get(key) {
                    None => return Some(format!("{here} is missing")),
                    Some(other) => {
                        if let Some(d) = difference(value, other, &here) {
                            return Some(d);
                        }
                    }
                }
            }
            let extra = y.keys().find(|k| !x.contains_key(*k))?;
            Some(format!("{path}.{extra} was added"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| difference(v, w, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => {
            let shown = format!("{path}: {a} became {b}");
            Some(shown.chars().take(300).collect())
        }
    }
}
