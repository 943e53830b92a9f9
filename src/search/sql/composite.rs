//! Composite parameters (<https://hl7.org/fhir/R4/search.html#composite>):
//! `a$b` matches when one instance of the composite's base element (one
//! `Observation.component`, say) has values matching every component. The
//! index stores one `idx_composite` row per combination of component values
//! within an instance, component `n` in the slot columns `c<n>_*`, so a
//! composite value is a test on one row.

use super::{date, number, quantity, reference, string, token, uri, Emit, SearchError};
use crate::search::params::{UriMatch, Value};

/// Component slots the index has (R4 composites have two or three).
const SLOTS: usize = 3;

/// Refuses what the index cannot answer.
pub(super) fn check(code: &str, values: &[Vec<Value>]) -> Result<(), SearchError> {
    if values.iter().any(|components| components.len() > SLOTS) {
        return Err(SearchError::NotSupported(format!(
            "the composite parameter '{code}', which has more than {SLOTS} components"
        )));
    }
    Ok(())
}

/// One `idx_composite` row (alias `x`) against one value: every component.
pub(super) fn condition(e: &mut Emit<'_>, x: &str, components: &[Value]) {
    for (i, component) in components.iter().enumerate() {
        let slot = i + 1;
        if i > 0 {
            e.push(" AND ");
        }
        e.push("(");
        match component {
            Value::Token(value) => token::condition(e, &token::Columns::slot(x, slot), value),
            Value::Quantity(value) => quantity::condition(e, &quantity::Columns::slot(x, slot), value),
            Value::Number(value) => number::condition(e, &format!("{x}.c{slot}_value"), value),
            Value::Date(value) => date::condition(e, &date::Columns::slot(x, slot), value),
            Value::String(value) => string::component(e, &format!("{x}.c{slot}_norm"), value),
            Value::Reference(value) => reference::condition(e, &reference::Columns::slot(x, slot), value),
            Value::Uri(value) => uri::condition(e, &format!("{x}.c{slot}_url"), UriMatch::Equal, value),
        }
        e.push(")");
    }
}
