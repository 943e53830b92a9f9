//! Snapshot generation: a StructureDefinition's `snapshot` made from its
//! base definition's snapshot and its own `differential`, as the IG
//! Publisher makes it (`ProfileUtilities.generateSnapshot`; see
//! `docs/snapshots.md` for what follows it and what does not).
//!
//! # Layout
//!
//! - [`tree`]: a snapshot element list as a tree of children and slices, and
//!   back to a list with ids and paths written from the tree.
//! - [`differential`]: differential elements with the steps that locate them.
//! - [`merge`]: one differential element applied to one snapshot element.
//! - [`generator`]: the walk that locates (diving into types and type
//!   profiles, creating slices, following choice renames) and merges.
//! - [`choice`], [`slicing`], [`types`]: what the walk needs to know of
//!   choice elements, the slicing it adds, and element types.

mod choice;
mod differential;
mod generator;
mod merge;
mod slicing;
mod tree;
mod types;

use std::sync::Arc;

use serde_json::Value;

pub use generator::Generator;

use super::CanonicalRegistry;

/// Why a snapshot could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{profile}: no baseDefinition")]
    NoBase { profile: String },
    #[error("{profile}: base definition {base} is not known")]
    UnknownBase { profile: String, base: String },
    #[error("{profile}: {element} needs the children of {type_profile}, which is not known")]
    UnknownTypeProfile {
        profile: String,
        element: String,
        type_profile: String,
    },
    #[error("{profile}: differential element {element} matches no element of the base snapshot")]
    UnmatchedElement { profile: String, element: String },
    #[error("{profile}: its snapshot depends on itself (through its base or a type profile)")]
    Cycle { profile: String },
}

/// The StructureDefinition with its `snapshot` generated. For many profiles
/// at once, keep one [`Generator`] so shared bases are read once.
pub fn generate(profile: &Value, registry: &CanonicalRegistry) -> Result<Value, SnapshotError> {
    Generator::new(registry).generate(profile)
}

/// What [`fill_missing`] did.
#[derive(Debug, Default)]
pub struct FillReport {
    /// The urls of the definitions that got a snapshot.
    pub generated: Vec<String>,
    pub failed: Vec<SnapshotError>,
}

/// Gives every StructureDefinition in the registry that has a differential
/// but no snapshot one, replacing the registry entry (same origin).
pub fn fill_missing(registry: &CanonicalRegistry) -> FillReport {
    let mut generator = Generator::new(registry);
    let mut report = FillReport::default();
    // Only those that need it are parsed: parsing every definition would
    // hold the base spec's 19 MB of StructureDefinitions as trees.
    for entry in registry.entries("StructureDefinition") {
        if !entry.needs_snapshot {
            continue;
        }
        let Some(definition) = entry.resource() else { continue };
        match generator.generate(&definition) {
            Ok(with_snapshot) => {
                registry.insert_value(Arc::new(with_snapshot), entry.origin.clone());
                report.generated.push(entry.url.clone());
            }
            Err(error) => report.failed.push(error),
        }
    }
    report
}

#[cfg(test)]
mod tests;
