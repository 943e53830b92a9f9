//! FHIRPath Patch over HTTP (http.html#patch, fhirpatch.html): a Parameters
//! body in JSON or XML, with the version check, error statuses and Bundle
//! entries of the patch interaction. JSON Patch is in `crud.rs`.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Resp, TestApp};
use crate::on_both_backends;

fn patient() -> Value {
    json!({"resourceType": "Patient", "active": true, "birthDate": "1970-01-01",
           "name": [{"family": "Silva", "given": ["José"]}]})
}

/// A Parameters resource with one `operation` per list of parts.
fn parameters(operations: Vec<Value>) -> Value {
    let parameter: Vec<Value> = operations
        .into_iter()
        .map(|parts| json!({"name": "operation", "part": parts}))
        .collect();
    json!({"resourceType": "Parameters", "parameter": parameter})
}

fn replace(path: &str, value: Value) -> Value {
    let mut parts = vec![
        json!({"name": "type", "valueCode": "replace"}),
        json!({"name": "path", "valueString": path}),
    ];
    let mut value_part = json!({"name": "value"});
    if let (Some(part), Some(value)) = (value_part.as_object_mut(), value.as_object()) {
        part.extend(value.clone());
    }
    parts.push(value_part);
    Value::Array(parts)
}

async fn send_patch(app: &TestApp, path: &str, content_type: &str, body: String, if_match: Option<&str>) -> Resp {
    let mut req = app
        .client
        .patch(app.url(path))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(etag) = if_match {
        req = req.header("If-Match", etag);
    }
    app.send(req).await
}

async fn fhirpath_patch_applies_with_version_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let at = format!("Patient/{id}");
    let patch = parameters(vec![
        replace("Patient.birthDate", json!({"valueDate": "1980-02-02"})),
        replace("Patient.name[0].given[0]", json!({"valueString": "João"})),
    ]);
    let r = send_patch(&app, &at, "application/fhir+json", patch.to_string(), Some("W/\"1\"")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["birthDate"], "1980-02-02");
    assert_eq!(body["name"][0]["given"], json!(["João"]));
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    // The client's version is stale now.
    let stale = parameters(vec![replace("Patient.active", json!({"valueBoolean": false}))]);
    let r = send_patch(&app, &at, "application/json", stale.to_string(), Some("W/\"1\"")).await;
    assert_eq!(r.status, 412, "{}", r.text);
    let current = app.get(&at).await.json();
    assert_eq!(
        (current["active"].clone(), current["meta"]["versionId"].clone()),
        (json!(true), json!("2"))
    );
}

async fn fhirpath_patch_accepts_parameters_in_xml(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let xml = r#"<Parameters xmlns="http://hl7.org/fhir">
      <parameter>
        <name value="operation"/>
        <part><name value="type"/><valueCode value="add"/></part>
        <part><name value="path"/><valueString value="Patient"/></part>
        <part><name value="name"/><valueString value="contact"/></part>
        <part>
          <name value="value"/>
          <part><name value="name"/><valueHumanName><text value="Maria Silva"/></valueHumanName></part>
          <part><name value="gender"/><valueCode value="female"/></part>
        </part>
      </parameter>
      <parameter>
        <name value="operation"/>
        <part><name value="type"/><valueCode value="delete"/></part>
        <part><name value="path"/><valueString value="Patient.birthDate"/></part>
      </parameter>
    </Parameters>"#;
    let r = send_patch(&app, &format!("Patient/{id}"), "application/fhir+xml", xml.into(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = app.get(&format!("Patient/{id}")).await.json();
    assert_eq!(
        stored["contact"],
        json!([{"name": {"text": "Maria Silva"}, "gender": "female"}])
    );
    assert!(stored.get("birthDate").is_none(), "{stored}");
}

async fn invalid_fhirpath_patch_is_400_naming_the_part_at_fault(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let at = format!("Patient/{id}");
    let bad_type = parameters(vec![
        replace("Patient.active", json!({"valueBoolean": false})),
        json!([{"name": "type", "valueCode": "upsert"}, {"name": "path", "valueString": "Patient.active"}]),
    ]);
    let r = send_patch(&app, &at, "application/fhir+json", bad_type.to_string(), None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.issue()["expression"], json!(["Parameters.parameter[1].part[0]"]));
    let bad_path = parameters(vec![replace("Patient.name.where(", json!({"valueString": "x"}))]);
    let r = send_patch(&app, &at, "application/fhir+json", bad_path.to_string(), None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.issue()["expression"], json!(["Parameters.parameter[0].part[1]"]));
    let not_parameters = send_patch(&app, &at, "application/fhir+json", patient().to_string(), None).await;
    assert_eq!(not_parameters.status, 400, "{}", not_parameters.text);
    // Nothing was written by any of them.
    assert_eq!(app.get(&at).await.json()["meta"]["versionId"], "1");
}

async fn fhirpath_patch_that_does_not_apply_is_422_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let at = format!("Patient/{id}");
    // The first operation applies; the second selects nothing to replace.
    let patch = parameters(vec![
        replace("Patient.active", json!({"valueBoolean": false})),
        replace("Patient.deceased", json!({"valueBoolean": true})),
    ]);
    let r = send_patch(&app, &at, "application/fhir+json", patch.to_string(), None).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let issue = r.issue();
    assert_eq!(issue["code"], "processing");
    assert_eq!(issue["expression"], json!(["Parameters.parameter[1]"]));
    assert!(
        issue["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .contains("Patient.deceased"),
        "{issue}"
    );
    let current = app.get(&at).await.json();
    assert_eq!(
        (current["active"].clone(), current["meta"]["versionId"].clone()),
        (json!(true), json!("1"))
    );
    // A patch whose result is not a valid Patient is unprocessable too.
    let invalid_result = parameters(vec![replace("Patient.birthDate", json!({"valueString": "yesterday"}))]);
    let r = send_patch(&app, &at, "application/fhir+json", invalid_result.to_string(), None).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(app.get(&at).await.json()["birthDate"], "1970-01-01");
}

async fn transaction_patch_entries_take_fhirpath_patch_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    app.put(
        "Patient/fp",
        &json!({"resourceType": "Patient", "id": "fp", "active": true}),
    )
    .await;
    let entry = |patch: Value| json!({"resource": patch, "request": {"method": "PATCH", "url": "Patient/fp", "ifMatch": "W/\"1\""}});
    let bundle = |entries: Vec<Value>| json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let failing = parameters(vec![replace("Patient.gender", json!({"valueCode": "female"}))]);
    let r = app.post("", &bundle(vec![entry(failing)])).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.issue()["expression"],
        json!(["Bundle.entry[0].resource.parameter[0]"])
    );
    let working = parameters(vec![replace("Patient.active", json!({"valueBoolean": false}))]);
    let r = app.post("", &bundle(vec![entry(working)])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["entry"][0]["response"]["status"], "200 OK");
    let stored = app.get("Patient/fp").await.json();
    assert_eq!(
        (stored["active"].clone(), stored["meta"]["versionId"].clone()),
        (json!(false), json!("2"))
    );
}

async fn transaction_rewrites_references_in_fhirpath_patch_values(backend: Backend) {
    let app = spawn_app(backend).await;
    app.put("Patient/gp", &json!({"resourceType": "Patient", "id": "gp"}))
        .await;
    let urn = "urn:uuid:3f1c2a8e-5b7d-4c1e-9a0f-2d6e8b4c7a19";
    let add_gp = parameters(vec![json!([
        {"name": "type", "valueCode": "add"},
        {"name": "path", "valueString": "Patient"},
        {"name": "name", "valueString": "generalPractitioner"},
        {"name": "value", "valueReference": {"reference": urn}},
    ])]);
    let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": add_gp, "request": {"method": "PATCH", "url": "Patient/gp"}},
        {"fullUrl": urn, "resource": {"resourceType": "Practitioner", "name": [{"family": "Lima"}]},
         "request": {"method": "POST", "url": "Practitioner"}},
    ]});
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let location = r.json()["entry"][1]["response"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let practitioner_id = location.split('/').rev().nth(2).unwrap_or_default().to_string();
    let stored = app.get("Patient/gp").await.json();
    assert_eq!(
        stored["generalPractitioner"],
        json!([{"reference": format!("Practitioner/{practitioner_id}")}])
    );
}

on_both_backends!(
    fhirpath_patch_applies_with_version_check,
    fhirpath_patch_accepts_parameters_in_xml,
    invalid_fhirpath_patch_is_400_naming_the_part_at_fault,
    fhirpath_patch_that_does_not_apply_is_422_and_changes_nothing,
    transaction_patch_entries_take_fhirpath_patch_parameters,
    transaction_rewrites_references_in_fhirpath_patch_values,
);
