//! `_sort` (<https://hl7.org/fhir/R4/search.html#sort>): each key is a value
//! computed per matching resource. A parameter can have several values; the
//! lowest sorts a resource ascending and the highest descending (for dates,
//! the earliest start ascending and the latest end descending). Resources
//! without a value come last in either direction. The resource key breaks
//! ties, so the order is total and keyset paging never skips or repeats.

use super::params::SortKey;
use super::sql::{table_of, Emit};
use super::SearchError;
use crate::index::{ParamType, Registry};
use crate::model::ResourceType;
use crate::store::KeyKind;

/// One sort key, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortColumn {
    pub(crate) code: String,
    pub(crate) descending: bool,
    pub(crate) kind: KeyKind,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Id,
    LastUpdated,
    /// An aggregate over the parameter's rows in an index table.
    Index {
        table: &'static str,
        column: &'static str,
        /// For dates: `high` when descending, `low` when ascending.
        descending_column: &'static str,
    },
}

impl SortColumn {
    /// Resolves `key` on `types` (empty: every resource).
    pub(crate) fn resolve(key: &SortKey, types: &[ResourceType], registry: &Registry) -> Result<Self, SearchError> {
        let column = |source, kind| {
            Ok(SortColumn {
                code: key.code.clone(),
                descending: key.descending,
                kind,
                source,
            })
        };
        match key.code.as_str() {
            "_id" => return column(Source::Id, KeyKind::Text),
            "_lastUpdated" => return column(Source::LastUpdated, KeyKind::Int),
            _ => {}
        }
        let def = match types.first() {
            Some(t) => registry.get(t.as_str(), &key.code),
            None => registry.get("Resource", &key.code),
        };
        let unsupported = || SearchError::NotSupported(format!("sorting by '{}'", key.code));
        let (value_column, descending_column, kind) = match def.map(|d| d.kind) {
            Some(ParamType::String) => ("norm", "norm", KeyKind::Text),
            Some(ParamType::Token) => ("code", "code", KeyKind::Text),
            Some(ParamType::Reference) => ("url", "url", KeyKind::Text),
            Some(ParamType::Uri) => ("value", "value", KeyKind::Text),
            Some(ParamType::Date) => ("low", "high", KeyKind::Int),
            Some(ParamType::Number | ParamType::Quantity) => ("value", "value", KeyKind::Real),
            Some(ParamType::Composite | ParamType::Special) | None => return Err(unsupported()),
        };
        let table = def.map(|d| d.kind).and_then(table_of).ok_or_else(unsupported)?;
        column(
            Source::Index {
                table,
                column: value_column,
                descending_column,
            },
            kind,
        )
    }

    /// Whether the key is a column of the `resources` row (not of index
    /// rows).
    pub(crate) fn reads_row(&self) -> bool {
        matches!(self.source, Source::Id | Source::LastUpdated)
    }

    /// The key's value for the row `m` (a `resources` row), as `(expr)`.
    pub(crate) fn emit(&self, e: &mut Emit<'_>, m: &str) {
        let bytewise = if self.kind == KeyKind::Text { e.bytewise() } else { "" };
        match &self.source {
            Source::Id => {
                e.push("(").push(m).push(".id").push(bytewise).push(")");
            }
            Source::LastUpdated => {
                e.push(m).push(".last_updated");
            }
            Source::Index {
                table,
                column,
                descending_column,
            } => {
                let o = e.alias("o");
                let (aggregate, column) = match self.descending {
                    true => ("MAX", descending_column),
                    false => ("MIN", column),
                };
                e.push("(SELECT ")
                    .push(aggregate)
                    .push("(")
                    .push(&o)
                    .push(".")
                    .push(column);
                e.push(bytewise)
                    .push(") FROM ")
                    .push(table)
                    .push(" ")
                    .push(&o)
                    .push(" WHERE ");
                e.push(&o)
                    .push(".rkey = ")
                    .push(m)
                    .push(".rkey AND ")
                    .push(&o)
                    .push(".param = ");
                e.text(&self.code).push(")");
            }
        }
    }
}
