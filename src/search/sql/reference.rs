//! Reference parameters (<https://hl7.org/fhir/R4/search.html#reference>):
//! `id` (any type the parameter may point to), `Type/id` (the `:Type`
//! modifier is folded into it by the parser), and an absolute URL.
//!
//! A reference is local — it names a resource on this server — when it is
//! relative (`Patient/1`) or absolute under this server's base. Only local
//! references match `id` and `Type/id`: `http://elsewhere/fhir/Patient/1`
//! has the same `Type/id` tail but is another server's resource. An absolute
//! URL under the base is searched as the local reference it is; any other
//! URL (including canonicals, whose `|version` is stored apart) matches the
//! reference as written.

use super::Emit;
use crate::model::{Id, ResourceType};
use crate::search::params::ReferenceValue;

/// The columns of `idx_reference`, or of a composite slot (which keeps no
/// version).
pub(super) struct Columns {
    target_type: String,
    target_id: String,
    url: String,
    version: Option<String>,
}

impl Columns {
    pub(super) fn table(x: &str) -> Self {
        Columns {
            target_type: format!("{x}.target_type"),
            target_id: format!("{x}.target_id"),
            url: format!("{x}.url"),
            version: Some(format!("{x}.version")),
        }
    }

    pub(super) fn slot(x: &str, slot: usize) -> Self {
        Columns {
            target_type: format!("{x}.c{slot}_ref_type"),
            target_id: format!("{x}.c{slot}_ref_id"),
            url: format!("{x}.c{slot}_url"),
            version: None,
        }
    }
}

pub(super) fn condition(e: &mut Emit<'_>, columns: &Columns, value: &ReferenceValue) {
    match value {
        ReferenceValue::Local { resource_type, id } => local(e, columns, *resource_type, id.as_str()),
        ReferenceValue::Url { url, version } => {
            let under_base = version.is_none().then(|| under_base(&e.env.base, url)).flatten();
            if let Some((resource_type, id)) = under_base {
                e.push("(");
                local(e, columns, Some(resource_type), id.as_str());
                e.push(") OR ");
            }
            e.push(&columns.url).push(" = ").text(url);
            if let (Some(version), Some(column)) = (version, &columns.version) {
                e.push(" AND ").push(column).push(" = ").text(version);
            }
        }
    }
}

/// A local reference to `id`, of `resource_type` if given.
fn local(e: &mut Emit<'_>, columns: &Columns, resource_type: Option<ResourceType>, id: &str) {
    e.push(&columns.target_id).push(" = ").text(id);
    if let Some(t) = resource_type {
        e.push(" AND ").push(&columns.target_type).push(" = ").text(t.as_str());
    }
    e.push(" AND ");
    local_reference(e, &columns.url);
}

/// The reference in `url_column` names a resource on this server: it is
/// relative (a relative reference has no `:`; every absolute one has a
/// scheme), or starts with this server's base.
pub(crate) fn local_reference(e: &mut Emit<'_>, url_column: &str) {
    let base = format!("{}/", e.env.base);
    let length = base.chars().count();
    e.push("(").push(url_column).push(" NOT LIKE '%:%' OR substr(");
    e.push(url_column)
        .push(&format!(", 1, {length}) = "))
        .text(&base)
        .push(")");
}

/// `Type/id` (or `Type/id/_history/v`) when `url` is under `base`.
fn under_base(base: &str, url: &str) -> Option<(ResourceType, Id)> {
    let rest = url.strip_prefix(base)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let resource_type = ResourceType::parse(parts.next()?)?;
    let id = Id::parse(parts.next()?)?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Some((resource_type, id)),
        (Some("_history"), Some(_), None) => Some((resource_type, id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_under_the_base_are_local_references() {
        let base = "http://fhir.example.org/r4";
        let found = under_base(base, "http://fhir.example.org/r4/Patient/123").map(|(t, id)| (t.as_str(), id));
        assert_eq!(
            found.map(|(t, id)| (t, id.to_string())),
            Some(("Patient", "123".to_owned()))
        );
        assert!(under_base(base, "http://fhir.example.org/r4/Patient/123/_history/2").is_some());
        assert!(under_base(base, "http://elsewhere.org/r4/Patient/123").is_none());
        assert!(under_base(base, "http://fhir.example.org/r4x/Patient/123").is_none());
        assert!(under_base(base, "http://fhir.example.org/r4/Spaceship/1").is_none());
    }
}
