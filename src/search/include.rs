//! `_include` and `_revinclude` (<https://hl7.org/fhir/R4/search.html#include>):
//! the resources the page's matches point at, and those pointing at them,
//! through reference parameters (`Observation:subject`, `Type:*`, `*`).
//! Only local references count (see [`super::sql::local_reference`]).
//!
//! `:iterate` applies the same step to what was included, round after round,
//! until nothing new comes (or the limits below). A resource appears once:
//! a match that is also included stays a match.

use std::collections::HashSet;

use super::params::{Include, IncludeTarget};
use super::plan::Plan;
use super::sql::{local_reference, Emit};
use crate::error::FhirError;
use crate::model::ResourceType;
use crate::store::{FoundRow, Sql, Store};

/// Included resources per page, past which the rest are left out (with a
/// warning) rather than building an unbounded Bundle.
const MAX_INCLUDED: usize = 1000;
/// `:iterate` rounds after the first.
const MAX_ROUNDS: usize = 10;

/// The resources included for `matches`, and warnings for the client.
pub(crate) async fn run(
    store: &Store,
    plan: &Plan<'_>,
    matches: &[FoundRow],
) -> Result<(Vec<FoundRow>, Vec<String>), FhirError> {
    let request = plan.request();
    if matches.is_empty() || (request.includes.is_empty() && request.revincludes.is_empty()) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut seen: HashSet<i64> = matches.iter().map(|m| m.rkey).collect();
    let mut included: Vec<FoundRow> = Vec::new();
    let mut warnings = Vec::new();
    let mut frontier: Vec<(i64, String)> = matches.iter().map(|m| (m.rkey, m.resource_type.clone())).collect();
    for round in 0..=MAX_ROUNDS {
        // The first round applies every include to the matches; later ones
        // only the `:iterate` ones, to what the previous round brought.
        let step = |i: &&Include| round == 0 || i.iterate;
        let mut found = Vec::new();
        for include in request.includes.iter().filter(step) {
            if let Some(sql) = forward(plan, include, &frontier) {
                found.extend(store.search_rows(&sql, &[]).await?);
            }
        }
        for include in request.revincludes.iter().filter(step) {
            if let Some(sql) = reverse(plan, include, &frontier) {
                found.extend(store.search_rows(&sql, &[]).await?);
            }
        }
        frontier.clear();
        for row in found {
            if included.len() >= MAX_INCLUDED {
                warnings.push(format!(
                    "_include/_revinclude found more than {MAX_INCLUDED} resources for this page; the rest are left out"
                ));
                return Ok((included, warnings));
            }
            if seen.insert(row.rkey) {
                frontier.push((row.rkey, row.resource_type.clone()));
                included.push(row);
            }
        }
        let iterates = request.includes.iter().chain(&request.revincludes).any(|i| i.iterate);
        if frontier.is_empty() || !iterates {
            break;
        }
        if round == MAX_ROUNDS {
            warnings.push(format!("_include:iterate stopped after {MAX_ROUNDS} rounds"));
        }
    }
    Ok((included, warnings))
}

/// The rows of `from` whose type may be the source of `target`.
fn sources(from: &[(i64, String)], source: Option<ResourceType>) -> Vec<i64> {
    from.iter()
        .filter(|(_, t)| source.is_none_or(|s| s.as_str() == t))
        .map(|(rkey, _)| *rkey)
        .collect()
}

/// `rkey IN (…)`.
fn keys_in(e: &mut Emit<'_>, column: &str, keys: &[i64]) {
    e.push(column).push(" IN (");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            e.push(", ");
        }
        e.int(*key);
    }
    e.push(")");
}

/// The start of an include statement: the distinct resources `t` of the
/// rows `from` (a resource referred to twice comes once), with their body
/// read only for those; [`end`] closes it.
fn start(from: &str) -> Sql {
    Sql::new(format!(
        "SELECT i.rkey, i.rtype, i.id, i.version, i.last_updated, \
         (SELECT v.body FROM resource_versions v WHERE v.rkey = i.rkey AND v.version = i.version) AS body \
         FROM (SELECT DISTINCT t.rkey, t.rtype, t.id, t.version, t.last_updated FROM {from} WHERE "
    ))
}

/// The end of an include statement: at most one resource more than
/// [`MAX_INCLUDED`], in key order.
fn end(e: &mut Emit<'_>) {
    e.push(" ORDER BY t.rkey LIMIT ")
        .int(MAX_INCLUDED as i64 + 1)
        .push(") i ORDER BY i.rkey");
}

/// `_include`: what the references of `from` point at.
fn forward(plan: &Plan<'_>, include: &Include, from: &[(i64, String)]) -> Option<Sql> {
    let (source, param, target) = match &include.what {
        IncludeTarget::All => (None, None, None),
        IncludeTarget::AllOf(source) => (Some(*source), None, None),
        IncludeTarget::Param { source, param, target } => (Some(*source), Some(param), *target),
    };
    let keys = sources(from, source);
    if keys.is_empty() {
        return None;
    }
    let mut sql = start("idx_reference x JOIN resources t ON t.rtype = x.target_type AND t.id = x.target_id");
    let mut e = Emit::new(&mut sql, plan.env(), plan.registry());
    keys_in(&mut e, "x.rkey", &keys);
    e.push(" AND NOT t.deleted AND ");
    local_reference(&mut e, "x.url");
    if let Some(param) = param {
        e.push(" AND x.param = ").text(param);
    }
    if let Some(target) = target {
        e.push(" AND x.target_type = ").text(target.as_str());
    }
    end(&mut e);
    Some(sql)
}

/// `_revinclude`: what points at `from` through the named references.
fn reverse(plan: &Plan<'_>, include: &Include, from: &[(i64, String)]) -> Option<Sql> {
    let (source, param, target) = match &include.what {
        IncludeTarget::All => (None, None, None),
        IncludeTarget::AllOf(source) => (Some(*source), None, None),
        IncludeTarget::Param { source, param, target } => (Some(*source), Some(param), *target),
    };
    // `Provenance:target:Patient`: only the Patients among `from`.
    let keys = sources(from, target);
    if keys.is_empty() {
        return None;
    }
    let mut sql = start(
        "resources f JOIN idx_reference x ON x.target_type = f.rtype AND x.target_id = f.id \
         JOIN resources t ON t.rkey = x.rkey",
    );
    let mut e = Emit::new(&mut sql, plan.env(), plan.registry());
    keys_in(&mut e, "f.rkey", &keys);
    e.push(" AND NOT t.deleted AND ");
    local_reference(&mut e, "x.url");
    // On the index row, whose lookup covers its type: the rows of the
    // source type only, not every resource referring to `from`.
    if let Some(source) = source {
        e.push(" AND x.rtype = ").text(source.as_str());
    }
    if let Some(param) = param {
        e.push(" AND x.param = ").text(param);
    }
    end(&mut e);
    Some(sql)
}
