//! Narrative (`text.div`) carried through the conversion verbatim.
//!
//! fhirbolt's own handling of the XHTML `div` is lossy: its XML reader trims
//! every text node (`Peter James <b>Chalmers</b>` becomes
//! `Peter James<b>Chalmers</b>`), drops the attributes of the outer `div`,
//! and its writer re-indents the markup. Narrative is what a human reads, so
//! Ipê keeps it byte for byte instead: before fhirbolt sees a document, every
//! `div` is swapped for a placeholder whose text is a numbered marker; after
//! fhirbolt is done, each marker is swapped back for the original markup.
//!
//! Byte for byte includes line ends: CR LF in a JSON narrative goes to XML
//! as is and comes back as is. (An XML parser reads it as LF, as it would
//! the same markup inside the JSON string: the content is the same.)
//!
//! The markup itself is checked here for well-formedness, because fhirbolt
//! no longer gets to look at it.

use std::borrow::Cow;

use fhirbolt::element::{Primitive, Value};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::{R4Element, XmlError};

pub(crate) const XHTML_NAMESPACE: &str = "http://www.w3.org/1999/xhtml";

const MARKER_PREFIX: &str = "ipe-xml-narrative-";

/// The XHTML of every narrative taken out of a document, by marker number.
#[derive(Default)]
pub(crate) struct Stash {
    divs: Vec<Option<String>>,
}

impl Stash {
    /// Keeps `div` and returns the placeholder `div` that stands for it.
    pub(crate) fn put(&mut self, div: String) -> String {
        let marker = self.divs.len();
        self.divs.push(Some(div));
        format!("<div xmlns=\"{XHTML_NAMESPACE}\">{MARKER_PREFIX}{marker}</div>")
    }

    /// The markup a marker text (`ipe-xml-narrative-3`) stands for, once.
    pub(crate) fn take_marker(&mut self, marker: &str) -> Option<String> {
        let number: usize = marker.strip_prefix(MARKER_PREFIX)?.parse().ok()?;
        self.divs.get_mut(number)?.take()
    }

    /// The markup a whole placeholder `div` stands for, once.
    fn take_placeholder(&mut self, placeholder: &str) -> Option<String> {
        let prefix = format!("<div xmlns=\"{XHTML_NAMESPACE}\">");
        let marker = placeholder.strip_prefix(&prefix)?.strip_suffix("</div>")?;
        self.take_marker(marker)
    }

    /// Fails unless every narrative found its way back into the output: a
    /// marker fhirbolt moved or dropped would otherwise lose content silently.
    pub(crate) fn check_all_placed(&self) -> Result<(), XmlError> {
        match self.divs.iter().position(Option::is_some) {
            None => Ok(()),
            Some(n) => Err(XmlError::InvalidNarrative(format!(
                "narrative number {} could not be placed back into the document",
                n + 1
            ))),
        }
    }
}

/// Puts the stashed markup back wherever fhirbolt parsed a placeholder.
pub(crate) fn restore(element: &mut R4Element, stash: &mut Stash) {
    for (key, value) in element.iter_mut() {
        if key == "div" {
            if let Value::Element(div) = value {
                restore_div(div, stash);
                continue;
            }
        }
        match value {
            Value::Element(child) => restore(child, stash),
            Value::Sequence(children) => children.iter_mut().for_each(|c| restore(c, stash)),
            Value::Primitive(_) => {}
        }
    }
}

fn restore_div(div: &mut R4Element, stash: &mut Stash) {
    if let Some(Value::Primitive(Primitive::String(xhtml))) = div.get_mut("value") {
        if let Some(original) = stash.take_placeholder(xhtml) {
            *xhtml = original;
        }
    }
}

/// Checks a narrative taken from JSON and returns it ready to be embedded in
/// XML: trimmed, and with the XHTML namespace declared if it was left out
/// (fhirbolt would otherwise emit a `div` in the FHIR namespace).
pub(crate) fn check_json_div(div: &str) -> Result<Cow<'_, str>, XmlError> {
    let div = div.trim();
    if let Some(c) = div.chars().find(|&c| !crate::xml_output::is_xml_char(c)) {
        return Err(crate::xml_output::not_an_xml_char(c));
    }
    let root = check_fragment(div).map_err(XmlError::InvalidNarrative)?;
    match root.xmlns {
        Some(ns) if ns == XHTML_NAMESPACE => Ok(Cow::Borrowed(div)),
        Some(ns) => Err(XmlError::InvalidNarrative(format!(
            "the div must be in the XHTML namespace \"{XHTML_NAMESPACE}\", not \"{ns}\""
        ))),
        None => {
            // The root start tag begins with "<div" (checked): declare the
            // namespace right after that.
            let (before, rest) = div.split_at(root.start + "<div".len());
            Ok(Cow::Owned(format!("{before} xmlns=\"{XHTML_NAMESPACE}\"{rest}")))
        }
    }
}

/// What [`check_fragment`] learnt about the root element.
struct Root {
    /// Byte offset of its start tag (comments may come before it).
    start: usize,
    /// The value of its `xmlns` attribute, if any.
    xmlns: Option<String>,
}

/// Checks that `div` is exactly one well-formed, unprefixed `<div>` element.
fn check_fragment(div: &str) -> Result<Root, String> {
    let mut reader = Reader::from_str(div);
    let mut depth = 0usize;
    let mut root = None;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} (at character {})", char_offset(div, at)))?;
        check_xhtml_event(&event).map_err(|e| format!("{e} (at character {})", char_offset(div, at)))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) if depth == 0 => {
                if root.is_some() {
                    return Err("the narrative must be a single <div> element".into());
                }
                if start.name().as_ref() != b"div" {
                    return Err("the narrative must be a <div> element".into());
                }
                root = Some(Root {
                    start: at,
                    xmlns: xmlns_of(start)?,
                });
            }
            Event::Text(ref text) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => {
                return Err("text outside the <div> element".into());
            }
            Event::Decl(_) | Event::DocType(_) => {
                return Err("an XML declaration or DOCTYPE is not allowed in a narrative".into())
            }
            Event::Eof if depth > 0 => return Err("unclosed element in the narrative".into()),
            Event::Eof => break,
            _ => {}
        }
        depth = match event {
            Event::Start(_) => depth + 1,
            Event::End(_) => depth.saturating_sub(1),
            _ => depth,
        };
    }
    root.ok_or_else(|| "the narrative is empty".into())
}

fn xmlns_of(start: &quick_xml::events::BytesStart) -> Result<Option<String>, String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        if attribute.key.as_ref() == b"xmlns" {
            let value = attribute.unescape_value().map_err(|e| e.to_string())?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// Checks what quick-xml leaves unchecked while reading: attribute syntax
/// and character/entity references. A narrative with `&nbsp;` (an HTML
/// entity, undefined in XML) would make the XML Ipê emits unreadable.
pub(crate) fn check_xhtml_event(event: &Event) -> Result<(), String> {
    match event {
        Event::Start(start) | Event::Empty(start) => {
            for attribute in start.attributes() {
                let attribute = attribute.map_err(|e| e.to_string())?;
                attribute.unescape_value().map_err(|e| e.to_string())?;
            }
        }
        Event::Text(text) => {
            text.unescape().map_err(|e| e.to_string())?;
        }
        _ => {}
    }
    Ok(())
}

/// The XHTML elements a FHIR narrative may use (txt-1: the basic
/// formatting elements of HTML 4.0 chapters 7–11 and 15, links and images).
const NARRATIVE_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "b",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "map",
    "ol",
    "p",
    "pre",
    "q",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
];

/// Attributes any narrative element may carry, and those of one element.
const NARRATIVE_ATTRIBUTES: &[&str] = &[
    "title",
    "style",
    "class",
    "id",
    "lang",
    "xml:lang",
    "dir",
    "accesskey",
    "tabindex",
    "span",
    "width",
    "align",
    "valign",
    "char",
    "charoff",
    "abbr",
    "axis",
    "headers",
    "scope",
    "rowspan",
    "colspan",
    "xmlns",
    "xml:space",
];
const ELEMENT_ATTRIBUTES: &[(&str, &[&str])] = &[
    (
        "a",
        &[
            "href", "name", "rel", "rev", "shape", "coords", "hreflang", "type", "charset",
        ],
    ),
    (
        "img",
        &["src", "alt", "longdesc", "height", "usemap", "ismap", "border"],
    ),
    ("area", &["href", "alt", "shape", "coords", "nohref"]),
    ("map", &["name"]),
    (
        "table",
        &[
            "summary",
            "border",
            "frame",
            "rules",
            "cellspacing",
            "cellpadding",
            "bgcolor",
        ],
    ),
    ("ol", &["start", "type"]),
    ("ul", &["type"]),
    ("li", &["value", "type"]),
    ("q", &["cite"]),
    ("blockquote", &["cite"]),
    ("td", &["nowrap", "bgcolor", "height"]),
    ("th", &["nowrap", "bgcolor", "height"]),
    ("tr", &["bgcolor"]),
    ("col", &["width"]),
    ("pre", &["width"]),
];

/// What breaks FHIR's narrative content rules (txt-1, txt-2) in a
/// well-formed `div`: elements or attributes outside the allowed HTML
/// subset (so no `<script>`, no `onclick`), a root without the XHTML
/// namespace, no text at all. Empty when the narrative is fine; a markup
/// error is reported as one problem.
pub fn content_problems(div: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut reader = Reader::from_str(div.trim());
    let (mut depth, mut has_content) = (0usize, false);
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                problems.push(format!("the narrative is not well-formed XHTML: {e}"));
                return problems;
            }
        };
        match &event {
            Event::Start(tag) | Event::Empty(tag) => {
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                if depth == 0 {
                    match xmlns_of(tag) {
                        Ok(Some(ns)) if ns == XHTML_NAMESPACE => {}
                        Ok(found) => problems.push(format!(
                            "the div must be in the XHTML namespace {XHTML_NAMESPACE} (found {})",
                            found.as_deref().unwrap_or("no xmlns")
                        )),
                        Err(e) => problems.push(e),
                    }
                }
                if !NARRATIVE_ELEMENTS.contains(&name.as_str()) {
                    problems.push(format!("the element <{name}> is not allowed in a narrative"));
                }
                if matches!(name.as_str(), "img" | "hr" | "br") {
                    has_content = true;
                }
                let own = ELEMENT_ATTRIBUTES
                    .iter()
                    .find(|(e, _)| *e == name)
                    .map_or(&[][..], |(_, a)| *a);
                for attribute in tag.attributes().flatten() {
                    let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
                    if !NARRATIVE_ATTRIBUTES.contains(&key.as_str()) && !own.contains(&key.as_str()) {
                        problems.push(format!("the attribute {key} is not allowed on <{name}> in a narrative"));
                    }
                }
            }
            Event::Text(text) if !text.iter().all(u8::is_ascii_whitespace) => has_content = true,
            Event::CData(_) => has_content = true,
            Event::Eof => break,
            _ => {}
        }
        depth = match event {
            Event::Start(_) => depth + 1,
            Event::End(_) => depth.saturating_sub(1),
            _ => depth,
        };
    }
    if !has_content {
        problems.push("the narrative has no content (txt-2: it must have some non-whitespace text)".into());
    }
    problems
}

/// The text of a narrative, for [`crate::narrative_text`].
pub(crate) fn plain_text(div: &str) -> Result<String, XmlError> {
    let mut reader = Reader::from_str(div);
    let mut text = String::with_capacity(div.len());
    let invalid = |e: quick_xml::Error| XmlError::InvalidNarrative(e.to_string());
    loop {
        match reader.read_event().map_err(invalid)? {
            Event::Text(t) => text.push_str(&t.unescape().map_err(invalid)?),
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
            Event::Start(tag) | Event::Empty(tag) if !is_inline(tag.local_name().as_ref()) => text.push(' '),
            Event::End(tag) if !is_inline(tag.local_name().as_ref()) => text.push(' '),
            Event::Eof => return Ok(text),
            _ => {}
        }
    }
}

/// XHTML elements that sit inside a line of text, so their tags do not
/// separate words (the inline phrase and font elements of XHTML 1.0).
fn is_inline(name: &[u8]) -> bool {
    const INLINE: [&[u8]; 27] = [
        b"a", b"abbr", b"acronym", b"b", b"bdo", b"big", b"cite", b"code", b"del", b"dfn", b"em", b"font", b"i",
        b"ins", b"kbd", b"q", b"s", b"samp", b"small", b"span", b"strike", b"strong", b"sub", b"sup", b"tt", b"u",
        b"var",
    ];
    INLINE.iter().any(|inline| inline.eq_ignore_ascii_case(name))
}

/// 1-based character position of byte `at` in `s`, for error messages.
fn char_offset(s: &str, at: usize) -> usize {
    s.get(..at).map_or(at, |prefix| prefix.chars().count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marker scheme must round-trip, and each marker must be usable once.
    #[test]
    fn placeholders_give_back_their_markup_once() {
        let mut stash = Stash::default();
        let p0 = stash.put("<div xmlns=\"x\">a</div>".into());
        let p1 = stash.put("<div xmlns=\"x\">b</div>".into());
        assert!(stash.check_all_placed().is_err());
        assert_eq!(stash.take_placeholder(&p1).as_deref(), Some("<div xmlns=\"x\">b</div>"));
        assert_eq!(stash.take_placeholder(&p1), None);
        assert_eq!(
            stash.take_marker("ipe-xml-narrative-0").as_deref(),
            Some("<div xmlns=\"x\">a</div>")
        );
        assert!(stash.check_all_placed().is_ok());
        assert_eq!(stash.take_placeholder(&p0), None);
        assert_eq!(stash.take_marker("ipe-xml-narrative-7"), None);
    }

    /// JSON narrative is embedded verbatim in XML, so it must be well-formed.
    #[test]
    fn json_narrative_must_be_one_well_formed_xhtml_div() {
        let ok = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a &amp; b</p></div>";
        assert_eq!(check_json_div(ok).unwrap(), ok);
        for bad in [
            "",
            "plain text",
            "<p xmlns=\"http://www.w3.org/1999/xhtml\">x</p>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div><div/>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">a&nbsp;b</div>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=x>a</p></div>",
            "<div xmlns=\"http://hl7.org/fhir\">x</div>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">x",
            "<!DOCTYPE div><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>",
        ] {
            assert!(check_json_div(bad).is_err(), "accepted {bad:?}");
        }
    }

    /// Full-text search reads words as a person reads the rendered
    /// narrative: block tags separate words, inline tags do not, and
    /// references stand for their characters.
    #[test]
    fn plain_text_is_what_a_reader_sees() {
        let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter James <b>Chal</b>mers</p>\
                   <table><tr><td>Jos&#233;</td><td>S&#xE3;o&amp;Paulo</td></tr></table>\
                   <!-- not text --><p class=\"x\">a<br/>b</p><![CDATA[1 < 2]]></div>";
        let text = plain_text(div).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "Peter",
                "James",
                "Chalmers",
                "José",
                "São&Paulo",
                "a",
                "b",
                "1",
                "<",
                "2"
            ]
        );
        assert!(plain_text("<div>a</p>").is_err());
        assert!(plain_text("<div>a &bogus; b</div>").is_err());
    }

    /// A div without its namespace declaration would land in the FHIR
    /// namespace in XML; declaring it is the only sensible repair.
    #[test]
    fn json_narrative_gets_the_xhtml_namespace_declared() {
        assert_eq!(
            check_json_div(" <div class=\"c\">x</div> ").unwrap(),
            "<div xmlns=\"http://www.w3.org/1999/xhtml\" class=\"c\">x</div>"
        );
        assert_eq!(
            check_json_div("<div/>").unwrap(),
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"
        );
        assert_eq!(
            check_json_div("<!-- c --><div>x</div>").unwrap(),
            "<!-- c --><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"
        );
    }
}
