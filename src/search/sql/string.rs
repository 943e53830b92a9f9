//! String parameters (<https://hl7.org/fhir/R4/search.html#string>): by
//! default the value starts with the search text, both folded for case,
//! accents and punctuation (`norm`, folded by `index::normalize_string` like
//! the search text); `:exact` compares the text as written; `:contains`
//! finds the folded text anywhere.

use super::Emit;
use crate::search::params::{StringMatch, StringValue};

/// One `idx_string` row (alias `x`) against one value.
pub(super) fn condition(e: &mut Emit<'_>, x: &str, mode: StringMatch, value: &StringValue) {
    match mode {
        StringMatch::StartsWith => {
            e.starts_with(&format!("{x}.norm"), &value.normalized);
        }
        StringMatch::Exact => {
            e.push(x).push(".exact = ").text(&value.text);
        }
        StringMatch::Contains => {
            e.contains(&format!("{x}.norm"), &value.normalized);
        }
    }
}

/// A composite component of type string: the default (starts-with) match
/// on the slot's `norm`.
pub(super) fn component(e: &mut Emit<'_>, column: &str, value: &StringValue) {
    e.starts_with(column, &value.normalized);
}
