//! The official R4 examples round-trip through the server: every resource in
//! `packages/hl7.fhir.r4.examples-4.0.1.tgz` is written with its own id
//! (`PUT [type]/[id]`), read back equal to what was sent apart from the
//! `meta.versionId` / `meta.lastUpdated` the server sets (and a
//! Subscription's status, which the server manages), and read back as XML
//! (`Accept: application/fhir+xml`) and parsed again to the same content.
//!
//! Equality is `serde_json::Value` equality with `arbitrary_precision` on:
//! a number must come back with its exact text (`1.50` stays `1.50`, which
//! implies the same value); key order does not matter.
//!
//! The package holds the example instances (736 files: Patients,
//! Observations, Bundles…) and the base specification's own definitions
//! (4,560 StructureDefinitions, SearchParameters, ValueSets, CodeSystems,
//! ConceptMaps and OperationDefinitions, plus ten "definition download"
//! Bundles of 2–35 MB that repeat them). Both run in every test run, as two
//! tests (the definitions, 180 MB, take about a minute in a debug build).
//! (The XML conversion alone, without the server, is checked on all 5,306
//! files by `crates/ipe-xml/tests/r4_examples_roundtrip.rs`.)

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::helpers::{spawn_app, test_data, Backend, Resp, TestApp, FHIR_JSON};
use crate::on_both_backends;

/// Official examples the server is right to refuse, each with the reason.
/// Every file listed must be in the package and must fail, so the list
/// cannot go stale.
const ALLOWED_FAILURES: &[(&str, &str)] = &[
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "its id has 67 characters; an id has at most 64 (datatypes.html#id)",
    ),
    (
        "ImplementationGuide-fhir.json",
        "lacks name and status, both 1..1 in ImplementationGuide",
    ),
    (
        "ig-r4.json",
        "the same ImplementationGuide as ImplementationGuide-fhir.json: lacks name and status (1..1)",
    ),
    (
        "Questionnaire-qs1.json",
        "33 nested items lack linkId, which is 1..1 in Questionnaire.item",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-author.json",
        "lacks base, which is 1..* in SearchParameter",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-effective.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-end.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-keyword.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-workflow.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-author.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-effective.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-end.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-keyword.json",
        "lacks base (1..* in SearchParameter)",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-workflow.json",
        "lacks base (1..* in SearchParameter)",
    ),
];

/// Resource types whose instances in the package are the specification's
/// own definitions.
const DEFINITION_TYPES: &[&str] = &[
    "StructureDefinition",
    "SearchParameter",
    "ValueSet",
    "CodeSystem",
    "ConceptMap",
    "OperationDefinition",
];

/// The specification's definition downloads, packaged as collection Bundles.
const DEFINITION_BUNDLES: &[&str] = &[
    "Bundle-resources.json",
    "Bundle-dataelements.json",
    "Bundle-valueset-expansions.json",
    "Bundle-valuesets.json",
    "Bundle-v3-valuesets.json",
    "Bundle-v2-valuesets.json",
    "Bundle-profiles-others.json",
    "Bundle-extensions.json",
    "Bundle-types.json",
    "Bundle-searchParams.json",
];

/// How many examples are checked at once.
const CONCURRENCY: usize = 4;

/// Examples at least this large are checked one at a time, after the rest:
/// turning megabytes into XML keeps one of the server's HTTP workers busy for
/// seconds, and requests that land on a busy worker meanwhile time out (408)
/// or are reset.
const LARGE: usize = 1 << 20;

struct Example {
    file: String,
    resource_type: String,
    id: String,
    text: String,
    sent: Value,
}

/// Whether a file of the package is one of the specification's definitions
/// rather than an example instance.
fn is_definition(file: &str) -> bool {
    DEFINITION_BUNDLES.contains(&file) || DEFINITION_TYPES.iter().any(|t| file.starts_with(&format!("{t}-")))
}

/// The resource files of the package that `wanted` selects, grouped by
/// `Type/id`: the package has two copies of one ImplementationGuide, and a
/// group is checked in order, so copies never race each other.
fn load_examples(wanted: impl Fn(&str) -> bool) -> Vec<Vec<Example>> {
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
        if file.contains('/') || !file.ends_with(".json") || matches!(file, "package.json" | ".index.json") {
            continue;
        }
        if !wanted(file) {
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
        let example = Example {
            file: file.to_string(),
            resource_type,
            id,
            text,
            sent,
        };
        groups
            .entry((example.resource_type.clone(), example.id.clone()))
            .or_default()
            .push(example);
    }
    groups.into_values().collect()
}

/// Writes one example and reads it back as JSON and as XML.
async fn round_trip(app: &TestApp, client: &reqwest::Client, ex: &Example) -> Result<(), String> {
    let path = format!("{}/{}", ex.resource_type, ex.id);
    let url = app.url(&path);
    let put = client
        .put(&url)
        .header("Content-Type", FHIR_JSON)
        .header("Prefer", "return=minimal")
        .body(ex.text.clone());
    let put = send(put).await?;
    if !matches!(put.status, 200 | 201) {
        return Err(format!("PUT {path} → {}: {}", put.status, clip(&put.text)));
    }

    let read = send(client.get(&url)).await?;
    if read.status != 200 {
        return Err(format!("GET {path} → {}: {}", read.status, clip(&read.text)));
    }
    let stored: Value = serde_json::from_str(&read.text).map_err(|e| format!("GET {path}: not JSON: {e}"))?;
    if stored["meta"]["versionId"].as_str().is_none() || stored["meta"]["lastUpdated"].as_str().is_none() {
        return Err(format!("GET {path}: meta.versionId / meta.lastUpdated not set"));
    }
    if let Some(d) = difference("", &without_server_managed(&ex.sent), &without_server_managed(&stored)) {
        return Err(format!("the JSON read differs from what was sent {d}"));
    }

    let xml = send(client.get(&url).header("Accept", "application/fhir+xml")).await?;
    let content_type = xml.header("content-type").unwrap_or_default();
    if xml.status != 200 || !content_type.starts_with("application/fhir+xml") {
        return Err(format!(
            "GET {path} as XML → {} {content_type}: {}",
            xml.status,
            clip(&xml.text)
        ));
    }
    // Parsing large XML is CPU work: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        let json =
            ipe_xml::xml_to_json(xml.text.as_bytes()).map_err(|e| format!("the XML read does not parse: {e}"))?;
        let from_xml: Value = serde_json::from_str(&json).map_err(|e| format!("XML → JSON is not JSON: {e}"))?;
        match difference("", &without_server_managed(&stored), &without_server_managed(&from_xml)) {
            Some(d) => Err(format!("the XML read, parsed again, differs from the JSON read {d}")),
            None => Ok(()),
        }
    })
    .await
    .map_err(|e| format!("the XML check panicked: {e}"))?
}

/// Sends a request; a transport error fails this example instead of the
/// whole test.
async fn send(req: reqwest::RequestBuilder) -> Result<Resp, String> {
    let started = Instant::now();
    let res = req
        .send()
        .await
        .map_err(|e| format!("{e:?} after {:.1} s", started.elapsed().as_secs_f64()))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.map_err(|e| format!("reading the body: {e}"))?;
    Ok(Resp { status, headers, text })
}

/// A copy without `meta.versionId` / `meta.lastUpdated` (and without `meta`
/// if nothing else is in it), and without what the server manages: a
/// Subscription's `status` and `error` (docs/subscriptions.md: a client
/// write is stored `requested`, and the server moves it on, e.g. to `off`
/// when its `end` has passed, as in the examples, possibly between reads).
fn without_server_managed(resource: &Value) -> Value {
    let mut r = resource.clone();
    if let Some(obj) = r.as_object_mut() {
        if obj.get("resourceType").and_then(Value::as_str) == Some("Subscription") {
            obj.remove("status");
            obj.remove("error");
        }
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
            let first = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| difference(&format!("{path}[{i}]"), v, w));
            first.or_else(|| (x.len() != y.len()).then(|| format!("at {path}: {} items vs {}", x.len(), y.len())))
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

type Outcome = (String, Result<(), String>, Duration);

async fn check_group(app: &TestApp, client: &reqwest::Client, group: &[Example]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for ex in group {
        let started = Instant::now();
        let result = round_trip(app, client, ex).await;
        out.push((ex.file.clone(), result, started.elapsed()));
    }
    out
}

/// Round-trips the selected examples on a fresh server and fails on any
/// failure not in [`ALLOWED_FAILURES`].
async fn check_examples(backend: Backend, wanted: impl Fn(&str) -> bool) {
    let started = Instant::now();
    let (large, small): (Vec<_>, Vec<_>) = load_examples(wanted)
        .into_iter()
        .partition(|g| g.iter().any(|ex| ex.text.len() >= LARGE));
    let files = small.iter().chain(&large).map(Vec::len).sum::<usize>();
    let app = Arc::new(spawn_app(backend).await);

    let mut results: Vec<Outcome> = stream::iter(small)
        .map(|group| {
            let app = app.clone();
            tokio::spawn(async move { check_group(&app, &app.client, &group).await })
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(|outcomes| stream::iter(outcomes.expect("example task panicked")))
        .collect()
        .await;
    // One at a time, on new connections: a pooled connection may have been
    // closed by the server while a large example was being parsed here.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client");
    for group in &large {
        results.extend(check_group(&app, &fresh, group).await);
    }

    let mut unexpected = Vec::new();
    let mut allowed = 0;
    for (file, result, _) in &results {
        if let Err(why) = result {
            match ALLOWED_FAILURES.iter().find(|(f, _)| f == file) {
                Some(_) => allowed += 1,
                None => unexpected.push(format!("{file}: {why}")),
            }
        }
    }
    let passed = results.iter().filter(|(_, r, _)| r.is_ok()).count();
    println!(
        "{backend:?}: {files} example files ({} of 1 MB or more), {passed} round-tripped, {allowed} allowed \
         failures, {} unexpected failures, in {:.1} s",
        large.iter().map(Vec::len).sum::<usize>(),
        unexpected.len(),
        started.elapsed().as_secs_f64()
    );
    results.sort_by_key(|(_, _, took)| std::cmp::Reverse(*took));
    for (file, _, took) in results.iter().take(3) {
        println!("  slowest: {file} {:.1} s", took.as_secs_f64());
    }
    let in_scope: Vec<&str> = results.iter().map(|(f, _, _)| f.as_str()).collect();
    let stale: Vec<&str> = ALLOWED_FAILURES
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| in_scope.contains(f) && !results.iter().any(|(file, r, _)| file == f && r.is_err()))
        .collect();
    assert!(
        stale.is_empty(),
        "allow-listed examples that now pass (take them off the list): {stale:?}"
    );
    assert!(
        unexpected.is_empty(),
        "{} of {files} official examples failed on {backend:?}:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

async fn every_official_example_round_trips_through_json_and_xml(backend: Backend) {
    check_examples(backend, |file| !is_definition(file)).await;
    // The allow-list names only files the package has.
    let package = load_examples(|file| ALLOWED_FAILURES.iter().any(|(f, _)| *f == file));
    assert_eq!(
        package.iter().map(Vec::len).sum::<usize>(),
        ALLOWED_FAILURES.len(),
        "allow-list names a missing file"
    );
}

/// The specification's definitions (180 MB).
async fn every_official_definition_round_trips_through_json_and_xml(backend: Backend) {
    check_examples(backend, is_definition).await;
}

on_both_backends!(
    every_official_example_round_trips_through_json_and_xml,
    every_official_definition_round_trips_through_json_and_xml,
);
