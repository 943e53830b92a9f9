//! Date parameters (<https://hl7.org/fhir/R4/search.html#date>). Both the
//! search value and the indexed value are half-open ranges [low, high) in
//! microseconds (a day, a month, an instant, a Period), compared as the
//! spec's prefix table says (search.html#prefix):
//!
//! | prefix | the resource's range … |
//! |---|---|
//! | `eq` | lies within the search range |
//! | `ne` | does not lie within it |
//! | `gt` / `lt` | reaches after / before it |
//! | `ge` / `le` | reaches after / before it, or lies within it |
//! | `sa` / `eb` | starts after / ends before it |
//! | `ap` | overlaps it, widened by 10 % of its distance from now |

use super::Emit;
use crate::search::params::{DateValue, Prefix};

/// The low and high bound columns: `idx_date`, a composite slot, or
/// `resources.last_updated` (an instant: [t, t + 1µs)).
pub(super) struct Columns {
    pub(super) low: String,
    pub(super) high: String,
}

impl Columns {
    pub(super) fn table(x: &str) -> Self {
        Columns {
            low: format!("{x}.low"),
            high: format!("{x}.high"),
        }
    }

    pub(super) fn slot(x: &str, slot: usize) -> Self {
        Columns {
            low: format!("{x}.c{slot}_date_low"),
            high: format!("{x}.c{slot}_date_high"),
        }
    }
}

pub(super) fn condition(e: &mut Emit<'_>, columns: &Columns, value: &DateValue) {
    let (low, high) = (columns.low.as_str(), columns.high.as_str());
    match value.prefix {
        Prefix::Eq => {
            e.push(low).push(" >= ").int(value.low);
            e.push(" AND ").push(high).push(" <= ").int(value.high);
        }
        Prefix::Ne => {
            e.push("(").push(low).push(" < ").int(value.low);
            e.push(" OR ").push(high).push(" > ").int(value.high).push(")");
        }
        Prefix::Gt => {
            e.push(high).push(" > ").int(value.high);
        }
        Prefix::Lt => {
            e.push(low).push(" < ").int(value.low);
        }
        // "Reaches after it, or lies within it": lying within means
        // starting at or after its start, and a range that starts there
        // either lies within or reaches after.
        Prefix::Ge => {
            e.push("(").push(high).push(" > ").int(value.high);
            e.push(" OR ").push(low).push(" >= ").int(value.low).push(")");
        }
        Prefix::Le => {
            e.push("(").push(low).push(" < ").int(value.low);
            e.push(" OR ").push(high).push(" <= ").int(value.high).push(")");
        }
        Prefix::Sa => {
            e.push(low).push(" >= ").int(value.high);
        }
        Prefix::Eb => {
            e.push(high).push(" <= ").int(value.low);
        }
        Prefix::Ap => {
            let (near_low, near_high) = approximately(value, e.env.now);
            e.push(low).push(" < ").int(near_high);
            e.push(" AND ").push(high).push(" > ").int(near_low);
        }
    }
}

/// The `ap` range: the value's range widened on each side by a tenth of the
/// time between it and now (search.html#prefix suggests 10 % of the gap).
fn approximately(value: &DateValue, now: i64) -> (i64, i64) {
    let gap = if now < value.low {
        value.low.saturating_sub(now)
    } else {
        now.saturating_sub(value.high).max(0)
    };
    let margin = gap / 10;
    (value.low.saturating_sub(margin), value.high.saturating_add(margin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::params::Criterion;
    use crate::search::sql::tests::criterion;

    #[test]
    fn approximately_widens_by_a_tenth_of_the_distance_from_now() {
        let day = 86_400_000_000;
        let Criterion::Date(values) = criterion("Patient", "birthdate", "ap1970-01-11") else {
            panic!("a date");
        };
        let d = &values[0];
        // Now is 100 days after the end of that day: 10 days either side.
        let now = d.high + 100 * day;
        assert_eq!(approximately(d, now), (d.low - 10 * day, d.high + 10 * day));
        // A range around now is not widened.
        assert_eq!(approximately(d, d.low + 1), (d.low, d.high));
    }
}
