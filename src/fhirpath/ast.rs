//! The FHIRPath syntax tree produced by [`parse`](super::parse).

/// A parsed FHIRPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// A name at the start of a path (`Patient`, `name`); resolved only on evaluation,
    /// since it may be a type name or a member of the input.
    Identifier(String),
    /// `$this`
    This,
    /// `$index`
    Index,
    /// `$total`
    Total,
    /// `%resource`, `%'vs-name'`, `` %`x` ``: the constant's name.
    External(String),
    /// `target.name`
    Member {
        target: Box<Expr>,
        name: String,
    },
    /// `name(args)` or `target.name(args)`.
    Function {
        target: Option<Box<Expr>>,
        name: String,
        args: Vec<Expr>,
        /// Character offset of the name, for errors.
        position: usize,
    },
    /// `target[index]`
    Indexer {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `operand is Type` / `operand as Type`.
    TypeOp {
        op: TypeOp,
        operand: Box<Expr>,
        type_name: TypeSpecifier,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `{}`
    Null,
    Boolean(bool),
    String(String),
    /// Digits as written: the range check (FHIRPath integers are 32-bit)
    /// belongs to evaluation, where `-2147483648` is known to be negative.
    Integer(String),
    /// Decimal text as written, so no precision is lost before evaluation.
    Decimal(String),
    /// `@2019-01`: text after `@`.
    Date(String),
    /// `@2019-01-01T10:00`: text after `@`.
    DateTime(String),
    /// `@T10:00`: text after `@T`.
    Time(String),
    /// `5 'mg'`, `4 days`: value text as written.
    Quantity {
        value: String,
        unit: Unit,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Unit {
    /// A quoted UCUM unit such as `'mg'`.
    Ucum(String),
    /// A calendar duration keyword such as `days` (singular or plural, as written).
    Calendar(String),
}

/// The type after `is` / `as`, e.g. `String` or `FHIR.Patient`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSpecifier {
    /// `System` / `FHIR` when written.
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Plus,
    Minus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeOp {
    Is,
    As,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Equiv,
    NotEq,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}
