//! Search (docs/search.md): hand-made fixtures whose matches are obvious,
//! searched over HTTP on both databases. Each file is one group of spec
//! behaviours; resources are written with PUT so tests can name them.
//! `oracle` is the exception: the Synthea data, checked against an
//! independent brute-force evaluator.

mod chains;
mod contained;
mod interactions;
mod oracle;
mod paging;
mod text;
mod types;

use serde_json::Value;

use crate::helpers::TestApp;

/// Writes each resource at `Type/id`.
pub async fn put_all(app: &TestApp, resources: &[Value]) {
    for resource in resources {
        let path = format!(
            "{}/{}",
            resource["resourceType"].as_str().expect("resourceType"),
            resource["id"].as_str().expect("id")
        );
        let r = app.put(&path, resource).await;
        assert!(r.status == 201 || r.status == 200, "PUT {path}: {}", r.text);
    }
}

/// The searchset Bundle of `GET [base]/query`, which must succeed.
pub async fn bundle(app: &TestApp, query: &str) -> Value {
    let r = app.get(query).await;
    assert_eq!(r.status, 200, "GET {query}: {}", r.text);
    let bundle = r.json();
    assert_eq!(bundle["type"], "searchset", "{query}");
    bundle
}

/// The ids of the entries of `mode` (`match`, `include`), in Bundle order.
pub fn entries(bundle: &Value, mode: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == mode)
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["resource"]["resourceType"].as_str().unwrap_or_default(),
                        e["resource"]["id"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The ids of the matches, in order.
pub async fn ids(app: &TestApp, query: &str) -> Vec<String> {
    entries(&bundle(app, query).await, "match")
        .into_iter()
        .map(|r| r.split_once('/').map(|(_, id)| id.to_owned()).unwrap_or(r))
        .collect()
}

/// The ids of the matches, sorted (when the order does not matter).
pub async fn id_set(app: &TestApp, query: &str) -> Vec<String> {
    let mut found = ids(app, query).await;
    found.sort();
    found
}

/// Asserts the matches of each `(query, expected ids)`, order aside.
pub async fn expect(app: &TestApp, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(id_set(app, query).await, expected, "{query}");
    }
}
