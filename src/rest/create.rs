//! create — `POST [base]/[type]` (<https://hl7.org/fhir/R4/http.html#create>).

use serde_json::Value;

use super::write::{check_body, check_profiles, store_version};
use super::{Context, Written};
use crate::error::FhirError;
use crate::model::ResourceType;
use crate::store::{Method, WriteTx};

/// Creates `resource` with a server-assigned id (any `id` sent is ignored,
/// as the spec requires).
#[tracing::instrument(name = "fhir.create", skip_all, fields(resource_type = %rtype))]
pub async fn create(ctx: &Context, rtype: ResourceType, resource: Value) -> Result<Written, FhirError> {
    check_body(ctx, rtype, &resource)?;
    let mut tx = ctx.store.begin().await?;
    let id = ctx.ids.new_id();
    let written = apply(&mut tx, ctx, rtype, &id, resource).await?;
    super::write::commit(ctx, tx).await?;
    Ok(written)
}

/// The create inside an open transaction, with the id already chosen
/// (transactions choose ids up front to rewrite references). `resource` must
/// already have passed [`check_body`].
pub(super) async fn apply(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &str,
    resource: Value,
) -> Result<Written, FhirError> {
    let warnings = check_profiles(ctx, &resource)?;
    let version = store_version(tx, ctx, rtype, id, None, Some(resource), Method::Post).await?;
    Ok(Written {
        version,
        created: true,
        warnings,
    })
}
