//! `precision()`, `lowBoundary()`, `highBoundary()` and `comparable()`: the
//! FHIRPath 2.1 functions FHIR uses to compare values of unequal precision
//! (e.g. the R5 period invariant `start.lowBoundary() < end.highBoundary()`).
//! <https://build.fhir.org/ig/HL7/FHIRPath/#precision--integer>
//!
//! A decimal `1.587` stands for [1.5865, 1.5875); a date `2014` for the
//! whole year; a date-time without offset for every offset from +14:00 to
//! -12:00. The boundaries are those ends, at the requested precision.

use rust_decimal::{Decimal, RoundingStrategy};

use super::eval::Collection;
use super::functions::Func;
use super::temporal::{Date, DateTime, Time};
use super::value::{Item, Quantity};
use super::EvalError;

/// Decimal boundaries default to 8 digits; rust_decimal holds at most 28.
const DEFAULT_DECIMAL_PRECISION: u32 = 8;
const MAX_DECIMAL_PRECISION: i64 = 28;

pub(super) fn call<'a>(
    func: Func,
    item: &Item<'a>,
    args: &[Collection<'a>],
) -> Result<Option<Collection<'a>>, EvalError> {
    let value = item.system();
    let result = match func {
        Func::Precision => value.as_ref().and_then(precision).map(Item::Integer),
        Func::LowBoundary | Func::HighBoundary => {
            let precision = match args.first().map(Vec::as_slice) {
                None => None,
                Some([]) => return Ok(Some(Vec::new())),
                Some([p]) => match p.system() {
                    Some(Item::Integer(p)) => Some(p),
                    _ => {
                        return Err(EvalError::new(format!(
                            "{}() precision must be an integer",
                            func.name()
                        )))
                    }
                },
                Some(_) => return Err(EvalError::new(format!("{}() takes one precision", func.name()))),
            };
            let high = func == Func::HighBoundary;
            value.as_ref().and_then(|v| boundary(v, precision, high))
        }
        Func::Comparable => {
            let other = args.first().and_then(|a| a.first()).and_then(Item::system);
            match (value, other) {
                (Some(Item::Quantity(a)), Some(Item::Quantity(b))) => Some(Item::Boolean(comparable(&a, &b))),
                _ => return Err(EvalError::new("comparable() needs two quantities")),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(result.into_iter().collect()))
}

fn comparable(a: &Quantity, b: &Quantity) -> bool {
    match (crate::ucum::canonical(&a.unit), crate::ucum::canonical(&b.unit)) {
        (Ok(x), Ok(y)) => x.is_commensurable(&y),
        _ => false,
    }
}

/// Digits of precision: decimal places for a decimal, and for dates and
/// times the digits written (`2014` is 4, `2014-01-05T10:30:00.000` is 17).
fn precision(value: &Item) -> Option<i64> {
    let digits = |s: String| i64::try_from(s.chars().filter(char::is_ascii_digit).count()).ok();
    match value {
        Item::Decimal(d) => Some(i64::from(d.scale())),
        Item::Integer(_) => Some(0),
        Item::Date(d) => digits(d.to_string()),
        Item::DateTime(d) => digits(without_offset(d)),
        Item::Time(t) => digits(t.to_string()),
        _ => None,
    }
}

fn without_offset(d: &DateTime) -> String {
    let text = d.to_string();
    match text.find('T') {
        Some(t) => {
            let end = text[t..].find(['Z', '+', '-']).map_or(text.len(), |i| t + i);
            text[..end].to_owned()
        }
        None => text,
    }
}

fn boundary<'a>(value: &Item, precision: Option<i64>, high: bool) -> Option<Item<'a>> {
    match value {
        Item::Integer(i) => decimal_boundary(Decimal::from(*i), precision, high).map(Item::Decimal),
        Item::Decimal(d) => decimal_boundary(*d, precision, high).map(Item::Decimal),
        Item::Quantity(q) => {
            decimal_boundary(q.value, precision, high).map(|value| Item::Quantity(Quantity { value, ..q.clone() }))
        }
        Item::Date(d) => date_boundary(d, precision.unwrap_or(8), high),
        Item::DateTime(d) => datetime_boundary(d, precision.unwrap_or(17), high),
        Item::Time(t) => time_boundary(t, precision.unwrap_or(9), high),
        _ => None,
    }
}

/// The end of the interval the decimal stands for (half a unit in its last
/// place away), cut to `precision` places the way the reference
/// implementation does: towards zero on the side nearer zero, rounding half
/// away from zero on the other.
fn decimal_boundary(value: Decimal, precision: Option<i64>, high: bool) -> Option<Decimal> {
    let precision = precision.unwrap_or(i64::from(DEFAULT_DECIMAL_PRECISION));
    if !(0..=MAX_DECIMAL_PRECISION).contains(&precision) {
        return None;
    }
    let precision = u32::try_from(precision).ok()?;
    let half = Decimal::new(5, value.scale() + 1);
    let bound = if high {
        value.checked_add(half)?
    } else {
        value.checked_sub(half)?
    };
    if precision >= bound.scale() {
        let mut padded = bound;
        padded.rescale(precision);
        return Some(padded);
    }
    let toward_zero = if high {
        bound.is_sign_negative()
    } else {
        !bound.is_sign_negative()
    };
    let strategy = if toward_zero {
        RoundingStrategy::ToZero
    } else {
        RoundingStrategy::MidpointAwayFromZero
    };
    let mut cut = bound.round_dp_with_strategy(precision, strategy);
    cut.rescale(precision);
    // A negative bound cut to zero stays "-0.0": it is the low end of a negative value.
    cut.set_sign_negative(bound.is_sign_negative());
    Some(cut)
}

/// A date's first or last month/day at the requested precision (4, 6 or 8 digits).
fn date_boundary<'a>(d: &Date, precision: i64, high: bool) -> Option<Item<'a>> {
    let month = d.month().unwrap_or(if high { 12 } else { 1 });
    let day = d.day().unwrap_or(if high { days_in_month(d.year(), month) } else { 1 });
    let text = match precision {
        4 => format!("{:04}", d.year()),
        6 => format!("{:04}-{month:02}", d.year()),
        8 => format!("{:04}-{month:02}-{day:02}", d.year()),
        _ => return None,
    };
    Date::parse(&text).map(Item::Date)
}

fn datetime_boundary<'a>(d: &DateTime, precision: i64, high: bool) -> Option<Item<'a>> {
    let date = d.date();
    if precision <= 8 {
        return date_boundary(&date, precision, high);
    }
    let Some(Item::Date(full)) = date_boundary(&date, 8, high) else {
        return None;
    };
    let time = d.time();
    let time_text = time_components(time.as_ref(), high);
    // Without an offset, the value could be anywhere from +14:00 to -12:00.
    let offset = match d.offset_minutes() {
        Some(offset) => offset,
        None if high => -12 * 60,
        None => 14 * 60,
    };
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let cut = match precision {
        10 => &time_text[..2],
        12 => &time_text[..5],
        14 => &time_text[..8],
        17 => &time_text[..],
        _ => return None,
    };
    let text = format!("{full}T{cut}{sign}{:02}:{:02}", abs / 60, abs % 60);
    DateTime::parse(&text).map(Item::DateTime)
}

fn time_boundary<'a>(t: &Time, precision: i64, high: bool) -> Option<Item<'a>> {
    let text = time_components(Some(t), high);
    let cut = match precision {
        2 => &text[..2],
        4 => &text[..5],
        6 => &text[..8],
        9 => &text[..],
        _ => return None,
    };
    Time::parse(cut).map(Item::Time)
}

/// `hh:mm:ss.fff` with the unspecified parts at their lowest or highest.
fn time_components(t: Option<&Time>, high: bool) -> String {
    let (hour, minute, second, millis) = match t {
        Some(t) => (
            t.hour(),
            t.minute().unwrap_or(if high { 59 } else { 0 }),
            t.second().unwrap_or(if high { 59 } else { 0 }),
            t.millisecond().unwrap_or(if high { 999 } else { 0 }),
        ),
        None => {
            if high {
                (23, 59, 59, 999)
            } else {
                (0, 0, 0, 0)
            }
        }
    };
    format!("{hour:02}:{minute:02}:{second:02}.{millis:03}")
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}
