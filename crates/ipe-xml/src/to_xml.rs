//! FHIR JSON → FHIR XML.
//!
//! serde_json parses the document first (with `arbitrary_precision`, so
//! decimals stay text) and [`prepare`] fixes what fhirbolt's element model
//! cannot take: it needs `resourceType` as the first key of every resource
//! (JSON allows any order) and does not know which names are resource
//! types; and narratives are swapped for placeholders (see
//! [`crate::narrative`]). fhirbolt then writes the XML, which
//! [`crate::xml_output`] finishes.

use serde_json::{Map, Value};

use crate::narrative::{self, Stash};
use crate::{resource_types, xml_output, R4Element, XmlError};

/// The UTF-8 byte order mark, which JSON parsers may ignore (RFC 8259 §8.1)
/// and Windows tools like to write.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

pub(crate) fn convert(json: &[u8], pretty: bool) -> Result<String, XmlError> {
    let json = json.strip_prefix(BYTE_ORDER_MARK).unwrap_or(json);
    let mut value: Value = serde_json::from_slice(json).map_err(XmlError::MalformedJson)?;
    check_is_resource(&value)?;
    let mut stash = Stash::default();
    prepare(&mut value, &mut stash)?;
    let element: R4Element =
        fhirbolt::json::from_json_value(value, None).map_err(|e| XmlError::InvalidResource(e.to_string()))?;
    let xml = fhirbolt::xml::to_string(&element, None).map_err(|e| XmlError::InvalidResource(e.to_string()))?;
    xml_output::finish(&xml, pretty, &mut stash)
}

/// fhirbolt's own message for a non-resource is obscure; say it plainly.
fn check_is_resource(value: &Value) -> Result<(), XmlError> {
    match value.get("resourceType") {
        Some(Value::String(_)) => Ok(()),
        _ => Err(XmlError::InvalidResource(
            "expected a JSON object with a \"resourceType\" string".into(),
        )),
    }
}

/// Checks every `resourceType`, moves it first in its object and stashes
/// every narrative.
fn prepare(value: &mut Value, stash: &mut Stash) -> Result<(), XmlError> {
    match value {
        Value::Object(object) => {
            match object.get("resourceType") {
                None => {}
                Some(Value::String(name)) => resource_types::check(name)?,
                Some(_) => return Err(XmlError::InvalidResource("\"resourceType\" must be a string".into())),
            }
            resource_type_first(object);
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(div) if key == "div" => {
                        let checked = narrative::check_json_div(div)?.into_owned();
                        *div = stash.put(checked);
                    }
                    _ => prepare(child, stash)?,
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                prepare(item, stash)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// fhirbolt learns which resource it is in from `resourceType` and judges
/// every later key against that type, so a key seen before it is rejected
/// as unknown. (Objects that are not resources but have a `resourceType`
/// field, like `ExampleScenario.instance`, do not care about order.)
fn resource_type_first(object: &mut Map<String, Value>) {
    if object.keys().next().map(String::as_str) == Some("resourceType") {
        return;
    }
    if let Some(resource_type) = object.remove("resourceType") {
        let rest = std::mem::take(object);
        object.insert("resourceType".into(), resource_type);
        object.extend(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON puts keys in any order; fhirbolt insists on resourceType first.
    #[test]
    fn moves_resource_type_first_in_nested_resources() {
        let mut value: Value = serde_json::from_str(
            r#"{"id":"b","resourceType":"Bundle","entry":[{"resource":{"id":"p","resourceType":"Patient"}}]}"#,
        )
        .unwrap();
        prepare(&mut value, &mut Stash::default()).unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"resourceType":"Bundle","id":"b","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}"#
        );
    }
}
