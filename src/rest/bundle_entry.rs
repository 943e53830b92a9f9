//! What batch and transaction share: reading `Bundle.entry.request` into an
//! action, and carrying out one action.

use serde_json::{json, Map, Value};

use super::conditional::{self, Conditional, Criteria};
use super::patch::{FhirPathPatch, JsonPatch, PatchDocument};
use super::{create, delete, patch, read, update, vread, Context, IfMatch, Return, SearchOptions, Versioned, Written};
use crate::clock::instant;
use crate::error::FhirError;
use crate::model::{Id, ResourceType};
use crate::outcome::{operation_outcome, Issue, IssueType};
use crate::store::{Method, WriteTx};

/// What one entry asks for.
pub(super) enum Action {
    Read {
        rtype: ResourceType,
        id: Id,
    },
    VRead {
        rtype: ResourceType,
        id: Id,
        vid: String,
    },
    Create {
        rtype: ResourceType,
        resource: Value,
    },
    Update {
        rtype: ResourceType,
        id: Id,
        resource: Value,
        if_match: IfMatch,
    },
    Patch {
        rtype: ResourceType,
        id: Id,
        patch: PatchDocument,
        if_match: IfMatch,
    },
    Delete {
        rtype: ResourceType,
        id: Id,
        if_match: IfMatch,
    },
    /// A search (`GET [type]?…`, `GET ?…`): its `searchset` is the entry's
    /// resource.
    Search {
        rtype: Option<ResourceType>,
        query: Vec<(String, String)>,
    },
    /// A write whose target a search decides, until it is resolved into one
    /// of the plain actions here.
    Conditional(Conditional),
    /// A conditional create that matched this resource: nothing to write.
    Found {
        version: Versioned,
    },
    /// A conditional delete: the resources it matched.
    DeleteMatches {
        rtype: ResourceType,
        ids: Vec<Id>,
    },
}

impl Action {
    /// Processing order within a transaction (the spec's: DELETE, POST,
    /// PUT/PATCH, GET).
    pub(super) fn order(&self) -> u8 {
        match self {
            Action::Delete { .. } | Action::DeleteMatches { .. } | Action::Conditional(Conditional::Delete { .. }) => 0,
            Action::Create { .. } | Action::Found { .. } | Action::Conditional(Conditional::Create { .. }) => 1,
            Action::Update { .. }
            | Action::Patch { .. }
            | Action::Conditional(Conditional::Update { .. } | Conditional::Patch { .. }) => 2,
            Action::Read { .. } | Action::VRead { .. } | Action::Search { .. } => 3,
        }
    }

    pub(super) fn is_read(&self) -> bool {
        self.order() == 3
    }

    /// The `Type/id`s a write touches, to refuse two writes to one resource.
    pub(super) fn targets(&self) -> Vec<String> {
        match self {
            Action::Update { rtype, id, .. } | Action::Patch { rtype, id, .. } | Action::Delete { rtype, id, .. } => {
                vec![format!("{rtype}/{id}")]
            }
            Action::DeleteMatches { rtype, ids } => ids.iter().map(|id| format!("{rtype}/{id}")).collect(),
            _ => Vec::new(),
        }
    }

    /// The JSON this action writes, where references to other entries are
    /// rewritten: the resource of a create or update, the values of a
    /// FHIRPath Patch (a JSON Patch is opaque base64 in its Binary).
    pub(super) fn written_json_mut(&mut self) -> Vec<&mut Value> {
        match self {
            Action::Create { resource, .. }
            | Action::Update { resource, .. }
            | Action::Conditional(Conditional::Create { resource, .. } | Conditional::Update { resource, .. }) => {
                vec![resource]
            }
            Action::Patch {
                patch: PatchDocument::FhirPath(patch),
                ..
            } => patch.values_mut(),
            _ => Vec::new(),
        }
    }
}

pub(super) struct Entry {
    pub full_url: Option<String>,
    pub action: Action,
}

/// Moves the entries out of a Bundle (resources are large; no copies).
pub(super) fn take_entries(bundle: &mut Value) -> Vec<Value> {
    match bundle.get_mut("entry") {
        Some(Value::Array(entries)) => std::mem::take(entries),
        _ => Vec::new(),
    }
}

/// Reads `Bundle.entry[index]`, taking its resource. `base` is stripped from
/// absolute URLs.
pub(super) fn parse(index: usize, mut entry: Value, base: &str) -> Result<Entry, FhirError> {
    let at = |field: &str| format!("Bundle.entry[{index}].{field}");
    let taken = entry.get_mut("resource").map(Value::take);
    let bad = |code, msg: String, field: &str| FhirError::invalid(code, msg, Some(&at(field)));
    let request = entry
        .get("request")
        .ok_or_else(|| bad(IssueType::Required, "entry has no request".into(), "request"))?;
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    let url = request.get("url").and_then(Value::as_str).unwrap_or_default();
    let url = url.strip_prefix(base).map(|u| u.trim_start_matches('/')).unwrap_or(url);
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    };
    let if_match = parse_etag(request.get("ifMatch").and_then(Value::as_str))
        .map_err(|m| bad(IssueType::Value, m, "request.ifMatch"))?;
    let if_none_exist = request.get("ifNoneExist").and_then(Value::as_str);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rtype = segments.first().map(|t| super::resource_type(t)).transpose()?;
    let id = segments.get(1).map(|i| super::id(i)).transpose()?;
    let resource = || taken.ok_or_else(|| bad(IssueType::Required, format!("{method} needs a resource"), "resource"));
    let criteria =
        |rtype: ResourceType, query: &str| Criteria::parse(rtype, query, base).map_err(|e| e.in_entry(index));
    let action = match (method, rtype, id, &segments[..], query) {
        ("GET", _, None, [] | [_], _) => Action::Search {
            rtype,
            query: search_pairs(query.unwrap_or_default()).map_err(|m| bad(IssueType::Invalid, m, "request.url"))?,
        },
        ("GET", Some(rtype), Some(id), [_, _], None) => Action::Read { rtype, id },
        ("GET", Some(rtype), Some(id), [_, _, "_history", vid], None) => Action::VRead {
            rtype,
            id,
            vid: vid.to_string(),
        },
        ("POST", Some(rtype), None, [_], None) => match if_none_exist {
            Some(q) => Action::Conditional(Conditional::Create {
                criteria: criteria(rtype, q)?,
                resource: resource()?,
            }),
            None => Action::Create {
                rtype,
                resource: resource()?,
            },
        },
        ("PUT", Some(rtype), Some(id), [_, _], None) => Action::Update {
            rtype,
            id,
            resource: resource()?,
            if_match,
        },
        ("PUT", Some(rtype), None, [_], Some(q)) => Action::Conditional(Conditional::Update {
            criteria: criteria(rtype, q)?,
            resource: resource()?,
            if_match,
        }),
        ("PATCH", Some(rtype), Some(id), [_, _], None) => Action::Patch {
            rtype,
            id,
            patch: entry_patch(&resource()?, index)?,
            if_match,
        },
        ("PATCH", Some(rtype), None, [_], Some(q)) => Action::Conditional(Conditional::Patch {
            criteria: criteria(rtype, q)?,
            patch: entry_patch(&resource()?, index)?,
            if_match,
        }),
        ("DELETE", Some(rtype), Some(id), [_, _], None) => Action::Delete { rtype, id, if_match },
        ("DELETE", Some(rtype), None, [_], Some(q)) => Action::Conditional(Conditional::Delete {
            criteria: criteria(rtype, q)?,
        }),
        _ => {
            return Err(FhirError::NotImplemented(format!(
                "entry {index}: '{method} {url}' is not an interaction this server supports in a Bundle"
            )))
        }
    };
    let full_url = entry.get("fullUrl").and_then(Value::as_str).map(str::to_string);
    Ok(Entry { full_url, action })
}

/// The decoded parameters of a search entry's URL.
fn search_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str(query).map_err(|e| format!("the search '{query}' is not a query string: {e}"))
}

/// `W/"3"` (or `"3"`, or `3`) → 3.
pub fn parse_etag(etag: Option<&str>) -> Result<IfMatch, String> {
    let Some(raw) = etag else { return Ok(IfMatch(None)) };
    let v = raw.trim().trim_start_matches("W/").trim_matches('"');
    v.parse::<i64>()
        .map(|n| IfMatch(Some(n)))
        .map_err(|_| format!("'{raw}' is not an ETag of this server (W/\"<version>\")"))
}

/// A PATCH entry carries a FHIRPath Patch (a Parameters resource) or a JSON
/// Patch (in a Binary).
fn entry_patch(resource: &Value, index: usize) -> Result<PatchDocument, FhirError> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => FhirPathPatch::parse(resource)
            .map(PatchDocument::FhirPath)
            .map_err(|e| FhirError::from(e).in_entry(index)),
        Some("Binary") => binary_patch(resource, index).map(PatchDocument::Json),
        other => Err(FhirError::invalid(
            IssueType::Invalid,
            format!(
                "entry {index}: a PATCH entry carries a Parameters resource (FHIRPath Patch) or a Binary \
                 (JSON Patch), not {}",
                other.unwrap_or("a resource without resourceType")
            ),
            Some(&format!("Bundle.entry[{index}].resource")),
        )),
    }
}

/// A Binary holding a JSON Patch.
fn binary_patch(resource: &Value, index: usize) -> Result<JsonPatch, FhirError> {
    use base64::Engine;
    let at = format!("Bundle.entry[{index}].resource");
    if resource.get("contentType").and_then(Value::as_str) != Some("application/json-patch+json") {
        return Err(FhirError::NotImplemented(format!(
            "entry {index}: a Binary in a PATCH entry must hold a JSON Patch (contentType \
             application/json-patch+json); other patch formats are not supported"
        )));
    }
    let data = resource.get("data").and_then(Value::as_str).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| FhirError::invalid(IssueType::Value, format!("Binary.data is not base64: {e}"), Some(&at)))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        FhirError::invalid(
            IssueType::Invalid,
            format!("the JSON Patch is not JSON: {e}"),
            Some(&at),
        )
    })?;
    JsonPatch::parse(&doc).map_err(|e| FhirError::from(e).in_entry(index))
}

/// The `entry.response` (and resource) of one carried-out action.
pub(super) struct EntryResult {
    pub status: &'static str,
    pub version: Option<Versioned>,
    pub outcome: Option<Value>,
    /// The entry's resource when it is not a version (a search's Bundle).
    pub resource: Option<Vec<u8>>,
    /// Validation warnings of a write, for `Prefer: return=OperationOutcome`.
    pub warnings: Vec<Issue>,
}

impl EntryResult {
    fn new(status: &'static str, version: Option<Versioned>, outcome: Option<Value>) -> Self {
        EntryResult {
            status,
            version,
            outcome,
            resource: None,
            warnings: Vec::new(),
        }
    }

    fn written(w: Written) -> Self {
        let status = if w.created { "201 Created" } else { "200 OK" };
        let mut result = EntryResult::new(status, Some(w.version), None);
        result.warnings = w.warnings;
        result
    }

    /// Failed entry of a batch: its status and OperationOutcome.
    pub(super) fn failed(e: &FhirError) -> Self {
        EntryResult::new(status_line(e.status()), None, Some(operation_outcome(&e.issues())))
    }

    /// The `entry` parts: `resource` per `ret`, and `response`.
    pub(super) fn into_parts(self, base: &str, ret: Return) -> (Option<String>, Option<Vec<u8>>, Map<String, Value>) {
        let mut response = Map::new();
        response.insert("status".into(), json!(self.status));
        let mut full_url = None;
        let mut body = self.resource;
        if let Some(v) = &self.version {
            full_url = Some(format!("{base}/{}/{}", v.resource_type, v.id));
            response.insert("location".into(), json!(format!("{base}/{}", v.versioned_ref())));
            response.insert("etag".into(), json!(format!("W/\"{}\"", v.version)));
            response.insert("lastModified".into(), json!(instant(v.last_updated)));
            if ret == Return::Representation {
                body = v.body.clone();
            }
        }
        if let Some(o) = self.outcome {
            response.insert("outcome".into(), o);
        } else if ret == Return::OperationOutcome {
            response.insert("outcome".into(), operation_outcome(&self.warnings));
        }
        let mut parts = Map::new();
        parts.insert("response".into(), Value::Object(response));
        (full_url, body, parts)
    }
}

pub(super) fn status_line(status: u16) -> &'static str {
    match status {
        200 => "200 OK",
        201 => "201 Created",
        204 => "204 No Content",
        400 => "400 Bad Request",
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        409 => "409 Conflict",
        410 => "410 Gone",
        412 => "412 Precondition Failed",
        415 => "415 Unsupported Media Type",
        422 => "422 Unprocessable Entity",
        501 => "501 Not Implemented",
        503 => "503 Service Unavailable",
        _ => "500 Internal Server Error",
    }
}

/// Carries out a write inside `tx`. `new_id` is the id chosen for a create.
/// Resources must already have passed the structural checks. A conditional
/// write is resolved here unless the caller (a transaction) did already.
pub(super) async fn write(
    tx: &mut WriteTx,
    ctx: &Context,
    action: Action,
    new_id: &str,
) -> Result<EntryResult, FhirError> {
    let action = match action {
        Action::Conditional(c) => {
            conditional::queue(tx, &[c.criteria()]).await?;
            c.resolve(tx, ctx).await?
        }
        plain => plain,
    };
    match action {
        write @ (Action::Create { .. } | Action::Update { .. } | Action::Patch { .. }) => {
            written(tx, ctx, write, new_id).await.map(EntryResult::written)
        }
        Action::Delete { rtype, id, if_match } => match delete::apply(tx, ctx, rtype, &id, if_match).await? {
            delete::Deleted::Now(v) => Ok(EntryResult::new("204 No Content", Some(v), None)),
            delete::Deleted::Already { .. } => Ok(EntryResult::new("204 No Content", None, None)),
        },
        Action::DeleteMatches { rtype, ids } => {
            let deleted = conditional::delete_all(tx, ctx, rtype, &ids).await?;
            Ok(EntryResult::new("200 OK", None, Some(deleted_outcome(rtype, &deleted))))
        }
        Action::Found { version } => Ok(EntryResult::new("200 OK", Some(version), None)),
        Action::Read { .. } | Action::VRead { .. } | Action::Search { .. } | Action::Conditional(_) => {
            Err(FhirError::NotImplemented("a read is not a write".into()))
        }
    }
}

/// Carries out a create (with id `new_id`), an update or a patch.
pub(super) async fn written(
    tx: &mut WriteTx,
    ctx: &Context,
    action: Action,
    new_id: &str,
) -> Result<Written, FhirError> {
    match action {
        Action::Create { rtype, resource } => create::apply(tx, ctx, rtype, new_id, resource).await,
        Action::Update {
            rtype,
            id,
            resource,
            if_match,
        } => update::apply(tx, ctx, rtype, &id, resource, if_match, Method::Put).await,
        Action::Patch {
            rtype,
            id,
            patch,
            if_match,
        } => patch::apply(tx, ctx, rtype, &id, &patch, if_match).await,
        _ => Err(FhirError::NotImplemented(
            "only a create, an update or a patch writes a version".into(),
        )),
    }
}

/// What a conditional delete did, as an OperationOutcome.
pub fn deleted_outcome(rtype: ResourceType, deleted: &[Versioned]) -> Value {
    let message = if deleted.is_empty() {
        format!("no {rtype} matched; nothing was deleted")
    } else {
        let list: Vec<String> = deleted
            .iter()
            .map(|v| format!("{}/{}", v.resource_type, v.id))
            .collect();
        format!("deleted {} {rtype}: {}", deleted.len(), list.join(", "))
    };
    operation_outcome(&[Issue::information(message)])
}

/// Carries out a read or a search.
pub(super) async fn read(ctx: &Context, action: &Action, base: &str) -> Result<EntryResult, FhirError> {
    let v = match action {
        Action::Read { rtype, id } => read::read(ctx, *rtype, id).await?,
        Action::VRead { rtype, id, vid } => vread::vread(ctx, *rtype, id, vid).await?,
        Action::Search { rtype, query } => {
            let options = SearchOptions {
                base: base.to_owned(),
                strict: false,
            };
            let bundle = match rtype {
                Some(t) => super::search_type::search_type(ctx, t.as_str(), query, &options).await?,
                None => super::search_system::search_system(ctx, query, &options).await?,
            };
            let mut result = EntryResult::new("200 OK", None, None);
            result.resource = Some(bundle);
            return Ok(result);
        }
        _ => return Err(FhirError::NotImplemented("a write is not a read".into())),
    };
    Ok(EntryResult::new("200 OK", Some(v), None))
}

/// An entry's resource is of the type its URL names (and, for an update,
/// carries its id). The structural checks ran on the whole Bundle already.
pub(super) fn check(action: &Action) -> Result<(), FhirError> {
    match action {
        Action::Create { rtype, resource }
        | Action::Conditional(Conditional::Create {
            resource,
            criteria: Criteria { rtype, .. },
        })
        | Action::Conditional(Conditional::Update {
            resource,
            criteria: Criteria { rtype, .. },
            ..
        }) => super::write::check_type(*rtype, resource),
        Action::Update {
            rtype, id, resource, ..
        } => {
            super::write::check_type(*rtype, resource)?;
            update::check_id(*rtype, id, resource)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_in_the_forms_clients_send() {
        assert_eq!(parse_etag(Some("W/\"3\"")), Ok(IfMatch(Some(3))));
        assert_eq!(parse_etag(Some("\"3\"")), Ok(IfMatch(Some(3))));
        assert_eq!(parse_etag(None), Ok(IfMatch(None)));
        assert!(parse_etag(Some("W/\"x\"")).is_err());
    }

    #[test]
    fn entries_parse_into_actions() {
        let action = |e: Value| parse(0, e, "http://x").map(|e| e.action);
        let e = json!({"request": {"method": "DELETE", "url": "Patient/1"}});
        assert!(matches!(action(e), Ok(Action::Delete { .. })));
        let c = json!({"request": {"method": "PUT", "url": "Patient?identifier=x"}, "resource": {}});
        assert!(matches!(action(c), Ok(Action::Conditional(Conditional::Update { .. }))));
        let c = json!({"request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=x"}, "resource": {}});
        assert!(matches!(action(c), Ok(Action::Conditional(Conditional::Create { .. }))));
        let c = json!({"request": {"method": "DELETE", "url": "http://x/Patient?name=a"}});
        assert!(matches!(action(c), Ok(Action::Conditional(Conditional::Delete { .. }))));
        let s = json!({"request": {"method": "GET", "url": "Patient?name=a"}});
        assert!(matches!(action(s), Ok(Action::Search { rtype: Some(_), .. })));
        let s = json!({"request": {"method": "GET", "url": "?_type=Patient"}});
        assert!(matches!(action(s), Ok(Action::Search { rtype: None, .. })));
        let bad = json!({"request": {"method": "PUT", "url": "Nope/1"}, "resource": {}});
        assert_eq!(action(bad).err().map(|e| e.status()), Some(404));
        let empty = json!({"request": {"method": "DELETE", "url": "Patient?"}});
        assert_eq!(action(empty).err().map(|e| e.status()), Some(400));
        let unknown = json!({"request": {"method": "POST", "url": "Patient/1/$everything"}, "resource": {}});
        assert_eq!(action(unknown).err().map(|e| e.status()), Some(501));
    }
}
