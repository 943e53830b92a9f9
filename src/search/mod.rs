//! Search (<https://hl7.org/fhir/R4/search.html>), the read side of the
//! SearchParameter registry ([`crate::index`] is the write side).
//!
//! # Layout
//!
//! A search is parsed, then planned, then executed:
//!
//! - [`params`]: the query pairs of a search request → a typed
//!   [`params::SearchRequest`] (criteria by parameter type, chains, `_has`,
//!   `_include`, paging and result parameters), and back to the query of its
//!   `self` link.
//! - [`plan`]: a request compiled once into the SQL condition selecting its
//!   matches and its sort keys, refusing what is not built
//!   ([`SearchError::NotSupported`]). `sql` writes the condition, one
//!   submodule per parameter type; `sort` the `_sort` keys.
//! - [`execute`]: one page of a plan — matches, `_total`, the `_page`
//!   cursors of the pages around it (`page`: keyset cursors pinned to the
//!   first page's snapshot) and `_include` / `_revinclude` (`include`).
//! - [`compartment`]: the R4 CompartmentDefinitions, for compartment searches.
//! - `contained`: `_containedType=contained` matches taken out of their
//!   containers (the plan says where contained rows come from).
//!
//! Nothing here knows HTTP or Bundles: `crate::rest::search_type` and its
//! siblings render a [`execute::Page`] as a `searchset` Bundle.

pub mod compartment;
pub mod execute;
pub mod params;
pub mod plan;

mod contained;
mod error;
mod include;
mod page;
mod sort;
mod sql;

pub use error::SearchError;
pub use execute::{run, Page};
pub use plan::Plan;
pub use sql::Env;
