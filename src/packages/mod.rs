//! FHIR NPM packages, the canonical registry, and snapshot generation.
//!
//! # Layout
//!
//! - [`registry`]: one [`CanonicalRegistry`] of conformance resources
//!   (StructureDefinition, ValueSet, CodeSystem, …) resolved by `url` or
//!   `url|version`, filled from packages, the base R4 definitions and
//!   resources stored through the REST API.
//! - [`base`]: the base R4 definitions shipped under `conformance/`.
//! - [`package`]: one FHIR NPM package read from a `.tgz` or a folder.
//! - [`cache`]: the FHIR package cache (`~/.fhir/packages`).
//! - [`loader`]: packages named by file or `name@version`, with their
//!   dependencies, into the registry.
//! - [`sets`]: the ready package sets of `profiles/`.
//! - [`cli`]: `ipe packages install | list`.
//! - [`snapshot`]: snapshots generated from differentials, as the IG
//!   Publisher makes them (packages that ship differentials only, and
//!   StructureDefinitions posted with a differential only).

pub mod base;
pub mod cache;
pub mod cli;
pub mod loader;
pub mod package;
pub mod registry;
pub mod sets;
pub mod snapshot;

#[cfg(test)]
mod shared_tests;
#[cfg(test)]
pub(crate) mod test_packages;

pub use cache::PackageCache;
pub use loader::{LoadReport, Loader, PackageSpec};
pub use package::{Manifest, Package, PackageError};
pub use registry::{CanonicalRegistry, Origin};
