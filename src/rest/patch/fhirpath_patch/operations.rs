//! The five operations, applied to resource JSON as the spec's table says
//! (<https://hl7.org/fhir/R4/fhirpatch.html>):
//!
//! - `add`: the path selects one element; `name` becomes a child of it,
//!   appended if the element repeats, set if it does not and is absent;
//! - `insert`: the path selects a list; the value goes in at `index`
//!   (0 to the list's length);
//! - `delete`: the path selects at most one element, which is removed
//!   (nothing selected: nothing to do);
//! - `replace`: the path selects one element, whose value is replaced;
//! - `move`: the path selects a list; the item at `source` moves to
//!   `destination`.
//!
//! Each returns a message for the client when it cannot be applied.

use serde_json::{Map, Value};

use super::edit::{self, ElementJson};
use super::location::{get, get_mut, select, type_at, Location, Step};
use super::parameters::{Kind, Operation, PatchValue};
use super::types::{json_key, TypeAt};
use crate::fhirpath::{Expr, Expression};

pub(super) fn apply(resource: &mut Value, op: &Operation) -> Result<(), String> {
    match &op.kind {
        Kind::Add { name, value } => add(resource, &op.path, name, value),
        Kind::Insert { index, value } => insert(resource, &op.path, *index, value),
        Kind::Delete => delete(resource, &op.path),
        Kind::Replace { value } => replace(resource, &op.path, value),
        Kind::Move { source, destination } => move_item(resource, &op.path, *source, *destination),
    }
}

fn add(resource: &mut Value, path: &Expression, name: &str, value: &PatchValue) -> Result<(), String> {
    let target = exactly_one(select(resource, path)?, path.text(), "adding")?;
    let ty = type_at(resource, &target.0).ok_or_else(|| {
        format!(
            "the type of {} is not known, so '{name}' cannot be added to it",
            path.text()
        )
    })?;
    let container = container_mut(resource, &target)?;
    add_child(container, ty, name, value)
}

fn insert(resource: &mut Value, path: &Expression, index: usize, value: &PatchValue) -> Result<(), String> {
    let (parent, key) = list_for(resource, path)?;
    let mut list_steps = parent.clone();
    list_steps.push(Step::Key(key.clone()));
    let ty = type_at(resource, &list_steps);
    let element = element_json(value, ty)?;
    let map = object_mut(resource, &parent)?;
    let len = edit::list_len(map, &key)?;
    if index > len {
        return Err(format!(
            "cannot insert at index {index} of {}: the list has {len} item(s)",
            path.text()
        ));
    }
    edit::with_list(map, &key, |values, extras| {
        values.insert(index, element.value);
        extras.insert(index, element.extras.unwrap_or(Value::Null));
    })
}

fn delete(resource: &mut Value, path: &Expression) -> Result<(), String> {
    let mut found = select(resource, path)?;
    let target = match found.len() {
        // Deleting what is not there leaves the resource as it is.
        0 => return Ok(()),
        1 => found.remove(0),
        n => {
            return Err(format!(
                "{} selects {n} elements; delete removes exactly one",
                path.text()
            ))
        }
    };
    if let Some((parent, key, index)) = target.as_list_item() {
        let map = object_mut(resource, parent)?;
        return edit::with_list(map, key, |values, extras| {
            // The location was just found, so `index` is in the list.
            if index < values.len() {
                values.remove(index);
                extras.remove(index);
            }
        });
    }
    match target.as_single() {
        Some((parent, key)) => {
            edit::remove_single(object_mut(resource, parent)?, key);
            Ok(())
        }
        None => Err("delete cannot remove the resource itself (use the delete interaction)".into()),
    }
}

fn replace(resource: &mut Value, path: &Expression, value: &PatchValue) -> Result<(), String> {
    let target = exactly_one(select(resource, path)?, path.text(), "replacing")?;
    if let Some((parent, key, index)) = target.as_list_item() {
        let element = element_json(value, type_at(resource, &target.0))?;
        let map = object_mut(resource, parent)?;
        return edit::with_list(map, key, |values, extras| {
            if let (Some(value), Some(extra)) = (values.get_mut(index), extras.get_mut(index)) {
                *value = element.value;
                *extra = element.extras.unwrap_or(Value::Null);
            }
        });
    }
    let Some((parent, key)) = target.as_single() else {
        return Err("replace cannot replace the resource itself (use the update interaction)".into());
    };
    // A choice element takes the key of its new value's type
    // (`valueString` replaced by a Quantity becomes `valueQuantity`).
    let parent_ty = type_at(resource, parent);
    let definition = parent_ty.and_then(|t| t.element_for_key(key));
    let (new_key, ty) = match (parent_ty, definition) {
        (Some(parent_ty), Some(definition)) => {
            let new_key = json_key(definition, definition.name, value.type_code())?;
            let ty = parent_ty.child(definition, &new_key, resource_value(value));
            (new_key, ty)
        }
        _ => (key.to_string(), None),
    };
    let element = element_json(value, ty)?;
    edit::set_single(object_mut(resource, parent)?, Some(key), &new_key, element);
    Ok(())
}

fn move_item(resource: &mut Value, path: &Expression, source: usize, destination: usize) -> Result<(), String> {
    let (parent, key) = list_for(resource, path)?;
    let map = object_mut(resource, &parent)?;
    let len = edit::list_len(map, &key)?;
    if source >= len || destination >= len {
        return Err(format!(
            "cannot move {} item {source} to {destination}: the list has {len} item(s)",
            path.text()
        ));
    }
    edit::with_list(map, &key, |values, extras| {
        let value = values.remove(source);
        values.insert(destination, value);
        let extra = extras.remove(source);
        extras.insert(destination, extra);
    })
}

/// The one element an operation works on.
fn exactly_one(mut found: Vec<Location>, path: &str, doing: &str) -> Result<Location, String> {
    match found.len() {
        0 => Err(format!("No content found at {path} when {doing}")),
        1 => Ok(found.remove(0)),
        n => Err(format!("{path} selects {n} elements; {doing} needs exactly one")),
    }
}

/// The list a path of `insert` or `move` names: the object holding it and
/// its key. The path selects the list's items; when the list is still empty
/// it selects nothing, and the list is found through its parent
/// (`Patient.identifier` → `Patient`, `identifier`).
fn list_for(resource: &Value, path: &Expression) -> Result<(Vec<Step>, String), String> {
    let found = select(resource, path)?;
    if found.is_empty() {
        return empty_list(resource, path);
    }
    let mut list: Option<(&[Step], &str)> = None;
    for location in &found {
        let Some((parent, key, _)) = location.as_list_item() else {
            return Err(format!("{} is not a list", path.text()));
        };
        match list {
            None => list = Some((parent, key)),
            Some(same) if same == (parent, key) => {}
            Some(_) => return Err(format!("{} selects items of more than one list", path.text())),
        }
    }
    let (parent, key) = list.ok_or_else(|| format!("No content found at {}", path.text()))?;
    Ok((parent.to_vec(), key.to_string()))
}

fn empty_list(resource: &Value, path: &Expression) -> Result<(Vec<Step>, String), String> {
    let not_found = || format!("No content found at {}", path.text());
    let (prefix, name) = split_member(path.text()).ok_or_else(not_found)?;
    let prefix_expr = Expression::compile(&prefix).map_err(|_| not_found())?;
    let parent = exactly_one(select(resource, &prefix_expr)?, &prefix, "looking for the list")?;
    let ty = type_at(resource, &parent.0).ok_or_else(not_found)?;
    let element = ty.element(&name).ok_or_else(not_found)?;
    if !element.many || !get(resource, &parent.0).is_some_and(Value::is_object) {
        return Err(format!("{} is not a list", path.text()));
    }
    Ok((parent.0, element.name.to_string()))
}

/// `Patient.contact[0].telecom` → (`Patient.contact[0]`, `telecom`), when
/// the expression is a path ending in a plain element name.
fn split_member(text: &str) -> Option<(String, String)> {
    let Ok(Expr::Member { name, .. }) = crate::fhirpath::parse(text) else {
        return None;
    };
    let (prefix, last) = text.trim_end().rsplit_once('.')?;
    (last.trim().trim_matches('`') == name).then(|| (prefix.trim_end().to_string(), name))
}

/// The object children are added to at `target`: the element itself, or for
/// a primitive its `_name` companion, which holds its id and extensions.
fn container_mut<'a>(resource: &'a mut Value, target: &Location) -> Result<&'a mut Map<String, Value>, String> {
    if get(resource, &target.0).is_some_and(Value::is_object) {
        return object_mut(resource, &target.0);
    }
    if let Some((parent, key, index)) = target.as_list_item() {
        let map = object_mut(resource, parent)?;
        edit::with_list(map, key, |_, extras| {
            if let Some(extra) = extras.get_mut(index).filter(|e| !e.is_object()) {
                *extra = Value::Object(Map::new());
            }
        })?;
        let mut steps = parent.to_vec();
        steps.extend([Step::Key(format!("_{key}")), Step::Index(index)]);
        return object_mut(resource, &steps);
    }
    let (parent, key) = target
        .as_single()
        .ok_or_else(|| "the resource is not an object".to_string())?;
    let companion = object_mut(resource, parent)?
        .entry(format!("_{key}"))
        .or_insert_with(|| Value::Object(Map::new()));
    companion
        .as_object_mut()
        .ok_or_else(|| format!("'_{key}' is not an object in the resource"))
}

/// Adds the child element `name` with `value` to `map`, an object of type
/// `ty`: appended when the element repeats, set when it does not and has no
/// value yet.
fn add_child(map: &mut Map<String, Value>, ty: TypeAt, name: &str, value: &PatchValue) -> Result<(), String> {
    let definition = ty
        .element(name)
        .or_else(|| ty.element_for_key(name))
        .ok_or_else(|| format!("{} has no element '{name}'", ty.describe()))?;
    let key = json_key(definition, name, value.type_code())?;
    let element = element_json(value, ty.child(definition, &key, resource_value(value)))?;
    if definition.many {
        return edit::with_list(map, &key, |values, extras| {
            values.push(element.value);
            extras.push(element.extras.unwrap_or(Value::Null));
        });
    }
    if map.keys().any(|k| definition.matches(k)) {
        return Err(format!(
            "{}.{} already has a value and does not repeat: use replace",
            ty.describe(),
            definition.name
        ));
    }
    edit::set_single(map, None, &key, element);
    Ok(())
}

/// The JSON to write for `value` as an element of type `ty` (which values
/// given as parts need, to spell and shape their children).
fn element_json(value: &PatchValue, ty: Option<TypeAt>) -> Result<ElementJson, String> {
    match value {
        PatchValue::Typed { json, extras, .. } => Ok(ElementJson {
            value: json.clone().unwrap_or(Value::Null),
            extras: extras.clone(),
        }),
        PatchValue::Resource(resource) => Ok(ElementJson {
            value: resource.clone(),
            extras: None,
        }),
        PatchValue::Parts(parts) => {
            let ty = ty.ok_or("the type of the element is not known, so a value given as parts cannot be read")?;
            let mut map = Map::new();
            for part in parts {
                add_child(&mut map, ty, &part.name, &part.value).map_err(|e| format!("{}: {e}", part.at))?;
            }
            Ok(ElementJson {
                value: Value::Object(map),
                extras: None,
            })
        }
    }
}

fn resource_value(value: &PatchValue) -> Option<&Value> {
    match value {
        PatchValue::Resource(resource) => Some(resource),
        _ => None,
    }
}

fn object_mut<'a>(resource: &'a mut Value, steps: &[Step]) -> Result<&'a mut Map<String, Value>, String> {
    get_mut(resource, steps)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| "the element to change is not an object in the resource".to_string())
}
