//! create, read, vread, update, patch, delete and their headers and
//! preconditions (http.html#create … #delete).

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Backend};
use crate::on_both_backends;

/// Built from text: `json!(1.50)` would go through f64 and lose the zero.
fn patient() -> serde_json::Value {
    serde_json::from_str(
        r#"{"resourceType": "Patient", "name": [{"family": "Silva", "given": ["José"]}], "birthDate": "1970-01-01",
            "multipleBirthInteger": 2, "extension": [{"url": "http://example.org/w", "valueDecimal": 1.50}]}"#,
    )
    .unwrap()
}

async fn create_assigns_id_version_and_location(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut sent = patient();
    sent["id"] = json!("ignored-by-create");
    let r = app.post("Patient", &sent).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    let id = body["id"].as_str().unwrap();
    assert_ne!(id, "ignored-by-create");
    assert_eq!(body["meta"]["versionId"], "1");
    assert!(body["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
    assert_eq!(r.header("location"), Some(app.url(&format!("Patient/{id}/_history/1"))));
    assert!(r.header("last-modified").unwrap().ends_with("GMT"));
    // Decimal precision survives storage.
    assert!(r.text.contains("1.50"), "{}", r.text);
}

async fn read_returns_what_was_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.post("Patient", &patient()).await;
    let id = created.json()["id"].as_str().unwrap().to_string();
    let r = app.get(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, created.text, "read returns the stored JSON byte for byte");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
    assert!(r.header("content-type").unwrap().starts_with("application/fhir+json"));
}

async fn read_of_unknown_id_is_404_with_outcome(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("Patient/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.issue()["code"], "not-found");
}

async fn update_creates_then_versions(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = patient();
    p["id"] = json!("p1");
    let r = app.put("Patient/p1", &p).await;
    assert_eq!(r.status, 201, "update as create: {}", r.text);
    p["gender"] = json!("male");
    let r = app.put("Patient/p1", &p).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["meta"]["versionId"], "2");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    let v1 = app.get("Patient/p1/_history/1").await;
    assert_eq!(v1.status, 200);
    assert!(v1.json().get("gender").is_none());
    assert_eq!(app.get("Patient/p1/_history/2").await.json()["gender"], "male");
    assert_eq!(app.get("Patient/p1/_history/3").await.status, 404);
}

async fn update_with_other_id_in_body_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = patient();
    p["id"] = json!("other");
    let r = app.put("Patient/p1", &p).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue()["expression"][0], "Patient.id");
    let r = app.put("Patient/p1", &patient()).await;
    assert_eq!(r.status, 400, "an update body without id is refused");
}

async fn update_create_can_be_switched_off(backend: Backend) {
    let app = spawn_with(backend, |o| o.update_create = Some(false)).await;
    let mut p = patient();
    p["id"] = json!("p1");
    assert_eq!(app.put("Patient/p1", &p).await.status, 405);
    let meta = app.get("metadata").await.json();
    assert_eq!(meta["rest"][0]["resource"][0]["updateCreate"], false);
}

async fn if_match_guards_updates_patches_and_deletes(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let mut p = app.get(&format!("Patient/{id}")).await.json();
    p["gender"] = json!("female");
    let stale = app
        .client
        .put(app.url(&format!("Patient/{id}")))
        .header("If-Match", "W/\"7\"")
        .header("Content-Type", "application/fhir+json")
        .body(p.to_string());
    let r = app.send(stale).await;
    assert_eq!(r.status, 412, "{}", r.text);
    let ok = app
        .client
        .put(app.url(&format!("Patient/{id}")))
        .header("If-Match", "W/\"1\"")
        .header("Content-Type", "application/fhir+json")
        .body(p.to_string());
    assert_eq!(app.send(ok).await.status, 200);
    let del = app
        .client
        .delete(app.url(&format!("Patient/{id}")))
        .header("If-Match", "W/\"1\"");
    assert_eq!(app.send(del).await.status, 412);
}

async fn conditional_reads_answer_304(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let path = app.url(&format!("Patient/{id}"));
    let r = app.send(app.client.get(&path).header("If-None-Match", "W/\"1\"")).await;
    assert_eq!(r.status, 304);
    let r = app.send(app.client.get(&path).header("If-None-Match", "W/\"0\"")).await;
    assert_eq!(r.status, 200);
    let lm = app.get(&format!("Patient/{id}")).await.header("last-modified").unwrap();
    let r = app.send(app.client.get(&path).header("If-Modified-Since", lm)).await;
    assert_eq!(r.status, 304);
    let r = app
        .send(
            app.client
                .get(&path)
                .header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"),
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn prefer_return_shapes_write_responses(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |prefer: &'static str| {
        app.client
            .post(app.url("Patient"))
            .header("Content-Type", "application/fhir+json")
            .header("Prefer", prefer)
            .body(patient().to_string())
    };
    let r = app.send(post("return=minimal")).await;
    assert_eq!((r.status, r.text.as_str()), (201, ""));
    assert!(r.header("location").is_some());
    let r = app.send(post("return=OperationOutcome")).await;
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
    let r = app.send(post("return=representation")).await;
    assert_eq!(r.json()["resourceType"], "Patient");
}

async fn delete_is_soft_gone_and_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let r = app.delete(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    let r = app.get(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.issue()["code"], "deleted");
    assert_eq!(
        app.get(&format!("Patient/{id}/_history/1")).await.status,
        200,
        "old versions stay readable"
    );
    assert_eq!(
        app.get(&format!("Patient/{id}/_history/2")).await.status,
        410,
        "the tombstone version is gone"
    );
    assert_eq!(
        app.delete(&format!("Patient/{id}")).await.status,
        204,
        "deleting again changes nothing"
    );
    assert_eq!(app.delete("Patient/never").await.status, 404);
    // Update brings it back as a new version.
    let mut p = patient();
    p["id"] = json!(id);
    let r = app.put(&format!("Patient/{id}"), &p).await;
    assert_eq!((r.status, r.json()["meta"]["versionId"].clone()), (201, json!("3")));
}

async fn json_patch_applies_with_version_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&patient()).await;
    let patch = |body: serde_json::Value, if_match: Option<&str>| {
        let mut r = app
            .client
            .patch(app.url(&format!("Patient/{id}")))
            .header("Content-Type", "application/json-patch+json")
            .body(body.to_string());
        if let Some(m) = if_match {
            r = r.header("If-Match", m);
        }
        r
    };
    let r = app
        .send(patch(
            json!([{"op": "replace", "path": "/birthDate", "value": "1980-02-02"}]),
            Some("W/\"1\""),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["birthDate"], "1980-02-02");
    assert_eq!(r.json()["meta"]["versionId"], "2");
    let r = app
        .send(patch(
            json!([{"op": "add", "path": "/gender", "value": "other"}]),
            Some("W/\"1\""),
        ))
        .await;
    assert_eq!(r.status, 412);
    let r = app
        .send(patch(json!([{"op": "test", "path": "/gender", "value": "male"}]), None))
        .await;
    assert_eq!(r.status, 422, "a failed test op cannot be applied: {}", r.text);
    let r = app
        .send(patch(
            json!([{"op": "replace", "path": "/resourceType", "value": "Group"}]),
            None,
        ))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app.send(patch(json!({"op": "nonsense"}), None)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .send(
            app.client
                .patch(app.url(&format!("Patient/{id}")))
                .header("Content-Type", "application/merge-patch+json")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, 415, "JSON Merge Patch is not a FHIR patch format: {}", r.text);
}

async fn summary_and_elements_subset_reads(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = patient();
    p["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">José</div>"});
    let id = app.create(&p).await;
    let r = app.get(&format!("Patient/{id}?_elements=birthDate")).await.json();
    assert_eq!(r["birthDate"], "1970-01-01");
    assert!(r.get("name").is_none());
    assert!(r["meta"]["tag"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["code"] == "SUBSETTED"));
    let r = app.get(&format!("Patient/{id}?_summary=text")).await.json();
    assert!(r.get("text").is_some() && r.get("name").is_none());
    let r = app.get(&format!("Patient/{id}?_summary=data")).await.json();
    assert!(r.get("text").is_none() && r.get("name").is_some());
    let r = app.get(&format!("Patient/{id}?_summary=true")).await.json();
    assert!(r.get("name").is_some() && r.get("text").is_none());
    assert_eq!(app.get(&format!("Patient/{id}?_summary=bogus")).await.status, 400);
}

on_both_backends!(
    create_assigns_id_version_and_location,
    read_returns_what_was_stored,
    read_of_unknown_id_is_404_with_outcome,
    update_creates_then_versions,
    update_with_other_id_in_body_is_400,
    update_create_can_be_switched_off,
    if_match_guards_updates_patches_and_deletes,
    conditional_reads_answer_304,
    prefer_return_shapes_write_responses,
    delete_is_soft_gone_and_idempotent,
    json_patch_applies_with_version_check,
    summary_and_elements_subset_reads,
);
