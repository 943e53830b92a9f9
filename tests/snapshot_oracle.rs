//! Snapshot generation against the IG Publisher, and on whole packages.
//!
//! `snapshot-oracle/<folder>/fixtures/*.json` are differentials taken from
//! published packages; `goldens/<name>.snapshot.json` are the snapshots the
//! official Java IG Publisher made from them. Every fixture with a golden is
//! generated (over base R4 plus the folder's fixtures, which derive from one
//! another) and compared element by element on what validation depends on:
//! id, path, cardinality, types with their profiles, fixed/pattern values,
//! bindings, constraints and slicing. The counts asserted are the ones
//! reached, so a regression fails.
//!
//! Data: `$IPE_TEST_DATA` (default `../shared/fhir` from the crate root).
//! Run with `cargo test --test snapshot_oracle -- --nocapture` to see the
//! difference summary; set `IPE_SNAPSHOT_DUMP` to a folder to get the
//! generated package snapshots written there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ipe::packages::snapshot::{fill_missing, Generator};
use ipe::packages::{base, CanonicalRegistry, Origin, Package};
use serde_json::Value;

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.join("snapshot-oracle").is_dir(),
        "FHIR test data not found at {} (set IPE_TEST_DATA to the shared/fhir folder)",
        dir.display()
    );
    dir
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixtures of an oracle folder, by file stem, sorted.
fn fixtures(folder: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(folder.join("fixtures")).expect("fixtures folder") {
        let path = entry.expect("fixture").path();
        if path.extension().is_some_and(|e| e == "json") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            out.insert(stem, read_json(&path));
        }
    }
    out
}

/// How strictly elements are compared.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    Strict,
    /// Blind to two traits of the base snapshots the Publisher had and this
    /// registry lacks: version-pinned base canonicals (`…|4.0.1`) and the
    /// reworded expression of a base invariant (vs-1). The keys and
    /// severities of constraints are still compared.
    BaseDrift,
}

/// What is compared of one element, as comparable text.
fn compared_fields(element: &Value, mode: Compare) -> BTreeMap<&'static str, String> {
    let fields = fields(element);
    if mode == Compare::Strict {
        return fields;
    }
    fields
        .into_iter()
        .map(|(k, v)| {
            let v = v.replace("|4.0.1", "");
            let v = if k == "constraint" { constraint_keys(&v) } else { v };
            (k, v)
        })
        .collect()
}

/// `"key" "severity" expression | …` → `"key" "severity" | …`.
fn constraint_keys(text: &str) -> String {
    text.split(" | ")
        .map(|c| c.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn fields(element: &Value) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let text = |v: &Value| if v.is_null() { String::new() } else { v.to_string() };
    out.insert("path", text(&element["path"]));
    out.insert("min", text(&element["min"]));
    out.insert("max", text(&element["max"]));
    let types: Vec<String> = element["type"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}{}{}", t["code"], text(&t["profile"]), text(&t["targetProfile"])))
        .collect();
    out.insert("type", types.join(" | "));
    let mut values: Vec<String> = element
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("fixed") || k.starts_with("pattern"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    values.sort();
    out.insert("fixed/pattern", values.join(" "));
    let binding = &element["binding"];
    out.insert(
        "binding",
        format!("{}{}", text(&binding["strength"]), text(&binding["valueSet"])),
    );
    let mut constraints: Vec<String> = element["constraint"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} {}", c["key"], c["severity"], c["expression"]))
        .collect();
    constraints.sort();
    out.insert("constraint", constraints.join(" | "));
    let slicing = &element["slicing"];
    out.insert(
        "slicing",
        format!(
            "{}{}{}",
            text(&slicing["discriminator"]),
            text(&slicing["rules"]),
            text(&slicing["ordered"])
        ),
    );
    out
}

fn elements(definition: &Value) -> Vec<&Value> {
    definition["snapshot"]["element"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

/// The kinds of difference between a generated and a golden snapshot, with
/// one example each.
fn differences(ours: &Value, golden: &Value, mode: Compare) -> BTreeMap<String, String> {
    let mut kinds = BTreeMap::new();
    let ours = elements(ours);
    let golden = elements(golden);
    let id = |e: &&Value| e["id"].as_str().unwrap_or_default().to_owned();
    let our_ids: Vec<String> = ours.iter().map(id).collect();
    let golden_ids: Vec<String> = golden.iter().map(id).collect();
    if let Some(missing) = golden_ids.iter().find(|i| !our_ids.contains(i)) {
        kinds.insert("element missing".to_owned(), missing.clone());
    }
    if let Some(extra) = our_ids.iter().find(|i| !golden_ids.contains(i)) {
        kinds.insert("element extra".to_owned(), extra.clone());
    }
    let common_ours: Vec<&String> = our_ids.iter().filter(|i| golden_ids.contains(i)).collect();
    let common_golden: Vec<&String> = golden_ids.iter().filter(|i| our_ids.contains(i)).collect();
    if common_ours != common_golden {
        kinds.insert("element order".to_owned(), String::new());
    }
    for g in &golden {
        let Some(o) = ours.iter().find(|o| o["id"] == g["id"]) else {
            continue;
        };
        let (a, b) = (compared_fields(o, mode), compared_fields(g, mode));
        for (field, golden_value) in &b {
            if a[field] != *golden_value {
                kinds
                    .entry((*field).to_owned())
                    .or_insert_with(|| format!("{}: ours {} / golden {}", id(g), a[field], golden_value));
            }
        }
    }
    kinds
}

struct FolderResult {
    identical: usize,
    /// Identical but for the base drift [`Compare::BaseDrift`] forgives.
    identical_but_base_drift: usize,
    total: usize,
}

fn run_folder(name: &str) -> FolderResult {
    let folder = data_dir().join("snapshot-oracle").join(name);
    let fixtures = fixtures(&folder);
    let registry = base::registry();
    for fixture in fixtures.values() {
        registry.insert_value(std::sync::Arc::new(fixture.clone()), Origin::Package(name.to_owned()));
    }
    let mut generator = Generator::new(&registry);
    let (mut identical, mut lenient, mut total) = (0, 0, 0);
    let mut summary: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (stem, fixture) in &fixtures {
        let golden_path = folder.join("goldens").join(format!("{stem}.snapshot.json"));
        if !golden_path.is_file() {
            println!("{name}/{stem}: no golden, not compared");
            continue;
        }
        total += 1;
        let golden = read_json(&golden_path);
        let kinds = match generator.generate(fixture) {
            Ok(ours) => {
                if differences(&ours, &golden, Compare::BaseDrift).is_empty() {
                    lenient += 1;
                }
                differences(&ours, &golden, Compare::Strict)
            }
            Err(error) => BTreeMap::from([("error".to_owned(), error.to_string())]),
        };
        if kinds.is_empty() {
            identical += 1;
        }
        for (kind, example) in kinds {
            println!("{name}/{stem}: {kind}: {example}");
            summary.entry(kind).or_default().push(stem.clone());
        }
    }
    println!("{name}: {identical}/{total} identical, {lenient}/{total} but for base drift");
    for (kind, profiles) in &summary {
        println!("  {kind}: {} profiles ({})", profiles.len(), profiles.join(", "));
    }
    FolderResult {
        identical,
        identical_but_base_drift: lenient,
        total,
    }
}

#[test]
fn us_core_snapshots_match_the_ig_publisher() {
    let r = run_folder("us-core-9.0.0");
    assert_eq!(r.total, 70);
    assert!(r.identical >= 56, "{}/{} identical", r.identical, r.total);
    assert!(
        r.identical_but_base_drift >= 69,
        "{}/{} but for base drift",
        r.identical_but_base_drift,
        r.total
    );
}

#[test]
fn subscriptions_backport_snapshots_match_the_ig_publisher() {
    let r = run_folder("subscriptions-backport-1.1.0");
    assert_eq!(r.total, 9);
    assert!(r.identical >= 9, "{}/{} identical", r.identical, r.total);
}

/// A package's StructureDefinitions registered over base R4, with their urls.
fn package_registry(file: &str) -> (CanonicalRegistry, Vec<String>) {
    let path = data_dir().join("packages").join(file);
    let package = Package::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let registry = base::registry();
    let origin = Origin::Package(package.manifest.id());
    let mut urls = Vec::new();
    for f in package.files.iter().filter(|f| !f.example) {
        registry.insert_json(&f.text, origin.clone()).expect("package JSON");
        if f.resource_type == "StructureDefinition" {
            let definition: Value = serde_json::from_str(&f.text).expect("package JSON");
            urls.push(definition["url"].as_str().unwrap_or_default().to_owned());
        }
    }
    (registry, urls)
}

/// Fills every missing snapshot of a differential-only package (and of the
/// two base R4 examples shipped without one); returns how many of the
/// package's definitions got one.
fn every_differential_gets_a_snapshot(file: &str) -> usize {
    let (registry, urls) = package_registry(file);
    let started = Instant::now();
    let report = fill_missing(&registry);
    println!(
        "{file}: {} snapshots generated in {:?}",
        report.generated.len(),
        started.elapsed()
    );
    assert!(report.failed.is_empty(), "{file}: {:#?}", report.failed);
    // Again with every definition parsed: the generation alone.
    let started = Instant::now();
    let mut generator = Generator::new(&registry);
    let again: Vec<Value> = urls
        .iter()
        .filter_map(|url| registry.structure_definition(url))
        .map(|d| generator.generate(&d).expect("generated once already"))
        .collect();
    println!("{file}: {} generated again in {:?}", again.len(), started.elapsed());
    if let Some(dir) = std::env::var_os("IPE_SNAPSHOT_DUMP") {
        for definition in &again {
            let name = format!("{}.json", definition["id"].as_str().unwrap_or("unnamed"));
            let text = serde_json::to_string_pretty(definition).expect("JSON");
            std::fs::write(Path::new(&dir).join(name), text).expect("dump");
        }
    }
    for url in &urls {
        assert!(report.generated.contains(url), "{url} got no snapshot");
        let definition = registry.structure_definition(url).expect("registered");
        let elements = definition["snapshot"]["element"].as_array().map_or(0, Vec::len);
        assert!(elements > 1, "{url} has an empty snapshot");
    }
    urls.len()
}

#[test]
fn every_br_core_profile_and_extension_gets_a_snapshot() {
    assert_eq!(
        every_differential_gets_a_snapshot("br.gov.saude.br-core.fhir-1.1.0-sushi.tgz"),
        47
    );
}

#[test]
fn every_subscriptions_backport_definition_gets_a_snapshot() {
    assert_eq!(
        every_differential_gets_a_snapshot("hl7.fhir.uv.subscriptions-backport-1.1.0-sushi.tgz"),
        11
    );
}
