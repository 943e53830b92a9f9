//! Issue 5, must-show 3 (first half): every ValueSet of the base spec, THO,
//! US Core 3.1.1 / 6.1.0 / 7.0.0, BR Core and RNDS is evaluated; those whose
//! compose uses only code systems known here must expand. Prints counts per
//! package: expanded, and not expandable grouped by reason.
//!
//! Reads the packages in place from `IPE_TEST_DATA/packages`, loaded as the
//! server loads them (`crate::packages::test_packages`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::expansion::Open;
use super::{ExpandOptions, TerminologyError, TerminologyService};
use crate::packages::registry::Origin;
use crate::packages::test_packages;

const PACKAGES: &[&str] = &[
    test_packages::THO,
    test_packages::US_CORE_311,
    test_packages::US_CORE_610,
    test_packages::US_CORE_700,
    test_packages::BR_CORE,
    test_packages::RNDS,
];

/// What happened to one value set.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Expanded,
    /// Expanded, with codes of systems not known here taken as listed.
    ExpandedUnchecked,
    /// Expanded to nothing (a filter no concept passes, a system without
    /// concepts): listed, not counted as a failure.
    Empty,
    /// Needs a code system that is not loaded (LOINC, SNOMED CT…).
    External(String),
    /// Includes a grammar-defined system whole (UCUM, BCP-47, MIME).
    Grammar(String),
    /// Imports a value set no loaded package has.
    MissingImport,
    /// Anything else: a real failure.
    Failed(String),
}

fn classify(svc: &TerminologyService, vs: &serde_json::Value) -> Outcome {
    match svc.expansion_of(vs, &ExpandOptions::default()) {
        Ok(e) => match e.open.first() {
            Some((system, Open::NotSupported(reason)))
                if reason.contains("not known") || reason.contains("content") =>
            {
                Outcome::External(system.clone())
            }
            Some((_, Open::NotSupported(reason))) => Outcome::Failed(reason.clone()),
            Some((system, Open::Builtin(..))) => Outcome::Grammar(system.clone()),
            None if !e.unchecked.is_empty() => Outcome::ExpandedUnchecked,
            None if e.members.is_empty() => Outcome::Empty,
            None => Outcome::Expanded,
        },
        Err(TerminologyError::NotFound { kind: "ValueSet", .. }) => Outcome::MissingImport,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn origin_name(origin: &Origin) -> String {
    match origin {
        Origin::Base => "hl7.fhir.r4.core#4.0.1".into(),
        Origin::Package(id) => id.clone(),
        Origin::Server(id) => format!("server {id}"),
    }
}

#[tokio::test]
async fn every_value_set_using_only_known_code_systems_expands() {
    let started = std::time::Instant::now();
    let (registry, _) = test_packages::load(PACKAGES).await;
    let svc = TerminologyService::new(Arc::new(registry));
    let mut table: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut external: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut empty, mut missing) = (Vec::new(), Vec::new());
    let mut total = 0;
    for entry in svc.registry().entries("ValueSet") {
        let Some(vs) = entry.resource() else { continue };
        total += 1;
        let outcome = classify(&svc, &vs);
        let column = match &outcome {
            Outcome::Expanded => "expanded",
            Outcome::ExpandedUnchecked => "expanded (codes as listed)",
            Outcome::External(system) => {
                *external.entry(system.clone()).or_default() += 1;
                "external system"
            }
            Outcome::Grammar(_) => "grammar system",
            Outcome::Empty => {
                empty.push(entry.url.clone());
                "expanded (empty)"
            }
            Outcome::MissingImport => {
                missing.push(entry.url.clone());
                "missing import"
            }
            Outcome::Failed(why) => {
                failures.push(format!("{}: {why}", entry.url));
                "failed"
            }
        };
        *table
            .entry(origin_name(&entry.origin))
            .or_default()
            .entry(column)
            .or_default() += 1;
    }
    println!("{total} value sets evaluated in {:.1?}", started.elapsed());
    for (package, counts) in &table {
        println!("{package:45} {counts:?}");
    }
    let mut top: Vec<(&String, &usize)> = external.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    println!(
        "not expandable because a system is not loaded, by system: {:?}",
        &top[..top.len().min(15)]
    );
    println!("expanded to no codes: {empty:?}");
    println!("importing a value set no loaded package has: {missing:?}");
    for f in &failures {
        println!("FAILED {f}");
    }
    assert!(total > 3900, "expected base + THO + IGs, got {total}");
    assert!(
        failures.is_empty(),
        "{} value sets failed for reasons other than an unloaded system",
        failures.len()
    );
}
