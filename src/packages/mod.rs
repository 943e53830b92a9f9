//! FHIR NPM packages, the canonical registry, and snapshot generation.
//!
//! # Layout
//!
//! - [`registry`]: one [`CanonicalRegistry`] of conformance resources
//!   (StructureDefinition, ValueSet, CodeSystem, …) resolved by `url` or
//!   `url|version`, filled from packages, the base R4 definitions and
//!   resources stored through the REST API.

pub mod registry;

pub use registry::{CanonicalRegistry, Origin};
