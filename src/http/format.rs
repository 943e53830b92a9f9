//! Content negotiation: which format a client sends and wants
//! (<https://hl7.org/fhir/R4/http.html#mime-type>), and turning bodies into
//! JSON and JSON into the wanted format.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use serde_json::Value;

use crate::error::FhirError;
use crate::outcome::IssueType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/fhir+json; charset=utf-8",
            Format::Xml => "application/fhir+xml; charset=utf-8",
        }
    }

    /// A mime type or `_format` value; `None` if it is neither FHIR format.
    fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "json" | "application/fhir+json" | "application/json" | "application/json+fhir" => Some(Format::Json),
            "xml" | "application/fhir+xml" | "application/xml" | "text/xml" | "application/xml+fhir" => {
                Some(Format::Xml)
            }
            _ => None,
        }
    }
}

/// How to render the response: format and `_pretty`.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated {
    pub format: Format,
    pub pretty: bool,
}

impl Negotiated {
    /// `_format` wins over `Accept`; JSON when neither names a FHIR format
    /// (browsers send `text/html`). An unknown `_format` is an error, as it
    /// can only be a client mistake.
    pub fn from_request(req: &HttpRequest, query: &[(String, String)]) -> Result<Self, FhirError> {
        let param = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let pretty = param("_pretty") == Some("true");
        let format = match param("_format") {
            Some(f) => Format::from_mime(f)
                .ok_or_else(|| FhirError::NotAcceptable(format!("_format '{f}' is not supported: use json or xml")))?,
            None => from_accept(req).unwrap_or(Format::Json),
        };
        Ok(Negotiated { format, pretty })
    }

    /// [`render`](Self::render) without stalling an HTTP worker: XML and
    /// pretty output of large bodies (a 35 MB Bundle takes seconds) run on
    /// the blocking thread pool, so other requests keep being served.
    pub async fn render_off_worker(self, json: Vec<u8>) -> Result<Vec<u8>, FhirError> {
        let cheap = self.format == Format::Json && !self.pretty;
        if cheap || json.len() < OFF_WORKER_BYTES {
            return self.render(json);
        }
        web::block(move || self.render(json))
            .await
            .map_err(|e| FhirError::Internal(format!("render task: {e}")))?
    }

    /// JSON resource text → response body in the wanted format.
    pub fn render(&self, json: Vec<u8>) -> Result<Vec<u8>, FhirError> {
        match (self.format, self.pretty) {
            (Format::Json, false) => Ok(json),
            (Format::Json, true) => {
                let v: Value =
                    serde_json::from_slice(&json).map_err(|e| FhirError::Internal(format!("stored JSON: {e}")))?;
                serde_json::to_vec_pretty(&v).map_err(|e| FhirError::Internal(e.to_string()))
            }
            (Format::Xml, pretty) => ipe_xml::json_to_xml(&json, pretty)
                .map(String::into_bytes)
                .map_err(|e| FhirError::Internal(format!("cannot render XML: {e}"))),
        }
    }
}

/// The highest-q FHIR format named in `Accept`.
fn from_accept(req: &HttpRequest) -> Option<Format> {
    let accept = req.headers().get(header::ACCEPT)?.to_str().ok()?;
    let mut best: Option<(f32, Format)> = None;
    for part in accept.split(',') {
        let Some(format) = Format::from_mime(part) else {
            continue;
        };
        let q = part
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f)
}

/// What a request body is, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Resource(Format),
    JsonPatch,
}

pub fn body_kind(req: &HttpRequest, body: &[u8]) -> Result<BodyKind, FhirError> {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        // No Content-Type: tolerate it, as most servers do, by looking.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        return Ok(BodyKind::Resource(if first == Some(&b'<') {
            Format::Xml
        } else {
            Format::Json
        }));
    };
    if ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("application/json-patch+json")
    {
        return Ok(BodyKind::JsonPatch);
    }
    Format::from_mime(ct).map(BodyKind::Resource).ok_or_else(|| {
        FhirError::UnsupportedMediaType(format!(
            "Content-Type '{ct}' is not supported: send application/fhir+json or application/fhir+xml"
        ))
    })
}

/// Bodies at least this large are converted on the blocking pool.
const OFF_WORKER_BYTES: usize = 64 * 1024;

/// [`parse_resource`] on the blocking pool for large bodies (see
/// [`Negotiated::render_off_worker`]).
pub async fn parse_resource_off_worker(body: Vec<u8>, format: Format) -> Result<Value, FhirError> {
    if body.len() < OFF_WORKER_BYTES {
        return parse_resource(&body, format);
    }
    web::block(move || parse_resource(&body, format))
        .await
        .map_err(|e| FhirError::Internal(format!("parse task: {e}")))?
}

/// Parses a resource body into JSON.
pub fn parse_resource(body: &[u8], format: Format) -> Result<Value, FhirError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FhirError::invalid(IssueType::Required, "the request has no body", None));
    }
    match format {
        Format::Json => parse_json(body),
        Format::Xml => {
            let json = ipe_xml::xml_to_json(body)
                .map_err(|e| FhirError::invalid(IssueType::Structure, format!("invalid FHIR XML: {e}"), None))?;
            parse_json(json.as_bytes())
        }
    }
}

pub fn parse_json(body: &[u8]) -> Result<Value, FhirError> {
    serde_json::from_slice(body).map_err(|e| {
        FhirError::invalid(
            IssueType::Structure,
            format!("invalid JSON at line {} column {}: {e}", e.line(), e.column()),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn format_param_wins_over_accept() {
        let req = TestRequest::default()
            .insert_header((header::ACCEPT, "application/fhir+json"))
            .to_http_request();
        let q = vec![("_format".to_string(), "xml".to_string())];
        assert_eq!(
            Negotiated::from_request(&req, &q).map(|n| n.format).ok(),
            Some(Format::Xml)
        );
    }

    #[test]
    fn accept_quality_is_honoured_and_browsers_get_json() {
        let req = TestRequest::default()
            .insert_header((header::ACCEPT, "application/fhir+json;q=0.5, application/fhir+xml"))
            .to_http_request();
        assert_eq!(from_accept(&req), Some(Format::Xml));
        let browser = TestRequest::default()
            .insert_header((header::ACCEPT, "text/html,*/*"))
            .to_http_request();
        assert_eq!(
            Negotiated::from_request(&browser, &[]).map(|n| n.format).ok(),
            Some(Format::Json)
        );
    }

    #[test]
    fn unknown_content_type_is_415() {
        let req = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .to_http_request();
        assert_eq!(body_kind(&req, b"x").err().map(|e| e.status()), Some(415));
    }
}
