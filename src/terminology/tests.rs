//! The operations end to end on small hand-made code systems, value sets
//! and concept maps whose expected results are obvious.

use std::sync::Arc;

use serde_json::{json, Value};

use super::codesystem::tests::animals;
use super::*;
use crate::packages::registry::{CanonicalRegistry, Origin};

const ANIMALS: &str = "http://example.org/animals";

fn service(resources: &[Value]) -> TerminologyService {
    let registry = Arc::new(CanonicalRegistry::new());
    registry
        .insert_json(&animals().to_string(), Origin::Package("test#1".into()))
        .unwrap();
    for r in resources {
        registry
            .insert_json(&r.to_string(), Origin::Package("test#1".into()))
            .unwrap();
    }
    TerminologyService::new(registry)
}

fn vs(url: &str, compose: Value) -> Value {
    json!({"resourceType": "ValueSet", "url": url, "status": "active", "compose": compose})
}

fn params(list: Value) -> Value {
    json!({"resourceType": "Parameters", "parameter": list})
}

fn expand_url(svc: &TerminologyService, url: &str, more: Value) -> Result<Value, TerminologyError> {
    let mut list = vec![json!({"name": "url", "valueUri": url})];
    list.extend(more.as_array().cloned().unwrap_or_default());
    expand(svc, &params(Value::Array(list)), None)
}

fn codes(expanded: &Value) -> Vec<String> {
    expanded["expansion"]["contains"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

fn param<'a>(out: &'a Value, name: &str) -> Option<&'a Value> {
    out["parameter"].as_array()?.iter().find(|p| p["name"] == name)
}

fn all_animals() -> Value {
    vs("http://example.org/vs/all", json!({"include": [{"system": ANIMALS}]}))
}

// ---------------------------------------------------------------- $expand

#[test]
fn expand_whole_system_lists_every_concept_with_total() {
    let svc = service(&[all_animals()]);
    let out = expand_url(&svc, "http://example.org/vs/all", json!([])).unwrap();
    assert_eq!(
        codes(&out),
        ["animal", "mammal", "dog", "cat", "bird", "parrot", "dodo"]
    );
    assert_eq!(out["expansion"]["total"], 7);
    assert_eq!(out["expansion"]["contains"][0]["display"], "Animal");
    assert_eq!(out["expansion"]["contains"][6]["inactive"], true);
}

#[test]
fn expand_pages_with_count_and_offset_and_keeps_the_total() {
    let svc = service(&[all_animals()]);
    let page = json!([{"name": "count", "valueInteger": 2}, {"name": "offset", "valueInteger": 2}]);
    let out = expand_url(&svc, "http://example.org/vs/all", page).unwrap();
    assert_eq!(codes(&out), ["dog", "cat"]);
    assert_eq!(out["expansion"]["total"], 7);
    assert_eq!(out["expansion"]["offset"], 2);
}

#[test]
fn expand_concept_lists_keep_the_value_set_display_and_drop_unknown_codes() {
    let v = vs(
        "http://x/vs",
        json!({"include": [{"system": ANIMALS, "concept": [
        {"code": "dog", "display": "Doggo"}, {"code": "unicorn"}]}]}),
    );
    let svc = service(&[v]);
    let out = expand_url(&svc, "http://x/vs", json!([])).unwrap();
    assert_eq!(codes(&out), ["dog"]);
    assert_eq!(out["expansion"]["contains"][0]["display"], "Doggo");
    let warnings = out["expansion"]["parameter"].to_string();
    assert!(warnings.contains("unicorn"), "{warnings}");
}

#[test]
fn expand_excludes_remove_codes_and_subtrees() {
    let v = vs(
        "http://x/vs",
        json!({
        "include": [{"system": ANIMALS}],
        "exclude": [{"system": ANIMALS, "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]},
                    {"system": ANIMALS, "concept": [{"code": "dodo"}]}]}),
    );
    let out = expand_url(&service(&[v]), "http://x/vs", json!([])).unwrap();
    assert_eq!(codes(&out), ["animal", "bird", "parrot"]);
}

#[test]
fn expand_imports_value_sets_and_intersects_them_with_the_system_part() {
    let birds = vs(
        "http://x/birds",
        json!({"include": [{"system": ANIMALS,
        "filter": [{"property": "concept", "op": "is-a", "value": "bird"}]}]}),
    );
    let two_legs = vs(
        "http://x/two-legs",
        json!({"include": [{"system": ANIMALS,
        "filter": [{"property": "legs", "op": "=", "value": "2"}]}]}),
    );
    let union = vs(
        "http://x/union",
        json!({"include": [{"valueSet": ["http://x/birds"]}, {"system": ANIMALS, "concept": [{"code": "dog"}]}]}),
    );
    let both = vs(
        "http://x/both",
        json!({"include": [{"valueSet": ["http://x/birds", "http://x/two-legs"]}]}),
    );
    let with_system = vs(
        "http://x/sys",
        json!({"include": [{"system": ANIMALS,
        "concept": [{"code": "dog"}, {"code": "parrot"}], "valueSet": ["http://x/birds"]}]}),
    );
    let svc = service(&[birds, two_legs, union, both, with_system]);
    assert_eq!(
        codes(&expand_url(&svc, "http://x/union", json!([])).unwrap()),
        ["bird", "parrot", "dodo", "dog"]
    );
    assert_eq!(
        codes(&expand_url(&svc, "http://x/both", json!([])).unwrap()),
        ["bird", "parrot"]
    );
    assert_eq!(codes(&expand_url(&svc, "http://x/sys", json!([])).unwrap()), ["parrot"]);
}

#[test]
fn expand_circular_imports_are_refused_not_looped() {
    let a = vs("http://x/a", json!({"include": [{"valueSet": ["http://x/b"]}]}));
    let b = vs("http://x/b", json!({"include": [{"valueSet": ["http://x/a"]}]}));
    let err = expand_url(&service(&[a, b]), "http://x/a", json!([])).unwrap_err();
    assert!(matches!(err, TerminologyError::NotExpandable { .. }), "{err}");
}

#[test]
fn expand_filter_parameter_matches_word_starts_in_displays() {
    let svc = service(&[all_animals()]);
    let out = expand_url(
        &svc,
        "http://example.org/vs/all",
        json!([{"name": "filter", "valueString": "PAR"}]),
    )
    .unwrap();
    assert_eq!(codes(&out), ["parrot"]);
    assert_eq!(out["expansion"]["total"], 1);
}

#[test]
fn expand_active_only_drops_inactive_concepts() {
    let svc = service(&[all_animals()]);
    let out = expand_url(
        &svc,
        "http://example.org/vs/all",
        json!([{"name": "activeOnly", "valueBoolean": true}]),
    )
    .unwrap();
    assert!(!codes(&out).contains(&"dodo".to_owned()));
    assert_eq!(out["expansion"]["total"], 6);
}

#[test]
fn expand_display_language_picks_designations_by_language_and_primary_subtag() {
    let svc = service(&[all_animals()]);
    let out = expand_url(
        &svc,
        "http://example.org/vs/all",
        json!([{"name": "displayLanguage", "valueCode": "pt-BR"}]),
    )
    .unwrap();
    let display = |code: &str| {
        out["expansion"]["contains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .unwrap()["display"]
            .clone()
    };
    assert_eq!(display("dog"), "Cachorro");
    assert_eq!(display("cat"), "Gato", "pt designation serves pt-BR");
    assert_eq!(display("bird"), "Bird", "no designation: the default display");
}

#[test]
fn expand_include_designations_lists_them() {
    let svc = service(&[all_animals()]);
    let out = expand_url(
        &svc,
        "http://example.org/vs/all",
        json!([{"name": "includeDesignations", "valueBoolean": true}]),
    )
    .unwrap();
    assert_eq!(out["expansion"]["contains"][2]["designation"][0]["value"], "Cachorro");
}

#[test]
fn expand_unknown_value_set_is_not_found() {
    let err = expand_url(&service(&[]), "http://x/nothing", json!([])).unwrap_err();
    assert!(matches!(err, TerminologyError::NotFound { kind: "ValueSet", .. }));
}

#[test]
fn expand_without_url_or_value_set_names_the_missing_parameter() {
    let err = expand(&service(&[]), &params(json!([])), None).unwrap_err();
    assert!(matches!(err, TerminologyError::InvalidParameter { name: "url", .. }));
}

#[test]
fn expand_of_a_system_not_loaded_is_not_supported_here() {
    let v = vs(
        "http://x/loinc",
        json!({"include": [{"system": "http://loinc.org",
        "filter": [{"property": "SCALE_TYP", "op": "=", "value": "Doc"}]}]}),
    );
    let err = expand_url(&service(&[v]), "http://x/loinc", json!([])).unwrap_err();
    assert!(
        matches!(&err, TerminologyError::NotSupported { system, .. } if system == "http://loinc.org"),
        "{err}"
    );
}

#[test]
fn expand_serves_an_existing_expansion_when_there_is_no_compose() {
    let v = json!({"resourceType": "ValueSet", "url": "http://x/pre", "expansion": {"timestamp": "2020-01-01",
        "contains": [{"system": "http://s", "code": "a", "display": "A", "contains": [{"system": "http://s", "code": "b"}]}]}});
    let out = expand_url(&service(&[v]), "http://x/pre", json!([])).unwrap();
    assert_eq!(codes(&out), ["a", "b"]);
}

#[test]
fn expand_an_inline_value_set_or_an_instance() {
    let svc = service(&[]);
    let inline = params(json!([{"name": "valueSet", "resource": all_animals()}]));
    assert_eq!(expand(&svc, &inline, None).unwrap()["expansion"]["total"], 7);
    assert_eq!(
        expand(&svc, &params(json!([])), Some(&all_animals())).unwrap()["expansion"]["total"],
        7
    );
}

#[test]
fn expand_too_large_without_count_is_too_costly_but_pages_fine() {
    let concepts: Vec<Value> = (0..expand::MAX_UNPAGED + 1)
        .map(|i| json!({"code": format!("c{i}")}))
        .collect();
    let big = json!({"resourceType": "CodeSystem", "url": "http://x/big", "content": "complete", "concept": concepts});
    let svc = service(&[big, vs("http://x/vs", json!({"include": [{"system": "http://x/big"}]}))]);
    let err = expand_url(&svc, "http://x/vs", json!([])).unwrap_err();
    assert!(matches!(err, TerminologyError::TooCostly { .. }));
    let out = expand_url(&svc, "http://x/vs", json!([{"name": "count", "valueInteger": 3}])).unwrap();
    assert_eq!(codes(&out), ["c0", "c1", "c2"]);
}

#[test]
fn cached_expansions_notice_a_code_system_replaced_in_the_registry() {
    let svc = service(&[all_animals()]);
    assert_eq!(
        expand_url(&svc, "http://example.org/vs/all", json!([])).unwrap()["expansion"]["total"],
        7
    );
    let mut smaller = animals();
    smaller["concept"] = json!([{"code": "only"}]);
    svc.registry()
        .insert_json(&smaller.to_string(), Origin::Server("cs1".into()))
        .unwrap();
    assert_eq!(
        codes(&expand_url(&svc, "http://example.org/vs/all", json!([])).unwrap()),
        ["only"]
    );
}

#[test]
fn supplements_named_by_the_value_set_add_designations() {
    let sup = json!({"resourceType": "CodeSystem", "url": "http://x/sup", "content": "supplement", "supplements": ANIMALS,
        "concept": [{"code": "bird", "designation": [{"language": "es", "value": "Pájaro"}]}]});
    let mut v = all_animals();
    v["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/valueset-supplement", "valueCanonical": "http://x/sup"}]);
    let svc = service(&[sup, v]);
    let out = expand_url(
        &svc,
        "http://example.org/vs/all",
        json!([{"name": "displayLanguage", "valueCode": "es"}]),
    )
    .unwrap();
    assert_eq!(out["expansion"]["contains"][4]["display"], "Pájaro");
}

// ---------------------------------------------------------- $validate-code

fn validate_vs(svc: &TerminologyService, url: &str, system: &str, code: &str, display: Option<&str>) -> Value {
    let mut list = vec![
        json!({"name": "url", "valueUri": url}),
        json!({"name": "system", "valueUri": system}),
        json!({"name": "code", "valueCode": code}),
    ];
    if let Some(d) = display {
        list.push(json!({"name": "display", "valueString": d}));
    }
    validate_code_value_set(svc, &params(Value::Array(list)), None).unwrap()
}

fn result(out: &Value) -> bool {
    param(out, "result").unwrap()["valueBoolean"].as_bool().unwrap()
}

fn message(out: &Value) -> String {
    param(out, "message")
        .map(|m| m["valueString"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn mammals() -> Value {
    vs(
        "http://x/mammals",
        json!({"include": [{"system": ANIMALS, "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]}]}),
    )
}

#[test]
fn validate_code_in_value_set_returns_true_and_the_display() {
    let out = validate_vs(&service(&[mammals()]), "http://x/mammals", ANIMALS, "dog", None);
    assert!(result(&out));
    assert_eq!(param(&out, "display").unwrap()["valueString"], "Dog");
}

#[test]
fn validate_code_wrong_display_is_a_warning_and_result_stays_true() {
    let out = validate_vs(&service(&[mammals()]), "http://x/mammals", ANIMALS, "dog", Some("Wolf"));
    assert!(result(&out));
    assert!(message(&out).contains("Wrong display 'Wolf'"), "{out}");
    assert_eq!(
        param(&out, "issues").unwrap()["resource"]["issue"][0]["severity"],
        "warning"
    );
    let designation = validate_vs(
        &service(&[mammals()]),
        "http://x/mammals",
        ANIMALS,
        "dog",
        Some("cachorro"),
    );
    assert!(
        message(&designation).is_empty(),
        "a designation is an acceptable display"
    );
}

#[test]
fn validate_code_tells_apart_not_in_value_set_unknown_code_and_unknown_system() {
    let svc = service(&[mammals()]);
    let not_in = validate_vs(&svc, "http://x/mammals", ANIMALS, "bird", None);
    assert!(!result(&not_in));
    assert!(message(&not_in).contains("is not in the value set"), "{not_in}");
    let unknown = validate_vs(&svc, "http://x/mammals", ANIMALS, "unicorn", None);
    assert!(message(&unknown).contains("Unknown code 'unicorn'"), "{unknown}");
    let system = validate_vs(&svc, "http://x/mammals", "http://nowhere", "dog", None);
    assert!(!result(&system));
    assert!(
        message(&system).contains("code system 'http://nowhere' is not known"),
        "{system}"
    );
}

#[test]
fn validate_code_against_a_system_not_loaded_is_not_supported_not_invalid() {
    let v = vs("http://x/labs", json!({"include": [{"system": "http://loinc.org"}]}));
    let svc = service(&[v]);
    let typed = svc
        .validate_in_value_set(
            "http://x/labs",
            &CodingRef {
                system: Some("http://loinc.org"),
                code: "2345-7",
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(typed.verdict, Verdict::NotSupported);
    assert_eq!(typed.issues[0].severity, crate::outcome::Severity::Warning);
    let out = validate_vs(&svc, "http://x/labs", "http://loinc.org", "2345-7", None);
    assert_eq!(
        param(&out, "x-caused-by-unknown-system").unwrap()["valueCanonical"],
        "http://loinc.org"
    );
}

#[test]
fn validate_code_unknown_in_a_fragment_is_unknown_not_invalid() {
    let fragment = json!({"resourceType": "CodeSystem", "url": "http://x/frag", "content": "fragment", "concept": [{"code": "a"}]});
    let svc = service(&[
        fragment,
        vs("http://x/vs", json!({"include": [{"system": "http://x/frag"}]})),
    ]);
    let v = svc
        .validate_in_value_set(
            "http://x/vs",
            &CodingRef {
                system: Some("http://x/frag"),
                code: "zz",
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(v.result());
    let cs = validate_code_code_system(
        &svc,
        &params(json!([{"name": "url", "valueUri": "http://x/frag"}, {"name": "code", "valueCode": "zz"}])),
        None,
    )
    .unwrap();
    assert!(message(&cs).contains("fragment"), "{cs}");
}

#[test]
fn validate_code_case_insensitive_systems_accept_other_case() {
    let mut cs = animals();
    cs["caseSensitive"] = json!(false);
    let registry = Arc::new(CanonicalRegistry::new());
    registry.insert_json(&cs.to_string(), Origin::Base).unwrap();
    registry.insert_json(&mammals().to_string(), Origin::Base).unwrap();
    let svc = TerminologyService::new(registry);
    let out = validate_vs(&svc, "http://x/mammals", ANIMALS, "DOG", None);
    assert!(result(&out), "{out}");
    assert!(!result(&validate_vs(
        &service(&[mammals()]),
        "http://x/mammals",
        ANIMALS,
        "DOG",
        None
    )));
}

#[test]
fn validate_code_codeable_concept_needs_any_one_coding() {
    let svc = service(&[mammals()]);
    let cc = json!({"coding": [{"system": "http://other", "code": "x"}, {"system": ANIMALS, "code": "cat"}]});
    let p = params(
        json!([{"name": "url", "valueUri": "http://x/mammals"}, {"name": "codeableConcept", "valueCodeableConcept": cc}]),
    );
    let out = validate_code_value_set(&svc, &p, None).unwrap();
    assert!(result(&out));
    assert_eq!(param(&out, "code").unwrap()["valueCode"], "cat");
}

#[test]
fn validate_code_inactive_concepts_are_valid_with_a_warning() {
    let out = validate_vs(
        &service(&[all_animals()]),
        "http://example.org/vs/all",
        ANIMALS,
        "dodo",
        None,
    );
    assert!(result(&out));
    assert!(message(&out).contains("inactive"));
}

#[test]
fn validate_code_on_code_system_by_url_coding_and_instance() {
    let svc = service(&[]);
    let by_url = params(json!([{"name": "url", "valueUri": ANIMALS}, {"name": "code", "valueCode": "cat"}]));
    assert!(result(&validate_code_code_system(&svc, &by_url, None).unwrap()));
    let coding = params(json!([{"name": "coding", "valueCoding": {"system": ANIMALS, "code": "cow"}}]));
    assert!(!result(&validate_code_code_system(&svc, &coding, None).unwrap()));
    let instance = validate_code_code_system(
        &svc,
        &params(json!([{"name": "code", "valueCode": "bird"}])),
        Some(&animals()),
    )
    .unwrap();
    assert!(result(&instance));
}

#[test]
fn validate_code_built_in_systems_check_their_grammar() {
    let languages = vs(
        "http://x/languages",
        json!({"include": [{"system": "urn:ietf:bcp:47"}]}),
    );
    let units = vs(
        "http://x/units",
        json!({"include": [{"system": "http://unitsofmeasure.org"}]}),
    );
    let mime = vs("http://x/mime", json!({"include": [{"system": "urn:ietf:bcp:13"}]}));
    let svc = service(&[languages, units, mime]);
    let ok = validate_vs(&svc, "http://x/languages", "urn:ietf:bcp:47", "pt-BR", None);
    assert!(result(&ok));
    assert_eq!(param(&ok, "display").unwrap()["valueString"], "Portuguese (Brazil)");
    assert!(!result(&validate_vs(
        &svc,
        "http://x/languages",
        "urn:ietf:bcp:47",
        "pt-XX",
        None
    )));
    assert!(result(&validate_vs(
        &svc,
        "http://x/units",
        "http://unitsofmeasure.org",
        "mmol/L",
        None
    )));
    assert!(!result(&validate_vs(
        &svc,
        "http://x/units",
        "http://unitsofmeasure.org",
        "mmol/",
        None
    )));
    assert!(result(&validate_vs(
        &svc,
        "http://x/mime",
        "urn:ietf:bcp:13",
        "application/pdf",
        None
    )));
    assert!(!result(&validate_vs(
        &svc,
        "http://x/mime",
        "urn:ietf:bcp:13",
        "pdf",
        None
    )));
    let expand_err = expand_url(&svc, "http://x/languages", json!([])).unwrap_err();
    assert!(
        matches!(expand_err, TerminologyError::NotSupported { .. }),
        "a grammar cannot be enumerated"
    );
}

#[test]
fn validate_code_without_system_infers_it_from_a_single_system_value_set() {
    let svc = service(&[mammals()]);
    let p = params(json!([{"name": "url", "valueUri": "http://x/mammals"}, {"name": "code", "valueCode": "cat"}]));
    assert!(result(&validate_code_value_set(&svc, &p, None).unwrap()));
}

// ------------------------------------------------------- $lookup, $subsumes

#[test]
fn lookup_returns_display_designations_properties_and_hierarchy() {
    let svc = service(&[]);
    let p = params(json!([{"name": "system", "valueUri": ANIMALS}, {"name": "code", "valueCode": "dog"}]));
    let out = lookup(&svc, &p, None).unwrap();
    assert_eq!(param(&out, "name").unwrap()["valueString"], "Animals");
    assert_eq!(param(&out, "display").unwrap()["valueString"], "Dog");
    assert_eq!(
        param(&out, "designation").unwrap()["part"][1]["valueString"],
        "Cachorro"
    );
    let text = out.to_string();
    assert!(text.contains(r#""valueInteger":4"#), "{text}");
    assert!(
        text.contains(r#"{"name":"code","valueCode":"parent"},{"name":"value","valueCode":"mammal"}"#),
        "{text}"
    );
}

#[test]
fn lookup_unknown_code_is_not_found_and_unknown_system_not_supported() {
    let svc = service(&[]);
    let p = params(json!([{"name": "system", "valueUri": ANIMALS}, {"name": "code", "valueCode": "yeti"}]));
    assert!(matches!(
        lookup(&svc, &p, None),
        Err(TerminologyError::NotFound { kind: "Code", .. })
    ));
    let p =
        params(json!([{"name": "system", "valueUri": "http://snomed.info/sct"}, {"name": "code", "valueCode": "1"}]));
    assert!(matches!(
        lookup(&svc, &p, None),
        Err(TerminologyError::NotSupported { .. })
    ));
}

#[test]
fn lookup_of_a_built_in_system_gives_its_display() {
    let p = params(json!([{"name": "system", "valueUri": "urn:ietf:bcp:47"}, {"name": "code", "valueCode": "en-GB"}]));
    let out = lookup(&service(&[]), &p, None).unwrap();
    assert_eq!(
        param(&out, "display").unwrap()["valueString"],
        "English (United Kingdom)"
    );
}

#[test]
fn subsumes_gives_each_of_the_four_outcomes() {
    let svc = service(&[]);
    let outcome = |a: &str, b: &str| {
        let p = params(
            json!([{"name": "system", "valueUri": ANIMALS}, {"name": "codeA", "valueCode": a}, {"name": "codeB", "valueCode": b}]),
        );
        subsumes(&svc, &p, None).unwrap()["parameter"][0]["valueCode"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outcome("dog", "dog"), "equivalent");
    assert_eq!(outcome("animal", "parrot"), "subsumes");
    assert_eq!(outcome("dog", "mammal"), "subsumed-by");
    assert_eq!(outcome("dog", "bird"), "not-subsumed");
}

// ------------------------------------------------------------- $translate

fn concept_map() -> Value {
    json!({"resourceType": "ConceptMap", "url": "http://x/cm", "sourceUri": "http://x/vs-animals", "targetUri": "http://x/vs-tiere",
    "group": [
        {"source": ANIMALS, "target": "http://x/tiere", "element": [
            {"code": "dog", "target": [{"code": "hund", "display": "Hund", "equivalence": "equivalent"}]},
            {"code": "mammal", "target": [{"code": "tier", "equivalence": "wider"}]},
            {"code": "dodo", "target": [{"equivalence": "unmatched"}]}],
         "unmapped": {"mode": "fixed", "code": "unbekannt", "display": "Unbekannt"}},
        {"source": "http://x/colours", "target": "http://x/farben", "element": [], "unmapped": {"mode": "provided"}}
    ]})
}

fn translate_params(list: Value) -> Value {
    params(list)
}

#[test]
fn translate_maps_by_url_and_reports_equivalence() {
    let svc = service(&[concept_map()]);
    let p = translate_params(
        json!([{"name": "url", "valueUri": "http://x/cm"}, {"name": "system", "valueUri": ANIMALS}, {"name": "code", "valueCode": "dog"}]),
    );
    let out = translate(&svc, &p, None).unwrap();
    assert_eq!(param(&out, "result").unwrap()["valueBoolean"], true);
    let m = &param(&out, "match").unwrap()["part"];
    assert_eq!(m[0]["valueCode"], "equivalent");
    assert_eq!(m[1]["valueCoding"]["code"], "hund");
    assert_eq!(m[2]["valueUri"], "http://x/cm");
}

#[test]
fn translate_finds_maps_by_source_and_target_value_sets() {
    let svc = service(&[concept_map()]);
    let p = translate_params(
        json!([{"name": "source", "valueUri": "http://x/vs-animals"}, {"name": "target", "valueUri": "http://x/vs-tiere"},
        {"name": "coding", "valueCoding": {"system": ANIMALS, "code": "mammal"}}]),
    );
    let out = translate(&svc, &p, None).unwrap();
    assert_eq!(param(&out, "match").unwrap()["part"][0]["valueCode"], "wider");
    let elsewhere = translate_params(
        json!([{"name": "source", "valueUri": "http://x/other"}, {"name": "system", "valueUri": ANIMALS}, {"name": "code", "valueCode": "dog"}]),
    );
    assert_eq!(
        param(&translate(&svc, &elsewhere, None).unwrap(), "result").unwrap()["valueBoolean"],
        false
    );
}

#[test]
fn translate_unmapped_fixed_and_provided_and_unmatched() {
    let svc = service(&[concept_map()]);
    let run = |system: &str, code: &str| {
        let p = translate_params(
            json!([{"name": "url", "valueUri": "http://x/cm"}, {"name": "system", "valueUri": system}, {"name": "code", "valueCode": code}]),
        );
        translate(&svc, &p, None).unwrap()
    };
    let fixed = run(ANIMALS, "cat");
    assert_eq!(
        param(&fixed, "match").unwrap()["part"][1]["valueCoding"]["code"],
        "unbekannt"
    );
    let provided = run("http://x/colours", "red");
    assert_eq!(
        param(&provided, "match").unwrap()["part"][1]["valueCoding"],
        json!({"system": "http://x/farben", "code": "red"})
    );
    let unmatched = run(ANIMALS, "dodo");
    assert_eq!(param(&unmatched, "result").unwrap()["valueBoolean"], false);
}

#[test]
fn translate_other_map_follows_the_named_map() {
    let first = json!({"resourceType": "ConceptMap", "url": "http://x/first", "group": [{"source": ANIMALS, "target": "http://x/t",
        "element": [], "unmapped": {"mode": "other-map", "url": "http://x/cm"}}]});
    let svc = service(&[first, concept_map()]);
    let p = translate_params(
        json!([{"name": "url", "valueUri": "http://x/first"}, {"name": "system", "valueUri": ANIMALS}, {"name": "code", "valueCode": "dog"}]),
    );
    let out = translate(&svc, &p, None).unwrap();
    assert_eq!(param(&out, "match").unwrap()["part"][1]["valueCoding"]["code"], "hund");
}

#[test]
fn translate_reverse_reads_targets_back_to_sources() {
    let svc = service(&[concept_map()]);
    let p = translate_params(
        json!([{"name": "url", "valueUri": "http://x/cm"}, {"name": "system", "valueUri": "http://x/tiere"},
        {"name": "code", "valueCode": "tier"}, {"name": "reverse", "valueBoolean": true}]),
    );
    let out = translate(&svc, &p, None).unwrap();
    let m = &param(&out, "match").unwrap()["part"];
    assert_eq!(m[0]["valueCode"], "narrower");
    assert_eq!(m[1]["valueCoding"]["code"], "mammal");
}

// ------------------------------------------------------- loaded systems

#[test]
fn a_loaded_snomed_release_serves_is_a_filters_and_validation() {
    let dir = loaders::snomed::tests::sample_release("svc");
    let sct = loaders::snomed::load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let diseases = vs(
        "http://x/diseases",
        json!({"include": [{"system": "http://snomed.info/sct",
        "filter": [{"property": "concept", "op": "is-a", "value": "64572001"}]}]}),
    );
    let svc = service(&[diseases]);
    let before = svc.validate_in_value_set(
        "http://x/diseases",
        &CodingRef {
            system: Some("http://snomed.info/sct"),
            code: "73211009",
            ..Default::default()
        },
        None,
    );
    assert_eq!(before.unwrap().verdict, Verdict::NotSupported);
    svc.add_code_system(sct);
    let out = expand_url(&svc, "http://x/diseases", json!([])).unwrap();
    assert_eq!(codes(&out), ["64572001", "73211009"]);
    let v = validate_vs(&svc, "http://x/diseases", "http://snomed.info/sct", "404684003", None);
    assert!(!result(&v), "a parent concept is not in an is-a value set");
}

#[test]
fn validate_code_grammar_filters_narrow_built_in_systems() {
    let time = vs(
        "http://x/time",
        json!({"include": [{"system": "http://unitsofmeasure.org",
        "filter": [{"property": "canonical", "op": "=", "value": "s"}]}]}),
    );
    let svc = service(&[time]);
    assert!(result(&validate_vs(
        &svc,
        "http://x/time",
        "http://unitsofmeasure.org",
        "wk",
        None
    )));
    let mg = validate_vs(&svc, "http://x/time", "http://unitsofmeasure.org", "mg", None);
    assert!(!result(&mg));
    assert!(message(&mg).contains("not in the value set"), "{mg}");
}
