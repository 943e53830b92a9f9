//! The binding walk on small instances over the base definitions and one
//! hand-made profile: each test names the behaviour it guards.

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use super::*;
use crate::packages::{base, CanonicalRegistry, Origin};
use crate::validation::ProfileValidator;

const PROFILE: &str = "http://example.org/StructureDefinition/obs";

/// A profile with a pattern slice carrying its own binding, a bound choice
/// element and a binding to a value set nobody has.
fn profile() -> Value {
    let el = |id: &str, extra: Value| {
        let path: String = id
            .split('.')
            .map(|s| s.split(':').next().unwrap_or(s))
            .collect::<Vec<_>>()
            .join(".");
        let mut e = json!({"id": id, "path": path, "min": 0, "max": "*"});
        if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        e
    };
    let cc = json!([{"code": "CodeableConcept"}]);
    let vitals = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]});
    json!({"resourceType": "StructureDefinition", "url": PROFILE, "type": "Observation",
    "kind": "resource", "derivation": "constraint",
    "snapshot": {"element": [
        el("Observation", json!({})),
        el("Observation.status", json!({"type": [{"code": "code"}],
            "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/observation-status|4.0.1"}})),
        el("Observation.category", json!({"type": cc,
            "slicing": {"discriminator": [{"type": "pattern", "path": "$this"}], "rules": "open"},
            "binding": {"strength": "example", "valueSet": "http://hl7.org/fhir/ValueSet/observation-category"}})),
        el("Observation.category:vs", json!({"sliceName": "vs", "min": 1, "type": cc, "patternCodeableConcept": vitals,
            "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/observation-category"}})),
        el("Observation.code", json!({"type": cc,
            "binding": {"strength": "extensible", "valueSet": "http://example.org/ValueSet/nowhere"}})),
        el("Observation.value[x]", json!({"type": [{"code": "Quantity"}, {"code": "CodeableConcept"}],
            "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/administrative-gender"}})),
    ]}})
}

fn registry() -> Arc<CanonicalRegistry> {
    static REGISTRY: OnceLock<Arc<CanonicalRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let registry = base::registry();
            registry.insert_value(Arc::new(profile()), Origin::Package("example#1".into()));
            Arc::new(registry)
        })
        .clone()
}

fn validator() -> &'static ProfileValidator {
    static VALIDATOR: OnceLock<ProfileValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| ProfileValidator::new(Arc::new(TerminologyService::new(registry()))))
}

fn service() -> &'static TerminologyService {
    validator().terminology()
}

/// (location, element id, value set, outcome) of every bound value.
fn checked(instance: &Value, profile: &str) -> Vec<(String, String, String, Outcome)> {
    let finder = BindingFinder::new(validator());
    let kind = instance["resourceType"].as_str().unwrap_or_default();
    finder
        .bound_values(instance, profile, kind)
        .into_iter()
        .map(|b| check(service(), b))
        .map(|c| (c.bound.location, c.bound.element_id, c.bound.value_set, c.outcome))
        .collect()
}

fn at<'a>(results: &'a [(String, String, String, Outcome)], location: &str) -> &'a (String, String, String, Outcome) {
    results
        .iter()
        .find(|r| r.0 == location)
        .unwrap_or_else(|| panic!("nothing at {location}: {results:#?}"))
}

#[test]
fn a_code_outside_a_required_binding_is_invalid_and_one_inside_is_valid() {
    let patient = json!({"resourceType": "Patient", "gender": "boy",
        "contact": [{"gender": "female"}]});
    let results = checked(&patient, "http://hl7.org/fhir/StructureDefinition/Patient");
    assert!(matches!(at(&results, "Patient.gender").3, Outcome::Invalid(_)));
    // A backbone element's binding, located with the array index.
    assert_eq!(at(&results, "Patient.contact[0].gender").3, Outcome::Valid);
}

#[test]
fn bindings_inside_datatypes_and_extensions_are_followed() {
    let patient = json!({"resourceType": "Patient", "name": [{"use": "nickname", "family": "X",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-use", "valueCode": "ABC"}]}]});
    let results = checked(&patient, "http://hl7.org/fhir/StructureDefinition/Patient");
    // HumanName.use, bound in the HumanName definition, not Patient's.
    let (_, id, _, outcome) = at(&results, "Patient.name[0].use");
    assert_eq!((id.as_str(), outcome), ("HumanName.use", &Outcome::Valid));
    // The extension's own value binding, from the definition its url names.
    let (_, id, vs, outcome) = at(&results, "Patient.name[0].extension[0].valueCode");
    assert_eq!(id, "Extension.value[x]");
    assert!(vs.contains("v3-EntityNameUseR2"), "{vs}");
    assert_eq!(*outcome, Outcome::Valid);
}

#[test]
fn a_bound_choice_element_is_found_under_its_typed_name() {
    let request = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "123"}]}});
    let results = checked(&request, "http://hl7.org/fhir/StructureDefinition/MedicationRequest");
    let (_, id, _, outcome) = at(&results, "MedicationRequest.medicationCodeableConcept");
    assert_eq!(id, "MedicationRequest.medication[x]");
    // SNOMED CT is not loaded here: not checkable, never invalid.
    assert_eq!(
        *outcome,
        Outcome::NotCheckable(NotCheckable::SystemNotSupported("http://snomed.info/sct".into()))
    );
}

#[test]
fn an_item_matching_a_pattern_slice_is_checked_with_the_slice_binding() {
    let observation = json!({"resourceType": "Observation", "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]},
        ],
        "code": {"text": "weight"},
        "valueCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": "x"}]}});
    let results = checked(&observation, PROFILE);
    assert_eq!(at(&results, "Observation.category[0]").1, "Observation.category");
    assert_eq!(at(&results, "Observation.category[1]").1, "Observation.category:vs");
    assert_eq!(at(&results, "Observation.status").3, Outcome::Valid);
    assert!(matches!(
        at(&results, "Observation.valueCodeableConcept").3,
        Outcome::Invalid(_)
    ));
    // Text only: nothing to check (and the unknown value set is not asked).
    assert_eq!(at(&results, "Observation.code").3, Outcome::NoCode);
}

#[test]
fn capability_statement_format_takes_the_spec_encodings_besides_mime_types() {
    // R4's CapabilityStatement.format definition: "xml", "json" and "ttl"
    // are allowed; otherwise MIME types. Elsewhere "json" is no MIME type.
    let cs = json!({"resourceType": "CapabilityStatement", "format": ["json", "xml", "ttl", "application/fhir+json", "yaml"]});
    let results = checked(&cs, "http://hl7.org/fhir/StructureDefinition/CapabilityStatement");
    for valid in 0..4 {
        assert_eq!(
            at(&results, &format!("CapabilityStatement.format[{valid}]")).3,
            Outcome::Valid
        );
    }
    assert!(matches!(
        at(&results, "CapabilityStatement.format[4]").3,
        Outcome::Invalid(_)
    ));
    let attachment = json!({"resourceType": "DocumentReference", "status": "current",
        "content": [{"attachment": {"contentType": "json"}}]});
    let results = checked(&attachment, "http://hl7.org/fhir/StructureDefinition/DocumentReference");
    assert!(matches!(
        at(&results, "DocumentReference.content[0].attachment.contentType").3,
        Outcome::Invalid(_)
    ));
}

#[test]
fn a_value_set_nobody_has_is_reported_as_unknown() {
    let observation = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}});
    let results = checked(&observation, PROFILE);
    assert_eq!(
        at(&results, "Observation.code").3,
        Outcome::UnknownValueSet("http://example.org/ValueSet/nowhere".into())
    );
}

#[test]
fn severity_follows_strength_as_issue_6_says() {
    let bound = |strength, value| BoundValue {
        location: "X.y".into(),
        profile: PROFILE.into(),
        element_id: "X.y".into(),
        strength,
        value_set: "http://x".into(),
        value,
    };
    let severity = |strength, value, outcome| {
        Checked {
            bound: bound(strength, value),
            outcome,
            codings: Vec::new(),
            value_set_used: "http://x".into(),
        }
        .severity()
    };
    let code = || CodedValue::Code("x".into());
    let texted = || CodedValue::CodeableConcept(json!({"text": "t", "coding": [{"code": "x"}]}));
    let invalid = || Outcome::Invalid("no".into());
    let external = || Outcome::NotCheckable(NotCheckable::SystemNotSupported("http://loinc.org".into()));
    assert_eq!(severity(Strength::Required, code(), invalid()), Some(Severity::Error));
    assert_eq!(
        severity(Strength::Extensible, code(), invalid()),
        Some(Severity::Warning)
    );
    assert_eq!(severity(Strength::Extensible, texted(), invalid()), None);
    assert_eq!(severity(Strength::Preferred, code(), invalid()), None);
    assert_eq!(
        severity(Strength::Required, code(), external()),
        Some(Severity::Warning)
    );
    assert_eq!(severity(Strength::Example, code(), external()), None);
    assert_eq!(severity(Strength::Required, code(), Outcome::Valid), None);
}

#[test]
fn declared_profiles_win_else_the_candidate_whose_patterns_match() {
    let finder = BindingFinder::new(validator());
    let vitals = json!({"resourceType": "Observation", "category": [{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}]});
    let other = json!({"resourceType": "Observation"});
    let candidates = [PROFILE.to_owned()];
    assert_eq!(finder.profiles_for(&vitals, &candidates), vec![PROFILE.to_owned()]);
    // The required vital-signs slice is missing: the base definition applies.
    assert_eq!(
        finder.profiles_for(&other, &candidates),
        vec!["http://hl7.org/fhir/StructureDefinition/Observation".to_owned()]
    );
    let declared = json!({"resourceType": "Observation", "meta": {"profile": [
        "http://hl7.org/fhir/StructureDefinition/vitalsigns", "http://nowhere/x"]}});
    assert_eq!(
        finder.profiles_for(&declared, &candidates),
        vec!["http://hl7.org/fhir/StructureDefinition/vitalsigns".to_owned()]
    );
}
