//! `_containedType=contained` (<https://hl7.org/fhir/R4/search.html#contained>):
//! a contained match is returned as itself. The search statement reads its
//! container's current version (the contained resource has no version of
//! its own); here the contained resource is taken out of it.

use serde_json::Value;

use crate::error::FhirError;
use crate::store::{FoundRow, StoreError};

/// Replaces the body of each contained row (one with a container) by the
/// contained resource it stands for.
pub(crate) fn take_out(rows: &mut [FoundRow]) -> Result<(), FhirError> {
    for row in rows.iter_mut().filter(|row| row.container.is_some()) {
        row.body = contained_body(&row.body, &row.resource_type, &row.id)?;
    }
    Ok(())
}

/// The JSON of the contained resource `rtype` / `id` of `container`.
fn contained_body(container: &[u8], rtype: &str, id: &str) -> Result<Vec<u8>, FhirError> {
    let corrupt = |why: &str| FhirError::Store(StoreError::Corrupt(format!("contained {rtype}/{id}: {why}")));
    let container: Value = serde_json::from_slice(container).map_err(|_| corrupt("the container is not JSON"))?;
    let found = container
        .get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| {
            c.get("resourceType").and_then(Value::as_str) == Some(rtype)
                && c.get("id").and_then(Value::as_str) == Some(id)
        })
        .ok_or_else(|| corrupt("not in its container's current version"))?;
    serde_json::to_vec(found).map_err(|_| corrupt("cannot be serialised"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_contained_resource_is_taken_out_of_its_container_by_type_and_id() {
        let container = json!({"resourceType": "MedicationRequest", "id": "rx", "contained": [
            {"resourceType": "Medication", "id": "m1", "status": "active"},
            {"resourceType": "Organization", "id": "m1", "name": "same id, other type"}
        ]})
        .to_string();
        let body = contained_body(container.as_bytes(), "Organization", "m1").unwrap_or_default();
        let found: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(found["name"], "same id, other type");
        assert!(contained_body(container.as_bytes(), "Medication", "m2").is_err());
    }
}
