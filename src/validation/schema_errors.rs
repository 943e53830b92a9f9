//! Turns the JSON Schema validator's errors into findings that say, in FHIR
//! terms, what was expected and what was found.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use super::findings::{child, describe, parse_pointer, Finding, Segment, Source};
use super::schema_model::TypeModel;
use crate::outcome::IssueType;

/// Where in the schema an error arose, from its schema path: either a type
/// definition's own keyword (`/definitions/date/pattern`) or a property's
/// (`/definitions/Patient/properties/gender/enum`).
struct SchemaPlace<'e> {
    definition: &'e str,
    property: Option<&'e str>,
}

fn schema_place(schema_path: &str) -> Option<SchemaPlace<'_>> {
    let mut parts = schema_path.strip_prefix("/definitions/")?.split('/');
    let definition = parts.next()?;
    let property = match parts.next() {
        Some("properties") => parts.next(),
        _ => None,
    };
    Some(SchemaPlace { definition, property })
}

/// The findings for one schema error on `instance` (a resource located at
/// `prefix`).
pub(crate) fn findings(
    error: &ValidationError<'_>,
    instance: &Value,
    prefix: &[Segment],
    model: &TypeModel,
    out: &mut Vec<Finding>,
) {
    let pointer = parse_pointer(prefix, error.instance_path().as_str(), instance);
    let place = schema_place(error.schema_path().as_str());
    let definition = place.as_ref().map_or("", |p| p.definition);
    let found = error.instance();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                let message = unknown_element(model, definition, name);
                out.push(
                    Finding::new(
                        child(&pointer, Segment::Key(name.clone())),
                        IssueType::Structure,
                        message,
                    )
                    .with_source(Source::Schema),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            // A primitive may be present through its extensions alone (`_x`),
            // which satisfies the cardinality; the schema does not know that.
            if found.get(format!("_{name}")).is_some() {
                return;
            }
            out.push(
                Finding::new(
                    child(&pointer, Segment::Key(name.to_owned())),
                    IssueType::Required,
                    format!("missing required element '{name}'"),
                )
                .with_source(Source::Schema),
            );
        }
        // Whether a null is allowed depends on its `_x` partner; the rules
        // decide that and report every null that is not.
        ValidationErrorKind::Type { .. } if found.is_null() => {}
        ValidationErrorKind::Type { kind } => {
            let expected = expected_kind(kind);
            let message = match place.as_ref().and_then(|p| p.property) {
                Some(property) => format!(
                    "'{property}' repeats, so it must be {expected}; found {}",
                    describe(found)
                ),
                None => format!(
                    "expected {expected}{}, found {}",
                    fhir_type_note(definition),
                    describe(found)
                ),
            };
            out.push(Finding::new(pointer, IssueType::Structure, message).with_source(Source::SchemaType));
        }
        ValidationErrorKind::Pattern { pattern } => {
            let message = format!(
                "{} is not a valid {definition}: {}",
                describe(found),
                format_hint(definition).unwrap_or(&format!("it must match {pattern}"))
            );
            out.push(Finding::new(pointer, IssueType::Value, message).with_source(Source::Schema));
        }
        ValidationErrorKind::Enum { options } => {
            let codes: Vec<String> = options
                .as_array()
                .map(|codes| codes.iter().map(code_text).collect())
                .unwrap_or_default();
            let message = format!(
                "{} is not a valid code here; expected one of: {}",
                describe(found),
                codes.join(", ")
            );
            out.push(Finding::new(pointer, IssueType::Value, message).with_source(Source::Schema));
        }
        ValidationErrorKind::Constant { expected_value } => {
            let message = format!("expected {}, found {}", describe(expected_value), describe(found));
            out.push(Finding::new(pointer, IssueType::Invalid, message).with_source(Source::Schema));
        }
        // The compacted R4 schema uses no other keyword; should one appear,
        // the library's own wording is still better than nothing.
        _ => out.push(Finding::new(pointer, IssueType::Structure, error.to_string()).with_source(Source::Schema)),
    }
}

/// The message for an element the type does not define, with a hint where a
/// likely intent is visible.
fn unknown_element(model: &TypeModel, definition: &str, name: &str) -> String {
    let Some(def) = model.by_name(definition) else {
        return format!("unknown element '{name}'");
    };
    if let Some(base) = name.strip_prefix('_') {
        if def.properties.contains_key(base) {
            return format!("unknown element '{name}': '{base}' is not a primitive, so it has no '_' extension part");
        }
    }
    // Case slips (`birthdate`) are the most common typo in hand-written JSON.
    let mut near: Vec<&String> = def
        .properties
        .keys()
        .filter(|known| known.eq_ignore_ascii_case(name))
        .collect();
    near.sort();
    match near.first() {
        Some(known) => format!("unknown element '{name}' (did you mean '{known}'?)"),
        None => format!("unknown element '{name}'"),
    }
}

/// Names the FHIR type behind a JSON kind, except where that says nothing
/// more: backbone elements (`Patient_Contact` in the schema, a name that means
/// nothing to a client) and the types named like their JSON kind.
fn fhir_type_note(definition: &str) -> String {
    if definition.is_empty() || definition.contains('_') || matches!(definition, "string" | "boolean") {
        String::new()
    } else {
        format!(" ({definition})")
    }
}

fn expected_kind(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(json_type) => json_kind(*json_type).to_owned(),
        TypeKind::Multiple(types) => types.iter().map(json_kind).collect::<Vec<_>>().join(" or "),
    }
}

fn json_kind(json_type: JsonType) -> &'static str {
    match json_type {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean (true or false)",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

fn code_text(code: &Value) -> String {
    code.as_str().map_or_else(|| code.to_string(), ToOwned::to_owned)
}

/// The format of each patterned primitive in words; the regular expression is
/// the fallback for anything not listed.
fn format_hint(definition: &str) -> Option<&'static str> {
    Some(match definition {
        "date" => "use YYYY, YYYY-MM or YYYY-MM-DD with a real month and day",
        "dateTime" => "use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +hh:mm)",
        "instant" => "use YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +hh:mm)",
        "time" => "use hh:mm:ss(.sss), without a time zone",
        "id" => "use 1 to 64 characters from A-Z, a-z, 0-9, '-' and '.'",
        "code" => "no leading or trailing whitespace and no runs of whitespace inside",
        "uri" | "url" | "canonical" => "no whitespace allowed",
        "oid" => "use urn:oid: followed by a dotted OID",
        "uuid" => "use urn:uuid: followed by a lower-case UUID",
        "string" | "markdown" => "it must contain at least one character",
        "base64Binary" => "use base64 encoding (groups of 4 characters from A-Z a-z 0-9 + / =)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_paths_name_the_type_or_the_property() {
        let place = schema_place("/definitions/date/pattern");
        assert_eq!(place.as_ref().map(|p| p.definition), Some("date"));
        assert_eq!(place.and_then(|p| p.property), None);
        let place = schema_place("/definitions/Patient/properties/gender/enum");
        assert_eq!(place.and_then(|p| p.property), Some("gender"));
    }
}
