//! Token parameters (<https://hl7.org/fhir/R4/search.html#token>): `code`
//! (in any system or none), `system|code`, `|code` (no system) and `system|`
//! (any code of the system). Codes compare exactly, as the spec asks of
//! tokens unless a code system says otherwise.

use super::Emit;
use crate::search::params::{OfTypeValue, TokenValue};

/// Where a token's system and code are: `idx_token`, a composite slot, or a
/// reference's identifier (`:identifier`).
pub(super) struct Columns {
    pub(super) system: String,
    pub(super) code: String,
}

impl Columns {
    pub(super) fn table(x: &str) -> Self {
        Columns {
            system: format!("{x}.system"),
            code: format!("{x}.code"),
        }
    }

    pub(super) fn slot(x: &str, slot: usize) -> Self {
        Columns {
            system: format!("{x}.c{slot}_system"),
            code: format!("{x}.c{slot}_code"),
        }
    }
}

pub(super) fn condition(e: &mut Emit<'_>, columns: &Columns, value: &TokenValue) {
    match value {
        TokenValue::Code(code) => {
            e.push(&columns.code).push(" = ").text(code);
        }
        TokenValue::SystemCode { system, code } => {
            e.push(&columns.system).push(" = ").text(system);
            e.push(" AND ").push(&columns.code).push(" = ").text(code);
        }
        TokenValue::CodeWithoutSystem(code) => {
            e.push(&columns.system).push(" IS NULL AND ");
            e.push(&columns.code).push(" = ").text(code);
        }
        TokenValue::System(system) => {
            e.push(&columns.system).push(" = ").text(system);
        }
    }
}

/// Any of `values` (a clause's OR list). `system|code` values sharing a
/// system become one `system = s AND code IN (…)`: one index scan with an
/// array of keys instead of one per value, which is what a 50-code list
/// costs otherwise (docs/PERFORMANCE.md). Other forms are one condition
/// each.
pub(super) fn any(e: &mut Emit<'_>, columns: &Columns, values: &[TokenValue]) {
    let mut by_system: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut others = Vec::new();
    for value in values {
        match value {
            TokenValue::SystemCode { system, code } => group(&mut by_system, system, code),
            other => others.push(other),
        }
    }
    if by_system.is_empty() && others.is_empty() {
        e.push("1 = 0");
        return;
    }
    e.push("(");
    let mut first = true;
    for (system, codes) in &by_system {
        or(e, &mut first);
        in_system(e, columns, system, codes);
    }
    for value in others {
        or(e, &mut first);
        e.push("(");
        condition(e, columns, value);
        e.push(")");
    }
    e.push(")");
}

/// Any of a list of (system, code) pairs, grouped by system as in [`any`]
/// (an expanded value set is mostly one or two systems with many codes). A
/// value indexed without a system — an element of type `code`, whose
/// system its binding implies (`Patient.gender`) — matches by its code
/// alone.
pub(super) fn code_list(e: &mut Emit<'_>, columns: &Columns, codes: &[(String, String)]) {
    let mut by_system: Vec<(&str, Vec<&str>)> = Vec::new();
    for (system, code) in codes {
        group(&mut by_system, system, code);
    }
    if by_system.is_empty() {
        e.push("1 = 0");
        return;
    }
    let mut first = true;
    for (system, list) in &by_system {
        or(e, &mut first);
        in_system(e, columns, system, list);
    }
    e.push(" OR (").push(&columns.system).push(" IS NULL AND ");
    let all: Vec<&str> = codes.iter().map(|(_, code)| code.as_str()).collect();
    in_list(e, &columns.code, &all);
    e.push(")");
}

fn group<'v>(groups: &mut Vec<(&'v str, Vec<&'v str>)>, system: &'v str, code: &'v str) {
    match groups.iter_mut().find(|(s, _)| *s == system) {
        Some((_, codes)) => codes.push(code),
        None => groups.push((system, vec![code])),
    }
}

fn or(e: &mut Emit<'_>, first: &mut bool) {
    if !std::mem::take(first) {
        e.push(" OR ");
    }
}

/// `(system = s AND code IN (…))`.
fn in_system(e: &mut Emit<'_>, columns: &Columns, system: &str, codes: &[&str]) {
    e.push("(").push(&columns.system).push(" = ").text(system).push(" AND ");
    in_list(e, &columns.code, codes);
    e.push(")");
}

/// `column IN (…)`, or `column = v` for one value.
fn in_list(e: &mut Emit<'_>, column: &str, values: &[&str]) {
    if let [one] = values {
        e.push(column).push(" = ").text(one);
        return;
    }
    e.push(column).push(" IN (");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            e.push(", ");
        }
        e.text(value);
    }
    e.push(")");
}

/// `:of-type=system|code|value`: the identifier rows written for each
/// Identifier.type coding (`crate::index` extraction).
pub(super) fn of_type(e: &mut Emit<'_>, columns: &Columns, value: &OfTypeValue) {
    let system = crate::index::of_type_system(&value.system, &value.code);
    e.push(&columns.system).push(" = ").text(&system);
    e.push(" AND ").push(&columns.code).push(" = ").text(&value.value);
}

/// `_id` against `resources.id`: an id has no system, so `|id` is the id
/// and `system|…` never matches.
pub(super) fn id(e: &mut Emit<'_>, column: &str, value: &TokenValue) {
    match value {
        TokenValue::Code(id) | TokenValue::CodeWithoutSystem(id) => {
            e.push(column).push(" = ").text(id);
        }
        TokenValue::SystemCode { .. } | TokenValue::System(_) => {
            e.push("1 = 0");
        }
    }
}
