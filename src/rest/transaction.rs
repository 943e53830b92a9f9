//! transaction — `POST [base]` with a `transaction` Bundle
//! (<https://hl7.org/fhir/R4/http.html#transaction>): all entries succeed or
//! none do, in one database transaction. Also the entry point for Bundles
//! posted to the base, dispatching batches to [`super::batch`].

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::bundle_entry::{self, Action, Entry, EntryResult};
use super::conditional::{self, Conditional, Criteria};
use super::write::check_structure;
use super::{BundleWriter, Context, Return};
use crate::clock::instant;
use crate::error::FhirError;
use crate::outcome::IssueType;
use crate::store::WriteTx;

/// Processes a Bundle posted to the base: a `batch` or a `transaction`.
pub async fn submit(ctx: &Context, bundle: Value, base: &str, ret: Return) -> Result<Vec<u8>, FhirError> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirError::invalid(
            IssueType::Invalid,
            "only a Bundle (batch or transaction) can be posted to the base",
            Some("resourceType"),
        ));
    }
    check_structure(ctx, &bundle)?;
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => transaction(ctx, bundle, base, ret).await,
        Some("batch") => super::batch::batch(ctx, bundle, base, ret).await,
        other => Err(FhirError::invalid(
            IssueType::Value,
            format!(
                "Bundle.type must be batch or transaction, not {}",
                other.unwrap_or("missing")
            ),
            Some("Bundle.type"),
        )),
    }
}

#[tracing::instrument(name = "fhir.transaction", skip_all)]
async fn transaction(ctx: &Context, bundle: Value, base: &str, ret: Return) -> Result<Vec<u8>, FhirError> {
    let mut entries = parse_entries(bundle, base)?;
    for (i, entry) in entries.iter().enumerate() {
        bundle_entry::check(&entry.action).map_err(|e| e.in_entry(i))?;
    }
    let mut tx = ctx.store.begin().await?;
    // Conditions are decided on the database as it was before the
    // transaction, before anything is written.
    let criteria_keys = resolve_conditionals(&mut tx, ctx, &mut entries).await?;
    let ids = assign_ids(ctx, &entries);
    let rewrites = reference_map(&entries, &ids);
    let mut known = resolved_criteria(&entries, &ids, criteria_keys);
    for (i, entry) in entries.iter_mut().enumerate() {
        for json in entry.action.written_json_mut() {
            conditional::resolve_references(&mut tx, ctx, base, json, &mut known)
                .await
                .map_err(|e| e.in_entry(i))?;
            rewrite_references(json, &rewrites);
        }
    }
    refuse_duplicate_targets(&entries)?;
    // A Subscription may name a topic another entry creates or updates.
    let topics = crate::subscriptions::topics_written(
        &ctx.registry.current(),
        entries.iter().enumerate().filter_map(|(i, e)| match &e.action {
            Action::Create { resource, .. } => Some((ids.get(&i)?.as_str(), resource)),
            Action::Update { id, resource, .. } => Some((id.as_str(), resource)),
            _ => None,
        }),
    );
    let ctx = &ctx.in_transaction_writing(topics);

    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].action.order());
    let mut results: Vec<Option<EntryResult>> = (0..entries.len()).map(|_| None).collect();
    let mut actions: Vec<Option<Action>> = entries.into_iter().map(|e| Some(e.action)).collect();
    let mut reads = Vec::new();
    for i in order {
        let Some(action) = actions[i].take() else { continue };
        if action.is_read() {
            reads.push((i, action));
            continue;
        }
        let new_id = ids.get(&i).map(String::as_str).unwrap_or_default();
        let result = bundle_entry::write(&mut tx, ctx, action, new_id)
            .await
            .map_err(|e| e.in_entry(i))?;
        results[i] = Some(result);
    }
    super::write::commit(ctx, tx).await?;
    // Reads come last, so they see the transaction's writes.
    for (i, action) in reads {
        results[i] = Some(
            bundle_entry::read(ctx, &action, base)
                .await
                .unwrap_or_else(|e| EntryResult::failed(&e)),
        );
    }
    Ok(respond(
        ctx,
        "transaction-response",
        results.into_iter().flatten(),
        base,
        ret,
    ))
}

/// Turns every conditional entry into the plain action it amounts to, after
/// queueing on all their criteria at once. Returns each conditional
/// create's and update's criteria key, by entry.
async fn resolve_conditionals(
    tx: &mut WriteTx,
    ctx: &Context,
    entries: &mut [Entry],
) -> Result<HashMap<usize, String>, FhirError> {
    let criteria: Vec<&Criteria> = entries
        .iter()
        .filter_map(|e| match &e.action {
            Action::Conditional(c) => Some(c.criteria()),
            _ => None,
        })
        .collect();
    if criteria.is_empty() {
        return Ok(HashMap::new());
    }
    conditional::queue(tx, &criteria).await?;
    let mut keys = HashMap::new();
    for (i, entry) in entries.iter_mut().enumerate() {
        let action = std::mem::replace(
            &mut entry.action,
            Action::Search {
                rtype: None,
                query: Vec::new(),
            },
        );
        entry.action = match action {
            Action::Conditional(c) => {
                if matches!(c, Conditional::Create { .. } | Conditional::Update { .. }) {
                    keys.insert(i, c.criteria().key());
                }
                c.resolve(tx, ctx).await.map_err(|e| e.in_entry(i))?
            }
            plain => plain,
        };
    }
    Ok(keys)
}

/// Criteria key → `Type/id` for the Bundle's conditional creates and
/// updates, so that a conditional reference with the same criteria points
/// at the resource the transaction creates or updates.
fn resolved_criteria(
    entries: &[Entry],
    ids: &HashMap<usize, String>,
    keys: HashMap<usize, String>,
) -> HashMap<String, String> {
    keys.into_iter()
        .filter_map(|(i, key)| {
            let target = match (&entries[i].action, ids.get(&i)) {
                (Action::Create { rtype, .. }, Some(id)) => format!("{rtype}/{id}"),
                (Action::Update { rtype, id, .. }, _) => format!("{rtype}/{id}"),
                (Action::Found { version }, _) => format!("{}/{}", version.resource_type, version.id),
                _ => return None,
            };
            Some((key, target))
        })
        .collect()
}

fn parse_entries(mut bundle: Value, base: &str) -> Result<Vec<Entry>, FhirError> {
    let entries = bundle_entry::take_entries(&mut bundle);
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| bundle_entry::parse(i, e, base))
        .collect()
}

/// Ids for the creates, chosen before anything is written so references to
/// them can be rewritten.
fn assign_ids(ctx: &Context, entries: &[Entry]) -> HashMap<usize, String> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.action, Action::Create { .. }))
        .map(|(i, _)| (i, ctx.ids.new_id()))
        .collect()
}

/// fullUrl → `Type/id` for every entry whose fullUrl is not already the
/// resource's own URL on this server (`urn:uuid:`, `urn:oid:`, or another
/// server's absolute URL).
fn reference_map(entries: &[Entry], ids: &HashMap<usize, String>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(full_url) = &entry.full_url else { continue };
        let target = match (&entry.action, ids.get(&i)) {
            (Action::Create { rtype, .. }, Some(id)) => format!("{rtype}/{id}"),
            (Action::Update { rtype, id, .. }, _) => format!("{rtype}/{id}"),
            (Action::Found { version }, _) => format!("{}/{}", version.resource_type, version.id),
            _ => continue,
        };
        if *full_url != target {
            map.insert(full_url.clone(), target);
        }
    }
    map
}

/// Replaces every string equal to a mapped fullUrl (references, and uri /
/// url / oid / uuid elements), and links to it in narrative.
pub(super) fn rewrite_references(value: &mut Value, map: &HashMap<String, String>) {
    if map.is_empty() {
        return;
    }
    match value {
        Value::String(s) => {
            if let Some(new) = map.get(s.as_str()) {
                *s = new.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_references(v, map)),
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                match v {
                    Value::String(div) if key == "div" => {
                        for (from, to) in map {
                            if div.contains(from.as_str()) {
                                *div = div.replace(&format!("\"{from}\""), &format!("\"{to}\""));
                            }
                        }
                    }
                    _ => rewrite_references(v, map),
                }
            }
        }
        _ => {}
    }
}

/// Two writes to one resource in a transaction are ambiguous: refused.
fn refuse_duplicate_targets(entries: &[Entry]) -> Result<(), FhirError> {
    let mut seen = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        for target in e.action.targets() {
            if !seen.insert(target.clone()) {
                return Err(FhirError::invalid(
                    IssueType::Duplicate,
                    format!("{target} is written by more than one entry of the transaction"),
                    Some(&format!("Bundle.entry[{i}]")),
                ));
            }
        }
    }
    Ok(())
}

/// The response Bundle, entries in request order.
pub(super) fn respond(
    ctx: &Context,
    bundle_type: &str,
    results: impl Iterator<Item = EntryResult>,
    base: &str,
    ret: Return,
) -> Vec<u8> {
    let now = instant(ctx.clock.now_micros());
    let mut out = BundleWriter::new(bundle_type, &ctx.ids.new_id(), &now, None, &[]);
    for r in results {
        let (full_url, body, parts) = r.into_parts(base, ret);
        out.entry(full_url.as_deref(), body.as_deref(), parts);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_references_identifiers_and_narrative_links() {
        let map = HashMap::from([("urn:uuid:1".to_string(), "Patient/abc".to_string())]);
        let mut r = json!({
            "subject": {"reference": "urn:uuid:1"},
            "other": {"reference": "urn:uuid:2"},
            "text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:1\">p</a></div>"}
        });
        rewrite_references(&mut r, &map);
        assert_eq!(r["subject"]["reference"], "Patient/abc");
        assert_eq!(r["other"]["reference"], "urn:uuid:2");
        assert!(r["text"]["div"]
            .as_str()
            .unwrap_or_default()
            .contains("href=\"Patient/abc\""));
    }
}
