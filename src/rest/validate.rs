//! $validate — `POST [base]/[type]/$validate` and `GET|POST
//! [base]/[type]/[id]/$validate`
//! (<https://hl7.org/fhir/R4/resource-operation-validate.html>).
//!
//! The answer is always 200 with an OperationOutcome: what is wrong with
//! the resource is the result, not a failure of the request (a request
//! without a resource to validate, or with an unknown `mode`, is a 400).
//! The resource is checked structurally (the R4 schema), against its base
//! definition, the profiles in its `meta.profile`, and the `profile`
//! parameter; `mode` adds what the write would check:
//!
//! - `create`: the write policy's enforced profiles; an `id` is noted as
//!   ignored (the server assigns one);
//! - `update`: the enforced profiles, and the update rules (the body
//!   carries the id of the URL; whether update may create);
//! - `delete`: whether the resource may be deleted. Ipê does not enforce
//!   referential integrity, so a resource that exists may always be
//!   deleted; the outcome says so. References to it are not looked for.

use serde_json::{json, Value};

use super::write::check_type;
use super::{read, update, Context};
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::{operation_outcome, Issue, IssueType, Severity};

/// The operation's name and its OperationDefinition, for the
/// CapabilityStatement.
pub const NAME: &str = "validate";
pub const DEFINITION: &str = "http://hl7.org/fhir/OperationDefinition/Resource-validate";

/// `mode` (value set `resource-validation-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No mode: is the resource valid?
    General,
    Create,
    Update,
    Delete,
}

/// The body of a `$validate` POST as Parameters: the resource itself may be
/// posted as the body. A Parameters body is taken as the operation's
/// parameters unless the type addressed is Parameters and it carries none
/// of this operation's parameters (then it is the resource to validate).
pub fn as_parameters(rtype: ResourceType, body: Value) -> Value {
    let is_parameters = body.get("resourceType").and_then(Value::as_str) == Some("Parameters");
    let ours = |p: &Value| matches!(p["name"].as_str(), Some("resource" | "mode" | "profile"));
    let has_ours = body["parameter"].as_array().is_some_and(|list| list.iter().any(ours));
    if is_parameters && (rtype.as_str() != "Parameters" || has_ours) {
        body
    } else {
        json!({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": body}]})
    }
}

/// Runs `$validate` on `rtype` (and instance `id`) with its Parameters.
#[tracing::instrument(name = "fhir.validate", skip_all, fields(resource_type = %rtype))]
pub async fn validate(
    ctx: &Context,
    rtype: ResourceType,
    id: Option<&Id>,
    parameters: Value,
) -> Result<Value, FhirError> {
    let mode = mode(&parameters)?;
    if mode == Mode::Delete {
        return delete(ctx, rtype, id).await;
    }
    let resource = match (parameter(&parameters, "resource").map(|p| p["resource"].clone()), id) {
        (Some(resource), _) if !resource.is_null() => resource,
        // The instance as stored.
        (_, Some(id)) if mode == Mode::General => stored(ctx, rtype, id).await?,
        _ => {
            return Err(FhirError::invalid(
                IssueType::Required,
                "$validate needs the resource to validate: post it as the body, or as the parameter 'resource'",
                None,
            ))
        }
    };
    let profiles: Vec<String> = parameters["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "profile")
        .filter_map(value_text)
        .map(str::to_owned)
        .collect();
    let mut issues = match check_type(rtype, &resource) {
        Ok(()) => Vec::new(),
        Err(e) => e.issues(),
    };
    issues.extend(mode_rules(ctx, rtype, id, mode, &resource).await?);
    let ctx = ctx.clone();
    let checked = tokio::task::spawn_blocking(move || content_issues(&ctx, mode, &resource, &profiles))
        .await
        .map_err(|e| FhirError::Internal(format!("validation task failed: {e}")))?;
    issues.extend(checked);
    Ok(operation_outcome(&issues))
}

/// The structural and profile checks (CPU work, off the async workers).
fn content_issues(ctx: &Context, mode: Mode, resource: &Value, requested: &[String]) -> Vec<Issue> {
    let mut issues = ctx.validator.validate(resource);
    // A profile asked for by name must be one the server can validate
    // against (the spec: else it SHALL return an error).
    let (known, unknown): (Vec<String>, Vec<String>) = requested
        .iter()
        .cloned()
        .partition(|p| ctx.canonicals.structure_definition(p).is_some());
    for profile in unknown {
        issues.push(
            Issue::error(
                IssueType::NotSupported,
                format!(
                    "the profile {profile} is not known to this server, so the resource was not validated against it"
                ),
            )
            .at("Parameters.parameter.where(name = 'profile')"),
        );
    }
    let policy = &ctx.write_policy;
    let mut found = ctx
        .profiles
        .validate(resource, &known, policy.unknown_profile.severity());
    if matches!(mode, Mode::Create | Mode::Update) {
        let enforced = policy.enforced_issues(&ctx.profiles, resource, &found);
        found.extend(enforced);
    }
    crate::validation::merge(issues, found)
}

/// What the write itself would refuse, beyond the content.
async fn mode_rules(
    ctx: &Context,
    rtype: ResourceType,
    id: Option<&Id>,
    mode: Mode,
    resource: &Value,
) -> Result<Vec<Issue>, FhirError> {
    let mut issues = Vec::new();
    match mode {
        Mode::Create if resource.get("id").is_some() => issues.push(Issue {
            severity: Severity::Information,
            code: IssueType::Informational,
            diagnostics: "a create ignores the id sent: the server assigns one".into(),
            expression: Some(format!("{rtype}.id")),
        }),
        Mode::Update => {
            let id = match (id, resource.get("id").and_then(Value::as_str).and_then(Id::parse)) {
                (Some(id), _) => id.clone(),
                (None, Some(id)) => id,
                (None, None) => {
                    issues.push(
                        Issue::error(IssueType::Required, "an update needs the resource's id")
                            .at(format!("{rtype}.id")),
                    );
                    return Ok(issues);
                }
            };
            if let Err(e) = update::check_id(rtype, &id, resource) {
                issues.extend(e.issues());
            }
            let exists = match read::read(ctx, rtype, &id).await {
                Ok(_) | Err(FhirError::Gone(_)) => true,
                Err(FhirError::NotFound(_)) => false,
                Err(other) => return Err(other),
            };
            if !ctx.update_create && !exists {
                issues.push(Issue::error(
                    IssueType::NotSupported,
                    format!("{rtype}/{id} does not exist and this server does not let clients choose ids (update as create is off)"),
                ));
            }
        }
        _ => {}
    }
    Ok(issues)
}

/// `mode=delete`: whether `rtype/id` may be deleted.
async fn delete(ctx: &Context, rtype: ResourceType, id: Option<&Id>) -> Result<Value, FhirError> {
    let Some(id) = id else {
        return Err(FhirError::invalid(
            IssueType::Required,
            "mode=delete validates deleting one resource: use [type]/[id]/$validate",
            None,
        ));
    };
    read::read(ctx, rtype, id).await?;
    Ok(operation_outcome(&[Issue::information(format!(
        "{rtype}/{id} may be deleted: this server does not enforce referential integrity, \
         so references to it do not prevent the delete (they are left as they are)"
    ))]))
}

async fn stored(ctx: &Context, rtype: ResourceType, id: &Id) -> Result<Value, FhirError> {
    let current = read::read(ctx, rtype, id).await?;
    let body = current.body.unwrap_or_default();
    serde_json::from_slice(&body).map_err(|e| FhirError::Internal(format!("stored {rtype}/{id} is not JSON: {e}")))
}

fn mode(parameters: &Value) -> Result<Mode, FhirError> {
    let Some(p) = parameter(parameters, "mode") else {
        return Ok(Mode::General);
    };
    match value_text(p) {
        Some("create") => Ok(Mode::Create),
        Some("update") => Ok(Mode::Update),
        Some("delete") => Ok(Mode::Delete),
        other => Err(FhirError::invalid(
            IssueType::Value,
            format!("mode '{}' is not one of create, update, delete", other.unwrap_or("")),
            Some("Parameters.parameter.where(name = 'mode')"),
        )),
    }
}

fn parameter<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    parameters["parameter"].as_array()?.iter().find(|p| p["name"] == name)
}

/// A parameter's value as text, whatever its `value[x]` (a query gives
/// `valueString`; clients send `valueCode`, `valueUri`, `valueCanonical`).
fn value_text(p: &Value) -> Option<&str> {
    p.as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("value"))
        .and_then(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtype(name: &str) -> ResourceType {
        ResourceType::parse(name).unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn a_bare_resource_becomes_the_resource_parameter() {
        let p = as_parameters(rtype("Patient"), json!({"resourceType": "Patient"}));
        assert_eq!(p["parameter"][0]["name"], "resource");
        assert_eq!(p["parameter"][0]["resource"]["resourceType"], "Patient");
    }

    #[test]
    fn parameters_are_the_operation_s_unless_validating_a_parameters_resource() {
        let wrapped = json!({"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "create"}]});
        assert_eq!(as_parameters(rtype("Patient"), wrapped.clone()), wrapped);
        assert_eq!(as_parameters(rtype("Parameters"), wrapped.clone()), wrapped);
        let other = json!({"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]});
        assert_eq!(
            as_parameters(rtype("Parameters"), other.clone())["parameter"][0]["resource"],
            other
        );
    }

    #[test]
    fn mode_is_read_from_any_value_and_unknown_modes_are_refused() {
        let p = |v: Value| json!({"parameter": [{"name": "mode", "valueCode": v}]});
        assert_eq!(mode(&p(json!("update"))).ok(), Some(Mode::Update));
        assert_eq!(mode(&json!({})).ok(), Some(Mode::General));
        assert!(matches!(mode(&p(json!("patch"))), Err(FhirError::Invalid(_))));
    }
}
