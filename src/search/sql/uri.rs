//! Uri parameters (<https://hl7.org/fhir/R4/search.html#uri>): the whole URI
//! by default; `:below`, URIs that start with the search value; `:above`,
//! URIs the search value starts with; `:contains` (R5), anywhere. All
//! case-sensitive, as URIs are.

use super::Emit;
use crate::search::params::UriMatch;

/// One URI column (`idx_uri.value`, a composite slot's `url`) against one value.
pub(super) fn condition(e: &mut Emit<'_>, column: &str, mode: UriMatch, value: &str) {
    match mode {
        UriMatch::Equal => {
            e.push(column).push(" = ").text(value);
        }
        UriMatch::Below => {
            e.starts_with(column, value);
        }
        // The stored URI is a prefix of the search value. `length` and
        // `substr` count characters on both databases.
        UriMatch::Above => {
            let length = value.chars().count();
            e.push("length(").push(column).push(&format!(") <= {length} AND "));
            e.push(column)
                .push(" = substr(")
                .text(value)
                .push(", 1, length(")
                .push(column)
                .push("))");
        }
        UriMatch::Contains => {
            e.contains(column, value);
        }
    }
}
