//! Building responses: resources with their version headers, Bundles, and
//! the one place where an error becomes what the client sees.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::format::Negotiated;
use crate::clock::http_date;
use crate::error::FhirError;
use crate::outcome::{operation_outcome, Issue};
use crate::rest::{Return, Versioned};

/// A body already in JSON, rendered in the negotiated format.
pub async fn json_body(neg: &Negotiated, status: StatusCode, json: Vec<u8>) -> HttpResponse {
    match neg.render_off_worker(json).await {
        Ok(body) => HttpResponse::build(status)
            .content_type(neg.format.content_type())
            .body(body),
        Err(e) => error(neg, e),
    }
}

/// An OperationOutcome with `issues`.
pub async fn outcome(neg: &Negotiated, status: StatusCode, issues: &[Issue]) -> HttpResponse {
    json_body(neg, status, operation_outcome(issues).to_string().into_bytes()).await
}

/// Every error response goes through here: the status and issues come from
/// `FhirError` (which strips internal detail); server errors are logged once.
pub fn error(neg: &Negotiated, e: FhirError) -> HttpResponse {
    if e.is_server_error() {
        tracing::error!(error = ?e, "request failed");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let oo = operation_outcome(&e.issues()).to_string().into_bytes();
    // Rendering an OperationOutcome as XML cannot fail in practice; if it
    // did, JSON is still better than no body.
    let (ct, body) = match neg.render(oo.clone()) {
        Ok(b) => (neg.format.content_type(), b),
        Err(_) => (super::format::Format::Json.content_type(), oo),
    };
    HttpResponse::build(status).content_type(ct).body(body)
}

/// `ETag` and `Last-Modified` of a version.
pub fn version_headers(res: &mut HttpResponse, v: &Versioned) {
    let h = res.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", v.version)) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(lm) = HeaderValue::from_str(&http_date(v.last_updated)) {
        h.insert(header::LAST_MODIFIED, lm);
    }
}

/// A resource version as the body, with its headers.
pub async fn resource(neg: &Negotiated, status: StatusCode, v: &Versioned, json: Vec<u8>) -> HttpResponse {
    let mut res = json_body(neg, status, json).await;
    version_headers(&mut res, v);
    res
}

/// The response to a write, per `Prefer: return=…`, with `Location` for
/// what was created and `Content-Location` for every new version. The
/// OperationOutcome form carries the validation `warnings`.
pub async fn written(
    neg: &Negotiated,
    status: StatusCode,
    v: &Versioned,
    warnings: &[Issue],
    base: &str,
    ret: Return,
) -> HttpResponse {
    let mut res = match (ret, &v.body) {
        (Return::Representation, Some(body)) => json_body(neg, status, body.clone()).await,
        (Return::OperationOutcome, _) => {
            let written = Issue::information(format!("{} written", v.versioned_ref()));
            let issues: Vec<Issue> = std::iter::once(written).chain(warnings.iter().cloned()).collect();
            outcome(neg, status, &issues).await
        }
        _ => HttpResponse::build(status).finish(),
    };
    version_headers(&mut res, v);
    let location = format!("{base}/{}", v.versioned_ref());
    if let Ok(loc) = HeaderValue::from_str(&location) {
        let h = res.headers_mut();
        if status == StatusCode::CREATED {
            h.insert(header::LOCATION, loc.clone());
        }
        h.insert(header::CONTENT_LOCATION, loc);
    }
    res
}
