//! Reading what a request carries: query, body (with its size limit),
//! preconditions and preferences.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::clock::parse_http_date;
use crate::error::FhirError;
use crate::outcome::IssueType;
use crate::rest::{IfMatch, Return};

/// Decoded query pairs, in order.
pub fn query(req: &HttpRequest) -> Result<Vec<(String, String)>, FhirError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| FhirError::invalid(IssueType::Invalid, format!("the query string is malformed: {e}"), None))
}

/// `If-None-Exist`: the criteria of a conditional create, if sent.
pub fn if_none_exist(req: &HttpRequest) -> Result<Option<&str>, FhirError> {
    match req.headers().get("If-None-Exist") {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            FhirError::invalid(
                IssueType::Value,
                "If-None-Exist is not a visible-ASCII query string",
                None,
            )
        }),
    }
}

/// The whole body, refusing more than `limit` bytes (413) before reading it
/// all when `Content-Length` already says so.
pub async fn body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, FhirError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(FhirError::PayloadTooLarge(limit));
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            FhirError::invalid(
                IssueType::Incomplete,
                format!("cannot read the request body: {e}"),
                None,
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(FhirError::PayloadTooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `If-Match: W/"n"`.
pub fn if_match(req: &HttpRequest) -> Result<IfMatch, FhirError> {
    crate::rest::parse_etag(header_str(req, header::IF_MATCH))
        .map_err(|m| FhirError::invalid(IssueType::Value, format!("If-Match: {m}"), None))
}

/// Whether `If-None-Match` names version `version` (or is `*`).
pub fn if_none_match_hits(req: &HttpRequest, version: i64) -> bool {
    header_str(req, header::IF_NONE_MATCH).is_some_and(|v| {
        v.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string()
        })
    })
}

/// Whether `If-Modified-Since` is at or after `last_updated` (HTTP dates
/// have whole seconds).
pub fn not_modified_since(req: &HttpRequest, last_updated: i64) -> bool {
    header_str(req, header::IF_MODIFIED_SINCE)
        .and_then(parse_http_date)
        .is_some_and(|since| last_updated / 1_000_000 <= since / 1_000_000)
}

/// `Prefer: return=…`.
pub fn prefer_return(req: &HttpRequest) -> Return {
    let Some(prefer) = header_str(req, header::HeaderName::from_static("prefer")) else {
        return Return::default();
    };
    for part in prefer.split([',', ';']) {
        match part.trim().strip_prefix("return=").map(|v| v.trim_matches('"')) {
            Some("minimal") => return Return::Minimal,
            Some("representation") => return Return::Representation,
            Some("OperationOutcome") => return Return::OperationOutcome,
            _ => {}
        }
    }
    Return::default()
}

/// `Prefer: handling=strict` (search.html#errors): unknown or unsupported
/// search parameters are errors. `lenient`, or no preference, ignores them
/// and says so in the Bundle.
pub fn prefer_strict(req: &HttpRequest) -> bool {
    header_str(req, header::HeaderName::from_static("prefer")).is_some_and(|prefer| {
        prefer
            .split([',', ';'])
            .any(|part| part.trim().strip_prefix("handling=").map(|v| v.trim_matches('"')) == Some("strict"))
    })
}

/// The parameters of a `POST …/_search` body, which must be a form
/// (`application/x-www-form-urlencoded`, http.html#search).
pub async fn search_form(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<(String, String)>, FhirError> {
    let form = header_str(req, header::CONTENT_TYPE)
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let bytes = body(req, payload, limit).await?;
    if !form {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        return Err(FhirError::UnsupportedMediaType(
            "a search by POST takes its parameters as application/x-www-form-urlencoded".into(),
        ));
    }
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| FhirError::invalid(IssueType::Invalid, format!("the form body is malformed: {e}"), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn prefer_return_forms() {
        let r = TestRequest::default()
            .insert_header(("Prefer", "return=minimal"))
            .to_http_request();
        assert_eq!(prefer_return(&r), Return::Minimal);
        let r = TestRequest::default()
            .insert_header(("Prefer", "handling=strict; return=OperationOutcome"))
            .to_http_request();
        assert_eq!(prefer_return(&r), Return::OperationOutcome);
        assert_eq!(
            prefer_return(&TestRequest::default().to_http_request()),
            Return::Representation
        );
    }

    #[test]
    fn prefer_handling_strict_and_lenient() {
        let r = TestRequest::default()
            .insert_header(("Prefer", "return=minimal, handling=strict"))
            .to_http_request();
        assert!(prefer_strict(&r));
        let r = TestRequest::default()
            .insert_header(("Prefer", "handling=lenient"))
            .to_http_request();
        assert!(!prefer_strict(&r));
        assert!(!prefer_strict(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn if_none_match_accepts_weak_and_star() {
        let r = TestRequest::default()
            .insert_header(("If-None-Match", "W/\"2\""))
            .to_http_request();
        assert!(if_none_match_hits(&r, 2));
        assert!(!if_none_match_hits(&r, 3));
        let r = TestRequest::default()
            .insert_header(("If-None-Match", "*"))
            .to_http_request();
        assert!(if_none_match_hits(&r, 9));
    }
}
