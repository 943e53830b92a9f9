//! Turns a parsed [`Expr`] into the tree the evaluator runs: function names
//! resolved to [`Func`] with their argument counts checked, type specifiers
//! resolved, environment constants with fixed values folded to literals, and
//! the JSON keys of each member step prepared — so nothing is looked up by
//! string at evaluation time that could be decided once.

use std::borrow::Cow;
use std::sync::OnceLock;

use rust_decimal::Decimal;

use super::ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpecifier, UnaryOp, Unit};
use super::functions::Func;
use super::temporal::{Date, DateTime, Time};
use super::value::{parse_decimal, Item, Quantity};
use super::ParseError;
use crate::model::definitions::{self, ElementDef, TypeDef};

/// A compiled expression node.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Literal(Item<'static>),
    /// An empty collection (`{}`).
    Empty,
    /// A name with no target: a type name selecting the input (`Patient`), or a member of it.
    Identifier(Member),
    Member(Box<Op>, Member),
    This,
    Index,
    Total,
    /// `%resource`, `%context`, `%rootResource` or a caller's variable.
    Variable(Variable),
    Call {
        target: Option<Box<Op>>,
        func: Func,
        args: Vec<Op>,
        /// The type of `is()`, `as()` and `ofType()`.
        type_arg: Option<TypeName>,
        position: usize,
    },
    Indexer(Box<Op>, Box<Op>),
    Negate(Box<Op>),
    Binary(BinaryOp, Box<Op>, Box<Op>),
    Is(Box<Op>, TypeName),
    As(Box<Op>, TypeName),
}

/// A member step: the element name and the JSON key of its primitive extras.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub name: String,
    /// `_name`, precomputed.
    pub extras_key: String,
    /// The type the name denotes, if it names one (`Patient`), resolved once.
    pub type_def: Option<&'static TypeDef>,
    /// A JSON key met while walking the tree (`valueQuantity`), rather than
    /// an element name written in an expression.
    pub json_key: bool,
    /// The element this step found last time, keyed by the parent type:
    /// a step nearly always meets one parent type, so after the first
    /// evaluation the lookup is two pointer comparisons.
    cache: OnceLock<CachedElement>,
}

#[derive(Debug, Clone, Copy)]
struct CachedElement {
    def: usize,
    path: usize,
    element: Option<&'static ElementDef>,
}

impl Member {
    /// A member step for a JSON key met while walking (`children()`).
    pub(super) fn child(name: &str) -> Member {
        Member {
            json_key: true,
            ..Member::new(name.to_owned())
        }
    }

    fn new(name: String) -> Member {
        let type_def = name
            .starts_with(|c: char| c.is_ascii_uppercase())
            .then(|| definitions::r4().get(&name))
            .flatten();
        Member {
            extras_key: format!("_{name}"),
            type_def,
            json_key: false,
            name,
            cache: OnceLock::new(),
        }
    }

    /// The element this name denotes under `path` of `def`.
    pub(super) fn element_in(&self, def: &'static TypeDef, path: &'static str) -> Option<&'static ElementDef> {
        let key = (std::ptr::from_ref(def) as usize, path.as_ptr() as usize);
        let cached = self.cache.get_or_init(|| CachedElement {
            def: key.0,
            path: key.1,
            element: def.element(path, &self.name),
        });
        if (cached.def, cached.path) == key {
            return cached.element;
        }
        def.element(path, &self.name)
    }
}

#[derive(Debug, Clone)]
pub(super) enum Variable {
    Resource,
    RootResource,
    Context,
    Named(String),
}

/// A type specifier: `System.String`, `FHIR.Patient`, or unqualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TypeName {
    pub namespace: Option<Namespace>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Namespace {
    System,
    Fhir,
}

pub(super) fn compile(expr: &Expr) -> Result<Op, ParseError> {
    Ok(match expr {
        Expr::Literal(literal) => literal_op(literal)?,
        Expr::Identifier(name) => Op::Identifier(Member::new(name.clone())),
        Expr::This => Op::This,
        Expr::Index => Op::Index,
        Expr::Total => Op::Total,
        Expr::External(name) => external(name),
        Expr::Member { target, name } => Op::Member(Box::new(compile(target)?), Member::new(name.clone())),
        Expr::Function {
            target,
            name,
            args,
            position,
        } => call(target.as_deref(), name, args, *position)?,
        Expr::Indexer { target, index } => Op::Indexer(Box::new(compile(target)?), Box::new(compile(index)?)),
        Expr::Unary { op, operand } => {
            let operand = compile(operand)?;
            match op {
                UnaryOp::Plus => operand,
                UnaryOp::Minus => negate(operand),
            }
        }
        Expr::Binary { op, left, right } => Op::Binary(*op, Box::new(compile(left)?), Box::new(compile(right)?)),
        Expr::TypeOp { op, operand, type_name } => {
            let operand = Box::new(compile(operand)?);
            let type_name = known_type(type_name_of(type_name), 0)?;
            match op {
                TypeOp::Is => Op::Is(operand, type_name),
                TypeOp::As => Op::As(operand, type_name),
            }
        }
    })
}

/// `-` folds into numeric literals, so `-2147483648` is in range.
fn negate(operand: Op) -> Op {
    match operand {
        Op::Literal(Item::Integer(i)) => Op::Literal(Item::Integer(-i)),
        Op::Literal(Item::Decimal(d)) => Op::Literal(Item::Decimal(-d)),
        Op::Literal(Item::Quantity(q)) => Op::Literal(Item::Quantity(Quantity { value: -q.value, ..q })),
        other => Op::Negate(Box::new(other)),
    }
}

fn literal_op(literal: &Literal) -> Result<Op, ParseError> {
    let bad = |what: &str, text: &str| ParseError::new(format!("invalid {what} literal '{text}'"), 0);
    let item = match literal {
        Literal::Null => return Ok(Op::Empty),
        Literal::Boolean(b) => Item::Boolean(*b),
        Literal::String(s) => Item::String(Cow::Owned(s.clone())),
        Literal::Integer(text) => match text.parse::<i64>() {
            // The range check waits for negation: -2147483648 is valid.
            Ok(i) if i <= i64::from(i32::MAX) + 1 => Item::Integer(i),
            _ => return Err(bad("integer", text)),
        },
        Literal::Decimal(text) => Item::Decimal(parse_decimal(text).ok_or_else(|| bad("decimal", text))?),
        Literal::Date(text) => Item::Date(Date::parse(text).ok_or_else(|| bad("date", text))?),
        Literal::DateTime(text) => Item::DateTime(DateTime::parse(text).ok_or_else(|| bad("dateTime", text))?),
        Literal::Time(text) => Item::Time(Time::parse(text).ok_or_else(|| bad("time", text))?),
        Literal::Quantity { value, unit } => {
            let value: Decimal = parse_decimal(value).ok_or_else(|| bad("quantity", value))?;
            let (unit, calendar) = match unit {
                Unit::Ucum(code) => (code.clone(), false),
                Unit::Calendar(keyword) => (keyword.clone(), true),
            };
            Item::Quantity(Quantity { value, unit, calendar })
        }
    };
    Ok(Op::Literal(item))
}

/// `%name`: the spec's fixed constants become literals.
fn external(name: &str) -> Op {
    let text = |s: String| Op::Literal(Item::String(Cow::Owned(s)));
    match name {
        "resource" => Op::Variable(Variable::Resource),
        "rootResource" => Op::Variable(Variable::RootResource),
        "context" => Op::Variable(Variable::Context),
        "ucum" => text("http://unitsofmeasure.org".into()),
        "sct" => text("http://snomed.info/sct".into()),
        "loinc" => text("http://loinc.org".into()),
        _ => {
            if let Some(rest) = name.strip_prefix("vs-") {
                text(format!("http://hl7.org/fhir/ValueSet/{rest}"))
            } else if let Some(rest) = name.strip_prefix("ext-") {
                text(format!("http://hl7.org/fhir/StructureDefinition/{rest}"))
            } else {
                Op::Variable(Variable::Named(name.to_owned()))
            }
        }
    }
}

fn type_name_of(spec: &TypeSpecifier) -> TypeName {
    let namespace = match spec.namespace.as_deref() {
        Some("System") => Some(Namespace::System),
        Some("FHIR") => Some(Namespace::Fhir),
        _ => None,
    };
    TypeName {
        namespace,
        name: spec.name.clone(),
    }
}

/// The System types of FHIRPath.
const SYSTEM_TYPES: [&str; 8] = [
    "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity",
];

/// Refuses type names neither FHIR nor System defines (`as(string1)`).
fn known_type(type_name: TypeName, position: usize) -> Result<TypeName, ParseError> {
    let name = type_name.name.as_str();
    let system = SYSTEM_TYPES.contains(&name);
    let fhir = crate::model::definitions::r4().get(name).is_some();
    let known = match type_name.namespace {
        Some(Namespace::System) => true,
        Some(Namespace::Fhir) => fhir,
        None => system || fhir,
    };
    if known {
        Ok(type_name)
    } else {
        Err(ParseError::new(format!("unknown type '{name}'"), position))
    }
}

/// A type given as a function argument (`ofType(Patient)`, `is(FHIR.string)`).
pub(super) fn type_argument(arg: &Expr) -> Option<TypeName> {
    match arg {
        Expr::Identifier(name) => Some(TypeName {
            namespace: None,
            name: name.clone(),
        }),
        Expr::Member { target, name } => match target.as_ref() {
            Expr::Identifier(ns) if ns == "System" || ns == "FHIR" => Some(type_name_of(&TypeSpecifier {
                namespace: Some(ns.clone()),
                name: name.clone(),
            })),
            _ => None,
        },
        _ => None,
    }
}

fn call(target: Option<&Expr>, name: &str, args: &[Expr], position: usize) -> Result<Op, ParseError> {
    let func = Func::resolve(name, args.len()).map_err(|message| ParseError::new(message, position))?;
    let target = target.map(compile).transpose()?.map(Box::new);
    // Type arguments are type specifiers, not expressions.
    let (args, type_arg) = if func.takes_type_argument() {
        let type_name = args
            .first()
            .and_then(type_argument)
            .ok_or_else(|| ParseError::new(format!("{name}() expects a type name"), position))?;
        (Vec::new(), Some(known_type(type_name, position)?))
    } else {
        (args.iter().map(compile).collect::<Result<_, _>>()?, None)
    };
    Ok(Op::Call {
        target,
        func,
        args,
        type_arg,
        position,
    })
}
