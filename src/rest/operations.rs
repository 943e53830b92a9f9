//! The terminology operations over HTTP's plain-function layer
//! (<https://hl7.org/fhir/R4/terminology-service.html>): `ValueSet/$expand`,
//! `ValueSet/$validate-code`, `CodeSystem/$lookup`,
//! `CodeSystem/$validate-code`, `CodeSystem/$subsumes` and
//! `ConceptMap/$translate`, at type level and on an instance; and
//! `$validate` on every type (`super::validate`). The work is
//! `crate::terminology`'s; this module picks the operation, reads the
//! instance, and runs it off the async workers (a large expansion is
//! CPU-bound).

use serde_json::{json, Value};

use super::{read, Context};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::terminology::{self, TerminologyError, TerminologyService};

type Run = fn(&TerminologyService, &Value, Option<&Value>) -> Result<Value, TerminologyError>;

/// The operations by resource type and name, for routing and for the
/// CapabilityStatement.
pub const OPERATIONS: &[(&str, &str, Run)] = &[
    ("ValueSet", "expand", terminology::expand),
    ("ValueSet", "validate-code", terminology::validate_code_value_set),
    ("CodeSystem", "lookup", terminology::lookup),
    ("CodeSystem", "validate-code", terminology::validate_code_code_system),
    ("CodeSystem", "subsumes", terminology::subsumes),
    ("ConceptMap", "translate", terminology::translate),
];

/// The canonical OperationDefinition of each operation, for the
/// CapabilityStatement.
pub fn definition_url(rtype: &str, name: &str) -> String {
    format!(
        "http://hl7.org/fhir/OperationDefinition/{}-{name}",
        rtype.to_lowercase()
    )
}

/// Runs `[type]/$name` or `[type]/[id]/$name` with its input Parameters.
pub async fn invoke(
    ctx: &Context,
    rtype: ResourceType,
    id: Option<&Id>,
    name: &str,
    parameters: Value,
) -> Result<Value, FhirError> {
    if name == super::validate::NAME {
        return super::validate::validate(ctx, rtype, id, parameters).await;
    }
    if rtype.as_str() == "Subscription" {
        return crate::subscriptions::operations::invoke(ctx, id, name, &parameters).await;
    }
    let Some(&(_, _, run)) = OPERATIONS.iter().find(|(t, n, _)| *t == rtype.as_str() && *n == name) else {
        return Err(FhirError::NotImplemented(format!("the operation ${name} on {rtype}")));
    };
    let instance = match id {
        Some(id) => Some(instance(ctx, rtype, id).await?),
        None => None,
    };
    let service = ctx.terminology.clone();
    let outcome = tokio::task::spawn_blocking(move || run(&service, &parameters, instance.as_ref()))
        .await
        .map_err(|e| FhirError::Internal(format!("terminology task failed: {e}")))?;
    Ok(outcome?)
}

/// GET query parameters as the operation's `Parameters` (every value a
/// string: a query carries no types, and the operations read any
/// `value[x]`).
pub fn query_parameters(query: &[(String, String)]) -> Value {
    let parameter: Vec<Value> = query
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, value)| json!({"name": name, "valueString": value}))
        .collect();
    json!({"resourceType": "Parameters", "parameter": parameter})
}

/// A POST body must be a Parameters resource, but `$validate` also takes
/// the resource to validate as the body.
pub fn body_parameters(rtype: ResourceType, name: &str, body: Value) -> Result<Value, FhirError> {
    if name == super::validate::NAME {
        return Ok(super::validate::as_parameters(rtype, body));
    }
    match body.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => Ok(body),
        other => Err(FhirError::invalid(
            crate::outcome::IssueType::Invalid,
            format!(
                "the body of an operation must be a Parameters resource, not {}",
                other.unwrap_or("something without a resourceType")
            ),
            Some("resourceType"),
        )),
    }
}

async fn instance(ctx: &Context, rtype: ResourceType, id: &Id) -> Result<Value, FhirError> {
    let current = read::read(ctx, rtype, id).await?;
    let body = current.body.unwrap_or_default();
    serde_json::from_slice(&body).map_err(|e| FhirError::Internal(format!("stored {rtype}/{id} is not JSON: {e}")))
}
