//! Differential elements with the steps that locate them in the snapshot
//! tree.
//!
//! An element's id says where it is (`Observation.component:systolic.code`).
//! Differentials written before ids were required locate slices by order
//! instead: an element below a sliced path belongs to the slice entry seen
//! last for that path, as the Publisher reads them.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::tree::{parse_id, Step};

/// One differential element and where it goes.
#[derive(Debug)]
pub(super) struct DiffElement<'a> {
    /// Its id as written (or made), for error messages.
    pub id: String,
    pub steps: Vec<Step>,
    pub element: &'a Map<String, Value>,
}

/// Reads a differential's element list in order.
pub(super) fn read(elements: &[Value]) -> Vec<DiffElement<'_>> {
    let mut open_slices: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(elements.len());
    for element in elements.iter().filter_map(Value::as_object) {
        let path = element.get("path").and_then(Value::as_str).unwrap_or_default();
        let slice = element.get("sliceName").and_then(Value::as_str);
        match slice {
            Some(s) => open_slices.insert(path.to_owned(), s.to_owned()),
            None => open_slices.remove(path),
        };
        let from_id = element
            .get("id")
            .and_then(Value::as_str)
            .map(|id| (id, parse_id(id)))
            .filter(|(_, steps)| id_agrees_with_path(steps, path));
        let (id, steps) = match from_id {
            Some((id, steps)) => (id.to_owned(), steps),
            None => steps_from_path(path, slice, &open_slices),
        };
        out.push(DiffElement { id, steps, element });
    }
    out
}

/// An id is trusted when it names the same path (choice renames aside).
fn id_agrees_with_path(steps: &[Step], path: &str) -> bool {
    let names: Vec<&str> = path.split('.').collect();
    names.len() == steps.len() && steps.last().map(|s| s.name.as_str()) == names.last().copied()
}

fn steps_from_path(path: &str, slice: Option<&str>, open: &HashMap<String, String>) -> (String, Vec<Step>) {
    let names: Vec<&str> = path.split('.').collect();
    let mut steps = Vec::with_capacity(names.len());
    let mut id = String::new();
    for (i, name) in names.iter().enumerate() {
        let prefix = names[..=i].join(".");
        let step_slice = if i + 1 == names.len() {
            slice.map(str::to_owned)
        } else {
            open.get(&prefix).cloned()
        };
        if !id.is_empty() {
            id.push('.');
        }
        id.push_str(name);
        if let Some(s) = &step_slice {
            id.push(':');
            id.push_str(s);
        }
        steps.push(Step {
            name: (*name).to_owned(),
            slice: step_slice,
        });
    }
    (id, steps)
}
