//! The values FHIRPath works with: elements of the input JSON ([`Node`]s,
//! borrowed, carrying their FHIR type) and the System values that literals,
//! operators and functions produce.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::temporal::{Date, DateTime, Time};
use crate::model::definitions::{self, Kind, TypeDef};

/// One item of a FHIRPath collection.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    /// An element of the input (or of a variable), with its FHIR type.
    Node(Node<'a>),
    Boolean(bool),
    Integer(i64),
    Decimal(Decimal),
    String(Cow<'a, str>),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Quantity),
    /// What `type()` returns: a namespace and a name.
    Type(TypeInfo),
}

/// A type as `type()` reports it (`System.Integer`, `FHIR.Patient`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub namespace: &'static str,
    pub name: String,
}

/// `System.Quantity`: a decimal value and a unit — a UCUM code, or a calendar
/// duration keyword (`year`, `month`…) written without quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: String,
    /// Written as a calendar keyword (`4 days`), not as UCUM (`4 'd'`).
    pub calendar: bool,
}

/// An element of a JSON resource.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// The JSON value; `None` for a primitive present only through its
    /// extensions (`"_birthDate": {…}` with no `birthDate`).
    pub(super) value: Option<&'a Value>,
    /// For primitives, the `_name` object carrying `id` and `extension`.
    pub(super) extras: Option<&'a Value>,
    pub(super) ty: NodeType,
}

/// What the model knows of a node's type.
#[derive(Debug, Clone, Copy)]
pub(super) enum NodeType {
    /// A type of the R4 model. `path` is "" for the type itself, or the
    /// backbone element's path within `def` (`contact` of `Patient`), whose
    /// type `name` is then `BackboneElement` or `Element`.
    Known {
        def: &'static TypeDef,
        path: &'static str,
        name: &'static str,
    },
    /// JSON the model does not describe (an unknown resource type, or an
    /// element the definitions lack): navigated by property name alone.
    Unknown,
}

impl<'a> Node<'a> {
    /// The node for a whole resource, typed by its `resourceType` if the model knows it.
    pub fn resource(value: &'a Value) -> Node<'a> {
        let ty = value
            .get("resourceType")
            .and_then(Value::as_str)
            .and_then(|name| definitions::r4().get(name))
            .map_or(NodeType::Unknown, NodeType::of);
        Node {
            value: Some(value),
            extras: None,
            ty,
        }
    }

    /// An element of the FHIR type `type_name` (`HumanName`, `string`), or,
    /// with `backbone` = (`Patient`, `contact`), the backbone element at that
    /// path inside a type: the context a validator evaluates an element's
    /// invariants in. Untyped when the model does not know the type.
    pub fn element(
        value: Option<&'a Value>,
        extras: Option<&'a Value>,
        type_name: &str,
        backbone: Option<(&str, &str)>,
    ) -> Node<'a> {
        let r4 = definitions::r4();
        let ty = match backbone {
            Some((owner, path)) => r4
                .get(owner)
                .and_then(|def| Some((def, def.parent_path(path)?)))
                .map_or(NodeType::Unknown, |(def, path)| NodeType::Known {
                    def,
                    path,
                    name: "BackboneElement",
                }),
            None => r4.get(type_name).map_or(NodeType::Unknown, NodeType::of),
        };
        Node { value, extras, ty }
    }

    /// A resource known only by a reference (`Patient/1`, `http://x/fhir/Patient/1`,
    /// `Patient/1/_history/2`): typed, without content.
    pub fn reference_stub(reference: &str) -> Option<Node<'a>> {
        let path = reference.split('|').next().unwrap_or(reference);
        let path = path.split("/_history/").next().unwrap_or(path);
        let mut segments = path.rsplit('/');
        let _id = segments.next().filter(|id| !id.is_empty())?;
        let type_name = segments.next()?;
        let def = definitions::r4()
            .get(type_name)
            .filter(|t| t.kind == Kind::Resource && !t.is_abstract)?;
        Some(Node {
            value: None,
            extras: None,
            ty: NodeType::of(def),
        })
    }

    /// The JSON value, if the element has one (see [`Node`]).
    pub fn json(&self) -> Option<&'a Value> {
        self.value
    }

    /// The `_name` companion of a primitive, if any.
    pub fn extras(&self) -> Option<&'a Value> {
        self.extras
    }

    /// The FHIR type name (`HumanName`, `code`, `Patient`, `BackboneElement`),
    /// or `None` when the model does not describe the node.
    pub fn type_name(&self) -> Option<&'static str> {
        match self.ty {
            NodeType::Known { name, .. } => Some(name),
            NodeType::Unknown => None,
        }
    }

    pub(super) fn object(&self) -> Option<&'a Map<String, Value>> {
        self.value.and_then(Value::as_object)
    }

    /// Whether the node is a FHIR primitive (by type, or for untyped JSON by shape).
    pub fn is_primitive(&self) -> bool {
        match self.ty {
            NodeType::Known { def, path, .. } => path.is_empty() && def.kind == Kind::PrimitiveType,
            NodeType::Unknown => !matches!(self.value, Some(Value::Object(_)) | None),
        }
    }

    /// Whether the node is a resource.
    pub fn is_resource(&self) -> bool {
        match self.ty {
            NodeType::Known { def, path, .. } => path.is_empty() && def.kind == Kind::Resource,
            NodeType::Unknown => self.object().is_some_and(|o| o.contains_key("resourceType")),
        }
    }

    /// The resource type of a resource node.
    pub fn resource_type(&self) -> Option<&'a str> {
        self.object()?.get("resourceType")?.as_str()
    }

    /// The System value of a primitive node, by its FHIR type (`date` → Date,
    /// `integer` → Integer…); untyped JSON maps by its JSON kind. Complex
    /// nodes have none, except `Quantity` and its specializations.
    pub fn to_system(&self) -> Option<Item<'a>> {
        let type_name = self.type_name();
        if let Some(name) = type_name {
            if !self.is_primitive() {
                return self.quantity().map(Item::Quantity);
            }
            let value = self.value?;
            return primitive_value(name, value);
        }
        match self.value? {
            Value::Bool(b) => Some(Item::Boolean(*b)),
            Value::String(s) => Some(Item::String(Cow::Borrowed(s))),
            Value::Number(n) => number_value(n.as_str(), false),
            _ => None,
        }
    }

    /// A FHIR `Quantity` (or `Age`, `Duration`…) as a System quantity: its
    /// UCUM code when coded in UCUM, else its human unit.
    pub fn quantity(&self) -> Option<Quantity> {
        let name = self.type_name()?;
        if !definitions::r4().is_a(name, "Quantity") {
            return None;
        }
        let object = self.object()?;
        let value = decimal(object.get("value")?)?;
        let ucum = object.get("system").and_then(Value::as_str) == Some("http://unitsofmeasure.org");
        let unit = match (ucum, object.get("code").and_then(Value::as_str)) {
            (true, Some(code)) => code,
            _ => object.get("unit").and_then(Value::as_str).unwrap_or("1"),
        };
        Some(Quantity {
            value,
            unit: unit.to_owned(),
            calendar: false,
        })
    }

    /// The node's FHIR type definition and the backbone path inside it.
    pub(super) fn known(&self) -> Option<(&'static TypeDef, &'static str)> {
        match self.ty {
            NodeType::Known { def, path, .. } => Some((def, path)),
            NodeType::Unknown => None,
        }
    }
}

impl NodeType {
    pub(super) fn of(def: &'static TypeDef) -> NodeType {
        NodeType::Known {
            def,
            path: "",
            name: def.name,
        }
    }
}

/// The System value of a primitive of FHIR type `name`.
fn primitive_value<'a>(name: &str, value: &'a Value) -> Option<Item<'a>> {
    match (name, value) {
        ("boolean", Value::Bool(b)) => Some(Item::Boolean(*b)),
        ("integer" | "positiveInt" | "unsignedInt", Value::Number(n)) => number_value(n.as_str(), false),
        ("decimal", Value::Number(n)) => number_value(n.as_str(), true),
        ("date", Value::String(s)) => Date::parse(s).map(Item::Date),
        ("dateTime" | "instant", Value::String(s)) => DateTime::parse(s).map(Item::DateTime),
        ("time", Value::String(s)) => Time::parse(s).map(Item::Time),
        (_, Value::String(s)) => Some(Item::String(Cow::Borrowed(s))),
        (_, Value::Bool(b)) => Some(Item::Boolean(*b)),
        (_, Value::Number(n)) => number_value(n.as_str(), false),
        _ => None,
    }
}

/// A JSON number: an Integer when written without fraction or exponent
/// (unless the type says decimal), otherwise a Decimal keeping its digits.
fn number_value<'a>(text: &str, is_decimal: bool) -> Option<Item<'a>> {
    if !is_decimal && !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Item::Integer(i));
        }
    }
    parse_decimal(text).map(Item::Decimal)
}

/// A JSON number as a Decimal, keeping its scale (`1.50` stays `1.50`).
pub(super) fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => parse_decimal(n.as_str()),
        _ => None,
    }
}

/// Decimal text, plain or in exponent form.
pub(super) fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse().ok()
    }
}

impl<'a> Item<'a> {
    /// The System value of the item: itself, or a node's primitive value.
    pub fn system(&self) -> Option<Item<'a>> {
        match self {
            Item::Node(node) => node.to_system(),
            other => Some(other.clone()),
        }
    }

    /// The item as FHIR JSON: a node's own JSON (`null` for one with only
    /// extensions), a System value as its natural JSON form — quantities as
    /// `{"value", "unit"}`, dates and times as their FHIRPath text.
    pub fn to_json(&self) -> Value {
        match self {
            Item::Node(node) => node.value.cloned().unwrap_or(Value::Null),
            Item::Boolean(b) => Value::Bool(*b),
            Item::Integer(i) => Value::from(*i),
            Item::Decimal(d) => decimal_json(*d),
            Item::String(s) => Value::String(s.to_string()),
            Item::Date(d) => Value::String(d.to_string()),
            Item::DateTime(d) => Value::String(d.to_string()),
            Item::Time(t) => Value::String(t.to_string()),
            Item::Quantity(q) => {
                let mut object = Map::new();
                object.insert("value".into(), decimal_json(q.value));
                object.insert("unit".into(), Value::String(q.unit.clone()));
                Value::Object(object)
            }
            Item::Type(info) => {
                let mut object = Map::new();
                object.insert("namespace".into(), Value::String(info.namespace.into()));
                object.insert("name".into(), Value::String(info.name.clone()));
                Value::Object(object)
            }
        }
    }

    /// The type name as the FHIRPath test suite writes it: FHIR types for
    /// nodes (`code`, `HumanName`), System types in lower case otherwise
    /// (`string`, `integer`, `Quantity`).
    pub fn type_label(&self) -> Cow<'static, str> {
        match self {
            Item::Node(node) => Cow::Borrowed(node.type_name().unwrap_or("Element")),
            Item::Boolean(_) => Cow::Borrowed("boolean"),
            Item::Integer(_) => Cow::Borrowed("integer"),
            Item::Decimal(_) => Cow::Borrowed("decimal"),
            Item::String(_) => Cow::Borrowed("string"),
            Item::Date(_) => Cow::Borrowed("date"),
            Item::DateTime(_) => Cow::Borrowed("dateTime"),
            Item::Time(_) => Cow::Borrowed("time"),
            Item::Quantity(_) => Cow::Borrowed("Quantity"),
            Item::Type(_) => Cow::Borrowed("TypeInfo"),
        }
    }

    /// The item's string form for string functions: strings themselves, or
    /// a node's string-like primitive value.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self {
            Item::String(s) => Some(s.clone()),
            Item::Node(node) => match node.to_system()? {
                Item::String(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A decimal as a JSON number with the same digits.
fn decimal_json(d: Decimal) -> Value {
    serde_json::from_str(&d.to_string()).unwrap_or(Value::Null)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.calendar {
            write!(f, "{} {}", self.value, self.unit)
        } else {
            write!(f, "{} '{}'", self.value, self.unit)
        }
    }
}
