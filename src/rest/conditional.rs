//! Conditional interactions: a search, not an id, names the resource a write
//! is about — conditional create (`If-None-Exist`), update, patch and delete
//! (<https://hl7.org/fhir/R4/http.html#ccreate>, `#cond-update`, `#patch`,
//! `#cdelete`), the same as Bundle entries, and conditional references in
//! transactions (`Patient?identifier=…`, `#trules`).
//!
//! Two conditional writes with the same criteria never interleave: each
//! queues on its criteria inside its write transaction before it searches
//! (PostgreSQL: an advisory lock; SQLite: its single writer), and searches
//! on the transaction's own connection, so the second sees what the first
//! committed — two clients sending the same `If-None-Exist` at once make one
//! resource, not two. Writes with different criteria that match the same
//! resource are not serialised against each other (that would take
//! predicate locks).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::bundle_entry::{written, Action};
use super::patch::PatchDocument;
use super::write::check_body;
use super::{delete, Context, IfMatch, Versioned, Written};
use crate::config::ConditionalDelete;
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::IssueType;
use crate::search::params::{self, ParseOptions};
use crate::search::{Env, Plan};
use crate::store::{FoundRow, WriteTx};

/// The most resources one conditional delete removes.
pub const MAX_DELETE: usize = 1000;

/// The search criteria of a conditional interaction.
#[derive(Debug, Clone)]
pub struct Criteria {
    pub rtype: ResourceType,
    pairs: Vec<(String, String)>,
    /// The server's base URL, which absolute references in the criteria use.
    base: String,
}

impl Criteria {
    /// From decoded query pairs. Criteria that ask for nothing would match
    /// every resource of the type: refused.
    pub fn new(rtype: ResourceType, pairs: Vec<(String, String)>, base: &str) -> Result<Self, FhirError> {
        if pairs.iter().all(|(_, value)| value.is_empty()) {
            return Err(FhirError::invalid(
                IssueType::Required,
                format!("a conditional interaction on {rtype} needs search criteria"),
                None,
            ));
        }
        Ok(Criteria {
            rtype,
            pairs,
            base: base.to_owned(),
        })
    }

    /// From a query string as sent (`If-None-Exist`, `ifNoneExist`; a
    /// leading `?` or `Type?` is allowed).
    pub fn parse(rtype: ResourceType, query: &str, base: &str) -> Result<Self, FhirError> {
        let query = match query.split_once('?') {
            Some((prefix, rest)) if prefix.is_empty() || prefix == rtype.as_str() => rest,
            _ => query,
        };
        let pairs = serde_urlencoded::from_str(query).map_err(|e| {
            FhirError::invalid(
                IssueType::Invalid,
                format!("the conditional criteria '{query}' are not a query string: {e}"),
                None,
            )
        })?;
        Criteria::new(rtype, pairs, base)
    }

    /// `Type?criteria` (an entry URL or a conditional reference); `None`
    /// when `url` is not of that form.
    pub fn from_url(url: &str, base: &str) -> Option<Result<Self, FhirError>> {
        let (path, query) = url.split_once('?')?;
        let rtype = ResourceType::parse(path)?;
        Some(Criteria::parse(rtype, query, base))
    }

    /// `Type?a=1&b=2` with the pairs in order: equal for criteria that ask
    /// the same in another order. It names the lock writers queue on, and
    /// links a conditional reference to a conditional create of the same
    /// Bundle.
    pub fn key(&self) -> String {
        let mut pairs = self.pairs.clone();
        pairs.sort();
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}?{query}", self.rtype)
    }

    /// The current resources matching, at most `limit` + 1 of them (to tell
    /// "more than `limit`"). Unknown parameters are errors, not ignored: a
    /// criterion dropped would widen what a write touches.
    async fn matches(&self, tx: &mut WriteTx, ctx: &Context, limit: usize) -> Result<Vec<FoundRow>, FhirError> {
        let options = ParseOptions {
            strict: true,
            ..ParseOptions::default()
        };
        let registry = ctx.registry.current();
        let mut request = params::parse(Some(self.rtype.as_str()), &self.pairs, &registry, &options)?;
        super::search_codes::resolve(&mut request, &ctx.terminology)?;
        if let Some((name, why)) = request.ignored.first() {
            return Err(FhirError::invalid(
                IssueType::Invalid,
                format!("conditional criteria '{}': parameter '{name}' {why}", self.key()),
                None,
            ));
        }
        // A conditional write acts on resources, never on contained ones.
        if request.contained != params::Contained::Excluded {
            return Err(FhirError::invalid(
                IssueType::Invalid,
                format!(
                    "conditional criteria '{}' cannot search contained resources (_contained)",
                    self.key()
                ),
                None,
            ));
        }
        if request.clauses.is_empty() {
            return Err(FhirError::invalid(
                IssueType::Required,
                format!(
                    "conditional criteria '{}' select nothing (only result parameters)",
                    self.key()
                ),
                None,
            ));
        }
        let env = Env {
            dialect: ctx.store.dialect(),
            base: self.base.clone(),
            now: ctx.clock.now_micros(),
        };
        let plan = Plan::compile(request, &registry, env, &[])?;
        let statement = plan.page_statement(Some(i64::MAX), None, limit as i64 + 1, false);
        Ok(tx.search_rows(&statement, &plan.key_kinds()).await?)
    }

    /// The one match, if any; several are a 412.
    async fn at_most_one(&self, tx: &mut WriteTx, ctx: &Context) -> Result<Option<FoundRow>, FhirError> {
        let mut found = self.matches(tx, ctx, 1).await?;
        if found.len() > 1 {
            return Err(FhirError::PreconditionFailed(format!(
                "more than one {} matches '{}'",
                self.rtype,
                self.key()
            )));
        }
        Ok(found.pop())
    }
}

/// Queues `tx` behind every other writer holding any of these criteria, in
/// one order (sorted) so that two transactions never wait on each other.
pub(super) async fn queue(tx: &mut WriteTx, criteria: &[&Criteria]) -> Result<(), FhirError> {
    let keys: BTreeSet<String> = criteria.iter().map(|c| c.key()).collect();
    for key in keys {
        tx.queue_on(&key).await?;
    }
    Ok(())
}

/// A write whose target is found by search; [`resolve`](Self::resolve)
/// turns it into the plain action it amounts to.
pub(super) enum Conditional {
    Create {
        criteria: Criteria,
        resource: Value,
    },
    Update {
        criteria: Criteria,
        resource: Value,
        if_match: IfMatch,
    },
    Patch {
        criteria: Criteria,
        patch: PatchDocument,
        if_match: IfMatch,
    },
    Delete {
        criteria: Criteria,
    },
}

impl Conditional {
    pub(super) fn criteria(&self) -> &Criteria {
        match self {
            Conditional::Create { criteria, .. }
            | Conditional::Update { criteria, .. }
            | Conditional::Patch { criteria, .. }
            | Conditional::Delete { criteria } => criteria,
        }
    }

    /// The plain action, decided by what the criteria match now (the caller
    /// has [`queue`]d on them):
    /// - create: none → create; one → nothing to do ([`Action::Found`]);
    /// - update: none → create (with the body's id, if it has one, as an
    ///   update-as-create); one → update it (the body's id, if any, must be
    ///   its id);
    /// - patch: none → 404; one → patch it;
    /// - delete: every match (one only, unless configured for several).
    ///
    /// Several matches are a 412 (delete: unless several are allowed).
    pub(super) async fn resolve(self, tx: &mut WriteTx, ctx: &Context) -> Result<Action, FhirError> {
        let rtype = self.criteria().rtype;
        Ok(match self {
            Conditional::Create { criteria, resource } => match criteria.at_most_one(tx, ctx).await? {
                Some(found) => Action::Found {
                    version: Versioned::from(found),
                },
                None => Action::Create { rtype, resource },
            },
            Conditional::Update {
                criteria,
                resource,
                if_match,
            } => {
                let body_id = resource.get("id").and_then(Value::as_str).map(str::to_owned);
                match (criteria.at_most_one(tx, ctx).await?, body_id) {
                    (Some(found), Some(body_id)) if body_id != found.id => {
                        return Err(FhirError::invalid(
                            IssueType::Invalid,
                            format!(
                                "the resource id '{body_id}' is not the id of the {rtype} matching '{}' ({})",
                                criteria.key(),
                                found.id
                            ),
                            Some(&format!("{rtype}.id")),
                        ))
                    }
                    (Some(found), _) => Action::Update {
                        rtype,
                        id: super::id(&found.id)?,
                        resource,
                        if_match,
                    },
                    (None, Some(body_id)) => Action::Update {
                        rtype,
                        id: super::id(&body_id)?,
                        resource,
                        if_match,
                    },
                    (None, None) => Action::Create { rtype, resource },
                }
            }
            Conditional::Patch {
                criteria,
                patch,
                if_match,
            } => match criteria.at_most_one(tx, ctx).await? {
                Some(found) => Action::Patch {
                    rtype,
                    id: super::id(&found.id)?,
                    patch,
                    if_match,
                },
                None => return Err(FhirError::NotFound(criteria.key())),
            },
            Conditional::Delete { criteria } => {
                let found = criteria.matches(tx, ctx, MAX_DELETE).await?;
                check_delete_count(&criteria, found.len(), ctx.conditional_delete)?;
                let ids = found.iter().map(|f| super::id(&f.id)).collect::<Result<_, _>>()?;
                Action::DeleteMatches { rtype, ids }
            }
        })
    }
}

fn check_delete_count(criteria: &Criteria, n: usize, mode: ConditionalDelete) -> Result<(), FhirError> {
    let too_many = match mode {
        ConditionalDelete::Single if n > 1 => format!(
            "more than one {} matches '{}' and this server deletes only one per conditional delete",
            criteria.rtype,
            criteria.key()
        ),
        _ if n > MAX_DELETE => format!(
            "more than {MAX_DELETE} {} match '{}': narrow the criteria",
            criteria.rtype,
            criteria.key()
        ),
        _ => return Ok(()),
    };
    Err(FhirError::PreconditionFailed(too_many))
}

/// Resolves `conditional` in a transaction of its own and carries out the
/// action it amounts to with `apply`.
async fn run<T>(
    ctx: &Context,
    conditional: Conditional,
    apply: impl AsyncFnOnce(&mut WriteTx, Action) -> Result<T, FhirError>,
) -> Result<T, FhirError> {
    let mut tx = ctx.store.begin().await?;
    queue(&mut tx, &[conditional.criteria()]).await?;
    let action = conditional.resolve(&mut tx, ctx).await?;
    let out = apply(&mut tx, action).await?;
    super::write::commit(ctx, tx).await?;
    Ok(out)
}

/// What a conditional create did.
#[derive(Debug, Clone)]
pub enum Created {
    New(Written),
    /// A resource matched: it is returned and nothing is written.
    Found(Versioned),
}

/// `POST [base]/[type]` with `If-None-Exist`.
#[tracing::instrument(name = "fhir.create-conditional", skip_all, fields(resource_type = %criteria.rtype))]
pub async fn create(ctx: &Context, criteria: Criteria, resource: Value) -> Result<Created, FhirError> {
    check_body(ctx, criteria.rtype, &resource)?;
    run(
        ctx,
        Conditional::Create { criteria, resource },
        async |tx, action| match action {
            Action::Found { version } => Ok(Created::Found(version)),
            other => written(tx, ctx, other, &ctx.ids.new_id()).await.map(Created::New),
        },
    )
    .await
}

/// `PUT [base]/[type]?criteria`.
#[tracing::instrument(name = "fhir.update-conditional", skip_all, fields(resource_type = %criteria.rtype))]
pub async fn update(
    ctx: &Context,
    criteria: Criteria,
    resource: Value,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    check_body(ctx, criteria.rtype, &resource)?;
    let conditional = Conditional::Update {
        criteria,
        resource,
        if_match,
    };
    run(ctx, conditional, async |tx, action| {
        written(tx, ctx, action, &ctx.ids.new_id()).await
    })
    .await
}

/// `PATCH [base]/[type]?criteria`.
#[tracing::instrument(name = "fhir.patch-conditional", skip_all, fields(resource_type = %criteria.rtype))]
pub async fn patch(
    ctx: &Context,
    criteria: Criteria,
    patch: PatchDocument,
    if_match: IfMatch,
) -> Result<Written, FhirError> {
    let conditional = Conditional::Patch {
        criteria,
        patch,
        if_match,
    };
    run(ctx, conditional, async |tx, action| {
        written(tx, ctx, action, &ctx.ids.new_id()).await
    })
    .await
}

/// `DELETE [base]/[type]?criteria`: the versions written (none when
/// nothing matched).
#[tracing::instrument(name = "fhir.delete-conditional", skip_all, fields(resource_type = %criteria.rtype))]
pub async fn delete(ctx: &Context, criteria: Criteria) -> Result<Vec<Versioned>, FhirError> {
    run(ctx, Conditional::Delete { criteria }, async |tx, action| match action {
        Action::DeleteMatches { rtype, ids } => delete_all(tx, ctx, rtype, &ids).await,
        _ => Err(FhirError::NotImplemented(
            "a conditional delete resolved to another action".into(),
        )),
    })
    .await
}

/// Deletes each of `ids`; the tombstones written (resources deleted
/// already write none).
pub(super) async fn delete_all(
    tx: &mut WriteTx,
    ctx: &Context,
    rtype: ResourceType,
    ids: &[Id],
) -> Result<Vec<Versioned>, FhirError> {
    let mut deleted = Vec::with_capacity(ids.len());
    for id in ids {
        if let delete::Deleted::Now(v) = delete::apply(tx, ctx, rtype, id, IfMatch(None)).await? {
            deleted.push(v);
        }
    }
    Ok(deleted)
}

/// Replaces every conditional reference (`"reference": "Type?criteria"`) in
/// `json` by the `Type/id` of the one resource it matches. `known` maps the
/// [`Criteria::key`] of the Bundle's own conditional creates and updates to
/// what they resolved to, so a reference can name a resource the same
/// transaction creates. No match, or several, is a 412.
pub(super) async fn resolve_references(
    tx: &mut WriteTx,
    ctx: &Context,
    base: &str,
    json: &mut Value,
    known: &mut HashMap<String, String>,
) -> Result<(), FhirError> {
    let mut found = Vec::new();
    collect_conditional_references(json, &mut found);
    if found.is_empty() {
        return Ok(());
    }
    let mut map = HashMap::new();
    for reference in found {
        let Some(criteria) = Criteria::from_url(&reference, base) else {
            continue;
        };
        let criteria = criteria?;
        let key = criteria.key();
        let target = match known.get(&key) {
            Some(target) => target.clone(),
            None => match criteria.at_most_one(tx, ctx).await? {
                Some(row) => format!("{}/{}", row.resource_type, row.id),
                None => {
                    return Err(FhirError::PreconditionFailed(format!(
                        "the conditional reference '{reference}' matches no {}",
                        criteria.rtype
                    )))
                }
            },
        };
        known.insert(key, target.clone());
        map.insert(reference, target);
    }
    super::transaction::rewrite_references(json, &map);
    Ok(())
}

/// The `reference` values of the form `Type?…`.
fn collect_conditional_references(json: &Value, out: &mut Vec<String>) {
    match json {
        Value::Object(obj) => {
            for (key, value) in obj {
                match value {
                    Value::String(s) if key == "reference" && is_conditional_reference(s) => {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                    _ => collect_conditional_references(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_conditional_references(v, out)),
        _ => {}
    }
}

fn is_conditional_reference(s: &str) -> bool {
    s.split_once('?')
        .is_some_and(|(path, _)| ResourceType::parse(path).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient(query: &str) -> Result<Criteria, FhirError> {
        Criteria::parse(
            ResourceType::parse("Patient").ok_or(FhirError::NotFound("type".into()))?,
            query,
            "",
        )
    }

    #[test]
    fn criteria_keys_ignore_the_order_of_parameters() {
        let a = patient("identifier=x%7C1&name=smith").map(|c| c.key());
        let b = patient("?name=smith&identifier=x|1").map(|c| c.key());
        let c = patient("Patient?name=smith&identifier=x|1").map(|c| c.key());
        assert!(a.is_ok());
        assert_eq!(a.as_ref().ok(), b.as_ref().ok());
        assert_eq!(b.ok(), c.ok());
    }

    #[test]
    fn criteria_that_ask_for_nothing_are_refused() {
        assert_eq!(patient("").err().map(|e| e.status()), Some(400));
        assert_eq!(patient("identifier=").err().map(|e| e.status()), Some(400));
    }

    #[test]
    fn conditional_references_are_found_in_reference_elements_only() {
        let r = json!({
            "subject": {"reference": "Patient?identifier=a|1"},
            "performer": [{"reference": "Practitioner/1"}, {"reference": "Nope?x=1"}],
            "note": [{"text": "Patient?identifier=a|1"}]
        });
        let mut out = Vec::new();
        collect_conditional_references(&r, &mut out);
        assert_eq!(out, vec!["Patient?identifier=a|1".to_string()]);
    }
}
