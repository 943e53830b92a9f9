//! history at instance, type and system level; _since, _at, _count and paging.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

async fn three_versions(app: &TestApp, id: &str) {
    let mut p = json!({"resourceType": "Patient", "id": id, "active": true});
    assert_eq!(app.put(&format!("Patient/{id}"), &p).await.status, 201);
    p["active"] = json!(false);
    assert_eq!(app.put(&format!("Patient/{id}"), &p).await.status, 200);
    assert_eq!(app.delete(&format!("Patient/{id}")).await.status, 204);
}

fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().cloned().unwrap_or_default()
}

async fn instance_history_lists_versions_newest_first_with_tombstone(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app, "h1").await;
    let b = app.get("Patient/h1/_history").await.json();
    assert_eq!(b["type"], "history");
    assert_eq!(b["total"], 3);
    let e = entries(&b);
    assert_eq!(e[0]["request"]["method"], "DELETE");
    assert!(e[0].get("resource").is_none());
    assert_eq!(e[1]["resource"]["meta"]["versionId"], "2");
    assert_eq!(e[1]["request"]["method"], "PUT");
    assert_eq!(e[2]["response"]["status"], "201 Created");
    assert_eq!(e[2]["fullUrl"], app.url("Patient/h1"));
}

async fn type_and_system_history_cover_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app, "a").await;
    app.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}))
        .await;
    assert_eq!(app.get("Patient/_history").await.json()["total"], 3);
    assert_eq!(app.get("Observation/_history").await.json()["total"], 1);
    assert_eq!(app.get("_history").await.json()["total"], 4);
}

async fn since_and_at_filter_by_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = json!({"resourceType": "Patient", "id": "t", "active": true});
    app.put("Patient/t", &p).await;
    let v1_time = app.get("Patient/t").await.json()["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    p["active"] = json!(false);
    let v2 = app.put("Patient/t", &p).await.json();
    let v2_time = v2["meta"]["lastUpdated"].as_str().unwrap().to_string();
    let enc = |s: &str| s.replace('+', "%2B").replace(':', "%3A");
    let since = app
        .get(&format!("Patient/t/_history?_since={}", enc(&v2_time)))
        .await
        .json();
    assert_eq!(since["total"], 1);
    assert_eq!(entries(&since)[0]["resource"]["meta"]["versionId"], "2");
    // At v1's instant only version 1 was current.
    let at = app
        .get(&format!("Patient/t/_history?_at={}", enc(&v1_time)))
        .await
        .json();
    assert_eq!(at["total"], 1, "{at}");
    assert_eq!(entries(&at)[0]["resource"]["meta"]["versionId"], "1");
    assert_eq!(app.get("Patient/t/_history?_since=notadate").await.status, 400);
}

async fn paging_links_walk_every_version_once(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..7 {
        app.put(
            &format!("Patient/p{i}"),
            &json!({"resourceType": "Patient", "id": format!("p{i}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut url = app.url("Patient/_history?_count=3");
    let mut pages = 0;
    loop {
        let b = app.send(app.client.get(&url)).await.json();
        // A write between pages must not shift the pages.
        if pages == 0 {
            app.put("Patient/late", &json!({"resourceType": "Patient", "id": "late"}))
                .await;
        }
        pages += 1;
        seen.extend(
            entries(&b)
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string()),
        );
        let next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
        match next {
            Some(n) => url = n,
            None => break,
        }
        assert!(b["link"].to_string().contains("self"));
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("p{i}")).collect::<Vec<_>>());
}

async fn history_of_unknown_type_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("Nope/_history").await.status, 404);
}

on_both_backends!(
    instance_history_lists_versions_newest_first_with_tombstone,
    type_and_system_history_cover_their_scope,
    since_and_at_filter_by_time,
    paging_links_walk_every_version_once,
    history_of_unknown_type_is_404,
);
