//! Index rows on their way into the index tables
//! (`migrations/*/0002_search_index.sql` and, for the full-text row,
//! `0003_full_text.sql`; described in docs/database.md).
//!
//! A flush turns the [`IndexEntry`]s of all its versions into one JSON array
//! per table, and one statement per table unpacks it (`json_to_recordset` on
//! PostgreSQL, `json_each` on SQLite). One bind parameter per table keeps a
//! statement's parameter count fixed however many rows a Bundle produces, and
//! keeps the PostgreSQL flush a single statement.
//!
//! Each JSON row names its columns; columns a value does not have are left
//! out and come out NULL. Every row carries `rtype`, the type of the
//! resource it indexes (for a contained resource, its own type), so that a
//! search criterion selects the rows of its types without a join to
//! `resources`. `key` ties the row to its resource: the position
//! of its version in the flush on PostgreSQL (joined to the rkeys the same
//! statement assigns), the rkey itself on SQLite.

use rust_decimal::Decimal;

use crate::index::{normalize_string, IndexEntry, IndexValue};

/// Components a composite row has room for (R4 composites have two or three).
pub(super) const COMPOSITE_SLOTS: usize = 3;

/// Rows one composite value may expand into (the product of its components'
/// value counts). A composite value past this is not indexed: it only
/// happens with hostile input (a Group characteristic with a thousand codes
/// and a thousand values would otherwise write a million rows).
const MAX_COMPOSITE_ROWS: usize = 1024;

/// The keys of contained resources' index rows (migrations/*/
/// `…_contained_resources.sql`): `-2^62 + rkey * 2^20 + position`, negative
/// where rkeys are positive, so no ordinary search can match them, and one
/// range per container, ordered by container then position.
const CONTAINED_BASE: i64 = -(1 << 62);
const CONTAINED_SPAN: i64 = 1 << 20;

/// The key of the contained resource at `position` (1-based) of the
/// resource `rkey`; `None` past the limits (see the migration).
pub(crate) fn contained_key(rkey: i64, position: u32) -> Option<i64> {
    let position = i64::from(position);
    if !(1..CONTAINED_SPAN).contains(&position) {
        return None;
    }
    rkey.checked_mul(CONTAINED_SPAN)?
        .checked_add(CONTAINED_BASE)?
        .checked_add(position)
        .filter(|key| *key < 0)
}

/// [`contained_key`] in SQL, for the PostgreSQL flush, where the rkey is
/// assigned by the statement itself. Overflow is an error there, as here.
pub(super) fn contained_key_sql(rkey: &str, position: &str) -> String {
    format!("({CONTAINED_BASE} + {rkey} * {CONTAINED_SPAN} + {position})")
}

/// An index table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    String,
    Token,
    Date,
    Number,
    Quantity,
    Reference,
    Uri,
    Composite,
    /// `idx_text`: one row per resource, its words for `_text` / `_content`.
    Text,
}

/// How a column is typed, in SQL and in the JSON that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnType {
    Text,
    Float,
    Int,
}

impl ColumnType {
    fn postgres(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Float => "double precision",
            ColumnType::Int => "bigint",
        }
    }
}

use ColumnType::{Float, Int, Text};

const STRING_COLUMNS: &[(&str, ColumnType)] = &[("norm", Text), ("exact", Text)];
const TOKEN_COLUMNS: &[(&str, ColumnType)] = &[("system", Text), ("code", Text), ("text", Text)];
const DATE_COLUMNS: &[(&str, ColumnType)] = &[("low", Int), ("high", Int)];
const NUMBER_COLUMNS: &[(&str, ColumnType)] = &[("value", Float), ("low", Float), ("high", Float)];
const QUANTITY_COLUMNS: &[(&str, ColumnType)] = &[
    ("system", Text),
    ("code", Text),
    ("unit", Text),
    ("value", Float),
    ("low", Float),
    ("high", Float),
    ("canon_unit", Text),
    ("canon_value", Float),
    ("canon_low", Float),
    ("canon_high", Float),
];
const REFERENCE_COLUMNS: &[(&str, ColumnType)] = &[
    ("target_type", Text),
    ("target_id", Text),
    ("version", Text),
    ("url", Text),
    ("id_system", Text),
    ("id_value", Text),
];
const URI_COLUMNS: &[(&str, ColumnType)] = &[("value", Text)];
const TEXT_COLUMNS: &[(&str, ColumnType)] = &[("narrative", Text), ("data", Text)];
/// The columns of one composite component, each prefixed `c1_`, `c2_`…
const SLOT_COLUMNS: &[(&str, ColumnType)] = &[
    ("system", Text),
    ("code", Text),
    ("unit", Text),
    ("norm", Text),
    ("value", Float),
    ("low", Float),
    ("high", Float),
    ("canon_unit", Text),
    ("canon_value", Float),
    ("canon_low", Float),
    ("canon_high", Float),
    ("date_low", Int),
    ("date_high", Int),
    ("ref_type", Text),
    ("ref_id", Text),
    ("url", Text),
];

impl Table {
    pub(super) const ALL: [Table; 9] = [
        Table::String,
        Table::Token,
        Table::Date,
        Table::Number,
        Table::Quantity,
        Table::Reference,
        Table::Uri,
        Table::Composite,
        Table::Text,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Table::String => "idx_string",
            Table::Token => "idx_token",
            Table::Date => "idx_date",
            Table::Number => "idx_number",
            Table::Quantity => "idx_quantity",
            Table::Reference => "idx_reference",
            Table::Uri => "idx_uri",
            Table::Composite => "idx_composite",
            Table::Text => "idx_text",
        }
    }

    /// The table a value is stored in.
    fn of(value: &IndexValue) -> Table {
        match value {
            IndexValue::String { .. } => Table::String,
            IndexValue::Token { .. } => Table::Token,
            IndexValue::Date { .. } => Table::Date,
            IndexValue::Number { .. } => Table::Number,
            IndexValue::Quantity { .. } => Table::Quantity,
            IndexValue::Reference { .. } => Table::Reference,
            IndexValue::Uri { .. } => Table::Uri,
            IndexValue::Composite { .. } => Table::Composite,
            IndexValue::Text(_) => Table::Text,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether rows name their parameter: the full-text row holds the
    /// words of both `_text` and `_content`, so it has no `param` column.
    pub(super) fn has_param(self) -> bool {
        self != Table::Text
    }

    /// `param, ` when the table has that column.
    fn param_column(self) -> &'static str {
        if self.has_param() {
            "param, "
        } else {
            ""
        }
    }

    /// The value columns (after `rkey` and `param`).
    pub(super) fn columns(self) -> Vec<(String, ColumnType)> {
        let plain = |columns: &[(&str, ColumnType)]| columns.iter().map(|&(n, t)| (n.to_string(), t)).collect();
        match self {
            Table::String => plain(STRING_COLUMNS),
            Table::Token => plain(TOKEN_COLUMNS),
            Table::Date => plain(DATE_COLUMNS),
            Table::Number => plain(NUMBER_COLUMNS),
            Table::Quantity => plain(QUANTITY_COLUMNS),
            Table::Reference => plain(REFERENCE_COLUMNS),
            Table::Uri => plain(URI_COLUMNS),
            Table::Text => plain(TEXT_COLUMNS),
            Table::Composite => (1..=COMPOSITE_SLOTS)
                .flat_map(|slot| SLOT_COLUMNS.iter().map(move |&(n, t)| (format!("c{slot}_{n}"), t)))
                .collect(),
        }
    }

    /// PostgreSQL: inserts the rows of JSON parameter `placeholder` (`$7`),
    /// taking each row's rkey from the CTE `k` by its `key` (= `k.ord`).
    pub(super) fn postgres_insert(self, placeholder: &str) -> String {
        self.postgres_insert_keyed(placeholder, "k.rkey", "")
    }

    /// [`postgres_insert`](Self::postgres_insert) of contained resources'
    /// rows, which also carry their `sub` position: keyed by
    /// [`contained_key`] of the container's rkey.
    pub(super) fn postgres_insert_contained(self, placeholder: &str) -> String {
        self.postgres_insert_keyed(placeholder, &contained_key_sql("k.rkey", "j.sub"), "sub bigint, ")
    }

    fn postgres_insert_keyed(self, placeholder: &str, key: &str, sub: &str) -> String {
        let columns = self.columns();
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let typed: Vec<String> = columns.iter().map(|(n, t)| format!("{n} {}", t.postgres())).collect();
        let param = self.param_column();
        format!(
            "INSERT INTO {table} (rkey, rtype, {param}{names}) \
             SELECT {key}, j.rtype, {selected_param}j.{selected} \
             FROM json_to_recordset({placeholder}::json) AS j(key bigint, rtype text, {sub}{param_type}{typed}) \
             JOIN k ON k.ord = j.key",
            table = self.name(),
            selected_param = if self.has_param() { "j.param, " } else { "" },
            param_type = if self.has_param() { "param text, " } else { "" },
            names = names.join(", "),
            selected = names.join(", j."),
            typed = typed.join(", "),
        )
    }

    /// SQLite: inserts the rows of the JSON array bound to `$1`, whose `key`
    /// is the rkey.
    pub(super) fn sqlite_insert(self) -> String {
        let columns = self.columns();
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let extracted: Vec<String> = names.iter().map(|n| format!("value ->> '$.{n}'")).collect();
        let param = self.param_column();
        format!(
            "INSERT INTO {table} (rkey, rtype, {param}{names}) \
             SELECT value ->> '$.key', value ->> '$.rtype', {extracted_param}{extracted} FROM json_each($1)",
            table = self.name(),
            extracted_param = if self.has_param() { "value ->> '$.param', " } else { "" },
            names = names.join(", "),
            extracted = extracted.join(", "),
        )
    }
}

/// The f64 a decimal is stored as in the index tables: the nearest one
/// (Rust's float parsing rounds correctly; `Decimal::as_f64` may be off by a
/// unit in the last place). Searches must convert their bounds the same way,
/// so that a value compares equal to itself.
pub fn index_float(value: Decimal) -> f64 {
    value.to_string().parse().unwrap_or_else(|_| value.as_f64())
}

/// The index rows of one flush: a JSON array in the making per table, and
/// one per table for contained resources' rows whose key the statement
/// computes (PostgreSQL; see [`IndexRows::push_contained`]).
#[derive(Debug, Default)]
pub(super) struct IndexRows {
    json: [Vec<u8>; 9],
    contained: [Vec<u8>; 9],
}

impl IndexRows {
    /// Adds the rows of one version's `entries` of a resource of type
    /// `rtype`, tied to `key`.
    pub(super) fn push(&mut self, key: i64, rtype: &str, entries: &[IndexEntry]) {
        push_rows(&mut self.json, Owner { key, sub: None, rtype }, entries);
    }

    /// Adds the rows of a contained resource, tied to `key` (its
    /// container's, as in [`push`](Self::push)) and its position `sub`:
    /// they are inserted under [`contained_key`] of both.
    pub(super) fn push_contained(&mut self, key: i64, sub: u32, rtype: &str, entries: &[IndexEntry]) {
        push_rows(
            &mut self.contained,
            Owner {
                key,
                sub: Some(sub),
                rtype,
            },
            entries,
        );
    }

    /// The JSON array for `table`, or `None` if it has no rows.
    pub(super) fn take(&mut self, table: Table) -> Option<String> {
        json_array(std::mem::take(&mut self.json[table.index()]))
    }

    /// The JSON array of contained rows for `table`, or `None`.
    pub(super) fn take_contained(&mut self, table: Table) -> Option<String> {
        json_array(std::mem::take(&mut self.contained[table.index()]))
    }
}

/// What every row of one resource starts with: its `key`, its `sub`
/// position if it is a contained resource, and its type.
#[derive(Clone, Copy)]
struct Owner<'a> {
    key: i64,
    sub: Option<u32>,
    rtype: &'a str,
}

fn push_rows(json: &mut [Vec<u8>; 9], owner: Owner<'_>, entries: &[IndexEntry]) {
    for entry in entries {
        match &entry.value {
            IndexValue::Composite { components } => {
                push_composite(&mut json[Table::Composite.index()], owner, &entry.code, components)
            }
            value => {
                let table = Table::of(value);
                let param = table.has_param().then_some(entry.code.as_str());
                let mut row = Row::start(&mut json[table.index()], owner, param);
                row.value(value);
                row.finish();
            }
        }
    }
}

/// One row per combination of the components' values.
fn push_composite(buf: &mut Vec<u8>, owner: Owner<'_>, param: &str, components: &[Vec<IndexValue>]) {
    if components.is_empty() || components.len() > COMPOSITE_SLOTS || composite_rows(components) > MAX_COMPOSITE_ROWS {
        return;
    }
    let mut choice = vec![0usize; components.len()];
    loop {
        let mut row = Row::start(buf, owner, Some(param));
        for (slot, (values, &i)) in components.iter().zip(&choice).enumerate() {
            row.prefix = SLOT_PREFIXES[slot];
            if let Some(value) = values.get(i) {
                row.value(value);
            }
        }
        row.finish();
        if !next_combination(&mut choice, components) {
            return;
        }
    }
}

/// `[rows]`, or `None` if there are none.
fn json_array(buf: Vec<u8>) -> Option<String> {
    if buf.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(buf.len() + 2);
    text.push('[');
    // Only serde_json and ASCII punctuation wrote `buf`: valid UTF-8.
    text.push_str(&String::from_utf8_lossy(&buf));
    text.push(']');
    Some(text)
}

const SLOT_PREFIXES: [&str; COMPOSITE_SLOTS] = ["c1_", "c2_", "c3_"];

/// How many rows a composite value expands into (saturating).
fn composite_rows(components: &[Vec<IndexValue>]) -> usize {
    components
        .iter()
        .fold(1usize, |n, values| n.saturating_mul(values.len()))
}

/// Advances `choice` (one value index per component) like an odometer;
/// `false` once every combination has been visited.
fn next_combination(choice: &mut [usize], components: &[Vec<IndexValue>]) -> bool {
    for (i, values) in choice.iter_mut().zip(components).rev() {
        *i += 1;
        if *i < values.len() {
            return true;
        }
        *i = 0;
    }
    false
}

/// One JSON object being written: `{"key":…,"rtype":…,"param":…,"<column>":…}`
/// (no `param` for the full-text row).
struct Row<'b> {
    buf: &'b mut Vec<u8>,
    /// Put before column names: `c1_` while writing a composite's first
    /// component, and so on.
    prefix: &'static str,
}

impl<'b> Row<'b> {
    fn start(buf: &'b mut Vec<u8>, owner: Owner<'_>, param: Option<&str>) -> Self {
        if !buf.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"key\":");
        buf.extend_from_slice(owner.key.to_string().as_bytes());
        let mut row = Row { buf, prefix: "" };
        if let Some(sub) = owner.sub {
            row.int("sub", i64::from(sub));
        }
        row.text("rtype", Some(owner.rtype));
        row.text("param", param);
        row
    }

    fn finish(self) {
        self.buf.push(b'}');
    }

    fn name(&mut self, name: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(self.prefix.as_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn text(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.name(name);
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *self.buf, value);
        }
    }

    fn float(&mut self, name: &str, value: Option<Decimal>) {
        if let Some(value) = value {
            self.name(name);
            let _ = serde_json::to_writer(&mut *self.buf, &index_float(value));
        }
    }

    fn int(&mut self, name: &str, value: i64) {
        self.name(name);
        self.buf.extend_from_slice(value.to_string().as_bytes());
    }

    /// The columns of `value`: those of its table, or, inside a composite
    /// (`prefix` set), those of a component slot.
    fn value(&mut self, value: &IndexValue) {
        let in_composite = !self.prefix.is_empty();
        match value {
            IndexValue::String { normalized, exact } => {
                self.text("norm", Some(normalized));
                if !in_composite {
                    self.text("exact", Some(exact));
                }
            }
            IndexValue::Token { system, code, text } => {
                self.text("system", system.as_deref());
                self.text("code", code.as_deref());
                if !in_composite {
                    self.text("text", text.as_deref().map(normalize_string).as_deref());
                }
            }
            IndexValue::Date { low, high } => {
                let (low_name, high_name) = if in_composite {
                    ("date_low", "date_high")
                } else {
                    ("low", "high")
                };
                self.int(low_name, *low);
                self.int(high_name, *high);
            }
            IndexValue::Number { value, low, high } => self.range(*value, *low, *high),
            IndexValue::Quantity {
                value,
                low,
                high,
                system,
                code,
                unit,
                canonical,
            } => {
                self.text("system", system.as_deref());
                self.text("code", code.as_deref());
                self.text("unit", unit.as_deref());
                self.range(*value, *low, *high);
                if let Some(canonical) = canonical {
                    self.text("canon_unit", Some(&canonical.unit));
                    self.float("canon_value", Some(canonical.value));
                    self.float("canon_low", Some(canonical.low));
                    self.float("canon_high", Some(canonical.high));
                }
            }
            IndexValue::Reference {
                target_type,
                id,
                version,
                url,
                identifier,
            } => {
                let (type_name, id_name) = if in_composite {
                    ("ref_type", "ref_id")
                } else {
                    ("target_type", "target_id")
                };
                self.text(type_name, target_type.as_deref());
                self.text(id_name, id.as_deref());
                self.text("url", url.as_deref());
                if !in_composite {
                    self.text("version", version.as_deref());
                    if let Some((system, value)) = identifier {
                        self.text("id_system", system.as_deref());
                        self.text("id_value", Some(value));
                    }
                }
            }
            IndexValue::Uri { value } => {
                let name = if in_composite { "url" } else { "value" };
                self.text(name, Some(value));
            }
            // R4 defines no composite inside a composite; such a component
            // leaves its slot empty.
            IndexValue::Composite { .. } => {}
            // Both columns are NOT NULL: an empty one is written as "".
            IndexValue::Text(text) => {
                self.text("narrative", Some(&text.narrative));
                self.text("data", Some(&text.data));
            }
        }
    }

    fn range(&mut self, value: Decimal, low: Decimal, high: Decimal) {
        self.float("value", Some(value));
        self.float("low", Some(low));
        self.float("high", Some(high));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::Value;

    use super::*;
    use crate::index::full_text::FullText;
    use crate::index::{CanonicalQuantity, ParamType, FULL_TEXT_CODE};

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap_or_default()
    }

    fn entry(code: &str, value: IndexValue) -> IndexEntry {
        IndexEntry {
            code: code.into(),
            kind: ParamType::Special,
            value,
        }
    }

    fn token(system: &str, code: &str) -> IndexValue {
        IndexValue::Token {
            system: Some(system.into()),
            code: Some(code.into()),
            text: None,
        }
    }

    fn quantity(value: &str) -> IndexValue {
        IndexValue::Quantity {
            value: dec(value),
            low: dec(value) - dec("0.5"),
            high: dec(value) + dec("0.5"),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("mm[Hg]".into()),
            unit: Some("mmHg".into()),
            canonical: Some(CanonicalQuantity {
                value: dec("13332.2"),
                low: dec("13265.5"),
                high: dec("13398.8"),
                unit: "g.m-1.s-2".into(),
            }),
        }
    }

    /// Every kind of value, so the column checks below cover them all.
    fn every_kind() -> Vec<IndexEntry> {
        vec![
            entry(
                "name",
                IndexValue::String {
                    normalized: "jose".into(),
                    exact: "José".into(),
                },
            ),
            entry(
                "code",
                IndexValue::Token {
                    system: None,
                    code: Some("x".into()),
                    text: Some("Blood  Préssure".into()),
                },
            ),
            entry("date", IndexValue::Date { low: i64::MIN, high: 5 }),
            entry(
                "probability",
                IndexValue::Number {
                    value: dec("0.5"),
                    low: dec("0.45"),
                    high: dec("0.55"),
                },
            ),
            entry("value-quantity", quantity("120")),
            entry(
                "subject",
                IndexValue::Reference {
                    target_type: Some("Patient".into()),
                    id: Some("1".into()),
                    version: Some("2".into()),
                    url: Some("Patient/1/_history/2".into()),
                    identifier: Some((None, "abc".into())),
                },
            ),
            entry(
                "url",
                IndexValue::Uri {
                    value: "http://x/y".into(),
                },
            ),
            entry(
                "code-value-quantity",
                IndexValue::Composite {
                    components: vec![
                        vec![
                            token("http://loinc.org", "8480-6"),
                            token("http://snomed.info/sct", "271649006"),
                        ],
                        vec![quantity("120")],
                    ],
                },
            ),
            entry(
                FULL_TEXT_CODE,
                IndexValue::Text(FullText {
                    narrative: String::new(),
                    data: "jose | blood pressure".into(),
                }),
            ),
        ]
    }

    fn rows(rows: &mut IndexRows, table: Table) -> Vec<serde_json::Map<String, Value>> {
        let text = rows.take(table).unwrap_or_default();
        match serde_json::from_str(&text) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect(),
            other => panic!("{table:?}: not a JSON array of rows: {other:?} from {text}"),
        }
    }

    #[test]
    fn every_written_column_exists_in_its_table_with_a_matching_json_type() {
        // Catches a column written under a name or type the table (and so
        // the INSERT's column list) does not have: it would be dropped.
        let mut batch = IndexRows::default();
        batch.push(7, "Observation", &every_kind());
        for table in Table::ALL {
            let columns: HashMap<String, ColumnType> = table.columns().into_iter().collect();
            let found = rows(&mut batch, table);
            assert!(!found.is_empty(), "{table:?} got no rows");
            for row in found {
                assert_eq!(row.get("key").and_then(Value::as_i64), Some(7));
                assert_eq!(row.get("param").is_some_and(Value::is_string), table.has_param());
                assert_eq!(row.get("rtype").and_then(Value::as_str), Some("Observation"));
                for (name, value) in row
                    .iter()
                    .filter(|(n, _)| !["key", "param", "rtype"].contains(&n.as_str()))
                {
                    let ok = match columns.get(name) {
                        Some(ColumnType::Text) => value.is_string(),
                        Some(ColumnType::Float) => value.is_f64() || value.is_i64(),
                        Some(ColumnType::Int) => value.is_i64(),
                        None => false,
                    };
                    assert!(ok, "{table:?}: column {name} = {value} does not fit the table");
                }
            }
        }
    }

    #[test]
    fn composites_store_every_combination_of_component_values() {
        let mut batch = IndexRows::default();
        batch.push(1, "Observation", &every_kind());
        let found = rows(&mut batch, Table::Composite);
        let codes: Vec<_> = found
            .iter()
            .map(|r| r["c1_code"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(codes, ["8480-6", "271649006"]);
        assert!(found.iter().all(|r| r["c2_value"].as_f64() == Some(120.0)));
        assert!(found.iter().all(|r| r["c2_canon_unit"] == "g.m-1.s-2"));
    }

    #[test]
    fn composites_too_wide_or_too_many_are_not_indexed() {
        let many: Vec<IndexValue> = (0..40).map(|i| token("s", &i.to_string())).collect();
        let mut batch = IndexRows::default();
        batch.push(
            1,
            "Observation",
            &[
                entry(
                    "wide",
                    IndexValue::Composite {
                        components: vec![vec![token("s", "a")]; 4],
                    },
                ),
                entry(
                    "huge",
                    IndexValue::Composite {
                        components: vec![many.clone(), many.clone(), many],
                    },
                ),
            ],
        );
        assert_eq!(batch.take(Table::Composite), None);
    }

    /// The full-text row carries both columns (NOT NULL in the schema),
    /// an empty narrative too, and no parameter, which the table lacks.
    #[test]
    fn the_full_text_row_has_both_columns_and_no_param() {
        let mut batch = IndexRows::default();
        batch.push(3, "Observation", &every_kind());
        let found = rows(&mut batch, Table::Text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["narrative"], "");
        assert_eq!(found[0]["data"], "jose | blood pressure");
        assert!(found[0].get("param").is_none());
        assert!(!Table::Text.sqlite_insert().contains("param"));
        assert!(!Table::Text.postgres_insert("$1").contains("param"));
    }

    #[test]
    fn token_text_is_normalised_for_text_searches() {
        let mut batch = IndexRows::default();
        batch.push(1, "Observation", &every_kind());
        let found = rows(&mut batch, Table::Token);
        assert_eq!(found[0]["text"], "blood pressure");
        assert!(found[0].get("system").is_none(), "no system must stay NULL");
    }

    /// Contained keys never meet rkeys (so ordinary searches cannot match
    /// them), a container's keys are one range in position order, and the
    /// keys of consecutive containers do not overlap.
    #[test]
    fn contained_keys_are_negative_ordered_and_disjoint_per_container() {
        let key = |rkey, position| contained_key(rkey, position).unwrap_or(0);
        assert!(key(1, 1) < 0 && key((1 << 42) - 1, (1 << 20) - 1) < 0);
        assert!(key(1, 1) < key(1, 2) && key(1, (1 << 20) - 1) < key(2, 1));
        assert_eq!(contained_key(1, 0), None);
        assert_eq!(contained_key(1, 1 << 20), None);
        assert_eq!(contained_key(1 << 42, 1), None);
        assert_eq!(contained_key(i64::MAX, 1), None);
        // The SQL computes the same key.
        assert_eq!(
            contained_key_sql("7", "3"),
            format!("({CONTAINED_BASE} + 7 * {CONTAINED_SPAN} + 3)")
        );
        assert_eq!(CONTAINED_BASE + 7 * CONTAINED_SPAN + 3, key(7, 3));
    }

    /// A contained resource's rows carry the container's key and their
    /// position, kept apart from the container's own rows.
    #[test]
    fn contained_rows_carry_their_position_apart_from_the_containers() {
        let mut batch = IndexRows::default();
        batch.push(4, "Observation", &every_kind()[..1]);
        batch.push_contained(4, 2, "Patient", &every_kind()[..1]);
        let own = rows(&mut batch, Table::String);
        assert_eq!(own.len(), 1);
        assert!(own[0].get("sub").is_none());
        let text = batch.take_contained(Table::String).unwrap_or_default();
        let contained: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(contained.len(), 1);
        assert_eq!(
            (contained[0]["key"].as_i64(), contained[0]["sub"].as_i64()),
            (Some(4), Some(2))
        );
        // Each row has the type of the resource it indexes.
        assert_eq!(
            (own[0]["rtype"].as_str(), contained[0]["rtype"].as_str()),
            (Some("Observation"), Some("Patient"))
        );
        let insert = Table::String.postgres_insert_contained("$1");
        assert!(insert.contains("sub bigint") && insert.contains(&contained_key_sql("k.rkey", "j.sub")));
    }

    #[test]
    fn index_floats_are_the_nearest_double() {
        // `Decimal::as_f64` gives 261020.7817722514 (one unit in the last
        // place off) for this one; range edges would then differ from a
        // query that converted its bounds differently.
        assert_eq!(index_float(dec("261020.78177225142")), 261_020.781_772_251_42_f64);
        assert_eq!(index_float(dec("1.495")), 1.495_f64);
        assert_eq!(index_float(dec("-0.000001")), -0.000001_f64);
        assert_eq!(index_float(Decimal::MAX), 79_228_162_514_264_337_593_543_950_335_f64);
    }
}
