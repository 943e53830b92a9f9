//! `_summary` and `_elements`: the subsets of a resource a client can ask for
//! on read and search ([search.html#summary], [search.html#elements]).
//!
//! Which elements stay is decided by the R4 base definitions — `isSummary` and
//! the minimum cardinality of each element — read from
//! `conformance/r4-elements.tsv`, which `scripts/build-conformance.py`
//! generates from the StructureDefinition snapshots.
//!
//! Whenever something is removed the result carries the `SUBSETTED` tag in
//! `meta.tag`, as the spec asks, so nobody mistakes it for the whole resource
//! and writes it back.
//!
//! [search.html#summary]: https://hl7.org/fhir/R4/search.html#summary
//! [search.html#elements]: https://hl7.org/fhir/R4/search.html#elements

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// One line per element of every R4 resource type (see the generating script).
static ELEMENTS_TSV: &str = include_str!("../../conformance/r4-elements.tsv");

const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
const SUBSETTED_CODE: &str = "SUBSETTED";

/// The values of the `_summary` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryMode {
    /// Only the elements marked `isSummary` in the base definition.
    True,
    /// Only `text`, `id`, `meta` and the top-level mandatory elements.
    Text,
    /// Everything but `text`.
    Data,
    /// Search only: the count of matches, no resources. Meaningless for one
    /// resource, so [`summarize`] leaves it unchanged and the caller decides.
    Count,
    /// The whole resource.
    False,
}

impl SummaryMode {
    /// Parses the parameter value; the spec's codes are lower case and so is
    /// the match.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "true" => Some(SummaryMode::True),
            "text" => Some(SummaryMode::Text),
            "data" => Some(SummaryMode::Data),
            "count" => Some(SummaryMode::Count),
            "false" => Some(SummaryMode::False),
            _ => None,
        }
    }
}

/// The `_summary` view of one resource. The input is never modified; a
/// resource whose type Ipê does not know comes back unchanged.
pub fn summarize(resource: &Value, mode: SummaryMode) -> Value {
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    match mode {
        SummaryMode::False | SummaryMode::Count => resource.clone(),
        // Needs no definitions: `text` is the same element in every resource.
        SummaryMode::Data => subset(object, |key| !is_text(key)),
        SummaryMode::Text => {
            let Some(def) = type_definition(object) else {
                return resource.clone();
            };
            subset(object, |key| {
                is_always_kept(key) || is_text(key) || def.child("", key).is_some_and(|e| e.min > 0)
            })
        }
        SummaryMode::True => {
            let Some(def) = type_definition(object) else {
                return resource.clone();
            };
            let mut removed = false;
            let kept = summary_children(def, "", object, &mut removed);
            finish(kept, removed)
        }
    }
}

/// The `_elements` view of one resource: the listed top-level elements plus
/// `resourceType`, `id`, `meta` and the mandatory elements, which the spec
/// says servers SHOULD always return. Names are element names as the spec
/// writes them (`name`, or a choice's base name such as `value` for
/// `valueQuantity`); the `Patient.name` form is accepted too. Unknown names are
/// ignored. A resource whose type Ipê does not know comes back unchanged.
pub fn select_elements(resource: &Value, elements: &[&str]) -> Value {
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    let Some(def) = type_definition(object) else {
        return resource.clone();
    };
    let wanted: Vec<&str> = elements
        .iter()
        .map(|name| name.trim())
        .map(|name| {
            name.strip_prefix(def.name)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(name)
        })
        .filter(|name| !name.is_empty())
        .collect();
    subset(object, |key| {
        is_always_kept(key)
            || def.child("", key).is_some_and(|element| {
                element.min > 0 || wanted.contains(&element.name) || wanted.contains(&json_name(key))
            })
    })
}

/// `resourceType`, `id` and `meta` survive every subset.
fn is_always_kept(key: &str) -> bool {
    matches!(json_name(key), "resourceType" | "id" | "meta")
}

fn is_text(key: &str) -> bool {
    json_name(key) == "text"
}

/// `_birthDate` carries the extensions of `birthDate` and follows it.
fn json_name(key: &str) -> &str {
    key.strip_prefix('_').unwrap_or(key)
}

/// The entries of `object` that `keep` accepts, tagged if any was left out.
fn subset(object: &Map<String, Value>, keep: impl Fn(&str) -> bool) -> Value {
    let kept: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| keep(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let removed = kept.len() < object.len();
    finish(kept, removed)
}

/// The summary elements of one object (the resource root or a backbone
/// element), recursing into backbone elements; complex datatypes are kept whole.
fn summary_children(
    def: &TypeDefinition,
    parent: &str,
    object: &Map<String, Value>,
    removed: &mut bool,
) -> Map<String, Value> {
    let mut kept = Map::new();
    for (key, value) in object {
        if parent.is_empty() && is_always_kept(key) {
            kept.insert(key.clone(), value.clone());
            continue;
        }
        let Some(element) = def.child(parent, key).filter(|e| e.summary) else {
            *removed = true;
            continue;
        };
        let value = match element.children {
            Some(children) if !key.starts_with('_') => match summary_backbone(def, children, value, removed) {
                Some(value) => value,
                None => continue,
            },
            _ => value.clone(),
        };
        kept.insert(key.clone(), value);
    }
    kept
}

/// A backbone element (one object or an array of them) cut down to its
/// summary children; `None` when nothing is left, so no `{}` is produced.
fn summary_backbone(def: &TypeDefinition, children: &str, value: &Value, removed: &mut bool) -> Option<Value> {
    let mut one = |object: &Map<String, Value>| {
        let kept = summary_children(def, children, object, removed);
        if kept.is_empty() {
            *removed = true;
            None
        } else {
            Some(Value::Object(kept))
        }
    };
    match value {
        Value::Object(object) => one(object),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(object) => one(object),
                    other => Some(other.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

/// The resulting resource, tagged `SUBSETTED` when anything was removed.
fn finish(mut kept: Map<String, Value>, removed: bool) -> Value {
    if removed {
        mark_subsetted(&mut kept);
    }
    Value::Object(kept)
}

/// Adds the `SUBSETTED` tag to `meta.tag` unless it is there already. A new
/// `meta` goes right after `id` (or `resourceType`), where readers expect it.
fn mark_subsetted(resource: &mut Map<String, Value>) {
    if !resource.contains_key("meta") {
        let at = ["id", "resourceType"]
            .iter()
            .find_map(|wanted| resource.keys().position(|key| key == wanted))
            .map_or(0, |i| i + 1);
        resource.shift_insert(at, "meta".to_owned(), json!({}));
    }
    // A malformed `meta` or `meta.tag` is left as it is: this is a view, not
    // the place to repair what validation should have refused.
    let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) else {
        return;
    };
    let tags = meta.entry("tag").or_insert_with(|| json!([]));
    let Some(tags) = tags.as_array_mut() else {
        return;
    };
    let present = tags.iter().any(|tag| {
        tag.get("system").and_then(Value::as_str) == Some(SUBSETTED_SYSTEM)
            && tag.get("code").and_then(Value::as_str) == Some(SUBSETTED_CODE)
    });
    if !present {
        tags.push(json!({
            "system": SUBSETTED_SYSTEM,
            "code": SUBSETTED_CODE,
            "display": "subsetted",
        }));
    }
}

/// The definition of the resource's type, if its `resourceType` names one.
fn type_definition(resource: &Map<String, Value>) -> Option<&'static TypeDefinition> {
    let name = resource.get("resourceType")?.as_str()?;
    table()?.types.get(name)
}

/// One element of a resource type, borrowed from the embedded table.
#[derive(Debug)]
struct ElementDefinition {
    /// The last path segment without `[x]`: `value` for `value[x]`.
    name: &'static str,
    /// Whether the name is a choice (`value[x]`) spelled `valueQuantity` etc. in JSON.
    choice: bool,
    /// Comma-separated type codes; for a choice they give the JSON names.
    types: &'static str,
    min: u32,
    summary: bool,
    /// For backbone elements, the path whose children they have: their own, or
    /// for an element defined by reference (`Questionnaire.item.item`) the
    /// referenced one (`item`).
    children: Option<&'static str>,
}

impl ElementDefinition {
    /// Whether this element is spelled `key` in JSON (`_key` included).
    fn matches(&self, key: &str) -> bool {
        let key = json_name(key);
        if !self.choice {
            return key == self.name;
        }
        let Some(suffix) = key.strip_prefix(self.name) else {
            return false;
        };
        self.types.split(',').any(|code| is_capitalized(code, suffix))
    }
}

/// `suffix` is `code` with its first letter upper-cased (`dateTime` → `DateTime`).
fn is_capitalized(code: &str, suffix: &str) -> bool {
    let mut code_chars = code.chars();
    let mut suffix_chars = suffix.chars();
    match (code_chars.next(), suffix_chars.next()) {
        (Some(c), Some(s)) => c.to_ascii_uppercase() == s && code_chars.eq(suffix_chars),
        _ => false,
    }
}

/// All elements of one resource type, grouped by parent path ("" for the root).
#[derive(Debug)]
struct TypeDefinition {
    name: &'static str,
    by_parent: HashMap<&'static str, Vec<ElementDefinition>>,
}

impl TypeDefinition {
    fn child(&self, parent: &str, key: &str) -> Option<&ElementDefinition> {
        self.by_parent.get(parent)?.iter().find(|e| e.matches(key))
    }
}

#[derive(Debug)]
struct Table {
    types: HashMap<&'static str, TypeDefinition>,
}

#[derive(Debug, thiserror::Error)]
#[error("conformance/r4-elements.tsv line {line}: {problem}")]
struct TableError {
    line: usize,
    problem: &'static str,
}

/// The parsed table, or `None` if the embedded file is broken — which the
/// tests rule out; callers then return resources unchanged rather than fail a
/// read over a presentation option.
fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| match parse_table(ELEMENTS_TSV) {
            Ok(table) => Some(table),
            Err(error) => {
                tracing::error!(%error, "element table unusable; _summary/_elements disabled");
                None
            }
        })
        .as_ref()
}

fn parse_table(text: &'static str) -> Result<Table, TableError> {
    let mut types: HashMap<&'static str, TypeDefinition> = HashMap::new();
    let mut current: Option<&'static str> = None;
    for (index, line) in text.lines().enumerate() {
        let error = |problem| TableError {
            line: index + 1,
            problem,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(element_line) = line.strip_prefix('\t') else {
            current = Some(line);
            types.insert(
                line,
                TypeDefinition {
                    name: line,
                    by_parent: HashMap::new(),
                },
            );
            continue;
        };
        let type_name = current.ok_or_else(|| error("element before any type"))?;
        let (parent, element) = parse_element(element_line).ok_or_else(|| error("bad element"))?;
        types
            .get_mut(type_name)
            .ok_or_else(|| error("unknown type"))?
            .by_parent
            .entry(parent)
            .or_default()
            .push(element);
    }
    let mut table = Table { types };
    mark_backbones(&mut table);
    Ok(table)
}

/// One element line: `path min max flags types`. Returns its parent path too.
fn parse_element(line: &'static str) -> Option<(&'static str, ElementDefinition)> {
    let mut fields = line.split('\t');
    let path = fields.next()?;
    let min = fields.next()?.parse().ok()?;
    let _max = fields.next()?;
    let flags = fields.next()?;
    let types = fields.next()?;
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let (name, choice) = match last.strip_suffix("[x]") {
        Some(base) => (base, true),
        None => (last, false),
    };
    // `#Questionnaire.item`: reuse the children of `item`.
    let children = types
        .strip_prefix('#')
        .map(|target| target.split_once('.').map_or(target, |(_, path)| path));
    Some((
        parent,
        ElementDefinition {
            name,
            choice,
            types,
            min,
            summary: flags.contains('S'),
            children,
        },
    ))
}

/// Gives every element that has child elements its own path as `children`.
fn mark_backbones(table: &mut Table) {
    for def in table.types.values_mut() {
        let parents: Vec<&'static str> = def.by_parent.keys().copied().collect();
        for parent in parents {
            let Some((grand, last)) = split_parent(parent) else {
                continue;
            };
            if let Some(element) = def
                .by_parent
                .get_mut(grand)
                .and_then(|siblings| siblings.iter_mut().find(|e| e.name == last))
            {
                element.children = Some(parent);
            }
        }
    }
}

fn split_parent(path: &'static str) -> Option<(&'static str, &'static str)> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('.').unwrap_or(("", path)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::resource_type;
    use crate::validation::test_data;

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn is_subsetted(value: &Value) -> bool {
        value["meta"]["tag"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t["code"] == SUBSETTED_CODE))
    }

    fn element(type_name: &str, parent: &str, key: &str) -> &'static ElementDefinition {
        table()
            .and_then(|t| t.types.get(type_name))
            .and_then(|d| d.child(parent, key))
            .unwrap_or_else(|| panic!("{type_name} {parent} {key} not in table"))
    }

    #[test]
    fn the_embedded_table_covers_every_r4_resource_type() {
        let table = parse_table(ELEMENTS_TSV).expect("generated table parses");
        assert_eq!(table.types.len(), 146);
        for name in resource_type::ALL {
            assert!(table.types.contains_key(name), "{name} missing");
        }
    }

    #[test]
    fn choice_elements_match_their_typed_json_names_only() {
        let value = element("Observation", "", "valueQuantity");
        assert_eq!(value.name, "value");
        assert!(value.matches("valueDateTime") && value.matches("_valueDateTime"));
        assert!(!value.matches("valueFoo") && !value.matches("value"));
    }

    #[test]
    fn elements_defined_by_reference_reuse_the_referenced_children() {
        // Questionnaire.item.item is `#Questionnaire.item`: its linkId is item.linkId.
        let nested = element("Questionnaire", "item", "item");
        assert_eq!(nested.children, Some("item"));
        assert_eq!(element("Questionnaire", "item", "linkId").min, 1);
    }

    #[test]
    fn summary_mode_parses_the_spec_codes() {
        assert_eq!(SummaryMode::parse("true"), Some(SummaryMode::True));
        assert_eq!(SummaryMode::parse("text"), Some(SummaryMode::Text));
        assert_eq!(SummaryMode::parse("data"), Some(SummaryMode::Data));
        assert_eq!(SummaryMode::parse("count"), Some(SummaryMode::Count));
        assert_eq!(SummaryMode::parse("false"), Some(SummaryMode::False));
        assert_eq!(SummaryMode::parse("TRUE"), None);
        assert_eq!(SummaryMode::parse(""), None);
    }

    #[test]
    fn summary_true_keeps_the_summary_elements_of_patient_example() {
        // Per Patient's StructureDefinition: identifier, active, name, telecom,
        // gender, birthDate, deceased[x], address, managingOrganization, link
        // are isSummary; text and contact are not (contact as a whole, so
        // contact.relationship goes with it).
        assert!(!element("Patient", "", "contact").summary);
        assert!(!element("Patient", "", "text").summary);
        let patient = test_data::example("Patient-example.json");
        let summary = summarize(&patient, SummaryMode::True);
        assert_eq!(
            keys(&summary),
            [
                "resourceType",
                "id",
                "meta",
                "identifier",
                "active",
                "name",
                "telecom",
                "gender",
                "birthDate",
                "_birthDate",
                "deceasedBoolean",
                "address",
                "managingOrganization",
            ]
        );
        // Complex datatypes are kept whole, not cut to their own summary elements.
        assert_eq!(summary["name"], patient["name"]);
        assert!(is_subsetted(&summary));
    }

    #[test]
    fn summary_true_cuts_backbone_elements_to_their_summary_children() {
        // Observation.component is summary, but component.interpretation is not.
        assert!(element("Observation", "", "component").summary);
        assert!(!element("Observation", "component", "interpretation").summary);
        let observation = test_data::example("Observation-blood-pressure.json");
        let summary = summarize(&observation, SummaryMode::True);
        let components = summary["component"].as_array().expect("components kept");
        assert!(!components.is_empty());
        for component in components {
            assert_eq!(keys(component), ["code", "valueQuantity"]);
        }
        assert!(summary.get("text").is_none());
        assert!(is_subsetted(&summary));
    }

    #[test]
    fn summary_text_keeps_text_id_meta_and_mandatory_elements() {
        let observation = test_data::example("Observation-example.json");
        let summary = summarize(&observation, SummaryMode::Text);
        // status and code are Observation's only 1..1 top-level elements.
        assert_eq!(keys(&summary), ["resourceType", "id", "meta", "text", "status", "code"]);
        assert!(is_subsetted(&summary));
    }

    #[test]
    fn summary_data_removes_only_text() {
        let observation = test_data::example("Observation-example.json");
        let summary = summarize(&observation, SummaryMode::Data);
        let mut expected = keys(&observation);
        expected.retain(|k| *k != "text");
        expected.insert(2, "meta");
        assert_eq!(keys(&summary), expected);
        assert!(is_subsetted(&summary));

        // Nothing removed, nothing tagged: the result is the whole resource.
        let untexted = json!({"resourceType": "Basic", "id": "b", "code": {"text": "x"}});
        assert_eq!(summarize(&untexted, SummaryMode::Data), untexted);
    }

    #[test]
    fn summary_false_and_count_leave_the_resource_unchanged() {
        let patient = test_data::example("Patient-example.json");
        assert_eq!(summarize(&patient, SummaryMode::False), patient);
        assert_eq!(summarize(&patient, SummaryMode::Count), patient);
    }

    #[test]
    fn elements_keeps_listed_and_mandatory_elements() {
        let observation = test_data::example("Observation-example.json");
        // `value` is the choice's base name and selects valueQuantity; status
        // and code come back although not asked for, being mandatory.
        let selected = select_elements(&observation, &["value", "Observation.subject"]);
        assert_eq!(
            keys(&selected),
            [
                "resourceType",
                "id",
                "meta",
                "status",
                "code",
                "subject",
                "valueQuantity"
            ]
        );
        assert!(is_subsetted(&selected));
    }

    #[test]
    fn elements_keeps_primitive_extension_parts_with_their_element() {
        let patient = test_data::example("Patient-example.json");
        let selected = select_elements(&patient, &["birthDate", "unknownName"]);
        assert_eq!(
            keys(&selected),
            ["resourceType", "id", "meta", "birthDate", "_birthDate"]
        );
    }

    #[test]
    fn subsetted_tag_joins_existing_tags_once() {
        let resource = json!({
            "resourceType": "Patient", "id": "p",
            "meta": {"versionId": "2", "tag": [{"system": "http://example.org", "code": "x"}]},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
            "gender": "male",
        });
        let once = summarize(&resource, SummaryMode::Data);
        assert_eq!(once["meta"]["versionId"], "2");
        assert_eq!(once["meta"]["tag"].as_array().map(Vec::len), Some(2));
        let mut with_text = once.clone();
        with_text["text"] = resource["text"].clone();
        let twice = summarize(&with_text, SummaryMode::Data);
        assert_eq!(twice["meta"]["tag"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn unknown_types_and_non_objects_come_back_unchanged() {
        let odd = json!({"resourceType": "Nope", "text": {}, "x": 1});
        assert_eq!(summarize(&odd, SummaryMode::True), odd);
        assert_eq!(select_elements(&odd, &["x"]), odd);
        assert_eq!(summarize(&json!([1]), SummaryMode::Text), json!([1]));
    }
}
