//! SearchParameters created through the REST API: checked on write, live at
//! once for new writes, and applied to older resources by a reindex job
//! whose progress `GET /$reindex-status` shows.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

fn nickname_parameter() -> Value {
    json!({
        "resourceType": "SearchParameter", "url": "http://example.org/fhir/SearchParameter/nickname",
        "name": "nickname", "status": "active", "description": "A patient's nickname",
        "code": "nickname", "base": ["Patient"], "type": "string",
        "expression": "Patient.name.where(use = 'nickname').given"
    })
}

fn patient(given: &str, nickname: &str) -> Value {
    json!({"resourceType": "Patient", "name": [
        {"use": "official", "given": [given]},
        {"use": "nickname", "given": [nickname]}
    ]})
}

/// The ids matching `query`, sorted.
async fn ids(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(query).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    let mut ids: Vec<String> = r.json()["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Waits until there are `jobs` reindex jobs, all done; returns the status.
async fn wait_for_jobs(app: &TestApp, jobs: usize) -> Value {
    let start = Instant::now();
    loop {
        let status = app.get("$reindex-status").await.json();
        let states: Vec<String> = status["parameter"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|job| {
                job["part"]
                    .as_array()?
                    .iter()
                    .find(|p| p["name"] == "state")
                    .and_then(|p| p["valueCode"].as_str().map(str::to_owned))
            })
            .collect();
        if states.len() == jobs && states.iter().all(|s| s == "done") {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "reindex not done: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_new_search_parameter_covers_old_and_new_resources(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut old = Vec::new();
    for i in 0..450 {
        old.push(
            app.create(&patient(
                &format!("Robert{i}"),
                if i % 150 == 0 { "Bob" } else { "Rob" },
            ))
            .await,
        );
    }
    // Unknown until defined (strict handling makes that an error).
    let r = app
        .send(
            app.client
                .get(app.url("Patient?nickname=bob"))
                .header("Prefer", "handling=strict"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    let r = app.post("SearchParameter", &nickname_parameter()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // A write beside the job is indexed too (by itself, or by the
    // catch-up pass if it raced the registry swap).
    let new = app.create(&patient("Roberta", "Bobbie")).await;

    let status = wait_for_jobs(&app, 1).await;
    assert_eq!(ids(&app, "Patient?nickname=bobbie").await, vec![new.clone()]);
    let job = &status["parameter"][0]["part"];
    assert!(
        job.to_string()
            .contains("http://example.org/fhir/SearchParameter/nickname"),
        "{status}"
    );
    let processed = job
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["name"] == "processed"))
        .and_then(|p| p["valueInteger"].as_i64());
    // Scan and catch-up each see all 450 or 451 patients (all written just
    // now; Roberta may have come after the scan's end).
    assert!(matches!(processed, Some(900..=902)), "{status}");

    let mut bobs = vec![old[0].clone(), old[150].clone(), old[300].clone()];
    bobs.sort();
    assert_eq!(
        ids(&app, "Patient?nickname=bob").await.len(),
        4,
        "bob* also finds Bobbie"
    );
    assert_eq!(ids(&app, "Patient?nickname:exact=Bob").await, bobs);
    assert_eq!(ids(&app, "Patient?nickname=rob&_count=1000").await.len(), 447);

    // The CapabilityStatement lists it.
    let cs = app.get("metadata").await.text;
    assert!(cs.contains("http://example.org/fhir/SearchParameter/nickname"));
}

async fn changing_a_search_parameter_reindexes_with_its_new_definition(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient("Robert", "Bob")).await;
    let r = app.post("SearchParameter", &nickname_parameter()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sp = r.json();
    wait_for_jobs(&app, 1).await;
    assert_eq!(ids(&app, "Patient?nickname=bob").await, vec![id.clone()]);

    // Now the official given name: a new definition, a new job.
    let mut changed = sp.clone();
    changed["expression"] = json!("Patient.name.where(use = 'official').given");
    let r = app
        .put(
            &format!("SearchParameter/{}", sp["id"].as_str().unwrap_or_default()),
            &changed,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for_jobs(&app, 2).await;
    assert_eq!(ids(&app, "Patient?nickname=bob").await, Vec::<String>::new());
    assert_eq!(ids(&app, "Patient?nickname=robert").await, vec![id]);
}

/// The reindex job also indexes the contained resources of the
/// parameter's types, inside containers of any type, for `_contained`
/// searches; the containers' own rows stay as they were.
async fn a_new_search_parameter_covers_contained_resources(backend: Backend) {
    let app = spawn_app(backend).await;
    let real = app.create(&patient("Robert", "Bob")).await;
    let mut inner = patient("Roberto", "Bob");
    inner["id"] = json!("pt");
    let observation = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]},
        "subject": {"reference": "#pt"}, "contained": [inner]});
    let container = app.create(&observation).await;
    let r = app.post("SearchParameter", &nickname_parameter()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for_jobs(&app, 1).await;
    assert_eq!(ids(&app, "Patient?nickname=bob").await, vec![real.clone()]);
    assert_eq!(
        ids(&app, "Patient?nickname=bob&_contained=true").await,
        vec![container.clone()]
    );
    assert_eq!(
        ids(&app, "Patient?nickname=bob&_contained=true&_containedType=contained").await,
        vec!["pt".to_owned()]
    );
    assert_eq!(ids(&app, "Observation?code=1-8").await, vec![container]);
}

async fn unusable_search_parameters_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut bad = nickname_parameter();
    bad["expression"] = json!("Patient.name.where(");
    let r = app.post("SearchParameter", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.issue()["diagnostics"]
        .as_str()
        .unwrap_or_default()
        .contains("expression"));
    bad["expression"] = json!("Patient.name.given");
    bad["base"] = json!(["Spaceship"]);
    let r = app.post("SearchParameter", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(app.get("$reindex-status").await.json()["parameter"], Value::Null);
}

/// The SearchParameters of a package loaded at start (`--package`) are
/// searchable: US Core's `race` (an extension inside an extension).
async fn package_search_parameters_are_searchable(backend: Backend) {
    let cache = std::env::temp_dir().join(format!("ipe-sp-packages-{}-{backend:?}", std::process::id()));
    let us_core = crate::helpers::test_data().join("packages/hl7.fhir.us.core-6.1.0.tgz");
    let app = crate::helpers::spawn_with(backend, |o| {
        o.packages = vec![us_core.display().to_string()];
        o.package_cache = Some(cache.clone());
        o.package_registry = Some("none".into());
    })
    .await;
    let race = |code: &str| {
        json!({"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": code}},
            {"url": "text", "valueString": "race"}]})
    };
    for (id, code) in [("white", "2106-3"), ("asian", "2028-9")] {
        let patient = json!({"resourceType": "Patient", "id": id, "extension": [race(code)]});
        let r = app.put(&format!("Patient/{id}"), &patient).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(ids(&app, "Patient?race=2106-3").await, ["white"]);
    assert_eq!(ids(&app, "Patient?race=2028-9,2106-3").await, ["asian", "white"]);
    let strict = app
        .send(
            app.client
                .get(app.url("Patient?race=2106-3"))
                .header("Prefer", "handling=strict"),
        )
        .await;
    assert_eq!(strict.status, 200, "{}", strict.text);
    let _ = std::fs::remove_dir_all(&cache);
}

on_both_backends!(
    package_search_parameters_are_searchable,
    a_new_search_parameter_covers_old_and_new_resources,
    changing_a_search_parameter_reindexes_with_its_new_definition,
    a_new_search_parameter_covers_contained_resources,
    unusable_search_parameters_are_refused,
);
