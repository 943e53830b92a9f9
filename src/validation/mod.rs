//! Validation: whether a resource is well-formed FHIR R4 (structural, here)
//! and, built on it, whether it meets the profiles a deployment enforces
//! ([`policy`]: validation on write; `ipe validate` is [`cli`]).
//! Every finding is an [`Issue`](crate::outcome::Issue) located by a FHIRPath
//! expression, ready for an OperationOutcome.

pub mod bindings;
pub mod cli;
mod findings;
mod merge;
pub mod policy;
pub mod profile;
mod rules;
mod schema_errors;
mod schema_model;
mod structural;
#[cfg(test)]
pub(crate) mod test_data;

pub use merge::merge;
pub use policy::{UnknownProfile, ValidationMode, WritePolicy};
pub use profile::ProfileValidator;
pub use structural::{SchemaLoadError, StructuralValidator};
