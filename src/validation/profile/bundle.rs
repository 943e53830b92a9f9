//! Rules of Bundles the definitions do not state (the Java validator's
//! own): entries outside transactions and batches carry a `fullUrl`; a
//! `fullUrl` is absolute; one that looks like a RESTful URL ends with the
//! entry's type and id; paging links (`self`, `first`, …) occur once.
//! References between entries resolve through `fullUrl`s (see
//! [`super::references`]).

use serde_json::Value;

use super::walk::Walker;
use crate::model::definitions::r4;
use crate::outcome::IssueType;

const PAGING: &[&str] = &["self", "first", "previous", "prev", "next", "last"];

impl Walker<'_, '_> {
    pub(super) fn bundle_rules(&mut self, bundle: &Value, path: &str) {
        let kind = bundle.get("type").and_then(Value::as_str).unwrap_or_default();
        let needs_full_url = !matches!(
            kind,
            "transaction" | "batch" | "transaction-response" | "batch-response" | "history"
        );
        let entries = bundle.get("entry").and_then(Value::as_array).into_iter().flatten();
        for (i, entry) in entries.enumerate() {
            let here = format!("{path}.entry[{i}]");
            let resource = entry.get("resource");
            match entry.get("fullUrl").and_then(Value::as_str) {
                None if needs_full_url && resource.is_some() => self.error(
                    IssueType::Invalid,
                    &here,
                    "Except for transactions and batches, each entry in a Bundle must have a fullUrl which is the identity of the resource in the entry",
                ),
                None => {}
                Some(full_url) => self.full_url(full_url, resource, &here),
            }
        }
        let links = bundle.get("link").and_then(Value::as_array).into_iter().flatten();
        let mut seen: Vec<&str> = Vec::new();
        for (i, link) in links.enumerate() {
            let Some(relation) = link.get("relation").and_then(Value::as_str) else {
                continue;
            };
            if PAGING.contains(&relation) && seen.contains(&relation) {
                self.error(
                    IssueType::Invalid,
                    &format!("{path}.link[{i}]"),
                    format!("The link relationship type '{relation}' can only occur once"),
                );
            }
            seen.push(relation);
        }
    }

    fn full_url(&mut self, full_url: &str, resource: Option<&Value>, here: &str) {
        if !full_url.contains(':') {
            self.error(
                IssueType::Invalid,
                here,
                format!("The fullUrl must be an absolute URL (not '{full_url}')"),
            );
            return;
        }
        let Some(resource) = resource else { return };
        if !(full_url.starts_with("http://") || full_url.starts_with("https://")) {
            return;
        }
        let mut segments = full_url.rsplit('/');
        let (Some(id), Some(kind)) = (segments.next(), segments.next()) else {
            return;
        };
        if !r4().is_resource(kind) {
            return;
        }
        let actual_kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        match resource.get("id").and_then(Value::as_str) {
            None => self.error(
                IssueType::Invalid,
                here,
                format!("The fullUrl '{full_url}' looks like a RESTful server URL, but the resource has no id"),
            ),
            Some(actual_id) if actual_id != id || actual_kind != kind => self.error(
                IssueType::Invalid,
                here,
                format!(
                    "The fullUrl '{full_url}' looks like a RESTful server URL, so it must end with the correct type and id (/{actual_kind}/{actual_id})"
                ),
            ),
            Some(_) => {}
        }
    }
}
