//! FHIRPath 2.0 (N1, as used by FHIR R4; <https://hl7.org/fhirpath/N1/>),
//! evaluated directly over FHIR JSON.
//!
//! ```
//! use ipe::fhirpath::{Env, Expression};
//! let patient = serde_json::json!({"resourceType": "Patient", "name": [{"given": ["Ann"]}]});
//! let expr = Expression::compile("Patient.name.given.first()").unwrap();
//! let result = expr.evaluate(&patient, &Env::new()).unwrap();
//! assert_eq!(result[0].to_json(), "Ann");
//! ```
//!
//! # Layout
//!
//! - `lexer`, `parser`, `ast`: text to syntax tree, errors with positions;
//! - `compile`: syntax tree to the evaluator's tree (functions resolved and
//!   their arguments counted once);
//! - `eval`: navigation over JSON typed by the R4 model
//!   ([`crate::model::definitions`]), operators, `$this`/`$index`/`$total`;
//! - `functions` (with `convert`, `strings`, `math`): the function library;
//! - `ops`: equality, equivalence, ordering and arithmetic of single values;
//! - `temporal`: dates, times and their precisions; `value`: the item types.
//!
//! Nodes borrow the input JSON: evaluation copies nothing it does not create.

mod ast;
mod boundary;
mod compile;
mod convert;
mod eval;
mod functions;
mod lexer;
mod math;
mod ops;
mod parser;
mod strings;
#[cfg(test)]
mod suite_tests;
pub mod temporal;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpecifier, UnaryOp, Unit};
pub use value::{Item, Node, Quantity, TypeInfo};

use eval::{Evaluator, Scope};
use temporal::DateTime;

/// A syntax error in a FHIRPath expression, or a function call that cannot
/// be compiled (unknown name, wrong number of arguments).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub message: String,
    /// Character (not byte) offset into the expression.
    pub position: usize,
}

impl ParseError {
    fn new(message: impl Into<String>, position: usize) -> Self {
        ParseError {
            message: message.into(),
            position,
        }
    }
}

/// An error while evaluating: a type error, a collection where one item was
/// needed, a service that is not configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EvalError {
    pub message: String,
    /// Character offset of the function call that failed, when known.
    pub position: Option<usize>,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(position) => write!(f, "{} (at position {position})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl EvalError {
    fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
            position: None,
        }
    }

    /// Records where the error happened, keeping the innermost position.
    fn at(mut self, position: usize) -> Self {
        self.position.get_or_insert(position);
        self
    }
}

/// Parses a FHIRPath expression into its syntax tree.
pub fn parse(expr: &str) -> Result<Expr, ParseError> {
    parser::parse(lexer::tokenize(expr)?)
}

/// A compiled expression: parse once, evaluate many times, from many threads.
#[derive(Debug, Clone)]
pub struct Expression {
    text: Arc<str>,
    op: Arc<compile::Op>,
}

impl Expression {
    pub fn compile(text: &str) -> Result<Expression, ParseError> {
        let op = compile::compile(&parse(text)?)?;
        Ok(Expression {
            text: text.into(),
            op: Arc::new(op),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates the expression with `input` (a resource, or any FHIR JSON
    /// value) as its context.
    pub fn evaluate<'a>(&self, input: &'a Value, env: &Env<'a>) -> Result<Vec<Item<'a>>, EvalError> {
        let context = [Item::Node(Node::resource(input))];
        self.evaluate_items(&context, env)
    }

    /// Evaluates the expression on a collection of items (e.g. the result of
    /// another expression).
    pub fn evaluate_items<'a>(&self, context: &[Item<'a>], env: &Env<'a>) -> Result<Vec<Item<'a>>, EvalError> {
        let mut evaluator = Evaluator { env, context, depth: 0 };
        let scope = Scope {
            this: context,
            index: None,
            total: None,
        };
        evaluator.eval(&self.op, context, scope)
    }

    /// Evaluates and reads the result as a boolean, as invariants and
    /// criteria are read: empty is `None`.
    pub fn evaluate_boolean<'a>(&self, input: &'a Value, env: &Env<'a>) -> Result<Option<bool>, EvalError> {
        let result = self.evaluate(input, env)?;
        eval::to_boolean(&result)
    }
}

/// What functions such as `resolve()` and `memberOf()` ask of the server.
/// Every answer is `Ok(None)` when the service does not know, `Err` with a
/// message when it cannot answer at all.
pub trait Services<'a> {
    /// A resource outside the evaluated one, by reference (`Patient/1`, an absolute URL).
    fn resolve(&self, _reference: &str) -> Option<&'a Value> {
        None
    }

    /// `memberOf(valueSet)` for a code, Coding or CodeableConcept.
    fn member_of(&self, _item: &Item<'_>, _value_set: &str) -> Result<Option<bool>, String> {
        Err("memberOf() needs a terminology service".into())
    }

    /// `subsumes(code)` (or `subsumedBy` when `reverse`).
    fn subsumes(&self, _item: &Item<'_>, _code: &str, _reverse: bool) -> Result<Option<bool>, String> {
        Err("subsumes() needs a terminology service".into())
    }

    /// `conformsTo(profile)`.
    fn conforms_to(&self, _item: &Item<'_>, _profile: &str) -> Result<Option<bool>, String> {
        Err("conformsTo() needs a profile registry".into())
    }

    /// `slice(structure, name)`: whether the item matches that slice.
    fn slice_matches(&self, _item: &Item<'_>, _structure: &str, _slice: &str) -> Result<Option<bool>, String> {
        Err("slice() needs a profile registry".into())
    }
}

/// Receives what `trace(name)` shows.
pub type TraceFn = dyn Fn(&str, &[Item<'_>]);

/// The environment of an evaluation: `%resource`, `%rootResource`, named
/// variables, the services, the clock and where `trace()` goes.
#[derive(Default)]
pub struct Env<'a> {
    resource: Option<&'a Value>,
    root_resource: Option<&'a Value>,
    variables: HashMap<String, Vec<Item<'a>>>,
    services: Option<&'a dyn Services<'a>>,
    now: Option<DateTime>,
    trace: Option<&'a TraceFn>,
    strict: bool,
}

impl<'a> Env<'a> {
    /// `%resource` and `%rootResource` default to the input, `now()` to the clock.
    pub fn new() -> Self {
        Env::default()
    }

    /// `%resource` (and `%rootResource` unless set apart).
    pub fn with_resource(mut self, resource: &'a Value) -> Self {
        self.resource = Some(resource);
        self
    }

    pub fn with_root_resource(mut self, root: &'a Value) -> Self {
        self.root_resource = Some(root);
        self
    }

    /// A variable such as `%previous` bound to a JSON value (a resource).
    pub fn with_json(mut self, name: &str, value: &'a Value) -> Self {
        self.variables
            .insert(name.to_owned(), vec![Item::Node(Node::resource(value))]);
        self
    }

    /// A variable bound to any collection.
    pub fn with_variable(mut self, name: &str, value: Vec<Item<'a>>) -> Self {
        self.variables.insert(name.to_owned(), value);
        self
    }

    pub fn with_services(mut self, services: &'a dyn Services<'a>) -> Self {
        self.services = Some(services);
        self
    }

    /// Pins `now()`, `today()` and `timeOfDay()` (tests, and one instant per request).
    pub fn with_now(mut self, now: DateTime) -> Self {
        self.now = Some(now);
        self
    }

    pub fn with_trace(mut self, trace: &'a TraceFn) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Strict mode (the test suite's `mode="strict"`): a type name at the
    /// start of a path that does not match the input is an error instead of
    /// an empty result. Off by default, since search parameters such as
    /// `Patient.name | Practitioner.name` rely on the empty result.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    fn variable(&self, name: &str) -> Option<&[Item<'a>]> {
        self.variables.get(name).map(Vec::as_slice)
    }

    /// The pinned instant, or the clock's (UTC). `None` only for a clock
    /// outside FHIR's year range.
    fn now(&self) -> Option<DateTime> {
        self.now
            .or_else(|| DateTime::from_unix_micros(chrono::Utc::now().timestamp_micros(), 0))
    }

    fn trace(&self, name: &str, items: &[Item<'_>]) {
        match self.trace {
            Some(trace) => trace(name, items),
            None => tracing::debug!(name, count = items.len(), "fhirpath trace"),
        }
    }
}
