//! Issue 6, must-show 2: official US Core 6.1.0 examples, each valid as
//! shipped, broken one way at a time — each mutant must be rejected with
//! an error located at the element that was broken.

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use super::ProfileValidator;
use crate::outcome::{Issue, IssueType, Severity};
use crate::packages::test_packages;
use crate::terminology::TerminologyService;

fn validator() -> &'static ProfileValidator {
    static VALIDATOR: OnceLock<ProfileValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let (registry, _) = runtime.block_on(test_packages::load(&[test_packages::THO, test_packages::US_CORE_610]));
        ProfileValidator::new(Arc::new(TerminologyService::new(Arc::new(registry))))
    })
}

/// An example of the US Core 6.1.0 package, by file name.
fn example(name: &str) -> Value {
    let path = test_packages::shared(test_packages::US_CORE_610);
    let file = std::fs::File::open(&path).expect("the US Core package");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("an entry");
        if entry.path().expect("a path").ends_with(name) {
            return serde_json::from_reader(&mut entry).expect("JSON");
        }
    }
    panic!("{name} is not in US Core 6.1.0");
}

fn errors(resource: &Value) -> Vec<Issue> {
    validator()
        .validate(resource, &[], Severity::Error)
        .into_iter()
        .filter(|i| i.severity <= Severity::Error)
        .collect()
}

/// Asserts the unmutated example is valid, then that the mutant has an
/// error at `expression` whose message contains `says`.
fn rejected(name: &str, mutate: impl FnOnce(&mut Value), expression: &str, says: &str) -> Issue {
    let mut resource = example(name);
    assert_eq!(errors(&resource), vec![], "{name} as shipped");
    mutate(&mut resource);
    let found = errors(&resource);
    found
        .iter()
        .find(|i| i.expression.as_deref() == Some(expression) && i.diagnostics.contains(says))
        .cloned()
        .unwrap_or_else(|| panic!("no error at {expression} saying {says:?}; found {found:#?}"))
}

#[test]
fn a_missing_required_element_is_an_error_on_its_parent() {
    let issue = rejected(
        "Patient-example.json",
        |p| drop(p.as_object_mut().map(|o| o.remove("name"))),
        "Patient",
        "Patient.name: minimum required = 1, but only found 0",
    );
    assert_eq!(issue.code, IssueType::Required);
}

#[test]
fn a_code_outside_a_required_binding_is_an_error() {
    let issue = rejected(
        "Patient-example.json",
        |p| p["gender"] = json!("femme"),
        "Patient.gender",
        "binding required",
    );
    assert_eq!(issue.code, IssueType::CodeInvalid);
}

#[test]
fn a_broken_profile_invariant_is_an_error_at_its_element() {
    // us-core-6: a name has a family or given name, or says why it has not.
    let issue = rejected(
        "Patient-example.json",
        |p| p["name"][1] = json!({"text": "Amy Baxter"}),
        "Patient.name[1]",
        "us-core-6",
    );
    assert_eq!(issue.code, IssueType::Invariant);
}

#[test]
fn a_broken_base_invariant_is_an_error_at_its_element() {
    // per-1: a period starts before it ends.
    rejected(
        "Patient-example.json",
        |p| p["name"][0]["period"] = json!({"start": "2020-07-22", "end": "2016-12-06"}),
        "Patient.name[0].period",
        "per-1",
    );
}

#[test]
fn a_missing_required_slice_is_an_error() {
    // The systolic component is required; recoded, it matches no slice.
    rejected(
        "Observation-blood-pressure.json",
        |o| o["component"][0]["code"]["coding"][0]["code"] = json!("8867-4"),
        "Observation",
        "slice 'systolic' requires at least 1, but found 0",
    );
}

#[test]
fn a_wrong_category_slice_is_an_error() {
    // US Core vital signs require the vital-signs category slice.
    rejected(
        "Observation-blood-pressure.json",
        |o| o["category"][0]["coding"][0]["code"] = json!("laboratory"),
        "Observation",
        "slice 'VSCat' requires at least 1",
    );
}

#[test]
fn a_reference_to_the_wrong_type_is_an_error_at_the_reference() {
    rejected(
        "Observation-blood-pressure.json",
        |o| o["subject"] = json!({"reference": "Practitioner/practitioner-1"}),
        "Observation.subject",
        "is to a Practitioner, which is not a valid target here",
    );
}

#[test]
fn a_wrong_reference_inside_a_bundle_is_located_in_its_entry() {
    rejected(
        "Bundle-c887e62f-6166-419f-8268-b5ecd6c7b901.json",
        |b| b["entry"][0]["resource"]["patient"] = json!({"reference": "Device/1"}),
        "Bundle.entry[0].resource.patient",
        "is to a Device",
    );
}

#[test]
fn an_unknown_element_is_an_error() {
    rejected(
        "Patient-example.json",
        |p| p["name"][0]["nickname"] = json!("Amy"),
        "Patient.name[0].nickname",
        "Unrecognized property 'nickname'",
    );
}

#[test]
fn a_bad_primitive_is_an_error_at_the_value() {
    rejected(
        "Patient-example.json",
        |p| p["birthDate"] = json!("1987-02-30"),
        "Patient.birthDate",
        "not a valid date",
    );
    // A null in a repeating primitive must align a `_given` item.
    rejected(
        "Patient-example.json",
        |p| p["name"][0]["given"][1] = Value::Null,
        "Patient.name[0].given[1]",
        "null is only allowed to align a value with its extensions",
    );
}

#[test]
fn a_choice_of_a_type_the_element_does_not_allow_is_an_error() {
    rejected(
        "Observation-blood-pressure.json",
        |o| {
            let map = o.as_object_mut().expect("an object");
            map.remove("effectiveDateTime");
            map.insert("effectiveString".into(), json!("yesterday"));
        },
        "Observation.effectiveString",
        "not one of dateTime, Period",
    );
}

#[test]
fn an_extension_with_a_value_of_the_wrong_type_is_an_error() {
    // us-core-birthsex takes a code.
    rejected(
        "Patient-example.json",
        |p| {
            let ext = p["extension"].as_array_mut().expect("extensions");
            let at = ext
                .iter()
                .position(|e| e["url"].as_str().unwrap_or_default().ends_with("us-core-birthsex"));
            assert_eq!(at, Some(3), "where the example has its birth sex");
            ext[3] = json!({
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                "valueString": "F"
            });
        },
        "Patient.extension[3].valueString",
        "not one of code",
    );
}

#[test]
fn an_unknown_modifier_extension_is_an_error() {
    rejected(
        "Patient-example.json",
        |p| p["modifierExtension"] = json!([{"url": "http://example.org/never-defined", "valueBoolean": true}]),
        "Patient.modifierExtension[0]",
        "could not be found, so it is not allowed here",
    );
}
