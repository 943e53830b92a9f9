//! Structural validation: is this JSON a well-formed FHIR R4 resource?
//!
//! Two passes over the resource, merged into one list of issues:
//!
//! 1. the official R4 JSON Schema (compacted into `conformance/fhir.schema.json`
//!    by `scripts/build-conformance.py`): unknown elements, JSON kinds,
//!    primitive formats, code lists, required elements;
//! 2. the FHIR JSON rules the schema cannot express (`rules.rs`): nulls, empty
//!    values, `x`/`_x` pairing, integer form and range, nested resources.
//!
//! One schema validator per resource type, compiled on first use (a few ms
//! each), so start-up only parses the schema; [`StructuralValidator::warm_up`]
//! compiles all 146 up front where first-request latency matters more.
//!
//! Nested resources (`contained`, `Bundle.entry.resource`,
//! `Parameters.parameter.resource`, …) are validated against their own type's
//! validator and reported under their parent's path — the raw schema would
//! test them against a `oneOf` of all 146 types and report 146 failures.

use std::sync::OnceLock;

use jsonschema::{Registry, Resource, Validator};
use serde_json::{json, Map, Value};

use super::findings::{describe, into_issues, Finding, Segment, MAX_FINDINGS};
use super::rules::{Walk, Walker};
use super::schema_errors;
use super::schema_model::{DefId, TypeModel};
use crate::model::resource_type::{self, ResourceType};
use crate::outcome::{Issue, IssueType};

/// The compacted R4 JSON Schema.
static SCHEMA_JSON: &str = include_str!("../../conformance/fhir.schema.json");

/// The URI the schema document is registered under; per-type validators are
/// `{"$ref": "<this>#/definitions/<Type>"}`.
const SCHEMA_URI: &str = "urn:ipe:fhir-r4-schema";

/// Why the embedded schema could not be loaded. Only a broken build produces
/// one: the schema is compiled into the binary and checked by the tests.
#[derive(Debug, thiserror::Error)]
pub enum SchemaLoadError {
    #[error("the embedded FHIR schema is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("the embedded FHIR schema is malformed at {0}")]
    Malformed(String),
    #[error("the embedded FHIR schema has no definition for resource type {0}")]
    MissingType(&'static str),
    #[error("the embedded FHIR schema cannot be indexed: {0}")]
    Registry(String),
}

/// Checks resources against the structure FHIR R4 defines. Cheap to share:
/// `Send + Sync`, validators are compiled once per type and reused.
pub struct StructuralValidator {
    model: TypeModel,
    /// The schema document, indexed once for every per-type validator.
    registry: Registry<'static>,
    /// The schema definition of each resource type, in `resource_type::ALL` order.
    resource_defs: Vec<DefId>,
    /// One validator per resource type, in `resource_type::ALL` order. A
    /// compile failure is kept as text so it is reported, not retried per request.
    validators: Vec<OnceLock<Result<Validator, String>>>,
}

impl std::fmt::Debug for StructuralValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let compiled = self.validators.iter().filter(|v| v.get().is_some()).count();
        f.debug_struct("StructuralValidator")
            .field("compiled_types", &compiled)
            .finish_non_exhaustive()
    }
}

impl StructuralValidator {
    /// Loads the embedded schema. Takes a few tens of milliseconds; compiling
    /// happens per type on first use.
    pub fn new() -> Result<Self, SchemaLoadError> {
        let schema: Value = serde_json::from_str(SCHEMA_JSON).map_err(SchemaLoadError::Json)?;
        let model = TypeModel::from_schema(&schema)?;
        let resource_defs = resource_type::ALL
            .iter()
            .map(|name| model.id(name).ok_or(SchemaLoadError::MissingType(name)))
            .collect::<Result<Vec<_>, _>>()?;
        let registry = Registry::new()
            .add(SCHEMA_URI, Resource::from_contents(schema))
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaLoadError::Registry(e.to_string()))?;
        Ok(StructuralValidator {
            model,
            registry,
            resource_defs,
            validators: resource_type::ALL.iter().map(|_| OnceLock::new()).collect(),
        })
    }

    /// Compiles the validators of all 146 resource types now, rather than on
    /// each type's first use. Returns how many failed to compile (0 unless the
    /// build is broken; each failure is also logged).
    pub fn warm_up(&self) -> usize {
        ResourceType::all()
            .filter(|&resource_type| self.validator(resource_type).is_err())
            .count()
    }

    /// The structural issues of `resource`; empty means structurally valid.
    /// Issues are errors (plus, past 100, one note that more were left out),
    /// in document order, each with a FHIRPath `expression` where there is an
    /// element to point at. Never panics, whatever the input.
    pub fn validate(&self, resource: &Value) -> Vec<Issue> {
        let mut findings = Vec::new();
        let root = self.check_resource(resource, &[], &mut findings, 0);
        into_issues(resource, root.resource_type(), findings)
    }

    pub(super) fn model(&self) -> &TypeModel {
        &self.model
    }

    /// Checks one resource located at `path` (empty for the top level),
    /// appending its findings. `depth` counts the JSON levels above it.
    pub(super) fn check_resource(
        &self,
        value: &Value,
        path: &[Segment],
        findings: &mut Vec<Finding>,
        depth: usize,
    ) -> Checked {
        let Some(object) = value.as_object() else {
            findings.push(Finding::new(
                path.to_vec(),
                IssueType::Structure,
                format!("expected a resource (a JSON object), found {}", describe(value)),
            ));
            return Checked::NotAResource;
        };
        let resource_type = match resource_type_of(object) {
            Ok(resource_type) => resource_type,
            Err((code, message)) => {
                findings.push(Finding::new(path.to_vec(), code, message));
                return Checked::NotAResource;
            }
        };
        let def = self.resource_def(resource_type);
        let walk = Walker::new(self, findings, path).resource(object, def, depth);
        if walk == Walk::Abandoned {
            return Checked::Abandoned(resource_type);
        }
        match self.validator(resource_type) {
            Ok(validator) => {
                if !validator.is_valid(value) {
                    for error in validator.iter_errors(value).take(MAX_FINDINGS) {
                        schema_errors::findings(&error, value, path, &self.model, findings);
                    }
                }
            }
            Err(message) => findings.push(Finding::new(
                path.to_vec(),
                IssueType::Exception,
                format!("{resource_type} cannot be checked: {message}"),
            )),
        }
        Checked::Done(resource_type)
    }

    fn resource_def(&self, resource_type: ResourceType) -> DefId {
        // `new` found a definition for every type in ALL, in ALL's order.
        self.resource_defs[type_index(resource_type)]
    }

    /// The compiled validator for `resource_type`, compiling it on first use.
    fn validator(&self, resource_type: ResourceType) -> Result<&Validator, &str> {
        self.validators[type_index(resource_type)]
            .get_or_init(|| {
                let root = json!({
                    "$schema": "http://json-schema.org/draft-06/schema#",
                    "$ref": format!("{SCHEMA_URI}#/definitions/{resource_type}"),
                });
                jsonschema::options()
                    .with_registry(&self.registry)
                    .build(&root)
                    .map_err(|error| {
                        tracing::error!(%resource_type, %error, "schema validator failed to compile");
                        error.to_string()
                    })
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// What checking one (possibly nested) resource came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checked {
    /// Not an object, or no usable `resourceType`: nothing else was checked.
    NotAResource,
    /// Too deep to check; said so.
    Abandoned(ResourceType),
    Done(ResourceType),
}

impl Checked {
    fn resource_type(self) -> Option<ResourceType> {
        match self {
            Checked::NotAResource => None,
            Checked::Abandoned(t) | Checked::Done(t) => Some(t),
        }
    }

    pub(super) fn is_abandoned(self) -> bool {
        matches!(self, Checked::Abandoned(_))
    }
}

/// Position of a type in `resource_type::ALL` (sorted, so a binary search).
fn type_index(resource_type: ResourceType) -> usize {
    resource_type::ALL
        .binary_search(&resource_type.as_str())
        .unwrap_or_default()
}

/// The resource's type, or the issue code and message for why it has none.
fn resource_type_of(object: &Map<String, Value>) -> Result<ResourceType, (IssueType, String)> {
    match object.get("resourceType") {
        None => Err((
            IssueType::Required,
            "missing resourceType: a resource must say which type it is".to_owned(),
        )),
        Some(Value::String(name)) => ResourceType::parse(name).ok_or_else(|| {
            let hint = ResourceType::all()
                .find(|known| known.as_str().eq_ignore_ascii_case(name))
                .map(|known| format!(" (did you mean '{known}'?)"))
                .unwrap_or_default();
            (
                IssueType::Invalid,
                format!("unknown resourceType '{name}'{hint}: not a FHIR R4 resource type"),
            )
        }),
        Some(other) => Err((
            IssueType::Structure,
            format!(
                "resourceType must be a string naming the type, found {}",
                describe(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::outcome::Severity;
    use crate::validation::test_data;

    /// One validator for all tests: compiling is the slow part, and sharing it
    /// across test threads also exercises `Sync`.
    static VALIDATOR: LazyLock<StructuralValidator> =
        LazyLock::new(|| StructuralValidator::new().expect("embedded schema loads"));

    fn issues(resource: Value) -> Vec<Issue> {
        VALIDATOR.validate(&resource)
    }

    /// The (expression, code) of every issue, for exact assertions.
    fn located(resource: Value) -> Vec<(Option<String>, IssueType)> {
        issues(resource)
            .into_iter()
            .map(|issue| (issue.expression, issue.code))
            .collect()
    }

    fn at(expression: &str, code: IssueType) -> (Option<String>, IssueType) {
        (Some(expression.to_owned()), code)
    }

    fn patient(extra: Value) -> Value {
        let mut resource = json!({"resourceType": "Patient", "id": "p1"});
        if let (Some(target), Some(extra)) = (resource.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                target.insert(key.clone(), value.clone());
            }
        }
        resource
    }

    #[test]
    fn validator_can_be_shared_between_request_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<StructuralValidator>();
    }

    /// Official resources that really are invalid — the checker is right and
    /// the resource wrong — as (file name or `prefix*`, the distinct issues
    /// each must get as `code: expression without indices`). Anything else
    /// the checker rejects is a checker bug.
    const KNOWN_INVALID_EXAMPLES: &[(&str, &[&str])] = &[
        // id has 67 characters; `id` allows at most 64 (datatypes.html#id).
        (
            "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
            &["value: SearchParameter.id"],
        ),
        // ImplementationGuide.name and .status are 1..1; these two IGs have neither.
        (
            "ig-r4.json",
            &[
                "required: ImplementationGuide.name",
                "required: ImplementationGuide.status",
            ],
        ),
        (
            "ImplementationGuide-fhir.json",
            &[
                "required: ImplementationGuide.name",
                "required: ImplementationGuide.status",
            ],
        ),
        // Questionnaire.item.linkId is 1..1; 32 nested items lack it.
        (
            "Questionnaire-qs1.json",
            &[
                "required: Questionnaire.item.item.linkId",
                "required: Questionnaire.item.item.item.linkId",
                "required: Questionnaire.item.item.item.item.linkId",
            ],
        ),
        // SearchParameter.base is 1..*; these extension search parameters omit it.
        (
            "SearchParameter-codesystem-extensions-*",
            &["required: SearchParameter.base"],
        ),
        (
            "SearchParameter-valueset-extensions-*",
            &["required: SearchParameter.base"],
        ),
    ];

    fn known_invalid(name: &str) -> &'static [&'static str] {
        KNOWN_INVALID_EXAMPLES
            .iter()
            .find(|(pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *pattern,
            })
            .map_or(&[], |(_, issues)| issues)
    }

    /// `required: Questionnaire.item.item.linkId` for an issue at `…item[0].item[3].linkId`.
    fn summary(issue: &Issue) -> String {
        let mut expression = String::new();
        let mut in_index = false;
        for c in issue.expression.as_deref().unwrap_or("-").chars() {
            match c {
                '[' => in_index = true,
                ']' => in_index = false,
                _ if !in_index => expression.push(c),
                _ => {}
            }
        }
        format!("{}: {expression}", issue.code.code())
    }

    #[test]
    fn every_official_r4_example_is_structurally_valid() {
        // The 5,306 resources of hl7.fhir.r4.examples#4.0.1 (examples and the
        // spec's own conformance resources) are the reference for valid R4
        // JSON: an issue on any of them is a false positive of the checker,
        // unless the resource is listed above as known-invalid, with its reason.
        let mut checked = 0;
        let mut known = 0;
        let mut unexpected = Vec::new();
        test_data::for_each_example(|name, resource| {
            checked += 1;
            let found = VALIDATOR.validate(&resource);
            let mut summaries: Vec<String> = found.iter().map(summary).collect();
            summaries.sort();
            summaries.dedup();
            let mut expected: Vec<String> = known_invalid(name).iter().map(|s| (*s).to_owned()).collect();
            expected.sort();
            if !expected.is_empty() {
                known += 1;
            }
            if summaries != expected {
                unexpected.push(format!("{name}: {found:#?}"));
            }
        });
        println!(
            "official examples checked: {checked}, known invalid (rejected as expected): {known}, unexpected results: {}",
            unexpected.len()
        );
        assert!(checked > 5000, "only {checked} examples found");
        assert!(unexpected.is_empty(), "unexpected results:\n{}", unexpected.join("\n"));
    }

    #[test]
    fn every_resource_type_has_a_validator_that_compiles() {
        // The examples cover 140 of the 146 types; warm_up covers them all.
        assert_eq!(VALIDATOR.warm_up(), 0);
    }

    #[test]
    fn a_minimal_patient_is_valid() {
        assert_eq!(issues(patient(json!({"name": [{"family": "Chalmers"}]}))), vec![]);
    }

    #[test]
    fn unknown_elements_are_rejected_where_they_are() {
        assert_eq!(
            located(patient(json!({"foo": 1, "name": [{"family": "x", "bar": true}]}))),
            vec![
                at("Patient.foo", IssueType::Structure),
                at("Patient.name[0].bar", IssueType::Structure),
            ]
        );
    }

    #[test]
    fn unknown_element_message_suggests_the_right_case() {
        let found = issues(patient(json!({"birthdate": "1990-01-01"})));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].expression.as_deref(), Some("Patient.birthdate"));
        assert!(
            found[0].diagnostics.contains("did you mean 'birthDate'"),
            "{}",
            found[0].diagnostics
        );
    }

    #[test]
    fn primitive_extension_part_of_a_complex_element_is_unknown() {
        // `_name` would be the extensions of a primitive `name`; HumanName is not one.
        let found = issues(patient(json!({"_name": {"extension": []}})));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].expression.as_deref(), Some("Patient.name"));
        assert!(
            found[0].diagnostics.contains("not a primitive"),
            "{}",
            found[0].diagnostics
        );
    }

    #[test]
    fn wrong_json_types_are_rejected_with_expected_and_found() {
        let found = issues(patient(json!({
            "active": "true",
            "name": {"family": "x"},
            "telecom": ["x"],
        })));
        let located: Vec<_> = found.iter().map(|i| (i.expression.clone(), i.code)).collect();
        assert_eq!(
            located,
            vec![
                at("Patient.active", IssueType::Structure),
                at("Patient.name", IssueType::Structure),
                at("Patient.telecom[0]", IssueType::Structure),
            ]
        );
        assert_eq!(
            found[0].diagnostics,
            "expected a boolean (true or false), found the string \"true\""
        );
        assert!(found[1].diagnostics.contains("'name' repeats, so it must be an array"));
        assert!(found[2].diagnostics.contains("expected an object (ContactPoint)"));
    }

    #[test]
    fn a_wrong_type_is_one_issue_not_also_a_pattern_failure() {
        // boolean has both a type and a pattern in the schema; the type says it all.
        assert_eq!(
            located(patient(json!({"deceasedBoolean": "yes"}))),
            vec![at("Patient.deceasedBoolean", IssueType::Structure)]
        );
    }

    #[test]
    fn bad_primitive_formats_are_rejected() {
        let found = issues(patient(json!({
            "implicitRules": "http://a b",
            "language": " en",
            "birthDate": "1990-13-01",
            "gender": "m",
            "meta": {"lastUpdated": "2020-01-01T10:00:00"},
        })));
        let located: Vec<_> = found.iter().map(|i| (i.expression.clone(), i.code)).collect();
        assert_eq!(
            located,
            vec![
                at("Patient.implicitRules", IssueType::Value),
                at("Patient.language", IssueType::Value),
                at("Patient.birthDate", IssueType::Value),
                at("Patient.gender", IssueType::Value),
                at("Patient.meta.lastUpdated", IssueType::Value),
            ]
        );
        assert!(found[2].diagnostics.contains("\"1990-13-01\" is not a valid date"));
        assert!(found[3].diagnostics.contains("male, female, other, unknown"));
        assert!(found[4].diagnostics.contains("time zone"));
    }

    #[test]
    fn bad_ids_are_rejected() {
        assert_eq!(
            located(json!({"resourceType": "Patient", "id": "has space"})),
            vec![at("Patient.id", IssueType::Value)]
        );
        let long = "a".repeat(65);
        assert_eq!(
            located(json!({"resourceType": "Patient", "id": long})),
            vec![at("Patient.id", IssueType::Value)]
        );
    }

    #[test]
    fn integers_must_be_whole_and_in_range() {
        // The schema's integer patterns apply to strings only, never to JSON numbers.
        assert_eq!(
            located(patient(json!({"multipleBirthInteger": 1.5}))),
            vec![at("Patient.multipleBirthInteger", IssueType::Value)]
        );
        assert_eq!(
            located(patient(json!({"multipleBirthInteger": 2147483648_i64}))),
            vec![at("Patient.multipleBirthInteger", IssueType::Value)]
        );
        assert_eq!(
            located(patient(json!({"photo": [{"size": -1}]}))),
            vec![at("Patient.photo[0].size", IssueType::Value)]
        );
        assert_eq!(
            located(json!({
                "resourceType": "Appointment", "status": "booked",
                "participant": [{"status": "accepted", "actor": {"reference": "Patient/1"}}],
                "minutesDuration": 0,
            })),
            vec![at("Appointment.minutesDuration", IssueType::Value)]
        );
        assert_eq!(issues(patient(json!({"multipleBirthInteger": -3}))), vec![]);
    }

    #[test]
    fn decimals_keep_any_json_number() {
        let observation = json!({
            "resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 1.50, "unit": "mg"},
        });
        assert_eq!(issues(observation), vec![]);
    }

    #[test]
    fn resource_type_must_be_present_a_string_and_known() {
        let missing = issues(json!({"id": "1"}));
        assert_eq!(missing.len(), 1);
        assert_eq!(
            (missing[0].expression.clone(), missing[0].code),
            (None, IssueType::Required)
        );

        assert_eq!(located(json!({"resourceType": 5})), vec![(None, IssueType::Structure)]);
        let unknown = issues(json!({"resourceType": "patient"}));
        assert_eq!(
            (unknown[0].expression.clone(), unknown[0].code),
            (None, IssueType::Invalid)
        );
        assert!(unknown[0].diagnostics.contains("did you mean 'Patient'"));
        assert_eq!(
            located(json!({"resourceType": "Foo"})),
            vec![(None, IssueType::Invalid)]
        );
    }

    #[test]
    fn a_resource_must_be_an_object() {
        assert_eq!(located(json!(["Patient"])), vec![(None, IssueType::Structure)]);
        assert_eq!(located(json!(null)), vec![(None, IssueType::Structure)]);
    }

    #[test]
    fn empty_objects_arrays_and_nulls_are_rejected() {
        assert_eq!(
            located(patient(json!({
                "maritalStatus": {},
                "telecom": [],
                "gender": null,
                "name": [null, {"family": "x"}],
                "address": [{"line": ["a", null]}],
            }))),
            vec![
                at("Patient.maritalStatus", IssueType::Structure),
                at("Patient.telecom", IssueType::Structure),
                at("Patient.gender", IssueType::Structure),
                at("Patient.name[0]", IssueType::Structure),
                at("Patient.address[0].line[1]", IssueType::Structure),
            ]
        );
    }

    #[test]
    fn empty_and_whitespace_strings_are_rejected_once() {
        let found = issues(patient(json!({"gender": "", "name": [{"family": "  \t"}]})));
        let located: Vec<_> = found.iter().map(|i| (i.expression.clone(), i.code)).collect();
        // `""` is also no valid gender code; the one issue says what to fix.
        assert_eq!(
            located,
            vec![
                at("Patient.gender", IssueType::Value),
                at("Patient.name[0].family", IssueType::Value)
            ]
        );
        assert!(found[0].diagnostics.starts_with("empty string"));
        assert!(found[1].diagnostics.contains("whitespace"));
    }

    #[test]
    fn nulls_align_repeating_primitives_with_their_extensions() {
        // FHIR JSON: `given[1]` has only an extension, `given[0]` only a value.
        let ext = json!({"extension": [{"url": "http://example.org/x", "valueString": "y"}]});
        assert_eq!(
            issues(patient(
                json!({"name": [{"given": ["a", null], "_given": [null, ext]}]})
            )),
            vec![]
        );
        // A lone `_x` for a single value: an element with an extension and no value.
        assert_eq!(issues(patient(json!({"_birthDate": ext}))), vec![]);
    }

    #[test]
    fn primitive_extension_pairing_is_enforced() {
        let ext = json!({"extension": [{"url": "http://example.org/x", "valueString": "y"}]});
        assert_eq!(
            located(patient(json!({"name": [{"given": ["a", null]}]}))),
            vec![at("Patient.name[0].given[1]", IssueType::Structure)],
            "null without a partner array"
        );
        assert_eq!(
            located(patient(json!({"name": [{"given": ["a"], "_given": [null, ext]}]}))),
            vec![at("Patient.name[0].given", IssueType::Structure)],
            "arrays of different length"
        );
        assert_eq!(
            located(patient(
                json!({"name": [{"given": ["a", null], "_given": [null, null]}]})
            )),
            vec![at("Patient.name[0].given[1]", IssueType::Structure)],
            "both null at one position"
        );
        assert_eq!(
            located(patient(json!({"_birthDate": {}}))),
            vec![at("Patient.birthDate", IssueType::Structure)],
            "an empty extension part"
        );
        assert_eq!(
            located(patient(json!({"_birthDate": {"id": "x", "foo": 1}}))),
            vec![at("Patient.birthDate.foo", IssueType::Structure)],
            "unknown element inside an extension part"
        );
    }

    #[test]
    fn required_elements_are_reported_at_the_missing_element() {
        assert_eq!(
            located(json!({"resourceType": "Observation", "status": "final"})),
            vec![at("Observation.code", IssueType::Required)]
        );
        assert_eq!(
            located(patient(json!({"communication": [{"preferred": true}]}))),
            vec![at("Patient.communication[0].language", IssueType::Required)]
        );
    }

    #[test]
    fn mandatory_primitives_and_choices_are_required() {
        // The published schema requires neither; the build script adds them.
        assert_eq!(
            located(json!({"resourceType": "Observation", "code": {"text": "x"}})),
            vec![at("Observation.status", IssueType::Required)]
        );
        assert_eq!(
            located(patient(json!({"extension": [{"valueString": "x"}]}))),
            vec![at("Patient.extension[0].url", IssueType::Required)]
        );
        assert_eq!(
            located(json!({
                "resourceType": "MedicationRequest", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/1"},
            })),
            vec![at("MedicationRequest.medication", IssueType::Required)]
        );
        // A primitive choice may be present through its extensions alone.
        let dar = json!({"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]});
        assert_eq!(
            issues(json!({
                "resourceType": "Immunization", "status": "completed",
                "vaccineCode": {"text": "x"}, "patient": {"reference": "Patient/1"},
                "_occurrenceDateTime": dar, "_status": dar,
            })),
            vec![]
        );
    }

    #[test]
    fn a_required_primitive_may_be_present_through_its_extensions_only() {
        // MeasureReport.measure (canonical, 1..1) is `required` in the schema,
        // which forgets that `_measure` alone also satisfies 1..1.
        let report = json!({
            "resourceType": "MeasureReport", "status": "complete", "type": "individual",
            "period": {"start": "2020-01-01"},
            "_measure": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]},
        });
        assert_eq!(issues(report), vec![]);
    }

    #[test]
    fn contained_resources_are_checked_against_their_own_type() {
        assert_eq!(
            located(patient(json!({
                "contained": [
                    {"resourceType": "Organization", "id": "o", "name": "x", "foo": 1},
                    {"resourceType": "Practitioner", "id": "pr", "gender": "x"},
                    {"id": "nothing"},
                    {"resourceType": "Nope"},
                ]
            }))),
            vec![
                at("Patient.contained[0].foo", IssueType::Structure),
                at("Patient.contained[1].gender", IssueType::Value),
                at("Patient.contained[2]", IssueType::Required),
                at("Patient.contained[3]", IssueType::Invalid),
            ]
        );
    }

    #[test]
    fn bundle_entries_are_reported_under_the_bundle() {
        assert_eq!(
            located(json!({
                "resourceType": "Bundle", "type": "transaction",
                "entry": [
                    {"resource": {"resourceType": "Patient", "birthDate": "1990-02-30x"},
                     "request": {"method": "POST", "url": "Patient"}},
                    {"resource": "Patient/1", "request": {"method": "PUT", "url": "Patient/1"}},
                ],
            })),
            vec![
                at("Bundle.entry[0].resource.birthDate", IssueType::Value),
                at("Bundle.entry[1].resource", IssueType::Structure),
            ]
        );
        assert_eq!(
            located(json!({
                "resourceType": "Bundle", "type": "transaction-response",
                "entry": [{"response": {"status": "400", "outcome": {"resourceType": "OperationOutcome", "issue": [{"severity": "fatal"}]}}}],
            })),
            vec![at(
                "Bundle.entry[0].response.outcome.issue[0].code",
                IssueType::Required
            )]
        );
    }

    #[test]
    fn parameters_resources_are_reported_under_the_parameter_even_in_parts() {
        assert_eq!(
            located(json!({
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "a", "resource": {"resourceType": "Patient", "active": 1}},
                    {"name": "b", "part": [{"name": "c", "resource": {"resourceType": "Patient", "x": 1}}]},
                ],
            })),
            vec![
                at("Parameters.parameter[0].resource.active", IssueType::Structure),
                at("Parameters.parameter[1].part[0].resource.x", IssueType::Structure),
            ]
        );
    }

    #[test]
    fn issues_are_errors_deterministic_and_deduplicated() {
        let resource = patient(json!({
            "foo": 1, "birthDate": "x", "name": [{"given": ["", ""]}], "contained": [{"resourceType": "Patient", "foo": 1}]
        }));
        let first = issues(resource.clone());
        assert!(first.iter().all(|i| i.severity == Severity::Error));
        assert_eq!(first, issues(resource));
        let mut expressions: Vec<_> = first.iter().map(|i| (&i.expression, &i.diagnostics)).collect();
        let before = expressions.len();
        expressions.dedup();
        assert_eq!(before, expressions.len());
    }

    #[test]
    fn at_most_100_issues_are_reported() {
        let mut resource = patient(json!({}));
        for i in 0..300 {
            resource[format!("unknown{i:03}")] = json!(1);
        }
        let found = issues(resource);
        assert_eq!(found.len(), 100);
        assert_eq!(found[99].severity, Severity::Information);
        assert!(found[99].diagnostics.starts_with("201 more issues"));
    }

    #[test]
    fn absurdly_deep_input_is_refused_without_overflowing_the_stack() {
        // Built in code, not parsed, so serde_json's depth limit does not apply.
        let mut extension = json!({"url": "http://example.org/x", "valueString": "leaf"});
        for _ in 0..1000 {
            extension = json!({"url": "http://example.org/x", "extension": [extension]});
        }
        let found = issues(patient(json!({"extension": [extension]})));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].diagnostics.contains("nested more than"),
            "{}",
            found[0].diagnostics
        );
    }

    #[test]
    #[ignore = "benchmark: cargo test --release -- --ignored --nocapture"]
    fn benchmark_structural_validation() {
        let started = Instant::now();
        let fresh = StructuralValidator::new().expect("schema");
        println!("load schema + registry: {:?}", started.elapsed());

        let patient = test_data::example("Patient-example.json");
        let started = Instant::now();
        assert!(fresh.validate(&patient).is_empty());
        println!("compile Patient validator (first validate): {:?}", started.elapsed());

        let rounds = 10_000;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(fresh.validate(std::hint::black_box(&patient)));
        }
        let per = started.elapsed() / rounds;
        println!("validate Patient-example (valid): {:.1} µs", per.as_secs_f64() * 1e6);

        let schema_only = fresh
            .validator(ResourceType::parse("Patient").expect("Patient"))
            .expect("compiled");
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(schema_only.is_valid(std::hint::black_box(&patient)));
        }
        let per = started.elapsed() / rounds;
        println!(
            "  of which the schema alone (is_valid): {:.1} µs",
            per.as_secs_f64() * 1e6
        );

        let mut invalid = patient.clone();
        invalid["birthDate"] = json!("1974-13-25");
        invalid["foo"] = json!(1);
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(fresh.validate(std::hint::black_box(&invalid)));
        }
        let per = started.elapsed() / rounds;
        println!("validate Patient-example (2 issues): {:.1} µs", per.as_secs_f64() * 1e6);

        let started = Instant::now();
        assert_eq!(fresh.warm_up(), 0);
        println!("compile the other 145 validators (warm_up): {:?}", started.elapsed());
        let fresh = StructuralValidator::new().expect("schema");
        let started = Instant::now();
        assert_eq!(fresh.warm_up(), 0);
        println!("load + compile all 146 validators: {:?}", started.elapsed());
    }
}
