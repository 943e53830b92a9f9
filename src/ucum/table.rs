//! The UCUM prefixes and atoms, from `conformance/ucum-units.tsv` (built by
//! `scripts/build-ucum.py` from the official UCUM essence), and every atom's
//! definition reduced to base units, computed once on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::magnitude::Magnitude;
use super::parser;
use super::reduce::{self, AtomValue, Reduced, Special};
use super::UcumError;

const TSV: &str = include_str!("../../conformance/ucum-units.tsv");
/// Base units by the essence's dimension letter, in `Canonical::dimensions` order.
const DIMENSION_LETTERS: [&str; 7] = ["L", "T", "M", "A", "C", "Q", "F"];

/// What the parser needs to know: which symbols exist and which take prefixes.
pub(crate) struct Table {
    /// Longest code first, so `da` is tried before `d`.
    prefixes: Vec<Prefix>,
    atoms: HashMap<&'static str, Atom>,
}

struct Prefix {
    code: &'static str,
    value: Magnitude,
}

pub(crate) struct Atom {
    code: &'static str,
    metric: bool,
    kind: Kind,
    /// The value of the definition (`value × unit`).
    value: Magnitude,
    /// The defining UCUM expression; for special units, of the function's argument.
    unit: &'static str,
    /// The function name of a special unit, the dimension letter of a base unit.
    function: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Base,
    Ratio,
    Arbitrary,
    Special,
}

/// A symbol as written: an atom, possibly behind a prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Symbol {
    pub(crate) prefix: Option<Magnitude>,
    pub(crate) atom: &'static str,
}

/// Why a symbol did not resolve; the parser adds the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SymbolError {
    Unknown,
    PrefixOnNonMetric { prefix: &'static str, atom: &'static str },
}

/// The table and every atom reduced to base units.
pub(crate) struct Units {
    pub(crate) table: Table,
    values: HashMap<&'static str, AtomValue>,
}

impl Units {
    pub(crate) fn value(&self, atom: &str) -> Result<AtomValue, UcumError> {
        self.values.get(atom).cloned().ok_or_else(|| UcumError::Table {
            message: format!("atom '{atom}' has no value"),
        })
    }
}

/// The table, loaded and resolved on first use. An error here means the
/// embedded TSV is broken; the unit tests load it, so it cannot ship broken.
pub(crate) fn units() -> Result<&'static Units, UcumError> {
    static UNITS: OnceLock<Result<Units, UcumError>> = OnceLock::new();
    UNITS.get_or_init(|| load(TSV)).as_ref().map_err(Clone::clone)
}

fn load(tsv: &'static str) -> Result<Units, UcumError> {
    let table = Table::parse(tsv)?;
    let mut resolver = Resolver {
        table: &table,
        values: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut codes: Vec<&'static str> = table.atoms.keys().copied().collect();
    // Sorted so a broken table reports the same atom every time.
    codes.sort_unstable();
    for code in codes {
        resolver.resolve(code)?;
    }
    let values = resolver.values;
    Ok(Units { table, values })
}

impl Table {
    fn parse(tsv: &'static str) -> Result<Table, UcumError> {
        let mut prefixes = Vec::new();
        let mut atoms = HashMap::new();
        for (index, line) in tsv.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&'static str> = line.split('\t').collect();
            let [kind, code, metric, value, unit, function] = fields[..] else {
                return Err(table_error(index, "expected 6 tab-separated fields"));
            };
            let value = Magnitude::parse(value).ok_or_else(|| table_error(index, "bad value"))?;
            let kind = match kind {
                "prefix" => {
                    prefixes.push(Prefix { code, value });
                    continue;
                }
                "base" => Kind::Base,
                "ratio" => Kind::Ratio,
                "arbitrary" => Kind::Arbitrary,
                "special" => Kind::Special,
                _ => return Err(table_error(index, "unknown kind")),
            };
            let atom = Atom {
                code,
                metric: metric == "y",
                kind,
                value,
                unit,
                function,
            };
            if atoms.insert(code, atom).is_some() {
                return Err(table_error(index, "duplicate code"));
            }
        }
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.code.len()));
        Ok(Table { prefixes, atoms })
    }

    /// Resolves a symbol: a whole atom first (`Pa` is pascal, not peta-year),
    /// then a prefix followed by a metric atom.
    pub(crate) fn symbol(&self, text: &str) -> Result<Symbol, SymbolError> {
        if let Some(atom) = self.atoms.get(text) {
            return Ok(Symbol {
                prefix: None,
                atom: atom.code,
            });
        }
        let mut refused = None;
        for prefix in &self.prefixes {
            let Some(atom) = text.strip_prefix(prefix.code).and_then(|rest| self.atoms.get(rest)) else {
                continue;
            };
            if atom.metric {
                return Ok(Symbol {
                    prefix: Some(prefix.value),
                    atom: atom.code,
                });
            }
            refused.get_or_insert(SymbolError::PrefixOnNonMetric {
                prefix: prefix.code,
                atom: atom.code,
            });
        }
        Err(refused.unwrap_or(SymbolError::Unknown))
    }

    #[cfg(test)]
    pub(crate) fn atom_codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.atoms.keys().copied()
    }

    #[cfg(test)]
    pub(crate) fn prefix_codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.prefixes.iter().map(|p| p.code)
    }
}

fn table_error(index: usize, message: &str) -> UcumError {
    UcumError::Table {
        message: format!("line {}: {message}", index + 1),
    }
}

/// Reduces atoms through their definitions, each once, refusing cycles.
struct Resolver<'t> {
    table: &'t Table,
    values: HashMap<&'static str, AtomValue>,
    visiting: Vec<&'static str>,
}

impl Resolver<'_> {
    fn resolve(&mut self, code: &'static str) -> Result<AtomValue, UcumError> {
        if let Some(value) = self.values.get(code) {
            return Ok(value.clone());
        }
        if self.visiting.contains(&code) {
            return Err(UcumError::Table {
                message: format!("definition cycle through '{code}'"),
            });
        }
        let table = self.table;
        let atom = table.atoms.get(code).ok_or_else(|| UcumError::Table {
            message: format!("unknown atom '{code}'"),
        })?;
        self.visiting.push(code);
        let value = self.define(atom);
        self.visiting.pop();
        let value = value.map_err(|e| UcumError::Table {
            message: format!("definition of '{code}': {e}"),
        })?;
        self.values.insert(code, value.clone());
        Ok(value)
    }

    fn define(&mut self, atom: &Atom) -> Result<AtomValue, UcumError> {
        if atom.kind == Kind::Base {
            return base_unit(atom).map(AtomValue::Ratio);
        }
        let term = parser::parse(atom.unit, self.table)?;
        let unit = reduce::reduce(&term, atom.unit, &mut |code| self.resolve(code))?;
        let scaled = unit.scaled(atom.value).ok_or_else(|| UcumError::OutOfRange {
            unit: atom.unit.to_owned(),
        })?;
        Ok(match atom.kind {
            Kind::Special => AtomValue::Special(Special {
                function: atom.function,
                step: scaled,
            }),
            // An arbitrary unit defined as a plain number is a dimension of its
            // own; one defined from another ([IU] from [iU]) shares that one's.
            Kind::Arbitrary if scaled.arbitrary.is_empty() => AtomValue::Ratio(scaled.with_arbitrary(atom.code)),
            _ => AtomValue::Ratio(scaled),
        })
    }
}

fn base_unit(atom: &Atom) -> Result<Reduced, UcumError> {
    let index = DIMENSION_LETTERS
        .iter()
        .position(|l| *l == atom.function)
        .ok_or_else(|| UcumError::Table {
            message: format!("base unit '{}' has unknown dimension '{}'", atom.code, atom.function),
        })?;
    let mut dims = [0; 7];
    dims[index] = 1;
    Ok(Reduced {
        magnitude: Magnitude::ONE,
        dims,
        arbitrary: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_atom_of_the_table_resolves() {
        let units = units().unwrap();
        let codes: Vec<_> = units.table.atom_codes().collect();
        // 307 atoms of UCUM 1.9 and the 4 added since.
        assert_eq!(codes.len(), 311);
        for code in codes {
            assert!(units.value(code).is_ok(), "{code}");
        }
        assert_eq!(units.table.prefix_codes().count(), 24);
    }

    #[test]
    fn whole_atoms_win_over_prefixed_readings() {
        let table = &units().unwrap().table;
        for code in ["Pa", "cd", "min", "mo", "Gy", "kat", "mho", "Ao", "Bq"] {
            assert_eq!(table.symbol(code).map(|s| s.prefix), Ok(None), "{code}");
        }
        let dam = table.symbol("dam").unwrap();
        assert_eq!((dam.atom, dam.prefix), ("m", Magnitude::parse("10")));
        let kibyte = table.symbol("KiBy").unwrap();
        assert_eq!((kibyte.atom, kibyte.prefix), ("By", Magnitude::parse("1024")));
    }

    #[test]
    fn prefixes_only_on_metric_atoms() {
        let table = &units().unwrap().table;
        assert_eq!(
            table.symbol("k[in_i]"),
            Err(SymbolError::PrefixOnNonMetric {
                prefix: "k",
                atom: "[in_i]"
            })
        );
        assert_eq!(table.symbol("ug").map(|s| s.atom), Ok("g"));
        assert_eq!(table.symbol("m[iU]").map(|s| s.atom), Ok("[iU]"));
        assert_eq!(table.symbol("xyz"), Err(SymbolError::Unknown));
        assert_eq!(table.symbol("Ki"), Err(SymbolError::Unknown));
    }

    #[test]
    fn cycles_and_bad_lines_are_table_errors() {
        let cyclic = "ratio\ta\ty\t1\tb\t-\nratio\tb\ty\t1\ta\t-\n";
        assert!(matches!(load(cyclic), Err(UcumError::Table { message }) if message.contains("cycle")));
        assert!(matches!(load("ratio\ta\n"), Err(UcumError::Table { .. })));
        assert!(matches!(load("ratio\ta\ty\t1\tzz\t-\n"), Err(UcumError::Table { .. })));
        assert!(matches!(load("base\tm\ty\t1\t-\tX\n"), Err(UcumError::Table { .. })));
    }
}
