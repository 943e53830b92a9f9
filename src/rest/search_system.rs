//! search-system — `GET [base]?…` and `POST [base]/_search`
//! (<https://hl7.org/fhir/R4/http.html#search>): resources of every type
//! (or of the types `_type` lists) matching the criteria. Without `_type`
//! only the parameters every resource has apply (`_id`, `_lastUpdated`,
//! `_tag`, `_profile`, `_security`, `_source`, `_list`…); with it, those
//! every listed type has.

use super::searchset::{self, SearchOptions};
use super::Context;
use crate::error::FhirError;

#[tracing::instrument(name = "fhir.search-system", skip(ctx, query, options))]
pub async fn search_system(
    ctx: &Context,
    query: &[(String, String)],
    options: &SearchOptions,
) -> Result<Vec<u8>, FhirError> {
    let registry = ctx.registry.current();
    let request = searchset::parse(&registry, None, query, options)?;
    searchset::respond(ctx, &registry, request, &[], "", options).await
}
