//! Ipê: a FHIR R4 (4.0.1) server on PostgreSQL and SQLite.
//!
//! # Layout
//!
//! - [`config`]: one typed configuration (defaults ← file ← `IPE_*` / flags).
//! - [`startup`]: wires store, validator and HTTP server together.
//! - [`http`]: actix-web edge: routing, content negotiation, errors → OperationOutcome.
//! - [`rest`]: the FHIR interactions as plain async functions (no HTTP types).
//! - [`store`]: resources, versions and the change feed on PostgreSQL or SQLite.
//! - [`validation`]: structural checks against the official R4 JSON Schema.
//! - [`model`]: resource types, ids, date ranges, the R4 type model,
//!   `_summary` / `_elements`.
//! - [`outcome`] and [`error`]: OperationOutcome issues and the one error type
//!   every interaction returns, with its status mapping.
//! - [`clock`]: injected time and id generation.
//! - [`fhirpath`]: the FHIRPath engine (compile once, evaluate over JSON).
//! - [`ucum`]: UCUM unit parsing and conversion.
//! - [`index`]: the SearchParameter registry and the index values of a resource.
//! - [`search`]: search requests (parse; plan and execution to come).
//! - [`subscriptions`]: R4 and topic-based Subscriptions, matched from the
//!   change feed and delivered durably over rest-hook.
//! - [`terminology`]: `$expand`, `$validate-code`, `$lookup`, `$subsumes`, `$translate`.

pub mod clock;
pub mod config;
pub mod error;
pub mod fhirpath;
pub mod http;
pub mod index;
pub mod model;
pub mod outcome;
pub mod packages;
pub mod reindex;
pub mod rest;
pub mod search;
pub mod startup;
pub mod store;
pub mod subscriptions;
pub mod terminology;
pub mod ucum;
pub mod validation;
