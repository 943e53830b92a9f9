//! The one error type of the crate.
//!
//! Every message is written for the client that sent the document: it says
//! what was wrong and, when the parser knows it, where. No fhirbolt or
//! quick-xml type appears here, so callers never depend on them.

/// Why a document could not be converted.
///
/// All variants except [`XmlError::ConverterFailed`] describe a problem with
/// the input (an HTTP server answers them with 400 Bad Request).
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The bytes are not well-formed XML (or not UTF-8, the only encoding
    /// FHIR allows).
    #[error("malformed XML at line {line}, column {column}: {message}")]
    MalformedXml {
        message: String,
        line: usize,
        column: usize,
    },

    /// The bytes are not well-formed JSON; serde_json's message says where.
    #[error("malformed JSON: {0}")]
    MalformedJson(#[source] serde_json::Error),

    /// Well-formed, but not a FHIR R4 resource: an unknown element, a value
    /// of the wrong type, a wrong namespace… The message is fhirbolt's.
    #[error("not a valid FHIR R4 resource: {0}")]
    InvalidResource(String),

    /// The narrative (`text.div`) is not a well-formed XHTML `<div>`.
    #[error("invalid narrative (text.div): {0}")]
    InvalidNarrative(String),

    /// Elements nest deeper than the converter allows. The limit keeps a
    /// hostile document from exhausting the stack of fhirbolt's recursive
    /// parser, which would abort the whole process.
    #[error("the document nests elements more than {limit} levels deep")]
    TooDeep { limit: usize },

    /// fhirbolt panicked on this input. The panic was caught; the message
    /// is the panic's. This is a converter bug, but the input triggered it.
    #[error("the XML converter failed on this input: {0}")]
    ConverterFailed(String),
}

impl XmlError {
    /// A [`XmlError::MalformedXml`] located at byte `offset` of `input`.
    pub(crate) fn malformed_xml(input: &[u8], offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_and_column(input, offset);
        XmlError::MalformedXml {
            message: message.into(),
            line,
            column,
        }
    }

    /// A [`XmlError::InvalidResource`] about what is at byte `offset` of `input`.
    pub(crate) fn invalid_at(input: &[u8], offset: usize, message: impl std::fmt::Display) -> Self {
        let (line, column) = line_and_column(input, offset);
        XmlError::InvalidResource(format!("{message} (at line {line}, column {column})"))
    }
}

/// 1-based line and column (in characters) of byte `offset` in `input`.
fn line_and_column(input: &[u8], offset: usize) -> (usize, usize) {
    let before = &input[..offset.min(input.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Count characters, not bytes, so "é" is one column; continuation bytes
    // of UTF-8 sequences (0b10xx_xxxx) do not start a character.
    let column = before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients are told where the problem is in terms an editor shows.
    #[test]
    fn locates_errors_by_line_and_character_column() {
        let input = "<a>\n  <é>x".as_bytes();
        let offset = input.len() - 1; // the "x"
        assert_eq!(line_and_column(input, offset), (2, 6));
        assert_eq!(line_and_column(input, 0), (1, 1));
        assert_eq!(line_and_column(input, 10_000), (2, 7));
    }
}
