//! Extensions: known by their `url` (an unknown one is a warning — its
//! content cannot be checked, and it may come from a package this server
//! does not hold, such as `hl7.fhir.uv.extensions`; an unknown
//! `modifierExtension` is an error, since it may change the meaning of
//! what holds it), used where their definition's `context` allows, used as
//! `modifierExtension` exactly when they are modifiers, and holding either
//! a value or nested extensions (ext-1). Their content is checked against
//! their own definition by the walk (see [`Walker::inside`]).

use serde_json::{Map, Value};

use super::definition::Definition;
use super::walk::{Item, Walker};
use crate::model::definitions::r4;
use crate::outcome::{IssueType, Severity};

impl Walker<'_, '_> {
    /// Checks an item of `extension` / `modifierExtension` (`name`) of the
    /// element (`parent` = its path in the definition and its type).
    pub(super) fn extension(
        &mut self,
        def: &Definition,
        slot: usize,
        item: Item<'_>,
        name: &str,
        path: &str,
        parent: (&str, &str),
    ) {
        let Some(url) = item.value.and_then(|v| v.get("url")).and_then(Value::as_str) else {
            return; // Extension.url is required: cardinality reports it
        };
        let in_slice = def.rule(slot).slice_name.is_some();
        let is_absolute = url.contains(':');
        let Some(ext) = self.definition(url) else {
            if in_slice || (!is_absolute && parent.1 == "Extension") {
                return; // described by the profile (or by the parent extension)
            }
            let (severity, why) = match name {
                "modifierExtension" => (Severity::Error, "an unknown modifier extension cannot be ignored"),
                _ => (Severity::Warning, "its content was not checked"),
            };
            self.report(
                severity,
                IssueType::Structure,
                path,
                format!("The extension {url} is unknown here: {why}"),
            );
            return;
        };
        if ext.type_name != "Extension" {
            self.error(
                IssueType::Structure,
                path,
                format!("{url} is a definition of {}, not of an extension", ext.type_name),
            );
            return;
        }
        match (name, ext.is_modifier) {
            ("modifierExtension", false) => self.error(
                IssueType::Structure,
                path,
                format!("The extension {url} is not a modifier extension: it must not be in modifierExtension"),
            ),
            ("extension", true) => self.error(
                IssueType::Structure,
                path,
                format!("The extension {url} is a modifier extension: it must be in modifierExtension"),
            ),
            _ => {}
        }
        if parent.1 != "Extension" && !allowed_here(&ext, parent) {
            let contexts: Vec<&str> = ext.context.iter().map(|(_, e)| e.as_str()).collect();
            self.error(
                IssueType::Structure,
                path,
                format!(
                    "The extension {url} is not allowed on {} (its contexts: {})",
                    parent.0,
                    contexts.join(", ")
                ),
            );
        }
    }

    /// ext-1: an extension has either nested extensions or a value.
    pub(super) fn extension_value(&mut self, map: &Map<String, Value>, path: &str) {
        let nested = map
            .get("extension")
            .is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        let valued = map.keys().any(|k| {
            k.strip_prefix("value")
                .or_else(|| k.strip_prefix("_value"))
                .is_some_and(|t| t.starts_with(char::is_uppercase))
        });
        if nested == valued {
            self.error(
                IssueType::Invariant,
                path,
                "ext-1: Must have either extensions or value[x], not both",
            );
        }
    }
}

/// Whether a definition's `context` lets the extension sit on an element
/// at `path` of type `kind` (its type, a type it specializes, or `Element`).
fn allowed_here(ext: &Definition, (path, kind): (&str, &str)) -> bool {
    if ext.context.is_empty() {
        return true;
    }
    let path = path.replace("[x]", "");
    ext.context
        .iter()
        .any(|(kind_of_context, expression)| match kind_of_context.as_str() {
            "element" => {
                let expression = expression.replace("[x]", "");
                expression == path
                    || expression == kind
                    || expression == "Element"
                    || r4().is_a(kind, &expression)
                    || path
                        .strip_prefix(expression.as_str())
                        .is_some_and(|rest| rest.is_empty())
                    || (expression.contains('.') && path.ends_with(&format!(".{}", after_type(&expression))) && {
                        let head = expression.split('.').next().unwrap_or_default();
                        path.starts_with(head) || r4().is_a(path.split('.').next().unwrap_or_default(), head)
                    })
            }
            _ => true, // fhirpath and extension contexts: not decided here
        })
}

/// `Patient.name` → `name`.
fn after_type(expression: &str) -> &str {
    expression.split_once('.').map_or(expression, |(_, rest)| rest)
}
