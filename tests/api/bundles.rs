//! batch and transaction at POST [base].

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

async fn transaction_resolves_urn_references_across_the_bundle(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = transaction(vec![
        json!({"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
               "resource": {"resourceType": "Patient", "name": [{"family": "Costa"}]},
               "request": {"method": "POST", "url": "Patient"}}),
        json!({"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
               "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "bp"},
                            "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
               "request": {"method": "POST", "url": "Observation"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resp = r.json();
    assert_eq!(resp["type"], "transaction-response");
    let e = resp["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "201 Created");
    let patient_loc = e[0]["response"]["location"].as_str().unwrap();
    let patient_id = patient_loc.split('/').rev().nth(2).unwrap();
    assert_eq!(
        e[1]["resource"]["subject"]["reference"],
        format!("Patient/{patient_id}")
    );
    assert_eq!(app.get(&format!("Patient/{patient_id}")).await.status, 200);
}

async fn transaction_is_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = transaction(vec![
        json!({"resource": {"resourceType": "Patient", "id": "keep-out"}, "request": {"method": "PUT", "url": "Patient/keep-out"}}),
        json!({"request": {"method": "DELETE", "url": "Patient/does-not-exist"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.issue()["expression"][0], "Bundle.entry[1]");
    assert_eq!(app.get("Patient/keep-out").await.status, 404, "the PUT was rolled back");
    assert_eq!(app.get("_history").await.json()["total"], 0);
}

async fn transaction_runs_in_spec_order(backend: Backend) {
    let app = spawn_app(backend).await;
    app.put("Patient/old", &json!({"resourceType": "Patient", "id": "old"}))
        .await;
    // Listed GET, PUT, DELETE; processed DELETE, PUT, GET so the read sees the PUT.
    let b = transaction(vec![
        json!({"request": {"method": "GET", "url": "Patient/new"}}),
        json!({"resource": {"resourceType": "Patient", "id": "new", "active": true}, "request": {"method": "PUT", "url": "Patient/new"}}),
        json!({"request": {"method": "DELETE", "url": "Patient/old"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e = r.json()["entry"].as_array().unwrap().clone();
    assert_eq!(e[0]["response"]["status"], "200 OK");
    assert_eq!(e[0]["resource"]["active"], true);
    assert_eq!(e[1]["response"]["status"], "201 Created");
    assert_eq!(e[2]["response"]["status"], "204 No Content");
    assert_eq!(app.get("Patient/old").await.status, 410);
}

async fn transaction_refuses_two_writes_to_one_resource(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = transaction(vec![
        json!({"resource": {"resourceType": "Patient", "id": "d"}, "request": {"method": "PUT", "url": "Patient/d"}}),
        json!({"request": {"method": "DELETE", "url": "Patient/d"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.issue()["code"], "duplicate");
}

async fn invalid_entry_resource_fails_the_transaction_with_its_location(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = transaction(vec![
        json!({"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}),
        json!({"resource": {"resourceType": "Patient", "birthDate": "yesterday"}, "request": {"method": "POST", "url": "Patient"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Bundle.entry[1].resource"), "{}", r.text);
    assert_eq!(app.get("_history").await.json()["total"], 0);
}

async fn batch_entries_succeed_or_fail_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "id": "b1"}, "request": {"method": "PUT", "url": "Patient/b1"}},
        {"request": {"method": "GET", "url": "Patient?name=x"}},
    ]});
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resp = r.json();
    assert_eq!(resp["type"], "batch-response");
    let e = resp["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "404 Not Found");
    assert_eq!(e[1]["response"]["outcome"]["resourceType"], "OperationOutcome");
    assert_eq!(e[2]["response"]["status"], "201 Created");
    assert_eq!(e[3]["response"]["status"], "200 OK");
    assert_eq!(e[3]["resource"]["type"], "searchset");
    assert_eq!(app.get("Patient/b1").await.status, 200);
}

async fn bundle_patch_entries_take_a_binary_json_patch(backend: Backend) {
    let app = spawn_app(backend).await;
    app.put(
        "Patient/pp",
        &json!({"resourceType": "Patient", "id": "pp", "active": true}),
    )
    .await;
    use base64::Engine;
    let patch =
        base64::engine::general_purpose::STANDARD.encode(r#"[{"op":"replace","path":"/active","value":false}]"#);
    let b = transaction(vec![
        json!({"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": patch},
                                    "request": {"method": "PATCH", "url": "Patient/pp", "ifMatch": "W/\"1\""}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get("Patient/pp").await.json()["active"], false);
}

async fn only_batch_or_transaction_bundles_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post("", &json!({"resourceType": "Bundle", "type": "collection"}))
        .await;
    assert_eq!(r.status, 400);
    let r = app.post("", &json!({"resourceType": "Patient"})).await;
    assert_eq!(r.status, 400);
}

async fn prefer_minimal_leaves_resources_out_of_the_response(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = transaction(vec![
        json!({"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}),
    ]);
    let r = app
        .send(
            app.client
                .post(app.url(""))
                .header("Content-Type", "application/fhir+json")
                .header("Prefer", "return=minimal")
                .body(b.to_string()),
        )
        .await;
    let e = r.json()["entry"][0].clone();
    assert!(e.get("resource").is_none());
    assert!(e["response"]["location"].as_str().unwrap().contains("/_history/1"));
    assert_eq!(e["response"]["etag"], "W/\"1\"");
}

on_both_backends!(
    transaction_resolves_urn_references_across_the_bundle,
    transaction_is_all_or_nothing,
    transaction_runs_in_spec_order,
    transaction_refuses_two_writes_to_one_resource,
    invalid_entry_resource_fails_the_transaction_with_its_location,
    batch_entries_succeed_or_fail_alone,
    bundle_patch_entries_take_a_binary_json_patch,
    only_batch_or_transaction_bundles_are_accepted,
    prefer_minimal_leaves_resources_out_of_the_response,
);
