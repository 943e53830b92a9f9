//! Search (<https://hl7.org/fhir/R4/search.html>), the read side of the
//! SearchParameter registry ([`crate::index`] is the write side).
//!
//! # Layout
//!
//! A search is parsed, then planned, then executed; so far the first step exists:
//!
//! - [`params`]: the query pairs of a search request → a typed
//!   [`params::SearchRequest`] (criteria by parameter type, chains, `_has`,
//!   `_include`, paging and result parameters), and back to the query of its
//!   `self` link.

pub mod params;
