//! Math functions (<https://hl7.org/fhirpath/N1/#math>). Results that are not
//! real numbers (`(-1).sqrt()`, `0.ln()`) are empty, as the spec says.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

use super::eval::Collection;
use super::functions::Func;
use super::value::{Item, Quantity};
use super::EvalError;

pub(super) fn call<'a>(func: Func, item: &Item<'a>, args: &[Collection<'a>]) -> Result<Collection<'a>, EvalError> {
    use Func::*;
    let value = item.system();
    if let (Abs, Some(Item::Quantity(q))) = (func, &value) {
        return Ok(vec![Item::Quantity(Quantity {
            value: q.value.abs(),
            ..q.clone()
        })]);
    }
    let (n, integer) = match value {
        Some(Item::Integer(i)) => (Decimal::from(i), true),
        Some(Item::Decimal(d)) => (d, false),
        _ => {
            return Err(EvalError::new(format!(
                "{}() needs a number, found {}",
                func.name(),
                item.type_label()
            )))
        }
    };
    let arg = |i: usize| -> Result<Option<Decimal>, EvalError> {
        match args.get(i).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([a]) => match a.system() {
                Some(Item::Integer(i)) => Ok(Some(Decimal::from(i))),
                Some(Item::Decimal(d)) => Ok(Some(d)),
                _ => Err(EvalError::new(format!("{}() needs a number argument", func.name()))),
            },
            _ => Err(EvalError::new(format!("{}() needs a single argument", func.name()))),
        }
    };
    let keep_integer = |d: Option<Decimal>| -> Collection<'a> {
        match d {
            Some(d) if integer => d.to_i64().map(Item::Integer).into_iter().collect(),
            Some(d) => vec![Item::Decimal(d)],
            None => Vec::new(),
        }
    };
    let to_int = |d: Decimal| d.to_i64().map(Item::Integer).into_iter().collect::<Collection<'a>>();
    let decimal = |d: Option<Decimal>| d.map(Item::Decimal).into_iter().collect::<Collection<'a>>();
    Ok(match func {
        Abs => keep_integer(Some(n.abs())),
        Ceiling => to_int(n.ceil()),
        Floor => to_int(n.floor()),
        Truncate => to_int(n.trunc()),
        Exp => decimal(n.checked_exp()),
        Ln => decimal((n > Decimal::ZERO).then(|| n.checked_ln()).flatten()),
        Log => {
            let Some(base) = arg(0)? else { return Ok(Vec::new()) };
            decimal(log(n, base))
        }
        Power => {
            let Some(exponent) = arg(0)? else { return Ok(Vec::new()) };
            let exponent_integer = matches!(args[0].first().and_then(Item::system), Some(Item::Integer(_)));
            let result = power(n, exponent);
            if integer && exponent_integer && exponent >= Decimal::ZERO {
                keep_integer(result)
            } else {
                decimal(result)
            }
        }
        Round => {
            let precision = arg(0)?.map_or(Some(0), |p| p.to_u32());
            let Some(precision) = precision else {
                return Err(EvalError::new("round() precision must be a non-negative integer"));
            };
            decimal(Some(
                n.round_dp_with_strategy(precision, RoundingStrategy::MidpointAwayFromZero),
            ))
        }
        Sqrt => decimal((n >= Decimal::ZERO).then(|| n.sqrt()).flatten()),
        _ => return Err(EvalError::new(format!("{}() is not a math function", func.name()))),
    })
}

fn log(n: Decimal, base: Decimal) -> Option<Decimal> {
    let (n, base) = (n.to_f64()?, base.to_f64()?);
    if n <= 0.0 || base <= 0.0 || base == 1.0 {
        return None;
    }
    finite(n.ln() / base.ln())
}

fn power(n: Decimal, exponent: Decimal) -> Option<Decimal> {
    if exponent.fract().is_zero() {
        if let Some(e) = exponent.to_i64() {
            return n.checked_powi(e);
        }
    }
    let result = n.to_f64()?.powf(exponent.to_f64()?);
    finite(result)
}

/// An f64 result as a Decimal; NaN and infinities (e.g. `(-1).power(0.5)`) are empty.
fn finite(value: f64) -> Option<Decimal> {
    if value.is_finite() {
        Decimal::from_f64(value)
    } else {
        None
    }
}
