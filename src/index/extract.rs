//! What a resource is indexed under: each parameter of its type evaluated
//! once, each result item turned into typed values by the rules of
//! search.html §3.1.1 for the parameter's type (one submodule per type).

mod date;
mod number;
mod reference;
mod string;
mod token;

use std::sync::OnceLock;

use rust_decimal::Decimal;
use serde_json::Value;

use super::full_text::{full_text, FullText};
use super::registry::{Component, ParamType, Registry, SearchParam};
use crate::fhirpath::{Env, Expression, Item};

pub use string::normalize_string;
pub use token::of_type_system;

/// One value a resource is indexed under, by parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `normalized`: case-, accent-, punctuation- and whitespace-folded
    /// ("José  da-Silva" → "jose da silva", see [`normalize_string`]), so
    /// "jose" finds it by prefix; `exact`: as written, for `:exact`.
    String {
        normalized: String,
        exact: String,
    },
    /// `system`: None when the source has none. `text`: the display / text
    /// for `:text` (Coding.display, CodeableConcept.text, Identifier.type.text),
    /// as written.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    /// The half-open range [low, high) in microseconds since the Unix epoch
    /// (UTC) that the value covers at its precision; open Period ends are
    /// `i64::MIN` / `i64::MAX`.
    Date {
        low: i64,
        high: i64,
    },
    /// The value and its implied precision range [low, high)
    /// (`100` → [99.5, 100.5); `1.50` → [1.495, 1.505)).
    Number {
        value: Decimal,
        low: Decimal,
        high: Decimal,
    },
    /// As written plus, when the unit is UCUM and convertible, the canonical
    /// form, so `gt5000mg` matches `6 g`.
    Quantity {
        value: Decimal,
        low: Decimal,
        high: Decimal,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
        canonical: Option<CanonicalQuantity>,
    },
    /// `target_type`/`id` (and `version`) for literal references whose tail is
    /// `Type/id`; `url`: the reference as written (for canonicals, the part
    /// before `|`, the rest being `version`); `identifier`: a logical
    /// reference's (system, value). A Reference may yield both.
    Reference {
        target_type: Option<String>,
        id: Option<String>,
        version: Option<String>,
        url: Option<String>,
        identifier: Option<(Option<String>, String)>,
    },
    Uri {
        value: String,
    },
    /// One entry per instance of the composite's base element; per
    /// component, its values (a component may give several).
    Composite {
        components: Vec<Vec<IndexValue>>,
    },
    /// The folded words of the whole resource for `_text` and `_content`
    /// (see [`super::full_text`]); at most one per resource, under the code
    /// [`FULL_TEXT_CODE`].
    Text(FullText),
}

/// The code of the one [`IndexValue::Text`] entry of a resource. It holds
/// the words of both `_text` (the narrative) and `_content` (everything).
pub const FULL_TEXT_CODE: &str = "_content";

/// A quantity in canonical UCUM units (see [`crate::ucum::to_canonical`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalQuantity {
    pub value: Decimal,
    pub low: Decimal,
    pub high: Decimal,
    pub unit: String,
}

/// One index row: parameter code, its type, a value.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub code: String,
    pub kind: ParamType,
    pub value: IndexValue,
}

/// What [`extract`] found, and the expressions that failed on this resource.
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    pub entries: Vec<IndexEntry>,
    /// What each contained resource is indexed under, for `_contained`
    /// searches (search.html#contained); never mixed into `entries`, so
    /// ordinary searches do not find a container by its contained resources.
    pub contained: Vec<ContainedEntries>,
    /// (parameter URL, error message) per expression that raised an error.
    pub skipped: Vec<(String, String)>,
}

/// The index entries of one contained resource, under the parameters of
/// its own type.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainedEntries {
    /// 1-based position in the container's `contained` array: with the
    /// container, what identifies the contained resource's index rows.
    pub position: u32,
    pub resource_type: String,
    pub id: String,
    pub entries: Vec<IndexEntry>,
}

/// The contained resources of `resource` that can be searched: those with a
/// `resourceType` and an `id` (without an id nothing can point at one, nor
/// can a search return it), with their 1-based positions.
pub fn contained_resources(resource: &Value) -> impl Iterator<Item = (u32, &str, &str, &Value)> {
    resource
        .get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .zip(1u32..)
        .filter_map(|(contained, position)| {
            let resource_type = member(contained, "resourceType")?;
            let id = member(contained, "id")?;
            Some((position, resource_type, id, contained))
        })
}

/// Everything a resource is indexed under, for every parameter of its type,
/// and its words for full-text search (one [`IndexValue::Text`] entry,
/// unless it has none). Never fails: an expression that errors on this
/// resource (EvalError) is skipped and reported in `skipped`, with the
/// parameter url and the message. Equal values of one parameter are
/// indexed once.
///
/// Each contained resource is extracted the same way (its own type's
/// parameters, its own words, `%resource` being itself) into
/// [`Extraction::contained`].
pub fn extract(registry: &Registry, resource: &Value) -> Extraction {
    let mut extraction = extract_own(registry, resource);
    for (position, resource_type, id, contained) in contained_resources(resource) {
        let inner = extract_own(registry, contained);
        extraction.skipped.extend(inner.skipped);
        extraction.contained.push(ContainedEntries {
            position,
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
            entries: inner.entries,
        });
    }
    extraction
}

/// [`extract`] of the resource itself, its contained resources left out.
fn extract_own(registry: &Registry, resource: &Value) -> Extraction {
    let mut extraction = Extraction::default();
    let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
        return extraction;
    };
    let env = Env::new().with_resource(resource);
    let mut values = Vec::new();
    for param in registry.for_type(resource_type) {
        extract_one(param, resource, &env, &mut values, &mut extraction);
    }
    let text = full_text(resource);
    if !text.is_empty() {
        extraction.entries.push(IndexEntry {
            code: FULL_TEXT_CODE.to_owned(),
            // R4 declares `_text` and `_content` as string parameters.
            kind: ParamType::String,
            value: IndexValue::Text(text),
        });
    }
    extraction
}

/// What a resource is indexed under for the one parameter `code` of its
/// type (nothing if its type has no such parameter): what [`extract`] gives
/// for it, without evaluating the others (a reindex job's work).
pub fn extract_param(registry: &Registry, resource: &Value, code: &str) -> Extraction {
    let mut extraction = Extraction::default();
    let param = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(|t| registry.get(t, code));
    if let Some(param) = param {
        let env = Env::new().with_resource(resource);
        extract_one(param, resource, &env, &mut Vec::new(), &mut extraction);
    }
    extraction
}

/// [`extract_param`] for each contained resource of `resource` whose type
/// is one of `types`: (position, type, entries), one per such resource, even
/// when it has no value (its old rows must go).
pub fn extract_param_contained(
    registry: &Registry,
    resource: &Value,
    code: &str,
    types: &[String],
) -> Vec<(u32, String, Vec<IndexEntry>)> {
    contained_resources(resource)
        .filter(|(_, resource_type, _, _)| types.iter().any(|t| t == resource_type))
        .map(|(position, resource_type, _, contained)| {
            let entries = extract_param(registry, contained, code).entries;
            (position, resource_type.to_string(), entries)
        })
        .collect()
}

/// Evaluates one parameter on `resource` into `extraction`; `values` is
/// scratch space, reused across parameters.
fn extract_one<'a>(
    param: &SearchParam,
    resource: &'a Value,
    env: &Env<'a>,
    values: &mut Vec<IndexValue>,
    extraction: &mut Extraction,
) {
    let Some(expression) = &param.expression else {
        return;
    };
    let items = match expression.evaluate(resource, env) {
        Ok(items) => items,
        Err(error) => {
            extraction.skipped.push((param.url.clone(), error.to_string()));
            return;
        }
    };
    values.clear();
    if param.kind == ParamType::Composite {
        composites(param, &items, env, values, &mut extraction.skipped);
    } else {
        for item in &items {
            item_values(param.kind, item, values);
        }
    }
    push_entries(param, values, &mut extraction.entries);
}

/// The values of one result item for a parameter of type `kind`.
fn item_values(kind: ParamType, item: &Item<'_>, out: &mut Vec<IndexValue>) {
    if let Item::Node(node) = item {
        if node.type_name() == Some("Extension") {
            extension_values(kind, item, out);
            return;
        }
    }
    match kind {
        ParamType::String => string::values(item, out),
        ParamType::Token => token::values(item, out),
        ParamType::Date => date::values(item, out),
        ParamType::Number => number::numbers(item, out),
        ParamType::Quantity => number::quantities(item, out),
        ParamType::Reference => reference::references(item, out),
        ParamType::Uri => reference::uris(item, out),
        // `near` (the one R4 special parameter with an expression) indexes
        // Location.position as (latitude, longitude).
        ParamType::Special => number::position(item, out),
        // A composite inside a composite does not occur in R4.
        ParamType::Composite => {}
    }
}

/// An expression that stops at an extension (`Observation.extension('…')`,
/// as several R4 parameters do) means the extension's value.
fn extension_values(kind: ParamType, extension: &Item<'_>, out: &mut Vec<IndexValue>) {
    static VALUE: OnceLock<Option<Expression>> = OnceLock::new();
    let Some(value) = VALUE.get_or_init(|| Expression::compile("value").ok()) else {
        return;
    };
    let Ok(values) = value.evaluate_items(std::slice::from_ref(extension), &Env::new()) else {
        return;
    };
    for item in &values {
        item_values(kind, item, out);
    }
}

/// One Composite value per item of the composite's base element. An item
/// where some component has no value is left out: no composite search can
/// match it, since every component must match.
fn composites<'a>(
    param: &SearchParam,
    items: &[Item<'a>],
    env: &Env<'a>,
    out: &mut Vec<IndexValue>,
    skipped: &mut Vec<(String, String)>,
) {
    'items: for item in items {
        let mut components = Vec::with_capacity(param.components.len());
        for component in &param.components {
            match component_values(component, item, env) {
                Ok(values) if values.is_empty() => continue 'items,
                Ok(values) => components.push(values),
                Err(message) => {
                    skipped.push((param.url.clone(), message));
                    continue 'items;
                }
            }
        }
        out.push(IndexValue::Composite { components });
    }
}

fn component_values<'a>(component: &Component, item: &Item<'a>, env: &Env<'a>) -> Result<Vec<IndexValue>, String> {
    let found = component
        .expression
        .evaluate_items(std::slice::from_ref(item), env)
        .map_err(|error| format!("component {}: {error}", component.definition))?;
    let mut values = Vec::new();
    for value in &found {
        item_values(component.kind, value, &mut values);
    }
    dedupe(&mut values);
    Ok(values)
}

fn push_entries(param: &SearchParam, values: &mut Vec<IndexValue>, entries: &mut Vec<IndexEntry>) {
    dedupe(values);
    entries.extend(values.drain(..).map(|value| IndexEntry {
        code: param.code.clone(),
        kind: param.kind,
        value,
    }));
}

/// Drops repeated values, keeping the first. Quadratic, but a parameter
/// rarely yields more than a handful of values; past that, duplicates cost
/// only storage, so they are kept rather than spending time here.
fn dedupe(values: &mut Vec<IndexValue>) {
    const LIMIT: usize = 64;
    if values.len() < 2 || values.len() > LIMIT {
        return;
    }
    let mut kept = 0;
    for index in 0..values.len() {
        if !values[..kept].contains(&values[index]) {
            values.swap(kept, index);
            kept += 1;
        }
    }
    values.truncate(kept);
}

/// A JSON string member of an object.
fn member<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests;
