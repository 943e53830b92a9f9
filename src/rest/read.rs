//! read — `GET [base]/[type]/[id]` (<https://hl7.org/fhir/R4/http.html#read>).

use super::{Context, Versioned};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};

/// The current version; 404 if never created, 410 if deleted.
#[tracing::instrument(name = "fhir.read", skip(ctx), fields(resource_type = %rtype, id = %id))]
pub async fn read(ctx: &Context, rtype: ResourceType, id: &Id) -> Result<Versioned, FhirError> {
    let what = format!("{rtype}/{id}");
    match ctx.store.read_current(rtype.as_str(), id.as_str()).await? {
        None => Err(FhirError::NotFound(what)),
        Some(v) if v.is_deleted() => Err(FhirError::Gone(format!("{what} (version {})", v.version))),
        Some(v) => Ok(v.into()),
    }
}
