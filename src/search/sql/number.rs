//! Number parameters (<https://hl7.org/fhir/R4/search.html#number>), and the
//! comparison that quantities share.
//!
//! The precision of the search value matters where the spec says it does:
//! `100` (no prefix, or `eq`) is any value in [99.5, 100.5), and `ne` is any
//! value outside it. The ordering prefixes compare with the value as
//! written, as the spec's examples read ("`gt100`: values that are greater
//! than 100"), so `gt100` does not find `100.2`'s neighbour `100` through
//! precision. `sa` / `eb` ("starts after" / "ends before") are above / below
//! the whole range, and `ap` is within 10 % of the value (or the precision
//! range, whichever is wider).

use rust_decimal::Decimal;

use super::Emit;
use crate::search::params::{NumberValue, Prefix};
use crate::store::index_float;

/// A search number's bounds, before conversion to the doubles the index
/// holds (quantities convert them to canonical units first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bounds {
    pub(super) value: Decimal,
    pub(super) low: Decimal,
    pub(super) high: Decimal,
    /// The `ap` range: 10 % either side, at least the precision range.
    pub(super) near_low: Decimal,
    pub(super) near_high: Decimal,
}

impl Bounds {
    pub(super) fn of(number: &NumberValue) -> Bounds {
        let margin = number.value.abs() / Decimal::TEN;
        let near_low = number
            .value
            .checked_sub(margin)
            .map_or(number.low, |l| l.min(number.low));
        let near_high = number
            .value
            .checked_add(margin)
            .map_or(number.high, |h| h.max(number.high));
        Bounds {
            value: number.value,
            low: number.low,
            high: number.high,
            near_low,
            near_high,
        }
    }

    /// Every bound through `f` (a unit conversion), or `None` if one fails.
    pub(super) fn map(&self, f: impl Fn(Decimal) -> Option<Decimal>) -> Option<Bounds> {
        Some(Bounds {
            value: f(self.value)?,
            low: f(self.low)?,
            high: f(self.high)?,
            near_low: f(self.near_low)?,
            near_high: f(self.near_high)?,
        })
    }
}

/// `column` (the indexed value, a double) against `bounds` under `prefix`.
pub(super) fn compare(e: &mut Emit<'_>, column: &str, prefix: Prefix, bounds: &Bounds) {
    let bound = |e: &mut Emit<'_>, op: &str, value: Decimal| {
        e.push(column).push(op).real(index_float(value));
    };
    match prefix {
        Prefix::Eq => {
            bound(e, " >= ", bounds.low);
            e.push(" AND ");
            bound(e, " < ", bounds.high);
        }
        Prefix::Ne => {
            e.push("(");
            bound(e, " < ", bounds.low);
            e.push(" OR ");
            bound(e, " >= ", bounds.high);
            e.push(")");
        }
        Prefix::Gt => bound(e, " > ", bounds.value),
        Prefix::Lt => bound(e, " < ", bounds.value),
        Prefix::Ge => bound(e, " >= ", bounds.value),
        Prefix::Le => bound(e, " <= ", bounds.value),
        Prefix::Sa => bound(e, " >= ", bounds.high),
        Prefix::Eb => bound(e, " < ", bounds.low),
        Prefix::Ap => {
            bound(e, " >= ", bounds.near_low);
            e.push(" AND ");
            bound(e, " <= ", bounds.near_high);
        }
    }
}

/// One `idx_number` value column (or a composite slot's) against one value.
pub(super) fn condition(e: &mut Emit<'_>, column: &str, value: &NumberValue) {
    compare(e, column, value.prefix, &Bounds::of(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::params::Criterion;
    use crate::search::sql::tests::criterion;

    fn bounds(text: &str) -> Bounds {
        match criterion("RiskAssessment", "probability", text) {
            Criterion::Number(values) => Bounds::of(&values[0]),
            other => panic!("{other:?}"),
        }
    }

    /// search.html#number: `100` stands for [99.5, 100.5); `ap` widens to 10 %.
    #[test]
    fn precision_and_approximation_bounds() {
        let b = bounds("100");
        assert_eq!((b.low, b.high), (Decimal::new(995, 1), Decimal::new(1005, 1)));
        assert_eq!((b.near_low, b.near_high), (Decimal::from(90), Decimal::from(110)));
        // At zero, 10 % is nothing: the precision range remains.
        let z = bounds("0.0");
        assert_eq!((z.near_low, z.near_high), (Decimal::new(-5, 2), Decimal::new(5, 2)));
    }
}
