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
use super::walk::{Item, Parent, Walker};
use crate::fhirpath::{Env, Expression, Item as PathItem};
use crate::model::definitions::{r4, Kind};
use crate::outcome::{IssueType, Severity};

const HL7: &str = "http://hl7.org/fhir/StructureDefinition/";
/// R4 declares this extension's context as `ElementDefinition.type.code`,
/// yet R4's own snapshots carry it on `ElementDefinition.type`.
const FHIR_TYPE: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/Extension";

impl<'v> Walker<'_, 'v> {
    /// Checks an item of `extension` / `modifierExtension` (`name`) of the
    /// element (`parent` = its path in the definition and its type).
    pub(super) fn extension(
        &mut self,
        def: &Definition,
        slot: usize,
        item: Item<'_>,
        name: &str,
        path: &str,
        parent: Parent<'_, 'v>,
    ) {
        let Some(url) = item.value.and_then(|v| v.get("url")).and_then(Value::as_str) else {
            return; // Extension.url is required: cardinality reports it
        };
        let in_slice = def.rule(slot).slice_name.is_some();
        let is_absolute = url.contains(':');
        let nested = parent.kind == "Extension";
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
            // HL7's own namespace: most likely from the extensions package
            // (hl7.fhir.uv.extensions), which the Java validator always
            // loads and this server may not. Example domains are allowed
            // unknown, as the Java validator allows them.
            let on_primitive = super::walk::is_primitive(parent.kind);
            let severity = match url.starts_with(HL7) || (is_example(url) && !on_primitive) {
                true => Severity::Warning,
                false => self.validator.unknown_extensions,
            };
            self.report(
                severity,
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
        let r4_own_use = url == FHIR_TYPE && parent.path.ends_with("ElementDefinition.type");
        let allowed = match nested {
            true => self.in_extension_context(&ext),
            false => {
                r4_own_use
                    || (self.in_extension_context(&ext) && self.has_extension_context(&ext))
                    || (allowed_here(&ext, (parent.path, parent.kind), false) && self.in_fhirpath_context(&ext, parent))
            }
        };
        if !allowed {
            let contexts: Vec<&str> = ext.context.iter().map(|(_, e)| e.as_str()).collect();
            self.error(
                IssueType::Structure,
                path,
                format!(
                    "The extension {url} is not allowed on {} (its contexts: {})",
                    parent.path,
                    contexts.join(", ")
                ),
            );
        }
    }

    /// `fhirpath` contexts: the element must be among what one selects in
    /// the resource (unless an `element` context already allows it); then
    /// every `contextInvariant` must hold.
    fn in_fhirpath_context(&mut self, ext: &Definition, parent: Parent<'_, 'v>) -> bool {
        let ctx = parent.ctx;
        let has_fhirpath = ext.context.iter().any(|(kind, _)| kind == "fhirpath");
        let by_element = ext.context.iter().any(|(kind, _)| kind == "element")
            && allowed_here(ext, (parent.path, parent.kind), true);
        let resolver = self.resolver(ctx);
        let env = Env::new()
            .with_resource(ctx.resource)
            .with_root_resource(ctx.root)
            .with_services(&resolver);
        if has_fhirpath && !by_element {
            let target: *const Map<String, Value> = parent.value;
            let selects = |e: &Expression| {
                e.evaluate(ctx.resource, &env).is_ok_and(|items| {
                    items.iter().any(|i| match i {
                        PathItem::Node(n) => n
                            .json()
                            .and_then(Value::as_object)
                            .is_some_and(|m| std::ptr::eq(m, target)),
                        _ => false,
                    })
                })
            };
            if !ext.fhirpath_contexts.iter().flatten().any(selects) {
                return false;
            }
        }
        // contextInvariants read from the resource (`Patient.active.not()`).
        ext.context_invariants.iter().all(|invariant| {
            !matches!(
                invariant.evaluate(ctx.resource, &env).as_deref(),
                Ok([PathItem::Boolean(false)])
            )
        })
    }

    /// An extension whose definition names `extension` contexts must sit
    /// in (an element of) an extension of one of those urls; one that names
    /// none may sit in any.
    fn in_extension_context(&self, ext: &Definition) -> bool {
        let mut urls = ext.context.iter().filter(|(kind, _)| kind == "extension").peekable();
        if urls.peek().is_none() {
            return true;
        }
        let enclosing = self.extension_urls.last().copied();
        urls.any(|(_, url)| Some(url.as_str()) == enclosing)
    }

    fn has_extension_context(&self, ext: &Definition) -> bool {
        ext.context.iter().any(|(kind, _)| kind == "extension")
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
fn allowed_here(ext: &Definition, (path, kind): (&str, &str), strict: bool) -> bool {
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
                    || (is_canonical_resource(&expression)
                        && path == kind
                        && r4().get(kind).is_some_and(|t| t.child("", "url").is_some()))
                    || in_type(&expression, &path)
            }
            // fhirpath contexts are judged by evaluation (unless `strict`);
            // extension contexts allow use only inside that extension.
            "fhirpath" => !strict,
            _ => false,
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

/// The domains the Java validator lets carry unknown extensions.
fn is_example(url: &str) -> bool {
    ["example.org", "acme.com", "nema.org"].iter().any(|d| url.contains(d))
}

/// R5's abstract parents of the conformance resources, which R4 lacks but
/// extension contexts name (`structuredefinition-standards-status`): an R4
/// resource with a `url` stands for them.
fn is_canonical_resource(expression: &str) -> bool {
    matches!(expression, "CanonicalResource" | "MetadataResource")
}
