//! The evaluator: runs a compiled [`Op`] tree over borrowed JSON.
//!
//! Collections are `Vec<Item>`; nodes borrow from the input, so navigation
//! copies no JSON. `$this`, `$index` and `$total` live in a [`Scope`] passed
//! down the recursion.

use std::borrow::Cow;

use serde_json::Value;

use super::ast::BinaryOp;
use super::compile::{Member, Namespace, Op, TypeName, Variable};
use super::functions::Func;
use super::value::{Item, Node, NodeType, TypeInfo};
use super::{ops, Env, EvalError};
use crate::model::definitions::{self, ElementDef, Kind, TypeDef};

pub(super) type Collection<'a> = Vec<Item<'a>>;

/// The iteration variables of the innermost function argument.
#[derive(Clone, Copy)]
pub(super) struct Scope<'s, 'a> {
    /// `$this`: the item being iterated, or the whole input at the top level.
    pub this: &'s [Item<'a>],
    pub index: Option<usize>,
    pub total: Option<&'s [Item<'a>]>,
}

/// Deeper recursion (`repeat`, nested calls) is cut off rather than
/// overflowing the stack on hostile expressions or data.
const MAX_DEPTH: usize = 400;

pub(super) struct Evaluator<'e, 'a> {
    pub env: &'e Env<'a>,
    /// `%context`: the input of the whole expression.
    pub context: &'e [Item<'a>],
    pub depth: usize,
}

impl<'e, 'a> Evaluator<'e, 'a> {
    pub fn eval(&mut self, op: &Op, focus: &[Item<'a>], scope: Scope<'_, 'a>) -> Result<Collection<'a>, EvalError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(EvalError::new("expression nests too deeply"));
        }
        let result = self.eval_op(op, focus, scope);
        self.depth -= 1;
        result
    }

    fn eval_op(&mut self, op: &Op, focus: &[Item<'a>], scope: Scope<'_, 'a>) -> Result<Collection<'a>, EvalError> {
        match op {
            Op::Literal(item) => Ok(vec![item.clone()]),
            Op::Empty => Ok(Vec::new()),
            Op::Identifier(member) => Ok(self.identifier(member, focus)?),
            Op::Member(target, member) => {
                let input = self.eval(target, focus, scope)?;
                let mut out = Vec::new();
                for item in &input {
                    navigate(item, member, self.env.strict, &mut out)?;
                }
                Ok(out)
            }
            Op::This => Ok(scope.this.to_vec()),
            Op::Index => Ok(scope
                .index
                .map(|i| vec![Item::Integer(i64::try_from(i).unwrap_or(i64::MAX))])
                .unwrap_or_default()),
            Op::Total => Ok(scope.total.map(<[Item]>::to_vec).unwrap_or_default()),
            Op::Variable(variable) => self.variable(variable),
            Op::Call {
                target,
                func,
                args,
                type_arg,
                position,
            } => {
                let result = match target {
                    Some(target) => {
                        let input = self.eval(target, focus, scope)?;
                        if *func == Func::Iif {
                            self.iif_on(&input, args, scope)
                        } else {
                            self.call(*func, &input, args, type_arg.as_ref(), scope)
                        }
                    }
                    // A function with no target applies to the focus.
                    None => self.call(*func, focus, args, type_arg.as_ref(), scope),
                };
                result.map_err(|e| e.at(*position))
            }
            Op::Indexer(target, index) => {
                let input = self.eval(target, focus, scope)?;
                let index = self.eval(index, focus, scope)?;
                let Some(index) = integer_arg(&index, "indexer")? else {
                    return Ok(Vec::new());
                };
                Ok(usize::try_from(index)
                    .ok()
                    .and_then(|i| input.get(i).cloned())
                    .into_iter()
                    .collect())
            }
            Op::Negate(operand) => {
                let value = self.eval(operand, focus, scope)?;
                negate(&value)
            }
            Op::Binary(op, left, right) => self.binary(*op, left, right, focus, scope),
            Op::Is(operand, type_name) => {
                let value = self.eval(operand, focus, scope)?;
                match value.as_slice() {
                    [] => Ok(Vec::new()),
                    [item] => Ok(vec![Item::Boolean(is_type(item, type_name, false))]),
                    _ => Err(EvalError::new("'is' needs a single item")),
                }
            }
            Op::As(operand, type_name) => {
                let value = self.eval(operand, focus, scope)?;
                match value.as_slice() {
                    [] => Ok(Vec::new()),
                    [item] => Ok(is_type(item, type_name, true)
                        .then(|| item.clone())
                        .into_iter()
                        .collect()),
                    // N1 makes this an error, but R4's own SearchParameters apply `as` to
                    // collections (`Observation.component.value as Quantity`); R5 rewrote
                    // them with ofType(), which is what they mean. Strict mode keeps N1.
                    items if !self.env.strict => Ok(items
                        .iter()
                        .filter(|item| is_type(item, type_name, true))
                        .cloned()
                        .collect()),
                    _ => Err(EvalError::new("'as' needs a single item")),
                }
            }
        }
    }

    /// A leading name: the input itself when the name is its resource type
    /// (`Patient.name` on a Patient), otherwise a member of each input item.
    fn identifier(&self, member: &Member, focus: &[Item<'a>]) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        for item in focus {
            if let (Some(type_def), Item::Node(node)) = (member.type_def, item) {
                // A type name on a resource selects it or nothing: element
                // names are never capitalised, so there is nothing to navigate.
                if node.is_resource() {
                    if node_is_type(node, type_def) {
                        out.push(item.clone());
                    } else if self.env.strict {
                        return Err(EvalError::new(format!(
                            "'{}' does not match the input, a {}",
                            member.name,
                            node.type_name().unwrap_or("resource")
                        )));
                    }
                    continue;
                }
            }
            navigate(item, member, self.env.strict, &mut out)?;
        }
        Ok(out)
    }

    fn variable(&self, variable: &Variable) -> Result<Collection<'a>, EvalError> {
        let root = |value: Option<&'a Value>| match value {
            Some(value) => vec![Item::Node(Node::resource(value))],
            None => self.context.to_vec(),
        };
        Ok(match variable {
            Variable::Context => self.context.to_vec(),
            Variable::Resource => root(self.env.resource),
            Variable::RootResource => root(self.env.root_resource.or(self.env.resource)),
            Variable::Named(name) => match self.env.variable(name) {
                Some(value) => value.to_vec(),
                None => return Err(EvalError::new(format!("unknown variable %{name}"))),
            },
        })
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &Op,
        right: &Op,
        focus: &[Item<'a>],
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        use BinaryOp::*;
        // Boolean operators evaluate their right side only when it can matter.
        if matches!(op, And | Or | Implies) {
            let l = to_boolean(&self.eval(left, focus, scope)?)?;
            let short = match (op, l) {
                (And, Some(false)) => Some(Some(false)),
                (Or, Some(true)) => Some(Some(true)),
                (Implies, Some(false)) => Some(Some(true)),
                _ => None,
            };
            let result = match short {
                Some(result) => result,
                None => {
                    let r = to_boolean(&self.eval(right, focus, scope)?)?;
                    logic(op, l, r)
                }
            };
            return Ok(result.map(Item::Boolean).into_iter().collect());
        }
        let l = self.eval(left, focus, scope)?;
        let r = self.eval(right, focus, scope)?;
        combine_values(op, l, r)
    }
}

/// The operators that take both sides as collections.
pub(super) fn combine_values<'a>(
    op: BinaryOp,
    l: Collection<'a>,
    r: Collection<'a>,
) -> Result<Collection<'a>, EvalError> {
    use BinaryOp::*;
    let boolean = |b: Option<bool>| Ok(b.map(Item::Boolean).into_iter().collect());
    match op {
        Xor => {
            let (a, b) = (to_boolean(&l)?, to_boolean(&r)?);
            boolean(a.zip(b).map(|(a, b)| a != b))
        }
        Eq => boolean(collections_equal(&l, &r)),
        NotEq => boolean(collections_equal(&l, &r).map(|b| !b)),
        Equiv => boolean(Some(collections_equivalent(&l, &r))),
        NotEquiv => boolean(Some(!collections_equivalent(&l, &r))),
        Union => Ok(union(l, r)),
        In => membership(&l, &r),
        Contains => membership(&r, &l),
        Lt | Gt | Le | Ge => {
            let (Some(a), Some(b)) = (singleton(&l, op)?, singleton(&r, op)?) else {
                return Ok(Vec::new());
            };
            let ordering = ops::compare(a, b)?;
            boolean(ordering.map(|o| match op {
                Lt => o.is_lt(),
                Gt => o.is_gt(),
                Le => o.is_le(),
                _ => o.is_ge(),
            }))
        }
        Concat => {
            let text = |c: &Collection<'a>| -> Result<String, EvalError> {
                Ok(match singleton(c, op)? {
                    Some(item) => item
                        .as_str()
                        .ok_or_else(|| EvalError::new("'&' needs strings"))?
                        .into_owned(),
                    None => String::new(),
                })
            };
            Ok(vec![Item::String(Cow::Owned(text(&l)? + &text(&r)?))])
        }
        Add | Sub | Mul | Div | IntDiv | Mod => {
            let (Some(a), Some(b)) = (singleton(&l, op)?, singleton(&r, op)?) else {
                return Ok(Vec::new());
            };
            Ok(ops::arithmetic(op, a, b)?.into_iter().collect())
        }
        And | Or | Implies => {
            let result = logic(op, to_boolean(&l)?, to_boolean(&r)?);
            boolean(result)
        }
    }
}

/// Three-valued `and`, `or`, `implies` (`None` is empty).
fn logic(op: BinaryOp, l: Option<bool>, r: Option<bool>) -> Option<bool> {
    match op {
        BinaryOp::And => match (l, r) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        BinaryOp::Or => match (l, r) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        _ => match (l, r) {
            (Some(false), _) | (_, Some(true)) => Some(true),
            (Some(true), Some(false)) => Some(false),
            _ => None,
        },
    }
}

/// The one item of an operand, `None` for empty; more is an error.
fn singleton<'c, 'a>(c: &'c Collection<'a>, op: BinaryOp) -> Result<Option<&'c Item<'a>>, EvalError> {
    match c.as_slice() {
        [] => Ok(None),
        [item] => Ok(Some(item)),
        _ => Err(EvalError::new(format!(
            "operator {op:?} needs single items, found a collection of {}",
            c.len()
        ))),
    }
}

/// Singleton evaluation as a Boolean: empty stays empty, one Boolean is
/// itself, any other single item is `true`; more is an error.
pub(super) fn to_boolean(c: &[Item]) -> Result<Option<bool>, EvalError> {
    match c {
        [] => Ok(None),
        [item] => Ok(Some(match item.system() {
            Some(Item::Boolean(b)) => b,
            _ => true,
        })),
        _ => Err(EvalError::new(format!(
            "expected a single boolean, found a collection of {}",
            c.len()
        ))),
    }
}

pub(super) fn collections_equal(l: &[Item], r: &[Item]) -> Option<bool> {
    if l.is_empty() || r.is_empty() {
        return None;
    }
    if l.len() != r.len() {
        return Some(false);
    }
    let mut result = Some(true);
    for (a, b) in l.iter().zip(r) {
        match ops::equals(a, b) {
            Some(true) => {}
            Some(false) => return Some(false),
            None => result = None,
        }
    }
    result
}

fn collections_equivalent(l: &[Item], r: &[Item]) -> bool {
    l.len() == r.len() && l.iter().all(|a| r.iter().any(|b| ops::equivalent(a, b)))
}

/// Whether a collection holds an item equal to `item`.
pub(super) fn contains_item(collection: &[Item], item: &Item) -> bool {
    collection.iter().any(|other| ops::equals(item, other) == Some(true))
}

/// `|`: both sides, duplicates removed.
pub(super) fn union<'a>(l: Collection<'a>, r: Collection<'a>) -> Collection<'a> {
    let mut out: Collection<'a> = Vec::with_capacity(l.len() + r.len());
    for item in l.into_iter().chain(r) {
        if !contains_item(&out, &item) {
            out.push(item);
        }
    }
    out
}

fn membership<'a>(element: &[Item<'a>], collection: &[Item<'a>]) -> Result<Collection<'a>, EvalError> {
    match element {
        [] => Ok(Vec::new()),
        [item] => Ok(vec![Item::Boolean(contains_item(collection, item))]),
        _ => Err(EvalError::new("membership test needs a single item")),
    }
}

fn negate<'a>(value: &[Item<'a>]) -> Result<Collection<'a>, EvalError> {
    let Some(item) = value.first() else {
        return Ok(Vec::new());
    };
    if value.len() > 1 {
        return Err(EvalError::new("unary '-' needs a single item"));
    }
    Ok(match item.system() {
        Some(Item::Integer(i)) => vec![Item::Integer(-i)],
        // `-(0.0)` is `0.0`: no negative zero from negation.
        Some(Item::Decimal(d)) if d.is_zero() => vec![Item::Decimal(d)],
        Some(Item::Decimal(d)) => vec![Item::Decimal(-d)],
        Some(Item::Quantity(q)) => vec![Item::Quantity(super::value::Quantity { value: -q.value, ..q })],
        _ => return Err(EvalError::new(format!("cannot negate {}", item.type_label()))),
    })
}

/// An integer argument (`skip(2)`, `[0]`): empty stays empty.
pub(super) fn integer_arg(value: &[Item], what: &str) -> Result<Option<i64>, EvalError> {
    match value {
        [] => Ok(None),
        [item] => match item.system() {
            Some(Item::Integer(i)) => Ok(Some(i)),
            _ => Err(EvalError::new(format!(
                "{what} needs an integer, found {}",
                item.type_label()
            ))),
        },
        _ => Err(EvalError::new(format!("{what} needs a single integer"))),
    }
}

/// The children of `item` named `member.name`, appended to `out`.
pub(super) fn navigate<'a>(
    item: &Item<'a>,
    member: &Member,
    strict: bool,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    match item {
        Item::Node(node) => navigate_node(node, member, strict, out),
        Item::Type(info) => {
            let value = match member.name.as_str() {
                "namespace" => info.namespace,
                "name" => &info.name,
                _ => return Ok(()),
            };
            out.push(Item::String(Cow::Owned(value.to_owned())));
            Ok(())
        }
        Item::Quantity(q) => {
            match member.name.as_str() {
                "value" => out.push(Item::Decimal(q.value)),
                "unit" | "code" => out.push(Item::String(Cow::Owned(q.unit.clone()))),
                _ => {}
            }
            Ok(())
        }
        // System primitives have no children.
        _ => Ok(()),
    }
}

fn navigate_node<'a>(
    node: &Node<'a>,
    member: &Member,
    strict: bool,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    if node.is_primitive() {
        // `birthDate.extension`, `birthDate.id`: they live in `_birthDate`.
        let Some(extras) = node.extras().and_then(Value::as_object) else {
            return Ok(());
        };
        if let Some(value) = extras.get(&member.name) {
            let element = definitions::r4()
                .get("Element")
                .and_then(|e| e.element("", &member.name));
            push_values(value, None, element.map_or("Element", ElementDef::type_code), out);
        }
        return Ok(());
    }
    let Some(object) = node.object() else {
        return Ok(());
    };
    let Some((def, path)) = node.known() else {
        if let Some(value) = object.get(&member.name) {
            push_untyped(value, object.get(&member.extras_key), out);
        }
        return Ok(());
    };
    let Some(element) = member.element_in(def, path) else {
        return unknown_element(node, object, member, strict, out);
    };
    if element.choice {
        for (key, value) in object {
            if let Some(type_code) = element.choice_type(key) {
                let extras = if is_primitive_type(type_code) {
                    object.get(&format!("_{key}"))
                } else {
                    None
                };
                push_values(value, extras, type_code, out);
            }
        }
        // A primitive choice present only through its extensions.
        return Ok(());
    }
    let value = object.get(&member.name);
    let extras = object.get(&member.extras_key);
    if value.is_none() && extras.is_none() {
        return Ok(());
    }
    if let Some(children) = element.children {
        if let Some(value) = value {
            let ty = NodeType::Known {
                def,
                path: children,
                name: element.type_code(),
            };
            push_typed(value, None, ty, out);
        }
        return Ok(());
    }
    let value = value.unwrap_or(&Value::Null);
    match element.type_def() {
        Some(type_def) if type_def.kind != Kind::Resource => push_typed(value, extras, NodeType::of(type_def), out),
        _ => push_values(value, extras, element.type_code(), out),
    }
    Ok(())
}

/// A name that is not an element of the node's type. A choice spelled as
/// in JSON (`valueQuantity`) is not FHIRPath (the spec writes
/// `value.ofType(Quantity)`) and is an error, but `children()` walks JSON
/// keys and needs it.
fn unknown_element<'a>(
    node: &Node<'a>,
    object: &'a serde_json::Map<String, Value>,
    member: &Member,
    strict: bool,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    if member.json_key {
        let element = node.known().and_then(|(def, path)| def.child(path, &member.name));
        if let (Some(value), Some(element)) = (object.get(&member.name), element) {
            let type_code = element.choice_type(&member.name).unwrap_or("Element");
            push_values(value, object.get(&member.extras_key), type_code, out);
        }
        return Ok(());
    }
    // Outside strict mode an unknown name is simply absent (`descendants().linkId`
    // meets many types), except for the classic mistake of a spelled-out choice.
    let spelled_choice = node
        .known()
        .and_then(|(def, path)| def.child(path, &member.name))
        .is_some();
    if !strict && !spelled_choice {
        return Ok(());
    }
    let hint = if spelled_choice {
        " (a choice element: use its base name and ofType())"
    } else {
        ""
    };
    Err(EvalError::new(format!(
        "'{}' is not an element of {}{hint}",
        member.name,
        node.type_name().unwrap_or("this type")
    )))
}

fn is_primitive_type(code: &str) -> bool {
    definitions::r4()
        .get(code)
        .is_some_and(|t| t.kind == Kind::PrimitiveType)
}

/// Values of FHIR type `type_code` (an array is flattened, its `_x`
/// companion zipped in), appended as nodes.
fn push_values<'a>(value: &'a Value, extras: Option<&'a Value>, type_code: &str, out: &mut Collection<'a>) {
    if matches!(type_code, "Resource" | "DomainResource") {
        for_each(value, extras, |v, _| {
            if let Some(v) = v {
                out.push(Item::Node(Node::resource(v)));
            }
        });
        return;
    }
    let ty = definitions::r4().get(type_code).map_or(NodeType::Unknown, NodeType::of);
    push_typed(value, extras, ty, out);
}

fn push_typed<'a>(value: &'a Value, extras: Option<&'a Value>, ty: NodeType, out: &mut Collection<'a>) {
    for_each(value, extras, |value, extras| {
        out.push(Item::Node(Node { value, extras, ty }));
    });
}

fn push_untyped<'a>(value: &'a Value, extras: Option<&'a Value>, out: &mut Collection<'a>) {
    for_each(value, extras, |value, extras| {
        let node = match value {
            Some(v) if v.get("resourceType").is_some() => Node::resource(v),
            _ => Node {
                value,
                extras,
                ty: NodeType::Unknown,
            },
        };
        out.push(Item::Node(node));
    });
}

/// Calls `f` with each (value, extras) pair: one for a single value, one
/// per position for arrays (`null` entries stand for extension-only items).
fn for_each<'a>(value: &'a Value, extras: Option<&'a Value>, mut f: impl FnMut(Option<&'a Value>, Option<&'a Value>)) {
    match value {
        Value::Array(items) => {
            let extras = extras.and_then(Value::as_array);
            let len = items.len().max(extras.map_or(0, Vec::len));
            for i in 0..len {
                let v = items.get(i).filter(|v| !v.is_null());
                let e = extras.and_then(|e| e.get(i)).filter(|e| !e.is_null());
                if v.is_some() || e.is_some() {
                    f(v, e);
                }
            }
        }
        Value::Null => {
            if extras.is_some() {
                f(None, extras);
            }
        }
        other => f(Some(other), extras),
    }
}

/// Whether a resource node is of type `t` or a specialization of it. No R4
/// resource specializes a concrete resource type, so only abstract ones
/// (`Resource`, `DomainResource`) need the ancestry walk.
fn node_is_type(node: &Node, t: &'static TypeDef) -> bool {
    match node.known() {
        Some((def, _)) if std::ptr::eq(def, t) => true,
        Some((def, _)) => t.is_abstract && definitions::r4().is_a(def.name, t.name),
        None => node.resource_type() == Some(t.name),
    }
}

/// Whether a node's FHIR type is `name` or specializes it.
fn node_is_a(node: &Node, name: &str) -> bool {
    match node.type_name() {
        Some(type_name) => definitions::r4().is_a(type_name, name),
        None => node.resource_type() == Some(name),
    }
}

/// `is` / `as` / `ofType`: FHIR types for nodes, System types for the rest.
/// `is` accepts specializations (`code` is a `string`); `as` and `ofType`
/// (`exact`) take a FHIR primitive only as its own type, as the official
/// suite expects (`gender.as(string)` is empty).
pub(super) fn is_type(item: &Item, type_name: &TypeName, exact: bool) -> bool {
    let name = type_name.name.as_str();
    match item {
        Item::Node(node) if exact && node.is_primitive() => {
            type_name.namespace != Some(Namespace::System) && node.type_name() == Some(name)
        }
        Item::Node(node) => type_name.namespace != Some(Namespace::System) && node_is_a(node, name),
        other => type_name.namespace != Some(Namespace::Fhir) && other.system_type_name() == Some(name),
    }
}

impl<'a> Item<'a> {
    /// The System type name of a System value.
    pub(super) fn system_type_name(&self) -> Option<&'static str> {
        Some(match self {
            Item::Boolean(_) => "Boolean",
            Item::Integer(_) => "Integer",
            Item::Decimal(_) => "Decimal",
            Item::String(_) => "String",
            Item::Date(_) => "Date",
            Item::DateTime(_) => "DateTime",
            Item::Time(_) => "Time",
            Item::Quantity(_) => "Quantity",
            Item::Node(_) | Item::Type(_) => return None,
        })
    }

    /// The type of the item as `type()` reports it.
    pub(super) fn type_info(&self) -> TypeInfo {
        match self {
            Item::Node(node) => TypeInfo {
                namespace: "FHIR",
                name: node.type_name().unwrap_or("Element").to_owned(),
            },
            other => TypeInfo {
                namespace: "System",
                name: other.system_type_name().unwrap_or("Any").to_owned(),
            },
        }
    }
}
