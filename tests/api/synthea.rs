//! Real-world transaction load: the 78 Synthea patient Bundles in
//! `synthea/synthea-r4-dev-78.tar.gz` (24,230 resources, every entry a POST
//! with a `urn:uuid:` fullUrl) all load, every entry is created, and the
//! `urn:uuid:` references come out rewritten to the ids the server chose.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::helpers::{spawn_app, test_data, Backend, TestApp, FHIR_JSON};
use crate::on_both_backends;

/// Bundles posted at once.
const CONCURRENCY: usize = 2;

pub(crate) struct PatientBundle {
    pub(crate) file: String,
    pub(crate) text: String,
    /// Resource type of each entry, in order.
    pub(crate) types: Vec<String>,
}

/// Every Bundle of the Synthea archive, in file name order.
pub(crate) fn load_bundles() -> Vec<PatientBundle> {
    let path = test_data().join("synthea/synthea-r4-dev-78.tar.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut bundles = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        bundles.push(parse_bundle(name, text));
    }
    bundles.sort_by(|a, b| a.file.cmp(&b.file));
    bundles
}

/// A transaction Bundle of POST entries, ready to post.
pub(crate) fn parse_bundle(file: String, text: String) -> PatientBundle {
    let bundle: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    assert_eq!(bundle["type"], "transaction", "{file}");
    let types = bundle["entry"]
        .as_array()
        .unwrap_or_else(|| panic!("{file} has no entries"))
        .iter()
        .map(|e| {
            e["resource"]["resourceType"]
                .as_str()
                .expect("entry resourceType")
                .to_string()
        })
        .collect();
    PatientBundle { file, text, types }
}

/// Posts the Bundles, [`CONCURRENCY`] at a time; returns, per Bundle, the
/// `Type/id` each entry was created as.
pub(crate) async fn post_bundles(app: &Arc<TestApp>, bundles: &Arc<Vec<PatientBundle>>) -> Vec<Vec<String>> {
    stream::iter(0..bundles.len())
        .map(|i| {
            let (app, bundles) = (app.clone(), bundles.clone());
            tokio::spawn(async move { post_bundle(&app, &bundles[i]).await })
        })
        .buffered(CONCURRENCY)
        .map(|r| r.expect("bundle task panicked"))
        .collect()
        .await
}

/// Posts one Bundle; returns the `Type/id` each entry was created as.
pub(crate) async fn post_bundle(app: &TestApp, b: &PatientBundle) -> Vec<String> {
    let r = app
        .send(
            app.client
                .post(app.url("/"))
                .header("Content-Type", FHIR_JSON)
                .header("Prefer", "return=minimal")
                .body(b.text.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}: {}", b.file, &r.text[..r.text.len().min(2000)]);
    let out = r.json();
    assert_eq!(out["type"], "transaction-response", "{}", b.file);
    let entries = out["entry"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: response has no entries", b.file));
    assert_eq!(
        entries.len(),
        b.types.len(),
        "{}: one response entry per request entry",
        b.file
    );
    entries
        .iter()
        .zip(&b.types)
        .enumerate()
        .map(|(i, (e, rtype))| {
            let status = e["response"]["status"].as_str().unwrap_or_default();
            assert!(status.starts_with("201"), "{} entry {i}: status {status:?}", b.file);
            assert!(
                e.get("resource").is_none(),
                "{} entry {i}: return=minimal sent a resource back",
                b.file
            );
            // location is [base]/Type/id/_history/1
            let location = e["response"]["location"].as_str().unwrap_or_default();
            let rel = location.strip_prefix(&format!("{}/", app.base)).unwrap_or_default();
            let parts: Vec<&str> = rel.split('/').collect();
            assert!(
                matches!(parts[..], [t, _, "_history", "1"] if t == rtype),
                "{} entry {i}: location {location:?} is not {rtype}/<id>/_history/1",
                b.file
            );
            format!("{}/{}", parts[0], parts[1])
        })
        .collect()
}

async fn all_synthea_bundles_load_with_references_rewritten(backend: Backend) {
    let started = Instant::now();
    let bundles = Arc::new(load_bundles());
    assert_eq!(bundles.len(), 78, "the Synthea archive has 78 Bundles");
    let mut expected: BTreeMap<&str, i64> = BTreeMap::new();
    for t in bundles.iter().flat_map(|b| &b.types) {
        *expected.entry(t.as_str()).or_default() += 1;
    }
    let resources: i64 = expected.values().sum();
    assert_eq!(resources, 24_230);
    let app = Arc::new(spawn_app(backend).await);

    let created = post_bundles(&app, &bundles).await;
    let loaded = started.elapsed();

    // Counts per type, through type history (creates only, so one version each).
    for (rtype, n) in &expected {
        let r = app.get(&format!("{rtype}/_history?_count=0")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let h = r.json();
        assert_eq!(h["total"].as_i64(), Some(*n), "{rtype}: history total");
        assert!(
            h.get("entry").is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)),
            "_count=0 returns no entries"
        );
    }
    let r = app.get("_history?_count=0").await;
    assert_eq!(r.json()["total"].as_i64(), Some(resources), "system history total");

    // References: the first Encounter of each patient Bundle points at a
    // Patient that exists, and no urn:uuid is left in it.
    let mut encounters = 0;
    for (b, ids) in bundles.iter().zip(&created) {
        let Some(enc) = ids.iter().find(|r| r.starts_with("Encounter/")) else {
            continue;
        };
        let r = app.get(enc).await;
        assert_eq!(r.status, 200, "{enc}: {}", r.text);
        assert!(
            !r.text.contains("urn:uuid:"),
            "{} {enc} still has a urn:uuid reference: {}",
            b.file,
            r.text
        );
        let subject = r.json()["subject"]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            subject.starts_with("Patient/"),
            "{} {enc}: subject.reference {subject:?}",
            b.file
        );
        assert!(
            ids.contains(&subject),
            "{} {enc}: subject {subject} is not the Patient of its Bundle",
            b.file
        );
        let p = app.get(&subject).await;
        assert_eq!(p.status, 200, "{subject}: {}", p.text);
        assert_eq!(p.json()["resourceType"], "Patient");
        encounters += 1;
    }
    assert_eq!(encounters, 77, "every patient Bundle has an Encounter");
    println!(
        "{backend:?}: {} Bundles, {resources} resources loaded in {:.1} s ({:.0} resources/s, debug build); {encounters} Encounter references checked",
        bundles.len(),
        loaded.as_secs_f64(),
        resources as f64 / loaded.as_secs_f64()
    );
}

on_both_backends!(all_synthea_bundles_load_with_references_rewritten);
