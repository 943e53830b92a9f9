//! The differential search check (issue 4): every query of
//! `oracle-queries.txt`, run over HTTP on the 78 Synthea Bundles (plus the
//! few resources of `oracle-extra.json`: numbers, uris, logical references),
//! returns the resources that `scripts/search-oracle.py` computes from the
//! same stored resources by brute force. The oracle shares nothing with
//! Ipê's search: it evaluates the SearchParameters' FHIRPath with fhirpathpy
//! and applies the matching rules of search.html itself.
//!
//! Per query it compares the set of matches; with `_sort`, their order up to
//! ties (the oracle groups the resources whose sort keys are equal); and the
//! set of `search.mode = include` entries.
//!
//! The oracle needs a Python with fhirpathpy: `IPE_PYTHON` (scripts/test.sh
//! makes a venv from `scripts/test-requirements.txt` and sets it),
//! else `python3`. Without fhirpathpy the test fails; it never passes by not
//! running.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;
use crate::synthea::{load_bundles, parse_bundle, post_bundle, post_bundles};

const QUERIES: &str = include_str!("oracle-queries.txt");
const EXTRA: &str = include_str!("oracle-extra.json");

/// Enough to get most searches in one page; `next` links bring the rest.
const PAGE: &str = "_count=1000";

/// The oracle's answer to one query.
#[derive(Debug, Deserialize)]
struct Expected {
    query: String,
    #[serde(default)]
    matches: Vec<String>,
    /// With `_sort`: the matches in order, ties in one group.
    #[serde(default)]
    sort_groups: Option<Vec<Vec<String>>>,
    #[serde(default)]
    included: Vec<String>,
    /// A query the oracle could not evaluate.
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OracleOutput {
    fhirpathpy: String,
    results: Vec<Expected>,
}

/// What the server answered, every page together.
struct Found {
    matches: Vec<String>,
    included: BTreeSet<String>,
}

/// The Python that runs the oracle. Fails the test, saying what to do, when
/// it cannot import fhirpathpy.
fn oracle_python() -> String {
    let python = std::env::var("IPE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let check = Command::new(&python)
        .args(["-c", "import fhirpathpy; print(fhirpathpy.__version__)"])
        .output();
    match check {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "the search oracle needs fhirpathpy, and `{python}` cannot import it:\n{}\n\
             Run scripts/test.sh (it makes ~/.cache/ipe-venv and sets IPE_PYTHON), or set IPE_PYTHON \
             to a Python with the packages of scripts/test-requirements.txt.",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("the search oracle needs Python with fhirpathpy; `{python}` does not run: {e}"),
    }
}

/// The queries of the file, placeholders filled in.
fn queries(patient: &str, base: &str) -> Vec<String> {
    QUERIES
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.replace("{patient}", patient).replace("{base}", base))
        .collect()
}

/// Loads the Synthea Bundles and the extra one; returns the server id of the
/// Patient of the first Synthea Bundle.
async fn load(app: &Arc<TestApp>) -> String {
    let bundles = Arc::new(load_bundles());
    assert_eq!(bundles.len(), 78, "the Synthea archive has 78 Bundles");
    let created = post_bundles(app, &bundles).await;
    post_bundle(app, &parse_bundle("oracle-extra.json".into(), EXTRA.into())).await;
    let patient = created[0]
        .iter()
        .find_map(|r| r.strip_prefix("Patient/"))
        .expect("the first Bundle has a Patient");
    patient.to_string()
}

/// Every resource as stored, read through system history (not search).
async fn stored_resources(app: &TestApp) -> Vec<Value> {
    let mut resources = Vec::new();
    let mut next = Some(app.url(&format!("_history?{PAGE}")));
    while let Some(url) = next {
        let page = get_json(app, &url).await.unwrap_or_else(|e| panic!("history: {e}"));
        resources.extend(
            page["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["resource"].clone()),
        );
        next = next_link(&page);
    }
    resources
}

async fn get_json(app: &TestApp, url: &str) -> Result<Value, String> {
    let r = app.send(app.client.get(url)).await;
    if r.status != 200 {
        return Err(format!("{} {}", r.status, clip(&r.text)));
    }
    Ok(r.json())
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

/// Runs one search, following `next` to the last page.
async fn search(app: &TestApp, query: &str) -> Result<Found, String> {
    let separator = if query.contains('?') { '&' } else { '?' };
    let mut next = Some(app.url(&format!("{query}{separator}{PAGE}")));
    let mut found = Found {
        matches: Vec::new(),
        included: BTreeSet::new(),
    };
    while let Some(url) = next {
        let page = get_json(app, &url).await?;
        for entry in page["entry"].as_array().into_iter().flatten() {
            let r = &entry["resource"];
            let reference = format!("{}/{}", text(&r["resourceType"]), text(&r["id"]));
            match text(&entry["search"]["mode"]) {
                "match" => found.matches.push(reference),
                "include" => {
                    found.included.insert(reference);
                }
                _ => {}
            }
        }
        next = next_link(&page);
    }
    // Includes are per page: one brought by an earlier page may be a match
    // of a later one.
    for m in &found.matches {
        found.included.remove(m);
    }
    Ok(found)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A scratch folder for the oracle's input, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir()
            .join("ipe-tests")
            .join(format!("oracle-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    fn write(&self, name: &str, value: &impl serde::Serialize) -> PathBuf {
        let path = self.0.join(name);
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::to_writer(std::io::BufWriter::new(file), value).expect("write oracle input");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs scripts/search-oracle.py on the stored resources.
fn run_oracle(python: &str, resources: &Path, queries: &Path, base: &str) -> OracleOutput {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python)
        .arg(root.join("scripts/search-oracle.py"))
        .arg("--resources")
        .arg(resources)
        .arg("--queries")
        .arg(queries)
        .arg("--search-parameters")
        .arg(root.join("conformance/r4-search-parameters.json"))
        .args(["--base", base])
        .output()
        .expect("run scripts/search-oracle.py");
    assert!(
        out.status.success(),
        "scripts/search-oracle.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the oracle's output is its JSON")
}

/// `n: first ids…`, for a report.
fn listed(ids: &BTreeSet<&String>) -> String {
    const SHOWN: usize = 8;
    let mut shown: Vec<&str> = ids.iter().take(SHOWN).map(|s| s.as_str()).collect();
    if ids.len() > SHOWN {
        shown.push("…");
    }
    format!("{}: {}", ids.len(), shown.join(", "))
}

/// Where two id lists differ as sets, if they do.
fn set_difference(what: &str, expected: &[String], found: &[String]) -> Vec<String> {
    let expected: BTreeSet<&String> = expected.iter().collect();
    let found_set: BTreeSet<&String> = found.iter().collect();
    let mut problems = Vec::new();
    if found_set.len() != found.len() {
        problems.push(format!("{what}: some resources come twice"));
    }
    let missing: BTreeSet<&String> = expected.difference(&found_set).copied().collect();
    let extra: BTreeSet<&String> = found_set.difference(&expected).copied().collect();
    if !missing.is_empty() {
        problems.push(format!("{what} missing {}", listed(&missing)));
    }
    if !extra.is_empty() {
        problems.push(format!("{what} extra {}", listed(&extra)));
    }
    problems
}

/// The first place where the server's order leaves the oracle's sort
/// groups (resources that tie may come in any order).
fn order_difference(groups: &[Vec<String>], found: &[String]) -> Option<String> {
    let group_of: BTreeMap<&String, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.iter().map(move |r| (r, i)))
        .collect();
    found.windows(2).enumerate().find_map(|(i, pair)| {
        let (a, b) = (group_of.get(&pair[0])?, group_of.get(&pair[1])?);
        (b < a).then(|| {
            format!(
                "order: at {}, {} (sort group {a}) comes before {} (sort group {b})",
                i + 1,
                pair[0],
                pair[1]
            )
        })
    })
}

/// Every way the server's answer differs from the oracle's.
fn differences(expected: &Expected, found: &Result<Found, String>) -> Vec<String> {
    if let Some(error) = &expected.error {
        return vec![format!("the oracle cannot evaluate it: {error}")];
    }
    let found = match found {
        Ok(found) => found,
        Err(e) => return vec![format!("the server answered {e}")],
    };
    let mut problems = set_difference("matches", &expected.matches, &found.matches);
    if let (Some(groups), true) = (&expected.sort_groups, problems.is_empty()) {
        problems.extend(order_difference(groups, &found.matches));
    }
    let included: Vec<String> = found.included.iter().cloned().collect();
    problems.extend(set_difference("included", &expected.included, &included));
    problems
}

fn clip(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

async fn search_agrees_with_a_brute_force_oracle_on_synthea(backend: Backend) {
    let python = oracle_python();
    let started = Instant::now();
    let app = Arc::new(spawn_app(backend).await);
    let patient = load(&app).await;
    let loaded = started.elapsed();
    let resources = stored_resources(&app).await;
    let read = started.elapsed();
    let queries = queries(&patient, &app.base);
    assert!(queries.len() >= 60, "the check has at least 60 queries");

    // The oracle (a minute of Python) runs while the server answers.
    let scratch = Scratch::new();
    let (resources_file, queries_file) = (
        scratch.write("resources.json", &resources),
        scratch.write("queries.json", &queries),
    );
    drop(resources);
    let base = app.base.clone();
    let oracle = tokio::task::spawn_blocking(move || run_oracle(&python, &resources_file, &queries_file, &base));
    let mut found = Vec::new();
    let mut took = Vec::new();
    for query in &queries {
        let start = Instant::now();
        found.push(search(&app, query).await);
        took.push((start.elapsed(), query));
    }
    let searched = started.elapsed();
    let oracle = oracle.await.expect("the oracle task panicked");
    assert_eq!(oracle.results.len(), queries.len(), "one oracle answer per query");

    let mut disagreements = Vec::new();
    for (expected, found) in oracle.results.iter().zip(&found) {
        let problems = differences(expected, found);
        if !problems.is_empty() {
            disagreements.push(format!("{}\n    {}", expected.query, problems.join("\n    ")));
        }
    }
    println!(
        "search oracle: {} of {} queries agree ({backend:?}; fhirpathpy {}; loaded in {:.0} s, read back by {:.0} s, \
         searched by {:.0} s, oracle done by {:.0} s)",
        queries.len() - disagreements.len(),
        queries.len(),
        oracle.fhirpathpy,
        loaded.as_secs_f64(),
        read.as_secs_f64(),
        searched.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    took.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    for (t, query) in took.iter().take(3) {
        println!("  slowest: {query} {:.1} s", t.as_secs_f64());
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} searches differ from the oracle on {backend:?}:\n{}",
        disagreements.len(),
        queries.len(),
        disagreements.join("\n")
    );
}

on_both_backends!(search_agrees_with_a_brute_force_oracle_on_synthea);

/// The order check itself: resources that tie may come in any order, but
/// no resource may come before one of an earlier sort group.
#[test]
fn order_is_checked_between_sort_groups_only() {
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let groups = vec![ids(&["a"]), ids(&["b", "c"]), ids(&["d"])];
    assert_eq!(order_difference(&groups, &ids(&["a", "c", "b", "d"])), None);
    assert!(order_difference(&groups, &ids(&["a", "d", "b", "c"])).is_some_and(|d| d.contains("b (sort group 1)")));
}
