//! The media type a subscription asked for (`channel.payload`): FHIR JSON,
//! as notifications are built, or FHIR XML, converted as the HTTP edge
//! converts responses (`ipe_xml`). The type's parameters (`;fhirVersion=4.0`)
//! do not change the format.

use super::notification::Outgoing;
use super::spec::Subscription;

const FHIR_XML: &str = "application/fhir+xml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format of the MIME type `mime`, if it is one of FHIR's.
    pub fn of(mime: &str) -> Option<Format> {
        let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/fhir+json" | "application/json" => Some(Format::Json),
            "application/fhir+xml" | "application/xml" => Some(Format::Xml),
            _ => None,
        }
    }
}

/// `out` in the subscription's payload format.
pub fn encode(sub: &Subscription, mut out: Outgoing) -> Result<Outgoing, String> {
    let xml = sub.payload.as_deref().and_then(Format::of) == Some(Format::Xml);
    if let (true, Some(json)) = (xml, &out.body) {
        let text = ipe_xml::json_to_xml(json, false).map_err(|e| format!("the notification has no XML form: {e}"))?;
        out.body = Some(text.into_bytes());
        out.content_type = FHIR_XML;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_media_types_name_their_format() {
        assert_eq!(Format::of("application/fhir+json"), Some(Format::Json));
        assert_eq!(Format::of("application/fhir+xml; fhirVersion=4.0"), Some(Format::Xml));
        assert_eq!(Format::of("Application/XML"), Some(Format::Xml));
        assert_eq!(Format::of("text/plain"), None);
    }
}
