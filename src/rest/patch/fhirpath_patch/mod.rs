//! FHIRPath Patch (<https://hl7.org/fhir/R4/fhirpatch.html>): a `Parameters`
//! resource listing operations (add, insert, delete, replace, move) on
//! elements selected by FHIRPath.
//!
//! # Layout
//!
//! - `parameters`: the Parameters resource → checked operations (errors are
//!   400s located at `Parameters.parameter[i].part[j]`);
//! - `operations`: each operation applied to the resource JSON (errors are
//!   422s located at the operation);
//! - `location`: where the elements a path selects live in the JSON;
//! - `types`: what the R4 model says of them (repeats? choice? type?);
//! - `edit`: JSON edits that keep `_name` companions aligned and leave no
//!   empty objects behind.

mod edit;
mod location;
mod operations;
mod parameters;
#[cfg(test)]
mod suite_tests;
mod types;

use serde_json::Value;

use super::PatchError;
use parameters::Operation;

/// A checked FHIRPath Patch, ready to apply to any resource.
#[derive(Debug)]
pub struct FhirPathPatch {
    operations: Vec<Operation>,
}

impl FhirPathPatch {
    /// Reads a `Parameters` resource, checking every operation and
    /// compiling its path.
    pub fn parse(parameters: &Value) -> Result<Self, PatchError> {
        Ok(FhirPathPatch {
            operations: parameters::operations(parameters)?,
        })
    }

    /// The JSON of every value the patch writes (for a transaction to
    /// rewrite references to its other entries).
    pub fn values_mut(&mut self) -> Vec<&mut Value> {
        let mut values = Vec::new();
        for op in &mut self.operations {
            if let Some(value) = op.kind.value_mut() {
                value.collect_json_mut(&mut values);
            }
        }
        values
    }

    /// Applies the operations in order. On error the resource may be half
    /// changed: callers apply to a copy they drop on failure.
    pub fn apply(&self, resource: &mut Value) -> Result<(), PatchError> {
        for op in &self.operations {
            operations::apply(resource, op).map_err(|message| PatchError::NotApplicable {
                message: format!("{} at {}: {message}", op.kind.code(), op.path.text()),
                expression: Some(op.at.clone()),
            })?;
        }
        // Deleting the last child of an element leaves it empty; FHIR JSON
        // has no empty elements. Done once at the end, so that indexes in
        // later operations still see the element.
        edit::prune(resource);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operation(parts: Value) -> Value {
        json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]})
    }

    fn patched(resource: Value, patch: Value) -> Result<Value, PatchError> {
        let mut resource = resource;
        FhirPathPatch::parse(&patch)?.apply(&mut resource)?;
        Ok(resource)
    }

    fn failure(resource: Value, patch: Value) -> String {
        match patched(resource, patch) {
            Err(PatchError::NotApplicable { message, expression }) => {
                assert_eq!(expression.as_deref(), Some("Parameters.parameter[0]"));
                message
            }
            other => panic!("expected the patch not to apply, got {other:?}"),
        }
    }

    #[test]
    fn replacing_a_choice_element_with_another_type_changes_its_key() {
        let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                         "valueString": "high", "_valueString": {"id": "v"}});
        let quantity: Value = serde_json::from_str(r#"{"value": 1.50, "unit": "mg"}"#).expect("JSON");
        let patch = operation(json!([
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Observation.value"},
            {"name": "value", "valueQuantity": quantity},
        ]));
        let out = patched(obs, patch).expect("applies");
        assert_eq!(out.get("valueString"), None);
        assert_eq!(out.get("_valueString"), None, "the old value's extensions go with it");
        assert_eq!(
            out["valueQuantity"]["value"].to_string(),
            "1.50",
            "decimals keep their digits"
        );
    }

    #[test]
    fn adding_a_choice_element_spells_its_key_from_the_value_type() {
        let patch = operation(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "deceased"},
            {"name": "value", "valueBoolean": true},
        ]));
        let out = patched(json!({"resourceType": "Patient"}), patch).expect("applies");
        assert_eq!(out, json!({"resourceType": "Patient", "deceasedBoolean": true}));
    }

    #[test]
    fn adding_to_a_single_element_that_has_a_value_fails() {
        let patch = operation(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "birthDate"},
            {"name": "value", "valueDate": "2000-01-01"},
        ]));
        let message = failure(json!({"resourceType": "Patient", "birthDate": "1990-01-01"}), patch);
        assert!(message.contains("use replace"), "{message}");
    }

    #[test]
    fn extensions_can_be_added_to_a_primitive_through_its_companion() {
        let patch = operation(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient.name[0].given[1]"},
            {"name": "name", "valueString": "extension"},
            {"name": "value", "part": [
                {"name": "url", "valueUri": "http://example.org/x"},
                {"name": "value", "valueString": "y"},
            ]},
        ]));
        let out = patched(
            json!({"resourceType": "Patient", "name": [{"given": ["a", "b"]}]}),
            patch,
        )
        .expect("applies");
        assert_eq!(
            out["name"][0],
            json!({"given": ["a", "b"],
                   "_given": [null, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}]})
        );
    }

    #[test]
    fn deleting_and_moving_primitives_keeps_their_extensions_aligned() {
        let patient = json!({"resourceType": "Patient",
            "name": [{"given": ["a", "b", "c"], "_given": [null, {"id": "b"}, null]}]});
        let delete = operation(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.name.given[0]"},
        ]));
        let out = patched(patient.clone(), delete).expect("applies");
        assert_eq!(
            out["name"][0],
            json!({"given": ["b", "c"], "_given": [{"id": "b"}, null]})
        );
        let mv = operation(json!([
            {"name": "type", "valueCode": "move"},
            {"name": "path", "valueString": "Patient.name.given"},
            {"name": "source", "valueInteger": 1},
            {"name": "destination", "valueInteger": 2},
        ]));
        let out = patched(patient, mv).expect("applies");
        assert_eq!(
            out["name"][0],
            json!({"given": ["a", "c", "b"], "_given": [null, null, {"id": "b"}]})
        );
    }

    #[test]
    fn insert_into_an_absent_list_finds_it_through_its_parent() {
        let patch = operation(json!([
            {"name": "type", "valueCode": "insert"},
            {"name": "path", "valueString": "Patient.telecom"},
            {"name": "index", "valueInteger": 0},
            {"name": "value", "valueContactPoint": {"system": "phone", "value": "1"}},
        ]));
        let out = patched(json!({"resourceType": "Patient"}), patch).expect("applies");
        assert_eq!(out["telecom"], json!([{"system": "phone", "value": "1"}]));
    }

    #[test]
    fn insert_past_the_end_and_into_a_non_list_fail() {
        let patient = json!({"resourceType": "Patient", "identifier": [{"value": "1"}], "birthDate": "2000"});
        let past_end = operation(json!([
            {"name": "type", "valueCode": "insert"},
            {"name": "path", "valueString": "Patient.identifier"},
            {"name": "index", "valueInteger": 2},
            {"name": "value", "valueIdentifier": {"value": "2"}},
        ]));
        assert!(failure(patient.clone(), past_end).contains("1 item"));
        let not_list = operation(json!([
            {"name": "type", "valueCode": "insert"},
            {"name": "path", "valueString": "Patient.birthDate"},
            {"name": "index", "valueInteger": 0},
            {"name": "value", "valueDate": "2001"},
        ]));
        assert!(failure(patient, not_list).contains("not a list"));
    }

    #[test]
    fn paths_that_select_the_wrong_number_of_elements_fail() {
        let patient = json!({"resourceType": "Patient", "name": [{"family": "a"}, {"family": "b"}]});
        let replace_nothing = operation(json!([
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient.birthDate"},
            {"name": "value", "valueDate": "2001"},
        ]));
        assert!(failure(patient.clone(), replace_nothing).contains("No content found"));
        let delete_two = operation(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.name.family"},
        ]));
        assert!(failure(patient.clone(), delete_two).contains("selects 2 elements"));
        let delete_nothing = operation(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.birthDate"},
        ]));
        assert_eq!(patched(patient.clone(), delete_nothing).expect("no-op"), patient);
    }

    #[test]
    fn the_resource_itself_cannot_be_replaced_or_deleted() {
        let patient = json!({"resourceType": "Patient"});
        let delete = operation(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient"},
        ]));
        assert!(failure(patient.clone(), delete).contains("resource itself"));
        let replace = operation(json!([
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient"},
            {"name": "value", "resource": {"resourceType": "Patient"}},
        ]));
        assert!(failure(patient, replace).contains("resource itself"));
    }

    #[test]
    fn unknown_elements_and_wrong_choice_types_fail() {
        let add_unknown = operation(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "shoeSize"},
            {"name": "value", "valueInteger": 42},
        ]));
        assert!(failure(json!({"resourceType": "Patient"}), add_unknown).contains("no element 'shoeSize'"));
        let wrong_type = operation(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "deceased"},
            {"name": "value", "valueString": "yes"},
        ]));
        assert!(failure(json!({"resourceType": "Patient"}), wrong_type).contains("cannot hold a string"));
    }
}
