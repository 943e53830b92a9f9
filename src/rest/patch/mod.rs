//! patch — `PATCH [base]/[type]/[id]` (<https://hl7.org/fhir/R4/http.html#patch>)
//! with either of the two formats the spec names:
//!
//! - JSON Patch (`application/json-patch+json`, RFC 6902): [`JsonPatch`];
//! - FHIRPath Patch (a `Parameters` resource, in JSON or XML;
//!   <https://hl7.org/fhir/R4/fhirpatch.html>): [`FhirPathPatch`].
//!
//! Either way the current version is read, `If-Match` checked, the patch
//! applied, and the result checked and stored as an update would be.

mod fhirpath_patch;
mod json_patch;

use serde_json::Value;

use super::update::check_update_body;
use super::write::{check_if_match, check_profiles, store_version};
use super::{Context, IfMatch, Written};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::IssueType;
use crate::store::{Method, WriteTx};

pub use fhirpath_patch::FhirPathPatch;
pub use json_patch::JsonPatch;

/// A patch document in one of the supported formats.
#[derive(Debug)]
pub enum PatchDocument {
    Json(JsonPatch),
    FhirPath(FhirPathPatch),
}

impl PatchDocument {
    fn apply(&self, resource: &mut Value) -> Result<(), PatchError> {
        match self {
            PatchDocument::Json(patch) => patch.apply(resource),
            PatchDocument::FhirPath(patch) => patch.apply(resource),
        }
    }
}

/// Why a patch was refused; [`FhirError`] maps it to a status.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The document is not a valid patch (400). `expression` locates the
    /// fault in a FHIRPath Patch (`Parameters.parameter[1].part[0]`).
    #[error("{message}")]
    Invalid {
        code: IssueType,
        message: String,
        expression: Option<String>,
    },
    /// The patch is valid but cannot be applied to the current resource
    /// (422). `expression` names the FHIRPath Patch operation that failed.
    #[error("{message}")]
    NotApplicable {
        message: String,
        expression: Option<String>,
    },
}

#[tracing::instrument(name = "fhir.patch", skip(ctx, patch), fields(resource_type = %rtype, id = %id))]
pub async fn patch(
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    patch: &PatchDocument,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    let mut tx = ctx.store.begin().await?;
    let written = apply(&mut tx, ctx, rtype, id, patch, if_match).await?;
    crate::rest::write::commit(ctx, tx).await?;
    Ok(written)
}

pub(super) async fn apply(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    patch: &PatchDocument,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    let what = format!("{rtype}/{id}");
    let (current, body) = match tx.current_with_body(rtype.as_str(), id.as_str()).await? {
        None => return Err(FhirError::NotFound(what)),
        Some((c, _)) if c.deleted => return Err(FhirError::Gone(what)),
        Some((c, Some(body))) => (c, body),
        Some((_, None)) => return Err(FhirError::Gone(what)),
    };
    check_if_match(if_match, Some(&current), &what)?;
    let mut resource: Value = serde_json::from_slice(&body)
        .map_err(|e| FhirError::Store(crate::store::StoreError::Corrupt(format!("{what}: {e}"))))?;
    patch.apply(&mut resource)?;
    // A patch that produces an invalid resource is unprocessable (422), not a
    // malformed request.
    check_update_body(ctx, rtype, id, &resource).map_err(|e| match e {
        FhirError::Invalid(issues) => FhirError::Unprocessable(issues),
        other => other,
    })?;
    let warnings = check_profiles(ctx, &resource)?;
    let version = store_version(
        tx,
        ctx,
        rtype,
        id.as_str(),
        Some(&current),
        Some(resource),
        Method::Patch,
    )
    .await?;
    Ok(Written {
        version,
        created: false,
        warnings,
    })
}
