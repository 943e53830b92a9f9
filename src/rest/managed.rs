//! Writes the server makes itself to resources it manages: a Subscription's
//! `status` (and R4 `error`) as the subscription engine moves it through
//! `requested → active → error → off`. They are versions like any other
//! (history, the change feed), written only if the resource is still at the
//! version the decision was made on, so a client's concurrent update wins.

use serde_json::Value;

use super::write::write_version;
use super::Context;
use crate::error::FhirError;
use crate::model::ResourceType;
use crate::store::Method;
use crate::subscriptions::spec::Status;

/// Sets `Subscription/{id}`'s status if it is still at `expected_version`;
/// returns whether it wrote.
pub async fn set_subscription_status(
    ctx: &Context,
    id: &str,
    expected_version: i64,
    status: Status,
    error: Option<&str>,
) -> Result<bool, FhirError> {
    let rtype = ResourceType::parse("Subscription")
        .ok_or_else(|| FhirError::Internal("Subscription is not a resource type".into()))?;
    let mut tx = ctx.store.begin().await?;
    let Some((current, Some(body))) = tx.current_with_body(rtype.as_str(), id).await? else {
        return Ok(false);
    };
    if current.deleted || current.version != expected_version {
        return Ok(false);
    }
    let mut resource: Value = serde_json::from_slice(&body)
        .map_err(|e| FhirError::Internal(format!("stored Subscription/{id} is not JSON: {e}")))?;
    if resource["status"] == status.code() {
        return Ok(false);
    }
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("status".into(), Value::String(status.code().into()));
        match error {
            Some(e) => obj.insert("error".into(), Value::String(e.into())),
            None => obj.remove("error"),
        };
    }
    write_version(&mut tx, ctx, rtype, id, Some(&current), Some(resource), Method::Put).await?;
    super::write::commit(ctx, tx).await?;
    Ok(true)
}
