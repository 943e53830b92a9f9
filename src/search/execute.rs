//! The execute step of search: a [`Plan`] run against the store for one
//! page — the matches, `_total`, the cursors of the neighbouring pages and
//! what `_include` / `_revinclude` bring along.

use super::contained;
use super::include;
use super::page::Cursor;
use super::params::TotalMode;
use super::plan::Plan;
use crate::error::FhirError;
use crate::model::elements::SummaryMode;
use crate::store::{FoundRow, Store};

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub matches: Vec<FoundRow>,
    /// `_include` / `_revinclude` results that are not matches themselves.
    pub included: Vec<FoundRow>,
    pub total: Option<i64>,
    /// `_page` values of the next and previous pages, if there are any.
    pub next: Option<String>,
    pub previous: Option<String>,
    /// Things the client should know (includes cut short…).
    pub warnings: Vec<String>,
}

/// Runs one page of `plan`.
pub async fn run(store: &Store, plan: &Plan<'_>) -> Result<Page, FhirError> {
    let request = plan.request();
    let cursor = match &request.page {
        Some(text) => Some(Cursor::decode(text, &plan.key_kinds())?),
        None => None,
    };
    // The first page pins the page set; later pages inherit the pin.
    let pin = match &cursor {
        Some(cursor) => cursor.pin,
        None => store.max_rkey().await?,
    };
    let count = i64::from(request.count);
    if request.summary == Some(SummaryMode::Count) || count == 0 {
        let total = match request.total {
            Some(TotalMode::Omit) if request.summary != Some(SummaryMode::Count) => None,
            _ => Some(store.search_count(&plan.count_statement(pin)).await?),
        };
        return Ok(Page {
            total,
            ..Page::default()
        });
    }

    // One row more than the page, to know whether there is a page beyond.
    // A search with a chain or `_has` is counted in the same statement: its
    // criteria are costly to evaluate twice. Others count in a second
    // statement, so their page can stop after `_count + 1` rows
    // (docs/PERFORMANCE.md, "count inside the page statement"). A later
    // page always needs that count, so it runs beside the page statement,
    // on another connection: the page takes as long as the slower of the
    // two rather than both. Both see the same matches: the pin fixes them.
    // A first page counts only if it did not hold every match (counting
    // beside it always cost a needless count, and a bad plan for it, when
    // the page held them all).
    let wants_total = request.total != Some(TotalMode::Omit);
    let linked = request.clauses.iter().any(|c| !c.path.is_empty());
    let statement = plan.page_statement(pin, cursor.as_ref(), count + 1, linked && wants_total);
    let kinds = plan.key_kinds();
    let page = store.search_rows(&statement, &kinds);
    let (mut rows, separate_count) = if wants_total && !linked && cursor.is_some() {
        let count_statement = plan.count_statement(pin);
        let counted = store.search_count(&count_statement);
        let (rows, n) = futures_util::future::try_join(page, counted).await?;
        (rows, Some(n))
    } else {
        (page.await?, None)
    };
    let more = rows.len() as i64 > count;
    rows.truncate(request.count as usize);
    contained::take_out(&mut rows)?;
    let backward = cursor.as_ref().is_some_and(|c| c.backward);
    if backward {
        rows.reverse();
    }
    let (next, previous) = match (&cursor, backward) {
        // First page.
        (None, _) => (more.then(|| rows.last()).flatten(), None),
        // Reached by `next`: there is the page it came from.
        (Some(_), false) => (more.then(|| rows.last()).flatten(), rows.first()),
        // Reached by `previous`: there is the page it came from.
        (Some(_), true) => (rows.last(), more.then(|| rows.first()).flatten()),
    };
    let next = next.map(|row| Cursor::after(pin, row).encode());
    let previous = previous.map(|row| Cursor::before(pin, row).encode());

    let total = match request.total {
        Some(TotalMode::Omit) => None,
        // A first page that holds every match counts itself.
        _ if cursor.is_none() && !more => Some(rows.len() as i64),
        // Estimate or accurate: a statement counted (exactly).
        _ => match separate_count.or_else(|| rows.first().and_then(|row| row.total)) {
            Some(n) => Some(n),
            // A first page with more to come, or an empty later page of a
            // linked search.
            None => Some(store.search_count(&plan.count_statement(pin)).await?),
        },
    };

    let (included, warnings) = include::run(store, plan, &rows).await?;
    Ok(Page {
        matches: rows,
        included,
        total,
        next,
        previous,
        warnings,
    })
}
