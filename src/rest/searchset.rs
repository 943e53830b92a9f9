//! What the three search interactions share: parse the query, compile and run
//! the plan, and write the `searchset` Bundle
//! (<https://hl7.org/fhir/R4/search.html#return>): matches (`search.mode =
//! match`), included resources (`include`), an OperationOutcome entry
//! (`outcome`) naming the parameters that were ignored, `total`, and `self`
//! / `next` / `previous` links whose `_page` cursor keeps the pages stable
//! while others write.

use serde_json::{json, Map, Value};

use super::{BundleWriter, Context};
use crate::clock::instant;
use crate::error::FhirError;
use crate::index::Registry;
use crate::model::elements::{select_elements, summarize, SummaryMode};
use crate::outcome::{operation_outcome, Issue, IssueType, Severity};
use crate::search::compartment::Membership;
use crate::search::params::{self, ParseOptions, SearchRequest};
use crate::search::{self as search, Env, Page, Plan};

/// How the client asked, beyond the query itself.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// The server's base URL, for links and `fullUrl`s (no trailing `/`).
    pub base: String,
    /// `Prefer: handling=strict`: unknown or unsupported parameters are errors.
    pub strict: bool,
}

pub(super) fn parse(
    registry: &Registry,
    resource_type: Option<&str>,
    query: &[(String, String)],
    options: &SearchOptions,
) -> Result<SearchRequest, FhirError> {
    let parse_options = ParseOptions {
        strict: options.strict,
        ..ParseOptions::default()
    };
    params::parse(resource_type, query, registry, &parse_options)
}

/// Runs `request` and renders its page. `path` is the search's URL relative
/// to the base (`Observation`, `Patient/1/Observation`, `` for all types).
pub(super) async fn respond(
    ctx: &Context,
    registry: &Registry,
    mut request: SearchRequest,
    compartment: &[Membership],
    path: &str,
    options: &SearchOptions,
) -> Result<Vec<u8>, FhirError> {
    let now = ctx.clock.now_micros();
    let env = Env {
        dialect: ctx.store.dialect(),
        base: options.base.clone(),
        now,
    };
    super::search_codes::resolve(&mut request, &ctx.terminology)?;
    let plan = Plan::compile(request, registry, env, compartment)?;
    let mut page = search::run(&ctx.store, &plan).await?;
    page.warnings.extend(reindexing_warnings(ctx, &plan));
    render(ctx, plan.request(), &page, path, options, now)
}

/// A parameter whose reindex job has not finished may miss resources
/// written before it was defined: the searchset says so.
fn reindexing_warnings(ctx: &Context, plan: &Plan<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    for clause in plan.request().clauses.iter().filter(|c| c.path.is_empty()) {
        for t in plan.types() {
            if ctx.registry.is_reindexing(t.as_str(), &clause.code) {
                warnings.push(format!(
                    "the search parameter '{}' of {t} is being reindexed: resources written before it was \
                     defined may be missing from these results (see GET [base]/$reindex-status)",
                    clause.code
                ));
            }
        }
    }
    warnings
}

fn render(
    ctx: &Context,
    request: &SearchRequest,
    page: &Page,
    path: &str,
    options: &SearchOptions,
    now: i64,
) -> Result<Vec<u8>, FhirError> {
    let base = &options.base;
    let url = |request: &SearchRequest| match path {
        "" => format!("{base}?{}", request.self_link_query()),
        path => format!("{base}/{path}?{}", request.self_link_query()),
    };
    let with_page = |page: &String| {
        let mut linked = request.clone();
        linked.page = Some(page.clone());
        url(&linked)
    };
    let mut links = vec![("self", url(request))];
    links.extend(page.next.as_ref().map(|p| ("next", with_page(p))));
    links.extend(page.previous.as_ref().map(|p| ("previous", with_page(p))));

    let mut bundle = BundleWriter::new("searchset", &ctx.ids.new_id(), &instant(now), page.total, &links);
    let subset = Subset::of(request);
    for (rows, mode) in [(&page.matches, "match"), (&page.included, "include")] {
        for row in rows {
            let body = subset.apply(&row.body)?;
            let mut parts = Map::new();
            parts.insert("search".into(), json!({ "mode": mode }));
            // A contained resource: its container's URL, its id as the
            // fragment (search.html#contained; see docs/search.md).
            let full_url = match &row.container {
                Some((rtype, id)) => format!("{base}/{rtype}/{id}#{}", row.id),
                None => format!("{base}/{}/{}", row.resource_type, row.id),
            };
            bundle.entry(Some(&full_url), Some(&body), parts);
        }
    }
    if let Some(outcome) = outcome(request, page) {
        let mut parts = Map::new();
        parts.insert("search".into(), json!({ "mode": "outcome" }));
        let full_url = format!("urn:uuid:{}", ctx.ids.new_id());
        bundle.entry(Some(&full_url), Some(outcome.to_string().as_bytes()), parts);
    }
    Ok(bundle.finish())
}

/// The OperationOutcome entry: ignored parameters and other warnings.
fn outcome(request: &SearchRequest, page: &Page) -> Option<Value> {
    let warning = |code, diagnostics| Issue {
        severity: Severity::Warning,
        code,
        diagnostics,
        expression: None,
    };
    let issues: Vec<Issue> = request
        .ignored
        .iter()
        .map(|(name, why)| {
            warning(
                IssueType::NotSupported,
                format!("parameter '{name}' was ignored: {why}"),
            )
        })
        .chain(page.warnings.iter().map(|w| warning(IssueType::Incomplete, w.clone())))
        .collect();
    (!issues.is_empty()).then(|| operation_outcome(&issues))
}

/// `_summary` and `_elements` on the returned resources.
struct Subset<'a> {
    summary: Option<SummaryMode>,
    elements: Vec<&'a str>,
}

impl<'a> Subset<'a> {
    fn of(request: &'a SearchRequest) -> Self {
        let summary = request
            .summary
            .filter(|mode| !matches!(mode, SummaryMode::False | SummaryMode::Count));
        Subset {
            summary,
            elements: request.elements.iter().map(String::as_str).collect(),
        }
    }

    /// The resource as stored, or its subset (which carries the `SUBSETTED`
    /// tag, so nobody writes it back as the whole resource).
    fn apply(&self, body: &[u8]) -> Result<Vec<u8>, FhirError> {
        if self.summary.is_none() && self.elements.is_empty() {
            return Ok(body.to_vec());
        }
        let mut resource: Value = serde_json::from_slice(body)
            .map_err(|e| FhirError::Internal(format!("a stored resource is not JSON: {e}")))?;
        if let Some(mode) = self.summary {
            resource = summarize(&resource, mode);
        }
        if !self.elements.is_empty() {
            resource = select_elements(&resource, &self.elements);
        }
        Ok(resource.to_string().into_bytes())
    }
}
