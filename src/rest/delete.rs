//! delete — `DELETE [base]/[type]/[id]` (<https://hl7.org/fhir/R4/http.html#delete>).
//!
//! Deletion is soft: a tombstone version is written, reads then answer 410
//! Gone and history keeps every version.

use super::write::{check_if_match, store_version};
use super::{Context, IfMatch, Versioned};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::store::{Method, WriteTx};

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// A tombstone version was written.
    Now(Versioned),
    /// It was deleted already; nothing was written.
    Already { version: i64 },
}

#[tracing::instrument(name = "fhir.delete", skip(ctx), fields(resource_type = %rtype, id = %id))]
pub async fn delete(ctx: &Context, rtype: ResourceType, id: &Id, if_match: IfMatch) -> Result<Deleted, FhirError> {
    let mut tx = ctx.store.begin().await?;
    let deleted = apply(&mut tx, ctx, rtype, id, if_match).await?;
    super::write::commit(ctx, tx).await?;
    Ok(deleted)
}

pub(super) async fn apply(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &Id,
    if_match: IfMatch,
) -> Result<Deleted, FhirError> {
    let what = format!("{rtype}/{id}");
    let prev = tx.current(rtype.as_str(), id.as_str()).await?;
    match prev {
        None => Err(FhirError::NotFound(what)),
        Some(p) if p.deleted => Ok(Deleted::Already { version: p.version }),
        Some(p) => {
            check_if_match(if_match, Some(&p), &what)?;
            let v = store_version(tx, ctx, rtype, id.as_str(), Some(&p), None, Method::Delete).await?;
            Ok(Deleted::Now(v))
        }
    }
}
