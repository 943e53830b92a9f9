//! batch — `POST [base]` with a `batch` Bundle
//! (<https://hl7.org/fhir/R4/http.html#batch>): every entry is carried out on
//! its own, with its own status; one failing does not affect the others.

use std::collections::HashMap;

use serde_json::Value;

use super::bundle_entry::{self, EntryResult};
use super::conditional;
use super::transaction::respond;
use super::{Context, Return};
use crate::error::FhirError;

#[tracing::instrument(name = "fhir.batch", skip_all)]
pub(super) async fn batch(ctx: &Context, mut bundle: Value, base: &str, ret: Return) -> Result<Vec<u8>, FhirError> {
    let entries = bundle_entry::take_entries(&mut bundle);
    let mut results = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let result = match bundle_entry::parse(i, entry, base) {
            Ok(e) => one(ctx, e.action, base).await,
            Err(e) => Err(e),
        };
        results.push(result.unwrap_or_else(|e| {
            if e.is_server_error() {
                tracing::error!(entry = i, error = ?e, "batch entry failed");
            }
            EntryResult::failed(&e)
        }));
    }
    Ok(respond(ctx, "batch-response", results.into_iter(), base, ret))
}

async fn one(ctx: &Context, mut action: bundle_entry::Action, base: &str) -> Result<EntryResult, FhirError> {
    if action.is_read() {
        return bundle_entry::read(ctx, &action, base).await;
    }
    bundle_entry::check(&action)?;
    let new_id = ctx.ids.new_id();
    let mut tx = ctx.store.begin().await?;
    let mut known = HashMap::new();
    for json in action.written_json_mut() {
        conditional::resolve_references(&mut tx, ctx, base, json, &mut known).await?;
    }
    let result = bundle_entry::write(&mut tx, ctx, action, &new_id).await?;
    super::write::commit(ctx, tx).await?;
    Ok(result)
}
