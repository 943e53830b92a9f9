//! Extensions: known by their `url` (an unknown one is reported with the
//! validator's `unknown_extensions` severity: an error by default, as the
//! Java validator has it, "could not be found, so it is not allowed here"),
//! absolute at the top level, sub-extensions defined by their parent, used
//! where their definition's `context` allows, used as
//! `modifierExtension` exactly when they are modifiers, and holding either
//! a value or nested extensions (ext-1). Their content is checked against
//! their own definition by the walk (see [`Walker::inside`]).

use serde_json::{Map, Value};

use super::definition::Definition;
use super::walk::{Item, Walker};
use crate::model::definitions::{r4, Kind};
use crate::outcome::IssueType;

const EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/Extension";

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
        let nested = parent.1 == "Extension";
        if nested && !is_absolute && !in_slice {
            // A sub-extension: the parent's definition names those it has.
            if def.type_name == "Extension" && def.url() != EXTENSION {
                self.error(
                    IssueType::Structure,
                    path,
                    format!(
                        "Sub-extension url '{url}' is not defined by the extension {}",
                        def.url()
                    ),
                );
            }
            return;
        }
        if !nested && !is_absolute {
            self.error(
                IssueType::Structure,
                path,
                format!("Extension.url must be an absolute URL, found '{url}'"),
            );
            return;
        }
        let Some(ext) = self.definition(url) else {
            if in_slice {
                return; // described by the profile
            }
            self.report(
                self.validator.unknown_extensions,
                IssueType::Structure,
                path,
                format!("The extension {url} could not be found, so it is not allowed here"),
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
        if !nested && !allowed_here(&ext, parent) {
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
                    || in_type(&expression, &path)
            }
            _ => true, // fhirpath and extension contexts: not decided here
        })
}

/// A context inside a datatype (`Address.line`) allows the extension on
/// that element wherever the datatype is used (`Patient.address.line`);
/// one inside a resource, on that resource or a specialization of it.
fn in_type(expression: &str, path: &str) -> bool {
    let Some((head, rest)) = expression.split_once('.') else {
        return false;
    };
    let Some(within) = path.strip_suffix(rest).and_then(|p| p.strip_suffix('.')) else {
        return false;
    };
    let is_datatype = r4().get(head).is_some_and(|t| t.kind == Kind::ComplexType);
    is_datatype || within == head || r4().is_a(within, head)
}
