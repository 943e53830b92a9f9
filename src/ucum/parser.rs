//! The UCUM case-sensitive grammar, to a syntax tree of resolved symbols.
//!
//! ```text
//! main-term  := "/" term | term
//! term       := component (("." | "/") component)*        left-associative
//! component  := simple-unit exponent? annotation?
//!             | factor annotation? | annotation | "(" term ")"
//! simple-unit:= atom | prefix metric-atom                  ("10*", "10^" are atoms)
//! exponent   := ("+" | "-")? digits
//! factor     := digits                                     a positive integer
//! annotation := "{" ASCII 33-126 except braces "}"          counts as 1
//! ```
//!
//! Positions in errors are byte offsets into the expression.

use super::magnitude::Magnitude;
use super::table::{Symbol, SymbolError, Table};
use super::UcumError;

/// Parentheses nest at most this deep: a bound on the recursion, so hostile
/// input cannot overflow the stack.
const MAX_DEPTH: usize = 32;
/// Exponents have at most this many digits (fits an i32).
const MAX_EXPONENT_DIGITS: usize = 9;
/// A factor has at most this many digits (what a Decimal holds exactly).
const MAX_FACTOR_DIGITS: usize = 28;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    pub(crate) items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// Whether the component divides (`/`) rather than multiplies (`.`).
    pub(crate) divide: bool,
    pub(crate) component: Component,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Component {
    Unit {
        symbol: Symbol,
        exponent: i32,
    },
    Factor(Magnitude),
    /// An annotation alone (`{score}`): the unity.
    Annotation,
    Group(Term),
}

pub(crate) fn parse(text: &str, table: &Table) -> Result<Term, UcumError> {
    if text.is_empty() {
        return Err(syntax("empty unit expression", 0));
    }
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        table,
    };
    let divide = parser.eat(b'/');
    let term = parser.term(divide)?;
    match parser.peek() {
        None => Ok(term),
        Some(_) => Err(parser.unexpected("'.', '/' or the end")),
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    table: &'a Table,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn term(&mut self, first_divides: bool) -> Result<Term, UcumError> {
        let mut items = vec![Item {
            divide: first_divides,
            component: self.component()?,
        }];
        loop {
            let divide = match self.peek() {
                Some(b'.') => false,
                Some(b'/') => true,
                _ => return Ok(Term { items }),
            };
            self.pos += 1;
            items.push(Item {
                divide,
                component: self.component()?,
            });
        }
    }

    fn component(&mut self) -> Result<Component, UcumError> {
        match self.peek() {
            Some(b'(') => self.group(),
            Some(b'{') => self.annotation().map(|()| Component::Annotation),
            Some(_) if self.at_ten_power() => self.unit(3),
            Some(c) if c.is_ascii_digit() => self.factor(),
            Some(c) if c == b'[' || is_symbol_char(c) => {
                let end = self.symbol_end()?;
                self.unit(end - self.pos)
            }
            _ => Err(self.unexpected("a unit, a number, '{' or '('")),
        }
    }

    fn group(&mut self) -> Result<Component, UcumError> {
        if self.depth >= MAX_DEPTH {
            return Err(syntax("parentheses nested too deeply", self.pos));
        }
        self.pos += 1;
        self.depth += 1;
        let term = self.term(false)?;
        self.depth -= 1;
        if !self.eat(b')') {
            return Err(self.unexpected("')'"));
        }
        Ok(Component::Group(term))
    }

    /// `10*` and `10^` are atoms although they start like a number.
    fn at_ten_power(&self) -> bool {
        let rest = &self.bytes[self.pos..];
        rest.starts_with(b"10*") || rest.starts_with(b"10^")
    }

    /// The end of a symbol: its characters, with `[...]` parts taken whole
    /// (`[in_i]`, `mm[Hg]`, `[m/s2/Hz^(1/2)]` may hold digits and operators).
    fn symbol_end(&self) -> Result<usize, UcumError> {
        let mut i = self.pos;
        loop {
            match self.bytes.get(i) {
                Some(b'[') => {
                    let close = self.bytes[i + 1..]
                        .iter()
                        .position(|&c| c == b']' || c == b'[' || !c.is_ascii_graphic())
                        .map(|offset| i + 1 + offset);
                    match close {
                        Some(j) if self.bytes[j] == b']' => i = j + 1,
                        _ => return Err(syntax("unterminated '['", i)),
                    }
                }
                Some(&c) if is_symbol_char(c) => i += 1,
                _ => return Ok(i),
            }
        }
    }

    fn unit(&mut self, len: usize) -> Result<Component, UcumError> {
        let start = self.pos;
        let text = &self.text[start..start + len];
        let symbol = self.table.symbol(text).map_err(|e| match e {
            SymbolError::Unknown => UcumError::UnknownUnit {
                unit: text.to_owned(),
                position: start,
            },
            SymbolError::PrefixOnNonMetric { prefix, atom } => syntax(
                &format!("prefix '{prefix}' cannot be applied to '{atom}', which is not a metric unit"),
                start,
            ),
        })?;
        self.pos += len;
        let exponent = self.exponent()?;
        self.optional_annotation()?;
        Ok(Component::Unit { symbol, exponent })
    }

    fn exponent(&mut self) -> Result<i32, UcumError> {
        let negative = match self.peek() {
            Some(b'+') => false,
            Some(b'-') => true,
            Some(c) if c.is_ascii_digit() => false,
            _ => return Ok(1),
        };
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.digits();
        if digits.is_empty() {
            return Err(self.unexpected("the digits of an exponent"));
        }
        if digits.len() > MAX_EXPONENT_DIGITS {
            return Err(syntax("exponent too large", start));
        }
        let value: i32 = digits.parse().map_err(|_| syntax("bad exponent", start))?;
        Ok(if negative { -value } else { value })
    }

    fn factor(&mut self) -> Result<Component, UcumError> {
        let start = self.pos;
        let digits = self.digits().trim_start_matches('0');
        if digits.is_empty() {
            return Err(syntax("a factor must be a positive integer", start));
        }
        if digits.len() > MAX_FACTOR_DIGITS {
            return Err(syntax("factor has too many digits", start));
        }
        let value = Magnitude::parse(digits).ok_or_else(|| syntax("bad factor", start))?;
        self.optional_annotation()?;
        Ok(Component::Factor(value))
    }

    fn digits(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn optional_annotation(&mut self) -> Result<(), UcumError> {
        if self.peek() == Some(b'{') {
            self.annotation()?;
        }
        Ok(())
    }

    /// Skips `{...}`. UCUM allows printable ASCII but no braces inside; an
    /// empty `{}` is accepted as it occurs in the wild and means nothing.
    fn annotation(&mut self) -> Result<(), UcumError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(c) if c.is_ascii_graphic() && c != b'{' => self.pos += 1,
                Some(_) => return Err(self.unexpected("printable ASCII or '}' in an annotation")),
                None => return Err(syntax("unterminated '{'", start)),
            }
        }
    }

    fn unexpected(&self, expected: &str) -> UcumError {
        match self.text.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(found) => syntax(&format!("expected {expected}, found '{found}'"), self.pos),
            None => syntax(&format!("expected {expected} at the end"), self.pos),
        }
    }
}

/// Characters of a symbol outside square brackets: printable ASCII except
/// digits (they start an exponent), signs, operators, brackets and braces.
fn is_symbol_char(c: u8) -> bool {
    c.is_ascii_graphic() && !c.is_ascii_digit() && !b".()/{}[]+-".contains(&c)
}

fn syntax(message: &str, position: usize) -> UcumError {
    UcumError::Syntax {
        message: message.to_owned(),
        position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ucum::table::units;

    fn parse_ok(text: &str) -> Term {
        parse(text, &units().unwrap().table).unwrap()
    }

    fn parse_err(text: &str) -> UcumError {
        parse(text, &units().unwrap().table).unwrap_err()
    }

    fn position(error: &UcumError) -> usize {
        match error {
            UcumError::Syntax { position, .. } | UcumError::UnknownUnit { position, .. } => *position,
            other => panic!("no position in {other:?}"),
        }
    }

    fn unit(atom: &'static str, prefix: Option<&str>, exponent: i32) -> Component {
        let prefix = prefix.map(|p| Magnitude::parse(p).unwrap());
        Component::Unit {
            symbol: Symbol { prefix, atom },
            exponent,
        }
    }

    #[test]
    fn division_is_left_associative_and_may_lead() {
        let term = parse_ok("/kg.m/s2");
        let shape: Vec<_> = term.items.iter().map(|i| (i.divide, i.component.clone())).collect();
        assert_eq!(
            shape,
            vec![
                (true, unit("g", Some("1e3"), 1)),
                (false, unit("m", None, 1)),
                (true, unit("s", None, 2))
            ]
        );
    }

    #[test]
    fn exponents_factors_and_ten_powers() {
        assert_eq!(parse_ok("cm3").items[0].component, unit("m", Some("1e-2"), 3));
        assert_eq!(parse_ok("s-1").items[0].component, unit("s", None, -1));
        assert_eq!(parse_ok("m+2").items[0].component, unit("m", None, 2));
        assert_eq!(parse_ok("10*3").items[0].component, unit("10*", None, 3));
        assert_eq!(parse_ok("10^-3").items[0].component, unit("10^", None, -3));
        assert_eq!(
            parse_ok("1000").items[0].component,
            Component::Factor(Magnitude::parse("1000").unwrap())
        );
    }

    #[test]
    fn groups_and_annotations() {
        let term = parse_ok("mL/(12.h{total})");
        assert!(matches!(&term.items[1].component, Component::Group(inner) if inner.items.len() == 2));
        assert_eq!(parse_ok("{score}").items[0].component, Component::Annotation);
        assert_eq!(parse_ok("kg{body_wt}").items[0].component, unit("g", Some("1e3"), 1));
        assert_eq!(parse_ok("1{c}").items.len(), 1);
        assert_eq!(parse_ok("{a}.rad2{b}").items.len(), 2);
    }

    #[test]
    fn bracketed_atoms_take_their_brackets_whole() {
        assert_eq!(parse_ok("[in_i]2").items[0].component, unit("[in_i]", None, 2));
        assert_eq!(parse_ok("mm[Hg]").items[0].component, unit("m[Hg]", Some("1e-3"), 1));
        assert_eq!(
            parse_ok("[m/s2/Hz^(1/2)]").items[0].component,
            unit("[m/s2/Hz^(1/2)]", None, 1)
        );
        assert_eq!(parse_ok("B[10.nV]").items[0].component, unit("B[10.nV]", None, 1));
        assert_eq!(parse_ok("%[slope]").items[0].component, unit("%[slope]", None, 1));
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(position(&parse_err("")), 0);
        assert_eq!(position(&parse_err("m/")), 2);
        assert_eq!(position(&parse_err("g/12h")), 4);
        assert_eq!(position(&parse_err("10+3/ul")), 2);
        assert_eq!(position(&parse_err("mg/dL)")), 5);
        assert_eq!(position(&parse_err("(mg")), 3);
        assert_eq!(position(&parse_err("m s")), 1);
        assert_eq!(position(&parse_err("{a}rad2{b}")), 3);
        assert_eq!(position(&parse_err("{|}1")), 3);
        assert_eq!(position(&parse_err("rad2{錠}")), 5);
        assert_eq!(position(&parse_err("kg{abc")), 2);
        assert_eq!(position(&parse_err("m[H2O")), 1);
        assert_eq!(position(&parse_err("m-")), 2);
        assert_eq!(position(&parse_err("0.m")), 0);
        assert_eq!(position(&parse_err("m2000000000000")), 1);
    }

    #[test]
    fn unknown_units_and_misplaced_prefixes() {
        assert_eq!(
            parse_err("mg/xyz"),
            UcumError::UnknownUnit {
                unit: "xyz".into(),
                position: 3
            }
        );
        assert_eq!(
            parse_err("iU"),
            UcumError::UnknownUnit {
                unit: "iU".into(),
                position: 0
            }
        );
        assert_eq!(
            parse_err("[iIU]"),
            UcumError::UnknownUnit {
                unit: "[iIU]".into(),
                position: 0
            }
        );
        let err = parse_err("g/k[lb_av]");
        assert_eq!(position(&err), 2);
        assert!(err.to_string().contains("not a metric unit"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}m{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse_err(&deep), UcumError::Syntax { position: 32, .. }));
        let ok = format!("{}m{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse_ok(&ok).items.len(), 1);
    }
}
