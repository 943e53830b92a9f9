//! Terminology benchmark: `$expand` of a ValueSet with ≥ 1,000 codes (cold —
//! caches dropped before each run — and cached) and `$validate-code` warm,
//! with the base R4 definitions and THO (`hl7.terminology.r4` 7.0.1) loaded.
//! Target (issue 5): `$validate-code` p50 ≤ 50 µs warm.
//!
//! THO is read from `IPE_TEST_DATA` (default `../shared/fhir`).
//!
//! ```sh
//! cargo bench --bench terminology
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipe::packages::{base, Origin, Package};
use ipe::terminology::{expand, validate_code_value_set, CodingRef, ExpandOptions, TerminologyService};
use serde_json::{json, Value};

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.is_dir(),
        "test data not found at {} — set IPE_TEST_DATA",
        dir.display()
    );
    dir
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn row(name: &str, mut samples: Vec<Duration>) {
    let p50 = percentile(&mut samples, 0.50);
    let p99 = percentile(&mut samples, 0.99);
    println!("| {name:44} | {:>6} | {:>10.1?} | {:>10.1?} |", samples.len(), p50, p99);
}

fn time(n: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect()
}

/// The value set with the most codes between 1,000 and 10,000, all from
/// code systems loaded here (not codes listed from LOINC or SNOMED CT), so the benchmark needs no hard-coded URL.
fn pick_value_set(svc: &TerminologyService) -> (String, usize) {
    let mut best = (String::new(), 0);
    for entry in svc.registry().entries("ValueSet") {
        let Some(vs) = entry.resource() else { continue };
        let Ok(e) = svc.expansion_of(&vs, &ExpandOptions::default()) else {
            continue;
        };
        let n = e.members.len();
        let local = e.open.is_empty() && e.unchecked.is_empty();
        if local && (1_000..=10_000).contains(&n) && n > best.1 {
            let canonical = match &entry.version {
                Some(v) => format!("{}|{v}", entry.url),
                None => entry.url.clone(),
            };
            best = (canonical, n);
        }
    }
    best
}

fn main() {
    let started = Instant::now();
    let registry = base::registry();
    let tho = data_dir().join("packages/hl7.terminology.r4-7.0.1.tgz");
    let package = Package::read(&tho).unwrap_or_else(|e| panic!("{e}"));
    let origin = Origin::Package(package.manifest.id());
    for f in package.files.iter().filter(|f| !f.example) {
        let _ = registry.insert_json(&f.text, origin.clone());
    }
    let svc = TerminologyService::new(Arc::new(registry));
    println!("base R4 + THO loaded in {:.2?}", started.elapsed());
    let (url, size) = pick_value_set(&svc);
    println!("value set: {url} ({size} codes)\n");
    let params = json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": url}]});

    println!("| operation                                    |      n |        p50 |        p99 |");
    println!("|----------------------------------------------|--------|------------|------------|");
    let cold = time(30, |_| {
        svc.invalidate();
        expand(&svc, &params, None)
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e}"));
    });
    row(&format!("$expand cold ({size} codes)"), cold);
    let warm = time(300, |_| {
        expand(&svc, &params, None)
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e}"));
    });
    row(&format!("$expand cached ({size} codes, full page)"), warm);
    let paged = json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": url},
        {"name": "count", "valueInteger": 20}, {"name": "filter", "valueString": "a"}]});
    let filtered = time(300, |_| {
        expand(&svc, &paged, None).map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
    });
    row("$expand cached, filter + count=20", filtered);

    let expansion = svc.expansion(&url).unwrap_or_else(|e| panic!("{e}"));
    let codings: Vec<(String, String, Option<String>)> = expansion
        .members
        .iter()
        .map(|m| (m.system.to_string(), m.code.to_string(), m.display().map(str::to_owned)))
        .collect();
    let typed = time(20_000, |i| {
        let (system, code, display) = &codings[i % codings.len()];
        let coding = CodingRef {
            system: Some(system),
            version: None,
            code,
            display: display.as_deref(),
        };
        let v = svc
            .validate_in_value_set(&url, &coding, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(v.result());
    });
    row("validate_in_value_set warm (typed API)", typed);
    let requests: Vec<Value> = codings
        .iter()
        .take(500)
        .map(|(system, code, _)| {
            json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": url},
                {"name": "system", "valueUri": system}, {"name": "code", "valueCode": code}]})
        })
        .collect();
    let op = time(20_000, |i| {
        validate_code_value_set(&svc, &requests[i % requests.len()], None).unwrap_or_else(|e| panic!("{e}"));
    });
    row("$validate-code warm (Parameters in/out)", op);
    let missing = json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": url},
        {"name": "system", "valueUri": codings[0].0}, {"name": "code", "valueCode": "no-such-code"}]});
    let not_member = time(20_000, |_| {
        validate_code_value_set(&svc, &missing, None).unwrap_or_else(|e| panic!("{e}"));
    });
    row("$validate-code warm, code not in value set", not_member);
}
