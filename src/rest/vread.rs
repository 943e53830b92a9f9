//! vread — `GET [base]/[type]/[id]/_history/[vid]` (<https://hl7.org/fhir/R4/http.html#vread>).

use super::{Context, Versioned};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::IssueType;

/// One version; 404 if it never existed, 410 if that version is a deletion.
#[tracing::instrument(name = "fhir.vread", skip(ctx), fields(resource_type = %rtype, id = %id))]
pub async fn vread(ctx: &Context, rtype: ResourceType, id: &Id, vid: &str) -> Result<Versioned, FhirError> {
    let Some(version) = vid.parse::<i64>().ok().filter(|v| *v > 0) else {
        return Err(FhirError::invalid(
            IssueType::Value,
            format!("'{vid}' is not a version id of this server"),
            None,
        ));
    };
    let what = format!("{rtype}/{id}/_history/{vid}");
    match ctx.store.read_version(rtype.as_str(), id.as_str(), version).await? {
        None => Err(FhirError::NotFound(what)),
        Some(v) if v.is_deleted() => Err(FhirError::Gone(what)),
        Some(v) => Ok(v.into()),
    }
}
