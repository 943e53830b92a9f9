//! The official R4 examples round-trip: every resource in
//! `packages/hl7.fhir.r4.examples-4.0.1.tgz` is written with its own id
//! (`PUT [type]/[id]`), read back equal to what was sent apart from the
//! `meta.versionId` / `meta.lastUpdated` the server sets, and read back as XML
//! and parsed again to the same content.
//!
//! Equality is `serde_json::Value` equality with `arbitrary_precision` on, so
//! a number must come back with its exact text (`1.50` stays `1.50`, which
//! also means equal by value); key order does not matter.
//!
//! "Every resource" is every file of the package that has a `resourceType`:
//! the ~750 clinical and workflow examples and the ~4,560 definitional
//! resources (StructureDefinitions, SearchParameters, ValueSets, CodeSystems,
//! ConceptMaps, OperationDefinitions), which are example instances of those
//! types too and exercise the XML conversion hardest (primitive extensions,
//! deep nesting, large narratives).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::helpers::{spawn_app, test_data, Backend, Resp, TestApp, FHIR_JSON};
use crate::on_both_backends;

/// Official examples the server is right to refuse, each with the reason.
/// Every file listed here must exist and must fail, so the list cannot go
/// stale.
const ALLOWED_FAILURES: &[(&str, &str)] = &[(
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
    "its id has 67 characters; an id is at most 64 (datatypes.html#id), so PUT must refuse it",
)];

/// How many examples are checked at once.
const CONCURRENCY: usize = 4;

struct Example {
    file: String,
    resource_type: String,
    id: String,
    text: String,
    sent: Value,
}

/// The resource files of the package, grouped by `Type/id` (the package has
/// two copies of one ImplementationGuide; a group is checked in order, so
/// copies never race each other).
fn load_examples() -> Vec<Vec<Example>> {
    let path = test_data().join("packages/hl7.fhir.r4.examples-4.0.1.tgz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut groups: BTreeMap<(String, String), Vec<Example>> = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        let Some(file) = name.strip_prefix("package/") else {
            continue;
        };
        if file.contains('/') || !file.ends_with(".json") || file == "package.json" || file == ".index.json" {
            continue;
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let sent: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let Some(resource_type) = sent.get("resourceType").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        let id = sent
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{file} has no id"))
            .to_string();
        groups
            .entry((resource_type.clone(), id.clone()))
            .or_default()
            .push(Example {
                file: file.to_string(),
                resource_type,
                id,
                text,
                sent,
            });
    }
    groups.into_values().collect()
}

/// Writes one example and reads it back as JSON and as XML.
async fn round_trip(app: &TestApp, ex: &Example) -> Result<(), String> {
    let path = format!("{}/{}", ex.resource_type, ex.id);
    let put = send(
        app.client
            .put(app.url(&path))
            .header("Content-Type", FHIR_JSON)
            .header("Prefer", "return=minimal")
            .body(ex.text.clone()),
    )
    .await?;
    if !matches!(put.status, 200 | 201) {
        return Err(format!("PUT {path} → {}: {}", put.status, clip(&put.text)));
    }

    let read = send(app.client.get(app.url(&path))).await?;
    if read.status != 200 {
        return Err(format!("GET {path} → {}: {}", read.status, clip(&read.text)));
    }
    let stored: Value = serde_json::from_str(&read.text).map_err(|e| format!("GET {path}: not JSON: {e}"))?;
    if stored["meta"]["versionId"].as_str().is_none() || stored["meta"]["lastUpdated"].as_str().is_none() {
        return Err(format!("GET {path}: meta.versionId / meta.lastUpdated not set"));
    }
    if let Some(d) = difference("", &without_server_meta(&ex.sent), &without_server_meta(&stored)) {
        return Err(format!("JSON read differs from what was sent {d}"));
    }

    let xml = send(app.client.get(app.url(&path)).header("Accept", "application/fhir+xml")).await?;
    if xml.status != 200
        || !xml
            .header("content-type")
            .unwrap_or_default()
            .starts_with("application/fhir+xml")
    {
        return Err(format!(
            "GET {path} as XML → {} {:?}: {}",
            xml.status,
            xml.header("content-type"),
            clip(&xml.text)
        ));
    }
    // Parsing large XML is CPU work: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        let json =
            ipe_xml::xml_to_json(xml.text.as_bytes()).map_err(|e| format!("XML read does not parse back: {e}"))?;
        let from_xml: Value = serde_json::from_str(&json).map_err(|e| format!("XML → JSON is not JSON: {e}"))?;
        match difference("", &stored, &from_xml) {
            Some(d) => Err(format!("XML read, parsed again, differs from the JSON read {d}")),
            None => Ok(()),
        }
    })
    .await
    .map_err(|e| format!("XML check panicked: {e}"))?
}

/// Sends a request; a transport error is this example's failure, not a panic.
async fn send(req: reqwest::RequestBuilder) -> Result<Resp, String> {
    let started = Instant::now();
    let what = format!("{:?}", req);
    let res = req
        .send()
        .await
        .map_err(|e| format!("{e:?} after {:.1} s: {}", started.elapsed().as_secs_f64(), clip(&what)))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.map_err(|e| format!("reading the body: {e}"))?;
    Ok(Resp { status, headers, text })
}

/// A copy without `meta.versionId` / `meta.lastUpdated` (and without `meta`
/// if nothing else is in it).
fn without_server_meta(resource: &Value) -> Value {
    let mut r = resource.clone();
    if let Some(obj) = r.as_object_mut() {
        if let Some(Value::Object(meta)) = obj.get_mut("meta") {
            meta.remove("versionId");
            meta.remove("lastUpdated");
            if meta.is_empty() {
                obj.remove("meta");
            }
        }
    }
    r
}

/// Where `a` and `b` first differ, as `at <path>: <a> vs <b>`.
fn difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    None => return Some(format!("at {p}: {} vs (missing)", clip(&v.to_string()))),
                    Some(w) => {
                        if let Some(d) = difference(&p, v, w) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("at {path}.{k}: (missing) vs {}", clip(&y[k].to_string())))
        }
        (Value::Array(x), Value::Array(y)) => {
            if let Some(d) = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| difference(&format!("{path}[{i}]"), v, w))
            {
                return Some(d);
            }
            (x.len() != y.len()).then(|| format!("at {path}: {} items vs {}", x.len(), y.len()))
        }
        _ if a == b => None,
        _ => Some(format!(
            "at {path}: {} vs {}",
            clip(&a.to_string()),
            clip(&b.to_string())
        )),
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

async fn every_official_example_round_trips_through_json_and_xml(backend: Backend) {
    let started = Instant::now();
    let groups = load_examples();
    let files: usize = groups.iter().map(Vec::len).sum();
    let app = Arc::new(spawn_app(backend).await);

    let mut results: Vec<(String, Result<(), String>, Duration)> = stream::iter(groups)
        .map(|group| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for ex in &group {
                    let t = Instant::now();
                    let r = round_trip(&app, ex).await;
                    out.push((ex.file.clone(), r, t.elapsed()));
                }
                out
            })
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(|group| stream::iter(group.expect("example task panicked")))
        .collect()
        .await;

    let mut unexpected = Vec::new();
    let mut allowed = Vec::new();
    for (file, result, _) in &results {
        if let Err(why) = result {
            match ALLOWED_FAILURES.iter().find(|(f, _)| f == file) {
                Some((_, reason)) => allowed.push(format!("{file}: {why} (allowed: {reason})")),
                None => unexpected.push(format!("{file}: {why}")),
            }
        }
    }
    let passed = results.iter().filter(|(_, r, _)| r.is_ok()).count();
    println!(
        "{backend:?}: {files} example files, {passed} round-tripped, {} allowed failures, {} unexpected failures ({:.1} s)",
        allowed.len(),
        unexpected.len(),
        started.elapsed().as_secs_f64()
    );
    for a in &allowed {
        println!("  allowed: {a}");
    }
    results.sort_by_key(|(_, _, took)| std::cmp::Reverse(*took));
    for (file, _, took) in results.iter().take(5) {
        println!("  slowest: {file} {:.1} s", took.as_secs_f64());
    }
    let stale: Vec<&str> = ALLOWED_FAILURES
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| !results.iter().any(|(file, r, _)| file == f && r.is_err()))
        .collect();
    assert!(
        stale.is_empty(),
        "allow-listed examples that are missing or now pass (remove them): {stale:?}"
    );
    assert!(
        unexpected.is_empty(),
        "{} of {files} official examples failed on {backend:?}:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

on_both_backends!(every_official_example_round_trips_through_json_and_xml);
