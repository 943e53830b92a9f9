//! One thin handler per interaction: read the request, call `rest::`, shape
//! the response. No FHIR logic lives here.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::format::{body_kind, parse_json, parse_resource_off_worker, BodyKind, Format, Negotiated};
use super::request::{self, if_match, if_none_match_hits, not_modified_since, prefer_return};
use super::response;
use super::AppState;
use crate::error::FhirError;
use crate::model::elements::{select_elements, summarize, SummaryMode};
use crate::outcome::IssueType;
use crate::rest::conditional::{Created, Criteria};
use crate::rest::patch::{FhirPathPatch, JsonPatch, PatchDocument};
use crate::rest::{self, delete::Deleted, SearchOptions, Versioned};
use crate::store::HistoryScope;

/// Negotiates the format, runs `f`, and turns an error into an
/// OperationOutcome in that format.
async fn handle<F, Fut>(req: HttpRequest, f: F) -> HttpResponse
where
    F: FnOnce(HttpRequest, Negotiated, Vec<(String, String)>) -> Fut,
    Fut: Future<Output = Result<HttpResponse, FhirError>>,
{
    let json = Negotiated {
        format: Format::Json,
        pretty: false,
    };
    let query = match request::query(&req) {
        Ok(q) => q,
        Err(e) => return response::error(&json, e),
    };
    let neg = match Negotiated::from_request(&req, &query) {
        Ok(n) => n,
        Err(e) => return response::error(&json, e),
    };
    match f(req, neg, query).await {
        Ok(res) => res,
        Err(e) => response::error(&neg, e),
    }
}

/// Reads the body of a create/update as a resource in JSON.
async fn resource_body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Value, FhirError> {
    let body = request::body(req, payload, state.max_body_bytes).await?;
    match body_kind(req, &body)? {
        BodyKind::Resource(format) => parse_resource_off_worker(body, format).await,
        BodyKind::JsonPatch => Err(FhirError::UnsupportedMediaType(
            "application/json-patch+json is only accepted by PATCH".into(),
        )),
    }
}

/// Reads the body of a PATCH: a JSON Patch document, or a FHIRPath Patch
/// (a Parameters resource in JSON or XML).
async fn patch_body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<PatchDocument, FhirError> {
    let body = request::body(req, payload, state.max_body_bytes).await?;
    Ok(match body_kind(req, &body)? {
        BodyKind::JsonPatch => PatchDocument::Json(JsonPatch::parse(&parse_json(&body)?)?),
        BodyKind::Resource(format) => {
            let parameters = parse_resource_off_worker(body, format).await?;
            PatchDocument::FhirPath(FhirPathPatch::parse(&parameters)?)
        }
    })
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Applies `_summary` / `_elements` to a resource read.
fn subset(query: &[(String, String)], body: Vec<u8>) -> Result<Vec<u8>, FhirError> {
    let summary = match param(query, "_summary") {
        None => None,
        Some(s) => match SummaryMode::parse(s) {
            Some(SummaryMode::Count) | None => {
                return Err(FhirError::invalid(
                    IssueType::Value,
                    format!("_summary '{s}' is not valid here: use true, text, data or false"),
                    None,
                ))
            }
            Some(SummaryMode::False) => None,
            Some(mode) => Some(mode),
        },
    };
    let elements: Option<Vec<&str>> =
        param(query, "_elements").map(|e| e.split(',').map(str::trim).filter(|s| !s.is_empty()).collect());
    if summary.is_none() && elements.is_none() {
        return Ok(body);
    }
    let mut resource = parse_json(&body)?;
    if let Some(mode) = summary {
        resource = summarize(&resource, mode);
    }
    if let Some(names) = elements {
        resource = select_elements(&resource, &names);
    }
    Ok(resource.to_string().into_bytes())
}

/// 304 when the client's copy is current (`If-None-Match` / `If-Modified-Since`).
fn not_modified(req: &HttpRequest, v: &Versioned) -> Option<HttpResponse> {
    (if_none_match_hits(req, v.version) || not_modified_since(req, v.last_updated)).then(|| {
        let mut res = HttpResponse::NotModified().finish();
        response::version_headers(&mut res, v);
        res
    })
}

async fn served(
    req: &HttpRequest,
    neg: &Negotiated,
    query: &[(String, String)],
    v: Versioned,
) -> Result<HttpResponse, FhirError> {
    if let Some(res) = not_modified(req, &v) {
        return Ok(res);
    }
    let body = subset(query, v.body.clone().unwrap_or_default())?;
    Ok(response::resource(neg, StatusCode::OK, &v, body).await)
}

pub async fn read(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let v = rest::read::read(&state.ctx, rtype, &id).await?;
        served(&req, &neg, &query, v).await
    })
    .await
}

pub async fn vread(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let v = rest::vread::vread(&state.ctx, rtype, &id, &path.2).await?;
        served(&req, &neg, &query, v).await
    })
    .await
}

pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let rtype = rest::resource_type(&path)?;
        let criteria = request::if_none_exist(&req)?
            .map(|query| Criteria::parse(rtype, query, &state.base(&req)))
            .transpose()?;
        let resource = resource_body(&req, payload, &state).await?;
        let (status, version, warnings) = match criteria {
            None => {
                let w = rest::create::create(&state.ctx, rtype, resource).await?;
                (StatusCode::CREATED, w.version, w.warnings)
            }
            Some(criteria) => match rest::conditional::create(&state.ctx, criteria, resource).await? {
                Created::New(w) => (StatusCode::CREATED, w.version, w.warnings),
                Created::Found(v) => (StatusCode::OK, v, Vec::new()),
            },
        };
        let base = state.base(&req);
        Ok(response::written(&neg, status, &version, &warnings, &base, prefer_return(&req)).await)
    })
    .await
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let precondition = if_match(&req)?;
        let resource = resource_body(&req, payload, &state).await?;
        let w = rest::update::update(&state.ctx, rtype, &id, resource, precondition).await?;
        Ok(written(&req, &neg, &state, &w).await)
    })
    .await
}

/// The answer to an update or a patch: 201 when it created the resource,
/// 200 otherwise, with what `Prefer: return` asks for.
async fn written(req: &HttpRequest, neg: &Negotiated, state: &AppState, w: &rest::Written) -> HttpResponse {
    let status = if w.created { StatusCode::CREATED } else { StatusCode::OK };
    response::written(
        neg,
        status,
        &w.version,
        &w.warnings,
        &state.base(req),
        prefer_return(req),
    )
    .await
}

/// `PUT [base]/[type]?criteria`
pub async fn update_conditional(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let criteria = Criteria::new(rest::resource_type(&path)?, query, &state.base(&req))?;
        let precondition = if_match(&req)?;
        let resource = resource_body(&req, payload, &state).await?;
        let w = rest::conditional::update(&state.ctx, criteria, resource, precondition).await?;
        Ok(written(&req, &neg, &state, &w).await)
    })
    .await
}

/// `PATCH [base]/[type]?criteria`
pub async fn patch_conditional(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let criteria = Criteria::new(rest::resource_type(&path)?, query, &state.base(&req))?;
        let precondition = if_match(&req)?;
        let patch = patch_body(&req, payload, &state).await?;
        let w = rest::conditional::patch(&state.ctx, criteria, patch, precondition).await?;
        Ok(written(&req, &neg, &state, &w).await)
    })
    .await
}

/// `DELETE [base]/[type]?criteria`: 200 with an OperationOutcome naming
/// what was deleted (204 with `Prefer: return=minimal`).
pub async fn delete_conditional(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let rtype = rest::resource_type(&path)?;
        let criteria = Criteria::new(rtype, query, &state.base(&req))?;
        let deleted = rest::conditional::delete(&state.ctx, criteria).await?;
        if prefer_return(&req) == rest::Return::Minimal {
            return Ok(HttpResponse::NoContent().finish());
        }
        let outcome = rest::deleted_outcome(rtype, &deleted);
        Ok(response::json_body(&neg, StatusCode::OK, outcome.to_string().into_bytes()).await)
    })
    .await
}

pub async fn patch(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let precondition = if_match(&req)?;
        let patch = patch_body(&req, payload, &state).await?;
        let w = rest::patch::patch(&state.ctx, rtype, &id, &patch, precondition).await?;
        Ok(written(&req, &neg, &state, &w).await)
    })
    .await
}

pub async fn delete(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let deleted = rest::delete::delete(&state.ctx, rtype, &id, if_match(&req)?).await?;
        let ret = prefer_return(&req);
        let mut res = if ret == rest::Return::OperationOutcome {
            response::outcome(
                &neg,
                StatusCode::OK,
                &[crate::outcome::Issue::information(format!("{rtype}/{id} deleted"))],
            )
            .await
        } else {
            HttpResponse::NoContent().finish()
        };
        if let Deleted::Now(v) = &deleted {
            response::version_headers(&mut res, v);
        }
        Ok(res)
    })
    .await
}

pub async fn history_instance(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let (rtype, id) = (rest::resource_type(&path.0)?, rest::id(&path.1)?);
        let scope = HistoryScope::Instance {
            resource_type: rtype.as_str(),
            id: id.as_str(),
        };
        let rel = format!("{rtype}/{id}/_history");
        let bundle = rest::history::history(&state.ctx, scope, &query, &state.base(&req), &rel).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

pub async fn history_type(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let rtype = rest::resource_type(&path)?;
        let scope = HistoryScope::Type {
            resource_type: rtype.as_str(),
        };
        let rel = format!("{rtype}/_history");
        let bundle = rest::history::history(&state.ctx, scope, &query, &state.base(&req), &rel).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

pub async fn history_system(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let bundle =
            rest::history::history(&state.ctx, HistoryScope::System, &query, &state.base(&req), "_history").await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

pub async fn bundle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let bundle = resource_body(&req, payload, &state).await?;
        let out = rest::transaction::submit(&state.ctx, bundle, &state.base(&req), prefer_return(&req)).await?;
        Ok(response::json_body(&neg, StatusCode::OK, out).await)
    })
    .await
}

/// `GET [base]/$reindex-status`: the SearchParameter reindex jobs.
pub async fn reindex_status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |_, neg, _| async move {
        let status = crate::reindex::status(&state.ctx).await?;
        Ok(response::json_body(&neg, StatusCode::OK, status.to_string().into_bytes()).await)
    })
    .await
}

/// The subscriptions websocket (`crate::subscriptions::websocket`).
pub async fn subscription_websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    // The message stream is bound to this worker thread.
    actix_web::rt::spawn(crate::subscriptions::websocket::serve(
        state.ctx.clone(),
        session,
        stream,
    ));
    Ok(response)
}

pub async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, _| async move {
        let cs = rest::capabilities::capability_statement(&state.ctx, &state.base(&req), &state.started_at);
        Ok(response::json_body(&neg, StatusCode::OK, cs.to_string().into_bytes()).await)
    })
    .await
}

fn search_options(req: &HttpRequest, state: &AppState) -> SearchOptions {
    SearchOptions {
        base: state.base(req),
        strict: request::prefer_strict(req),
    }
}

/// `GET [base]/[type]?…`
pub async fn search_type(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let options = search_options(&req, &state);
        let bundle = rest::search_type::search_type(&state.ctx, &path, &query, &options).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

/// `POST [base]/[type]/_search`: the URL's parameters, then the form's.
pub async fn search_type_post(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, mut query| async move {
        rest::resource_type(&path)?;
        query.extend(request::search_form(&req, payload, state.max_body_bytes).await?);
        let options = search_options(&req, &state);
        let bundle = rest::search_type::search_type(&state.ctx, &path, &query, &options).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

/// `GET [base]?…`
pub async fn search_system(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let options = search_options(&req, &state);
        let bundle = rest::search_system::search_system(&state.ctx, &query, &options).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

/// `POST [base]/_search`
pub async fn search_system_post(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |req, neg, mut query| async move {
        query.extend(request::search_form(&req, payload, state.max_body_bytes).await?);
        let options = search_options(&req, &state);
        let bundle = rest::search_system::search_system(&state.ctx, &query, &options).await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

/// `GET [base]/[Compartment]/[id]/[type]?…`
pub async fn search_compartment(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let options = search_options(&req, &state);
        let (compartment, id, searched) = path.into_inner();
        let bundle =
            rest::search_compartment::search_compartment(&state.ctx, &compartment, &id, &searched, &query, &options)
                .await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

/// `POST [base]/[Compartment]/[id]/[type]/_search`
pub async fn search_compartment_post(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, mut query| async move {
        query.extend(request::search_form(&req, payload, state.max_body_bytes).await?);
        let options = search_options(&req, &state);
        let (compartment, id, searched) = path.into_inner();
        let bundle =
            rest::search_compartment::search_compartment(&state.ctx, &compartment, &id, &searched, &query, &options)
                .await?;
        Ok(response::json_body(&neg, StatusCode::OK, bundle).await)
    })
    .await
}

pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let method = req.method().to_string();
    let path = req.path().to_string();
    handle(req, |_, _, _| async move {
        Err(FhirError::MethodNotAllowed(format!(
            "{method} is not allowed on {path}"
        )))
    })
    .await
}

pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let path = req.path().to_string();
    handle(req, |_, _, _| async move {
        let first = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        // `/Foo/1` names an unknown resource type; anything else is just not here.
        match rest::resource_type(&first) {
            Err(e) if first.starts_with(|c: char| c.is_ascii_uppercase()) => Err(e),
            _ => Err(FhirError::NotFound(format!("the path {path}"))),
        }
    })
    .await
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

pub async fn readyz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(req, |_, neg, _| async move {
        state.ctx.store.ping().await.map_err(FhirError::Unavailable)?;
        Ok(response::outcome(
            &neg,
            StatusCode::OK,
            &[crate::outcome::Issue::information("ready: the database answers")],
        )
        .await)
    })
    .await
}

/// `GET|POST [base]/[type]/$operation` (the terminology operations, `$validate`).
pub async fn operation_type(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let (rtype, op) = path.into_inner();
        let rtype = rest::resource_type(&rtype)?;
        let name = operation_name(&op);
        let parameters = operation_parameters(&req, payload, &state, &query, rtype, name).await?;
        let out = rest::operations::invoke(&state.ctx, rtype, None, name, parameters).await?;
        Ok(response::json_body(&neg, StatusCode::OK, out.to_string().into_bytes()).await)
    })
    .await
}

/// `GET|POST [base]/[type]/[id]/$operation`.
pub async fn operation_instance(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, |req, neg, query| async move {
        let (rtype, id, op) = path.into_inner();
        let rtype = rest::resource_type(&rtype)?;
        let id = rest::id(&id)?;
        let name = operation_name(&op);
        let parameters = operation_parameters(&req, payload, &state, &query, rtype, name).await?;
        let out = rest::operations::invoke(&state.ctx, rtype, Some(&id), name, parameters).await?;
        Ok(response::json_body(&neg, StatusCode::OK, out.to_string().into_bytes()).await)
    })
    .await
}

fn operation_name(segment: &str) -> &str {
    segment.strip_prefix('$').unwrap_or(segment)
}

/// GET: the query as Parameters; POST: the body, a Parameters resource (the
/// query's parameters are added to it).
async fn operation_parameters(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    query: &[(String, String)],
    rtype: crate::model::ResourceType,
    name: &str,
) -> Result<Value, FhirError> {
    let from_query = rest::operations::query_parameters(query);
    if req.method() != actix_web::http::Method::POST {
        return Ok(from_query);
    }
    let body = resource_body(req, payload, state).await?;
    let mut body = rest::operations::body_parameters(rtype, name, body)?;
    if let (Some(list), Some(extra)) = (
        body.get_mut("parameter").and_then(Value::as_array_mut),
        from_query.get("parameter").and_then(Value::as_array),
    ) {
        list.extend(extra.iter().cloned());
    }
    Ok(body)
}
