//! Positive magnitudes as `num / den × 10^exp`, with `num` and `den` in [1, 10).
//!
//! Why not a plain `Decimal`: UCUM spans far more than its 28 digits
//! (`ym3` is 1e-72 m3, Planck's constant is 6.6e-31 g.m2/s), and unit
//! definitions divide (`[oz_av]` is `/16` of a pound, `[degF]` steps `K/9`).
//! Keeping the power of ten apart lets a conversion between two extreme units
//! work as long as their ratio fits, and keeping the denominator apart makes
//! `212 [degF]` come out as exactly `100 Cel`: the division happens once, last.

use rust_decimal::Decimal;

/// A result with fewer significant digits than this (or than its inputs had,
/// if they had fewer) lost too much to rounding at Decimal's 28 decimal places.
const MIN_SIGNIFICANT_DIGITS: u32 = 10;
/// The largest power of ten a `Decimal` holds exactly (its mantissa is 96 bits).
const MAX_POW10: i32 = 28;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Magnitude {
    num: Decimal,
    den: Decimal,
    exp: i32,
}

impl Magnitude {
    pub(crate) const ONE: Magnitude = Magnitude {
        num: Decimal::ONE,
        den: Decimal::ONE,
        exp: 0,
    };

    /// A positive decimal number, optionally in e-notation (`6.0221367`, `1e-24`).
    pub(crate) fn parse(text: &str) -> Option<Magnitude> {
        let (mantissa, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let value = Decimal::from_str_exact(mantissa).ok()?;
        Magnitude::from_decimal(value)?.times_pow10(exp)
    }

    /// `None` unless `value` is positive.
    pub(crate) fn from_decimal(value: Decimal) -> Option<Magnitude> {
        if value <= Decimal::ZERO {
            return None;
        }
        let (num, exp) = split(value)?;
        Some(Magnitude {
            num,
            den: Decimal::ONE,
            exp,
        })
    }

    pub(crate) fn times_pow10(self, exp: i32) -> Option<Magnitude> {
        Some(Magnitude {
            exp: self.exp.checked_add(exp)?,
            ..self
        })
    }

    pub(crate) fn mul(self, other: Magnitude) -> Option<Magnitude> {
        let exp = self.exp.checked_add(other.exp)?;
        normalized(self.num.checked_mul(other.num)?, self.den.checked_mul(other.den)?, exp)
    }

    pub(crate) fn div(self, other: Magnitude) -> Option<Magnitude> {
        self.mul(other.inverse())
    }

    pub(crate) fn inverse(self) -> Magnitude {
        Magnitude {
            num: self.den,
            den: self.num,
            exp: -self.exp,
        }
    }

    /// `self` to an integer power, by squaring so huge exponents cost little.
    pub(crate) fn powi(self, n: i32) -> Option<Magnitude> {
        let mut base = if n < 0 { self.inverse() } else { self };
        let mut n = n.unsigned_abs();
        let mut acc = Magnitude::ONE;
        while n > 0 {
            if n & 1 == 1 {
                acc = acc.mul(base)?;
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(base)?;
            }
        }
        Some(acc)
    }

    /// The magnitude as one Decimal; `None` if it overflows or would keep too
    /// few significant digits.
    pub(crate) fn to_decimal(self) -> Option<Decimal> {
        self.apply(Decimal::ONE)
    }

    /// `value × self`, multiplying before dividing so exact quotients stay exact.
    pub(crate) fn apply(self, value: Decimal) -> Option<Decimal> {
        if value.is_zero() {
            return Some(Decimal::ZERO);
        }
        let scaled = value.checked_mul(self.num)?.checked_div(self.den)?;
        let result = scale_pow10(scaled, self.exp)?;
        let needed = significant_digits(scaled).min(MIN_SIGNIFICANT_DIGITS);
        (significant_digits(result) >= needed).then(|| result.normalize())
    }
}

fn normalized(num: Decimal, den: Decimal, exp: i32) -> Option<Magnitude> {
    let (num, num_exp) = split(num)?;
    let (den, den_exp) = split(den)?;
    let exp = exp.checked_add(num_exp)?.checked_sub(den_exp)?;
    Some(Magnitude { num, den, exp })
}

/// Splits a positive `value` into `m × 10^e` with `m` in [1, 10), exactly.
fn split(value: Decimal) -> Option<(Decimal, i32)> {
    let value = value.normalize();
    let mantissa = value.mantissa();
    if mantissa <= 0 {
        return None;
    }
    let digits = count_digits(mantissa.unsigned_abs());
    // A 96-bit mantissa has at most 29 digits, so the scale is at most 28.
    let m = Decimal::try_from_i128_with_scale(mantissa, digits - 1).ok()?;
    let exp = i32::try_from(digits).ok()? - 1 - i32::try_from(value.scale()).ok()?;
    Some((m, exp))
}

fn count_digits(mut n: u128) -> u32 {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Digits from the first to the last non-zero one (5000 has one).
fn significant_digits(value: Decimal) -> u32 {
    let mut n = value.mantissa().unsigned_abs();
    if n == 0 {
        return 0;
    }
    while n % 10 == 0 {
        n /= 10;
    }
    count_digits(n)
}

fn pow10(k: i32) -> Option<Decimal> {
    let k = u32::try_from(k).ok()?;
    Decimal::try_from_i128_with_scale(10i128.checked_pow(k)?, 0).ok()
}

/// `value × 10^exp`; stops early once the value overflows or rounds to zero.
fn scale_pow10(mut value: Decimal, mut exp: i32) -> Option<Decimal> {
    while exp > 0 {
        let k = exp.min(MAX_POW10);
        value = value.checked_mul(pow10(k)?)?;
        exp -= k;
    }
    while exp < 0 {
        let k = (-exp).min(MAX_POW10);
        value = value.checked_div(pow10(k)?)?;
        if value.is_zero() {
            return None;
        }
        exp += k;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn mag(text: &str) -> Magnitude {
        Magnitude::parse(text).unwrap()
    }

    #[test]
    fn parses_plain_and_e_notation() {
        assert_eq!(mag("133.322").to_decimal(), Some(dec("133.322")));
        assert_eq!(mag("1e-24").to_decimal(), Some(dec("0.000000000000000000000001")));
        assert_eq!(mag("6.0221367e23").to_decimal(), Some(dec("602213670000000000000000")));
        assert_eq!(Magnitude::parse("0"), None);
        assert_eq!(Magnitude::parse("-1"), None);
        assert_eq!(Magnitude::parse("1e"), None);
        assert_eq!(Magnitude::parse("x"), None);
    }

    #[test]
    fn division_is_exact_when_the_quotient_is() {
        let ninth = Magnitude::ONE.div(mag("9")).unwrap();
        let five_ninths = mag("5").mul(ninth).unwrap();
        assert_eq!(five_ninths.apply(dec("671.67")), Some(dec("373.15")));
        assert_eq!(five_ninths.inverse().apply(dec("373.15")), Some(dec("671.67")));
    }

    #[test]
    fn extreme_exponents_cancel() {
        let tiny = mag("1e-72");
        let huge = mag("1e72");
        assert_eq!(tiny.to_decimal(), None);
        assert_eq!(huge.to_decimal(), None);
        assert_eq!(tiny.mul(huge).unwrap().to_decimal(), Some(Decimal::ONE));
    }

    #[test]
    fn too_few_significant_digits_is_refused() {
        // 9.1093897e-28 would keep one digit at 28 decimal places.
        assert_eq!(mag("9.1093897e-28").to_decimal(), None);
        assert_eq!(mag("1e-28").to_decimal(), Some(dec("0.0000000000000000000000000001")));
    }

    #[test]
    fn powers_by_squaring() {
        assert_eq!(mag("10").powi(3).unwrap().to_decimal(), Some(dec("1000")));
        assert_eq!(mag("2").powi(-2).unwrap().to_decimal(), Some(dec("0.25")));
        assert_eq!(mag("10").powi(0), Some(Magnitude::ONE));
        assert!(mag("10").powi(i32::MAX).is_some());
        assert_eq!(mag("1e9").powi(i32::MAX), None);
    }

    #[test]
    fn apply_handles_negative_and_zero_values() {
        assert_eq!(mag("1e-3").apply(dec("-5")), Some(dec("-0.005")));
        assert_eq!(mag("1e300").apply(Decimal::ZERO), Some(Decimal::ZERO));
        assert_eq!(mag("1e3").apply(Decimal::MAX), None);
    }
}
