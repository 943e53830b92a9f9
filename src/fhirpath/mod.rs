//! FHIRPath 2.0 (N1, as used by FHIR R4): lexer and parser
//! (<https://hl7.org/fhirpath/N1/>). Evaluation is not here yet.
//!
//! [`parse`] turns an expression into an [`Expr`] tree or a [`ParseError`]
//! carrying the character offset of the problem.

mod ast;
mod lexer;
mod parser;
#[cfg(test)]
mod suite_tests;

pub use ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpecifier, UnaryOp, Unit};

/// A syntax error in a FHIRPath expression.
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

/// Parses a FHIRPath expression.
pub fn parse(expr: &str) -> Result<Expr, ParseError> {
    parser::parse(lexer::tokenize(expr)?)
}
