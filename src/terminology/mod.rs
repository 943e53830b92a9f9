//! The terminology service: `$expand`, `$validate-code`, `$lookup`,
//! `$subsumes` and `$translate` over every CodeSystem, ValueSet and
//! ConceptMap in the [`CanonicalRegistry`](crate::packages::CanonicalRegistry),
//! plus UCUM, BCP-47 and MIME types built in and loaders for LOINC and
//! SNOMED CT. See `docs/terminology.md`.
//!
//! The operations are plain functions from the input `Parameters` (and the
//! instance, for `ValueSet/{id}/$expand` and the like) to the output
//! resource; they know nothing of HTTP. The validator uses the typed entry
//! points ([`TerminologyService::validate_in_value_set`],
//! [`TerminologyService::validate_in_code_system`]).
//!
//! # Layout
//!
//! - [`service`]: [`TerminologyService`] — which source answers for a
//!   system; cached code system indexes and expansions.
//! - [`codesystem`]: one CodeSystem indexed (codes, hierarchy, properties,
//!   supplements, `content`).
//! - [`compose`] + [`filter`]: a ValueSet's compose evaluated into an
//!   [`expansion::Expansion`].
//! - [`expand`], [`validate`], [`lookup`] (`$lookup`, `$subsumes`),
//!   [`translate`]: the operations.
//! - [`builtin`]: UCUM, BCP-47, MIME types.
//! - [`loaders`]: LOINC `Loinc.csv`, SNOMED CT RF2 snapshots.
//! - [`cache`]: caches that notice registry changes; [`params`]: reading
//!   and writing `Parameters`; [`error`]: [`TerminologyError`].

pub mod builtin;
pub mod cache;
pub mod codesystem;
pub mod compose;
pub mod error;
pub mod expand;
pub mod expansion;
pub mod filter;
pub mod loaders;
pub mod lookup;
pub mod params;
pub mod service;
pub mod translate;
pub mod validate;

#[cfg(test)]
mod package_expansions;
#[cfg(test)]
mod tests;

pub use codesystem::CodeSystemIndex;
pub use compose::ExpandOptions;
pub use error::TerminologyError;
pub use expand::expand;
pub use lookup::{lookup, subsumes};
pub use service::{SystemSource, TerminologyService};
pub use translate::translate;
pub use validate::{validate_code_code_system, validate_code_value_set, CodingRef, Validation, Verdict};
