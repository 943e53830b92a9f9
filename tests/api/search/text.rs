//! Full-text search, `_text` (the narrative) and `_content` (the whole
//! resource) (search.html#text): words folded like string search, AND of
//! words, OR, quoted phrases, combined with everything else a search does,
//! with the same answers on both databases.

use serde_json::{json, Value};

use super::{bundle, entries, expect, id_set, ids, put_all};
use crate::helpers::{spawn_app, Backend, TestApp, FHIR_JSON};
use crate::on_both_backends;
use crate::synthea::load_bundles;

fn narrative(xhtml: &str) -> Value {
    json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{xhtml}</div>")})
}

/// Words each fixture has, and where:
///
/// | id | narrative | data |
/// |---|---|---|
/// | p1 | known diabetic, lives in São Paulo | José Silva, male, 1980, Married |
/// | p2 | heart attack in 2010, lives in Recife | Ana Souza, female, 1990 |
/// | p3 | — | Heart, Attack (two values), Paulo |
/// | o1 | — | glucose in blood, fasting; subject p1 |
async fn fixtures(app: &TestApp) {
    put_all(
        app,
        &[
            json!({"resourceType": "Patient", "id": "p1",
                "text": narrative("<p>Known <b>diab</b>etic &amp; lives in S&#227;o Paulo.</p>"),
                "name": [{"family": "Silva", "given": ["José"]}],
                "gender": "male", "birthDate": "1980-05-17",
                "maritalStatus": {"text": "Married"}}),
            json!({"resourceType": "Patient", "id": "p2",
                "text": narrative("<p>Heart attack in 2010.</p><p>Lives in Recife.</p>"),
                "name": [{"family": "Souza", "given": ["Ana"]}],
                "gender": "female", "birthDate": "1990-01-01"}),
            json!({"resourceType": "Patient", "id": "p3",
                "name": [{"family": "Paulo"}],
                "maritalStatus": {"text": "Heart"},
                "communication": [{"language": {"text": "Attack"}}]}),
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8",
                                     "display": "Glucose [Moles/volume] in Blood"}]},
                "subject": {"reference": "Patient/p1"},
                "note": [{"text": "Patient was fasting"}]}),
        ],
    )
    .await;
}

/// "José" is found as "jose", "JOSÉ" or "Jose"; narrative markup and
/// character references do not split or hide words.
async fn words_are_folded_like_string_search(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_content=jose", &["p1"]),
            ("Patient?_content=JOS%C3%89", &["p1"]),
            ("Patient?_content=Jose", &["p1"]),
            ("Patient?_text=sao", &["p1"]),
            ("Patient?_text=S%C3%A3o", &["p1"]),
            ("Patient?_text=diabetic", &["p1"]),
            ("Patient?_text=diab", &[]),
            ("Observation?_content=glucose", &["o1"]),
            ("Observation?_content=15074", &["o1"]),
        ],
    )
    .await;
}

/// `_text` is the narrative only; `_content` is everything, narrative included.
async fn text_is_the_narrative_and_content_is_everything(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_text=silva", &[]),
            ("Patient?_content=silva", &["p1"]),
            ("Patient?_text=married", &[]),
            ("Patient?_content=married", &["p1"]),
            ("Patient?_content=diabetic", &["p1"]),
            ("Patient?_text=recife", &["p2"]),
            ("Patient?_content=recife", &["p2"]),
            ("Patient?_text=paulo", &["p1"]),
            ("Patient?_content=paulo", &["p1", "p3"]),
            // Ids, references and URIs are not text.
            ("Observation?_content=p1", &[]),
            ("Observation?_content=loinc", &[]),
            ("Patient?_content=zebra", &[]),
        ],
    )
    .await;
}

/// Several words must all appear; `OR`, commas and parentheses give
/// alternatives; a repeated parameter must match each time.
async fn and_or_and_the_spec_example(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_text=lives", &["p1", "p2"]),
            ("Patient?_text=lives%20diabetic", &["p1"]),
            ("Patient?_text=lives%20AND%20diabetic", &["p1"]),
            ("Patient?_text=diabetic%20recife", &[]),
            ("Patient?_text=diabetic%20OR%20recife", &["p1", "p2"]),
            ("Patient?_text=diabetic%20or%20zebra", &["p1"]),
            ("Patient?_text=diabetic,recife", &["p1", "p2"]),
            ("Patient?_text=(diabetic%20OR%20attack)%20and%20recife", &["p2"]),
            ("Patient?_text=lives&_text=recife", &["p2"]),
            ("Patient?_content=ana%20souza%20OR%20jose%20silva", &["p1", "p2"]),
        ],
    )
    .await;
}

/// A quoted phrase is its words in order within one value: p2's narrative
/// says "heart attack"; p3 has both words, but in two values.
async fn quoted_phrases_keep_order_within_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_content=heart%20attack", &["p2", "p3"]),
            ("Patient?_content=%22heart%20attack%22", &["p2"]),
            ("Patient?_content=%22attack%20heart%22", &[]),
            ("Patient?_text=%22heart%20attack%22", &["p2"]),
            (
                "Patient?_text=%22in%20recife%22%20OR%20%22in%20sao%20paulo%22",
                &["p1", "p2"],
            ),
            ("Patient?_content=heart-attack", &["p2"]),
            ("Patient?_content=%22jose%20silva%22", &[]),
            ("Patient?_content=%22ana%22%20%22souza%22", &["p2"]),
            (
                "Observation?_content=%22glucose%20moles%20volume%20in%20blood%22",
                &["o1"],
            ),
        ],
    )
    .await;
}

/// Updating a resource replaces its words; deleting it removes them.
async fn writes_replace_and_deletes_remove_the_words(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let updated = json!({"resourceType": "Patient", "id": "p1",
        "text": narrative("<p>Recovered from pneumonia.</p>"),
        "name": [{"family": "Silva", "given": ["Joana"]}]});
    assert_eq!(app.put("Patient/p1", &updated).await.status, 200);
    assert_eq!(app.delete("Patient/p2").await.status, 204);
    expect(
        &app,
        &[
            ("Patient?_text=diabetic", &[]),
            ("Patient?_content=jose", &[]),
            ("Patient?_text=pneumonia", &["p1"]),
            ("Patient?_content=joana", &["p1"]),
            ("Patient?_text=recife", &[]),
            ("Patient?_content=%22heart%20attack%22", &[]),
            ("Patient?_content=heart", &["p3"]),
        ],
    )
    .await;
    // Created again, it is found again.
    let again = json!({"resourceType": "Patient", "id": "p2", "text": narrative("Back in Recife")});
    assert_eq!(app.put("Patient/p2", &again).await.status, 201);
    expect(&app, &[("Patient?_text=recife", &["p2"])]).await;
}

/// Full text is one criterion among others: with other parameters, sorting,
/// paging, totals, chains, reverse chains and searches across types.
async fn combined_with_the_rest_of_search(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_text=lives&gender=female", &["p2"]),
            ("Patient?_content=paulo&birthdate=1980", &["p1"]),
            ("Observation?subject._content=jose", &["o1"]),
            ("Observation?subject:Patient._text=diabetic", &["o1"]),
            ("Patient?_has:Observation:subject:_content=glucose", &["p1"]),
            ("?_content=silva%20OR%20fasting", &["p1", "o1"]),
            ("?_type=Observation&_content=silva%20OR%20fasting", &["o1"]),
        ],
    )
    .await;
    assert_eq!(ids(&app, "Patient?_text=lives&_sort=-birthdate").await, ["p2", "p1"]);
    let first = bundle(&app, "Patient?_text=lives&_sort=birthdate&_count=1&_total=accurate").await;
    assert_eq!(first["total"], 2);
    assert_eq!(entries(&first, "match"), ["Patient/p1"]);
    let next = first["link"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .expect("a next link");
    let next = next.strip_prefix(&app.base).unwrap_or(next);
    let second = bundle(&app, next).await;
    assert_eq!(entries(&second, "match"), ["Patient/p2"]);
    let count = bundle(&app, "Patient?_content=paulo&_summary=count").await;
    assert_eq!(count["total"], 2);
    let included = bundle(&app, "Observation?_content=fasting&_include=Observation:subject").await;
    assert_eq!(entries(&included, "include"), ["Patient/p1"]);
}

/// The self link gives the query back as written, escapes included.
async fn the_self_link_keeps_the_query(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    // One value: the escaped comma is part of it (and folds away).
    let found = bundle(&app, "Patient?_text=%22in%20recife%22%20OR%20diabetic%5C,").await;
    let self_link = found["link"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["relation"] == "self"))
        .and_then(|l| l["url"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(self_link.contains("_text="), "{self_link}");
    let again = bundle(&app, self_link.strip_prefix(&app.base).unwrap_or(&self_link)).await;
    assert_eq!(entries(&again, "match"), entries(&found, "match"));
    assert_eq!(entries(&found, "match"), ["Patient/p1", "Patient/p2"]);
}

/// Bad syntax, and modifiers full text does not take, are 400 with an
/// OperationOutcome, whatever the handling.
async fn bad_queries_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in [
        "Patient?_text=(diabetic",
        "Patient?_text=diabetic)",
        "Patient?_content=%22heart%20attack",
        "Patient?_content=heart%20OR",
        "Patient?_content=OR%20heart",
        "Patient?_content=heart%20AND%20OR%20attack",
        "Patient?_text=heart%20NOT%20attack",
        "Patient?_text=hear*",
        "Patient?_text=()",
        "Patient?_text=--",
        "Patient?_text=a,",
        "Patient?_text:exact=heart",
        "Patient?_content:missing=true",
    ] {
        let r = app.get(query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.json()["resourceType"], "OperationOutcome", "{query}");
        assert_eq!(r.issue()["severity"], "error", "{query}");
    }
    let long = format!("Patient?_content={}", "x".repeat(200));
    assert_eq!(app.get(&long).await.status, 400);
}

on_both_backends!(
    words_are_folded_like_string_search,
    text_is_the_narrative_and_content_is_everything,
    and_or_and_the_spec_example,
    quoted_phrases_keep_order_within_a_value,
    writes_replace_and_deletes_remove_the_words,
    combined_with_the_rest_of_search,
    the_self_link_keeps_the_query,
    bad_queries_are_400,
);

/// Synthea patients with their ids kept: each entry's `urn:uuid:` becomes
/// its id (a PUT), so both databases hold the same ids.
fn with_fixed_ids(text: &str) -> Value {
    let mut bundle: Value = serde_json::from_str(text).expect("Synthea Bundle");
    for entry in bundle["entry"].as_array_mut().into_iter().flatten() {
        let uuid = entry["fullUrl"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:uuid:")
            .to_owned();
        let rtype = entry["resource"]["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        entry["resource"]["id"] = json!(uuid);
        entry["request"] = json!({"method": "PUT", "url": format!("{rtype}/{uuid}")});
    }
    bundle
}

/// The point of folding and splitting the text in Ipê: on real data
/// (four Synthea patients, about 1,300 resources), every query finds
/// exactly the same resources on SQLite and on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_answers_on_both_databases() {
    let sqlite = spawn_app(Backend::Sqlite).await;
    let postgres = spawn_app(Backend::Postgres).await;
    for patient in load_bundles().iter().take(4) {
        let bundle = with_fixed_ids(&patient.text);
        for app in [&sqlite, &postgres] {
            let request = app
                .client
                .post(app.url("/"))
                .header("Content-Type", FHIR_JSON)
                .header("Prefer", "return=minimal")
                .json(&bundle);
            let r = app.send(request).await;
            assert_eq!(r.status, 200, "{}: {}", patient.file, &r.text[..r.text.len().min(500)]);
        }
    }
    let mut found_some = 0;
    for query in [
        "Observation?_content=glucose",
        "Observation?_content=blood%20pressure",
        "Observation?_content=%22body%20mass%20index%22",
        "Observation?_content=%22blood%20pressure%22%20OR%20%22heart%20rate%22",
        "Observation?_content=%22pressure%20blood%22",
        "Observation?_content=mm%5Bhg%5D",
        "Condition?_content=(viral%20OR%20bacterial)%20and%20(sinusitis%20OR%20pharyngitis)",
        "Condition?_content=disorder,finding",
        "Encounter?_content=%22check%20up%22&_content=finished",
        "DiagnosticReport?_content=%22lipid%20panel%22%20OR%20%22metabolic%20panel%22",
        "Patient?_text=generated",
        "Patient?_content=english",
        "CarePlan?_text=care%20plan",
        "Immunization?_content=influenza%20OR%20td",
        "MedicationRequest?_content=mg%20AND%20(oral%20OR%20injection)",
        "Claim?_content=%22encounter%20for%22",
        "Observation?subject._content=english&_content=weight",
        "Patient?_has:Condition:subject:_content=hypertension",
        "?_content=hypertension",
        "Observation?_content=zzzz",
    ] {
        let limited = format!("{query}&_count=1000");
        let on_sqlite = id_set(&sqlite, &limited).await;
        assert_eq!(on_sqlite, id_set(&postgres, &limited).await, "{query}");
        if !on_sqlite.is_empty() {
            found_some += 1;
        }
    }
    assert!(found_some >= 15, "only {found_some} queries found anything");
}
