//! The execute step of search: a [`Plan`] run against the store for one
//! page — the matches, `_total`, the cursors of the neighbouring pages and
//! what `_include` / `_revinclude` bring along.

use super::contained;
use super::include;
use super::page::Cursor;
use super::params::{SearchRequest, TotalMode};
use super::plan::Plan;
use super::sql::is_lookup;
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
    let count = i64::from(request.count);
    if request.summary == Some(SummaryMode::Count) || count == 0 {
        let total = match request.total {
            Some(TotalMode::Omit) if request.summary != Some(SummaryMode::Count) => None,
            _ => Some(
                store
                    .search_count(&plan.count_statement(cursor.as_ref().map(|c| c.pin)))
                    .await?,
            ),
        };
        return Ok(Page {
            total,
            ..Page::default()
        });
    }

    // The first page pins the page set, later pages inherit the pin. The
    // page statement reads it itself (`None`), unless a count beside it
    // must see the same matches.
    let how = counting(request, cursor.is_some());
    let pin = match &cursor {
        Some(cursor) => Some(cursor.pin),
        None if how == Counting::Beside => Some(store.max_rkey().await?),
        None => None,
    };
    // One row more than the page, to know whether there is a page beyond.
    let kinds = plan.key_kinds();
    let statement = plan.page_statement(pin, cursor.as_ref(), count + 1, how == Counting::InPage);
    let page = store.search_rows(&statement, &kinds);
    let (mut rows, separate_count) = if how == Counting::Beside {
        let count_statement = plan.count_statement(pin);
        let counted = store.search_count(&count_statement);
        let (rows, n) = futures_util::future::try_join(page, counted).await?;
        (rows, Some(n))
    } else {
        (page.await?, None)
    };
    // Rows of a statement that read the pin carry it; without rows there is
    // no cursor to write and nothing left to count.
    let pin = pin.or_else(|| rows.first().and_then(|row| row.pin)).unwrap_or(0);
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
            None => Some(store.search_count(&plan.count_statement(Some(pin))).await?),
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

/// Where the total of a page comes from (docs/PERFORMANCE.md, "count inside
/// the page statement"). Both statements see the same matches: the pin
/// fixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counting {
    /// Not counted, or counted after the page if it did not hold every
    /// match.
    After,
    /// `COUNT(*) OVER ()` in the page statement: for criteria that are
    /// costly to evaluate twice (a chain or `_has`), or whose page already
    /// reaches every match (a `:not` inside a lookup: the lookup's rows are
    /// all read and filtered before the page is sorted).
    InPage,
    /// A second statement on another connection, beside the page statement,
    /// so the page takes as long as the slower of the two: for later pages,
    /// which always need it, and first pages without a positive lookup,
    /// whose matches are all of a type but a few (`:not` alone, none), so
    /// there is a next page to count nearly always. Other first pages count
    /// after the page only if it did not hold every match: counting beside
    /// them cost a needless count (and its generic plan took 100 ms for a
    /// patient + code + date search).
    Beside,
}

fn counting(request: &SearchRequest, later_page: bool) -> Counting {
    if request.total == Some(TotalMode::Omit) {
        return Counting::After;
    }
    let clauses = &request.clauses;
    let linked = clauses.iter().any(|c| !c.path.is_empty());
    let host = clauses.iter().any(|c| is_lookup(c, false));
    let negated_inside = host && clauses.iter().any(|c| is_lookup(c, true));
    // `_id` bounds the matches as a lookup does.
    let bounded = host || clauses.iter().any(|c| c.path.is_empty() && c.code == "_id");
    if linked || negated_inside {
        Counting::InPage
    } else if later_page || !bounded {
        Counting::Beside
    } else {
        Counting::After
    }
}
