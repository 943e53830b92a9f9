//! Equality, equivalence, ordering and arithmetic on single items
//! (<https://hl7.org/fhirpath/N1/#operations>). Collections are handled by the
//! evaluator; here both sides are already one item each.
//!
//! `None` results mean "empty" in FHIRPath terms: the comparison is
//! undefined (different precisions, incommensurable units…).

use std::borrow::Cow;
use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

use super::temporal::{CalendarUnit, DateTime};
use super::value::{Item, Quantity};
use super::EvalError;
use crate::ucum;

/// `=` on two items: `None` when the result is empty.
pub(super) fn equals(left: &Item, right: &Item) -> Option<bool> {
    if let (Item::Node(l), Item::Node(r)) = (left, right) {
        if !l.is_primitive() || !r.is_primitive() {
            // Complex values are equal when all their properties are (JSON maps
            // compare regardless of key order); the same element is equal to
            // itself without looking (unions meet that often).
            return Some(match (l.json(), r.json()) {
                (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
                _ => false,
            });
        }
    }
    let (l, r) = (left.system()?, right.system()?);
    match (&l, &r) {
        (Item::Boolean(a), Item::Boolean(b)) => Some(a == b),
        (Item::String(a), Item::String(b)) => Some(a == b),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => Some(number(&l)? == number(&r)?),
        (Item::Date(a), Item::Date(b)) => a.equals(b),
        (Item::Date(_) | Item::DateTime(_), Item::Date(_) | Item::DateTime(_)) => {
            as_datetime(&l)?.equals(&as_datetime(&r)?)
        }
        (Item::Time(a), Item::Time(b)) => a.equals(b),
        (Item::Quantity(a), Item::Quantity(b)) => quantity_equals(a, b),
        _ => Some(false),
    }
}

/// `~` on two items: never empty.
pub(super) fn equivalent(left: &Item, right: &Item) -> bool {
    if let (Item::Node(l), Item::Node(r)) = (left, right) {
        if !l.is_primitive() || !r.is_primitive() {
            return match (l.json(), r.json()) {
                (Some(a), Some(b)) => json_equivalent(a, b),
                _ => false,
            };
        }
    }
    let (Some(l), Some(r)) = (left.system(), right.system()) else {
        return false;
    };
    match (&l, &r) {
        (Item::Boolean(a), Item::Boolean(b)) => a == b,
        (Item::String(a), Item::String(b)) => normalize_string(a) == normalize_string(b),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => match (number(&l), number(&r)) {
            (Some(a), Some(b)) => decimals_equivalent(a, b),
            _ => false,
        },
        (Item::Date(_) | Item::DateTime(_), Item::Date(_) | Item::DateTime(_)) => {
            match (as_datetime(&l), as_datetime(&r)) {
                (Some(a), Some(b)) => a.equivalent(&b),
                _ => false,
            }
        }
        (Item::Time(a), Item::Time(b)) => a.equivalent(b),
        (Item::Quantity(a), Item::Quantity(b)) => match comparable_values(a, b) {
            Some((x, y)) => decimals_equivalent(x, y),
            None => false,
        },
        _ => false,
    }
}

/// Ordering for `<`, `>`, `<=`, `>=`: `Ok(None)` when undefined (empty
/// result), an error when the types cannot be compared at all.
pub(super) fn compare(left: &Item, right: &Item) -> Result<Option<Ordering>, EvalError> {
    let (Some(l), Some(r)) = (left.system(), right.system()) else {
        return Err(EvalError::new(format!(
            "cannot compare {} with {}",
            left.type_label(),
            right.type_label()
        )));
    };
    let ordering = match (&l, &r) {
        (Item::String(a), Item::String(b)) => Some(a.cmp(b)),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => {
            number(&l).zip(number(&r)).map(|(a, b)| a.cmp(&b))
        }
        (Item::Date(a), Item::Date(b)) => a.partial_cmp_fhirpath(b),
        (Item::Date(_) | Item::DateTime(_), Item::Date(_) | Item::DateTime(_)) => as_datetime(&l)
            .zip(as_datetime(&r))
            .and_then(|(a, b)| a.partial_cmp_fhirpath(&b)),
        (Item::Time(a), Item::Time(b)) => a.partial_cmp_fhirpath(b),
        (Item::Quantity(a), Item::Quantity(b)) => match comparable_values(a, b) {
            Some((x, y)) => Some(x.cmp(&y)),
            None if has_unknown_unit(a, b) => None,
            None => {
                return Err(EvalError::new(format!(
                    "cannot compare quantities in '{}' and '{}'",
                    a.unit, b.unit
                )))
            }
        },
        _ => {
            return Err(EvalError::new(format!(
                "cannot compare {} with {}",
                l.type_label(),
                r.type_label()
            )))
        }
    };
    Ok(ordering)
}

/// Quantities whose units are valid UCUM but incommensurable (`'g'` vs
/// `'m'`) are a type error; a unit that is not UCUM just gives an empty
/// result, as do calendar years against `'a'`.
fn has_unknown_unit(a: &Quantity, b: &Quantity) -> bool {
    is_calendar_year_or_month(a)
        || is_calendar_year_or_month(b)
        || !ucum::is_valid(&ucum_unit(a))
        || !ucum::is_valid(&ucum_unit(b))
}

fn number(item: &Item) -> Option<Decimal> {
    match item {
        Item::Integer(i) => Some(Decimal::from(*i)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn as_datetime(item: &Item) -> Option<DateTime> {
    match item {
        Item::Date(d) => Some(d.to_datetime()),
        Item::DateTime(d) => Some(*d),
        _ => None,
    }
}

/// Decimal equivalence: equal after rounding both to the precision of the
/// less precise one (`1.2 / 1.8 ~ 0.67`).
fn decimals_equivalent(a: Decimal, b: Decimal) -> bool {
    let scale = a.scale().min(b.scale());
    a.round_dp(scale) == b.round_dp(scale)
}

/// String equivalence ignores case and collapses whitespace.
fn normalize_string(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Equivalence of complex values: equivalent properties, arrays in any order.
fn json_equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equivalent(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().all(|v| y.iter().any(|w| json_equivalent(v, w)))
        }
        (Value::String(x), Value::String(y)) => normalize_string(x) == normalize_string(y),
        (Value::Number(x), Value::Number(y)) => match (decimal_of(x), decimal_of(y)) {
            (Some(p), Some(q)) => decimals_equivalent(p, q),
            _ => x == y,
        },
        _ => a == b,
    }
}

fn decimal_of(n: &serde_json::Number) -> Option<Decimal> {
    super::value::parse_decimal(n.as_str())
}

/// The UCUM code for a quantity's unit: calendar keywords map to their
/// definite-duration codes.
fn ucum_unit(q: &Quantity) -> Cow<'_, str> {
    if !q.calendar {
        return Cow::Borrowed(&q.unit);
    }
    let code = match CalendarUnit::parse_keyword(&q.unit) {
        Some(CalendarUnit::Year) => "a",
        Some(CalendarUnit::Month) => "mo",
        Some(CalendarUnit::Week) => "wk",
        Some(CalendarUnit::Day) => "d",
        Some(CalendarUnit::Hour) => "h",
        Some(CalendarUnit::Minute) => "min",
        Some(CalendarUnit::Second) => "s",
        Some(CalendarUnit::Millisecond) => "ms",
        None => return Cow::Borrowed(&q.unit),
    };
    Cow::Borrowed(code)
}

/// Calendar years and months are not the UCUM `a` / `mo` (which are
/// averages), so the spec makes them incomparable with definite durations.
fn is_calendar_year_or_month(q: &Quantity) -> bool {
    q.calendar
        && matches!(
            CalendarUnit::parse_keyword(&q.unit),
            Some(CalendarUnit::Year | CalendarUnit::Month)
        )
}

/// Both values in one unit, if the units can be compared.
fn comparable_values(a: &Quantity, b: &Quantity) -> Option<(Decimal, Decimal)> {
    if a.calendar && b.calendar {
        return calendar_values(a, b);
    }
    if is_calendar_year_or_month(a) || is_calendar_year_or_month(b) {
        return None;
    }
    let (ua, ub) = (ucum_unit(a), ucum_unit(b));
    if ua == ub {
        return Some((a.value, b.value));
    }
    let converted = ucum::convert(b.value, &ub, &ua).ok()?;
    Some((a.value, converted))
}

/// Two calendar durations: years and months compare with each other
/// (12 months a year), the rest through seconds.
fn calendar_values(a: &Quantity, b: &Quantity) -> Option<(Decimal, Decimal)> {
    let (ua, ub) = (
        CalendarUnit::parse_keyword(&a.unit)?,
        CalendarUnit::parse_keyword(&b.unit)?,
    );
    let months = |u: CalendarUnit| match u {
        CalendarUnit::Year => Some(Decimal::from(12)),
        CalendarUnit::Month => Some(Decimal::ONE),
        _ => None,
    };
    match (months(ua), months(ub)) {
        (Some(x), Some(y)) => Some((a.value * x, b.value * y)),
        (None, None) => {
            let converted = ucum::convert(b.value, &ucum_unit(b), &ucum_unit(a)).ok()?;
            Some((a.value, converted))
        }
        _ => None,
    }
}

fn quantity_equals(a: &Quantity, b: &Quantity) -> Option<bool> {
    comparable_values(a, b).map(|(x, y)| x == y)
}

/// Integer arithmetic errors (overflow) give an empty result.
pub(super) fn arithmetic<'a>(
    op: super::ast::BinaryOp,
    left: &Item<'a>,
    right: &Item<'a>,
) -> Result<Option<Item<'a>>, EvalError> {
    use super::ast::BinaryOp::*;
    let (Some(l), Some(r)) = (left.system(), right.system()) else {
        return Err(type_error(op, left, right));
    };
    let result = match (op, &l, &r) {
        (Add, Item::String(a), Item::String(b)) => Some(Item::String(Cow::Owned(format!("{a}{b}")))),
        (_, Item::Integer(a), Item::Integer(b)) => integer_op(op, *a, *b),
        (_, Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => {
            let (a, b) = (number(&l).unwrap_or_default(), number(&r).unwrap_or_default());
            decimal_op(op, a, b)
        }
        (Add | Sub, Item::Date(_) | Item::DateTime(_) | Item::Time(_), Item::Quantity(q)) => {
            return date_plus(&l, q, op == Sub)
        }
        (_, Item::Quantity(a), Item::Quantity(b)) => return quantity_op(op, a, b),
        (Mul | Div, Item::Quantity(a), Item::Integer(_) | Item::Decimal(_)) => {
            let n = number(&r).unwrap_or_default();
            scaled(a, n, op == Div)
        }
        (Mul, Item::Integer(_) | Item::Decimal(_), Item::Quantity(b)) => {
            scaled(b, number(&l).unwrap_or_default(), false)
        }
        _ => return Err(type_error(op, &l, &r)),
    };
    Ok(result)
}

fn type_error(op: super::ast::BinaryOp, l: &Item, r: &Item) -> EvalError {
    EvalError::new(format!(
        "operator {op:?} cannot be applied to {} and {}",
        l.type_label(),
        r.type_label()
    ))
}

fn integer_op<'a>(op: super::ast::BinaryOp, a: i64, b: i64) -> Option<Item<'a>> {
    use super::ast::BinaryOp::*;
    let int = |v: Option<i64>| v.filter(|v| i32::try_from(*v).is_ok()).map(Item::Integer);
    match op {
        Add => int(a.checked_add(b)),
        Sub => int(a.checked_sub(b)),
        Mul => int(a.checked_mul(b)),
        // `/` on integers gives a decimal.
        Div => decimal_op(op, Decimal::from(a), Decimal::from(b)),
        IntDiv => int(a.checked_div(b)),
        Mod => int(a.checked_rem(b)),
        _ => None,
    }
}

fn decimal_op<'a>(op: super::ast::BinaryOp, a: Decimal, b: Decimal) -> Option<Item<'a>> {
    use super::ast::BinaryOp::*;
    match op {
        Add => a.checked_add(b).map(Item::Decimal),
        Sub => a.checked_sub(b).map(Item::Decimal),
        Mul => a.checked_mul(b).map(Item::Decimal),
        Div => a.checked_div(b).map(|d| Item::Decimal(d.normalize())),
        IntDiv => a.checked_div(b).and_then(|d| d.trunc().to_i64()).map(Item::Integer),
        Mod => a.checked_rem(b).map(Item::Decimal),
        _ => None,
    }
}

fn scaled<'a>(q: &Quantity, n: Decimal, divide: bool) -> Option<Item<'a>> {
    let value = if divide {
        q.value.checked_div(n)?
    } else {
        q.value.checked_mul(n)?
    };
    Some(Item::Quantity(Quantity {
        value,
        unit: q.unit.clone(),
        calendar: q.calendar,
    }))
}

/// `+`/`-` of quantities in commensurable units (result in the left unit);
/// `*` and `/` combine the units.
fn quantity_op<'a>(op: super::ast::BinaryOp, a: &Quantity, b: &Quantity) -> Result<Option<Item<'a>>, EvalError> {
    use super::ast::BinaryOp::*;
    let quantity = |value: Option<Decimal>, unit: String| {
        value.map(|value| {
            Item::Quantity(Quantity {
                value,
                unit,
                calendar: false,
            })
        })
    };
    Ok(match op {
        Add | Sub => {
            let Some((x, y)) = comparable_values(a, b) else {
                return Err(EvalError::new(format!(
                    "cannot add or subtract '{}' and '{}'",
                    a.unit, b.unit
                )));
            };
            let value = if op == Add { x.checked_add(y) } else { x.checked_sub(y) };
            value.map(|value| {
                Item::Quantity(Quantity {
                    value,
                    unit: a.unit.clone(),
                    calendar: a.calendar,
                })
            })
        }
        Mul => quantity(
            a.value.checked_mul(b.value),
            unit_product(&ucum_unit(a), &ucum_unit(b), false),
        ),
        Div => quantity(
            a.value.checked_div(b.value).map(|d| d.normalize()),
            unit_product(&ucum_unit(a), &ucum_unit(b), true),
        ),
        _ => {
            return Err(EvalError::new(format!(
                "operator {op:?} cannot be applied to quantities"
            )))
        }
    })
}

/// The UCUM unit of a product or quotient, simplified when the units are
/// the same (`'m' / 'm'` is `'1'`).
fn unit_product(a: &str, b: &str, divide: bool) -> String {
    match (a, b, divide) {
        (a, b, true) if a == b => "1".into(),
        (a, "1", _) => a.into(),
        ("1", b, false) => b.into(),
        (a, b, false) if a == b => format!("{a}2"),
        (a, b, true) => format!("{a}/{b}"),
        (a, b, false) => format!("{a}.{b}"),
    }
}

/// Date/time arithmetic with a time-valued quantity.
fn date_plus<'a>(value: &Item<'a>, q: &Quantity, subtract: bool) -> Result<Option<Item<'a>>, EvalError> {
    let unit = if q.calendar {
        CalendarUnit::parse_keyword(&q.unit)
    } else {
        CalendarUnit::parse_ucum(&q.unit)
    };
    let Some(unit) = unit else {
        return Err(EvalError::new(format!(
            "'{}' is not a time unit usable in date arithmetic",
            q.unit
        )));
    };
    // Fractions are dropped, as the spec says for calendar arithmetic.
    let Some(amount) = q.value.trunc().to_i64() else {
        return Ok(None);
    };
    let amount = if subtract { -amount } else { amount };
    Ok(match value {
        Item::Date(d) => d.add(amount, unit).map(Item::Date),
        Item::DateTime(d) => d.add(amount, unit).map(Item::DateTime),
        Item::Time(t) => t.add(amount, unit).map(Item::Time),
        _ => None,
    })
}
