//! Reduction of a parsed expression to a magnitude and base-unit exponents.

use super::magnitude::Magnitude;
use super::parser::{Component, Term};
use super::UcumError;

/// The symbols of the base units, in `Canonical::dimensions` order.
pub(crate) const BASE_SYMBOLS: [&str; 7] = ["m", "s", "g", "rad", "K", "C", "cd"];

/// A ratio unit in base units: `magnitude × Π base^dims × Π arbitrary^exp`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reduced {
    pub(crate) magnitude: Magnitude,
    pub(crate) dims: [i32; 7],
    /// Arbitrary units ([iU], [CFU]...) by code, sorted, no zero exponents:
    /// UCUM makes each commensurable only with itself, so each is kept apart
    /// like an extra dimension.
    pub(crate) arbitrary: Vec<(&'static str, i32)>,
}

/// What an atom stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AtomValue {
    Ratio(Reduced),
    Special(Special),
}

/// A special (non-ratio) unit: `function` maps a value to one of `step`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Special {
    pub(crate) function: &'static str,
    pub(crate) step: Reduced,
}

impl Reduced {
    pub(crate) fn one() -> Reduced {
        Reduced {
            magnitude: Magnitude::ONE,
            dims: [0; 7],
            arbitrary: Vec::new(),
        }
    }

    pub(crate) fn scaled(mut self, by: Magnitude) -> Option<Reduced> {
        self.magnitude = self.magnitude.mul(by)?;
        Some(self)
    }

    pub(crate) fn with_arbitrary(mut self, code: &'static str) -> Reduced {
        self.arbitrary = vec![(code, 1)];
        self
    }

    pub(crate) fn is_commensurable(&self, other: &Reduced) -> bool {
        self.dims == other.dims && self.arbitrary == other.arbitrary
    }

    /// `self × other^exponent`; `None` on overflow.
    fn times(mut self, other: &Reduced, exponent: i32) -> Option<Reduced> {
        self.magnitude = self.magnitude.mul(other.magnitude.powi(exponent)?)?;
        for (dim, add) in self.dims.iter_mut().zip(other.dims) {
            *dim = dim.checked_add(add.checked_mul(exponent)?)?;
        }
        for &(code, exp) in &other.arbitrary {
            let exp = exp.checked_mul(exponent)?;
            match self.arbitrary.binary_search_by_key(&code, |(c, _)| c) {
                Ok(i) => self.arbitrary[i].1 = self.arbitrary[i].1.checked_add(exp)?,
                Err(i) => self.arbitrary.insert(i, (code, exp)),
            }
        }
        self.arbitrary.retain(|(_, exp)| *exp != 0);
        Some(self)
    }

    /// The unit as UCUM text: base units in `BASE_SYMBOLS` order, then
    /// arbitrary units by code; `1` when there are none.
    pub(crate) fn unit_text(&self) -> String {
        let base = BASE_SYMBOLS.iter().copied().zip(self.dims);
        let parts: Vec<String> = base
            .chain(self.arbitrary.iter().copied())
            .filter(|(_, exp)| *exp != 0)
            .map(|(symbol, exp)| {
                if exp == 1 {
                    symbol.to_owned()
                } else {
                    format!("{symbol}{exp}")
                }
            })
            .collect();
        if parts.is_empty() {
            "1".to_owned()
        } else {
            parts.join(".")
        }
    }
}

/// Reduces a term whose atoms are all ratio units; `text` names the whole
/// expression in errors. `atom` gives each atom's value.
pub(crate) fn reduce(
    term: &Term,
    text: &str,
    atom: &mut dyn FnMut(&'static str) -> Result<AtomValue, UcumError>,
) -> Result<Reduced, UcumError> {
    let mut acc = Reduced::one();
    for item in &term.items {
        let component = component(&item.component, text, atom)?;
        let sign = if item.divide { -1 } else { 1 };
        acc = acc.times(&component, sign).ok_or_else(|| out_of_range(text))?;
    }
    Ok(acc)
}

fn component(
    component: &Component,
    text: &str,
    atom: &mut dyn FnMut(&'static str) -> Result<AtomValue, UcumError>,
) -> Result<Reduced, UcumError> {
    match component {
        Component::Annotation => Ok(Reduced::one()),
        Component::Factor(value) => Ok(Reduced::one().scaled(*value).ok_or_else(|| out_of_range(text))?),
        Component::Group(term) => reduce(term, text, atom),
        Component::Unit { symbol, exponent } => {
            let value = match atom(symbol.atom)? {
                AtomValue::Ratio(value) => value,
                AtomValue::Special(_) => {
                    return Err(UcumError::SpecialUnit {
                        unit: text.to_owned(),
                        reason: "a special unit cannot be combined with other units or raised to a power",
                    })
                }
            };
            let prefixed = match symbol.prefix {
                Some(prefix) => value.scaled(prefix).ok_or_else(|| out_of_range(text))?,
                None => value,
            };
            Reduced::one()
                .times(&prefixed, *exponent)
                .ok_or_else(|| out_of_range(text))
        }
    }
}

fn out_of_range(text: &str) -> UcumError {
    UcumError::OutOfRange { unit: text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_text_orders_base_units_then_arbitrary_ones() {
        let mut r = Reduced::one();
        assert_eq!(r.unit_text(), "1");
        r.dims = [1, -2, 1, 0, 0, 0, 0];
        assert_eq!(r.unit_text(), "m.s-2.g");
        r.arbitrary = vec![("[iU]", 1)];
        assert_eq!(r.unit_text(), "m.s-2.g.[iU]");
    }

    #[test]
    fn arbitrary_exponents_add_up_and_cancel() {
        let iu = Reduced::one().with_arbitrary("[iU]");
        let squared = Reduced::one().times(&iu, 2).unwrap();
        assert_eq!(squared.arbitrary, vec![("[iU]", 2)]);
        let cancelled = squared.times(&iu, -2).unwrap();
        assert!(cancelled.arbitrary.is_empty());
    }

    #[test]
    fn dimension_overflow_is_none() {
        let mut metre = Reduced::one();
        metre.dims[0] = 1;
        assert!(Reduced::one().times(&metre, i32::MAX).is_some());
        let big = Reduced::one().times(&metre, i32::MAX).unwrap();
        assert!(big.times(&metre, 1).is_none());
    }
}
