//! The terminology operations over HTTP (terminology-service.html):
//! `$expand`, `$validate-code`, `$lookup`, `$subsumes`, `$translate`, at type
//! level and on instances, by GET and POST, over the base R4 definitions and
//! over conformance resources stored through the API — live as soon as they
//! are written, changed when they change, gone when deleted.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

const GENDER_VS: &str = "http://hl7.org/fhir/ValueSet/administrative-gender";
const GENDER_CS: &str = "http://hl7.org/fhir/administrative-gender";

fn codes(expansion: &Value) -> Vec<String> {
    let mut codes: Vec<String> = expansion["expansion"]["contains"]
        .as_array()
        .map(|c| c.iter().filter_map(|e| e["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    codes.sort();
    codes
}

fn parameter<'a>(parameters: &'a Value, name: &str) -> &'a Value {
    parameters["parameter"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == name))
        .unwrap_or(&Value::Null)
}

async fn ok(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json()
}

/// The base spec's value sets and code systems answer at once.
async fn operations_on_base_definitions(backend: Backend) {
    let app = spawn_app(backend).await;
    let expansion = ok(&app, &format!("ValueSet/$expand?url={GENDER_VS}")).await;
    assert_eq!(codes(&expansion), ["female", "male", "other", "unknown"]);

    let valid = ok(
        &app,
        &format!("ValueSet/$validate-code?url={GENDER_VS}&system={GENDER_CS}&code=male"),
    )
    .await;
    assert_eq!(parameter(&valid, "result")["valueBoolean"], true, "{valid}");
    let invalid = ok(
        &app,
        &format!("ValueSet/$validate-code?url={GENDER_VS}&system={GENDER_CS}&code=xyz"),
    )
    .await;
    assert_eq!(parameter(&invalid, "result")["valueBoolean"], false, "{invalid}");

    let lookup = ok(&app, &format!("CodeSystem/$lookup?system={GENDER_CS}&code=female")).await;
    assert_eq!(parameter(&lookup, "display")["valueString"], "Female", "{lookup}");

    // POST with a Parameters body is the same call.
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": GENDER_VS},
        {"name": "coding", "valueCoding": {"system": GENDER_CS, "code": "other"}}]});
    let r = app.post("ValueSet/$validate-code", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(parameter(&r.json(), "result")["valueBoolean"], true);

    let unknown = app.get("ValueSet/$expand?url=http://example.org/nothing").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let not_parameters = app.post("ValueSet/$expand", &json!({"resourceType": "Patient"})).await;
    assert_eq!(not_parameters.status, 400, "{}", not_parameters.text);
    let no_such_operation = app.get("Patient/$expand").await;
    assert_eq!(no_such_operation.status, 501, "{}", no_such_operation.text);

    // The CapabilityStatement says so.
    let cs = ok(&app, "metadata").await;
    let ops = |t: &str| {
        cs["rest"][0]["resource"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["type"] == t))
            .map(|r| r["operation"].to_string())
            .unwrap_or_default()
    };
    assert!(ops("ValueSet").contains("http://hl7.org/fhir/OperationDefinition/valueset-expand"));
    assert!(ops("CodeSystem").contains(r#""name":"subsumes""#));
    assert!(ops("ConceptMap").contains(r#""name":"translate""#));
    // Other types list only $validate, which every type has.
    assert_eq!(
        ops("Patient"),
        r#"[{"name":"validate","definition":"http://hl7.org/fhir/OperationDefinition/Resource-validate"}]"#
    );
}

fn code_system(version: &str, codes: &[(&str, &str)]) -> Value {
    let concepts: Vec<Value> = codes
        .iter()
        .map(|(code, display)| json!({"code": code, "display": display}))
        .collect();
    json!({"resourceType": "CodeSystem", "id": "colors", "url": "http://example.org/cs/colors",
        "version": version, "status": "active", "content": "complete",
        "concept": [{"code": "warm", "display": "Warm", "concept": concepts}]})
}

/// A CodeSystem, ValueSet and ConceptMap PUT to the server are used by the
/// very next request; an update changes the answers, a delete removes them.
async fn stored_definitions_are_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let put = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = app.put(path, &body).await;
            assert!(r.status == 200 || r.status == 201, "{path}: {}", r.text);
        }
    };
    put(
        "CodeSystem/colors",
        code_system("1", &[("red", "Red"), ("orange", "Orange")]),
    )
    .await;
    put(
        "ValueSet/warm",
        json!({"resourceType": "ValueSet", "id": "warm", "url": "http://example.org/vs/warm", "status": "active",
            "compose": {"include": [{"system": "http://example.org/cs/colors",
                "filter": [{"property": "concept", "op": "descendent-of", "value": "warm"}]}]}}),
    )
    .await;
    assert_eq!(
        codes(&ok(&app, "ValueSet/$expand?url=http://example.org/vs/warm").await),
        ["orange", "red"]
    );
    assert_eq!(codes(&ok(&app, "ValueSet/warm/$expand").await), ["orange", "red"]);

    let subsumes = ok(
        &app,
        "CodeSystem/$subsumes?system=http://example.org/cs/colors&codeA=warm&codeB=red",
    )
    .await;
    assert_eq!(parameter(&subsumes, "outcome")["valueCode"], "subsumes", "{subsumes}");
    let lookup = ok(&app, "CodeSystem/colors/$lookup?code=orange").await;
    assert_eq!(parameter(&lookup, "display")["valueString"], "Orange", "{lookup}");

    // A new version of the code system: the expansion follows at once.
    put(
        "CodeSystem/colors",
        code_system("2", &[("red", "Red"), ("yellow", "Yellow")]),
    )
    .await;
    assert_eq!(
        codes(&ok(&app, "ValueSet/$expand?url=http://example.org/vs/warm").await),
        ["red", "yellow"]
    );
    let gone = ok(
        &app,
        "ValueSet/warm/$validate-code?system=http://example.org/cs/colors&code=orange",
    )
    .await;
    assert_eq!(parameter(&gone, "result")["valueBoolean"], false, "{gone}");

    put(
        "ConceptMap/colors-to-fr",
        json!({"resourceType": "ConceptMap", "id": "colors-to-fr", "url": "http://example.org/cm/fr", "status": "active",
            "group": [{"source": "http://example.org/cs/colors", "target": "http://example.org/cs/couleurs",
                "element": [{"code": "red", "target": [{"code": "rouge", "equivalence": "equivalent"}]}]}]}),
    )
    .await;
    let translated = ok(
        &app,
        "ConceptMap/$translate?url=http://example.org/cm/fr&system=http://example.org/cs/colors&code=red",
    )
    .await;
    assert_eq!(parameter(&translated, "result")["valueBoolean"], true, "{translated}");
    assert!(translated.to_string().contains("rouge"), "{translated}");

    assert_eq!(app.delete("ValueSet/warm").await.status, 204);
    let r = app.get("ValueSet/$expand?url=http://example.org/vs/warm").await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// A LOINC release named in the configuration (`--loinc Loinc.csv`) is
/// loaded at start: LOINC codes then validate, where without it they are
/// "not supported here" (never "invalid").
async fn loinc_release_loaded_at_start(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("ipe-loinc-{}-{backend:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("Loinc.csv");
    std::fs::write(
        &csv,
        "\"LOINC_NUM\",\"COMPONENT\",\"PROPERTY\",\"SCALE_TYP\",\"STATUS\",\"LONG_COMMON_NAME\"\r\n\
         \"2345-7\",\"Glucose\",\"MCnc\",\"Qn\",\"ACTIVE\",\"Glucose [Mass/volume] in Serum or Plasma\"\r\n",
    )
    .unwrap();
    let check = "CodeSystem/$validate-code?url=http://loinc.org&code=2345-7";
    let without = spawn_app(backend).await;
    let r = ok(&without, check).await;
    assert_eq!(parameter(&r, "result")["valueBoolean"], false, "{r}");
    assert!(r.to_string().contains("x-caused-by-unknown-system"), "{r}");

    let with = crate::helpers::spawn_with(backend, |o| o.loinc = Some(csv.clone())).await;
    let r = ok(&with, check).await;
    assert_eq!(parameter(&r, "result")["valueBoolean"], true, "{r}");
    let lookup = ok(&with, "CodeSystem/$lookup?system=http://loinc.org&code=2345-7").await;
    assert_eq!(
        parameter(&lookup, "display")["valueString"],
        "Glucose [Mass/volume] in Serum or Plasma",
        "{lookup}"
    );
    let unknown = ok(&with, "CodeSystem/$validate-code?url=http://loinc.org&code=9999-9").await;
    assert_eq!(parameter(&unknown, "result")["valueBoolean"], false, "{unknown}");
    std::fs::remove_dir_all(&dir).ok();
}

on_both_backends!(
    operations_on_base_definitions,
    stored_definitions_are_live,
    loinc_release_loaded_at_start
);
