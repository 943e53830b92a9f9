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

pub mod base;
pub mod package;
pub mod registry;
pub mod snapshot;

pub use package::{Manifest, Package, PackageError};
pub use registry::{CanonicalRegistry, Origin};
