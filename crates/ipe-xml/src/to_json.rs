//! FHIR XML → FHIR JSON.
//!
//! [`crate::xml_input`] checks the document and takes the narratives out;
//! fhirbolt parses it into its untyped element model and writes that as
//! JSON; in between, Ipê checks the resource types and puts the narratives
//! back.

use fhirbolt::element::{Primitive, Value};

use crate::xml_input::{self, Prepared};
use crate::{narrative, resource_types, R4Element, XmlError};

pub(crate) fn convert(xml: &[u8]) -> Result<String, XmlError> {
    let Prepared { xml, mut stash } = xml_input::prepare(xml)?;
    let mut element: R4Element =
        fhirbolt::xml::from_slice(&xml, None).map_err(|e| XmlError::InvalidResource(e.to_string()))?;
    check_resource_types(&element)?;
    narrative::restore(&mut element, &mut stash);
    stash.check_all_placed()?;
    fhirbolt::json::to_string(&element, None).map_err(|e| XmlError::InvalidResource(e.to_string()))
}

/// Rejects resources whose type R4 does not define (fhirbolt accepts any
/// capitalised element name as one). A resource's type is the one key whose
/// value is a bare string; the `resourceType` field of
/// `ExampleScenario.instance` is an ordinary element and looks different.
fn check_resource_types(element: &R4Element) -> Result<(), XmlError> {
    for (key, value) in element.iter() {
        match value {
            Value::Primitive(Primitive::String(name)) if key == "resourceType" => {
                resource_types::check(name)?;
            }
            Value::Element(child) => check_resource_types(child)?,
            Value::Sequence(children) => children.iter().try_for_each(check_resource_types)?,
            Value::Primitive(_) => {}
        }
    }
    Ok(())
}
