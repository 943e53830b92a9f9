//! The plan step of search: a parsed [`SearchRequest`] compiled once into
//! the condition that selects its matches (the `WHERE` on `resources`) and
//! its resolved sort keys, checked for anything not built. Executing a plan
//! ([`super::execute`]) then only assembles statements around them:
//!
//! ```sql
//! WITH m AS (SELECT … FROM resources r WHERE <filter>),      -- the matches
//!      s AS (SELECT m.…, <key0> AS k0, … FROM m WHERE m.rkey <= <pin>)
//! SELECT s.…, v.body FROM s JOIN resource_versions v …     -- with the body
//! WHERE <after the cursor> ORDER BY <keys>, s.rkey LIMIT <n>
//! ```
//!
//! and `SELECT COUNT(*) … FROM m WHERE m.rkey <= <pin>` for `_total`.
//!
//! Where every criterion reads nothing of a resource but its key, `m` is
//! keyed: `SELECT DISTINCT x1.rkey FROM idx_… x1 WHERE <the other criteria
//! on x1.rkey>`, and the page's `resources` rows are joined after its
//! `LIMIT` ([`keys`]).
//!
//! `_contained` (search.html#contained) changes where the rows come from.
//! A contained resource is a row of `contained_resources` whose index rows
//! are keyed by its own (negative) key; seen through [`CONTAINED_ROWS`] it
//! has the columns of a `resources` row, so the same criteria apply to it:
//!
//! - `_containedType=container` (the default): the matches are resources,
//!   those that contain a match (`_contained=true`) or that match or
//!   contain one (`both`);
//! - `_containedType=contained`: the matches are the contained resources
//!   themselves (`true`), or those and the resources that match (`both`, a
//!   `UNION ALL`). Their `owner` (the container's rkey) is what the pin
//!   compares and whose version holds the body.

use super::compartment::Membership;
use super::page::Cursor;
use super::params::{Clause, Contained, ContainedType, Criterion, Link, SearchRequest};
use super::sort::SortColumn;
use super::sql::{is_key_source, is_lookup, local_reference, reads_key_only, Emit, Env};
use super::SearchError;
use crate::index::Registry;
use crate::model::ResourceType;
use crate::store::{KeyKind, KeyValue, Sql};

/// Contained resources as rows with the columns of `resources` (`rkey` is
/// the contained resource's key, `rtype` and `id` its own, the version and
/// time its container's), plus `owner`, `otype` and `oid`: the container's
/// rkey, type and id.
const CONTAINED_ROWS: &str = "(SELECT c.ckey AS rkey, c.rkey AS owner, c.rtype, c.id, o.version, \
     o.last_updated, o.deleted, o.rtype AS otype, o.id AS oid \
     FROM contained_resources c JOIN resources o ON o.rkey = c.rkey)";

/// The columns of `m` for plans whose rows may be contained resources.
const OWNER_COLUMNS: &str = "r.owner, r.otype, r.oid";

/// A search compiled against one registry and environment.
pub struct Plan<'r> {
    request: SearchRequest,
    /// The types searched (empty: every type).
    types: Vec<ResourceType>,
    /// The body of `m`: `SELECT … FROM resources r WHERE <filter>` (or its
    /// contained variants), its placeholders numbered from `$1`.
    filter: Sql,
    /// The rows may be contained resources (`_containedType=contained`):
    /// `m` has the columns `owner`, `otype`, `oid`.
    contained_rows: bool,
    /// `m` holds keys only, read from index rows ([`keys`]): the page's
    /// resources rows are read after its `LIMIT`.
    keyed: bool,
    sort: Vec<SortColumn>,
    env: Env,
    registry: &'r Registry,
}

impl<'r> Plan<'r> {
    /// Compiles `request`; `compartment`, when not empty, limits it to one
    /// compartment (one membership per type the search may return).
    pub fn compile(
        request: SearchRequest,
        registry: &'r Registry,
        env: Env,
        compartment: &[Membership],
    ) -> Result<Plan<'r>, SearchError> {
        if request.contained != Contained::Excluded {
            check_contained(&request, compartment)?;
        }
        let types: Vec<ResourceType> = match request.resource_type {
            Some(t) => vec![t],
            None => request.types.clone(),
        };
        let sort = request
            .sort
            .iter()
            .map(|key| SortColumn::resolve(key, &types, registry))
            .collect::<Result<Vec<_>, _>>()?;
        let contained_rows =
            request.contained != Contained::Excluded && request.contained_type == ContainedType::Contained;
        let source = key_source(&request, compartment);
        let mut filter = Sql::new("");
        {
            let mut e = Emit::new(&mut filter, &env, registry);
            let resources = "SELECT r.rkey, r.rtype, r.id, r.version, r.last_updated";
            match (request.contained, request.contained_type) {
                (Contained::Excluded, _) => match source {
                    Some(source) => keys(&mut e, &types, source, &request.clauses)?,
                    None => {
                        e.push(resources).push(" FROM resources r WHERE ");
                        criteria(&mut e, "r", &types, compartment, &request.clauses)?;
                    }
                },
                (contained, ContainedType::Container) => {
                    e.push(resources).push(" FROM resources r WHERE NOT r.deleted AND (");
                    if contained == Contained::Both {
                        e.push("(");
                        criteria(&mut e, "r", &types, compartment, &request.clauses)?;
                        e.push(") OR ");
                    }
                    e.push("r.rkey IN (SELECT c.owner FROM ")
                        .push(CONTAINED_ROWS)
                        .push(" c WHERE ");
                    criteria(&mut e, "c", &types, compartment, &request.clauses)?;
                    e.push("))");
                }
                (contained, ContainedType::Contained) => {
                    if contained == Contained::Both {
                        e.push(resources)
                            .push(", r.rkey AS owner, NULL AS otype, NULL AS oid FROM resources r WHERE ");
                        criteria(&mut e, "r", &types, compartment, &request.clauses)?;
                        e.push(" UNION ALL ");
                    }
                    e.push(resources)
                        .push(", ")
                        .push(OWNER_COLUMNS)
                        .push(" FROM ")
                        .push(CONTAINED_ROWS)
                        .push(" r WHERE ");
                    criteria(&mut e, "r", &types, compartment, &request.clauses)?;
                }
            }
        }
        let keyed = source.is_some();
        Ok(Plan {
            request,
            types,
            filter,
            contained_rows,
            keyed,
            sort,
            env,
            registry,
        })
    }

    pub fn request(&self) -> &SearchRequest {
        &self.request
    }

    pub(crate) fn env(&self) -> &Env {
        &self.env
    }

    pub(crate) fn registry(&self) -> &'r Registry {
        self.registry
    }

    /// The searched types (empty: every type).
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The SQL type of each sort key, in order.
    pub(crate) fn key_kinds(&self) -> Vec<KeyKind> {
        self.sort.iter().map(|key| key.kind).collect()
    }

    /// `WITH m AS (the matches)`, the start of every statement.
    fn matches(&self) -> Sql {
        let mut sql = Sql::new("WITH m AS (");
        sql.embed(&self.filter);
        sql.push(")");
        sql
    }

    /// The column of `m` the pin applies to: the rkey of the resource that
    /// holds the row (for a contained resource, its container).
    fn pinned(&self) -> &'static str {
        if self.contained_rows {
            "m.owner"
        } else {
            "m.rkey"
        }
    }

    /// How many matches there were when the page set was pinned at `pin`
    /// (`None`: now).
    pub(crate) fn count_statement(&self, pin: Option<i64>) -> Sql {
        let mut sql = self.matches();
        let mut e = Emit::new(&mut sql, &self.env, self.registry);
        e.push(" SELECT COUNT(*) AS n FROM m");
        self.pin(&mut e, pin);
        sql
    }

    /// ` WHERE m.rkey <= pin`; nothing for `None`, which pins the page set
    /// to the statement's own snapshot.
    fn pin(&self, e: &mut Emit<'_>, pin: Option<i64>) {
        if let Some(pin) = pin {
            e.push(" WHERE ").push(self.pinned()).push(" <= ").int(pin);
        }
    }

    /// Up to `limit` matches after (or, for a backward cursor, before) the
    /// cursor, in the search's order (reversed for a backward cursor). The
    /// page's rows are chosen first (`p`, materialised, keys only) and only
    /// they are joined to their bodies: joining every match's body before
    /// the `LIMIT` cost a read per match (docs/PERFORMANCE.md, search).
    ///
    /// With `count`, each row also carries `n`, the number of matches up to
    /// the pin (`COUNT(*) OVER ()` before the cursor and the `LIMIT`): the
    /// total comes with the page instead of from a second statement that
    /// evaluated every criterion again.
    ///
    /// A `None` pin (a first page) pins the page set to the statement's own
    /// snapshot, and each row carries it as `pin` (the highest resource key
    /// then), for the cursors and a later count: one statement fewer per
    /// search than reading it first.
    pub(crate) fn page_statement(&self, pin: Option<i64>, cursor: Option<&Cursor>, limit: i64, count: bool) -> Sql {
        let mut sql = self.matches();
        let mut e = Emit::new(&mut sql, &self.env, self.registry);
        // The row the sort keys read: keyed matches join their resources
        // row for a key that is a column of it (`_id`, `_lastUpdated`).
        let row = match self.keyed && self.sort.iter().any(SortColumn::reads_row) {
            true => "r",
            false => "m",
        };
        e.push(", s AS (SELECT m.rkey");
        if !self.keyed {
            e.push(", m.rtype, m.id, m.version, m.last_updated");
        }
        if self.contained_rows {
            e.push(", m.owner, m.otype, m.oid");
        }
        for (i, key) in self.sort.iter().enumerate() {
            e.push(", ");
            key.emit(&mut e, row);
            e.push(&format!(" AS k{i}"));
        }
        if count {
            e.push(", COUNT(*) OVER () AS n");
        }
        e.push(" FROM m");
        if row == "r" {
            e.push(" JOIN resources r ON r.rkey = m.rkey");
        }
        self.pin(&mut e, pin);
        e.push(")");
        let backward = cursor.is_some_and(|c| c.backward);
        e.push(", p AS MATERIALIZED (SELECT * FROM s");
        if let Some(cursor) = cursor {
            e.push(" WHERE ");
            self.keyset(&mut e, cursor);
        }
        self.order_by(&mut e, "s", backward);
        e.push(" LIMIT ").int(limit).push(")");
        let columns = if self.keyed { "r" } else { "p" };
        e.push(&format!(
            " SELECT p.rkey, {columns}.rtype, {columns}.id, {columns}.version, {columns}.last_updated"
        ));
        if self.contained_rows {
            e.push(", p.otype, p.oid");
        }
        for i in 0..self.sort.len() {
            e.push(&format!(", p.k{i}"));
        }
        if count {
            e.push(", p.n");
        }
        if pin.is_none() {
            e.push(", (SELECT COALESCE(MAX(rkey), 0) FROM resources) AS pin");
        }
        if self.keyed {
            // The body as a subquery of the resources row: as a join,
            // PostgreSQL read every version of the resource by its key.
            e.push(
                ", (SELECT v.body FROM resource_versions v WHERE v.rkey = r.rkey AND v.version = r.version) \
                 AS body FROM p JOIN resources r ON r.rkey = p.rkey",
            );
        } else {
            let holder = if self.contained_rows { "p.owner" } else { "p.rkey" };
            e.push(", v.body FROM p JOIN resource_versions v ON v.rkey = ")
                .push(holder)
                .push(" AND v.version = p.version");
        }
        self.order_by(&mut e, "p", backward);
        sql
    }

    /// ` ORDER BY` the sort keys of `rows` (`s` or `p`), then the resource
    /// key. Resources without a value come last, whichever the direction
    /// (and first when reading backwards): `NULLS LAST` / `NULLS FIRST`
    /// rather than a second `IS NULL` key, which evaluated the key twice.
    fn order_by(&self, e: &mut Emit<'_>, rows: &str, backward: bool) {
        e.push(" ORDER BY ");
        for (i, key) in self.sort.iter().enumerate() {
            let text = if key.kind == KeyKind::Text { e.bytewise() } else { "" };
            let descending = key.descending != backward;
            let nulls = if backward { "FIRST" } else { "LAST" };
            e.push(&format!(
                "{rows}.k{i}{text}{} NULLS {nulls}, ",
                if descending { " DESC" } else { "" }
            ));
        }
        e.push(&format!("{rows}.rkey{}", if backward { " DESC" } else { "" }));
    }

    /// The rows strictly after (or before) the cursor's row in the search's
    /// order: `k0 after c0 OR (k0 = c0 AND (k1 after c1 OR (… rkey after r)))`,
    /// written flat.
    fn keyset(&self, e: &mut Emit<'_>, cursor: &Cursor) {
        e.push("(");
        let mut first = true;
        for (i, key) in self.sort.iter().enumerate() {
            let value = cursor.keys.get(i).unwrap_or(&KeyValue::Null);
            // Nothing sorts after a missing value (they come last).
            if !cursor.backward && *value == KeyValue::Null {
                continue;
            }
            if !first {
                e.push(" OR ");
            }
            first = false;
            e.push("(");
            self.equal_before(e, cursor, i);
            let column = format!("s.k{i}");
            let text = if key.kind == KeyKind::Text { e.bytewise() } else { "" };
            match (cursor.backward, value) {
                (true, KeyValue::Null) => {
                    e.push(&column).push(" IS NOT NULL");
                }
                (backward, value) => {
                    let greater = key.descending == backward;
                    e.push("(")
                        .push(&column)
                        .push(text)
                        .push(if greater { " > " } else { " < " });
                    bind(e, value);
                    if !backward {
                        e.push(" OR ").push(&column).push(" IS NULL");
                    }
                    e.push(")");
                }
            }
            e.push(")");
        }
        if !first {
            e.push(" OR ");
        }
        e.push("(");
        self.equal_before(e, cursor, self.sort.len());
        e.push(if cursor.backward { "s.rkey < " } else { "s.rkey > " })
            .int(cursor.rkey);
        e.push("))");
    }

    /// `k0 = c0 AND … AND k(n-1) = c(n-1) AND ` (nothing for n = 0).
    fn equal_before(&self, e: &mut Emit<'_>, cursor: &Cursor, n: usize) {
        for (j, value) in cursor.keys.iter().enumerate().take(n) {
            match value {
                KeyValue::Null => e.push(&format!("s.k{j} IS NULL AND ")),
                value => {
                    e.push(&format!("s.k{j} = "));
                    bind(e, value);
                    e.push(" AND ")
                }
            };
        }
    }
}

/// The body of a keyed `m`: the keys of the matches from the index rows of
/// the first clause that can be their source (a positive lookup, else a
/// chain), every other clause a condition on those rows' key. For criteria
/// that read nothing of a resource but its key ([`reads_key_only`]), so no
/// `resources` row is read per match: only the page's rows are, after its
/// `LIMIT`, and a count reads index rows alone (docs/PERFORMANCE.md,
/// search).
fn keys(e: &mut Emit<'_>, types: &[ResourceType], source: &Clause, clauses: &[Clause]) -> Result<(), SearchError> {
    let x = e.key_source(types, source)?;
    for clause in clauses.iter().filter(|c| !std::ptr::eq(*c, source)) {
        e.push(" AND ");
        e.clause(&x, types, clause)?;
    }
    Ok(())
}

/// The clause a keyed `m` takes its keys from ([`keys`]), if the search
/// can have one: resources only (not contained ones), no compartment, and
/// every clause reading nothing of a resource but its key.
fn key_source<'a>(request: &'a SearchRequest, compartment: &[Membership]) -> Option<&'a Clause> {
    let clauses = &request.clauses;
    if request.contained != Contained::Excluded || !compartment.is_empty() || !clauses.iter().all(reads_key_only) {
        return None;
    }
    let lookup = clauses.iter().find(|c| is_lookup(c, false));
    lookup.or_else(|| clauses.iter().find(|c| is_key_source(c)))
}

/// The conditions on the row `r` (a resource, or a contained resource as
/// [`CONTAINED_ROWS`] shows it): not deleted, of the types, in the
/// compartment, and every clause.
fn criteria(
    e: &mut Emit<'_>,
    r: &str,
    types: &[ResourceType],
    compartment: &[Membership],
    clauses: &[Clause],
) -> Result<(), SearchError> {
    e.push("NOT ").push(r).push(".deleted");
    if !types.is_empty() {
        e.push(" AND ");
        e.type_in(&format!("{r}.rtype"), types);
    }
    if !compartment.is_empty() {
        e.push(" AND (");
        for (i, membership) in compartment.iter().enumerate() {
            e.push(if i == 0 { "(" } else { " OR (" });
            e.push(r).push(".rtype = ");
            e.text(membership.resource_type.as_str()).push(" AND ");
            in_compartment(e, r, membership);
            e.push(")");
        }
        e.push(")");
    }
    // The negated lookups go inside the first positive one, if any.
    let host = clauses.iter().position(|c| is_lookup(c, false));
    let inside = |c: &Clause| host.is_some() && is_lookup(c, true);
    for (i, clause) in clauses.iter().enumerate() {
        if inside(clause) {
            continue;
        }
        e.push(" AND ");
        if host == Some(i) {
            let inner = clauses.iter().filter(|c| inside(c)).cloned().collect();
            e.clause_hosting(r, types, clause, inner)?;
        } else {
            e.clause(r, types, clause)?;
        }
    }
    Ok(())
}

/// What `_contained=true|both` cannot be combined with: criteria that
/// compare a resource's `Type/id` with references (`_has`, `_list`) — a
/// contained resource's id is only unique within its container, so they
/// would match references to some other resource; compartments (likewise
/// by reference to the owner, and a contained resource's compartment is its
/// container's business); and `_sort` when containers are returned, which
/// need not be of the searched type whose parameter the key names.
fn check_contained(request: &SearchRequest, compartment: &[Membership]) -> Result<(), SearchError> {
    let refuse = |what: &str| {
        Err(SearchError::NotSupported(format!(
            "_contained={} with {what}",
            request.contained.code()
        )))
    };
    if !compartment.is_empty() {
        return refuse("a compartment search");
    }
    for clause in &request.clauses {
        if matches!(clause.path.first(), Some(Link::Has { .. })) {
            return refuse("_has");
        }
        if clause.path.is_empty() && matches!(clause.criterion, Criterion::List(_)) {
            return refuse("_list");
        }
    }
    if request.contained_type == ContainedType::Container && !request.sort.is_empty() {
        return refuse(
            "_sort and _containedType=container (sort the contained resources with _containedType=contained)",
        );
    }
    Ok(())
}

fn bind(e: &mut Emit<'_>, value: &KeyValue) {
    match value {
        KeyValue::Null => e.push("NULL"),
        KeyValue::Text(text) => e.text(text),
        KeyValue::Int(int) => e.int(*int),
        KeyValue::Real(real) => e.real(*real),
    };
}

/// The resource is in the compartment: one of the compartment's reference
/// parameters for its type points at the owner, or it is the owner itself
/// where the definition says so (`{def}`).
fn in_compartment(e: &mut Emit<'_>, r: &str, membership: &Membership) {
    let x = e.alias("x");
    e.push("(");
    if membership.params.is_empty() {
        e.push("1 = 0");
    } else {
        e.push("EXISTS (SELECT 1 FROM idx_reference ").push(&x).push(" WHERE ");
        e.push(&x)
            .push(".rkey = ")
            .push(r)
            .push(".rkey AND ")
            .push(&x)
            .push(".param IN (");
        for (i, param) in membership.params.iter().enumerate() {
            if i > 0 {
                e.push(", ");
            }
            e.text(param);
        }
        e.push(") AND ")
            .push(&x)
            .push(".target_type = ")
            .text(membership.owner.as_str());
        e.push(" AND ")
            .push(&x)
            .push(".target_id = ")
            .text(membership.id.as_str());
        e.push(" AND ");
        local_reference(e, &format!("{x}.url"));
        e.push(")");
    }
    if membership.itself {
        e.push(" OR (")
            .push(r)
            .push(".rtype = ")
            .text(membership.owner.as_str());
        e.push(" AND ")
            .push(r)
            .push(".id = ")
            .text(membership.id.as_str())
            .push(")");
    }
    e.push(")");
}
