//! Where the elements a FHIRPath selects live in the resource JSON.
//!
//! The engine's nodes borrow the JSON they were evaluated on, so a selected
//! element is found by pointer identity while walking the same tree; the
//! walk records the keys and indexes that lead to it, which stay valid
//! once the borrow ends and the resource is changed.

use serde_json::Value;

use super::types::TypeAt;
use crate::fhirpath::{Env, Expression, Item, Node};

/// One step down the JSON tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// The JSON path to an element. Steps are JSON keys as written (`_birthDate`
/// on the way to an extension of `birthDate`), except the element's own key,
/// which is always its name without `_`: a primitive present only through
/// its extensions is still the element `birthDate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Location(pub(super) Vec<Step>);

impl Location {
    /// For an item of a list: the path to the object holding the list, the
    /// list's key and the item's index.
    pub(super) fn as_list_item(&self) -> Option<(&[Step], &str, usize)> {
        match self.0.as_slice() {
            [parent @ .., Step::Key(key), Step::Index(index)] => Some((parent, key, *index)),
            _ => None,
        }
    }

    /// For a single (non-repeating) element: the path to its parent object and its key.
    pub(super) fn as_single(&self) -> Option<(&[Step], &str)> {
        match self.0.as_slice() {
            [parent @ .., Step::Key(key)] => Some((parent, key)),
            _ => None,
        }
    }
}

/// Evaluates `path` on `resource` and locates every element it selects.
pub(super) fn select(resource: &Value, path: &Expression) -> Result<Vec<Location>, String> {
    let items = path
        .evaluate(resource, &Env::new())
        .map_err(|e| format!("the path cannot be evaluated: {e}"))?;
    let mut found: Vec<Location> = Vec::with_capacity(items.len());
    for item in &items {
        let Item::Node(node) = item else {
            return Err("the path selects a computed value, not an element of the resource".into());
        };
        let location = locate(resource, node)
            .ok_or_else(|| "the path selects something outside the resource being patched".to_string())?;
        if !found.contains(&location) {
            found.push(location);
        }
    }
    Ok(found)
}

/// Finds `node` in `root` by the identity of its JSON (or, for a primitive
/// with only extensions, of its `_name` companion).
fn locate(root: &Value, node: &Node<'_>) -> Option<Location> {
    let (target, companion) = match (node.json(), node.extras()) {
        (Some(json), _) => (json, false),
        (None, Some(extras)) => (extras, true),
        (None, None) => return None,
    };
    if std::ptr::eq(root, target) {
        return Some(Location(Vec::new()));
    }
    let mut steps = Vec::new();
    search(root, target, &mut steps).then(|| {
        if companion {
            name_the_element(&mut steps);
        }
        Location(steps)
    })
}

/// Depth-first search for `target` below `value`, pushing the steps taken.
fn search(value: &Value, target: &Value, steps: &mut Vec<Step>) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, child)| visit(Step::Key(key.clone()), child, target, steps)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .any(|(index, child)| visit(Step::Index(index), child, target, steps)),
        _ => false,
    }
}

fn visit(step: Step, child: &Value, target: &Value, steps: &mut Vec<Step>) -> bool {
    steps.push(step);
    if std::ptr::eq(child, target) || search(child, target, steps) {
        return true;
    }
    steps.pop();
    false
}

/// `…, _given, 1` → `…, given, 1`: the element found through its companion.
fn name_the_element(steps: &mut [Step]) {
    let key = match steps {
        [.., Step::Key(key), Step::Index(_)] | [.., Step::Key(key)] => key,
        _ => return,
    };
    if let Some(name) = key.strip_prefix('_') {
        *key = name.to_string();
    }
}

/// The JSON at `steps` below `root`.
pub(super) fn get<'a>(root: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key.as_str()),
        Step::Index(index) => value.get(*index),
    })
}

pub(super) fn get_mut<'a>(root: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    steps.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()),
        Step::Index(index) => value.get_mut(*index),
    })
}

/// The type of the element at `steps`, walking the type model down from the
/// resource. `None` where the model does not describe the JSON.
pub(super) fn type_at(root: &Value, steps: &[Step]) -> Option<TypeAt> {
    let mut ty = TypeAt::of_resource(root);
    let mut value = Some(root);
    // The list an index step goes into: its items are typed one by one,
    // since those of `contained` are each their own resource type.
    let mut list = None;
    for step in steps {
        match step {
            Step::Key(key) => {
                let parent = ty?;
                let element = parent.element_for_key(key)?;
                value = value.and_then(|v| v.get(key.as_str()));
                ty = parent.child(element, key, value);
                list = Some((parent, element, key.as_str()));
            }
            Step::Index(index) => {
                value = value.and_then(|v| v.get(*index));
                let (parent, element, key) = list?;
                ty = parent.child(element, key, value);
            }
        }
    }
    ty
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn locations(resource: &Value, path: &str) -> Vec<Location> {
        let expr = Expression::compile(path).expect("compiles");
        select(resource, &expr).expect("selects")
    }

    fn keys(steps: &[(&str, Option<usize>)]) -> Location {
        let mut out = Vec::new();
        for (key, index) in steps {
            out.push(Step::Key((*key).to_string()));
            if let Some(i) = index {
                out.push(Step::Index(*i));
            }
        }
        Location(out)
    }

    #[test]
    fn selected_elements_are_found_by_identity_even_when_equal_values_repeat() {
        let patient = json!({"resourceType": "Patient", "name": [{"given": ["Ann", "Ann"]}]});
        let found = locations(&patient, "Patient.name.given[1]");
        assert_eq!(found, vec![keys(&[("name", Some(0)), ("given", Some(1))])]);
        assert_eq!(locations(&patient, "Patient"), vec![Location(vec![])]);
    }

    #[test]
    fn a_primitive_with_only_extensions_is_located_as_the_element() {
        let patient = json!({"resourceType": "Patient",
            "_birthDate": {"extension": [{"url": "http://x", "valueString": "unknown"}]}});
        let found = locations(&patient, "Patient.birthDate");
        assert_eq!(found, vec![keys(&[("birthDate", None)])]);
        // The extension itself lives under the companion.
        let found = locations(&patient, "Patient.birthDate.extension[0]");
        assert_eq!(found, vec![keys(&[("_birthDate", None), ("extension", Some(0))])]);
    }

    #[test]
    fn computed_values_cannot_be_patched() {
        let patient = json!({"resourceType": "Patient", "active": true});
        let expr = Expression::compile("Patient.active.not()").expect("compiles");
        assert!(select(&patient, &expr).is_err());
    }

    #[test]
    fn the_type_model_follows_backbones_choices_and_contained_resources() {
        let resource = json!({"resourceType": "Patient",
            "contact": [{"name": {"text": "x"}}],
            "contained": [{"resourceType": "Observation", "valueQuantity": {"value": 1}}]});
        let at = |steps: &[Step]| type_at(&resource, steps).map(|t| t.describe());
        let contact = [Step::Key("contact".into()), Step::Index(0)];
        assert_eq!(at(&contact).as_deref(), Some("Patient.contact"));
        let name = [Step::Key("contact".into()), Step::Index(0), Step::Key("name".into())];
        assert_eq!(at(&name).as_deref(), Some("HumanName"));
        let quantity = [
            Step::Key("contained".into()),
            Step::Index(0),
            Step::Key("valueQuantity".into()),
        ];
        assert_eq!(at(&quantity).as_deref(), Some("Quantity"));
    }
}
