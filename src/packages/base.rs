//! The base R4 definitions every registry starts with:
//! `conformance/r4-definitions.ndjson.gz`, made by
//! `scripts/build-conformance.py` from `hl7.fhir.r4.examples@4.0.1`
//! (StructureDefinitions with snapshots, ValueSets, CodeSystems, ConceptMaps,
//! SearchParameters, OperationDefinitions, CompartmentDefinitions).

use std::io::Read;

use super::registry::{CanonicalRegistry, Origin};

static DEFINITIONS_GZ: &[u8] = include_bytes!("../../conformance/r4-definitions.ndjson.gz");

/// The package id the base definitions stand for; dependencies on it are
/// met without loading anything.
pub const CORE_PACKAGE: &str = "hl7.fhir.r4.core";

/// Adds the base definitions to a registry; returns how many.
pub fn load_into(registry: &CanonicalRegistry) -> usize {
    let mut text = String::new();
    if let Err(error) = flate2::read::GzDecoder::new(DEFINITIONS_GZ).read_to_string(&mut text) {
        // The file is compiled in and checked by a test: this cannot happen
        // in a released build, but a broken build should say so, not panic.
        tracing::error!(%error, "conformance/r4-definitions.ndjson.gz is unreadable");
        return 0;
    }
    let mut count = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        match registry.insert_json(line, Origin::Base) {
            Ok(true) => count += 1,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "a base definition is not valid JSON"),
        }
    }
    count
}

/// A registry holding the base definitions only.
pub fn registry() -> CanonicalRegistry {
    let registry = CanonicalRegistry::new();
    load_into(&registry);
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_every_base_conformance_resource() {
        let registry = registry();
        let count = |t: &str| registry.entries(t).len();
        assert_eq!(count("StructureDefinition"), 655);
        assert_eq!(count("ValueSet"), 1316);
        assert_eq!(count("CodeSystem"), 1062);
        assert_eq!(count("SearchParameter"), 1400);
        let patient = registry
            .structure_definition("http://hl7.org/fhir/StructureDefinition/Patient|4.0.1")
            .expect("Patient");
        assert!(patient["snapshot"]["element"].as_array().is_some_and(|e| e.len() > 40));
        assert!(registry
            .value_set("http://hl7.org/fhir/ValueSet/administrative-gender")
            .is_some());
    }
}
