//! Conversion functions (<https://hl7.org/fhirpath/N1/#conversion>):
//! `toX()` returns empty when the item cannot convert, `convertsToX()` says
//! whether it can.

use std::borrow::Cow;

use rust_decimal::Decimal;

use super::eval::Collection;
use super::functions::Func;
use super::temporal::{CalendarUnit, Date, DateTime, Time};
use super::value::{parse_decimal, Item, Quantity};
use super::EvalError;

/// Runs a conversion function; `None` if `func` is not one.
pub(super) fn call<'a>(
    func: Func,
    item: &Item<'a>,
    args: &[Collection<'a>],
) -> Result<Option<Collection<'a>>, EvalError> {
    use Func::*;
    let Some(value) = item.system() else {
        // Complex nodes convert to nothing (and to no string).
        return Ok(match func {
            ConvertsToBoolean | ConvertsToInteger | ConvertsToDecimal | ConvertsToDate | ConvertsToDateTime
            | ConvertsToTime | ConvertsToQuantity | ConvertsToString => Some(vec![Item::Boolean(false)]),
            ToBoolean | ToInteger | ToDecimal | ToDate | ToDateTime | ToTime | ToQuantity | ToString => {
                Some(Vec::new())
            }
            _ => None,
        });
    };
    let converted = match func {
        ToBoolean | ConvertsToBoolean => to_boolean(&value),
        ToInteger | ConvertsToInteger => to_integer(&value),
        ToDecimal | ConvertsToDecimal => to_decimal(&value),
        ToDate | ConvertsToDate => to_date(&value),
        ToDateTime | ConvertsToDateTime => to_datetime(&value),
        ToTime | ConvertsToTime => to_time(&value),
        ToString | ConvertsToString => to_string(&value).map(|s| Item::String(Cow::Owned(s))),
        ToQuantity | ConvertsToQuantity => {
            let unit = match args.first().map(Vec::as_slice) {
                Some([unit]) => Some(
                    unit.as_str()
                        .ok_or_else(|| EvalError::new("toQuantity() unit must be a string"))?
                        .into_owned(),
                ),
                _ => None,
            };
            to_quantity(&value, unit.as_deref())
        }
        _ => return Ok(None),
    };
    let is_test = matches!(
        func,
        ConvertsToBoolean
            | ConvertsToInteger
            | ConvertsToDecimal
            | ConvertsToDate
            | ConvertsToDateTime
            | ConvertsToTime
            | ConvertsToQuantity
            | ConvertsToString
    );
    Ok(Some(if is_test {
        vec![Item::Boolean(converted.is_some())]
    } else {
        converted.into_iter().collect()
    }))
}

fn to_boolean<'a>(value: &Item) -> Option<Item<'a>> {
    let b = match value {
        Item::Boolean(b) => *b,
        Item::Integer(1) => true,
        Item::Integer(0) => false,
        Item::Decimal(d) if *d == Decimal::ONE => true,
        Item::Decimal(d) if d.is_zero() => false,
        Item::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => true,
            "false" | "f" | "no" | "n" | "0" | "0.0" => false,
            _ => return None,
        },
        _ => return None,
    };
    Some(Item::Boolean(b))
}

fn to_integer<'a>(value: &Item) -> Option<Item<'a>> {
    match value {
        Item::Integer(i) => Some(Item::Integer(*i)),
        Item::Boolean(b) => Some(Item::Integer(i64::from(*b))),
        Item::String(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse::<i32>().ok().map(|i| Item::Integer(i64::from(i)))
        }
        _ => None,
    }
}

fn to_decimal<'a>(value: &Item) -> Option<Item<'a>> {
    match value {
        Item::Decimal(d) => Some(Item::Decimal(*d)),
        Item::Integer(i) => Some(Item::Decimal(Decimal::from(*i))),
        Item::Boolean(b) => Some(Item::Decimal(if *b { Decimal::ONE } else { Decimal::ZERO })),
        Item::String(s) => is_decimal_text(s)
            .then(|| parse_decimal(s))
            .flatten()
            .map(Item::Decimal),
        _ => None,
    }
}

/// `(\+|-)?\d+(\.\d+)?`, the spec's grammar for decimal strings.
fn is_decimal_text(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

fn to_date<'a>(value: &Item) -> Option<Item<'a>> {
    match value {
        Item::Date(d) => Some(Item::Date(*d)),
        Item::DateTime(d) => Some(Item::Date(d.date())),
        Item::String(s) => Date::parse(s)
            .map(Item::Date)
            .or_else(|| DateTime::parse(s).map(|d| Item::Date(d.date()))),
        _ => None,
    }
}

fn to_datetime<'a>(value: &Item) -> Option<Item<'a>> {
    match value {
        Item::DateTime(d) => Some(Item::DateTime(*d)),
        Item::Date(d) => Some(Item::DateTime(d.to_datetime())),
        Item::String(s) => DateTime::parse(s).map(Item::DateTime),
        _ => None,
    }
}

fn to_time<'a>(value: &Item) -> Option<Item<'a>> {
    match value {
        Item::Time(t) => Some(Item::Time(*t)),
        Item::String(s) => Time::parse(s).map(Item::Time),
        _ => None,
    }
}

/// The spec's string form of a value (`toString()`).
pub(super) fn to_string(value: &Item) -> Option<String> {
    Some(match value {
        Item::String(s) => s.to_string(),
        Item::Boolean(b) => b.to_string(),
        Item::Integer(i) => i.to_string(),
        Item::Decimal(d) => d.to_string(),
        Item::Date(d) => d.to_string(),
        Item::DateTime(d) => d.to_string(),
        Item::Time(t) => t.to_string(),
        Item::Quantity(q) => q.to_string(),
        Item::Node(_) | Item::Type(_) => return None,
    })
}

fn to_quantity<'a>(value: &Item, unit: Option<&str>) -> Option<Item<'a>> {
    let quantity = match value {
        Item::Quantity(q) => q.clone(),
        Item::Integer(i) => plain(Decimal::from(*i)),
        Item::Decimal(d) => plain(*d),
        Item::Boolean(b) => plain(if *b { Decimal::ONE } else { Decimal::ZERO }),
        Item::String(s) => parse_quantity(s)?,
        _ => return None,
    };
    match unit {
        None => Some(Item::Quantity(quantity)),
        Some(unit) if unit == quantity.unit => Some(Item::Quantity(quantity)),
        Some(unit) => {
            let value = crate::ucum::convert(quantity.value, &quantity.unit, unit).ok()?;
            Some(Item::Quantity(Quantity {
                value,
                unit: unit.to_owned(),
                calendar: false,
            }))
        }
    }
}

fn plain(value: Decimal) -> Quantity {
    Quantity {
        value,
        unit: "1".into(),
        calendar: false,
    }
}

/// `'5 mg'`-style text: a number, then optionally a quoted UCUM unit or a
/// calendar keyword.
fn parse_quantity(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let (number, rest) = match s.find(' ') {
        Some(at) => (&s[..at], s[at..].trim()),
        None => (s, ""),
    };
    if !is_decimal_text(number) {
        return None;
    }
    let value = parse_decimal(number)?;
    if rest.is_empty() {
        return Some(plain(value));
    }
    if let Some(unit) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(Quantity {
            value,
            unit: unit.to_owned(),
            calendar: false,
        });
    }
    CalendarUnit::parse_keyword(rest).map(|_| Quantity {
        value,
        unit: rest.to_owned(),
        calendar: true,
    })
}
