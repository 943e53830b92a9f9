//! SearchParameters defined on the server, and the background jobs that
//! index what was written before they were
//! (<https://hl7.org/fhir/R4/searchparameter.html>).
//!
//! A SearchParameter written through the REST API (create, update, delete,
//! in a Bundle or not) is checked first ([`check_search_parameter`]: search
//! must be able to use it). After its commit, the refresher task
//! ([`spawn_refresher`]) rebuilds the registry from the base R4 parameters
//! and every stored SearchParameter and swaps it in — once for a burst of
//! changes — and from then on every write is indexed under the new
//! parameter. For each stored parameter whose definition (expression, type,
//! bases) is not the base R4 one and has no job yet, a job is recorded (`reindex_jobs`) and run in the
//! background: it re-extracts that parameter for every current resource of
//! its types, in batches, each batch one transaction that also saves the
//! job's progress. Until it finishes, searches on the parameter carry a
//! warning instead of silently missing older resources, and
//! `GET [base]/$reindex-status` shows each job's progress.
//!
//! Two passes: `scan` visits every resource once; `catch-up` visits again
//! those written since shortly before the job began, because a write that
//! extracted its rows with the old registry may commit after the scan
//! passed its resource. A job stopped by a crash resumes from its saved
//! key at the next start ([`resume`]). Jobs are idempotent, so a job run
//! twice (two nodes starting at once) only costs time.
//!
//! Known limit: another node learns of a new SearchParameter at its next
//! start, not at once.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::FhirError;
use crate::index::{self, Registry};
use crate::outcome::IssueType;
use crate::rest::Context;
use crate::store::ReindexJob;

/// Resources per batch (one transaction each).
const BATCH: i64 = 200;

/// How long before a job began a write may have extracted its rows and
/// still commit after the scan: the catch-up pass covers that window.
const CATCH_UP_WINDOW_MICROS: i64 = 5 * 60 * 1_000_000;

/// Refresh is one at a time, so two SearchParameter writes in a row cannot
/// swap registries out of order.
static REFRESH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A SearchParameter search can use, or a 400 naming why not. Retired ones
/// are stored and not used, so anything goes.
pub fn check_search_parameter(resource: &Value) -> Result<(), FhirError> {
    if is_retired(resource) {
        return Ok(());
    }
    Registry::from_resources([resource])
        .map(|_| ())
        .map_err(|e| FhirError::invalid(IssueType::Invalid, e.to_string(), Some("SearchParameter")))
}

fn is_retired(resource: &Value) -> bool {
    resource.get("status").and_then(Value::as_str) == Some("retired")
}

/// The task that refreshes the registry whenever stored SearchParameters
/// changed ([`LiveRegistry::refresh_wanted`](crate::index::LiveRegistry)).
pub fn spawn_refresher(ctx: &Context) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        loop {
            ctx.registry.refresh_wanted.notified().await;
            if let Err(error) = refresh(&ctx).await {
                tracing::error!(%error, "the SearchParameter registry was not refreshed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                ctx.registry.refresh_wanted.notify_one();
            }
        }
    });
}

/// Rebuilds the registry from the SearchParameters of the loaded packages
/// and those stored on the server (later ones win: a stored parameter
/// replaces a package's of the same URL or base and code), swaps it in, and
/// starts a reindex job for each definition that has none yet — so a
/// package switched on over existing data gets its parameters indexed.
pub async fn refresh(ctx: &Context) -> Result<(), FhirError> {
    let _one_at_a_time = REFRESH.lock().await;
    let mut stored = package_search_parameters(ctx);
    stored.extend(stored_search_parameters(ctx).await?);
    let (registry, rejected) = Registry::r4_with(&stored);
    for error in rejected {
        tracing::warn!(%error, "stored SearchParameter left out");
    }
    // Only parameters the registry took get a job.
    let keys: Vec<_> = stored
        .iter()
        .filter_map(job_key)
        .filter(|(url, ..)| registry.by_url(url).is_some())
        .collect();
    ctx.registry.replace(registry);
    let now = ctx.clock.now_micros();
    for (url, definition, code, types) in keys {
        // The base definition stored as a resource: indexed already.
        if base_definitions().contains(&(url.clone(), definition.clone())) {
            continue;
        }
        if let Some(job) = ctx
            .store
            .create_reindex_job(&url, &definition, &code, &types, now)
            .await?
        {
            tracing::info!(parameter = %url, job = job.id, "reindex job started");
            start(ctx, job);
        }
    }
    Ok(())
}

/// At start: the registry with the stored SearchParameters, and the jobs a
/// stop left unfinished, resumed.
pub async fn resume(ctx: &Context) -> Result<(), FhirError> {
    // Listed before the refresh, which starts the jobs it creates itself;
    // started after it, so they extract with the stored parameters in.
    let unfinished: Vec<ReindexJob> = ctx
        .store
        .reindex_jobs()
        .await?
        .into_iter()
        .filter(|j| j.state != DONE)
        .collect();
    refresh(ctx).await?;
    for job in unfinished {
        tracing::info!(parameter = %job.param_url, job = job.id, state = %job.state, "reindex job resumed");
        start(ctx, job);
    }
    Ok(())
}

/// The SearchParameters of the loaded packages (not the base ones, which the
/// registry has already), but retired ones.
fn package_search_parameters(ctx: &Context) -> Vec<Value> {
    let mut entries: Vec<_> = ctx
        .canonicals
        .entries("SearchParameter")
        .into_iter()
        .filter(|e| matches!(e.origin, crate::packages::Origin::Package(_)))
        .collect();
    // Deterministic: the same parameters in the same order at every start.
    entries.sort_by(|a, b| (&a.origin, &a.url).cmp(&(&b.origin, &b.url)));
    entries
        .iter()
        .filter_map(|e| e.resource())
        .map(|r| (*r).clone())
        .filter(|r| !is_retired(r))
        .collect()
}

/// The current SearchParameters stored on the server, but retired ones.
async fn stored_search_parameters(ctx: &Context) -> Result<Vec<Value>, FhirError> {
    let bodies = ctx.store.current_bodies("SearchParameter").await?;
    Ok(bodies
        .iter()
        .filter_map(|body| serde_json::from_slice::<Value>(body).ok())
        .filter(|r| !is_retired(r))
        .collect())
}

/// `(url, definition)` of every base R4 parameter.
fn base_definitions() -> &'static HashSet<(String, String)> {
    static BASE: OnceLock<HashSet<(String, String)>> = OnceLock::new();
    BASE.get_or_init(|| {
        index::r4_resources()
            .iter()
            .filter_map(job_key)
            .map(|(url, definition, _, _)| (url, definition))
            .collect()
    })
}

/// What identifies a job: URL, the definition it indexes (expression, type
/// and bases — what changes the rows), code and types. `None` for a
/// parameter with no expression (nothing to index).
fn job_key(resource: &Value) -> Option<(String, String, String, Vec<String>)> {
    let text = |field: &str| resource.get(field).and_then(Value::as_str);
    let url = text("url")?.to_owned();
    let code = text("code")?.to_owned();
    let mut types: Vec<String> = resource
        .get("base")?
        .as_array()?
        .iter()
        .filter_map(|b| b.as_str().map(str::to_owned))
        .collect();
    types.sort();
    let definition = format!("{} | {} | {}", text("type")?, text("expression")?, types.join(" "));
    // A base of Resource or DomainResource reaches every type below it.
    let types = types.into_iter().flat_map(concrete_types).collect();
    Some((url, definition, code, types))
}

/// `Resource` and `DomainResource` stand for the types that specialise them.
fn concrete_types(base: String) -> Vec<String> {
    let model = crate::model::definitions::r4();
    match base.as_str() {
        "Resource" | "DomainResource" => crate::model::ResourceType::all()
            .map(|t| t.as_str().to_owned())
            .filter(|t| model.is_a(t, &base))
            .collect(),
        _ => vec![base],
    }
}

const SCAN: &str = "scan";
const CATCH_UP: &str = "catch-up";
const DONE: &str = "done";

/// Runs `job` in the background until done, retrying after errors.
fn start(ctx: &Context, job: ReindexJob) {
    ctx.registry.set_reindexing(&job.types, &job.code, true);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut job = job;
        let mut wait = Duration::from_millis(100);
        loop {
            match step(&ctx, &mut job).await {
                Ok(true) => break,
                Ok(false) => wait = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, job = job.id, "reindex batch failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
        ctx.registry.set_reindexing(&job.types, &job.code, false);
        tracing::info!(parameter = %job.param_url, job = job.id, processed = job.processed, "reindex job done");
    });
}

/// One batch of `job`, in one transaction with its progress. `Ok(true)`
/// when the job is done.
async fn step(ctx: &Context, job: &mut ReindexJob) -> Result<bool, FhirError> {
    if job.state == DONE {
        return Ok(true);
    }
    let since = (job.state == CATCH_UP).then(|| job.created_at - CATCH_UP_WINDOW_MICROS);
    let mut next = job.clone();
    let mut tx = ctx.store.begin().await?;
    let batch = tx.reindex_batch(&job.types, job.after_rkey, since, BATCH).await?;
    match batch.last() {
        None if job.state == SCAN => {
            next.state = CATCH_UP.to_owned();
            next.after_rkey = 0;
        }
        None => {
            next.state = DONE.to_owned();
            next.finished_at = Some(ctx.clock.now_micros());
        }
        Some((last, _)) => {
            let registry = ctx.registry.current();
            let rows: Vec<_> = batch
                .iter()
                .flat_map(|(rkey, body)| entries_of(&registry, job, *rkey, body))
                .collect();
            tx.replace_param_rows(&job.code, &rows).await?;
            next.after_rkey = *last;
            next.processed += batch.len() as i64;
        }
    }
    tx.save_reindex_progress(&next).await?;
    tx.commit().await?;
    *job = next;
    Ok(job.state == DONE)
}

/// The index entries of the job's parameter for one stored resource (if
/// it is of the job's types) and for each of its contained resources that
/// is, by key.
fn entries_of(
    registry: &Registry,
    job: &ReindexJob,
    rkey: i64,
    body: &[u8],
) -> Vec<(i64, String, Vec<index::IndexEntry>)> {
    let Ok(resource) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let own_type = resource.get("resourceType").and_then(Value::as_str);
    if let Some(own_type) = own_type.filter(|t| job.types.iter().any(|j| j == t)) {
        let entries = index::extract_param(registry, &resource, &job.code).entries;
        rows.push((rkey, own_type.to_owned(), entries));
    }
    for (position, rtype, entries) in index::extract_param_contained(registry, &resource, &job.code, &job.types) {
        // Past the key range nothing was indexed on write either.
        if let Some(ckey) = crate::store::contained_key(rkey, position) {
            rows.push((ckey, rtype, entries));
        }
    }
    rows
}

/// `GET [base]/$reindex-status`: every job, newest first, as a Parameters
/// resource (one `job` parameter each).
pub async fn status(ctx: &Context) -> Result<Value, FhirError> {
    let jobs = ctx.store.reindex_jobs().await?;
    let parameter: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let mut part = vec![
                json!({"name": "id", "valueInteger": j.id}),
                json!({"name": "parameter", "valueUri": j.param_url}),
                json!({"name": "code", "valueCode": j.code}),
                json!({"name": "state", "valueCode": j.state}),
                json!({"name": "processed", "valueInteger": j.processed}),
                json!({"name": "created", "valueInstant": crate::clock::instant(j.created_at)}),
            ];
            if let Some(finished) = j.finished_at {
                part.push(json!({"name": "finished", "valueInstant": crate::clock::instant(finished)}));
            }
            json!({"name": "job", "part": part})
        })
        .collect();
    // FHIR JSON has no empty arrays: no jobs, no `parameter`.
    if parameter.is_empty() {
        return Ok(json!({"resourceType": "Parameters"}));
    }
    Ok(json!({"resourceType": "Parameters", "parameter": parameter}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nickname() -> Value {
        json!({
            "resourceType": "SearchParameter", "url": "http://example.org/sp/nickname",
            "name": "nickname", "status": "active", "description": "x", "code": "nickname",
            "base": ["Patient"], "type": "string",
            "expression": "Patient.name.where(use = 'nickname').given"
        })
    }

    #[test]
    fn usable_search_parameters_pass_and_broken_ones_say_why() {
        assert!(check_search_parameter(&nickname()).is_ok());
        let mut bad = nickname();
        bad["expression"] = json!("Patient.name.where(");
        let e = check_search_parameter(&bad)
            .err()
            .map(|e| e.issues()[0].diagnostics.clone());
        assert!(e.unwrap_or_default().contains("expression"));
        bad["status"] = json!("retired");
        assert!(check_search_parameter(&bad).is_ok());
    }

    #[test]
    fn the_base_definitions_are_known_so_storing_them_costs_no_job() {
        let family = json!({
            "resourceType": "SearchParameter", "url": "http://hl7.org/fhir/SearchParameter/individual-family",
            "code": "family", "base": ["Patient", "Practitioner"], "type": "string",
            "expression": "Patient.name.family | Practitioner.name.family"
        });
        let (url, definition, _, _) = job_key(&family).unwrap_or_default();
        assert!(base_definitions().contains(&(url, definition)));
        assert!(base_definitions().len() > 1300);
    }

    #[test]
    fn a_job_is_keyed_by_what_changes_the_rows() {
        let (url, definition, code, types) = job_key(&nickname()).unwrap_or_default();
        assert_eq!(
            (url.as_str(), code.as_str()),
            ("http://example.org/sp/nickname", "nickname")
        );
        assert_eq!(types, ["Patient"]);
        let mut renamed = nickname();
        renamed["description"] = json!("only the description changed");
        assert_eq!(job_key(&renamed).map(|k| k.1), Some(definition.clone()));
        renamed["expression"] = json!("Patient.name.given");
        assert_ne!(job_key(&renamed).map(|k| k.1), Some(definition));
        let mut everywhere = nickname();
        everywhere["base"] = json!(["Resource"]);
        let types = job_key(&everywhere).map(|k| k.3).unwrap_or_default();
        assert!(types.len() > 100 && types.contains(&"Observation".to_owned()));
    }
}
