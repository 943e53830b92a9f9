//! Following references: chains (search.html#chaining), reverse chains
//! (`_has`, search.html#has), `_include` / `_revinclude` (with `:iterate`)
//! and `_list`.

use serde_json::{json, Value};

use super::{bundle, entries, expect, put_all};
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

/// Two organizations, two patients, three observations, a list.
async fn fixtures(app: &TestApp) {
    let observation = |id: &str, subject: &str, code: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": subject}})
    };
    put_all(
        app,
        &[
            json!({"resourceType": "Organization", "id": "org1", "name": "Acme Health",
                "partOf": {"reference": "Organization/org2"}}),
            json!({"resourceType": "Organization", "id": "org2", "name": "Other Holding"}),
            json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Silva"}],
                "managingOrganization": {"reference": "Organization/org1"}}),
            json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Souza"}],
                "managingOrganization": {"reference": "Organization/org2"}}),
            observation("o1", "Patient/p1", "1234-5"),
            observation("o2", "Patient/p2", "5678-9"),
            observation("o3", "Patient/p1", "5678-9"),
            json!({"resourceType": "List", "id": "l1", "status": "current", "mode": "working",
                "entry": [{"item": {"reference": "Patient/p2"}}, {"item": {"reference": "Observation/o1"}}]}),
        ],
    )
    .await;
}

/// search.html#chaining, typed and untyped, two and three links deep.
async fn chains(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Observation?subject:Patient.name=silva", &["o1", "o3"]),
            ("Observation?subject.name=souza", &["o2"]),
            ("Observation?patient.family=silva&code=5678-9", &["o3"]),
            ("Observation?subject:Patient.organization.name=acme", &["o1", "o3"]),
            ("Observation?subject:Patient.organization.name=other", &["o2"]),
            (
                "Observation?subject:Patient.organization.partof.name=other",
                &["o1", "o3"],
            ),
            ("Observation?subject:Patient.organization:missing=true", &[]),
            ("Patient?organization.name:exact=Acme%20Health", &["p1"]),
            ("Patient?organization.name:exact=acme%20health", &[]),
        ],
    )
    .await;
}

/// A chained search pages and counts like any other: its page statement
/// carries the total, on every page, and `_total=none` leaves it out.
async fn chained_searches_page_with_their_total(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let first = bundle(&app, "Observation?subject:Patient.organization.name=acme&_count=1").await;
    assert_eq!(first["total"], 2, "{first}");
    let next = first["link"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .expect("a next link")
        .to_owned();
    // `http://host:port/Observation?…` → `Observation?…`
    let path = next.splitn(4, '/').nth(3).expect("a path after the base");
    let second = bundle(&app, path).await;
    assert_eq!(second["total"], 2, "{second}");
    let mut seen = entries(&first, "match");
    seen.extend(entries(&second, "match"));
    assert_eq!(sorted(seen), ["Observation/o1", "Observation/o3"]);
    let has = bundle(&app, "Patient?_has:Observation:subject:code=5678-9&_count=1").await;
    assert_eq!(has["total"], 2, "{has}");
    let none = bundle(
        &app,
        "Patient?_has:Observation:subject:code=5678-9&_count=1&_total=none",
    )
    .await;
    assert!(none.get("total").is_none(), "{none}");
}

/// search.html#has: `_has:Observation:subject:code=…` on Patient, nested.
async fn reverse_chains(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_has:Observation:subject:code=1234-5", &["p1"]),
            ("Patient?_has:Observation:subject:code=5678-9", &["p1", "p2"]),
            ("Patient?_has:Observation:subject:code=0000-0", &[]),
            (
                "Organization?_has:Patient:organization:_has:Observation:subject:code=1234-5",
                &["org1"],
            ),
            ("Organization?_has:Patient:organization:name=souza", &["org2"]),
            ("Patient?_has:Observation:subject:code=5678-9&name=souza", &["p2"]),
        ],
    )
    .await;
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

async fn included(app: &TestApp, query: &str) -> (Vec<String>, Vec<String>) {
    let page: Value = bundle(app, query).await;
    (sorted(entries(&page, "match")), sorted(entries(&page, "include")))
}

/// search.html#include: included resources come as `search.mode = include`,
/// each once, never repeating a match.
async fn include_and_revinclude(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "Observation?code=1234-5&_include=Observation:subject",
            &["Observation/o1"],
            &["Patient/p1"],
        ),
        (
            "Observation?subject=p1&_include=Observation:subject:Patient",
            &["Observation/o1", "Observation/o3"],
            &["Patient/p1"],
        ),
        (
            "Observation?code=1234-5&_include=*",
            &["Observation/o1"],
            &["Patient/p1"],
        ),
        (
            "Observation?code=1234-5&_include=Observation:subject:Group",
            &["Observation/o1"],
            &[],
        ),
        (
            "Patient?_id=p1&_revinclude=Observation:subject",
            &["Patient/p1"],
            &["Observation/o1", "Observation/o3"],
        ),
        ("Patient?_id=p2&_revinclude=List:item", &["Patient/p2"], &["List/l1"]),
        (
            "Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:organization",
            &["Observation/o1"],
            &["Organization/org1", "Patient/p1"],
        ),
        (
            "Organization?_id=org1&_revinclude=Patient:organization&_revinclude:iterate=Observation:subject",
            &["Organization/org1"],
            &["Observation/o1", "Observation/o3", "Patient/p1"],
        ),
        (
            "Organization?_include=Organization:partof",
            &["Organization/org1", "Organization/org2"],
            &[],
        ),
        (
            "Patient?_id=p1&_include=Patient:organization&_include:iterate=Organization:partof",
            &["Patient/p1"],
            &["Organization/org1", "Organization/org2"],
        ),
    ];
    for (query, matches, includes) in cases {
        let (found_matches, found_includes) = included(&app, query).await;
        assert_eq!(found_matches, *matches, "{query}: matches");
        assert_eq!(found_includes, *includes, "{query}: includes");
    }
}

/// search.html#list: `_list=id` is the items of that List.
async fn list_membership(backend: Backend) {
    let app = spawn_app(backend).await;
    fixtures(&app).await;
    expect(
        &app,
        &[
            ("Patient?_list=l1", &["p2"]),
            ("Observation?_list=l1", &["o1"]),
            ("Observation?_list=nolist", &[]),
        ],
    )
    .await;
}

on_both_backends!(
    chains,
    chained_searches_page_with_their_total,
    reverse_chains,
    include_and_revinclude,
    list_membership
);
