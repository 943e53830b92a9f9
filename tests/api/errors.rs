//! Every 4xx carries an OperationOutcome saying what and where.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Backend, FHIR_JSON};
use crate::on_both_backends;

async fn unknown_resource_type_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("Nonsense/1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.issue()["code"], "not-supported");
    assert_eq!(
        app.post("Nonsense", &json!({"resourceType": "Nonsense"})).await.status,
        404
    );
    assert_eq!(app.get("Nonsense").await.status, 404);
}

async fn wrong_method_is_405_and_unknown_path_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.send(app.client.post(app.url("Patient/1"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.issue()["code"], "not-supported");
    assert_eq!(app.send(app.client.delete(app.url("metadata"))).await.status, 405);
    assert_eq!(app.get("Patient/1/_history/1/extra").await.status, 404);
}

async fn unsupported_content_type_is_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .send(
            app.client
                .post(app.url("Patient"))
                .header("Content-Type", "text/plain")
                .body("hi"),
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(r.issue()["code"], "not-supported");
}

async fn oversized_body_is_413(backend: Backend) {
    let app = spawn_with(backend, |o| o.max_body_bytes = Some(1024)).await;
    let big = json!({"resourceType": "Patient", "name": [{"family": "x".repeat(2000)}]});
    let r = app.post("Patient", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.issue()["code"], "too-long");
}

async fn malformed_json_is_400_with_position(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .send(
            app.client
                .post(app.url("Patient"))
                .header("Content-Type", FHIR_JSON)
                .body("{\"resourceType\": "),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.issue()["diagnostics"].as_str().unwrap().contains("line 1"),
        "{}",
        r.text
    );
}

async fn structural_errors_name_the_element(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (json!({"resourceType": "Patient", "nickname": "Zé"}), "Patient.nickname"),
        (
            json!({"resourceType": "Patient", "birthDate": "22/11/2026"}),
            "Patient.birthDate",
        ),
        (json!({"resourceType": "Patient", "active": "yes"}), "Patient.active"),
        (json!({"resourceType": "Patient", "name": []}), "Patient.name"),
        (json!({"resourceType": "Patient", "name": [{}]}), "Patient.name[0]"),
        (
            json!({"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [null]}]}),
            "Patient.name[0].given",
        ),
    ];
    for (body, expression) in cases {
        let r = app.post("Patient", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        let oo = r.json();
        let found = oo["issue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["expression"][0].as_str().is_some_and(|e| e.starts_with(expression)));
        assert!(found, "expected an issue at {expression}: {}", r.text);
    }
}

async fn wrong_resource_type_for_url_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post(
            "Patient",
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue()["expression"][0], "resourceType");
    let r = app.post("Patient", &json!({"name": [{"family": "x"}]})).await;
    assert_eq!(r.status, 400);
}

async fn invalid_id_in_url_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = "x".repeat(65);
    assert_eq!(app.get(&format!("Patient/{id}")).await.status, 400);
    assert_eq!(app.get("Patient/a_b").await.status, 400);
}

async fn metadata_describes_every_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let cs = app.get("metadata").await.json();
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["rest"][0]["resource"].as_array().unwrap().len(), 146);
    assert!(cs["format"].to_string().contains("xml"));
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("healthz").await.status, 200);
    let r = app.get("readyz").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send(app.client.get(app.url("healthz")).header("X-Request-Id", "abc-123"))
        .await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("abc-123"));
}

on_both_backends!(
    unknown_resource_type_is_404,
    wrong_method_is_405_and_unknown_path_404,
    unsupported_content_type_is_415,
    oversized_body_is_413,
    malformed_json_is_400_with_position,
    structural_errors_name_the_element,
    wrong_resource_type_for_url_is_400,
    invalid_id_in_url_is_400,
    metadata_describes_every_type,
    health_and_readiness,
);
