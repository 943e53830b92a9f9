//! Conditional create, update, patch and delete, over HTTP and as Bundle
//! entries; conditional references in transactions; search entries in
//! Bundles (<https://hl7.org/fhir/R4/http.html#ccreate> and after).

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, Backend, TestApp, FHIR_JSON};
use crate::on_both_backends;

fn patient(mrn: &str, family: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": "urn:mrn", "value": mrn}],
        "name": [{"family": family}]
    })
}

/// The ids of the `Patient`s matching `query`.
async fn patient_ids(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(&format!("Patient?{query}&_count=100")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut ids: Vec<String> = r.json()["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn create_if_none_exist(app: &TestApp, body: &Value, criteria: &str) -> crate::helpers::Resp {
    app.send(
        app.client
            .post(app.url("Patient"))
            .header(CONTENT_TYPE, FHIR_JSON)
            .header("If-None-Exist", criteria)
            .body(body.to_string()),
    )
    .await
}

async fn conditional_create_makes_one_resource_per_criteria(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = create_if_none_exist(&app, &patient("1", "Silva"), "identifier=urn:mrn|1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let id = first.json()["id"].as_str().map(str::to_string);

    // The same criteria again: 200 with the existing resource, no new version.
    let again = create_if_none_exist(&app, &patient("1", "Other"), "identifier=urn:mrn|1").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["id"].as_str().map(str::to_string), id);
    assert_eq!(again.json()["name"][0]["family"], "Silva");
    assert_eq!(again.header("etag").as_deref(), Some("W/\"1\""));
    assert_eq!(patient_ids(&app, "identifier=urn:mrn|1").await.len(), 1);

    // Several matches: 412, nothing written.
    app.create(&patient("2", "Souza")).await;
    app.create(&patient("3", "Souza")).await;
    let many = create_if_none_exist(&app, &patient("4", "Souza"), "family=souza").await;
    assert_eq!(many.status, 412, "{}", many.text);
    assert_eq!(patient_ids(&app, "family=souza").await.len(), 2);

    // Criteria the server cannot apply, or that ask for nothing: 400.
    let unknown = create_if_none_exist(&app, &patient("5", "X"), "nonsense=1").await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.issue()["diagnostics"]
        .as_str()
        .unwrap_or_default()
        .contains("nonsense"));
    let empty = create_if_none_exist(&app, &patient("5", "X"), "identifier=").await;
    assert_eq!(empty.status, 400, "{}", empty.text);
    assert!(patient_ids(&app, "identifier=urn:mrn|5").await.is_empty());
}

/// Clients racing with the same `If-None-Exist` make exactly one resource.
async fn racing_conditional_creates_make_one_resource(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                create_if_none_exist(&app, &patient("race", "Race"), "identifier=urn:mrn|race")
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 200, 200, 201]);
    assert_eq!(patient_ids(&app, "identifier=urn:mrn|race").await.len(), 1);
}

async fn conditional_update_updates_the_match_or_creates(backend: Backend) {
    let app = spawn_app(backend).await;
    // No match, no id: created with a new id.
    let r = app.put("Patient?identifier=urn:mrn|1", &patient("1", "Silva")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    assert!(!id.is_empty());

    // One match: updated in place.
    let r = app.put("Patient?identifier=urn:mrn|1", &patient("1", "Santos")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["meta"]["versionId"], "2");
    assert_eq!(
        app.get(&format!("Patient/{id}")).await.json()["name"][0]["family"],
        "Santos"
    );

    // The body's id must be the match's.
    let mut other = patient("1", "Lima");
    other["id"] = json!("someone-else");
    let r = app.put("Patient?identifier=urn:mrn|1", &other).await;
    assert_eq!(r.status, 400, "{}", r.text);

    // No match with an id in the body: update as create, with that id.
    let mut chosen = patient("9", "Costa");
    chosen["id"] = json!("chosen-id");
    let r = app.put("Patient?identifier=urn:mrn|9", &chosen).await;
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (201, json!("chosen-id")),
        "{}",
        r.text
    );

    // Several matches: 412.
    app.create(&patient("2", "Souza")).await;
    app.create(&patient("3", "Souza")).await;
    let r = app.put("Patient?family=souza", &patient("4", "Souza")).await;
    assert_eq!(r.status, 412, "{}", r.text);

    // If-Match applies to the match.
    let r = app
        .send(
            app.client
                .put(app.url("Patient?identifier=urn:mrn|1"))
                .header(CONTENT_TYPE, FHIR_JSON)
                .header("If-Match", "W/\"1\"")
                .body(patient("1", "Stale").to_string()),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
}

async fn conditional_patch_patches_the_one_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient("1", "Silva")).await;
    let patch = |url: &str| {
        app.client
            .patch(app.url(url))
            .header(CONTENT_TYPE, "application/json-patch+json")
            .body(json!([{"op": "replace", "path": "/name/0/family", "value": "Patched"}]).to_string())
    };
    let r = app.send(patch("Patient?identifier=urn:mrn|1")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json()["id"].clone(), r.json()["name"][0]["family"].clone()),
        (json!(id), json!("Patched"))
    );
    let r = app.send(patch("Patient?identifier=urn:mrn|nobody")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    app.create(&patient("2", "Patched")).await;
    let r = app.send(patch("Patient?family=patched")).await;
    assert_eq!(r.status, 412, "{}", r.text);
}

async fn conditional_delete_deletes_every_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create(&patient("1", "Souza")).await;
    let b = app.create(&patient("2", "Souza")).await;
    let keep = app.create(&patient("3", "Silva")).await;
    let r = app.delete("Patient?family=souza").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let said = r.issue()["diagnostics"].as_str().unwrap_or_default().to_string();
    assert!(said.contains(&a) && said.contains(&b), "{said}");
    assert_eq!(app.get(&format!("Patient/{a}")).await.status, 410);
    assert_eq!(app.get(&format!("Patient/{b}")).await.status, 410);
    assert_eq!(app.get(&format!("Patient/{keep}")).await.status, 200);

    // Nothing matches: nothing deleted, and said so.
    let r = app.delete("Patient?family=souza").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.issue()["diagnostics"]
        .as_str()
        .unwrap_or_default()
        .contains("nothing"));

    // Criteria that ask for nothing would delete everything: refused.
    let r = app.delete("Patient").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.delete("Patient?bogus=1").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(app.get(&format!("Patient/{keep}")).await.status, 200);
}

async fn conditional_delete_single_refuses_several_matches(backend: Backend) {
    let app = spawn_with(backend, |o| {
        o.conditional_delete = Some(ipe::config::ConditionalDelete::Single)
    })
    .await;
    let a = app.create(&patient("1", "Souza")).await;
    app.create(&patient("2", "Souza")).await;
    let r = app.delete("Patient?family=souza").await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(app.get(&format!("Patient/{a}")).await.status, 200);
    let r = app.delete("Patient?identifier=urn:mrn|1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get(&format!("Patient/{a}")).await.status, 410);
    let cs = app.get("metadata").await.json();
    assert_eq!(cs["rest"][0]["resource"][0]["conditionalDelete"], "single");
}

async fn post_bundle(app: &TestApp, bundle: &Value) -> crate::helpers::Resp {
    app.post("", bundle).await
}

/// A transaction that creates a patient only if it is new, and an
/// Observation about it by fullUrl and by conditional reference.
fn upsert_bundle(mrn: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f1c0e58-0001-4000-8000-000000000001",
                "resource": patient(mrn, "Silva"),
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": format!("identifier=urn:mrn|{mrn}")}
            },
            {
                "resource": {
                    "resourceType": "Observation", "status": "final", "code": {"text": "by fullUrl"},
                    "subject": {"reference": "urn:uuid:7f1c0e58-0001-4000-8000-000000000001"}
                },
                "request": {"method": "POST", "url": "Observation"}
            },
            {
                "resource": {
                    "resourceType": "Observation", "status": "final", "code": {"text": "by criteria"},
                    "subject": {"reference": format!("Patient?identifier=urn:mrn|{mrn}")}
                },
                "request": {"method": "POST", "url": "Observation"}
            }
        ]
    })
}

async fn transactions_resolve_conditional_entries_and_references(backend: Backend) {
    let app = spawn_app(backend).await;
    // First time: the patient is created and both references point at it.
    let r = post_bundle(&app, &upsert_bundle("77")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    assert_eq!(out["entry"][0]["response"]["status"], "201 Created");
    let pid = out["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for i in [1, 2] {
        assert_eq!(
            out["entry"][i]["resource"]["subject"]["reference"],
            format!("Patient/{pid}")
        );
    }
    // Second time: the patient is found, not created, and referenced.
    let r = post_bundle(&app, &upsert_bundle("77")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    assert_eq!(out["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(out["entry"][0]["resource"]["id"], pid.as_str());
    for i in [1, 2] {
        assert_eq!(
            out["entry"][i]["resource"]["subject"]["reference"],
            format!("Patient/{pid}")
        );
    }
    assert_eq!(patient_ids(&app, "identifier=urn:mrn|77").await, vec![pid.clone()]);

    // A conditional reference that matches nothing fails the whole
    // transaction with 412: nothing is written.
    let mut bad = upsert_bundle("78");
    bad["entry"][2]["resource"]["subject"]["reference"] = json!("Patient?identifier=urn:mrn|nobody");
    let r = post_bundle(&app, &bad).await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert!(patient_ids(&app, "identifier=urn:mrn|78").await.is_empty());

    // Conditional update and delete entries.
    let other = app.create(&patient("79", "Lima")).await;
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": patient("77", "Renamed"), "request": {"method": "PUT", "url": "Patient?identifier=urn:mrn|77"}},
            {"request": {"method": "DELETE", "url": "Patient?identifier=urn:mrn|79"}}
        ]
    });
    let r = post_bundle(&app, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    assert_eq!(out["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(out["entry"][0]["resource"]["id"], pid.as_str());
    assert_eq!(
        app.get(&format!("Patient/{pid}")).await.json()["name"][0]["family"],
        "Renamed"
    );
    assert_eq!(app.get(&format!("Patient/{other}")).await.status, 410);
}

async fn bundles_carry_search_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create(&patient("1", "Souza")).await;
    app.create(&patient("2", "Souza")).await;
    let bundle = json!({
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient?family=souza"}},
            {"request": {"method": "GET", "url": "Patient?bogus=1&_summary=count"}},
            {"resource": patient("3", "Souza"), "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:mrn|1"}}
        ]
    });
    let r = post_bundle(&app, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    assert_eq!(out["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(out["entry"][0]["resource"]["type"], "searchset");
    assert_eq!(out["entry"][0]["resource"]["total"], 2);
    assert_eq!(out["entry"][1]["resource"]["total"], 2);
    assert_eq!(out["entry"][2]["response"]["status"], "200 OK");
    assert_eq!(patient_ids(&app, "family=souza").await.len(), 2);
}

async fn capability_statement_claims_conditional_interactions(backend: Backend) {
    let app = spawn_app(backend).await;
    let cs = app.get("metadata").await.json();
    let patient = &cs["rest"][0]["resource"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["type"] == "Patient").cloned())
        .unwrap_or_default();
    assert_eq!(patient["conditionalCreate"], true);
    assert_eq!(patient["conditionalUpdate"], true);
    assert_eq!(patient["conditionalDelete"], "multiple");
    assert_eq!(patient["conditionalRead"], "full-support");
}

on_both_backends!(
    conditional_create_makes_one_resource_per_criteria,
    racing_conditional_creates_make_one_resource,
    conditional_update_updates_the_match_or_creates,
    conditional_patch_patches_the_one_match,
    conditional_delete_deletes_every_match,
    conditional_delete_single_refuses_several_matches,
    transactions_resolve_conditional_entries_and_references,
    bundles_carry_search_entries,
    capability_statement_claims_conditional_interactions,
);
