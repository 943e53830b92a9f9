//! Each kind of check on small instances, over the base definitions and a
//! few hand-made profiles (differentials, given snapshots the way packages
//! get them at load).

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use super::primitive::check;
use super::ProfileValidator;
use crate::outcome::{Issue, Severity};
use crate::packages::{base, snapshot, Origin};
use crate::terminology::TerminologyService;

const PAT: &str = "http://example.org/StructureDefinition/pat";
const OBS: &str = "http://example.org/StructureDefinition/obs";
const NICK: &str = "http://example.org/StructureDefinition/nick";
const SWITCH: &str = "http://example.org/StructureDefinition/switch";

fn sd(url: &str, kind: &str, base_type: &str, derivation: &str, elements: Value) -> Value {
    let base = format!("http://hl7.org/fhir/StructureDefinition/{base_type}");
    json!({"resourceType": "StructureDefinition", "url": url, "name": url.rsplit('/').next(),
        "status": "active", "kind": kind, "abstract": false, "type": base_type,
        "baseDefinition": base, "derivation": derivation, "differential": {"element": elements}})
}

fn profiles() -> Vec<Value> {
    let code_pattern = |c: &str| json!({"coding": [{"system": "http://example.org/codes", "code": c}]});
    vec![
        sd(
            PAT,
            "resource",
            "Patient",
            "constraint",
            json!([
                {"id": "Patient", "path": "Patient", "constraint": [{"key": "pat-1", "severity": "warning",
                    "human": "Should have a birth date", "expression": "birthDate.exists()"}]},
                {"id": "Patient.extension", "path": "Patient.extension", "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}},
                {"id": "Patient.extension:nick", "path": "Patient.extension", "sliceName": "nick", "min": 0, "max": "1",
                    "type": [{"code": "Extension", "profile": [NICK]}]},
                {"id": "Patient.name.family", "path": "Patient.name.family", "maxLength": 5},
                {"id": "Patient.gender", "path": "Patient.gender", "fixedCode": "female"},
                {"id": "Patient.birthDate", "path": "Patient.birthDate", "minValueDate": "1900-01-01"},
                {"id": "Patient.multipleBirth[x]", "path": "Patient.multipleBirth[x]", "type": [{"code": "integer"}], "maxValueInteger": 5},
            ]),
        ),
        sd(
            OBS,
            "resource",
            "Observation",
            "constraint",
            json!([
                {"id": "Observation.component", "path": "Observation.component",
                    "slicing": {"discriminator": [{"type": "pattern", "path": "code"}], "ordered": true, "rules": "closed"}},
                {"id": "Observation.component:a", "path": "Observation.component", "sliceName": "a", "min": 1, "max": "1"},
                {"id": "Observation.component:a.code", "path": "Observation.component.code", "patternCodeableConcept": code_pattern("a")},
                {"id": "Observation.component:b", "path": "Observation.component", "sliceName": "b", "min": 0, "max": "1"},
                {"id": "Observation.component:b.code", "path": "Observation.component.code", "patternCodeableConcept": code_pattern("b")},
                {"id": "Observation.subject", "path": "Observation.subject",
                    "type": [{"code": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Patient"]}]},
            ]),
        ),
        sd(
            NICK,
            "complex-type",
            "Extension",
            "constraint",
            json!([
                {"id": "Extension", "path": "Extension"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": NICK},
                {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": [{"code": "string"}]},
            ]),
        )
        .as_object()
        .map(|o| {
            let mut o = o.clone();
            o.insert("context".into(), json!([{"type": "element", "expression": "Patient"}]));
            Value::Object(o)
        })
        .unwrap_or_default(),
        sd(
            SWITCH,
            "complex-type",
            "Extension",
            "constraint",
            json!([
                {"id": "Extension", "path": "Extension", "isModifier": true, "isModifierReason": "turns the resource off"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": SWITCH},
                {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": [{"code": "boolean"}]},
            ]),
        ),
    ]
}

fn validator() -> &'static ProfileValidator {
    static VALIDATOR: OnceLock<ProfileValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let registry = base::registry();
        for p in profiles() {
            registry.insert_value(Arc::new(p), Origin::Package("example#1".into()));
        }
        let filled = snapshot::fill_missing(&registry);
        assert!(filled.failed.is_empty(), "{:?}", filled.failed);
        ProfileValidator::new(Arc::new(TerminologyService::new(Arc::new(registry))))
    })
}

fn issues(resource: &Value) -> Vec<Issue> {
    validator().validate(resource, &[], Severity::Error)
}

/// The issue of `severity` at `expression` whose message contains `says`.
fn found(resource: &Value, severity: Severity, expression: &str, says: &str) -> Issue {
    let all = issues(resource);
    all.iter()
        .find(|i| i.severity == severity && i.expression.as_deref() == Some(expression) && i.diagnostics.contains(says))
        .cloned()
        .unwrap_or_else(|| panic!("no {severity:?} at {expression} saying {says:?} in {all:#?}"))
}

fn errors(resource: &Value) -> Vec<Issue> {
    issues(resource)
        .into_iter()
        .filter(|i| i.severity <= Severity::Error)
        .collect()
}

fn patient(extra: Value) -> Value {
    let mut p = json!({"resourceType": "Patient", "meta": {"profile": [PAT]}, "gender": "female",
        "birthDate": "1970-01-01", "name": [{"family": "Shaw"}]});
    if let (Some(p), Some(x)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(x.clone());
    }
    p
}

fn component(code: &str) -> Value {
    json!({"code": {"coding": [{"system": "http://example.org/codes", "code": code}]}, "valueString": "x"})
}

fn observation(components: Vec<Value>) -> Value {
    json!({"resourceType": "Observation", "meta": {"profile": [OBS]}, "status": "final",
        "code": {"text": "t"}, "component": components})
}

#[test]
fn a_valid_instance_of_each_profile_has_no_errors() {
    assert_eq!(errors(&patient(json!({}))), vec![]);
    assert_eq!(errors(&observation(vec![component("a"), component("b")])), vec![]);
}

#[test]
fn meta_profile_decides_which_profiles_apply() {
    let mut male = patient(json!({"gender": "male"}));
    found(&male, Severity::Error, "Patient.gender", "must be exactly 'female'");
    male.as_object_mut().map(|p| p.remove("meta"));
    assert_eq!(errors(&male), vec![], "the base definition allows any gender");
    let named = validator().validate(&male, &[PAT.to_owned()], Severity::Error);
    assert!(named.iter().any(|i| i.expression.as_deref() == Some("Patient.gender")));
}

#[test]
fn an_unknown_profile_is_reported_with_the_policy_severity() {
    let p = json!({"resourceType": "Patient", "meta": {"profile": ["http://example.org/nowhere"]}});
    let warned = validator().validate(&p, &[], Severity::Warning);
    assert!(warned
        .iter()
        .any(|i| i.severity == Severity::Warning && i.diagnostics.contains("not known")));
}

#[test]
fn max_length_and_min_and_max_values_are_checked() {
    found(
        &patient(json!({"name": [{"family": "Shawshank"}]})),
        Severity::Error,
        "Patient.name[0].family",
        "maxLength of 5",
    );
    found(
        &patient(json!({"birthDate": "1899-12-31"})),
        Severity::Error,
        "Patient.birthDate",
        "beyond the minimum",
    );
    found(
        &patient(json!({"multipleBirthInteger": 6})),
        Severity::Error,
        "Patient.multipleBirthInteger",
        "beyond the maximum",
    );
}

#[test]
fn a_warning_invariant_gives_a_warning() {
    let mut p = patient(json!({}));
    p.as_object_mut().map(|o| o.remove("birthDate"));
    found(&p, Severity::Warning, "Patient", "pat-1");
    assert_eq!(errors(&p), vec![]);
}

#[test]
fn closed_slicing_rejects_an_item_matching_no_slice() {
    found(
        &observation(vec![component("a"), component("z")]),
        Severity::Error,
        "Observation.component[1]",
        "does not match any known slice",
    );
}

#[test]
fn ordered_slicing_rejects_items_out_of_order() {
    found(
        &observation(vec![component("b"), component("a")]),
        Severity::Error,
        "Observation.component[1]",
        "out of order",
    );
}

#[test]
fn a_slice_below_its_minimum_or_above_its_maximum_is_an_error() {
    found(
        &observation(vec![component("b")]),
        Severity::Error,
        "Observation",
        "slice 'a' requires at least 1, but found 0",
    );
    found(
        &observation(vec![component("a"), component("a")]),
        Severity::Error,
        "Observation",
        "slice 'a' allows at most 1, but found 2",
    );
}

#[test]
fn a_reference_must_be_to_an_allowed_type() {
    let mut o = observation(vec![component("a")]);
    o["subject"] = json!({"reference": "Device/1"});
    found(&o, Severity::Error, "Observation.subject", "not a valid target");
    o["subject"] = json!({"reference": "Patient/1"});
    assert_eq!(errors(&o), vec![]);
}

#[test]
fn a_reference_is_typed_by_what_it_resolves_to_in_the_bundle() {
    let mut o = observation(vec![component("a")]);
    o["subject"] = json!({"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"});
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Device"}},
        {"fullUrl": "urn:uuid:1c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": o}]});
    found(
        &bundle,
        Severity::Error,
        "Bundle.entry[1].resource.subject",
        "is to a Device",
    );
}

#[test]
fn contained_resources_are_validated_and_must_be_referenced() {
    let p = json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "bogus": 1}]});
    found(&p, Severity::Error, "Patient.contained[0]", "dom-3");
    found(
        &p,
        Severity::Error,
        "Patient.contained[0].bogus",
        "Unrecognized property",
    );
    let referenced = json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "name": "O"}],
        "managingOrganization": {"reference": "#o"}});
    assert_eq!(errors(&referenced), vec![]);
    let dangling = json!({"resourceType": "Patient", "managingOrganization": {"reference": "#x"}});
    found(
        &dangling,
        Severity::Error,
        "Patient.managingOrganization",
        "names no contained resource",
    );
}

#[test]
fn extensions_are_checked_against_their_definition_and_context() {
    let nick = |value: Value| json!({"extension": [{"url": NICK, "valueString": value}]});
    assert_eq!(errors(&patient(nick(json!("Amy")))), vec![]);
    let wrong_type = patient(json!({"extension": [{"url": NICK, "valueInteger": 1}]}));
    found(
        &wrong_type,
        Severity::Error,
        "Patient.extension[0].valueInteger",
        "not one of string",
    );
    let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"},
        "extension": [{"url": NICK, "valueString": "x"}]});
    found(
        &o,
        Severity::Error,
        "Observation.extension[0]",
        "not allowed on Observation",
    );
    let both = patient(json!({"extension": [{"url": "http://example.org/x", "valueString": "x",
        "extension": [{"url": "y", "valueString": "z"}]}]}));
    found(&both, Severity::Error, "Patient.extension[0]", "ext-1");
    found(&both, Severity::Error, "Patient.extension[0]", "could not be found");
    let relative = patient(json!({"extension": [{"url": "nick", "valueString": "x"}]}));
    found(
        &relative,
        Severity::Error,
        "Patient.extension[0]",
        "must be an absolute URL",
    );
}

#[test]
fn modifier_extensions_must_be_used_as_such() {
    let switch = json!({"url": SWITCH, "valueBoolean": true});
    let as_plain = json!({"resourceType": "Patient", "extension": [switch]});
    found(
        &as_plain,
        Severity::Error,
        "Patient.extension[0]",
        "must be in modifierExtension",
    );
    let as_modifier = json!({"resourceType": "Patient", "modifierExtension": [switch]});
    assert_eq!(errors(&as_modifier), vec![]);
    let nick = json!({"resourceType": "Patient", "modifierExtension": [{"url": NICK, "valueString": "x"}]});
    found(
        &nick,
        Severity::Error,
        "Patient.modifierExtension[0]",
        "not a modifier extension",
    );
}

#[test]
fn narrative_may_hold_only_safe_xhtml() {
    let with = |div: &str| json!({"resourceType": "Patient", "text": {"status": "generated", "div": div}});
    let ok = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>Amy <b>Shaw</b></p></div>"#;
    assert_eq!(errors(&with(ok)), vec![]);
    let script = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p><script>alert(1)</script></div>"#;
    found(
        &with(script),
        Severity::Error,
        "Patient.text.div",
        "<script> is not allowed",
    );
    let handler = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>"#;
    found(
        &with(handler),
        Severity::Error,
        "Patient.text.div",
        "onclick is not allowed",
    );
    found(
        &with("<div><p>x</p></div>"),
        Severity::Error,
        "Patient.text.div",
        "XHTML namespace",
    );
}

#[test]
fn json_shape_rules_are_checked_with_the_element_path() {
    let array_for_single = json!({"resourceType": "Patient", "gender": ["female"]});
    found(
        &array_for_single,
        Severity::Error,
        "Patient.gender",
        "must not be a JSON array",
    );
    let single_for_array = json!({"resourceType": "Patient", "name": {"family": "x"}});
    found(
        &single_for_array,
        Severity::Error,
        "Patient.name",
        "must be a JSON array",
    );
    let misaligned = json!({"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [null]}]});
    found(&misaligned, Severity::Error, "Patient.name[0].given", "must align");
    let aligned = json!({"resourceType": "Patient", "name": [{"given": ["a", null],
        "_given": [null, {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}]}]});
    assert_eq!(errors(&aligned), vec![]);
    let empty = json!({"resourceType": "Patient", "name": [{}]});
    found(&empty, Severity::Error, "Patient.name[0]", "ele-1");
    let unknown_type = json!({"resourceType": "Patientt"});
    found(&unknown_type, Severity::Error, "Patientt", "Unknown resource type");
}

#[test]
fn base_cardinality_and_choice_types_are_checked() {
    let two_choices = json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"},
        "valueString": "a", "valueBoolean": true});
    found(
        &two_choices,
        Severity::Error,
        "Observation.valueBoolean",
        "Only one type",
    );
    let missing = json!({"resourceType": "Observation", "code": {"text": "t"}});
    found(
        &missing,
        Severity::Error,
        "Observation",
        "Observation.status: minimum required = 1",
    );
}

#[test]
fn primitives_follow_the_spec_regexes() {
    let valid = [
        ("date", json!("2024")),
        ("date", json!("2024-02-29")),
        ("dateTime", json!("2024-02-29T10:00:00+01:00")),
        ("instant", json!("2024-02-29T10:00:00.123Z")),
        ("time", json!("23:59:60")),
        ("id", json!("a-B.9")),
        ("oid", json!("urn:oid:2.16.840.1")),
        ("uuid", json!("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")),
        ("uri", json!("http://x/y")),
        ("code", json!("a b")),
        ("decimal", json!(1.50)),
        ("integer", json!(-2147483648i64)),
        ("positiveInt", json!(1)),
        ("unsignedInt", json!(0)),
        ("base64Binary", json!("aGVsbG8=")),
        ("boolean", json!(false)),
        ("markdown", json!("*x*")),
    ];
    for (kind, value) in valid {
        assert_eq!(check(kind, &value), Ok(()), "{kind} {value}");
    }
    let invalid = [
        ("date", json!("2023-02-29")),
        ("date", json!("2024-13")),
        ("dateTime", json!("2024-02-01T10:00:00")),
        ("instant", json!("2024-02-01")),
        ("time", json!("24:00:00")),
        ("id", json!("a_b")),
        ("id", json!("x".repeat(65))),
        ("oid", json!("2.16.840")),
        ("uuid", json!("urn:uuid:XYZ")),
        ("uri", json!("http://x y")),
        ("code", json!(" a")),
        ("code", json!("a  b")),
        ("decimal", json!("1.5")),
        ("integer", json!(2147483648i64)),
        ("integer", json!(1.5)),
        ("positiveInt", json!(0)),
        ("unsignedInt", json!(-1)),
        ("base64Binary", json!("a.b=")),
        ("boolean", json!("true")),
        ("string", json!("")),
    ];
    for (kind, value) in invalid {
        assert!(check(kind, &value).is_err(), "{kind} {value} should be invalid");
    }
}
