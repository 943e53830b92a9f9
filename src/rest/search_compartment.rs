//! search-compartment — `GET [base]/[Compartment]/[id]/[type]?…` and `POST
//! [base]/[Compartment]/[id]/[type]/_search`
//! (<https://hl7.org/fhir/R4/http.html#vsearch>,
//! <https://hl7.org/fhir/R4/compartmentdefinition.html#search>): a type
//! search limited to the resources in one compartment instance — those whose
//! compartment parameters (from the R4 CompartmentDefinition) point at it.
//! `Patient/123/Observation` is the Observations whose `subject` or
//! `performer` is `Patient/123`. The compartment's own resource need not
//! exist (then nothing points at it, so nothing matches). `Patient/123/*`
//! searches every type the compartment holds.

use super::searchset::{self, SearchOptions};
use super::{id, resource_type, Context};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::search::compartment;

/// The compartment search over every type it holds.
const ALL_TYPES: &str = "*";

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
    if searched == ALL_TYPES {
        return search_all_types(ctx, owner, owner_id, query, options).await;
    }
    let searched_type = resource_type(searched)?;
    let membership = compartment::membership(owner, owner_id.clone(), searched_type)?;
    let registry = ctx.registry.current();
    let request = searchset::parse(&registry, Some(searched), query, options)?;
    let path = format!("{owner}/{owner_id}/{searched_type}");
    searchset::respond(ctx, &registry, request, &[membership], &path, options).await
}

/// `[Compartment]/[id]/*`: every type that can be in the compartment, or
/// those of them `_type` names; parameters are those common to all types,
/// as in a search across all types.
async fn search_all_types(
    ctx: &Context,
    owner: ResourceType,
    owner_id: Id,
    query: &[(String, String)],
    options: &SearchOptions,
) -> Result<Vec<u8>, FhirError> {
    let mut memberships = compartment::all_memberships(owner, owner_id.clone())?;
    let registry = ctx.registry.current();
    let mut request = searchset::parse(&registry, None, query, options)?;
    if !request.types.is_empty() {
        memberships.retain(|m| request.types.contains(&m.resource_type));
    }
    if memberships.is_empty() {
        // `_type` named no type of this compartment: nothing can match.
        request.types = vec![owner];
        memberships.push(compartment::Membership {
            owner,
            id: owner_id.clone(),
            resource_type: owner,
            params: Vec::new(),
            itself: false,
        });
    } else {
        request.types = memberships.iter().map(|m| m.resource_type).collect();
    }
    let path = format!("{owner}/{owner_id}/{ALL_TYPES}");
    searchset::respond(ctx, &registry, request, &memberships, &path, options).await
}
