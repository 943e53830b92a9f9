//! UCUM, the Unified Code for Units of Measure: parsing, validation and
//! conversion of unit expressions in the case-sensitive (c/s) form.
//!
//! Used by FHIRPath (quantity equality, comparison and arithmetic across
//! units: `4 'g' = 4000 'mg'`), by search (quantities indexed in canonical
//! units so `gt5000mg` matches `6 g`) and by terminology (unit validation).
//!
//! # What is supported
//!
//! - The whole c/s grammar: prefixes (metric and binary, on metric atoms
//!   only), atoms including square-bracketed ones, integer exponents (`cm3`,
//!   `s-1`), `.` and left-associative `/` (also leading: `/min`),
//!   parentheses, integer factors and powers of ten (`1000`, `10*3`, `10^3`),
//!   annotations (`{score}`, counting as 1), `%`. The grammar is in `parser.rs`.
//! - Every atom of the UCUM essence (base, SI, customary, clinical,
//!   information units...), from `conformance/ucum-units.tsv`; each atom's
//!   definition is itself reduced, once, on first use.
//! - Magnitudes in [`Decimal`], kept as a fraction times a power of ten while
//!   reducing, so `1 g = 1000 mg` and `1 [in_i] = 2.54 cm` are exact, and a
//!   conversion works whenever its result fits a Decimal even if the units'
//!   own factors do not (`ym3` to `zm3`).
//! - Arbitrary units (`[iU]`, `[CFU]`, `[arb'U]`...) are commensurable only
//!   with themselves and the units defined from them (`[IU]`), as UCUM says:
//!   `m[iU]/mL` converts to `[iU]/L`, never to `1` or `%`.
//! - Special units: the temperature scales `Cel`, `[degF]` and `[degRe]`
//!   (with their offsets, also prefixed: `mCel`) convert, to one another and
//!   to `K` or any commensurable ratio unit; [`to_canonical`] gives kelvins.
//!   `[degR]` is a ratio unit (5/9 K) in UCUM and simply converts.
//!
//! # What is refused, with an error
//!
//! - [`canonical`] of a special unit (it is no multiple of base units) or of
//!   an arbitrary one ([`Canonical`] has no room for it): [`convert`] and
//!   [`to_canonical`] handle both.
//! - Conversion of the logarithmic and trigonometric special units (`[pH]`,
//!   `B[SPL]`, `Np`, `[p'diop]`, `%[slope]`, `[hp'_X]`, `bit_s`, ...) and of
//!   any special unit inside a larger expression (`Cel/s`). [`is_valid`]
//!   accepts them all.
//! - Factors beyond what a Decimal holds (`mol/mL` in base units is 6e29
//!   per m3), or so small that fewer than 10 significant digits would remain
//!   (Decimal stops at 28 decimal places).
//!
//! No input panics; every failure is a [`UcumError`].

mod magnitude;
mod parser;
mod reduce;
mod table;

pub use rust_decimal::Decimal;

use magnitude::Magnitude;
use parser::{Component, Term};
use reduce::{AtomValue, Reduced, Special};

/// A unit reduced to UCUM base units: `value_in_base = value * factor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    pub factor: Decimal,
    /// Exponents of the 7 UCUM base units: m, s, g, rad, K, C, cd.
    pub dimensions: [i8; 7],
}

impl Canonical {
    /// The canonical unit as UCUM text, e.g. `g`, `m.s-2`, `1` for
    /// dimensionless: base units in the order of `dimensions`, so the text is
    /// stable for search indexes, and itself a valid UCUM expression.
    pub fn unit(&self) -> String {
        reduced_from_dimensions(&self.dimensions).unit_text()
    }

    /// Whether values in the two units can be converted: same dimensions.
    pub fn is_commensurable(&self, other: &Canonical) -> bool {
        self.dimensions == other.dimensions
    }
}

/// Why a unit expression was refused. Positions are byte offsets into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UcumError {
    /// Not UCUM syntax, or a prefix on a non-metric atom (`k[in_i]`).
    #[error("invalid UCUM expression at {position}: {message}")]
    Syntax { message: String, position: usize },
    /// A symbol that is no atom, nor a prefix and a metric atom.
    #[error("unknown UCUM unit '{unit}' at {position}")]
    UnknownUnit { unit: String, position: usize },
    #[error("units '{from}' and '{to}' are not commensurable")]
    NotCommensurable { from: String, to: String },
    /// A special (non-ratio) unit where it cannot be handled (see the module doc).
    #[error("special unit in '{unit}': {reason}")]
    SpecialUnit { unit: String, reason: &'static str },
    /// [`canonical`] of an expression with an arbitrary unit (`[iU]`, `[CFU]`).
    #[error("'{unit}' contains an arbitrary unit, which has no canonical form in base units")]
    ArbitraryUnit { unit: String },
    /// A factor or value beyond a Decimal, or too small to keep 10 digits.
    #[error("value or factor out of the decimal range for '{unit}'")]
    OutOfRange { unit: String },
    /// The embedded unit table is broken (a build error, caught by the tests).
    #[error("UCUM unit table: {message}")]
    Table { message: String },
}

/// Parses a UCUM expression (case-sensitive c/s form) and reduces it.
///
/// Special units (`Cel`) and arbitrary units (`[iU]`) are refused: they are
/// no multiple of base units. [`convert`] and [`to_canonical`] handle them.
pub fn canonical(unit: &str) -> Result<Canonical, UcumError> {
    match reduction(unit)? {
        Reduction::Special { .. } => Err(UcumError::SpecialUnit {
            unit: unit.to_owned(),
            reason: "it has no canonical factor (an offset or a non-linear scale); use convert or to_canonical",
        }),
        Reduction::Ratio(r) if !r.arbitrary.is_empty() => Err(UcumError::ArbitraryUnit { unit: unit.to_owned() }),
        Reduction::Ratio(r) => {
            let out_of_range = || UcumError::OutOfRange { unit: unit.to_owned() };
            let factor = r.magnitude.to_decimal().ok_or_else(out_of_range)?;
            let mut dimensions = [0i8; 7];
            for (d, exp) in dimensions.iter_mut().zip(r.dims) {
                *d = i8::try_from(exp).map_err(|_| out_of_range())?;
            }
            Ok(Canonical { factor, dimensions })
        }
    }
}

/// Converts `value` from one unit to another commensurable unit. Exact when
/// the result is a finite decimal: `convert(4, "g", "mg")` is `4000`.
pub fn convert(value: Decimal, from: &str, to: &str) -> Result<Decimal, UcumError> {
    let source = reduction(from)?;
    let target = reduction(to)?;
    if !source.base().is_commensurable(target.base()) {
        return Err(UcumError::NotCommensurable {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    match (&source, &target) {
        // Straight through the ratio of the two, never leaving the fraction
        // form: exact when the result is, and independent of base-unit range.
        (Reduction::Ratio(a), Reduction::Ratio(b)) => a
            .magnitude
            .div(b.magnitude)
            .and_then(|ratio| ratio.apply(value))
            .ok_or_else(|| UcumError::OutOfRange { unit: to.to_owned() }),
        _ => {
            let base = source.to_base(value, from)?;
            target.value_from_base(base, to)
        }
    }
}

/// The value and canonical unit of a quantity: `(5, "mg")` gives
/// `(0.005, "g")`, `(37, "Cel")` gives `(310.15, "K")`, `(2, "m[iU]/mL")`
/// gives `(2000, "m-3.[iU]")`.
pub fn to_canonical(value: Decimal, unit: &str) -> Result<(Decimal, String), UcumError> {
    let reduction = reduction(unit)?;
    let base = reduction.to_base(value, unit)?;
    Ok((base, reduction.base().unit_text()))
}

/// Whether `unit` is a valid UCUM expression (c/s form): known atoms, prefixes
/// only on metric atoms, correct syntax. Special units are valid too.
pub fn is_valid(unit: &str) -> bool {
    table::units()
        .and_then(|units| parser::parse(unit, &units.table))
        .is_ok()
}

/// A whole expression, reduced.
enum Reduction {
    Ratio(Reduced),
    /// A special unit alone, as the whole expression, possibly prefixed.
    Special {
        special: Special,
        prefix: Magnitude,
    },
}

fn reduction(unit: &str) -> Result<Reduction, UcumError> {
    let units = table::units()?;
    let term = parser::parse(unit, &units.table)?;
    if let Some((atom, prefix)) = lone_unit(&term) {
        if let AtomValue::Special(special) = units.value(atom)? {
            return Ok(Reduction::Special { special, prefix });
        }
    }
    reduce::reduce(&term, unit, &mut |atom| units.value(atom)).map(Reduction::Ratio)
}

/// The atom and prefix of an expression made of one unit to the power 1,
/// ignoring annotations beside it (`Cel{body}`, `{oral}.Cel`).
fn lone_unit(term: &Term) -> Option<(&'static str, Magnitude)> {
    let mut units = term.items.iter().filter(|item| item.component != Component::Annotation);
    let item = units.next()?;
    match (&item.component, item.divide, units.next()) {
        (Component::Unit { symbol, exponent: 1 }, false, None) => {
            Some((symbol.atom, symbol.prefix.unwrap_or(Magnitude::ONE)))
        }
        _ => None,
    }
}

impl Reduction {
    /// The base units (dimensions and arbitrary units) values are expressed in.
    fn base(&self) -> &Reduced {
        match self {
            Reduction::Ratio(r) => r,
            Reduction::Special { special, .. } => &special.step,
        }
    }

    fn to_base(&self, value: Decimal, unit: &str) -> Result<Decimal, UcumError> {
        let out_of_range = || UcumError::OutOfRange { unit: unit.to_owned() };
        match self {
            Reduction::Ratio(r) => r.magnitude.apply(value).ok_or_else(out_of_range),
            Reduction::Special { special, prefix } => {
                let offset = temperature_offset(special.function, unit)?;
                let scaled = prefix.apply(value).ok_or_else(out_of_range)?;
                let shifted = scaled.checked_add(offset).ok_or_else(out_of_range)?;
                special.step.magnitude.apply(shifted).ok_or_else(out_of_range)
            }
        }
    }

    fn value_from_base(&self, base: Decimal, unit: &str) -> Result<Decimal, UcumError> {
        let out_of_range = || UcumError::OutOfRange { unit: unit.to_owned() };
        match self {
            Reduction::Ratio(r) => r.magnitude.inverse().apply(base).ok_or_else(out_of_range),
            Reduction::Special { special, prefix } => {
                let offset = temperature_offset(special.function, unit)?;
                let steps = special.step.magnitude.inverse().apply(base).ok_or_else(out_of_range)?;
                let shifted = steps.checked_sub(offset).ok_or_else(out_of_range)?;
                prefix.inverse().apply(shifted).ok_or_else(out_of_range)
            }
        }
    }
}

/// Where a temperature scale's zero lies, counted in its own degrees from
/// absolute zero: UCUM defines `Cel` as K - 273.15, `[degF]` as
/// (K × 9/5) - 459.67 and `[degRe]` as (K - 273.15) × 4/5, whose zero is
/// 273.15 × 4/5 = 218.52 degrees Réaumur above absolute zero.
fn temperature_offset(function: &str, unit: &str) -> Result<Decimal, UcumError> {
    match function {
        "Cel" => Ok(Decimal::new(27315, 2)),
        "degF" => Ok(Decimal::new(45967, 2)),
        "degRe" => Ok(Decimal::new(21852, 2)),
        _ => Err(UcumError::SpecialUnit {
            unit: unit.to_owned(),
            reason: "conversion of logarithmic and trigonometric special units is not supported",
        }),
    }
}

fn reduced_from_dimensions(dimensions: &[i8; 7]) -> Reduced {
    let mut reduced = Reduced::one();
    for (d, exp) in reduced.dims.iter_mut().zip(dimensions) {
        *d = i32::from(*exp);
    }
    reduced
}

#[cfg(test)]
mod tests;
