//! fhirbolt's XML, finished for sending.
//!
//! fhirbolt always indents, writes tab, CR and LF raw into attribute values
//! (where XML parsers turn them into spaces) and would write characters XML
//! cannot carry. This pass puts the narratives back in place of their
//! placeholders (see [`crate::narrative`]), escapes or refuses those
//! characters, and drops the indentation unless asked for it. Everything
//! else is copied byte for byte.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::narrative::Stash;
use crate::XmlError;

/// Rewrites fhirbolt's XML: narratives back in, line breaks in attribute
/// values escaped, indentation dropped unless `pretty`.
pub(crate) fn finish(xml: &str, pretty: bool, stash: &mut Stash) -> Result<String, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::with_capacity(xml.len());
    loop {
        let start = reader.buffer_position();
        let event = reader.read_event().map_err(unreadable_output)?;
        let raw = &xml[start..reader.buffer_position()];
        match event {
            Event::Eof => break,
            Event::Text(_) if raw.bytes().all(|b| b.is_ascii_whitespace()) => {
                if pretty {
                    out.push_str(raw);
                }
            }
            Event::Start(ref tag) if tag.name().as_ref() == b"div" => {
                out.push_str(&take_placeholder(&mut reader, stash)?);
            }
            Event::Start(_) | Event::Empty(_) => push_tag(&mut out, raw)?,
            _ => out.push_str(raw),
        }
    }
    stash.check_all_placed()?;
    Ok(out)
}

/// Reads the rest of a placeholder `div` (its marker text and end tag) and
/// returns the narrative it stands for.
fn take_placeholder(reader: &mut Reader<&[u8]>, stash: &mut Stash) -> Result<String, XmlError> {
    let marker = match reader.read_event().map_err(unreadable_output)? {
        Event::Text(text) => String::from_utf8_lossy(&text).into_owned(),
        _ => String::new(),
    };
    let narrative = stash
        .take_marker(&marker)
        .ok_or_else(|| XmlError::ConverterFailed("fhirbolt wrote a narrative Ipê did not give it".into()))?;
    match reader.read_event().map_err(unreadable_output)? {
        Event::End(_) => Ok(narrative),
        _ => Err(XmlError::ConverterFailed(
            "fhirbolt changed a narrative placeholder".into(),
        )),
    }
}

/// Copies a start tag, escaping tab, CR and LF. fhirbolt writes them raw
/// into attribute values, where any XML parser would turn them into spaces
/// (XML 1.0 §3.3.3): a multi-line `markdown` would come back on one line.
/// They cannot occur elsewhere in fhirbolt's tags, which it spaces itself.
fn push_tag(out: &mut String, tag: &str) -> Result<(), XmlError> {
    for c in tag.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if !is_xml_char(c) => return Err(not_an_xml_char(c)),
            c => out.push(c),
        }
    }
    Ok(())
}

/// XML 1.0 cannot carry other control characters, not even escaped
/// (production `Char`, §2.2); FHIR strings should not contain them either.
pub(crate) fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

pub(crate) fn not_an_xml_char(c: char) -> XmlError {
    XmlError::InvalidResource(format!(
        "the character U+{:04X} cannot be represented in XML",
        u32::from(c)
    ))
}

fn unreadable_output(e: quick_xml::Error) -> XmlError {
    XmlError::ConverterFailed(format!("fhirbolt wrote XML that cannot be read back: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw line breaks in attributes would be read back as spaces.
    #[test]
    fn escapes_line_breaks_in_attribute_values() {
        let mut out = String::new();
        push_tag(&mut out, "<description value=\"a\r\n\tb\"/>").unwrap();
        assert_eq!(out, "<description value=\"a&#13;&#10;&#9;b\"/>");
    }

    /// Emitting them would produce XML that no parser accepts.
    #[test]
    fn refuses_characters_xml_cannot_carry() {
        for bad in ["\u{0}", "\u{1b}", "\u{ffff}"] {
            let tag = format!("<id value=\"a{bad}\"/>");
            assert!(push_tag(&mut String::new(), &tag).is_err(), "{bad:?}");
        }
        assert!(push_tag(&mut String::new(), "<id value=\"é€😀\"/>").is_ok());
    }

    /// Compact output drops only the indentation fhirbolt adds.
    #[test]
    fn compact_output_has_no_indentation() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"a b\"/>\n</Patient>";
        let out = finish(xml, false, &mut Stash::default()).unwrap();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a b\"/></Patient>"
        );
        assert_eq!(finish(xml, true, &mut Stash::default()).unwrap(), xml);
    }
}
