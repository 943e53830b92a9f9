//! FHIR R4 XML ⇄ JSON conversion for Ipê.
//!
//! Inside Ipê a resource is its JSON; XML exists only at the HTTP edge. This
//! crate is the whole of that edge: two functions, [`xml_to_json`] and
//! [`json_to_xml`], and their error, [`XmlError`].
//!
//! # Why a separate crate
//!
//! The conversion is done by [fhirbolt] 0.4, whose serde code is generic:
//! it would be compiled (for minutes) into every crate that calls it, and
//! recompiled whenever that crate changes. Behind these two non-generic
//! functions it is compiled once, here. The facade also keeps fhirbolt's
//! types out of Ipê's API (errors are ours), and contains its flaws:
//!
//! - **Model.** fhirbolt's typed `Bundle` fails on real Bundles, and its
//!   typed model (feature `r4`) is most of its compile time. Ipê uses the
//!   untyped element model instead (`fhirbolt::element::Element`), which
//!   fhirbolt drives with its R4 structure tables: it knows which elements
//!   repeat, which are primitives and of what type, in what order XML wants
//!   them, and it rejects unknown elements. It does not know which names
//!   are resource types; Ipê checks those itself.
//! - **Decimals** keep their exact text both ways (`1.50` stays `1.50`):
//!   the element model holds a decimal as its text, and serde_json's
//!   `arbitrary_precision` (on in the workspace) reads and writes numbers as
//!   text.
//! - **Narrative.** fhirbolt trims the text of XHTML narrative and re-indents
//!   it, which glues words together. Ipê swaps each `div` for a placeholder
//!   around fhirbolt and carries the markup over verbatim ([`narrative`]).
//! - **Key order.** fhirbolt's JSON reader needs `resourceType` as the first
//!   key of every resource; [`json_to_xml`] reorders the input.
//! - **Panics.** fhirbolt and its XML parser unwrap in places; both
//!   functions catch panics and return [`XmlError::ConverterFailed`]. Input
//!   nesting is bounded so its recursive parser cannot overflow the stack.
//!
//! # Output
//!
//! JSON from [`xml_to_json`] is compact, with `resourceType` first in every
//! resource and then the elements in the order of the FHIR definitions,
//! each `_element` right after its `element`. XML from [`json_to_xml`] has
//! an XML declaration, elements in FHIR order, and the FHIR namespace
//! declared on the root.
//!
//! # Layout
//!
//! - `lib.rs`: the API, and the panic guard around it.
//! - `to_json.rs`: XML → JSON.
//! - `xml_input.rs`: a first pass of our own over incoming XML, which
//!   checks it and rewrites what fhirbolt would refuse or mangle.
//! - `to_xml.rs`: JSON → XML.
//! - `xml_output.rs`: the pass that finishes fhirbolt's XML output.
//! - `narrative.rs`: the verbatim handling of `text.div`, and its plain text.
//! - `resource_types.rs`: the R4 resource type names, which fhirbolt's
//!   element model does not check.
//! - `error.rs`: [`XmlError`].
//!
//! [fhirbolt]: https://docs.rs/fhirbolt/0.4

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use fhirbolt::element::Element;
use fhirbolt::FhirReleases;

mod error;
mod narrative;
mod resource_types;
mod to_json;
mod to_xml;
mod xml_input;
mod xml_output;

pub use error::XmlError;
pub use resource_types::R4_RESOURCE_TYPES;

/// A resource in fhirbolt's untyped element model, read with R4's rules.
type R4Element = Element<{ FhirReleases::R4 }>;

/// FHIR R4 XML (any resource, including Bundles) → FHIR JSON text.
///
/// The input must be UTF-8. Unknown elements are errors.
pub fn xml_to_json(xml: &[u8]) -> Result<String, XmlError> {
    catching_panics(|| to_json::convert(xml))
}

/// FHIR R4 JSON text (any resource) → FHIR XML text; `pretty` indents with
/// two spaces, otherwise the XML has no whitespace between elements.
///
/// Unknown elements are errors, and so is a narrative (`text.div`) that is
/// not one well-formed XHTML `div`.
pub fn json_to_xml(json: &[u8], pretty: bool) -> Result<String, XmlError> {
    catching_panics(|| to_xml::convert(json, pretty))
}

/// Checks that a narrative (`Narrative.div` from JSON) is one well-formed
/// XHTML `div` that [`json_to_xml`] can carry. Cheap (no fhirbolt): the write
/// path calls it so that a stored resource can always be served as XML.
pub fn check_narrative(div: &str) -> Result<(), XmlError> {
    narrative::check_json_div(div).map(|_| ())
}

/// What breaks FHIR's narrative content rules (txt-1, txt-2): see
/// the narrative module. Empty when the narrative is fine.
pub fn narrative_problems(div: &str) -> Vec<String> {
    narrative::content_problems(div)
}

/// The text a reader of a narrative (`Narrative.div`) sees: the markup
/// without its tags, character and entity references decoded, a space where
/// a tag that is not inline (`<p>`, `<td>`, `<br/>`…) separates words, none
/// where an inline one does (`Chal<b>mers</b>` stays one word). Attributes,
/// comments and processing instructions are not text. For full-text search
/// (`_text`, `_content`); errors only on markup that is not well-formed.
pub fn narrative_text(div: &str) -> Result<String, XmlError> {
    narrative::plain_text(div)
}

/// Runs a conversion, turning a panic inside fhirbolt into an error.
///
/// `AssertUnwindSafe` is sound here: the conversion only reads its
/// borrowed input, and everything it builds is dropped during the unwind,
/// so no broken state can be observed afterwards.
fn catching_panics(convert: impl FnOnce() -> Result<String, XmlError>) -> Result<String, XmlError> {
    panic::catch_unwind(AssertUnwindSafe(convert))
        .unwrap_or_else(|payload| Err(XmlError::ConverterFailed(panic_message(&*payload))))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic anywhere in the conversion must come back as an error.
    #[test]
    fn panics_become_converter_failed() {
        // (The panic hook prints these two messages; that is expected.)
        let result = catching_panics(|| panic!("deliberate test panic"));
        assert!(matches!(result, Err(XmlError::ConverterFailed(m)) if m == "deliberate test panic"));
        let result = catching_panics(|| panic!("{} test panic", String::from("formatted")));
        assert!(matches!(result, Err(XmlError::ConverterFailed(m)) if m == "formatted test panic"));
    }
}
