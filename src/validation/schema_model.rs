//! The shape of every FHIR type as the R4 JSON Schema describes it — which
//! properties a type has, whether they repeat, and what they hold — indexed
//! for the checks the schema itself cannot make (`rules.rs`).

use std::collections::HashMap;

use serde_json::Value;

use super::structural::SchemaLoadError;

/// Index of a definition in [`TypeModel`].
pub(crate) type DefId = usize;

/// What a property holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An object of a complex type, backbone element or `Element` (`_x`).
    Complex(DefId),
    /// A primitive value (a code list counts as a `code`).
    Primitive(Primitive),
    /// A whole resource: `contained`, `Bundle.entry.resource`, …
    Resource,
    /// `resourceType`, fixed by the schema.
    Fixed,
}

/// The primitives whose JSON form needs checks beyond the schema's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Primitive {
    Integer,
    PositiveInt,
    UnsignedInt,
    /// A JSON number that needs no further check (decimal).
    Number,
    Boolean,
    /// Everything written as a JSON string.
    Text,
    /// Narrative XHTML (`Narrative.div`): a string that must also be one
    /// well-formed XHTML `div`, so that the resource can be served as XML.
    Xhtml,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Property {
    pub array: bool,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) struct Definition {
    pub properties: HashMap<String, Property>,
    /// Mandatory choice elements: base name (`medication`) and the JSON names
    /// of its types, one of which must be present. JSON Schema cannot say
    /// this briefly; the generating script records it as `x-requiredChoice`.
    pub required_choices: Vec<(String, Vec<String>)>,
}

#[derive(Debug)]
pub(crate) struct TypeModel {
    ids: HashMap<String, DefId>,
    defs: Vec<Definition>,
}

impl TypeModel {
    /// Reads the `definitions` of the (compacted) R4 schema.
    pub fn from_schema(schema: &Value) -> Result<Self, SchemaLoadError> {
        let definitions = schema
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaLoadError::Malformed("no definitions".to_owned()))?;
        let ids: HashMap<String, DefId> = definitions
            .keys()
            .enumerate()
            .map(|(id, name)| (name.clone(), id))
            .collect();
        let mut defs = Vec::with_capacity(definitions.len());
        for (name, definition) in definitions {
            let mut properties = HashMap::new();
            if let Some(props) = definition.get("properties").and_then(Value::as_object) {
                for (prop_name, prop) in props {
                    let property = property(prop, definitions, &ids)
                        .ok_or_else(|| SchemaLoadError::Malformed(format!("{name}.{prop_name}")))?;
                    properties.insert(prop_name.clone(), property);
                }
            }
            let required_choices = required_choices(definition)
                .ok_or_else(|| SchemaLoadError::Malformed(format!("{name}.x-requiredChoice")))?;
            defs.push(Definition {
                properties,
                required_choices,
            });
        }
        Ok(TypeModel { ids, defs })
    }

    pub fn id(&self, name: &str) -> Option<DefId> {
        self.ids.get(name).copied()
    }

    pub fn def(&self, id: DefId) -> &Definition {
        &self.defs[id]
    }

    pub fn by_name(&self, name: &str) -> Option<&Definition> {
        self.id(name).map(|id| self.def(id))
    }
}

/// One property schema: `{"$ref"}`, `{"enum"}`, `{"const"}`, or
/// `{"type": "array", "items": …}` around the first two.
fn property(
    prop: &Value,
    definitions: &serde_json::Map<String, Value>,
    ids: &HashMap<String, DefId>,
) -> Option<Property> {
    if prop.get("const").is_some() {
        return Some(Property {
            array: false,
            kind: Kind::Fixed,
        });
    }
    let array = prop.get("type").and_then(Value::as_str) == Some("array");
    let target = if array { prop.get("items")? } else { prop };
    if target.get("enum").is_some() {
        return Some(Property {
            array,
            kind: Kind::Primitive(Primitive::Text),
        });
    }
    let name = target.get("$ref")?.as_str()?.strip_prefix("#/definitions/")?;
    let kind = if name == "ResourceList" {
        Kind::Resource
    } else if definitions.get(name)?.get("properties").is_some() {
        Kind::Complex(*ids.get(name)?)
    } else {
        Kind::Primitive(primitive(name))
    };
    Some(Property { array, kind })
}

/// `"x-requiredChoice": {"medication": ["medicationCodeableConcept", …]}`.
fn required_choices(definition: &Value) -> Option<Vec<(String, Vec<String>)>> {
    let Some(choices) = definition.get("x-requiredChoice") else {
        return Some(Vec::new());
    };
    choices
        .as_object()?
        .iter()
        .map(|(base, names)| {
            let names = names
                .as_array()?
                .iter()
                .map(|name| name.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?;
            Some((base.clone(), names))
        })
        .collect()
}

fn primitive(name: &str) -> Primitive {
    match name {
        "integer" => Primitive::Integer,
        "positiveInt" => Primitive::PositiveInt,
        "unsignedInt" => Primitive::UnsignedInt,
        "decimal" => Primitive::Number,
        "boolean" => Primitive::Boolean,
        "xhtml" => Primitive::Xhtml,
        _ => Primitive::Text,
    }
}
