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

use serde_json::{json, Map, Value};

use super::definitions::{self, Kind, TypeDef};

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
    def: &TypeDef,
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
fn summary_backbone(def: &TypeDef, children: &str, value: &Value, removed: &mut bool) -> Option<Value> {
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
fn type_definition(resource: &Map<String, Value>) -> Option<&'static TypeDef> {
    let name = resource.get("resourceType")?.as_str()?;
    definitions::r4().get(name).filter(|t| t.kind == Kind::Resource)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::test_data;

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn element(type_name: &str, parent: &str, key: &str) -> &'static definitions::ElementDef {
        definitions::r4()
            .get(type_name)
            .and_then(|d| d.child(parent, key))
            .unwrap_or_else(|| panic!("{type_name} {parent} {key} not in table"))
    }

    fn is_subsetted(value: &Value) -> bool {
        value["meta"]["tag"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t["code"] == SUBSETTED_CODE))
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
