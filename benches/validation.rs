//! Profile validation benchmark (issue 6, must-show 4): warm validation
//! p50/p99 of a US Core Patient, a US Core Observation with slices (blood
//! pressure: its component slices), an RNDS BRIndividuo Patient, and a
//! 300-entry Synthea Bundle against US Core; and the process's peak memory
//! with the base R4 definitions, US Core 6.1.0 (with THO 7.0.1), BR Core
//! and RNDS loaded. Targets: ≤ 1 ms p50 for a single resource, ≤ 100 ms for
//! the Bundle, ≤ 400 MB peak.
//!
//! ```sh
//! cargo bench --bench validation
//! ```
//!
//! The packages and Synthea are read from `IPE_TEST_DATA` (default
//! `../shared/fhir`). Each input is checked first: a benchmark of inputs
//! that fail validation would time the error path, so the run stops if any
//! has an error (the Synthea Bundle excepted: it does not meet US Core, and
//! its errors are counted).

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipe::outcome::{Issue, Severity};
use ipe::packages::{base, CanonicalRegistry, Loader, PackageCache};
use ipe::terminology::TerminologyService;
use ipe::validation::bindings::BindingFinder;
use ipe::validation::ProfileValidator;
use serde_json::{json, Value};
use support::{ms, percentile, Result};

const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/";
const BR_INDIVIDUO: &str = "http://www.saude.gov.br/fhir/r4/StructureDefinition/BRIndividuo-1.0";
const SINGLE_RUNS: usize = 2_000;
const BUNDLE_RUNS: usize = 50;
const BUNDLE_ENTRIES: usize = 300;

fn main() {
    if let Err(e) = run() {
        eprintln!("validation bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let data = support::data_dir();
    let rss_at_start = peak_rss_mb();
    let started = Instant::now();
    let registry = load_packages()?;
    let loaded = started.elapsed();
    let terminology = Arc::new(TerminologyService::new(registry.clone()));
    let validator = ProfileValidator::new(terminology.clone());
    let rss_loaded = peak_rss_mb();

    let us_core_examples = data.join("packages/hl7.fhir.us.core-6.1.0.tgz");
    let patient = example(&us_core_examples, "Patient-example.json")?;
    let blood_pressure = example(&us_core_examples, "Observation-blood-pressure.json")?;
    let individuo = br_individuo();
    let bundle = synthea_bundle(&validator, &registry)?;

    println!(
        "Ipê profile validation benchmark: {} CPUs, release build",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "packages loaded (base R4, THO 7.0.1, US Core 6.1.0, BR Core 1.1.0, RNDS 0.1.0, snapshots generated): {:.0} ms",
        ms(loaded)
    );
    println!();
    println!("| input | profile | runs | first (cold) | p50 | p99 | issues (errors) |");
    println!("|---|---|---:|---:|---:|---:|---|");
    let mut met = true;
    let cases: [(&str, &Value, Vec<String>, usize, Duration); 4] = [
        (
            "US Core Patient (Patient-example)",
            &patient,
            vec![format!("{US_CORE}us-core-patient")],
            SINGLE_RUNS,
            Duration::from_millis(1),
        ),
        (
            "US Core blood pressure (component slices)",
            &blood_pressure,
            vec![format!("{US_CORE}us-core-blood-pressure")],
            SINGLE_RUNS,
            Duration::from_millis(1),
        ),
        (
            "RNDS BRIndividuo Patient",
            &individuo,
            vec![BR_INDIVIDUO.to_owned()],
            SINGLE_RUNS,
            Duration::from_millis(1),
        ),
        (
            "Synthea Bundle, 300 entries, each against its US Core profile",
            &bundle,
            Vec::new(),
            BUNDLE_RUNS,
            Duration::from_millis(100),
        ),
    ];
    for (name, resource, profiles, runs, target) in cases {
        let first = Instant::now();
        let issues = validator.validate(resource, &profiles, Severity::Error);
        let first = first.elapsed();
        let errors: Vec<&Issue> = issues.iter().filter(|i| i.severity <= Severity::Error).collect();
        if std::env::var_os("IPE_BENCH_SHOW_ISSUES").is_some() {
            for i in &issues {
                eprintln!(
                    "{:?} {} @ {}",
                    i.severity,
                    i.diagnostics,
                    i.expression.as_deref().unwrap_or("?")
                );
            }
        }
        // Synthea does not meet US Core (its own extensions have no
        // definitions, so its Patients conform to no US Core profile, and
        // every reference to them says so): the Bundle is timed with its
        // errors, which are counted. The single resources must be valid.
        let synthea = runs == BUNDLE_RUNS;
        if let (false, Some(e)) = (synthea, errors.first()) {
            return Err(format!(
                "{name}: {} error(s), first: {} at {}",
                errors.len(),
                e.diagnostics,
                e.expression.as_deref().unwrap_or("?")
            ));
        }
        let mut samples: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let issues = validator.validate(resource, &profiles, Severity::Error);
                let elapsed = t.elapsed();
                std::hint::black_box(issues);
                elapsed
            })
            .collect();
        samples.sort();
        let p50 = percentile(&samples, 0.50);
        met &= p50 <= target;
        println!(
            "| {name} | {} | {runs} | {:.3} ms | **{:.3} ms** | {:.3} ms | {} ({}) |",
            profiles
                .first()
                .map_or("declared per entry", |p| p.rsplit('/').next().unwrap_or(p)),
            ms(first),
            ms(p50),
            ms(percentile(&samples, 0.99)),
            issues.len(),
            errors.len()
        );
    }
    let peak = peak_rss_mb();
    println!();
    println!(
        "peak resident memory: {rss_at_start:.0} MB at start, {rss_loaded:.0} MB after loading, {peak:.0} MB at the end"
    );
    println!(
        "targets: single resource p50 ≤ 1 ms and Bundle ≤ 100 ms: {}; peak ≤ 400 MB: {}",
        if met { "met" } else { "NOT met" },
        if peak <= 400.0 { "met" } else { "NOT met" }
    );
    Ok(())
}

/// The registry `ipe serve --package us-core --package br-core --package
/// rnds` builds: packages installed into a temporary cache, loaded from it
/// offline, and the snapshots BR Core lacks generated.
fn load_packages() -> Result<Arc<CanonicalRegistry>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cache_dir = std::env::temp_dir().join(format!("ipe-bench-validation-{}", std::process::id()));
    let loader = Loader {
        cache: PackageCache::new(&cache_dir),
        registry_url: None,
    };
    let loaded = (|| {
        support::install_ig_packages(&runtime, &loader)?;
        let specs = support::ig_package_specs();
        let registry = base::registry();
        runtime
            .block_on(loader.load(&specs, &registry))
            .map_err(|e| e.to_string())?;
        ipe::packages::snapshot::fill_missing(&registry);
        Ok(Arc::new(registry))
    })();
    let _ = std::fs::remove_dir_all(&cache_dir);
    loaded
}

/// One file of a package's `package/example/` folder.
fn example(package: &Path, file: &str) -> Result<Value> {
    use std::io::Read;
    let archive = std::fs::File::open(package).map_err(|e| format!("{}: {e}", package.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let fail = |e: std::io::Error| format!("{}: {e}", package.display());
    for entry in archive.entries().map_err(fail)? {
        let mut entry = entry.map_err(fail)?;
        let name = entry.path().map_err(fail)?.to_string_lossy().into_owned();
        if name == format!("package/example/{file}") {
            let mut body = Vec::new();
            entry.read_to_end(&mut body).map_err(fail)?;
            return serde_json::from_slice(&body).map_err(|e| format!("{name}: {e}"));
        }
    }
    Err(format!("{file} not found in {}", package.display()))
}

/// An RNDS patient: the RNDS package ships no examples, so this one is
/// written from BRIndividuo-1.0's snapshot (nationality, active, gender
/// from BRSexo, birth date, a name, a phone). It has no identifier: the
/// required binding of `identifier.type`, BRTipoDocumentoIndividuo-1.0,
/// names a value set (`http://hl7.org/fhir/ValueSet/identifier-type`) as
/// its code system, so no coding can be both a valid Coding and in it.
fn br_individuo() -> Value {
    json!({
        "resourceType": "Patient",
        "meta": { "profile": [BR_INDIVIDUO] },
        "extension": [{
            "url": "http://www.saude.gov.br/fhir/r4/StructureDefinition/BRPais-1.0",
            "valueCodeableConcept": {
                "coding": [{ "system": "http://www.saude.gov.br/fhir/r4/CodeSystem/BRPais", "code": "10" }]
            }
        }],
        "active": true,
        "name": [{ "use": "official", "text": "Maria da Silva" }],
        "telecom": [{ "system": "phone", "value": "+55 61 99999-0000", "use": "mobile" }],
        "gender": "female",
        "birthDate": "1980-04-12"
    })
}

/// The first Synthea Bundle with at least 300 entries, cut to 300, each
/// entry declaring (in `meta.profile`) the US Core profile that matches it
/// best — as a US Core client would send it.
fn synthea_bundle(validator: &ProfileValidator, registry: &CanonicalRegistry) -> Result<Value> {
    let candidates: Vec<String> = registry
        .entries("StructureDefinition")
        .iter()
        .map(|e| e.url.clone())
        .filter(|url| url.starts_with(US_CORE))
        .collect();
    let finder = BindingFinder::new(validator);
    for bundle in support::read_synthea()? {
        if bundle.resources < BUNDLE_ENTRIES {
            continue;
        }
        let mut bundle: Value = serde_json::from_slice(&bundle.body).map_err(|e| e.to_string())?;
        let Some(entries) = bundle["entry"].as_array_mut() else {
            continue;
        };
        entries.truncate(BUNDLE_ENTRIES);
        for entry in entries.iter_mut() {
            let resource = &mut entry["resource"];
            let profiles = finder.profiles_for(resource, &candidates);
            if let Some(profile) = profiles.into_iter().find(|p| p.starts_with(US_CORE)) {
                resource["meta"]["profile"] = json!([profile]);
            }
        }
        return Ok(bundle);
    }
    Err(format!("no Synthea Bundle has {BUNDLE_ENTRIES} entries"))
}

/// The process's peak resident set size (Linux VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
