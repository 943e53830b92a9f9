//! search-compartment — `GET [base]/[Compartment]/[id]/[type]?…` and `POST
//! [base]/[Compartment]/[id]/[type]/_search`
//! (<https://hl7.org/fhir/R4/http.html#vsearch>,
//! <https://hl7.org/fhir/R4/compartmentdefinition.html#search>): a type
//! search limited to the resources in one compartment instance — those whose
//! compartment parameters (from the R4 CompartmentDefinition) point at it.
//! `Patient/123/Observation` is the Observations whose `subject` or
//! `performer` is `Patient/123`. The compartment's own resource need not
//! exist (then nothing points at it, so nothing matches).

use super::searchset::{self, SearchOptions};
use super::{id, resource_type, Context};
use crate::error::FhirError;
use crate::search::compartment;

#[tracing::instrument(
    name = "fhir.search-compartment",
    skip(ctx, query, options),
    fields(compartment = %compartment_type, id = %owner_id, resource_type = %searched)
)]
pub async fn search_compartment(
    ctx: &Context,
    compartment_type: &str,
    owner_id: &str,
    searched: &str,
    query: &[(String, String)],
    options: &SearchOptions,
) -> Result<Vec<u8>, FhirError> {
    let owner = resource_type(compartment_type)?;
    let owner_id = id(owner_id)?;
    let searched_type = resource_type(searched)?;
    let membership = compartment::membership(owner, owner_id.clone(), searched_type)?;
    let request = searchset::parse(Some(searched), query, options)?;
    let path = format!("{owner}/{owner_id}/{searched_type}");
    searchset::respond(ctx, request, Some(&membership), &path, options).await
}
