//! Search indexing, the write side of search
//! (<https://hl7.org/fhir/R4/search.html>, <https://hl7.org/fhir/R4/searchparameter.html>):
//! which SearchParameters exist, and what a resource is indexed under for
//! each of them. Pure code, no database: the store writes what [`extract`]
//! returns into its index tables, and the subscription matcher reads the same
//! values in memory.
//!
//! # Layout
//!
//! - [`registry`]: the SearchParameters by resource type and code and by
//!   canonical URL, expressions compiled once; [`Registry::r4`] holds the
//!   base R4 ones (`conformance/r4-search-parameters.json`).
//! - [`extract`]: runs each applicable expression once on a resource and turns
//!   what it finds into typed [`IndexValue`]s, per parameter type
//!   (search.html §3.1.1); its submodules hold one type each.
//! - [`full_text`]: the words of a resource for `_text` and `_content`,
//!   which [`extract`] adds as one [`IndexValue::Text`].

pub mod extract;
pub mod full_text;
pub mod live;
pub mod registry;

#[cfg(test)]
mod corpus_tests;

pub use extract::*;
pub use live::LiveRegistry;
pub use registry::*;
