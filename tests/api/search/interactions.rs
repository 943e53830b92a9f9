//! The search interactions themselves (http.html#search): type, system and
//! compartment level, GET and POST, lenient and strict handling of what the
//! server does not know, refusals of what it does not support, the
//! CapabilityStatement's claims and XML.

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use super::{bundle, entries, expect, ids, put_all};
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

async fn fixtures(app: &TestApp) {
    put_all(
        app,
        &[
            json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Silva"}]}),
            json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Souza"}]}),
            json!({"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Silva"}]}),
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
                "subject": {"reference": "Patient/p1"}}),
            json!({"resourceType": "Observation", "id": "o2", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "5678-9"}]},
                "subject": {"reference": "Patient/p2"}, "performer": [{"reference": "Patient/p1"}]}),
            json!({"resourceType": "Observation", "id": "o3", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
                "subject": {"reference": "Patient/p2"}}),
            json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": "Patient/p1"}}),
        ],
    )
    .await;
}

/// search.html#errors: lenient by default — the unknown parameter is left
/// out and named in an OperationOutcome entry (and left out of the self
/// link); `Prefer: handling=strict` makes it a 400.
async fn unknown_parameters_lenient_and_strict(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let page = bundle(&app, "Patient?shoe-size=42&name=silva").await;
    assert_eq!(entries(&page, "match"), ["Patient/p1"]);
    let outcome = page["entry"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["search"]["mode"] == "outcome"))
        .expect("an outcome entry");
    assert_eq!(outcome["resource"]["resourceType"], "OperationOutcome");
    assert!(outcome["resource"]["issue"][0]["diagnostics"]
        .as_str()
        .is_some_and(|d| d.contains("shoe-size")));
    let self_link = page["link"][0]["url"].as_str().unwrap_or_default();
    assert!(!self_link.contains("shoe-size"), "{self_link}");

    let strict = app
        .send(
            app.client
                .get(app.url("Patient?shoe-size=42&name=silva"))
                .header("Prefer", "handling=strict"),
        )
        .await;
    assert_eq!(strict.status, 400, "{}", strict.text);
    assert_eq!(strict.issue()["code"], "not-supported");
    let lenient = app
        .send(
            app.client
                .get(app.url("Patient?shoe-size=42"))
                .header("Prefer", "handling=lenient"),
        )
        .await;
    assert_eq!(lenient.status, 200);
    // A bad value of a known parameter is an error either way.
    assert_eq!(app.get("Patient?birthdate=yesterday").await.status, 400);
}

/// What is parsed but not built is refused (501), never silently ignored,
/// since ignoring a criterion would return more than was asked.
async fn unsupported_features_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in ["Patient?_contained=true&_has:Observation:subject:code=1234-5"] {
        let r = app.get(query).await;
        assert_eq!(r.status, 501, "{query}: {}", r.text);
        assert_eq!(r.issue()["code"], "not-supported", "{query}");
    }
}

/// http.html#search: `POST [type]/_search` with a form body is the same
/// search as GET; other bodies are refused.
async fn search_by_post(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let post = |path: &str, form: &str| {
        app.client
            .post(app.url(path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.to_owned())
    };
    let r = app.send(post("Patient/_search", "name=silva")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(entries(&r.json(), "match"), ["Patient/p1"]);
    // URL and body parameters combine.
    let r = app
        .send(post("Observation/_search?code=1234-5", "subject=Patient%2Fp2"))
        .await;
    assert_eq!(entries(&r.json(), "match"), ["Observation/o3"]);
    let r = app.send(post("_search", "_type=Patient&name=souza")).await;
    assert_eq!(entries(&r.json(), "match"), ["Patient/p2"]);
    let r = app.send(post("Patient/p1/Observation/_search", "code=5678-9")).await;
    assert_eq!(entries(&r.json(), "match"), ["Observation/o2"]);
    let r = app
        .send(
            app.client
                .post(app.url("Patient/_search"))
                .header(CONTENT_TYPE, "application/fhir+json")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(app.send(post("Spaceship/_search", "name=x")).await.status, 404);
}

/// http.html#search at the system level: every type, or those of `_type`.
async fn search_across_types(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let mut found = entries(&bundle(&app, "?_id=p1,o1,dr").await, "match");
    found.sort();
    assert_eq!(found, ["Observation/o1", "Patient/p1", "Practitioner/dr"]);
    let mut found = entries(&bundle(&app, "?_type=Patient,Practitioner&name=silva").await, "match");
    found.sort();
    assert_eq!(found, ["Patient/p1", "Practitioner/dr"]);
    let page = bundle(&app, "?_type=Observation&_count=2&_sort=_id").await;
    assert_eq!(entries(&page, "match"), ["Observation/o1", "Observation/o2"]);
    assert_eq!(page["total"], 3);
    // `name` is not a parameter of every resource.
    let strict = app
        .send(
            app.client
                .get(app.url("?name=silva"))
                .header("Prefer", "handling=strict"),
        )
        .await;
    assert_eq!(strict.status, 400);
}

/// compartmentdefinition.html#search: Patient/p1/Observation is the
/// Observations whose subject or performer is Patient/p1; Patient/p1/* is
/// every resource in the compartment.
async fn compartment_search(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient/p1/Observation", &["o1", "o2"]),
            ("Patient/p1/Observation?code=1234-5", &["o1"]),
            ("Patient/p2/Observation", &["o2", "o3"]),
            ("Patient/p1/Encounter", &["e1"]),
            ("Patient/nobody/Observation", &[]),
            ("Encounter/e1/Encounter", &["e1"]),
            // Every type the compartment holds, or those `_type` names. (The
            // R4 definition puts a Patient in another's compartment through
            // `link`, and not in its own.)
            ("Patient/p1/*", &["e1", "o1", "o2"]),
            ("Patient/p1/*?_type=Observation,Library", &["o1", "o2"]),
            ("Patient/p1/*?_type=Library", &[]),
            (
                "Patient/p1/*?_lastUpdated=gt2000-01-01&_type=Patient,Encounter",
                &["e1"],
            ),
            ("Patient/p2/*", &["o2", "o3"]),
        ],
    )
    .await;
    let all = bundle(&app, "Patient/p1/*?_count=2").await;
    let self_link = all["link"][0]["url"].as_str().unwrap_or_default();
    assert!(
        self_link.starts_with(&format!("{}/Patient/p1/*?", app.base)),
        "{self_link}"
    );
    assert_eq!(all["total"], 3);
    let page = bundle(&app, "Patient/p1/Observation?_count=1").await;
    let self_link = page["link"][0]["url"].as_str().unwrap_or_default();
    assert!(
        self_link.starts_with(&format!("{}/Patient/p1/Observation?", app.base)),
        "{self_link}"
    );
    let next = page["link"][1]["url"].as_str().unwrap_or_default().to_owned();
    let next = next.strip_prefix(&app.base).unwrap_or(&next);
    assert_eq!(ids(&app, next).await, ["o2"]);
    // Not in the compartment, or no such compartment.
    assert_eq!(app.get("Patient/p1/Library").await.status, 400);
    assert_eq!(app.get("Observation/o1/Patient").await.status, 400);
    assert_eq!(app.get("Patient/p1/Spaceship").await.status, 404);
}

/// The CapabilityStatement claims the search interactions and lists each
/// type's parameters — only those search can use.
async fn capabilities_list_search_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let cs = app.get("metadata").await.json();
    let rest = &cs["rest"][0];
    let resource = |name: &str| -> Value {
        rest["resource"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["type"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let patient = resource("Patient");
    assert!(patient["interaction"].to_string().contains("search-type"));
    let params = patient["searchParam"].to_string();
    for expected in [
        r#""name":"name""#,
        r#""name":"birthdate""#,
        r#""name":"_id""#,
        r#""name":"_lastUpdated""#,
        r#""name":"_text""#,
        r#""name":"_content""#,
    ] {
        assert!(params.contains(expected), "{expected} in {params}");
    }
    let bundle = resource("Bundle")["searchParam"].to_string();
    assert!(
        bundle.contains(r#""name":"_content""#) && !bundle.contains(r#""name":"_text""#),
        "{bundle}"
    );
    assert!(rest["searchParam"].to_string().contains(r#""name":"_content""#));
    assert!(patient["searchInclude"].to_string().contains("Patient:organization"));
    let location = resource("Location")["searchParam"].to_string();
    assert!(location.contains(r#""name":"near""#), "{location}");
    assert!(rest["interaction"].to_string().contains("search-system"));
}

/// A searchset Bundle renders as XML like any other resource.
async fn searchset_in_xml(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let r = app
        .get("Observation?code=1234-5&_include=Observation:subject&_format=xml")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<Bundle"), "{}", r.text);
    assert!(r.text.contains("<mode value=\"include\"/>"), "{}", r.text);
}

on_both_backends!(
    unknown_parameters_lenient_and_strict,
    unsupported_features_are_refused,
    search_by_post,
    search_across_types,
    compartment_search,
    capabilities_list_search_parameters,
    searchset_in_xml,
);
