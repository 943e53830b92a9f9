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

/// Any of a list of (system, code) pairs, grouped by system so each
/// system is one `code IN (…)` (an expanded value set is mostly one or two
/// systems with many codes). A value indexed without a system — an element
/// of type `code`, whose system its binding implies (`Patient.gender`) —
/// matches by its code alone.
pub(super) fn code_list(e: &mut Emit<'_>, columns: &Columns, codes: &[(String, String)]) {
    let mut by_system: Vec<(&str, Vec<&str>)> = Vec::new();
    for (system, code) in codes {
        match by_system.iter_mut().find(|(s, _)| s == system) {
            Some((_, list)) => list.push(code),
            None => by_system.push((system, vec![code])),
        }
    }
    if by_system.is_empty() {
        e.push("1 = 0");
        return;
    }
    for (i, (system, list)) in by_system.iter().enumerate() {
        if i > 0 {
            e.push(" OR ");
        }
        e.push("(").push(&columns.system).push(" = ").text(system);
        e.push(" AND ").push(&columns.code).push(" IN (");
        for (j, code) in list.iter().enumerate() {
            if j > 0 {
                e.push(", ");
            }
            e.text(code);
        }
        e.push("))");
    }
    e.push(" OR (")
        .push(&columns.system)
        .push(" IS NULL AND ")
        .push(&columns.code)
        .push(" IN (");
    for (j, (_, code)) in codes.iter().enumerate() {
        if j > 0 {
            e.push(", ");
        }
        e.text(code);
    }
    e.push("))");
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
