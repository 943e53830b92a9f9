//! Precedence-climbing (Pratt) parser over the lexer's tokens.
//!
//! Binding powers follow the spec's precedence table
//! (<https://hl7.org/fhirpath/N1/#operator-precedence>); every binary operator
//! is left-associative.

use super::ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpecifier, UnaryOp, Unit};
use super::lexer::{Token, TokenKind};
use super::ParseError;

/// Deeper nesting is rejected rather than risking a stack overflow on hostile input.
const MAX_DEPTH: usize = 200;

const CALENDAR_UNITS: [&str; 16] = [
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
];

/// Operator keywords that can never start a term (unlike `in`, `is`, `as`
/// and `contains`, which the grammar also allows as names).
const RESERVED: [&str; 6] = ["and", "or", "xor", "implies", "div", "mod"];

pub(super) fn parse(tokens: Vec<Token>) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.expression(0)?;
    match parser.peek() {
        TokenKind::Eof => Ok(expr),
        _ => parser.unexpected("an operator or end of expression"),
    }
}

/// What an infix token does once its left operand is parsed.
enum Infix {
    Binary(BinaryOp),
    Type(TypeOp),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &TokenKind {
        // The lexer always ends with Eof, and `advance` never moves past it.
        self.tokens.get(self.pos).map_or(&TokenKind::Eof, |t| &t.kind)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or(0, |t| t.pos)
    }

    fn advance(&mut self) -> TokenKind {
        let kind = self.peek().clone();
        if kind != TokenKind::Eof {
            self.pos += 1;
        }
        kind
    }

    fn at_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), TokenKind::Symbol(s) if *s == symbol)
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), ParseError> {
        if self.at_symbol(symbol) {
            self.advance();
            Ok(())
        } else {
            self.unexpected(&format!("'{symbol}'"))
        }
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, ParseError> {
        let found = describe(self.peek());
        Err(ParseError::new(
            format!("expected {expected}, found {found}"),
            self.position(),
        ))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new("expression nested too deeply", self.position()));
        }
        Ok(())
    }

    /// Parses operators binding tighter than `min_power`.
    fn expression(&mut self, min_power: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.prefix()?;
        while let Some((infix, power)) = self.infix() {
            // `<=` makes equal powers stop here, which is left associativity.
            if power <= min_power {
                break;
            }
            self.advance();
            left = match infix {
                Infix::Binary(op) => Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(self.expression(power)?),
                },
                Infix::Type(op) => Expr::TypeOp {
                    op,
                    operand: Box::new(left),
                    type_name: self.type_specifier()?,
                },
            };
        }
        self.depth -= 1;
        Ok(left)
    }

    /// The infix operator at the cursor and its binding power, if any.
    fn infix(&self) -> Option<(Infix, u8)> {
        use BinaryOp::*;
        let binary = |op, power| Some((Infix::Binary(op), power));
        match self.peek() {
            TokenKind::Symbol(s) => match *s {
                "*" => binary(Mul, 10),
                "/" => binary(Div, 10),
                "+" => binary(Add, 9),
                "-" => binary(Sub, 9),
                "&" => binary(Concat, 9),
                "|" => binary(Union, 7),
                "<" => binary(Lt, 6),
                ">" => binary(Gt, 6),
                "<=" => binary(Le, 6),
                ">=" => binary(Ge, 6),
                "=" => binary(Eq, 5),
                "~" => binary(Equiv, 5),
                "!=" => binary(NotEq, 5),
                "!~" => binary(NotEquiv, 5),
                _ => None,
            },
            TokenKind::Ident(word) => match word.as_str() {
                "div" => binary(IntDiv, 10),
                "mod" => binary(Mod, 10),
                "is" => Some((Infix::Type(TypeOp::Is), 8)),
                "as" => Some((Infix::Type(TypeOp::As), 8)),
                "in" => binary(In, 4),
                "contains" => binary(Contains, 4),
                "and" => binary(And, 3),
                "or" => binary(Or, 2),
                "xor" => binary(Xor, 2),
                "implies" => binary(Implies, 1),
                _ => None,
            },
            _ => None,
        }
    }

    /// Unary `+`/`-` (binding tighter than `*`, looser than `.` and `[]`), or a path.
    fn prefix(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let op = match self.peek() {
            TokenKind::Symbol("+") => Some(UnaryOp::Plus),
            TokenKind::Symbol("-") => Some(UnaryOp::Minus),
            _ => None,
        };
        let expr = match op {
            Some(op) => {
                self.advance();
                let operand = Box::new(self.prefix()?);
                Expr::Unary { op, operand }
            }
            None => {
                let term = self.term()?;
                self.postfix(term)?
            }
        };
        self.depth -= 1;
        Ok(expr)
    }

    /// Applies any `.member`, `.function(args)` and `[index]` after a term.
    fn postfix(&mut self, mut expr: Expr) -> Result<Expr, ParseError> {
        loop {
            if self.at_symbol(".") {
                self.advance();
                let name = self.name()?;
                expr = self.invocation(Some(expr), name)?;
            } else if self.at_symbol("[") {
                self.advance();
                let index = self.expression(0)?;
                self.expect_symbol("]")?;
                expr = Expr::Indexer {
                    target: Box::new(expr),
                    index: Box::new(index),
                };
            } else {
                return Ok(expr);
            }
        }
    }

    /// `name` or `name(args)`, on `target` when there is one.
    fn invocation(&mut self, target: Option<Expr>, name: String) -> Result<Expr, ParseError> {
        // The name was the previous token.
        let position = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.pos);
        if !self.at_symbol("(") {
            return Ok(match target {
                Some(target) => Expr::Member {
                    target: Box::new(target),
                    name,
                },
                None => Expr::Identifier(name),
            });
        }
        self.advance();
        let mut args = Vec::new();
        if !self.at_symbol(")") {
            args.push(self.expression(0)?);
            while self.at_symbol(",") {
                self.advance();
                args.push(self.expression(0)?);
            }
        }
        self.expect_symbol(")")?;
        Ok(Expr::Function {
            target: target.map(Box::new),
            name,
            args,
            position,
        })
    }

    /// A member or function name: any word (so `.contains()`, `.is()` work) or a
    /// delimited identifier.
    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            TokenKind::Ident(name) | TokenKind::Delimited(name) => {
                let name = name.clone();
                self.advance();
                Ok(name)
            }
            _ => self.unexpected("a name"),
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let (before, start) = (self.pos, self.position());
        match self.advance() {
            TokenKind::Number(value) => Ok(self.number_or_quantity(value)),
            TokenKind::String(s) => Ok(Expr::Literal(Literal::String(s))),
            TokenKind::Date(s) => Ok(Expr::Literal(Literal::Date(s))),
            TokenKind::DateTime(s) => Ok(Expr::Literal(Literal::DateTime(s))),
            TokenKind::Time(s) => Ok(Expr::Literal(Literal::Time(s))),
            TokenKind::Symbol("{") => {
                self.expect_symbol("}")?;
                Ok(Expr::Literal(Literal::Null))
            }
            TokenKind::Symbol("(") => {
                let inner = self.expression(0)?;
                self.expect_symbol(")")?;
                Ok(inner)
            }
            TokenKind::Symbol("%") => self.external_constant(),
            TokenKind::Dollar(name) => match name.as_str() {
                "this" => Ok(Expr::This),
                "index" => Ok(Expr::Index),
                "total" => Ok(Expr::Total),
                _ => Err(ParseError::new(format!("unknown variable ${name}"), start)),
            },
            TokenKind::Ident(word) => match word.as_str() {
                "true" => Ok(Expr::Literal(Literal::Boolean(true))),
                "false" => Ok(Expr::Literal(Literal::Boolean(false))),
                w if RESERVED.contains(&w) => {
                    Err(ParseError::new(format!("expected an expression, found '{w}'"), start))
                }
                _ => self.invocation(None, word),
            },
            TokenKind::Delimited(name) => self.invocation(None, name),
            _ => {
                self.pos = before;
                self.unexpected("an expression")
            }
        }
    }

    /// A number, or a quantity when a unit string or calendar keyword follows.
    fn number_or_quantity(&mut self, value: String) -> Expr {
        let unit = match self.peek() {
            TokenKind::String(unit) => Some(Unit::Ucum(unit.clone())),
            TokenKind::Ident(word) if CALENDAR_UNITS.contains(&word.as_str()) => Some(Unit::Calendar(word.clone())),
            _ => None,
        };
        match unit {
            Some(unit) => {
                self.advance();
                Expr::Literal(Literal::Quantity { value, unit })
            }
            None if value.contains('.') => Expr::Literal(Literal::Decimal(value)),
            None => Expr::Literal(Literal::Integer(value)),
        }
    }

    /// After `%`: a name, a delimited name or a string.
    fn external_constant(&mut self) -> Result<Expr, ParseError> {
        let before = self.pos;
        match self.advance() {
            TokenKind::Ident(name) | TokenKind::Delimited(name) | TokenKind::String(name) => Ok(Expr::External(name)),
            _ => {
                self.pos = before;
                self.unexpected("a constant name after '%'")
            }
        }
    }

    /// `Name` or `Namespace.Name` after `is` / `as`.
    fn type_specifier(&mut self) -> Result<TypeSpecifier, ParseError> {
        let first = self.name()?;
        if !self.at_symbol(".") {
            return Ok(TypeSpecifier {
                namespace: None,
                name: first,
            });
        }
        self.advance();
        let name = self.name()?;
        Ok(TypeSpecifier {
            namespace: Some(first),
            name,
        })
    }
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Ident(s) => format!("'{s}'"),
        TokenKind::Delimited(s) => format!("`{s}`"),
        TokenKind::String(_) => "a string".into(),
        TokenKind::Number(s) => format!("number {s}"),
        TokenKind::Date(_) | TokenKind::DateTime(_) | TokenKind::Time(_) => "a date/time literal".into(),
        TokenKind::Dollar(s) => format!("'${s}'"),
        TokenKind::Symbol(s) => format!("'{s}'"),
        TokenKind::Eof => "end of expression".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn ident(name: &str) -> Box<Expr> {
        Box::new(Expr::Identifier(name.into()))
    }

    fn int(text: &str) -> Box<Expr> {
        Box::new(Expr::Literal(Literal::Integer(text.into())))
    }

    fn binary(op: BinaryOp, left: Box<Expr>, right: Box<Expr>) -> Box<Expr> {
        Box::new(Expr::Binary { op, left, right })
    }

    #[test]
    fn multiplication_binds_tighter_than_addition() {
        let expected = binary(BinaryOp::Add, int("1"), binary(BinaryOp::Mul, int("2"), int("3")));
        assert_eq!(parse("1 + 2 * 3").unwrap(), *expected);
    }

    #[test]
    fn binary_operators_are_left_associative() {
        let expected = binary(BinaryOp::Sub, binary(BinaryOp::Sub, int("1"), int("2")), int("3"));
        assert_eq!(parse("1 - 2 - 3").unwrap(), *expected);
    }

    #[test]
    fn implies_is_loosest_and_and_binds_tighter_than_or() {
        let expected = binary(
            BinaryOp::Implies,
            binary(BinaryOp::Or, ident("a"), binary(BinaryOp::And, ident("b"), ident("c"))),
            ident("d"),
        );
        assert_eq!(parse("a or b and c implies d").unwrap(), *expected);
    }

    #[test]
    fn unary_minus_binds_looser_than_member_access() {
        let Expr::Unary { op, operand } = parse("-1.abs()").unwrap() else {
            panic!("expected unary");
        };
        assert_eq!(op, UnaryOp::Minus);
        assert!(matches!(*operand, Expr::Function { ref name, .. } if name == "abs"));
    }

    #[test]
    fn is_takes_a_qualified_type_and_binds_tighter_than_union() {
        let Expr::Binary { op, left, .. } = parse("a is FHIR.Patient | b").unwrap() else {
            panic!("expected binary");
        };
        assert_eq!(op, BinaryOp::Union);
        assert_eq!(
            *left,
            Expr::TypeOp {
                op: TypeOp::Is,
                operand: ident("a"),
                type_name: TypeSpecifier {
                    namespace: Some("FHIR".into()),
                    name: "Patient".into()
                },
            }
        );
    }

    #[test]
    fn keywords_are_allowed_as_function_names() {
        let Expr::Function { name, target, args, .. } = parse("name.contains('x')").unwrap() else {
            panic!("expected function");
        };
        assert_eq!(name, "contains");
        assert_eq!(target, Some(ident("name")));
        assert_eq!(args.len(), 1);
        assert!(parse("x.is(FHIR.Patient)").is_ok());
        assert!(parse("x.as(String)").is_ok());
    }

    #[test]
    fn quantities_take_ucum_strings_or_calendar_keywords() {
        let quantity = |value: &str, unit| {
            Expr::Literal(Literal::Quantity {
                value: value.into(),
                unit,
            })
        };
        assert_eq!(parse("5.0 'mg'").unwrap(), quantity("5.0", Unit::Ucum("mg".into())));
        assert_eq!(parse("4 days").unwrap(), quantity("4", Unit::Calendar("days".into())));
    }

    #[test]
    fn special_terms_parse() {
        assert_eq!(parse("{}").unwrap(), Expr::Literal(Literal::Null));
        assert_eq!(parse("$this").unwrap(), Expr::This);
        assert_eq!(parse("$total").unwrap(), Expr::Total);
        assert_eq!(parse("%'vs-name'").unwrap(), Expr::External("vs-name".into()));
        assert_eq!(parse("%`x`").unwrap(), Expr::External("x".into()));
        assert_eq!(parse("`div`").unwrap(), Expr::Identifier("div".into()));
        assert!(matches!(parse("a[0]").unwrap(), Expr::Indexer { .. }));
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        assert_eq!(parse("1 + ").unwrap_err().position, 4);
        assert_eq!(parse("a.(b)").unwrap_err().position, 2);
        // Offsets count characters, not bytes.
        assert_eq!(parse("'ä' + $foo").unwrap_err().position, 6);
        assert_eq!(parse("a b").unwrap_err().position, 2);
        assert!(parse("a and and b").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "(".repeat(10_000) + &")".repeat(10_000);
        assert!(parse(&deep).is_err());
        assert!(parse(&"-".repeat(10_000)).is_err());
    }

    /// Truncations and single-character corruptions of valid expressions
    /// must return errors or trees, never panic.
    #[test]
    fn garbled_input_never_panics() {
        let samples = [
            "Patient.name.where(use = 'official').given.first()",
            "@2019-01-01T10:00:00.000+01:00 - 4 days > @T10:00",
            r"'a\u00e9\'' & `div`.x[0] | %'vs' is System.String",
            "(1 + 2.5 'mg') * -3 div 4 mod 5 implies {} xor $this ~ $index !~ $total",
            "/* c */ a // d\n in b contains c and d >= e <= f != g",
        ];
        let noise = [
            '(', ')', '[', ']', '\'', '`', '@', '%', '$', '.', '\\', 'T', '-', 'é', '/',
        ];
        for sample in samples {
            let chars: Vec<char> = sample.chars().collect();
            for cut in 0..=chars.len() {
                let _ = parse(&chars[..cut].iter().collect::<String>());
                let _ = parse(&chars[cut..].iter().collect::<String>());
                for c in noise {
                    let mut garbled = chars.clone();
                    garbled.insert(cut, c);
                    let _ = parse(&garbled.iter().collect::<String>());
                    if cut < chars.len() {
                        garbled.remove(cut + 1);
                        let _ = parse(&garbled.iter().collect::<String>());
                    }
                }
            }
        }
    }
}
