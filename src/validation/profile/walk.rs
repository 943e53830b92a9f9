//! The one walk over an instance: each JSON property paired with its
//! element in a compiled definition, each array item with its slice, and at
//! every element the checks of the sibling modules (primitives, values,
//! bindings, extensions, references, invariants). Where the profile lists
//! nothing below an element, the walk goes on in the element's type profile,
//! the definition an extension's `url` names, or the base definition of its
//! type. Resources inside resources (`contained`, `Bundle.entry.resource`,
//! `Parameters.parameter.resource`) start a walk of their own.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::definition::{Definition, Rule};
use super::json::same_type;
use super::references::unreferenced_contained;
use super::{ProfileValidator, BASE};
use crate::model::definitions::r4;
use crate::outcome::{Issue, IssueType, Severity};
use crate::validation::bindings::BoundValue;

/// Deeper than this the walk stops (recursive contained / nested Bundles).
const MAX_DEPTH: usize = 64;

/// A place in a definition: the definition and one of its elements.
pub(super) type Place = (Arc<Definition>, usize);

/// The resource being walked (`%resource`) and its container
/// (`%rootResource`, itself unless contained).
#[derive(Clone, Copy)]
pub(super) struct Ctx<'v> {
    pub resource: &'v Value,
    pub root: &'v Value,
}

/// The element holding a property: its path in the definition, its type,
/// its JSON and its resource (what an extension's context is judged
/// against).
#[derive(Clone, Copy)]
pub(super) struct Parent<'a, 'v> {
    pub path: &'a str,
    pub kind: &'a str,
    pub value: &'v Map<String, Value>,
    /// The resource it is in.
    pub ctx: Ctx<'v>,
}

/// One occurrence of an element: its value and its `_x` companion.
#[derive(Clone, Copy)]
pub(super) struct Item<'v> {
    pub value: Option<&'v Value>,
    pub extras: Option<&'v Value>,
}

pub(super) struct Walker<'s, 'v> {
    pub validator: &'s ProfileValidator,
    pub issues: Vec<Issue>,
    /// The outermost Bundle, where references resolve.
    pub bundle: Option<&'v Value>,
    pub unknown_profile: Severity,
    /// Definitions looked up during this walk (each url once).
    definitions: HashMap<String, Option<Arc<Definition>>>,
    /// Whether (value address, profile) conforms: profile discriminators
    /// and target profiles ask this again and again.
    pub conforms: HashMap<(usize, String), bool>,
    /// When set, bound values are collected here instead of checked, and
    /// nested resources are not entered (`BindingFinder`).
    pub bindings: Option<Vec<BoundValue>>,
    /// The urls of the extensions the walk is inside, innermost last.
    pub extension_urls: Vec<&'v str>,
    depth: usize,
}

impl<'s, 'v> Walker<'s, 'v> {
    pub fn new(validator: &'s ProfileValidator, unknown_profile: Severity) -> Self {
        Walker {
            validator,
            issues: Vec::new(),
            bundle: None,
            unknown_profile,
            definitions: HashMap::new(),
            conforms: HashMap::new(),
            bindings: None,
            extension_urls: Vec::new(),
            depth: 0,
        }
    }

    pub fn definition(&mut self, canonical: &str) -> Option<Arc<Definition>> {
        if let Some(found) = self.definitions.get(canonical) {
            return found.clone();
        }
        let found = self.validator.definition(canonical);
        self.definitions.insert(canonical.to_owned(), found.clone());
        found
    }

    pub fn report(&mut self, severity: Severity, code: IssueType, path: &str, message: impl Into<String>) {
        self.issues.push(Issue {
            severity,
            code,
            diagnostics: message.into(),
            expression: Some(path.to_owned()),
        });
    }

    pub fn error(&mut self, code: IssueType, path: &str, message: impl Into<String>) {
        self.report(Severity::Error, code, path, message);
    }

    /// Validates a resource at `path` against its base definition (unless a
    /// profile of its type applies), its `meta.profile` and `profiles`.
    pub fn resource(&mut self, resource: &'v Value, path: &str, profiles: &[String], root: Option<&'v Value>) {
        let Some(kind) = resource.get("resourceType").and_then(Value::as_str) else {
            self.error(IssueType::Structure, path, "A resource must have a resourceType");
            return;
        };
        let base = format!("{BASE}{kind}");
        let Some(base_def) = self.definition(&base).filter(|d| d.is_resource) else {
            self.error(
                IssueType::Structure,
                path,
                format!("Unknown resource type '{kind}': no such resource in FHIR R4"),
            );
            return;
        };
        let declared = resource
            .pointer("/meta/profile")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        let mut wanted: Vec<Arc<Definition>> = Vec::new();
        for url in profiles.iter().map(String::as_str).chain(declared) {
            match self.definition(url) {
                Some(def) if def.type_name != kind => self.error(
                    IssueType::Invalid,
                    path,
                    format!("Profile {url} is for {}, not {kind}", def.type_name),
                ),
                Some(def) if !wanted.iter().any(|w| Arc::ptr_eq(w, &def)) => wanted.push(def),
                Some(_) => {}
                None => self.report(
                    self.unknown_profile,
                    IssueType::NotFound,
                    path,
                    format!("Profile {url} is not known to this server"),
                ),
            }
        }
        // A profile's snapshot holds every element and invariant of the base:
        // the base definition adds nothing when a profile applies.
        if wanted.is_empty() {
            wanted.push(base_def);
        }
        if self.depth >= MAX_DEPTH {
            self.error(
                IssueType::TooCostly,
                path,
                "Resources are nested too deeply to validate",
            );
            return;
        }
        self.depth += 1;
        let ctx = Ctx {
            resource,
            root: root.unwrap_or(resource),
        };
        for def in wanted {
            let item = Item {
                value: Some(resource),
                extras: None,
            };
            self.element(&def, 0, item, kind, path, ctx);
        }
        self.depth -= 1;
    }

    /// Walks `instance` against one profile only, from its root.
    pub fn profile_root(&mut self, instance: &'v Value, profile: &str, location: &str) {
        let Some(def) = self.definition(profile) else { return };
        let kind = def.type_name.clone();
        let ctx = Ctx {
            resource: instance,
            root: instance,
        };
        let item = Item {
            value: Some(instance),
            extras: None,
        };
        self.element(&def, 0, item, &kind, location, ctx);
    }

    /// Checks one occurrence of the element `at` of `def`, of type `kind`.
    pub fn element(&mut self, def: &Arc<Definition>, at: usize, item: Item<'v>, kind: &str, path: &str, ctx: Ctx<'v>) {
        let rule = def.rule(at);
        if is_primitive(kind) {
            if item.value.is_none() && rule.must_have_value {
                self.error(
                    IssueType::Required,
                    path,
                    format!(
                        "{} must have a value here, not only extensions (mustHaveValue)",
                        rule.path
                    ),
                );
            }
            if let Some(value) = item.value {
                self.primitive(rule, value, kind, path);
                self.values(rule, value, kind, path);
                self.binding(def, at, value, kind, path);
            }
            match item.extras {
                Some(Value::Object(extras)) => {
                    if item.value.is_none() && !extras.contains_key("extension") {
                        self.error(
                            IssueType::Invariant,
                            path,
                            "ele-1: All FHIR elements must have a @value or children (a primitive with neither value nor extension)",
                        );
                    }
                    self.children(def, at, extras, kind, path, ctx);
                }
                Some(other) if !other.is_null() => self.error(
                    IssueType::Structure,
                    path,
                    format!(
                        "The primitive extension '_' property must be an object, found {}",
                        json_kind(other)
                    ),
                ),
                _ => {}
            }
            self.invariants(def, at, item, kind, path, ctx);
            return;
        }
        let Some(value) = item.value else { return };
        let Value::Object(map) = value else {
            self.error(
                IssueType::Structure,
                path,
                format!("Expected an object of type {kind}, found {}", json_kind(value)),
            );
            return;
        };
        if map.is_empty() || (map.len() == 1 && map.contains_key("id")) {
            self.error(
                IssueType::Invariant,
                path,
                "ele-1: All FHIR elements must have a @value or children",
            );
        }
        if at != 0 || !def.is_resource {
            self.values(rule, value, kind, path);
            self.binding(def, at, value, kind, path);
        }
        if at == 0 && def.is_resource {
            self.resource_type(map, &def.type_name, path);
            self.resource_id(map, path);
            if def.type_name == "Bundle" {
                self.bundle_rules(value, path);
            }
            for i in unreferenced_contained(value) {
                self.error(
                    IssueType::Invariant,
                    &format!("{path}.contained[{i}]"),
                    "dom-3: If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource",
                );
            }
        }
        let url = map.get("url").and_then(Value::as_str).filter(|_| kind == "Extension");
        if let Some(url) = url {
            self.extension_urls.push(url);
        }
        self.children(def, at, map, kind, path, ctx);
        if url.is_some() {
            self.extension_urls.pop();
        }
        match kind {
            "Extension" => self.extension_value(map, path),
            "Reference" => self.reference(rule, map, path, ctx),
            "Coding" => self.coding_system(map, path),
            _ => {}
        }
        self.invariants(def, at, item, kind, path, ctx);
        // A profile's element does not repeat its type's invariants (per-1
        // on a Period): those come from the type's own definition.
        if at != 0 && !matches!(kind, "BackboneElement" | "Element") {
            if let Some(type_def) = self.definition(&format!("{BASE}{kind}")) {
                if !Arc::ptr_eq(&type_def, def) {
                    self.invariants(&type_def, 0, item, kind, path, ctx);
                }
            }
        }
    }

    /// `Resource.id` is typed `string` in R4's snapshots, yet is an `id`.
    fn resource_id(&mut self, map: &Map<String, Value>, path: &str) {
        let Some(value @ Value::String(id)) = map.get("id") else {
            return;
        };
        if super::primitive::check("id", value).is_err() {
            self.error(
                IssueType::Value,
                &format!("{path}.id"),
                format!(
                    "Invalid Resource id '{}': 1 to 64 of A-Z, a-z, 0-9, '-' and '.'",
                    super::primitive::clip(id)
                ),
            );
        }
    }

    fn resource_type(&mut self, map: &Map<String, Value>, expected: &str, path: &str) {
        match map.get("resourceType").and_then(Value::as_str) {
            Some(found) if found == expected => {}
            found => self.error(
                IssueType::Invalid,
                path,
                format!(
                    "Expected a {expected}, found resourceType {:?}",
                    found.unwrap_or_default()
                ),
            ),
        }
    }

    /// Pairs each property of `map` with its element below `at` and checks
    /// it; then cardinality of every child and slice.
    fn children(
        &mut self,
        def: &Arc<Definition>,
        at: usize,
        map: &'v Map<String, Value>,
        kind: &str,
        path: &str,
        ctx: Ctx<'v>,
    ) {
        let Some((pdef, pat)) = self.inside(def, at, map, kind) else {
            return;
        };
        let is_resource_root = pat == 0 && pdef.is_resource;
        let parent_path = def.rule(at).path.clone();
        // (child element, JSON name, type) in the order met.
        let mut found: Vec<(usize, &'v str, String)> = Vec::new();
        for key in map.keys() {
            if key == "resourceType" && (is_resource_root || r4().is_resource(kind)) {
                continue;
            }
            if key == "value" && is_primitive(kind) {
                continue; // the `_x` object of a primitive has no value
            }
            let name = key.strip_prefix('_').unwrap_or(key);
            if name.len() < key.len() && map.contains_key(name) {
                continue; // taken with its value
            }
            match child_for(&pdef, pat, name) {
                Some((child, child_kind)) => {
                    if let Some((_, other, _)) = found.iter().find(|(c, n, _)| *c == child && *n != name) {
                        self.error(
                            IssueType::Structure,
                            &format!("{path}.{name}"),
                            format!(
                                "Only one type of {} is allowed, found {other} and {name}",
                                pdef.rule(child).path
                            ),
                        );
                        continue;
                    }
                    found.push((child, name, child_kind));
                }
                None => self.unknown_property(&pdef, pat, name, path),
            }
        }
        for (child, name, child_kind) in &found {
            let items = self.items(&pdef, *child, map, name, path);
            let parent = Parent {
                path: &parent_path,
                kind,
                value: map,
                ctx,
            };
            self.occurrences(&pdef, *child, &items, child_kind, name, path, ctx, parent);
        }
        for &child in &pdef.tree.node(pat).children {
            if found.iter().any(|(c, _, _)| *c == child) {
                continue;
            }
            let rule = pdef.rule(child);
            if rule.min > 0 {
                self.error(
                    IssueType::Required,
                    path,
                    format!(
                        "{}: minimum required = {}, but only found 0 (from {})",
                        rule.path,
                        rule.min,
                        pdef.url()
                    ),
                );
            }
            self.slice_counts(&pdef, child, &[], path);
        }
    }

    fn unknown_property(&mut self, def: &Definition, at: usize, name: &str, path: &str) {
        let here = format!("{path}.{name}");
        let choice = def.tree.node(at).children.iter().map(|&c| def.rule(c)).find(|r| {
            r.path
                .rsplit('.')
                .next()
                .and_then(|n| n.strip_suffix("[x]"))
                .is_some_and(|p| name.strip_prefix(p).is_some_and(|s| s.starts_with(char::is_uppercase)))
        });
        match choice {
            Some(rule) => {
                let allowed: Vec<&str> = rule.types.iter().map(|t| t.code.as_str()).collect();
                self.error(
                    IssueType::Structure,
                    &here,
                    format!(
                        "The type of {} is not allowed: {name} is not one of {}",
                        rule.path,
                        allowed.join(", ")
                    ),
                );
            }
            None => self.error(
                IssueType::Structure,
                &here,
                format!(
                    "Unrecognized property '{name}' (not an element of {})",
                    def.rule(at).path
                ),
            ),
        }
    }

    /// The occurrences of property `name`: items of its array (aligned
    /// with the `_name` array) or its single value, with their paths.
    fn items(
        &mut self,
        def: &Definition,
        child: usize,
        map: &'v Map<String, Value>,
        name: &str,
        path: &str,
    ) -> Vec<(Item<'v>, String)> {
        let value = map.get(name);
        let extras = map.get(&format!("_{name}"));
        let repeats = def.rule(child).repeats;
        let here = format!("{path}.{name}");
        let is_array = matches!(value, Some(Value::Array(_))) || matches!(extras, Some(Value::Array(_)));
        if is_array != repeats {
            let message = match repeats {
                true => format!("{} repeats: it must be a JSON array", def.rule(child).path),
                false => format!("{} does not repeat: it must not be a JSON array", def.rule(child).path),
            };
            self.error(IssueType::Structure, &here, message);
        }
        if !is_array {
            if value.is_some_and(Value::is_null) {
                self.error(IssueType::Structure, &here, "null is not a valid value");
                return Vec::new();
            }
            return vec![(Item { value, extras }, here)];
        }
        let values = value.and_then(Value::as_array);
        let extra_list = extras.and_then(Value::as_array);
        if value.is_some_and(|v| !v.is_array()) || extras.is_some_and(|v| !v.is_array()) {
            self.error(
                IssueType::Structure,
                &here,
                format!("{name} and _{name} must both be arrays"),
            );
            return Vec::new();
        }
        let len = values.map_or(0, Vec::len).max(extra_list.map_or(0, Vec::len));
        if let (Some(v), Some(x)) = (values, extra_list) {
            if v.len() != x.len() {
                self.error(
                    IssueType::Structure,
                    &here,
                    format!(
                        "{name} has {} items and _{name} {}: the arrays must align",
                        v.len(),
                        x.len()
                    ),
                );
            }
        }
        if len == 0 {
            self.error(IssueType::Structure, &here, "Arrays must not be empty");
        }
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            let at = |list: Option<&'v Vec<Value>>| list.and_then(|l| l.get(i)).filter(|v| !v.is_null());
            let item = Item {
                value: at(values),
                extras: at(extra_list),
            };
            let item_path = format!("{here}[{i}]");
            if item.value.is_none() && item.extras.is_none() {
                self.error(
                    IssueType::Structure,
                    &item_path,
                    "null is only allowed to align a value with its extensions",
                );
                continue;
            }
            out.push((item, item_path));
        }
        out
    }

    /// Checks the occurrences of one child element: each against its
    /// slice, then cardinality and slicing rules.
    #[allow(clippy::too_many_arguments)]
    fn occurrences(
        &mut self,
        def: &Arc<Definition>,
        child: usize,
        items: &[(Item<'v>, String)],
        kind: &str,
        name: &str,
        path: &str,
        ctx: Ctx<'v>,
        parent: Parent<'_, 'v>,
    ) {
        let rule = def.rule(child);
        let count = items.len() as u32;
        if rule.max.is_some_and(|max| count > max) {
            let message = match rule.max {
                Some(0) => format!("{} is not allowed here (max = 0), found {count}", rule.path),
                _ => format!("{}: max allowed = {}, but found {count}", rule.path, rule.max_label()),
            };
            self.error(IssueType::Structure, &format!("{path}.{name}"), message);
        }
        if count > 0 && count < rule.min {
            self.error(
                IssueType::Required,
                path,
                format!(
                    "{}: minimum required = {}, but only found {count} (from {})",
                    rule.path,
                    rule.min,
                    def.url()
                ),
            );
        }
        let sliced = !def.tree.node(child).slices.is_empty();
        let mut assigned = Vec::with_capacity(items.len());
        let holds_resources = holds_resources(rule);
        for (item, item_path) in items {
            let named = item.value.and_then(|v| v.get("resourceType")).and_then(Value::as_str);
            let item_kind = match (holds_resources, named) {
                (true, Some(named)) => named,
                _ => kind,
            };
            let slot = match sliced {
                true => self.pick_slice(def, child, *item, item_kind, item_path, ctx),
                false => child,
            };
            assigned.push(slot);
            if matches!(name, "extension" | "modifierExtension") {
                self.extension(def, slot, *item, name, item_path, parent);
            }
            if holds_resources {
                self.nested_resource(def, slot, *item, item_kind, item_path, ctx);
            } else {
                self.element(def, slot, *item, item_kind, item_path, ctx);
            }
        }
        if sliced {
            self.slicing_rules(def, child, &assigned, items, path, name);
            let slots: Vec<usize> = assigned;
            self.slice_counts(def, child, &slots, path);
        }
    }

    /// A resource inside a resource: validated on its own, against the
    /// profiles its element names.
    fn nested_resource(
        &mut self,
        def: &Arc<Definition>,
        at: usize,
        item: Item<'v>,
        kind: &str,
        path: &str,
        ctx: Ctx<'v>,
    ) {
        let Some(value) = item.value else { return };
        if self.bindings.is_some() {
            return; // the binding finder's caller walks nested resources
        }
        if !value.is_object() {
            self.error(
                IssueType::Structure,
                path,
                format!("Expected a resource, found {}", json_kind(value)),
            );
            return;
        }
        let profiles: Vec<String> = def
            .rule(at)
            .types
            .iter()
            .filter(|t| t.code == kind || matches!(t.code.as_str(), "Resource" | "DomainResource"))
            .flat_map(|t| t.profiles.iter().cloned())
            .collect();
        // Contained resources have their container as %rootResource;
        // Bundle entries and parameters stand alone.
        let root = def.rule(at).path.ends_with(".contained").then_some(ctx.root);
        self.resource(value, path, &profiles, root);
        // A container's profile may constrain the resource in place
        // (`Bundle.entry:composition.resource.section`); the element's own
        // invariants see the container as %resource.
        if let (false, Some(map)) = (def.tree.node(at).children.is_empty(), value.as_object()) {
            let inner = Ctx {
                resource: value,
                root: root.unwrap_or(value),
            };
            self.children(def, at, map, kind, path, inner);
        }
        self.invariants(def, at, item, kind, path, ctx);
    }

    /// The place whose children describe what is inside the element `at`:
    /// the element itself when the profile lists children, its
    /// `contentReference`, else the root of its type's definition — for an
    /// extension the one its `url` names, else its type profile, else the
    /// base definition.
    pub fn inside(&mut self, def: &Arc<Definition>, at: usize, map: &Map<String, Value>, kind: &str) -> Option<Place> {
        if !def.tree.node(at).children.is_empty() {
            return Some((def.clone(), at));
        }
        if let Some(target) = &def.rule(at).content_reference {
            return def.tree.find(target).map(|found| (def.clone(), found));
        }
        let own = (kind == "Extension")
            .then(|| map.get("url").and_then(Value::as_str))
            .flatten();
        let profile = def.rule(at).type_ref(kind).and_then(|t| t.profiles.first()).cloned();
        let found = match own.and_then(|url| self.definition(url)) {
            Some(d) => Some(d),
            None => match profile.and_then(|p| self.definition(&p)) {
                Some(d) => Some(d),
                None => self.definition(&format!("{BASE}{kind}")),
            },
        }?;
        (!found.tree.node(0).children.is_empty()).then_some((found, 0))
    }
}

/// The child element of `at` a JSON property names, with its type: the
/// type a choice property carries (`valueQuantity` → `Quantity`) or the
/// element's own (`BackboneElement` for one with children).
pub(super) fn child_for(def: &Definition, at: usize, key: &str) -> Option<(usize, String)> {
    for &child in &def.tree.node(at).children {
        let node = def.tree.node(child);
        let rule = def.rule(child);
        if node.name == key {
            let kind = rule.single_type().unwrap_or("Element");
            return Some((child, kind.to_owned()));
        }
        let Some(prefix) = node.name.strip_suffix("[x]") else {
            continue;
        };
        let Some(suffix) = key.strip_prefix(prefix) else {
            continue;
        };
        if let Some(t) = rule.types.iter().find(|t| same_type(&t.code, suffix)) {
            return Some((child, t.code.clone()));
        }
    }
    None
}

/// Whether a type code is a primitive (`string`, `dateTime`, `xhtml`).
pub(super) fn is_primitive(kind: &str) -> bool {
    kind.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Whether the element holds whole resources (`contained`,
/// `entry.resource`, or an element a profile typed as one resource).
fn holds_resources(rule: &Rule) -> bool {
    rule.types
        .iter()
        .any(|t| matches!(t.code.as_str(), "Resource" | "DomainResource") || r4().is_resource(&t.code))
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
