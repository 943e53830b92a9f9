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

async fn large_xml_conversion_does_not_stall_other_requests(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    // A ~12 MB collection Bundle: seconds of XML conversion in a debug build.
    let entries: Vec<Value> = (0..20_000)
        .map(|i| json!({"fullUrl": format!("urn:uuid:{i:08}-0000-4000-8000-000000000000"),
                        "resource": {"resourceType": "Patient", "name": [{"family": format!("Family{i}"), "given": ["A", "B"]}],
                                     "address": [{"line": ["Rua das Flores 100"], "city": "Recife", "country": "BR"}]}}))
        .collect();
    let big = json!({"resourceType": "Bundle", "id": "big", "type": "collection", "entry": entries});
    assert_eq!(app.put("Bundle/big", &big).await.status, 201);
    let small = app.create(&json!({"resourceType": "Patient", "active": true})).await;

    // Two at once: enough to occupy every runtime thread if conversion ran
    // on them.
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let r = app
                    .send(reqwest::Client::new().get(app.url("Bundle/big?_format=xml")))
                    .await;
                assert_eq!(r.status, 200);
                std::time::Instant::now()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut small_done = Vec::new();
    for _ in 0..6 {
        // A fresh client each time, so requests spread over new connections
        // (and so over every HTTP worker).
        let r = app
            .send(reqwest::Client::new().get(app.url(&format!("Patient/{small}"))))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        small_done.push(std::time::Instant::now());
    }
    let mut slow_done = Vec::new();
    for s in slow {
        slow_done.push(s.await.expect("big read"));
    }
    let slow_done = slow_done.into_iter().min().expect("two big reads");
    assert!(
        small_done.iter().all(|t| *t < slow_done),
        "small reads waited for the XML conversion of another request"
    );
}

on_both_backends!(
    large_xml_conversion_does_not_stall_other_requests,
    xml_in_json_out,
    xml_out_by_accept_and_format,
    errors_follow_the_negotiated_format,
    pretty_output_is_indented_and_equal,
    invalid_xml_is_400,
);
