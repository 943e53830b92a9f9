//! Conformance resources stored through the REST API (ValueSet, CodeSystem,
//! StructureDefinition, …) are part of the canonical registry: live as soon
//! as their write commits, and loaded from the database at start.

use std::sync::Arc;

use serde_json::Value;

use super::Context;
use crate::error::FhirError;
use crate::packages::registry::CANONICAL_TYPES;
use crate::packages::Origin;
use crate::store::ConformanceWrite;

/// Applies committed writes to the registry, in commit order.
pub(super) fn apply(ctx: &Context, writes: &[ConformanceWrite]) {
    for write in writes {
        // The URL may have changed: drop what this resource was before.
        ctx.canonicals.remove_server(&write.id, &write.resource_type);
        let Some(body) = &write.body else { continue };
        match serde_json::from_slice::<Value>(body) {
            Ok(resource) => {
                ctx.canonicals
                    .insert_value(Arc::new(resource), Origin::Server(write.id.clone()));
            }
            Err(error) => tracing::error!(%error, id = %write.id, "a stored conformance resource is not JSON"),
        }
    }
}

/// At start: every current conformance resource of the database.
pub async fn load_stored(ctx: &Context) -> Result<usize, FhirError> {
    let mut count = 0;
    for rtype in CANONICAL_TYPES {
        for body in ctx.store.current_bodies(rtype).await? {
            let Ok(resource) = serde_json::from_slice::<Value>(&body) else {
                continue;
            };
            let Some(id) = resource.get("id").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if ctx.canonicals.insert_value(Arc::new(resource), Origin::Server(id)) {
                count += 1;
            }
        }
    }
    Ok(count)
}
