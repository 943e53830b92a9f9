//! search-type — `GET [base]/[type]?…` and `POST [base]/[type]/_search`
//! (<https://hl7.org/fhir/R4/http.html#search>): the resources of one type
//! matching the criteria, as a `searchset` Bundle. What the parameters mean
//! is [search.html](https://hl7.org/fhir/R4/search.html); see `docs/search.md`
//! for what is supported.

use super::searchset::{self, SearchOptions};
use super::Context;
use crate::error::FhirError;

/// `query`: the decoded parameters, from the URL and (for `POST …/_search`)
/// the form body, in order.
#[tracing::instrument(name = "fhir.search-type", skip(ctx, query, options), fields(resource_type = %resource_type))]
pub async fn search_type(
    ctx: &Context,
    resource_type: &str,
    query: &[(String, String)],
    options: &SearchOptions,
) -> Result<Vec<u8>, FhirError> {
    let registry = ctx.registry.current();
    let request = searchset::parse(&registry, Some(resource_type), query, options)?;
    searchset::respond(ctx, &registry, request, &[], resource_type, options).await
}
