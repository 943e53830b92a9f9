//! Quantity parameters (<https://hl7.org/fhir/R4/search.html#quantity>):
//! `[prefix]number|system|code`, compared like numbers. The units:
//!
//! - `number|system|code`: that system and code; when the system is UCUM and
//!   the code converts, also any commensurable UCUM quantity, compared in
//!   canonical units (`gt5|http://unitsofmeasure.org|g` finds `6000 mg`);
//! - `number||code`: the code or the unit text, in any system;
//! - `number|system|`: any code of the system;
//! - `number`: any units.

use super::number::{self, Bounds};
use super::Emit;
use crate::search::params::QuantityValue;
use crate::ucum;

const UCUM: &str = "http://unitsofmeasure.org";

/// The columns of `idx_quantity`, or of a composite slot.
pub(super) struct Columns {
    system: String,
    code: String,
    unit: String,
    value: String,
    canon_unit: String,
    canon_value: String,
}

impl Columns {
    pub(super) fn table(x: &str) -> Self {
        Columns::prefixed(&format!("{x}."))
    }

    pub(super) fn slot(x: &str, slot: usize) -> Self {
        Columns::prefixed(&format!("{x}.c{slot}_"))
    }

    fn prefixed(prefix: &str) -> Self {
        Columns {
            system: format!("{prefix}system"),
            code: format!("{prefix}code"),
            unit: format!("{prefix}unit"),
            value: format!("{prefix}value"),
            canon_unit: format!("{prefix}canon_unit"),
            canon_value: format!("{prefix}canon_value"),
        }
    }
}

pub(super) fn condition(e: &mut Emit<'_>, columns: &Columns, value: &QuantityValue) {
    let bounds = Bounds::of(&value.number);
    let prefix = value.number.prefix;
    e.push("(");
    match (&value.system, &value.code) {
        (Some(system), Some(code)) => {
            e.push(&columns.system).push(" = ").text(system);
            e.push(" AND ").push(&columns.code).push(" = ").text(code).push(" AND ");
        }
        (None, Some(code)) => {
            e.push("(").push(&columns.code).push(" = ").text(code);
            e.push(" OR ").push(&columns.unit).push(" = ").text(code).push(") AND ");
        }
        (Some(system), None) => {
            e.push(&columns.system).push(" = ").text(system).push(" AND ");
        }
        (None, None) => {}
    }
    number::compare(e, &columns.value, prefix, &bounds);
    e.push(")");
    if let Some((unit, canonical)) = canonical(value, &bounds) {
        e.push(" OR (")
            .push(&columns.canon_unit)
            .push(" = ")
            .text(&unit)
            .push(" AND ");
        number::compare(e, &columns.canon_value, prefix, &canonical);
        e.push(")");
    }
}

/// The search bounds in canonical UCUM units, when the value names a UCUM
/// unit that converts.
fn canonical(value: &QuantityValue, bounds: &Bounds) -> Option<(String, Bounds)> {
    let (Some(UCUM), Some(code)) = (value.system.as_deref(), value.code.as_deref()) else {
        return None;
    };
    let (_, unit) = ucum::to_canonical(bounds.value, code).ok()?;
    let converted = bounds.map(|bound| ucum::to_canonical(bound, code).ok().map(|(v, _)| v))?;
    Some((unit, converted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::params::Criterion;
    use crate::search::sql::tests::criterion;
    use rust_decimal::Decimal;

    fn quantity(text: &str) -> QuantityValue {
        match criterion("Observation", "value-quantity", text) {
            Criterion::Quantity(mut values) => values.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ucum_values_convert_to_canonical_units_and_others_do_not() {
        let grams = quantity("5|http://unitsofmeasure.org|g");
        let (unit, bounds) = canonical(&grams, &Bounds::of(&grams.number)).unwrap_or_else(|| panic!("converts"));
        assert_eq!((unit.as_str(), bounds.value), ("g", Decimal::from(5)));
        let milligrams = quantity("5000|http://unitsofmeasure.org|mg");
        let (unit, bounds) = canonical(&milligrams, &Bounds::of(&milligrams.number)).unwrap_or_else(|| panic!("mg"));
        assert_eq!((unit.as_str(), bounds.value), ("g", Decimal::from(5)));
        let other = quantity("5|http://example.org|g");
        assert!(canonical(&other, &Bounds::of(&other.number)).is_none());
    }
}
