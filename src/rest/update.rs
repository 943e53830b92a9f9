//! update — `PUT [base]/[type]/[id]` (<https://hl7.org/fhir/R4/http.html#update>).

use serde_json::Value;

use super::write::{check_body, check_if_match, check_profiles, store_version};
use super::{Context, IfMatch, Written};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::IssueType;
use crate::store::{Method, WriteTx};

/// Stores a new version of `rtype/id`, or creates it when allowed.
#[tracing::instrument(name = "fhir.update", skip(ctx, resource), fields(resource_type = %rtype, id = %id))]
pub async fn update(
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    resource: Value,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    check_update_body(ctx, rtype, id, &resource)?;
    let mut tx = ctx.store.begin().await?;
    let written = apply(&mut tx, ctx, rtype, id, resource, if_match, Method::Put).await?;
    super::write::commit(ctx, tx).await?;
    Ok(written)
}

/// The body of an update is valid and carries the id of the URL.
pub(super) fn check_update_body(
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    resource: &Value,
) -> Result<(), FhirError> {
    check_body(ctx, rtype, resource)?;
    check_id(rtype, id, resource)
}

/// The body of an update must carry the id of the URL.
pub(super) fn check_id(rtype: ResourceType, id: &Id, resource: &Value) -> Result<(), FhirError> {
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id.as_str() => Ok(()),
        Some(body_id) => Err(FhirError::invalid(
            IssueType::Invalid,
            format!("the resource id '{body_id}' does not match the URL id '{id}'"),
            Some(&format!("{rtype}.id")),
        )),
        None => Err(FhirError::invalid(
            IssueType::Required,
            format!("an update must carry the id of the URL ('{id}') in the resource"),
            Some(&format!("{rtype}.id")),
        )),
    }
}

/// The update inside an open transaction; `resource` has passed
/// [`check_update_body`].
pub(super) async fn apply(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    resource: Value,
    if_match: IfMatch,
    method: Method,
) -> Result<Written, FhirError> {
    let prev = tx.current(rtype.as_str(), id.as_str()).await?;
    check_if_match(if_match, prev.as_ref(), &format!("{rtype}/{id}"))?;
    let created = prev.as_ref().is_none_or(|p| p.deleted);
    if prev.is_none() && !ctx.update_create {
        return Err(FhirError::MethodNotAllowed(format!(
            "{rtype}/{id} does not exist and this server does not let clients choose ids (update as create is off)"
        )));
    }
    let warnings = check_profiles(ctx, &resource)?;
    let version = store_version(tx, ctx, rtype, id.as_str(), prev.as_ref(), Some(resource), method).await?;
    Ok(Written {
        version,
        created,
        warnings,
    })
}
