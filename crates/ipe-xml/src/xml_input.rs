//! The XML document as fhirbolt's reader gets it.
//!
//! One pass of our own over the input, before fhirbolt sees it:
//!
//! - it rejects what fhirbolt would mishandle: bytes that are not UTF-8,
//!   nesting deep enough to exhaust the stack, unclosed elements, content
//!   after the root (which fhirbolt ignores), elements outside the FHIR
//!   namespace, text or CDATA between elements, a DOCTYPE — and says where,
//!   with a line and column, which fhirbolt does not;
//! - it checks the XML declaration itself and leaves it out, as fhirbolt
//!   refuses `encoding="utf-8"` (names of encodings are case-insensitive);
//! - it leaves out processing instructions (`<?xml-stylesheet …?>`), which
//!   carry no FHIR content but which fhirbolt refuses;
//! - it swaps each narrative for a placeholder (see [`crate::narrative`]);
//! - it rewrites the few tags fhirbolt refuses although they are fine FHIR
//!   XML: fhirbolt rejects every prefixed attribute, including namespace
//!   declarations (`xmlns:xsi=…`) and `xsi:schemaLocation`, which HL7's own
//!   examples carry, and it does not know prefixed FHIR elements (`<f:id>`).
//!   Such tags are rewritten to the plain form (`<id value="…"/>`), keeping
//!   only what fhirbolt reads: `id`, `url` and `value`.
//!
//! Everything else is copied as is, and a document with nothing to change
//! is not copied at all.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

use crate::narrative::{self, Stash, XHTML_NAMESPACE};
use crate::XmlError;

const FHIR_NAMESPACE: &str = "http://hl7.org/fhir";

/// The UTF-8 byte order mark, which Windows tools like to write.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Deepest element nesting accepted. Real resources stay far below it (a
/// Bundle of Questionnaires with 20 levels of items is ~45). It bounds the
/// recursion of fhirbolt's parser, and keeps the JSON produced (up to two
/// levels per element: array and object) within serde_json's default
/// recursion limit of 128, so callers can parse what they get back.
pub(crate) const MAX_DEPTH: usize = 64;

/// The document fhirbolt gets, and the narratives taken out of it.
pub(crate) struct Prepared<'a> {
    pub(crate) xml: Cow<'a, [u8]>,
    pub(crate) stash: Stash,
}

pub(crate) fn prepare(xml: &[u8]) -> Result<Prepared<'_>, XmlError> {
    // quick-xml skips a byte order mark but leaves it out of its byte
    // offsets, which would then all be off by three: drop it first.
    let xml = xml.strip_prefix(BYTE_ORDER_MARK).unwrap_or(xml);
    if let Err(e) = std::str::from_utf8(xml) {
        let message = "the document is not valid UTF-8 (FHIR XML must be UTF-8)";
        return Err(XmlError::malformed_xml(xml, e.valid_up_to(), message));
    }
    let mut scan = Scan::new(xml);
    loop {
        let at = scan.reader.buffer_position();
        let event = scan
            .reader
            .read_event()
            .map_err(|e| XmlError::malformed_xml(xml, at, e.to_string()))?;
        if !scan.step(at, event)? {
            break;
        }
    }
    Ok(scan.out.finish())
}

/// A narrative `div` being read: where it started, how deep inside it we are.
struct OpenDiv {
    start: usize,
    nesting: usize,
}

struct Scan<'a> {
    xml: &'a [u8],
    reader: NsReader<&'a [u8]>,
    out: Rewriter<'a>,
    /// FHIR elements open (narrative markup is not counted: fhirbolt gets
    /// it as one string).
    depth: usize,
    root_seen: bool,
    open_div: Option<OpenDiv>,
}

impl<'a> Scan<'a> {
    fn new(xml: &'a [u8]) -> Self {
        Scan {
            xml,
            reader: NsReader::from_reader(xml),
            out: Rewriter::new(xml),
            depth: 0,
            root_seen: false,
            open_div: None,
        }
    }

    /// Byte offset just past the event last read.
    fn end_of_event(&self) -> usize {
        self.reader.buffer_position()
    }

    /// Handles the event read at byte `at`; false at the end of the document.
    fn step(&mut self, at: usize, event: Event<'a>) -> Result<bool, XmlError> {
        if self.open_div.is_some() {
            return self.step_in_narrative(at, event);
        }
        match event {
            Event::Start(ref start) => {
                self.check_root(at)?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(XmlError::TooDeep { limit: MAX_DEPTH });
                }
                self.start_tag(at, start, false)?;
            }
            Event::Empty(ref start) => {
                self.check_root(at)?;
                self.start_tag(at, start, true)?;
            }
            Event::End(ref end) => {
                self.end_tag(at, end);
                self.depth = self.depth.saturating_sub(1);
            }
            Event::Text(ref text) if !text.iter().all(u8::is_ascii_whitespace) => {
                let message = "text between FHIR elements (FHIR XML puts values in value=\"…\" attributes)";
                return Err(XmlError::invalid_at(self.xml, at, message));
            }
            Event::CData(_) => {
                let message = "CDATA outside the narrative";
                return Err(XmlError::invalid_at(self.xml, at, message));
            }
            Event::DocType(_) => {
                // Refused outright: a DTD could declare entities (XXE).
                let message = "a DOCTYPE is not allowed in FHIR XML";
                return Err(XmlError::invalid_at(self.xml, at, message));
            }
            Event::Decl(ref decl) => {
                self.check_declaration(at, decl)?;
                // Checked here, the declaration has nothing more to tell
                // fhirbolt, which would refuse `encoding="utf-8"` (encoding
                // names are case-insensitive) and `standalone="yes"`.
                self.out.replace(at, self.end_of_event(), "");
            }
            Event::PI(_) => {
                // Such as <?xml-stylesheet …?>: no FHIR content, and fhirbolt
                // refuses them, so they are left out.
                self.out.replace(at, self.end_of_event(), "");
            }
            Event::Eof if self.depth > 0 => {
                let message = format!("the document ends with {} element(s) still open", self.depth);
                return Err(XmlError::malformed_xml(self.xml, at, message));
            }
            Event::Eof => return Ok(false),
            _ => {}
        }
        Ok(true)
    }

    /// FHIR XML is XML 1.0 in UTF-8 (the bytes were checked to be UTF-8).
    fn check_declaration(&self, at: usize, decl: &BytesDecl) -> Result<(), XmlError> {
        let malformed = |message: String| XmlError::malformed_xml(self.xml, at, message);
        let version = decl.version().map_err(|e| malformed(e.to_string()))?;
        if version.as_ref() != b"1.0" {
            let version = String::from_utf8_lossy(&version);
            return Err(malformed(format!(
                "XML version {version} is not supported (FHIR uses XML 1.0)"
            )));
        }
        if let Some(encoding) = decl.encoding() {
            let encoding = encoding.map_err(|e| malformed(e.to_string()))?;
            if !encoding.eq_ignore_ascii_case(b"UTF-8") {
                let encoding = String::from_utf8_lossy(&encoding);
                return Err(malformed(format!(
                    "encoding {encoding} is not supported (FHIR XML is UTF-8)"
                )));
            }
        }
        Ok(())
    }

    /// fhirbolt would silently ignore everything after the first root.
    fn check_root(&mut self, at: usize) -> Result<(), XmlError> {
        if self.depth > 0 {
            return Ok(());
        }
        if self.root_seen {
            let message = "content after the end of the root element";
            return Err(XmlError::malformed_xml(self.xml, at, message));
        }
        self.root_seen = true;
        Ok(())
    }

    fn start_tag(&mut self, at: usize, start: &BytesStart, empty: bool) -> Result<(), XmlError> {
        let (namespace, local_name) = self.reader.resolve_element(start.name());
        let in_xhtml = namespace == ResolveResult::Bound(Namespace(XHTML_NAMESPACE.as_bytes()));
        if local_name.as_ref() == b"div" {
            if !in_xhtml {
                // FHIR has no other element called div.
                let message = format!("the narrative <div> must be in the XHTML namespace \"{XHTML_NAMESPACE}\"");
                return Err(XmlError::invalid_at(self.xml, at, message));
            }
            return self.start_narrative(at, start, empty);
        }
        if namespace != ResolveResult::Bound(Namespace(FHIR_NAMESPACE.as_bytes())) {
            let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
            let message = format!("element <{name}> is not in the FHIR namespace \"{FHIR_NAMESPACE}\"");
            return Err(XmlError::invalid_at(self.xml, at, message));
        }
        if needs_rewriting(start) {
            let tag = self.plain_start_tag(at, start, empty)?;
            self.out.replace(at, self.end_of_event(), &tag);
        }
        Ok(())
    }

    fn end_tag(&mut self, at: usize, end: &BytesEnd) {
        if end.name().prefix().is_some() {
            let tag = format!("</{}>", String::from_utf8_lossy(end.local_name().as_ref()));
            self.out.replace(at, self.end_of_event(), &tag);
        }
    }

    /// `start` without prefixes: the local name, the FHIR namespace on the
    /// root, and the `id`, `url` and `value` attributes (raw, still escaped).
    fn plain_start_tag(&self, at: usize, start: &BytesStart, empty: bool) -> Result<String, XmlError> {
        let mut tag = format!("<{}", String::from_utf8_lossy(start.local_name().as_ref()));
        // `depth` counts this element already if it has an end tag.
        let is_root = self.depth == usize::from(!empty);
        if is_root {
            tag.push_str(&format!(" xmlns=\"{FHIR_NAMESPACE}\""));
        }
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| XmlError::malformed_xml(self.xml, at, e.to_string()))?;
            if let Some(name) = self.fhir_attribute_name(at, &attribute)? {
                // The raw value may hold '"' if it was quoted with '\''.
                let value = String::from_utf8_lossy(&attribute.value).replace('"', "&quot;");
                tag.push_str(&format!(" {name}=\"{value}\""));
            }
        }
        tag.push_str(if empty { "/>" } else { ">" });
        Ok(tag)
    }

    /// The name of an attribute fhirbolt reads (`id`, `url`, `value`, in no
    /// namespace or the FHIR one), or `None` for one it has no use for:
    /// namespace declarations, `xml:lang`, `xsi:schemaLocation`…
    fn fhir_attribute_name(&self, at: usize, attribute: &Attribute) -> Result<Option<&'static str>, XmlError> {
        // `xmlns` and `xml` are bound by the XML spec itself, not by a
        // declaration, and quick-xml does not resolve them.
        let key = attribute.key;
        let prefix = key.prefix().map_or(key.as_ref(), |p| p.into_inner());
        if matches!(prefix, b"xmlns" | b"xml") {
            return Ok(None);
        }
        match self.reader.resolve_attribute(key) {
            (ResolveResult::Unbound, name) => Ok(fhir_attribute(name.as_ref())),
            (ResolveResult::Bound(Namespace(ns)), name) if ns == FHIR_NAMESPACE.as_bytes() => {
                Ok(fhir_attribute(name.as_ref()))
            }
            (ResolveResult::Bound(_), _) => Ok(None),
            (ResolveResult::Unknown(prefix), _) => {
                let prefix = String::from_utf8_lossy(&prefix).into_owned();
                let message = format!("undeclared namespace prefix \"{prefix}\"");
                Err(XmlError::malformed_xml(self.xml, at, message))
            }
        }
    }

    fn start_narrative(&mut self, at: usize, start: &BytesStart, empty: bool) -> Result<(), XmlError> {
        if start.name().prefix().is_some() {
            return Err(XmlError::invalid_at(
                self.xml,
                at,
                format!("narrative must declare XHTML as its default namespace: <div xmlns=\"{XHTML_NAMESPACE}\">"),
            ));
        }
        narrative::check_xhtml_event(&Event::Empty(start.borrow()))
            .map_err(|message| XmlError::malformed_xml(self.xml, at, message))?;
        if empty {
            self.out.stash_div(at, self.end_of_event());
        } else {
            self.open_div = Some(OpenDiv { start: at, nesting: 1 });
        }
        Ok(())
    }

    /// Inside a narrative: check the markup, find where the `div` ends.
    fn step_in_narrative(&mut self, at: usize, event: Event) -> Result<bool, XmlError> {
        narrative::check_xhtml_event(&event).map_err(|message| XmlError::malformed_xml(self.xml, at, message))?;
        let end = self.end_of_event();
        let Some(div) = self.open_div.as_mut() else {
            return Ok(true);
        };
        match event {
            Event::Start(_) => div.nesting += 1,
            Event::End(_) => {
                div.nesting -= 1;
                if div.nesting == 0 {
                    let start = div.start;
                    self.open_div = None;
                    self.depth = self.depth.saturating_sub(1);
                    self.out.stash_div(start, end);
                }
            }
            Event::Eof => {
                let message = "the document ends inside a narrative <div>";
                return Err(XmlError::malformed_xml(self.xml, at, message));
            }
            _ => {}
        }
        Ok(true)
    }
}

/// The attributes fhirbolt reads; it ignores all others.
fn fhir_attribute(local_name: &[u8]) -> Option<&'static str> {
    match local_name {
        b"id" => Some("id"),
        b"url" => Some("url"),
        b"value" => Some("value"),
        _ => None,
    }
}

/// Does fhirbolt need a tag written without prefixes? It rejects prefixed
/// attributes. A malformed attribute also sends the tag down the rewriting
/// path, which reports it with its position.
fn needs_rewriting(start: &BytesStart) -> bool {
    start.name().prefix().is_some()
        || start
            .attributes()
            .any(|attribute| attribute.map_or(true, |a| a.key.prefix().is_some()))
}

/// Builds the changed copy of the document, copying nothing if nothing
/// changes.
struct Rewriter<'a> {
    xml: &'a [u8],
    out: Vec<u8>,
    copied_up_to: usize,
    stash: Stash,
}

impl<'a> Rewriter<'a> {
    fn new(xml: &'a [u8]) -> Self {
        Rewriter {
            xml,
            out: Vec::new(),
            copied_up_to: 0,
            stash: Stash::default(),
        }
    }

    /// Puts `replacement` in place of `xml[start..end]`; replacements come
    /// in document order.
    fn replace(&mut self, start: usize, end: usize, replacement: &str) {
        self.out.extend_from_slice(&self.xml[self.copied_up_to..start]);
        self.out.extend_from_slice(replacement.as_bytes());
        self.copied_up_to = end;
    }

    /// Replaces `xml[start..end]`, a whole narrative `div`, by a placeholder.
    fn stash_div(&mut self, start: usize, end: usize) {
        // The document is valid UTF-8 and both ends sit on '<' / '>'.
        let div = String::from_utf8_lossy(&self.xml[start..end]);
        let placeholder = self.stash.put(div.into_owned());
        self.replace(start, end, &placeholder);
    }

    fn finish(mut self) -> Prepared<'a> {
        if self.copied_up_to == 0 {
            return Prepared {
                xml: Cow::Borrowed(self.xml),
                stash: self.stash,
            };
        }
        self.out.extend_from_slice(&self.xml[self.copied_up_to..]);
        Prepared {
            xml: Cow::Owned(self.out),
            stash: self.stash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(xml: &str) -> (String, Vec<String>) {
        let Prepared { xml, mut stash } = prepare(xml.as_bytes()).unwrap();
        let text = String::from_utf8(xml.into_owned()).unwrap();
        let mut divs = Vec::new();
        for n in 0.. {
            match stash.take_marker(&format!("ipe-xml-narrative-{n}")) {
                Some(div) => divs.push(div),
                None => break,
            }
        }
        (text, divs)
    }

    /// The narrative must reach JSON exactly as written, whitespace included.
    #[test]
    fn narrative_is_swapped_for_a_placeholder_verbatim() {
        let xml = "<Patient xmlns=\"http://hl7.org/fhir\"><text><div xmlns=\"http://www.w3.org/1999/xhtml\" class=\"c\">Peter \r\n <b>J</b> <div>in</div></div></text><id value=\"x\"/></Patient>";
        let (text, divs) = prepared(xml);
        assert_eq!(
            text,
            "<Patient xmlns=\"http://hl7.org/fhir\"><text><div xmlns=\"http://www.w3.org/1999/xhtml\">ipe-xml-narrative-0</div></text><id value=\"x\"/></Patient>"
        );
        assert_eq!(
            divs,
            ["<div xmlns=\"http://www.w3.org/1999/xhtml\" class=\"c\">Peter \r\n <b>J</b> <div>in</div></div>"]
        );
    }

    /// HL7's examples declare xsi:schemaLocation, which fhirbolt refuses.
    #[test]
    fn prefixed_attributes_and_elements_are_written_plainly() {
        let xml = "<f:Patient xmlns:f=\"http://hl7.org/fhir\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"x\"><f:id xml:lang=\"en\" value='say \"hi\"'/><f:name><f:given f:value=\"a\"/></f:name></f:Patient>";
        let (text, _) = prepared(xml);
        assert_eq!(
            text,
            "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"say &quot;hi&quot;\"/><name><given value=\"a\"/></name></Patient>"
        );
        let plain = "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a:b\"/></Patient>";
        assert!(matches!(prepare(plain.as_bytes()).unwrap().xml, Cow::Borrowed(_)));
    }

    #[test]
    fn elements_outside_the_fhir_namespace_are_rejected_with_a_position() {
        for xml in [
            "<Patient><id value=\"a\"/></Patient>",
            "<Patient xmlns=\"http://hl7.org/fhir\">\n<x:id xmlns:x=\"urn:x\" value=\"a\"/></Patient>",
            "<Patient xmlns=\"http://hl7.org/fhir\"><text><div>x</div></text></Patient>",
        ] {
            let err = prepare(xml.as_bytes()).err();
            assert!(
                matches!(err, Some(XmlError::InvalidResource(ref m)) if m.contains("line")),
                "{err:?}"
            );
        }
    }

    /// Depth is bounded so hostile input cannot overflow fhirbolt's stack.
    #[test]
    fn rejects_nesting_beyond_the_limit() {
        let open = "<a xmlns=\"http://hl7.org/fhir\">".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            prepare(open.as_bytes()),
            Err(XmlError::TooDeep { limit: MAX_DEPTH })
        ));
        let ok = format!(
            "{}{}",
            "<a xmlns=\"http://hl7.org/fhir\">".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert!(prepare(ok.as_bytes()).is_ok());
    }

    /// Truncated uploads must be reported as such, not as a FHIR error.
    #[test]
    fn rejects_unclosed_elements_with_a_position() {
        let err = prepare(b"<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"1\"/>").err();
        assert!(matches!(err, Some(XmlError::MalformedXml { line: 2, .. })), "{err:?}");
    }

    /// fhirbolt would read the first root and ignore the rest.
    #[test]
    fn rejects_a_second_root() {
        let xml = b"<Patient xmlns=\"http://hl7.org/fhir\"/>\n<Patient xmlns=\"http://hl7.org/fhir\"/>";
        let err = prepare(xml).err();
        assert!(matches!(err, Some(XmlError::MalformedXml { line: 2, .. })), "{err:?}");
    }

    /// Undefined entities inside narrative are caught here, where the
    /// position is still known.
    #[test]
    fn rejects_undefined_entities_in_narrative() {
        let xml = "<Patient xmlns=\"http://hl7.org/fhir\"><text><div xmlns=\"http://www.w3.org/1999/xhtml\">a&nbsp;b</div></text></Patient>";
        assert!(matches!(
            prepare(xml.as_bytes()),
            Err(XmlError::MalformedXml { line: 1, .. })
        ));
    }
}
