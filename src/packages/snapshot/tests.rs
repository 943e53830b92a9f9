//! Behaviours of snapshot generation on small profiles over base R4; the
//! whole-IG comparison with the Publisher is `tests/snapshot_oracle.rs`.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;
use crate::packages::base;

fn registry() -> &'static CanonicalRegistry {
    static REGISTRY: OnceLock<CanonicalRegistry> = OnceLock::new();
    REGISTRY.get_or_init(base::registry)
}

fn profile(base: &str, elements: Value) -> Value {
    json!({
        "resourceType": "StructureDefinition",
        "url": "http://example.org/StructureDefinition/test",
        "type": base,
        "baseDefinition": format!("http://hl7.org/fhir/StructureDefinition/{base}"),
        "derivation": "constraint",
        "differential": {"element": elements},
    })
}

fn element<'v>(snapshot: &'v Value, id: &str) -> &'v Value {
    snapshot["snapshot"]["element"]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["id"] == id))
        .unwrap_or_else(|| panic!("no element {id}"))
}

fn ids(snapshot: &Value) -> Vec<String> {
    snapshot["snapshot"]["element"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn differential_overrides_cardinality_and_keeps_base() {
    let p = profile(
        "Observation",
        json!([{"id": "Observation.subject", "path": "Observation.subject", "min": 1, "mustSupport": true}]),
    );
    let s = generate(&p, registry()).unwrap();
    let subject = element(&s, "Observation.subject");
    assert_eq!(subject["min"], 1);
    assert_eq!(subject["max"], "1");
    assert_eq!(subject["mustSupport"], true);
    assert_eq!(
        subject["base"]["min"], 0,
        "base keeps the base definition's cardinality"
    );
}

#[test]
fn diving_below_a_datatype_pulls_in_its_elements_with_their_own_base() {
    let p = profile(
        "Observation",
        json!([{"id": "Observation.code.coding", "path": "Observation.code.coding", "min": 1}]),
    );
    let s = generate(&p, registry()).unwrap();
    let list = ids(&s);
    let at = list.iter().position(|i| i == "Observation.code").unwrap();
    assert_eq!(list[at + 1], "Observation.code.id");
    assert_eq!(
        element(&s, "Observation.code.coding")["base"]["path"],
        "CodeableConcept.coding"
    );
    assert_eq!(element(&s, "Observation.code.coding")["min"], 1);
    assert!(list.contains(&"Observation.code.text".to_owned()));
}

#[test]
fn slices_follow_their_sliced_element_and_start_from_the_base_element() {
    let p = profile(
        "Observation",
        json!([
            {"id": "Observation.component", "path": "Observation.component", "min": 1,
             "slicing": {"discriminator": [{"type": "pattern", "path": "code"}], "rules": "open"}},
            {"id": "Observation.component:a", "path": "Observation.component", "sliceName": "a", "max": "1"},
            {"id": "Observation.component:a.code", "path": "Observation.component.code", "short": "A"},
        ]),
    );
    let s = generate(&p, registry()).unwrap();
    let slice = element(&s, "Observation.component:a");
    assert_eq!(
        slice["min"], 0,
        "a slice starts from the base element, not the constrained entry"
    );
    assert_eq!(slice["sliceName"], "a");
    assert!(slice.get("slicing").is_none());
    assert_eq!(
        element(&s, "Observation.component:a.code")["path"],
        "Observation.component.code"
    );
    let list = ids(&s);
    let entry = list
        .iter()
        .position(|i| i == "Observation.component.referenceRange")
        .unwrap();
    assert_eq!(list[entry + 1], "Observation.component:a");
}

#[test]
fn a_renamed_choice_is_a_type_slice_at_the_top_and_a_narrowed_choice_inside_a_slice() {
    let p = profile(
        "Observation",
        json!([
            {"id": "Observation.valueQuantity.system", "path": "Observation.valueQuantity.system",
             "fixedUri": "http://unitsofmeasure.org"},
            {"id": "Observation.component:a", "path": "Observation.component", "sliceName": "a"},
            {"id": "Observation.component:a.valueString", "path": "Observation.component.valueString"},
        ]),
    );
    let s = generate(&p, registry()).unwrap();
    let choice = element(&s, "Observation.value[x]");
    assert_eq!(choice["slicing"]["discriminator"][0]["type"], "type");
    assert_eq!(choice["slicing"]["rules"], "open");
    assert_eq!(choice["type"].as_array().map(Vec::len), Some(11));
    let slice = element(&s, "Observation.value[x]:valueQuantity");
    assert_eq!(slice["type"], json!([{"code": "Quantity"}]));
    assert_eq!(
        element(&s, "Observation.value[x]:valueQuantity.system")["fixedUri"],
        "http://unitsofmeasure.org"
    );
    let in_slice = element(&s, "Observation.component:a.value[x]");
    assert_eq!(in_slice["type"], json!([{"code": "string"}]));
}

#[test]
fn extension_slices_get_url_slicing_and_the_definition_root() {
    let p = profile(
        "Patient",
        json!([{"id": "Patient.extension:birthPlace", "path": "Patient.extension", "sliceName": "birthPlace",
                "type": [{"code": "Extension",
                          "profile": ["http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]}]}]),
    );
    let s = generate(&p, registry()).unwrap();
    assert_eq!(
        element(&s, "Patient.extension")["slicing"]["discriminator"][0]["path"],
        "url"
    );
    let slice = element(&s, "Patient.extension:birthPlace");
    assert_eq!(slice["short"], "Place of Birth for patient");
}

#[test]
fn an_element_the_base_lacks_is_an_error_naming_it() {
    let p = profile(
        "Patient",
        json!([{"id": "Patient.nickname", "path": "Patient.nickname", "min": 1}]),
    );
    let error = generate(&p, registry()).unwrap_err();
    assert!(matches!(&error, SnapshotError::UnmatchedElement { element, .. } if element == "Patient.nickname"));
    assert!(error.to_string().contains("Patient.nickname"));
}

#[test]
fn an_unknown_base_is_an_error() {
    let mut p = profile("Patient", json!([]));
    p["baseDefinition"] = json!("http://example.org/nothing");
    assert!(matches!(
        generate(&p, registry()),
        Err(SnapshotError::UnknownBase { .. })
    ));
}

#[test]
fn a_profile_that_is_its_own_base_is_a_cycle_not_a_stack_overflow() {
    let r = CanonicalRegistry::new();
    let mut p = profile("Patient", json!([]));
    p["baseDefinition"] = json!("http://example.org/StructureDefinition/test");
    r.insert_value(std::sync::Arc::new(p.clone()), crate::packages::Origin::Base);
    assert!(matches!(generate(&p, &r), Err(SnapshotError::Cycle { .. })));
}

#[test]
fn a_derived_profile_reslices_a_slice_of_its_base_and_adds_slices_after_the_base_ones() {
    let r = base::registry();
    let mut a = profile(
        "Observation",
        json!([
            {"id": "Observation.component", "path": "Observation.component",
             "slicing": {"discriminator": [{"type": "pattern", "path": "code"}], "rules": "open"}},
            {"id": "Observation.component:a", "path": "Observation.component", "sliceName": "a"},
        ]),
    );
    a["url"] = json!("http://example.org/StructureDefinition/a");
    r.insert_value(std::sync::Arc::new(a), crate::packages::Origin::Base);
    let mut b = profile(
        "Observation",
        json!([
            {"id": "Observation.component:a", "path": "Observation.component", "sliceName": "a",
             "slicing": {"discriminator": [{"type": "value", "path": "code.coding.system"}], "rules": "closed"}},
            {"id": "Observation.component:a/x", "path": "Observation.component", "sliceName": "a/x", "max": "1"},
            {"id": "Observation.component:a/x.code", "path": "Observation.component.code", "short": "X"},
            {"id": "Observation.component:b", "path": "Observation.component", "sliceName": "b"},
        ]),
    );
    b["baseDefinition"] = json!("http://example.org/StructureDefinition/a");
    let s = generate(&b, &r).unwrap();
    let list = ids(&s);
    let position = |id: &str| list.iter().position(|i| i == id).unwrap_or_else(|| panic!("no {id}"));
    assert!(position("Observation.component:a") < position("Observation.component:a.referenceRange"));
    assert!(position("Observation.component:a.referenceRange") < position("Observation.component:a/x"));
    assert!(position("Observation.component:a/x.code") < position("Observation.component:b"));
    assert_eq!(element(&s, "Observation.component:a/x")["sliceName"], "a/x");
    assert_eq!(element(&s, "Observation.component:a/x.code")["short"], "X");
    assert_eq!(element(&s, "Observation.component:a")["slicing"]["rules"], "closed");
}

#[test]
fn differential_elements_without_ids_are_placed_by_path_and_slice_order() {
    let p = profile(
        "Observation",
        json!([
            {"path": "Observation.component",
             "slicing": {"discriminator": [{"type": "pattern", "path": "code"}], "rules": "open"}},
            {"path": "Observation.component", "sliceName": "a"},
            {"path": "Observation.component.code", "short": "in a"},
        ]),
    );
    let s = generate(&p, registry()).unwrap();
    assert_eq!(element(&s, "Observation.component:a.code")["short"], "in a");
    assert_ne!(element(&s, "Observation.component.code")["short"], "in a");
}

#[test]
fn a_required_renamed_choice_becomes_a_closed_type_slice() {
    let p = profile(
        "Observation",
        json!([{"id": "Observation.effectiveDateTime", "path": "Observation.effectiveDateTime", "min": 1}]),
    );
    let s = generate(&p, registry()).unwrap();
    let choice = element(&s, "Observation.effective[x]");
    assert_eq!(choice["slicing"]["rules"], "closed");
    assert_eq!(choice["min"], 1);
    assert_eq!(choice["type"], json!([{"code": "dateTime"}]));
    let slice = element(&s, "Observation.effective[x]:effectiveDateTime");
    assert_eq!(slice["type"], json!([{"code": "dateTime"}]));
    assert_eq!(slice["min"], 1);
}

#[test]
fn constraints_added_by_a_profile_carry_its_url_as_source() {
    let p = profile(
        "Patient",
        json!([{"id": "Patient.name", "path": "Patient.name",
                "constraint": [{"key": "x-1", "severity": "error", "human": "h", "expression": "family.exists()"}]}]),
    );
    let s = generate(&p, registry()).unwrap();
    let constraints = element(&s, "Patient.name")["constraint"].as_array().unwrap().clone();
    assert_eq!(constraints[0]["key"], "ele-1", "inherited constraints stay first");
    let added = constraints.iter().find(|c| c["key"] == "x-1").unwrap();
    assert_eq!(added["source"], "http://example.org/StructureDefinition/test");
}
