//! patch — `PATCH [base]/[type]/[id]` with a JSON Patch document
//! (<https://hl7.org/fhir/R4/http.html#patch>). FHIRPath Patch is not built
//! yet and is refused with 415 by the HTTP layer.

use serde_json::Value;

use super::update::check_update_body;
use super::write::{check_if_match, store_version};
use super::{Context, IfMatch, Written};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::{Issue, IssueType};
use crate::store::{Method, WriteTx};

/// A parsed JSON Patch document (RFC 6902).
pub struct JsonPatch(json_patch::Patch);

impl JsonPatch {
    pub fn parse(doc: &Value) -> Result<Self, FhirError> {
        serde_json::from_value::<json_patch::Patch>(doc.clone())
            .map(JsonPatch)
            .map_err(|e| FhirError::invalid(IssueType::Invalid, format!("invalid JSON Patch document: {e}"), None))
    }
}

#[tracing::instrument(name = "fhir.patch", skip(ctx, patch), fields(resource_type = %rtype, id = %id))]
pub async fn patch(
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    patch: &JsonPatch,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    let mut tx = ctx.store.begin().await?;
    let written = apply(&mut tx, ctx, rtype, id, patch, if_match).await?;
    tx.commit().await?;
    Ok(written)
}

pub(super) async fn apply(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    patch: &JsonPatch,
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
    json_patch::patch(&mut resource, &patch.0).map_err(|e| {
        FhirError::Unprocessable(vec![Issue::error(
            IssueType::Processing,
            format!("the patch cannot be applied: {e}"),
        )])
    })?;
    // A patch that produces an invalid resource is unprocessable (422), not a
    // malformed request.
    check_update_body(ctx, rtype, id, &resource).map_err(|e| match e {
        FhirError::Invalid(issues) => FhirError::Unprocessable(issues),
        other => other,
    })?;
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
    })
}
