//! Extraction over real data: every resource of the official R4 examples
//! package (conformance resources aside) and of the 78 Synthea patient
//! Bundles indexes without a panic, under at least one parameter, and no
//! expression of the base parameters fails on any of them: one that does is a
//! gap of the FHIRPath engine or an error in the SearchParameter, to look at.
//! The full text of each is well formed (words of letters and digits, one
//! space or ` | ` between them). Run with `--nocapture` to see the counts,
//! the extraction rate and the full-text bytes per resource type.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::full_text::full_text;
use super::{extract, IndexValue, Registry};
use crate::validation::test_data::{for_each_example, for_each_synthea_bundle};

/// Definitional resources: not what a clinical server indexes in bulk, and
/// the bulk of the package's bytes.
const CONFORMANCE: [&str; 15] = [
    "CapabilityStatement",
    "CodeSystem",
    "CompartmentDefinition",
    "ConceptMap",
    "ExampleScenario",
    "GraphDefinition",
    "ImplementationGuide",
    "MessageDefinition",
    "NamingSystem",
    "OperationDefinition",
    "SearchParameter",
    "StructureDefinition",
    "StructureMap",
    "TerminologyCapabilities",
    "ValueSet",
];

#[derive(Default)]
struct Tally {
    resources: usize,
    entries: usize,
    empty: Vec<String>,
    /// (parameter URL, message) → occurrences.
    skipped: BTreeMap<(String, String), usize>,
    time: Duration,
    /// The time of the full-text part alone (measured again on its own).
    text_time: Duration,
    /// Resource type → (resources, full-text bytes: narrative, data).
    text_bytes: BTreeMap<String, (usize, usize, usize)>,
    /// Resources whose full text is not words separated as it must be.
    malformed_text: Vec<String>,
}

impl Tally {
    fn add(&mut self, name: &str, resource: &Value) {
        let start = Instant::now();
        let extraction = extract(Registry::r4(), resource);
        self.time += start.elapsed();
        self.resources += 1;
        self.entries += extraction.entries.len();
        if extraction.entries.is_empty() {
            self.empty.push(name.to_owned());
        }
        for skipped in extraction.skipped {
            *self.skipped.entry(skipped).or_default() += 1;
        }
        let start = Instant::now();
        let _ = full_text(resource);
        self.text_time += start.elapsed();
        let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        let bytes = self.text_bytes.entry(resource_type.to_owned()).or_default();
        bytes.0 += 1;
        for entry in &extraction.entries {
            if let IndexValue::Text(text) = &entry.value {
                bytes.1 += text.narrative.len();
                bytes.2 += text.data.len();
                if !well_formed(&text.narrative, false) || !well_formed(&text.data, true) {
                    self.malformed_text.push(name.to_owned());
                }
            }
        }
    }

    fn report(&self, corpus: &str) {
        let rate = self.resources as f64 / self.time.as_secs_f64().max(1e-9);
        println!(
            "{corpus}: {} resources, {} entries, {} skipped expressions, {:.0} resources/s (one thread, debug assertions {})",
            self.resources,
            self.entries,
            self.skipped.values().sum::<usize>(),
            rate,
            if cfg!(debug_assertions) { "on" } else { "off" },
        );
        for ((url, message), count) in &self.skipped {
            println!("  skipped {count}x {url}: {message}");
        }
        let mut by_count: Vec<_> = self.text_bytes.iter().collect();
        by_count.sort_by_key(|(_, (n, _, _))| std::cmp::Reverse(*n));
        println!(
            "  of which full text: {:.1} µs per resource",
            self.text_time.as_secs_f64() * 1e6 / self.resources.max(1) as f64
        );
        println!("  full-text bytes per resource (narrative + data), most frequent types:");
        for (resource_type, (n, narrative, data)) in by_count.into_iter().take(20) {
            println!(
                "    {resource_type:<24} {n:>6} x {:>5} + {:>5}",
                narrative / n.max(&1),
                data / n.max(&1)
            );
        }
    }

    /// No resource without entries, no failing expression.
    fn check(&self) {
        assert!(self.resources > 0, "no resources read");
        assert!(self.empty.is_empty(), "resources without entries: {:?}", self.empty);
        assert!(self.skipped.is_empty(), "failing expressions: {:#?}", self.skipped);
        assert!(
            self.malformed_text.is_empty(),
            "malformed full text: {:?}",
            self.malformed_text
        );
    }
}

/// What both databases' word indexes rely on: words of letters and digits
/// only, one space between words, ` | ` between values (data only).
fn well_formed(text: &str, values: bool) -> bool {
    let parts = if values {
        text.split(" | ").collect()
    } else {
        vec![text]
    };
    text.is_empty()
        || parts.iter().all(|value| {
            value
                .split(' ')
                .all(|word| !word.is_empty() && word.chars().all(char::is_alphanumeric))
        })
}

#[test]
fn every_r4_example_indexes() {
    Registry::r4(); // built once, outside the timing
    let mut tally = Tally::default();
    for_each_example(|name, resource| {
        let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        if !CONFORMANCE.contains(&resource_type) {
            tally.add(name, &resource);
        }
    });
    tally.report("R4 examples");
    tally.check();
}

#[test]
fn every_synthea_resource_indexes() {
    Registry::r4();
    let mut tally = Tally::default();
    for_each_synthea_bundle(|name, bundle| {
        let entries = bundle.get("entry").and_then(Value::as_array).into_iter().flatten();
        for (position, entry) in entries.enumerate() {
            if let Some(resource) = entry.get("resource") {
                tally.add(&format!("{name} entry {position}"), resource);
            }
        }
    });
    tally.report("Synthea");
    assert!(tally.resources > 24_000, "{} Synthea resources", tally.resources);
    tally.check();
}
