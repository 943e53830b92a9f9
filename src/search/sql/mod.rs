//! The SQL of search criteria: each [`Clause`] of a parsed search becomes one
//! condition on a `resources` row (or, for keyed matches, on the key of an
//! index row: [`Emit::key_source`]) — `rkey IN` the rows of the index table of
//! the parameter's type (search.html §3.1.1) of the searched types, with the
//! clause's OR values inside it. Chains and `_has` nest `EXISTS` through
//! `idx_reference`.
//!
//! Everything a client wrote is bound as a parameter. The text that is not
//! (aliases, table and column names, the length of the server's base URL)
//! comes from this code. Conditions are written so PostgreSQL and SQLite
//! agree: no `LIKE` on case-sensitive columns (SQLite's folds ASCII case),
//! text compared by code point (`COLLATE "C"` on PostgreSQL, SQLite's
//! default), numbers as doubles converted the way the index stores them.
//!
//! One submodule per parameter type; each writes the condition on one index
//! row (or one composite component slot) for one value. `text` writes the
//! whole `_text` / `_content` condition, which is not an `EXISTS`.

mod composite;
mod date;
mod near;
mod number;
mod quantity;
mod reference;
mod string;
mod text;
mod token;
mod uri;

use super::params::{Clause, Criterion, Link, TokenMatch};
use super::SearchError;
use crate::index::{ParamType, Registry};
use crate::model::ResourceType;
use crate::store::{Arg, Dialect, Sql};

pub(crate) use reference::local_reference;

/// What the SQL depends on besides the request.
#[derive(Debug, Clone)]
pub struct Env {
    pub dialect: Dialect,
    /// This server's base URL, without a trailing `/`: absolute references
    /// under it are local ones.
    pub base: String,
    /// Now, in microseconds since the epoch (date `ap` is relative to it).
    pub now: i64,
}

/// Writes conditions into one statement, in order, so placeholders number
/// themselves.
pub(crate) struct Emit<'a> {
    sql: &'a mut Sql,
    pub(crate) env: &'a Env,
    registry: &'a Registry,
    aliases: usize,
    /// Negated clauses for the next positive index lookup to take inside
    /// its subquery ([`Emit::clause_hosting`]).
    inner: Vec<Clause>,
    /// Set by [`Emit::key_source`]: the next lookup or chain writes itself
    /// as the source of the matches' keys, and leaves its alias in
    /// `source_rows`.
    as_source: bool,
    source_rows: Option<String>,
}

type Result<T = ()> = std::result::Result<T, SearchError>;

impl<'a> Emit<'a> {
    pub(crate) fn new(sql: &'a mut Sql, env: &'a Env, registry: &'a Registry) -> Self {
        Emit {
            sql,
            env,
            registry,
            aliases: 0,
            inner: Vec::new(),
            as_source: false,
            source_rows: None,
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push(text);
        self
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.sql.arg(Arg::Text(value.to_owned()));
        self
    }

    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.sql.arg(Arg::Int(value));
        self
    }

    pub(crate) fn real(&mut self, value: f64) -> &mut Self {
        self.sql.arg(Arg::Real(value));
        self
    }

    /// A fresh table alias (`x1`, `t2`…), so nested subqueries never shadow
    /// the row they correlate with.
    pub(crate) fn alias(&mut self, stem: &str) -> String {
        self.aliases += 1;
        format!("{stem}{}", self.aliases)
    }

    /// Appended to a text expression that is compared or sorted: byte
    /// (code-point) order on PostgreSQL whatever the database's collation,
    /// which is what SQLite's default BINARY collation does.
    pub(crate) fn bytewise(&self) -> &'static str {
        match self.env.dialect {
            Dialect::Postgres => " COLLATE \"C\"",
            Dialect::Sqlite => "",
        }
    }

    /// `instr`/`strpos`: where `needle` occurs in `column` (0: nowhere).
    /// Case-sensitive on both databases, unlike SQLite's `LIKE`.
    pub(crate) fn contains(&mut self, column: &str, needle: &str) -> &mut Self {
        match self.env.dialect {
            Dialect::Postgres => self.push("strpos(").push(column).push(", ").text(needle).push(") > 0"),
            Dialect::Sqlite => self.push("instr(").push(column).push(", ").text(needle).push(") > 0"),
        }
    }

    /// `column` starts with `prefix`, as a range (`>= p AND < p || U+10FFFF`)
    /// that a B-tree index on the column serves; the column must compare by
    /// code point (`COLLATE "C"` in the PostgreSQL schema).
    pub(crate) fn starts_with(&mut self, column: &str, prefix: &str) -> &mut Self {
        let mut after = prefix.to_owned();
        after.push(char::MAX);
        self.push(column).push(" >= ").text(prefix);
        self.push(" AND ").push(column).push(" < ").text(&after)
    }

    /// `(a OR b OR …)`: one condition per value.
    pub(crate) fn any<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T) -> Result) -> Result {
        if items.is_empty() {
            self.push("1 = 0");
            return Ok(());
        }
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.push("(");
            each(self, item)?;
            self.push(")");
        }
        self.push(")");
        Ok(())
    }

    /// `resource.rkey [NOT] IN (SELECT x.rkey FROM table x WHERE x.param =
    /// code AND x.rtype IN (types) AND (body on x))`: the rows of the
    /// resource's types only, as a parameter code is shared by several
    /// types. Uncorrelated on purpose: each database reads
    /// the index rows once and hashes them. As a correlated `[NOT] EXISTS`,
    /// SQLite without statistics probed the index once per resource (40 s
    /// on Synthea), and PostgreSQL's generic plan for a prepared `NOT
    /// EXISTS` read every matching row per resource (0.3–1.2 s for `:not`;
    /// docs/PERFORMANCE.md).
    fn exists(
        &mut self,
        negated: bool,
        table: &str,
        (resource, types): (&str, &[ResourceType]),
        code: &str,
        body: impl FnOnce(&mut Self, &str) -> Result,
    ) -> Result {
        let x = self.alias("x");
        let source = !negated && std::mem::take(&mut self.as_source);
        if source {
            self.push("SELECT DISTINCT ");
        } else {
            self.push(resource).push(if negated {
                ".rkey NOT IN (SELECT "
            } else {
                ".rkey IN (SELECT "
            });
        }
        self.push(&x)
            .push(".rkey FROM ")
            .push(table)
            .push(" ")
            .push(&x)
            .push(" WHERE ");
        if source {
            self.push(&x).push(".rkey > 0 AND ");
        }
        self.push(&x).push(".param = ").text(code).push(" AND ");
        self.of_types(&x, types);
        let inner = if negated {
            Vec::new()
        } else {
            std::mem::take(&mut self.inner)
        };
        self.push("(");
        body(self, &x)?;
        self.push(")");
        for clause in &inner {
            self.push(" AND ");
            self.clause(&x, types, clause)?;
        }
        self.close(source, x);
        Ok(())
    }

    /// Ends a lookup or chain on the rows `x`: a condition closes its
    /// subquery; a key source leaves its `WHERE` open and its alias for
    /// [`Emit::key_source`].
    fn close(&mut self, source: bool, x: String) {
        if source {
            self.source_rows = Some(x);
        } else {
            self.push(")");
        }
    }

    /// `SELECT DISTINCT x.rkey FROM <index rows> x WHERE x.rkey > 0 AND …`:
    /// the keys of the resources `clause` matches, read from index rows
    /// alone, for a clause that [`is_key_source`]. The `WHERE` is left open
    /// for further conditions on `x`, whose alias is returned. Index rows
    /// exist only for current, undeleted resources; contained resources'
    /// keys are negative.
    pub(crate) fn key_source(&mut self, types: &[ResourceType], clause: &Clause) -> Result<String> {
        self.as_source = true;
        let written = self.clause("", types, clause);
        self.as_source = false;
        written?;
        self.source_rows
            .take()
            .ok_or_else(|| SearchError::NotSupported(format!("'{}' as the source of a search's matches", clause.code)))
    }

    /// [`clause`](Self::clause) for a positive index lookup (see
    /// [`is_lookup`]) that takes the negated lookups `inner` inside its
    /// subquery: `r.rkey IN (SELECT x.rkey … AND x.rkey NOT IN (…))`, the
    /// same matches as `r.rkey IN (…) AND r.rkey NOT IN (…)`. Written that
    /// way, PostgreSQL filters the lookup's few rows; written beside it, it
    /// scanned every resource of the type to apply the `NOT IN` (`:not`
    /// within a patient, docs/PERFORMANCE.md).
    pub(crate) fn clause_hosting(
        &mut self,
        resource: &str,
        types: &[ResourceType],
        clause: &Clause,
        inner: Vec<Clause>,
    ) -> Result {
        self.inner = inner;
        self.clause(resource, types, clause)?;
        // Not taken (cannot happen for a lookup): applied beside it.
        for left in std::mem::take(&mut self.inner) {
            self.push(" AND ");
            self.clause(resource, types, &left)?;
        }
        Ok(())
    }

    /// The condition of one clause on the `resources` row `resource`, whose
    /// type is one of `types` (empty: any type).
    pub(crate) fn clause(&mut self, resource: &str, types: &[ResourceType], clause: &Clause) -> Result {
        self.path(resource, types, &clause.path, &clause.code, &clause.criterion)
    }

    fn path(
        &mut self,
        resource: &str,
        types: &[ResourceType],
        path: &[Link],
        code: &str,
        criterion: &Criterion,
    ) -> Result {
        let Some((link, rest)) = path.split_first() else {
            return self.criterion(resource, types, code, criterion);
        };
        let x = self.alias("x");
        let t = self.alias("t");
        match link {
            // The resources `resource.param` points at, of the chain's types.
            Link::Chain { param, types: targets } => {
                let source = std::mem::take(&mut self.as_source);
                if source {
                    self.push("SELECT DISTINCT ").push(&x).push(".rkey");
                } else {
                    self.push("EXISTS (SELECT 1");
                }
                self.push(" FROM idx_reference ").push(&x);
                self.push(" JOIN resources ").push(&t).push(" ON ");
                self.push(&t).push(".rtype = ").push(&x).push(".target_type AND ");
                self.push(&t).push(".id = ").push(&x).push(".target_id WHERE ");
                if source {
                    self.push(&x).push(".rkey > 0 AND ");
                } else {
                    self.push(&x).push(".rkey = ").push(resource).push(".rkey AND ");
                }
                self.push(&x).push(".param = ").text(param).push(" AND ");
                self.of_types(&x, types);
                self.type_in(&format!("{x}.target_type"), targets);
                self.push(" AND ");
                local_reference(self, &format!("{x}.url"));
                self.push(" AND NOT ").push(&t).push(".deleted AND ");
                self.path(&t, targets, rest, code, criterion)?;
                self.close(source, x);
            }
            // The `source` resources whose `param` points at `resource`.
            // Their index row has their key and type, which is all a
            // criterion on their index rows needs; the `resources` row is
            // joined only for what else reads it (a further link, `_id`…).
            Link::Has { source, param } => {
                self.push("EXISTS (SELECT 1 FROM idx_reference ").push(&x);
                let source_row = if reads_only_rkey(rest, code, criterion) {
                    x.clone()
                } else {
                    self.push(" JOIN resources ").push(&t).push(" ON ");
                    self.push(&t).push(".rkey = ").push(&x).push(".rkey");
                    t
                };
                self.push(" WHERE ").push(&x).push(".rtype = ").text(source.as_str());
                self.push(" AND ").push(&x).push(".param = ").text(param).push(" AND ");
                self.push(&x).push(".target_type = ").push(resource).push(".rtype AND ");
                self.push(&x).push(".target_id = ").push(resource).push(".id AND ");
                local_reference(self, &format!("{x}.url"));
                self.push(" AND ");
                self.path(&source_row, &[*source], rest, code, criterion)?;
                self.push(")");
            }
        }
        Ok(())
    }

    /// `x.rtype IN (types…) AND ` for the index rows `x`; nothing when any
    /// type will do.
    fn of_types(&mut self, x: &str, types: &[ResourceType]) {
        if !types.is_empty() {
            self.type_in(&format!("{x}.rtype"), types);
            self.push(" AND ");
        }
    }

    /// `column IN (types…)`; no types means any.
    pub(crate) fn type_in(&mut self, column: &str, types: &[ResourceType]) {
        if types.is_empty() {
            self.push("1 = 1");
            return;
        }
        self.push(column).push(" IN (");
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(t.as_str());
        }
        self.push(")");
    }

    fn criterion(&mut self, resource: &str, types: &[ResourceType], code: &str, criterion: &Criterion) -> Result {
        // `_id` and `_lastUpdated` are columns of `resources` itself.
        match (code, criterion) {
            ("_id" | "_lastUpdated", Criterion::Missing(missing)) => {
                self.push(if *missing { "1 = 0" } else { "1 = 1" });
                return Ok(());
            }
            ("_id", Criterion::Token(mode @ (TokenMatch::Equal | TokenMatch::Not), values)) => {
                if *mode == TokenMatch::Not {
                    self.push("NOT ");
                }
                return self.any(values, |e, value| {
                    token::id(e, &format!("{resource}.id"), value);
                    Ok(())
                });
            }
            ("_lastUpdated", Criterion::Date(values)) => {
                let columns = date::Columns {
                    low: format!("{resource}.last_updated"),
                    high: format!("({resource}.last_updated + 1)"),
                };
                return self.any(values, |e, value| {
                    date::condition(e, &columns, value);
                    Ok(())
                });
            }
            _ => {}
        }
        match criterion {
            Criterion::Missing(missing) => {
                let table = self.table(types, code)?;
                self.exists(*missing, table, (resource, types), code, |e, _| {
                    e.push("1 = 1");
                    Ok(())
                })
            }
            Criterion::String(mode, values) => self.exists(false, "idx_string", (resource, types), code, |e, x| {
                e.any(values, |e, value| {
                    string::condition(e, x, *mode, value);
                    Ok(())
                })
            }),
            Criterion::Token(mode @ (TokenMatch::Equal | TokenMatch::Not), values) => {
                // `:not`: no value matches, which includes having no value
                // at all (search.html#modifiers).
                self.exists(
                    *mode == TokenMatch::Not,
                    "idx_token",
                    (resource, types),
                    code,
                    |e, x| {
                        token::any(e, &token::Columns::table(x), values);
                        Ok(())
                    },
                )
            }
            Criterion::Token(TokenMatch::Above | TokenMatch::Below, _) => Err(SearchError::NotSupported(format!(
                "the token modifiers :above and :below (subsumption, on '{code}')"
            ))),
            Criterion::TokenText(values) => self.exists(false, "idx_token", (resource, types), code, |e, x| {
                e.any(values, |e, value| {
                    e.starts_with(&format!("{x}.text"), &value.normalized);
                    Ok(())
                })
            }),
            Criterion::InValueSet { negated, .. } => Err(SearchError::NotSupported(format!(
                "the token modifier :{} (value sets, on '{code}')",
                if *negated { "not-in" } else { "in" }
            ))),
            Criterion::Codes { negated, codes, .. } => {
                self.exists(*negated, "idx_token", (resource, types), code, |e, x| {
                    let columns = token::Columns::table(x);
                    token::code_list(e, &columns, codes);
                    Ok(())
                })
            }
            Criterion::OfType(values) => self.exists(false, "idx_token", (resource, types), code, |e, x| {
                let columns = token::Columns::table(x);
                e.any(values, |e, value| {
                    token::of_type(e, &columns, value);
                    Ok(())
                })
            }),
            Criterion::Number(values) => self.exists(false, "idx_number", (resource, types), code, |e, x| {
                let column = format!("{x}.value");
                e.any(values, |e, value| {
                    number::condition(e, &column, value);
                    Ok(())
                })
            }),
            Criterion::Date(values) => self.exists(false, "idx_date", (resource, types), code, |e, x| {
                let columns = date::Columns::table(x);
                e.any(values, |e, value| {
                    date::condition(e, &columns, value);
                    Ok(())
                })
            }),
            Criterion::Quantity(values) => self.exists(false, "idx_quantity", (resource, types), code, |e, x| {
                let columns = quantity::Columns::table(x);
                e.any(values, |e, value| {
                    quantity::condition(e, &columns, value);
                    Ok(())
                })
            }),
            Criterion::Reference(values) => self.exists(false, "idx_reference", (resource, types), code, |e, x| {
                let columns = reference::Columns::table(x);
                e.any(values, |e, value| {
                    reference::condition(e, &columns, value);
                    Ok(())
                })
            }),
            Criterion::ReferenceIdentifier(values) => {
                self.exists(false, "idx_reference", (resource, types), code, |e, x| {
                    let columns = token::Columns {
                        system: format!("{x}.id_system"),
                        code: format!("{x}.id_value"),
                    };
                    token::any(e, &columns, values);
                    Ok(())
                })
            }
            Criterion::Uri(mode, values) => self.exists(false, "idx_uri", (resource, types), code, |e, x| {
                let column = format!("{x}.value");
                e.any(values, |e, value| {
                    uri::condition(e, &column, *mode, value);
                    Ok(())
                })
            }),
            Criterion::Composite(values) => {
                composite::check(code, values)?;
                self.exists(false, "idx_composite", (resource, types), code, |e, x| {
                    e.any(values, |e, components| {
                        composite::condition(e, x, components);
                        Ok(())
                    })
                })
            }
            Criterion::List(ids) => {
                self.list(resource, ids);
                Ok(())
            }
            Criterion::Special(_) => Err(SearchError::NotSupported(format!("the special parameter '{code}'"))),
            Criterion::Near(values) => self.exists(false, "idx_composite", (resource, types), code, |e, x| {
                e.any(values, |e, value| {
                    near::condition(e, x, value);
                    Ok(())
                })
            }),
            Criterion::FullText(queries) => text::condition(self, resource, code, queries),
        }
    }

    /// `_list`: the resource is an item of one of the List resources.
    fn list(&mut self, resource: &str, ids: &[crate::model::Id]) {
        let l = self.alias("l");
        let x = self.alias("x");
        self.push("EXISTS (SELECT 1 FROM resources ").push(&l);
        self.push(" JOIN idx_reference ")
            .push(&x)
            .push(" ON ")
            .push(&x)
            .push(".rkey = ");
        self.push(&l)
            .push(".rkey WHERE ")
            .push(&l)
            .push(".rtype = 'List' AND NOT ");
        self.push(&l).push(".deleted AND ").push(&l).push(".id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(id.as_str());
        }
        self.push(") AND ").push(&x).push(".param = 'item' AND ");
        self.push(&x).push(".target_type = ").push(resource).push(".rtype AND ");
        self.push(&x).push(".target_id = ").push(resource).push(".id AND ");
        local_reference(self, &format!("{x}.url"));
        self.push(")");
    }

    /// The index table of `code` on `types` (on every resource for a search
    /// across all types).
    fn table(&self, types: &[ResourceType], code: &str) -> Result<&'static str> {
        let kind = match types.first() {
            Some(t) => self.registry.get(t.as_str(), code),
            None => self.registry.get("Resource", code),
        }
        .map(|def| def.kind);
        match kind {
            // Positions are indexed as (latitude, longitude) composites.
            Some(ParamType::Special) if crate::index::is_searchable_special(code) => Ok("idx_composite"),
            Some(kind) => table_of(kind)
                .ok_or_else(|| SearchError::NotSupported(format!("':missing' on the special parameter '{code}'"))),
            // The parser resolved the name on these types, so this is not reached.
            None => Err(SearchError::NotSupported(format!("':missing' on '{code}'"))),
        }
    }
}

/// A clause whose condition is `r.rkey IN (SELECT … FROM idx_…)`, positive
/// (`negated: false`) or `NOT IN` (`negated: true`): a plain parameter of
/// the row's own type, other than `_id` and `_lastUpdated` (columns of
/// `resources`), with a criterion that looks up an index table.
pub(crate) fn is_lookup(clause: &Clause, negated: bool) -> bool {
    if !clause.path.is_empty() || matches!(clause.code.as_str(), "_id" | "_lastUpdated") {
        return false;
    }
    match &clause.criterion {
        Criterion::Missing(missing) => *missing == negated,
        Criterion::Token(TokenMatch::Not, _) => negated,
        Criterion::Codes { negated: n, .. } => *n == negated,
        Criterion::Token(TokenMatch::Equal, _)
        | Criterion::Number(_)
        | Criterion::Date(_)
        | Criterion::Quantity(_)
        | Criterion::String(..)
        | Criterion::TokenText(_)
        | Criterion::OfType(_)
        | Criterion::Reference(_)
        | Criterion::ReferenceIdentifier(_)
        | Criterion::Uri(..)
        | Criterion::Composite(_)
        | Criterion::Near(_) => !negated,
        _ => false,
    }
}

/// Whether the condition of a clause's remaining `path` and `criterion`
/// reads nothing of the row it applies to but its `rkey` (so an index row
/// can stand for the resource): everything but `_has` and `_list` (which
/// compare the row's type and id with references) and `_id` and
/// `_lastUpdated` (columns of `resources`).
fn reads_only_rkey(path: &[Link], code: &str, criterion: &Criterion) -> bool {
    match path.first() {
        Some(Link::Chain { .. }) => true,
        Some(Link::Has { .. }) => false,
        None => !matches!(code, "_id" | "_lastUpdated") && !matches!(criterion, Criterion::List(_)),
    }
}

/// [`reads_only_rkey`] for a whole clause.
pub(crate) fn reads_key_only(clause: &Clause) -> bool {
    reads_only_rkey(&clause.path, &clause.code, &clause.criterion)
}

/// A clause [`Emit::key_source`] can write: a positive index lookup or a
/// chain.
pub(crate) fn is_key_source(clause: &Clause) -> bool {
    is_lookup(clause, false) || matches!(clause.path.first(), Some(Link::Chain { .. }))
}

/// The index table holding a parameter type's values.
pub(crate) fn table_of(kind: ParamType) -> Option<&'static str> {
    Some(match kind {
        ParamType::String => "idx_string",
        ParamType::Token => "idx_token",
        ParamType::Date => "idx_date",
        ParamType::Number => "idx_number",
        ParamType::Quantity => "idx_quantity",
        ParamType::Reference => "idx_reference",
        ParamType::Uri => "idx_uri",
        ParamType::Composite => "idx_composite",
        ParamType::Special => return None,
    })
}

#[cfg(test)]
mod tests;
