//! Reading a `Parameters` resource into FHIRPath Patch operations, checking
//! every part (<https://hl7.org/fhir/R4/fhirpatch.html>). Every error names
//! the offending element, e.g. `Parameters.parameter[2].part[1]`.

use serde_json::{Map, Value};

use super::super::PatchError;
use crate::fhirpath::Expression;
use crate::model::definitions::{self, ElementDef};
use crate::outcome::IssueType;

/// One `operation` parameter.
#[derive(Debug)]
pub(super) struct Operation {
    /// `Parameters.parameter[i]`, to locate errors.
    pub(super) at: String,
    pub(super) path: Expression,
    pub(super) kind: Kind,
}

#[derive(Debug)]
pub(super) enum Kind {
    Add { name: String, value: PatchValue },
    Insert { index: usize, value: PatchValue },
    Delete,
    Replace { value: PatchValue },
    Move { source: usize, destination: usize },
}

impl Kind {
    pub(super) fn value_mut(&mut self) -> Option<&mut PatchValue> {
        match self {
            Kind::Add { value, .. } | Kind::Insert { value, .. } | Kind::Replace { value } => Some(value),
            Kind::Delete | Kind::Move { .. } => None,
        }
    }

    pub(super) fn code(&self) -> &'static str {
        match self {
            Kind::Add { .. } => "add",
            Kind::Insert { .. } => "insert",
            Kind::Delete => "delete",
            Kind::Replace { .. } => "replace",
            Kind::Move { .. } => "move",
        }
    }
}

/// The `value` of an operation (or of one of its parts).
#[derive(Debug)]
pub(super) enum PatchValue {
    /// A `value[x]`: its type, its JSON, and for a primitive its `_value[x]`
    /// companion (id and extensions). `json` is `None` for a primitive given
    /// only through its extensions.
    Typed {
        type_code: &'static str,
        json: Option<Value>,
        extras: Option<Value>,
    },
    /// A `resource` (for `contained` and other elements holding a resource).
    Resource(Value),
    /// A value with no type name of its own (a backbone element such as
    /// `Patient.contact`), given as one part per child element.
    Parts(Vec<NamedValue>),
}

/// One child element of a [`PatchValue::Parts`] value.
#[derive(Debug)]
pub(super) struct NamedValue {
    pub(super) name: String,
    pub(super) value: PatchValue,
    /// Where the part is, to locate errors.
    pub(super) at: String,
}

impl PatchValue {
    /// Pushes every piece of JSON the value holds.
    pub(super) fn collect_json_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Value>) {
        match self {
            PatchValue::Typed { json, extras, .. } => out.extend(json.iter_mut().chain(extras.iter_mut())),
            PatchValue::Resource(resource) => out.push(resource),
            PatchValue::Parts(parts) => {
                for part in parts {
                    part.value.collect_json_mut(out);
                }
            }
        }
    }

    /// The FHIR type the value declares, if it names one.
    pub(super) fn type_code(&self) -> Option<&str> {
        match self {
            PatchValue::Typed { type_code, .. } => Some(type_code),
            PatchValue::Resource(resource) => resource.get("resourceType").and_then(Value::as_str),
            PatchValue::Parts(_) => None,
        }
    }
}

/// The names an operation's parts may have.
const PART_NAMES: [&str; 7] = ["type", "path", "name", "value", "index", "source", "destination"];

pub(super) fn operations(parameters: &Value) -> Result<Vec<Operation>, PatchError> {
    let resource_type = parameters.get("resourceType").and_then(Value::as_str);
    if resource_type != Some("Parameters") {
        return Err(invalid(
            IssueType::Invalid,
            format!(
                "a FHIRPath Patch is a Parameters resource, not {}",
                resource_type.unwrap_or("a body without resourceType")
            ),
            None,
        ));
    }
    let parameters = match parameters.get("parameter") {
        None => return Ok(Vec::new()),
        Some(Value::Array(parameters)) => parameters,
        Some(_) => {
            return Err(invalid(
                IssueType::Structure,
                "Parameters.parameter must be an array",
                Some("Parameters.parameter".into()),
            ))
        }
    };
    parameters
        .iter()
        .enumerate()
        .map(|(i, parameter)| operation(parameter, &format!("Parameters.parameter[{i}]")))
        .collect()
}

fn operation(parameter: &Value, at: &str) -> Result<Operation, PatchError> {
    let parameter = object(parameter, at)?;
    let name = parameter.get("name").and_then(Value::as_str);
    if name != Some("operation") {
        return Err(invalid(
            IssueType::Value,
            format!(
                "every parameter of a FHIRPath Patch is named 'operation', not {}",
                name.map_or("nothing".into(), |n| format!("'{n}'"))
            ),
            Some(format!("{at}.name")),
        ));
    }
    if has_value(parameter) {
        return Err(invalid(
            IssueType::Structure,
            "an operation gives its type, path and value as parts, not as a value of its own",
            Some(at.to_string()),
        ));
    }
    let parts = Parts::read(parameter, at)?;
    let type_code = parts
        .text("type")?
        .ok_or_else(|| missing(at, "type", "every operation"))?;
    let path = parts.path()?.ok_or_else(|| missing(at, "path", "every operation"))?;
    let kind = match type_code.as_str() {
        "add" => {
            parts.allow_only(&["type", "path", "name", "value"], "add")?;
            Kind::Add {
                name: parts.text("name")?.ok_or_else(|| missing(at, "name", "add"))?,
                value: parts.value()?.ok_or_else(|| missing(at, "value", "add"))?,
            }
        }
        "insert" => {
            parts.allow_only(&["type", "path", "index", "value"], "insert")?;
            Kind::Insert {
                index: parts.index("index")?.ok_or_else(|| missing(at, "index", "insert"))?,
                value: parts.value()?.ok_or_else(|| missing(at, "value", "insert"))?,
            }
        }
        "delete" => {
            parts.allow_only(&["type", "path"], "delete")?;
            Kind::Delete
        }
        "replace" => {
            parts.allow_only(&["type", "path", "value"], "replace")?;
            Kind::Replace {
                value: parts.value()?.ok_or_else(|| missing(at, "value", "replace"))?,
            }
        }
        "move" => {
            parts.allow_only(&["type", "path", "source", "destination"], "move")?;
            Kind::Move {
                source: parts.index("source")?.ok_or_else(|| missing(at, "source", "move"))?,
                destination: parts
                    .index("destination")?
                    .ok_or_else(|| missing(at, "destination", "move"))?,
            }
        }
        other => {
            return Err(invalid(
                IssueType::Value,
                format!("unknown operation type '{other}': use add, insert, delete, replace or move"),
                parts.at("type"),
            ))
        }
    };
    Ok(Operation {
        at: at.to_string(),
        path,
        kind,
    })
}

/// The parts of one operation by name, each with its location.
struct Parts<'a> {
    found: Vec<(&'a str, &'a Map<String, Value>, String)>,
}

impl<'a> Parts<'a> {
    fn read(parameter: &'a Map<String, Value>, at: &str) -> Result<Self, PatchError> {
        let Some(Value::Array(parts)) = parameter.get("part") else {
            return Err(invalid(
                IssueType::Required,
                "an operation needs parts (type, path, …)",
                Some(at.to_string()),
            ));
        };
        let mut found = Vec::with_capacity(parts.len());
        for (j, part) in parts.iter().enumerate() {
            let part_at = format!("{at}.part[{j}]");
            let part = object(part, &part_at)?;
            let name = part.get("name").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    IssueType::Required,
                    "a part needs a name",
                    Some(format!("{part_at}.name")),
                )
            })?;
            if !PART_NAMES.contains(&name) {
                return Err(invalid(
                    IssueType::Value,
                    format!("unknown part '{name}': an operation has {}", PART_NAMES.join(", ")),
                    Some(format!("{part_at}.name")),
                ));
            }
            if found.iter().any(|(n, _, _)| *n == name) {
                return Err(invalid(
                    IssueType::Duplicate,
                    format!("the part '{name}' is given twice"),
                    Some(part_at),
                ));
            }
            found.push((name, part, part_at));
        }
        Ok(Parts { found })
    }

    fn get(&self, name: &str) -> Option<(&'a Map<String, Value>, &str)> {
        self.found
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, part, at)| (*part, at.as_str()))
    }

    fn at(&self, name: &str) -> Option<String> {
        self.get(name).map(|(_, at)| at.to_string())
    }

    /// Refuses parts that the operation type does not take, rather than
    /// silently ignoring what the client meant.
    fn allow_only(&self, allowed: &[&str], type_code: &str) -> Result<(), PatchError> {
        match self.found.iter().find(|(name, _, _)| !allowed.contains(name)) {
            None => Ok(()),
            Some((name, _, at)) => Err(invalid(
                IssueType::Invalid,
                format!(
                    "'{type_code}' does not take a '{name}' part (it takes {})",
                    allowed.join(", ")
                ),
                Some(at.clone()),
            )),
        }
    }

    /// A part whose value is text (`valueString`, or `valueCode` for the type).
    fn text(&self, name: &str) -> Result<Option<String>, PatchError> {
        let Some((part, at)) = self.get(name) else {
            return Ok(None);
        };
        match typed_value(part, at)? {
            Some(("string" | "code" | "uri", Value::String(text))) if !text.is_empty() => Ok(Some(text.clone())),
            _ => Err(invalid(
                IssueType::Value,
                format!("the '{name}' part needs a non-empty valueString"),
                Some(at.to_string()),
            )),
        }
    }

    fn path(&self) -> Result<Option<Expression>, PatchError> {
        let Some(text) = self.text("path")? else {
            return Ok(None);
        };
        Expression::compile(&text).map(Some).map_err(|e| {
            invalid(
                IssueType::Value,
                format!("the path '{text}' is not a valid FHIRPath expression: {e}"),
                self.at("path"),
            )
        })
    }

    /// A part whose value is a list index (`valueInteger`, 0 or more).
    fn index(&self, name: &str) -> Result<Option<usize>, PatchError> {
        let Some((part, at)) = self.get(name) else {
            return Ok(None);
        };
        let index = match typed_value(part, at)? {
            Some(("integer" | "unsignedInt" | "positiveInt", Value::Number(n))) => {
                n.as_u64().and_then(|n| usize::try_from(n).ok())
            }
            _ => None,
        };
        index.map(Some).ok_or_else(|| {
            invalid(
                IssueType::Value,
                format!("the '{name}' part needs a valueInteger of 0 or more"),
                Some(at.to_string()),
            )
        })
    }

    fn value(&self) -> Result<Option<PatchValue>, PatchError> {
        match self.get("value") {
            None => Ok(None),
            Some((part, at)) => patch_value(part, at).map(Some),
        }
    }
}

/// The value of a `value` part, or of a part inside one: a `value[x]`, a
/// `resource`, or parts for an element with no type name.
fn patch_value(part: &Map<String, Value>, at: &str) -> Result<PatchValue, PatchError> {
    let typed = typed_value_key(part, at)?;
    let resource = part.get("resource");
    let parts = part.get("part");
    match (typed, resource, parts) {
        (Some((key, type_code)), None, None) => Ok(PatchValue::Typed {
            type_code,
            json: part.get(key).filter(|v| !v.is_null()).cloned(),
            extras: part.get(&format!("_{key}")).cloned(),
        }),
        (None, Some(resource), None) if resource.is_object() => Ok(PatchValue::Resource(resource.clone())),
        (None, None, Some(Value::Array(parts))) if !parts.is_empty() => value_parts(parts, at).map(PatchValue::Parts),
        (None, None, None) => Err(invalid(
            IssueType::Required,
            "the value is missing: give a value[x], a resource, or parts",
            Some(at.to_string()),
        )),
        _ => Err(invalid(
            IssueType::Invalid,
            "a value is exactly one of a value[x], a resource, or a non-empty list of parts",
            Some(at.to_string()),
        )),
    }
}

fn value_parts(parts: &[Value], at: &str) -> Result<Vec<NamedValue>, PatchError> {
    parts
        .iter()
        .enumerate()
        .map(|(j, part)| {
            let part_at = format!("{at}.part[{j}]");
            let part = object(part, &part_at)?;
            let name = part.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
            let name = name.ok_or_else(|| {
                invalid(
                    IssueType::Required,
                    "each part of a value needs the name of the element it sets",
                    Some(format!("{part_at}.name")),
                )
            })?;
            Ok(NamedValue {
                name: name.to_string(),
                value: patch_value(part, &part_at)?,
                at: part_at,
            })
        })
        .collect()
}

/// The `value[x]` of a part: its type and JSON.
fn typed_value<'a>(part: &'a Map<String, Value>, at: &str) -> Result<Option<(&'static str, &'a Value)>, PatchError> {
    Ok(typed_value_key(part, at)?.and_then(|(key, type_code)| part.get(key).map(|v| (type_code, v))))
}

/// The key of a part's `value[x]` (`valueDate`, or `_valueDate` alone for a
/// primitive with only extensions) and the type it names.
fn typed_value_key<'a>(part: &'a Map<String, Value>, at: &str) -> Result<Option<(&'a str, &'static str)>, PatchError> {
    let mut found: Option<(&str, &'static str)> = None;
    for key in part.keys() {
        let name = key.strip_prefix('_').unwrap_or(key);
        if !name.starts_with("value") {
            continue;
        }
        let type_code = value_element()
            .and_then(|element| element.choice_type(name))
            .ok_or_else(|| {
                invalid(
                    IssueType::Value,
                    format!("'{key}' is not a value[x] a parameter can have"),
                    Some(format!("{at}.{key}")),
                )
            })?;
        match found {
            Some((other, _)) if other != name => {
                return Err(invalid(
                    IssueType::Invalid,
                    format!("a part has one value[x], not both {other} and {name}"),
                    Some(at.to_string()),
                ))
            }
            _ => found = Some((name, type_code)),
        }
    }
    Ok(found)
}

/// `Parameters.parameter.value[x]`, whose types are those a part may carry.
fn value_element() -> Option<&'static ElementDef> {
    definitions::r4().get("Parameters")?.element("parameter", "value")
}

fn has_value(parameter: &Map<String, Value>) -> bool {
    parameter.contains_key("resource") || parameter.keys().any(|k| k.trim_start_matches('_').starts_with("value"))
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, PatchError> {
    value
        .as_object()
        .ok_or_else(|| invalid(IssueType::Structure, "expected an object", Some(at.to_string())))
}

fn missing(at: &str, part: &str, needs: &str) -> PatchError {
    invalid(
        IssueType::Required,
        format!("{needs} needs a '{part}' part"),
        Some(at.to_string()),
    )
}

fn invalid(code: IssueType, message: impl Into<String>, expression: Option<String>) -> PatchError {
    PatchError::Invalid {
        code,
        message: message.into(),
        expression,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operation_json(parts: Value) -> Value {
        json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]})
    }

    /// The expression of the error an invalid document gives.
    fn error_at(doc: &Value) -> Option<String> {
        match operations(doc) {
            Err(PatchError::Invalid { expression, .. }) => expression,
            other => panic!("expected an invalid-document error, got {other:?}"),
        }
    }

    #[test]
    fn a_full_operation_is_read_with_its_typed_value_and_extensions() {
        let doc = operation_json(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "birthDate"},
            {"name": "value", "valueDate": "1930-01-01", "_valueDate": {"id": "d"}},
        ]));
        let ops = operations(&doc).expect("valid");
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].at, "Parameters.parameter[0]");
        let Kind::Add { name, value } = &ops[0].kind else {
            panic!("add expected")
        };
        assert_eq!(name, "birthDate");
        let PatchValue::Typed {
            type_code,
            json,
            extras,
        } = value
        else {
            panic!("typed value expected")
        };
        assert_eq!(
            (*type_code, json.clone(), extras.clone()),
            ("date", Some(json!("1930-01-01")), Some(json!({"id": "d"})))
        );
    }

    #[test]
    fn an_empty_parameters_resource_is_an_empty_patch() {
        let ops = operations(&json!({"resourceType": "Parameters"})).expect("valid");
        assert!(ops.is_empty());
    }

    #[test]
    fn errors_name_the_parameter_and_part_at_fault() {
        let bad_type = operation_json(json!([
            {"name": "type", "valueCode": "upsert"},
            {"name": "path", "valueString": "Patient"},
        ]));
        assert_eq!(error_at(&bad_type).as_deref(), Some("Parameters.parameter[0].part[0]"));
        let bad_path = operation_json(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.name.where("},
        ]));
        assert_eq!(error_at(&bad_path).as_deref(), Some("Parameters.parameter[0].part[1]"));
        let no_value = operation_json(json!([
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient.active"},
        ]));
        assert_eq!(error_at(&no_value).as_deref(), Some("Parameters.parameter[0]"));
        let negative = operation_json(json!([
            {"name": "type", "valueCode": "move"},
            {"name": "path", "valueString": "Patient.name"},
            {"name": "source", "valueInteger": -1},
            {"name": "destination", "valueInteger": 0},
        ]));
        assert_eq!(error_at(&negative).as_deref(), Some("Parameters.parameter[0].part[2]"));
        let stray = operation_json(json!([
            {"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.active"},
            {"name": "value", "valueBoolean": true},
        ]));
        assert_eq!(error_at(&stray).as_deref(), Some("Parameters.parameter[0].part[2]"));
        let not_parameters = json!({"resourceType": "Patient"});
        assert_eq!(error_at(&not_parameters), None);
        let misnamed = json!({"resourceType": "Parameters", "parameter": [{"name": "op", "part": []}]});
        assert_eq!(error_at(&misnamed).as_deref(), Some("Parameters.parameter[0].name"));
    }

    #[test]
    fn values_given_as_parts_keep_their_names_and_nesting() {
        let doc = operation_json(json!([
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "contact"},
            {"name": "value", "part": [
                {"name": "name", "valueHumanName": {"text": "a name"}},
                {"name": "gender", "valueCode": "male"},
            ]},
        ]));
        let ops = operations(&doc).expect("valid");
        let Kind::Add {
            value: PatchValue::Parts(parts),
            ..
        } = &ops[0].kind
        else {
            panic!("parts expected")
        };
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["name", "gender"]);
        assert_eq!(parts[1].at, "Parameters.parameter[0].part[3].part[1]");
    }

    #[test]
    fn a_value_part_with_two_values_is_refused() {
        let doc = operation_json(json!([
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient.active"},
            {"name": "value", "valueBoolean": true, "valueString": "yes"},
        ]));
        assert_eq!(error_at(&doc).as_deref(), Some("Parameters.parameter[0].part[2]"));
    }
}
