//! Number and quantity parameters (search.html "number", "quantity"): a
//! value stands for the range its precision implies — `100` is [99.5, 100.5),
//! `1.50` is [1.495, 1.505) — and a Range for its bounds. Quantities in UCUM
//! also carry their canonical form, so `gt5000mg` matches `6 g`.

use std::cell::RefCell;
use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;

use super::{member, CanonicalQuantity, IndexValue};
use crate::fhirpath::{Item, Quantity};
use crate::model::definitions;
use crate::ucum;

const UCUM: &str = "http://unitsofmeasure.org";
/// The system of Money.currency codes.
const ISO_4217: &str = "urn:iso:std:iso:4217";

pub(super) fn numbers(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    if let Item::Node(node) = item {
        if let (Some("Range"), Some(range)) = (node.type_name(), node.json()) {
            if let Some((value, low, high)) = range_bounds(range) {
                out.push(IndexValue::Number { value, low, high });
            }
            return;
        }
    }
    let value = match item.system() {
        Some(Item::Integer(number)) => Decimal::from(number),
        Some(Item::Decimal(number)) => number,
        _ => return,
    };
    let (low, high) = precision_range(value);
    out.push(IndexValue::Number { value, low, high });
}

/// A position (Location.position) as a two-component composite:
/// latitude, longitude, for `near` (`crate::search` `near`).
pub(super) fn position(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let Some(Value::Object(position)) = item_json(item) else {
        return;
    };
    let degrees = |key: &str| {
        let number = position.get(key)?.as_number()?;
        let value = Decimal::from_str_exact(&number.to_string()).ok()?;
        Some(vec![IndexValue::Number {
            value,
            low: value,
            high: value,
        }])
    };
    if let (Some(latitude), Some(longitude)) = (degrees("latitude"), degrees("longitude")) {
        out.push(IndexValue::Composite {
            components: vec![latitude, longitude],
        });
    }
}

fn item_json<'a>(item: &Item<'a>) -> Option<&'a Value> {
    match item {
        Item::Node(node) => node.json(),
        _ => None,
    }
}

pub(super) fn quantities(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let value = match item {
        Item::Node(node) => match (node.type_name(), node.json()) {
            (Some("Money"), Some(money)) => money_value(money),
            (Some("Range"), Some(range)) => range_value(range),
            (Some(name), Some(quantity)) if definitions::r4().is_a(name, "Quantity") => quantity_value(quantity),
            _ => None,
        },
        Item::Quantity(quantity) => Some(system_quantity(quantity)),
        _ => None,
    };
    out.extend(value);
}

/// A JSON number as a Decimal with the digits it was written with.
pub(super) fn decimal(value: &Value) -> Option<Decimal> {
    let Value::Number(number) = value else {
        return None;
    };
    let text = number.as_str();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse().ok()
    }
}

/// [value - ½ unit of the last digit, value + ½ unit of the last digit).
fn precision_range(value: Decimal) -> (Decimal, Decimal) {
    // Past 27 decimal places half a unit has no Decimal: the value is its own range.
    if value.scale() >= 28 {
        return (value, value);
    }
    let half = Decimal::new(5, value.scale() + 1);
    match (value.checked_sub(half), value.checked_add(half)) {
        (Some(low), Some(high)) => (low, high),
        _ => (value, value),
    }
}

/// (value, low, high) of a Range: the bounds as written, an open bound
/// unbounded, the value its low bound (else its high one).
fn range_bounds(range: &Value) -> Option<(Decimal, Decimal, Decimal)> {
    let low = range.get("low").and_then(|q| q.get("value")).and_then(decimal);
    let high = range.get("high").and_then(|q| q.get("value")).and_then(decimal);
    let value = low.or(high)?;
    Some((value, low.unwrap_or(Decimal::MIN), high.unwrap_or(Decimal::MAX)))
}

fn quantity_value(quantity: &Value) -> Option<IndexValue> {
    let value = quantity.get("value").and_then(decimal)?;
    let (low, high) = precision_range(value);
    Some(coded(
        value,
        low,
        high,
        member(quantity, "system"),
        member(quantity, "code"),
        member(quantity, "unit"),
    ))
}

/// Money is a quantity whose unit is an ISO 4217 currency.
fn money_value(money: &Value) -> Option<IndexValue> {
    let value = money.get("value").and_then(decimal)?;
    let (low, high) = precision_range(value);
    let currency = member(money, "currency");
    Some(coded(value, low, high, currency.map(|_| ISO_4217), currency, None))
}

/// A Range as one quantity spanning its bounds, in the units of the bound
/// that gives its value (R4 Range bounds are SimpleQuantities in one unit).
fn range_value(range: &Value) -> Option<IndexValue> {
    let (value, low, high) = range_bounds(range)?;
    let bound = range
        .get("low")
        .filter(|low| low.get("value").is_some())
        .or_else(|| range.get("high"))?;
    Some(coded(
        value,
        low,
        high,
        member(bound, "system"),
        member(bound, "code"),
        member(bound, "unit"),
    ))
}

/// A System quantity (computed by the expression): UCUM unless written as a
/// calendar duration keyword.
fn system_quantity(quantity: &Quantity) -> IndexValue {
    let (low, high) = precision_range(quantity.value);
    let system = (!quantity.calendar).then_some(UCUM);
    coded(
        quantity.value,
        low,
        high,
        system,
        Some(&quantity.unit),
        Some(&quantity.unit),
    )
}

fn coded(
    value: Decimal,
    low: Decimal,
    high: Decimal,
    system: Option<&str>,
    code: Option<&str>,
    unit: Option<&str>,
) -> IndexValue {
    let canonical = match (system, code) {
        (Some(UCUM), Some(code)) => canonical(value, low, high, code),
        _ => None,
    };
    IndexValue::Quantity {
        value,
        low,
        high,
        system: system.map(str::to_owned),
        code: code.map(str::to_owned),
        unit: unit.map(str::to_owned),
        canonical,
    }
}

/// The quantity in canonical UCUM units; `None` when the unit does not
/// convert (arbitrary units, bad codes). Unbounded ends stay unbounded.
fn canonical(value: Decimal, low: Decimal, high: Decimal, code: &str) -> Option<CanonicalQuantity> {
    let conversion = Conversion::of(code)?;
    let convert = |bound: Decimal| {
        if bound == Decimal::MIN || bound == Decimal::MAX {
            return Some(bound);
        }
        conversion.apply(bound)
    };
    Some(CanonicalQuantity {
        value: convert(value)?,
        low: convert(low)?,
        high: convert(high)?,
        unit: conversion.unit,
    })
}

/// How values in one UCUM unit become canonical: `slope × value + offset`.
/// Every convertible UCUM unit is of that form (the offset is only for the
/// temperature scales), so two conversions learn it once per unit.
#[derive(Debug, Clone)]
struct Conversion {
    slope: Decimal,
    offset: Decimal,
    unit: String,
}

/// Units remembered per thread. Data sets use a few dozen units, so the
/// bound only guards against unit codes that are all different.
const CONVERSIONS_KEPT: usize = 512;

thread_local! {
    /// Parsing and reducing a unit costs more than the rest of a quantity's
    /// indexing together, and the same few units repeat on every write.
    static CONVERSIONS: RefCell<HashMap<String, Option<Conversion>>> = RefCell::new(HashMap::new());
}

impl Conversion {
    fn of(code: &str) -> Option<Conversion> {
        CONVERSIONS.with(|cache| {
            if let Some(known) = cache.borrow().get(code) {
                return known.clone();
            }
            let learned = Conversion::learn(code);
            let mut cache = cache.borrow_mut();
            if cache.len() >= CONVERSIONS_KEPT {
                cache.clear();
            }
            cache.insert(code.to_owned(), learned.clone());
            learned
        })
    }

    fn learn(code: &str) -> Option<Conversion> {
        let (offset, unit) = ucum::to_canonical(Decimal::ZERO, code).ok()?;
        let (one, _) = ucum::to_canonical(Decimal::ONE, code).ok()?;
        Some(Conversion {
            slope: one.checked_sub(offset)?,
            offset,
            unit,
        })
    }

    fn apply(&self, value: Decimal) -> Option<Decimal> {
        value.checked_mul(self.slope)?.checked_add(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The learned line must agree with UCUM's own conversion, offsets included.
    #[test]
    fn conversions_match_ucum() {
        for (value, code) in [
            ("5.5", "mg"),
            ("37", "Cel"),
            ("98.6", "[degF]"),
            ("2", "m[iU]/mL"),
            ("3", "[in_i]"),
        ] {
            let value: Decimal = value.parse().expect("decimal");
            let (expected, unit) = ucum::to_canonical(value, code).expect("convertible");
            let conversion = Conversion::of(code).expect("learned");
            let converted = conversion.apply(value).expect("in range");
            assert!(
                (converted - expected).abs() < Decimal::new(1, 12),
                "{value} {code}: {converted} vs {expected}"
            );
            assert_eq!(conversion.unit, unit);
        }
        assert!(Conversion::of("not a unit").is_none());
    }
}
