//! search.html#contained: `_contained=false|true|both` × `_containedType=
//! container|contained`. Contained resources are searched by their own
//! type's parameters; ordinary searches never find a container through
//! them; updates and deletes of a container replace or remove them.

use serde_json::{json, Value};

use super::{bundle, entries, expect, put_all};
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

const RX: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

fn medication(id: &str, code: &str, text: &str) -> Value {
    json!({"resourceType": "Medication", "id": id,
           "code": {"coding": [{"system": RX, "code": code}], "text": text}})
}

fn prescription(id: &str, status: &str, contained: Vec<Value>) -> Value {
    json!({"resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
           "medicationReference": {"reference": "#m1"},
           "subject": {"reference": "Patient/p1"},
           "contained": contained})
}

/// rx1 contains an aspirin (m1, made by the real Organization/org1) and an
/// Organization; rx2 an ibuprofen, also `m1`; Medication/m9 is a real
/// aspirin; obs1 contains its Patient.
async fn fixtures(app: &TestApp) {
    let mut aspirin = medication("m1", "111", "Aspirin");
    aspirin["manufacturer"] = json!({"reference": "Organization/org1"});
    put_all(
        app,
        &[
            json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Silva"}]}),
            json!({"resourceType": "Organization", "id": "org1", "name": "Real Org"}),
            prescription(
                "rx1",
                "active",
                vec![
                    aspirin,
                    json!({"resourceType": "Organization", "id": "o1", "name": "Acme"}),
                ],
            ),
            prescription("rx2", "stopped", vec![medication("m1", "222", "Ibuprofen")]),
            medication("m9", "111", "Aspirin"),
            json!({"resourceType": "Observation", "id": "obs1", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]},
                   "subject": {"reference": "#pt"},
                   "contained": [{"resourceType": "Patient", "id": "pt", "gender": "female",
                                  "name": [{"family": "Contida", "given": ["Ana"]}]}]}),
        ],
    )
    .await;
}

/// Matches as `Type/id` (with `#contained-id` for contained ones, read from
/// the fullUrl), in Bundle order.
fn matches(bundle: &Value, app: &TestApp) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| {
            let url = e["fullUrl"].as_str().unwrap_or_default();
            url.strip_prefix(&format!("{}/", app.base)).unwrap_or(url).to_owned()
        })
        .collect()
}

async fn found(app: &TestApp, query: &str) -> Vec<String> {
    let mut found = matches(&bundle(app, query).await, app);
    found.sort();
    found
}

/// `true` returns the containers of contained matches, `both` those and the
/// resources that match themselves; `false` (the default) never looks in
/// contained resources.
async fn contained_true_both_and_false_return_containers(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let aspirin = format!("Medication?code={RX}|111");
    for (query, expected) in [
        (aspirin.clone(), vec!["Medication/m9"]),
        (format!("{aspirin}&_contained=false"), vec!["Medication/m9"]),
        (format!("{aspirin}&_contained=true"), vec!["MedicationRequest/rx1"]),
        (
            format!("{aspirin}&_contained=both"),
            vec!["Medication/m9", "MedicationRequest/rx1"],
        ),
        (
            format!("{aspirin}&_contained=true&_containedType=container"),
            vec!["MedicationRequest/rx1"],
        ),
        // Ordinary searches do not find containers by contained values.
        ("Organization?name=acme".into(), vec![]),
        ("MedicationRequest?code:text=aspirin".into(), vec![]),
        ("Patient?family=contida".into(), vec![]),
        (
            "Patient?family=contida&_contained=true".into(),
            vec!["Observation/obs1"],
        ),
        (
            "Organization?name=acme&_contained=true".into(),
            vec!["MedicationRequest/rx1"],
        ),
        // A container with two matching contained resources appears once.
        (
            "Medication?_id=m1&_contained=true".into(),
            vec!["MedicationRequest/rx1", "MedicationRequest/rx2"],
        ),
    ] {
        assert_eq!(found(&app, &query).await, expected, "{query}");
    }
}

/// `_containedType=contained`: the contained resource itself, under its
/// container's URL with its id as the fragment.
async fn contained_type_contained_returns_the_contained_resources(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let aspirin = format!("Medication?code={RX}|111");
    let b = bundle(&app, &format!("{aspirin}&_contained=true&_containedType=contained")).await;
    assert_eq!(matches(&b, &app), ["MedicationRequest/rx1#m1"]);
    let resource = &b["entry"][0]["resource"];
    assert_eq!(resource["resourceType"], "Medication");
    assert_eq!(resource["id"], "m1");
    assert_eq!(resource["code"]["text"], "Aspirin");
    assert_eq!(b["total"], 1);
    assert_eq!(
        found(&app, &format!("{aspirin}&_contained=both&_containedType=contained")).await,
        ["Medication/m9", "MedicationRequest/rx1#m1"]
    );
    assert_eq!(
        found(&app, "Medication?_contained=true&_containedType=contained").await,
        ["MedicationRequest/rx1#m1", "MedicationRequest/rx2#m1"]
    );
    assert_eq!(
        found(
            &app,
            "?_contained=true&_containedType=contained&_type=Patient,Organization"
        )
        .await,
        ["MedicationRequest/rx1#o1", "Observation/obs1#pt"]
    );
}

/// Modifiers, OR and AND work on contained resources as on any other.
async fn contained_searches_take_modifiers_or_and_and(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let c = "_contained=true&_containedType=contained";
    for (query, expected) in [
        (
            format!("Medication?code:text=ibu&{c}"),
            vec!["MedicationRequest/rx2#m1"],
        ),
        (
            format!("Medication?code:not={RX}|111&{c}"),
            vec!["MedicationRequest/rx2#m1"],
        ),
        (
            format!("Medication?code={RX}|111,{RX}|222&{c}"),
            vec!["MedicationRequest/rx1#m1", "MedicationRequest/rx2#m1"],
        ),
        (
            format!("Medication?code={RX}|111&code:text=asp&{c}"),
            vec!["MedicationRequest/rx1#m1"],
        ),
        (format!("Medication?code={RX}|111&code:text=ibu&{c}"), vec![]),
        (
            format!("Patient?family:exact=Contida&gender=female&{c}"),
            vec!["Observation/obs1#pt"],
        ),
        (format!("Patient?family:exact=contida&{c}"), vec![]),
        (
            format!("Patient?birthdate:missing=true&{c}"),
            vec!["Observation/obs1#pt"],
        ),
        (
            format!("Medication?manufacturer=Organization/org1&{c}"),
            vec!["MedicationRequest/rx1#m1"],
        ),
        // A chain from a contained resource to a real one.
        (
            format!("Medication?manufacturer.name=real&{c}"),
            vec!["MedicationRequest/rx1#m1"],
        ),
        (
            format!("Medication?_content=ibuprofen&{c}"),
            vec!["MedicationRequest/rx2#m1"],
        ),
    ] {
        assert_eq!(found(&app, &query).await, expected, "{query}");
    }
}

/// `_sort`, `_count` and paging over contained resources; the links keep
/// `_contained` and `_containedType`; `_include` follows their references.
async fn contained_results_sort_page_and_include(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let query = "Medication?_contained=true&_containedType=contained&_sort=-code&_count=1";
    let first = bundle(&app, query).await;
    assert_eq!(matches(&first, &app), ["MedicationRequest/rx2#m1"]);
    assert_eq!(first["total"], 2);
    let next = first["link"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        next.contains("_contained=true") && next.contains("_containedType=contained"),
        "{next}"
    );
    let next = next.strip_prefix(&format!("{}/", app.base)).unwrap_or(&next).to_owned();
    let second = bundle(&app, &next).await;
    assert_eq!(matches(&second, &app), ["MedicationRequest/rx1#m1"]);
    assert!(second["link"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|l| l["relation"] != "next"));
    let self_link = first["link"][0]["url"].as_str().unwrap_or_default();
    assert!(self_link.contains("_contained=true"), "{self_link}");

    // Containers page too (in creation order).
    let first = bundle(&app, "Medication?_contained=true&_count=1").await;
    assert_eq!(matches(&first, &app), ["MedicationRequest/rx1"]);
    assert_eq!(first["total"], 2);

    // Both kinds of match, one page at a time, each once.
    let mut seen = Vec::new();
    let mut page = "Medication?_contained=both&_containedType=contained&_count=1&_sort=code".to_owned();
    loop {
        let b = bundle(&app, &page).await;
        seen.extend(matches(&b, &app));
        let Some(next) = b["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
        else {
            break;
        };
        page = next.strip_prefix(&format!("{}/", app.base)).unwrap_or(next).to_owned();
        assert!(seen.len() < 10, "paging does not end: {seen:?}");
    }
    // Codes 111 (both; creation order breaks the tie: contained rows first)
    // then 222.
    assert_eq!(
        seen,
        ["MedicationRequest/rx1#m1", "Medication/m9", "MedicationRequest/rx2#m1"]
    );

    let b = bundle(
        &app,
        &format!("Medication?code={RX}|111&_contained=true&_containedType=contained&_include=Medication:manufacturer"),
    )
    .await;
    assert_eq!(entries(&b, "include"), ["Organization/org1"]);
}

/// An update replaces a container's contained rows, a delete removes them.
async fn writes_of_the_container_replace_its_contained_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    put_all(
        &app,
        &[prescription("rx1", "active", vec![medication("m1", "333", "Naproxen")])],
    )
    .await;
    let c = "_contained=true&_containedType=contained";
    expect(
        &app,
        &[
            (&format!("Medication?code={RX}|111&_contained=true"), &[]),
            (&format!("Medication?code={RX}|333&_contained=true"), &["rx1"]),
            ("Organization?name=acme&_contained=true", &[]),
        ],
    )
    .await;
    assert_eq!(
        found(&app, &format!("Medication?{c}")).await,
        ["MedicationRequest/rx1#m1", "MedicationRequest/rx2#m1"]
    );
    assert_eq!(app.delete("MedicationRequest/rx2").await.status / 100, 2);
    assert_eq!(
        found(&app, &format!("Medication?{c}")).await,
        ["MedicationRequest/rx1#m1"]
    );
    // A container updated without contained resources keeps none.
    let mut bare = prescription("rx1", "active", vec![]);
    bare.as_object_mut().map(|o| o.remove("contained"));
    bare["medicationCodeableConcept"] = json!({"text": "none"});
    bare.as_object_mut().map(|o| o.remove("medicationReference"));
    put_all(&app, &[bare]).await;
    assert_eq!(found(&app, &format!("Medication?{c}")).await, Vec::<String>::new());
    assert_eq!(found(&app, "Medication?_contained=both").await, ["Medication/m9"]);
}

/// What cannot be combined with `_contained` is refused, not answered
/// wrongly: `_has` and `_list` (they compare a resource's `Type/id`),
/// compartments, `_sort` on containers, and conditional writes.
async fn contained_combinations_not_supported_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    for query in [
        "Patient?_contained=true&_has:Observation:subject:code=1-8",
        "Medication?_contained=both&_list=l1",
        "Patient/p1/MedicationRequest?_contained=true",
        "Medication?_contained=true&_sort=code",
    ] {
        let r = app.get(query).await;
        assert_eq!(r.status, 501, "{query}: {}", r.text);
        assert_eq!(r.issue()["code"], "not-supported", "{query}");
    }
    let r = app.get("Medication?_contained=maybe").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .send(
            app.client
                .post(app.url("Medication"))
                .header("If-None-Exist", format!("code={RX}|111&_contained=true"))
                .json(&medication("x", "111", "Aspirin")),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

on_both_backends!(
    contained_true_both_and_false_return_containers,
    contained_type_contained_returns_the_contained_resources,
    contained_searches_take_modifiers_or_and_and,
    contained_results_sort_page_and_include,
    writes_of_the_container_replace_its_contained_rows,
    contained_combinations_not_supported_are_refused,
);
