//! The part of every write that is the same for create, update, patch and
//! delete: checking the body, stamping `id` and `meta`, extracting what the
//! version is indexed under, and storing it inside a write transaction.

use serde_json::{Map, Value};

use super::{Context, Versioned};
use crate::clock::instant;
use crate::error::FhirError;
use crate::index::{self, Extraction, Registry};
use crate::model::ResourceType;
use crate::outcome::{Issue, IssueType};
use crate::store::{Current, Method, NewVersion, WriteTx};
use crate::validation::policy::Verdict;

/// Structural checks of a resource sent for `rtype`; a SearchParameter
/// must also be one search can use.
pub(super) fn check_body(ctx: &Context, rtype: ResourceType, resource: &Value) -> Result<(), FhirError> {
    check_type(rtype, resource)?;
    check_structure(ctx, resource)?;
    if rtype.as_str() == "SearchParameter" {
        crate::reindex::check_search_parameter(resource)?;
    }
    Ok(())
}

/// Commits `tx`; if it wrote SearchParameters, asks for the registry to be
/// rebuilt and their reindex jobs started (`crate::reindex`, in the
/// background: a package of a thousand SearchParameters costs one rebuild,
/// not a thousand).
///
/// Conformance resources it wrote go into the canonical registry once the
/// commit has succeeded, never before: a rolled-back ValueSet must not be
/// used.
pub(super) async fn commit(ctx: &Context, mut tx: WriteTx) -> Result<(), FhirError> {
    let search_parameters_changed = tx.has_written("SearchParameter");
    let conformance = tx.take_conformance_writes();
    tx.commit().await?;
    // The subscription dispatcher reads the feed this commit appended to.
    ctx.subscriptions.feed_changed.notify_one();
    super::canonicals::apply(ctx, &conformance);
    if search_parameters_changed {
        ctx.registry.refresh_wanted.notify_one();
    }
    Ok(())
}

/// The structural (schema and FHIR JSON) checks alone; none when the
/// deployment switched validation off.
pub(super) fn check_structure(ctx: &Context, resource: &Value) -> Result<(), FhirError> {
    if !ctx.write_policy.structural() {
        return Ok(());
    }
    let issues = ctx.validator.validate(resource);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError::Invalid(issues))
    }
}

/// The profile checks of the write policy (`declared`, `enforced`) on a
/// resource about to be stored: 422 with every issue found when one is an
/// error, else the warnings. Run where each version is written, so entries
/// of a transaction are checked with their references already rewritten,
/// and a patch is checked on its result.
pub(super) fn check_profiles(ctx: &Context, resource: &Value) -> Result<Vec<Issue>, FhirError> {
    match ctx.write_policy.check(&ctx.profiles, resource) {
        Verdict::Accepted(warnings) => Ok(warnings),
        Verdict::Refused(issues) => Err(FhirError::Unprocessable(issues)),
    }
}

/// The body is a resource of the type the request addresses.
pub(super) fn check_type(rtype: ResourceType, resource: &Value) -> Result<(), FhirError> {
    let Some(obj) = resource.as_object() else {
        return Err(FhirError::invalid(
            IssueType::Structure,
            "the body must be a JSON object (a FHIR resource)",
            None,
        ));
    };
    match obj.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == rtype.as_str() => {}
        Some(t) => {
            return Err(FhirError::invalid(
                IssueType::Invalid,
                format!("resourceType is '{t}' but the URL is for {rtype}"),
                Some("resourceType"),
            ))
        }
        None => {
            return Err(FhirError::invalid(
                IssueType::Required,
                "resourceType is missing",
                Some("resourceType"),
            ))
        }
    }
    Ok(())
}

/// Stores `resource` (or a tombstone when `None`) as the version after
/// `prev`: a client's write. Subscriptions and topics are checked here, the
/// one place every write path (create, update, patch, conditional,
/// transaction entries) stores through.
pub(super) async fn store_version(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &str,
    prev: Option<&Current>,
    resource: Option<Value>,
    method: Method,
) -> Result<Versioned, FhirError> {
    let resource = match resource {
        Some(mut r) => {
            crate::subscriptions::admit(ctx, &mut r).await?;
            Some(r)
        }
        None => None,
    };
    write_version(tx, ctx, rtype, id, prev, resource, method).await
}

/// [`store_version`] without the client-write checks (the server's own
/// writes, `super::managed`).
pub(super) async fn write_version(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    id: &str,
    prev: Option<&Current>,
    resource: Option<Value>,
    method: Method,
) -> Result<Versioned, FhirError> {
    let version = prev.map_or(1, |p| p.version + 1);
    // Versions of one resource must be ordered by lastUpdated even if the
    // clock steps back.
    let last_updated = prev.map_or(0, |p| p.last_updated + 1).max(ctx.clock.now_micros());
    let (body, index) = match resource {
        Some(r) => {
            check_contained_count(&r)?;
            let stamped = stamp(r, id, version, last_updated)?;
            let index = index_entries(&ctx.registry.current(), &stamped);
            (Some(serialise(&stamped)?), index)
        }
        None => (None, Extraction::default()),
    };
    tx.write(
        prev,
        NewVersion {
            resource_type: rtype.as_str(),
            id,
            version,
            last_updated,
            method,
            body: body.as_deref(),
            index: index.entries,
            contained: index.contained,
        },
    )
    .await?;
    Ok(Versioned {
        resource_type: rtype.as_str().to_string(),
        id: id.to_string(),
        version,
        last_updated,
        body,
    })
}

/// Contained resources a resource may have: their index rows are keyed by
/// position, in a range of 2^20 per resource (migrations/*/
/// `…_contained_resources.sql`).
const MAX_CONTAINED: usize = (1 << 20) - 1;

fn check_contained_count(resource: &Value) -> Result<(), FhirError> {
    let count = resource.get("contained").and_then(Value::as_array).map_or(0, Vec::len);
    if count > MAX_CONTAINED {
        return Err(FhirError::invalid(
            IssueType::TooCostly,
            format!("{count} contained resources; at most {MAX_CONTAINED} are accepted"),
            Some("contained"),
        ));
    }
    Ok(())
}

/// What a stamped resource is indexed under, by the server's
/// SearchParameters (the base R4 ones and those stored on it). Extraction never fails: an expression that errors on
/// this resource leaves its parameter unindexed for it, which is logged.
///
/// This is CPU work on the calling task (tens of µs per resource; see
/// docs/PERFORMANCE.md), done here because it needs the final `id` and
/// `meta`. For a transaction Bundle it adds up on the HTTP worker, as the
/// structural validation of the Bundle already does.
fn index_entries(registry: &Registry, stamped: &Value) -> Extraction {
    let extraction = index::extract(registry, stamped);
    for (param, error) in &extraction.skipped {
        tracing::warn!(search_parameter = %param, %error, "not indexed: the expression failed on this resource");
    }
    extraction
}

/// Sets `id`, `meta.versionId` and `meta.lastUpdated` (keeping the rest of
/// `meta`), with `id` and `meta` first after `resourceType`.
fn stamp(resource: Value, id: &str, version: i64, last_updated: i64) -> Result<Value, FhirError> {
    let Value::Object(mut obj) = resource else {
        return Err(FhirError::invalid(
            IssueType::Structure,
            "the body must be a JSON object",
            None,
        ));
    };
    let mut meta = match obj.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.remove("versionId");
    meta.remove("lastUpdated");
    let mut stamped_meta = Map::new();
    stamped_meta.insert("versionId".into(), Value::String(version.to_string()));
    stamped_meta.insert("lastUpdated".into(), Value::String(instant(last_updated)));
    stamped_meta.extend(meta);

    let mut out = Map::new();
    if let Some(t) = obj.remove("resourceType") {
        out.insert("resourceType".into(), t);
    }
    obj.remove("id");
    out.insert("id".into(), Value::String(id.to_string()));
    out.insert("meta".into(), Value::Object(stamped_meta));
    out.extend(obj);
    Ok(Value::Object(out))
}

/// The stored (and served) bytes of a stamped resource.
fn serialise(stamped: &Value) -> Result<Vec<u8>, FhirError> {
    serde_json::to_vec(stamped).map_err(|e| {
        FhirError::Invalid(vec![Issue::error(
            IssueType::Exception,
            format!("cannot serialise: {e}"),
        )])
    })
}

/// `If-Match` against the current version.
pub(super) fn check_if_match(if_match: super::IfMatch, prev: Option<&Current>, what: &str) -> Result<(), FhirError> {
    match (if_match.0, prev) {
        (None, _) => Ok(()),
        (Some(want), Some(p)) if p.version == want && !p.deleted => Ok(()),
        (Some(want), Some(p)) => Err(FhirError::PreconditionFailed(format!(
            "{what} is at version {}{}, not {want} (If-Match)",
            p.version,
            if p.deleted { " (deleted)" } else { "" }
        ))),
        (Some(want), None) => Err(FhirError::PreconditionFailed(format!(
            "{what} does not exist, so it is not at version {want} (If-Match)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamp_puts_id_and_meta_first_and_keeps_profiles_and_decimals() {
        let r: Value = serde_json::from_str(
            r#"{"valueQuantity":{"value":1.50},"resourceType":"Observation","meta":{"profile":["p"],"versionId":"9"},"id":"old"}"#,
        )
        .unwrap_or_default();
        let bytes = stamp(r, "new", 3, 0).and_then(|s| serialise(&s)).unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(text.starts_with(r#"{"resourceType":"Observation","id":"new","meta":{"versionId":"3","lastUpdated":"1970-01-01T00:00:00.000000Z","profile":["p"]}"#), "{text}");
        assert!(text.contains("1.50"), "decimal precision lost: {text}");
    }

    #[test]
    fn stamp_refuses_non_objects() {
        assert!(stamp(json!([1]), "a", 1, 0).is_err());
    }
}
