//! JSON and XML in and out, chosen by Content-Type, Accept and _format; _pretty.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

const PATIENT_XML: &str = r#"<Patient xmlns="http://hl7.org/fhir"><active value="true"/><name><family value="Souza"/><given value="Ana"/></name><birthDate value="1990-05-06"/></Patient>"#;

async fn xml_in_json_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .send(
            app.client
                .post(app.url("Patient"))
                .header("Content-Type", "application/fhir+xml")
                .body(PATIENT_XML),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let p = r.json();
    assert_eq!(p["name"][0]["family"], "Souza");
    assert_eq!(p["active"], true);
}

async fn xml_out_by_accept_and_format(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create(&json!({"resourceType": "Patient", "name": [{"family": "Lima"}]}))
        .await;
    let r = app
        .send(
            app.client
                .get(app.url(&format!("Patient/{id}")))
                .header("Accept", "application/fhir+xml"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("application/fhir+xml"));
    assert!(r.text.contains("<family value=\"Lima\"/>"), "{}", r.text);
    let back: Value = serde_json::from_str(&ipe_xml::xml_to_json(r.text.as_bytes()).unwrap()).unwrap();
    assert_eq!(back["name"][0]["family"], "Lima");
    let r = app.get(&format!("Patient/{id}?_format=xml")).await;
    assert!(r.text.starts_with('<'), "{}", r.text);
    let r = app.get(&format!("Patient/{id}?_format=json")).await;
    assert_eq!(r.json()["id"], id);
    assert_eq!(app.get(&format!("Patient/{id}?_format=html")).await.status, 406);
}

async fn errors_follow_the_negotiated_format(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("Patient/missing?_format=xml").await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("<OperationOutcome"), "{}", r.text);
}

async fn pretty_output_is_indented_and_equal(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create(&json!({"resourceType": "Patient", "name": [{"family": "Lima"}]}))
        .await;
    let plain = app.get(&format!("Patient/{id}")).await;
    let pretty = app.get(&format!("Patient/{id}?_pretty=true")).await;
    assert!(pretty.text.contains("\n  "), "{}", pretty.text);
    assert_eq!(plain.json(), pretty.json());
}

async fn invalid_xml_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .send(
            app.client
                .post(app.url("Patient"))
                .header("Content-Type", "application/fhir+xml")
                .body("<Patient><oops"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.issue()["code"], "structure");
}

on_both_backends!(
    xml_in_json_out,
    xml_out_by_accept_and_format,
    errors_follow_the_negotiated_format,
    pretty_output_is_indented_and_equal,
    invalid_xml_is_400,
);
