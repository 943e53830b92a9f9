//! References: the target resolved where it can be — a contained resource
//! (`#id`), an entry of the Bundle being validated (by `fullUrl`, or by type
//! and id) — else its type read from the reference (`Patient/123`, an
//! absolute URL ending so). The type must be one the element's
//! `targetProfile`s allow; a resolved target must also meet one of those
//! profiles (as the Java validator checks them). `resolve()` in invariants and
//! discriminators uses the same resolution.

use serde_json::{Map, Value};

use super::definition::Rule;
use super::walk::{Ctx, Item, Walker};
use crate::fhirpath::{Item as PathItem, Services};
use crate::model::definitions::r4;
use crate::outcome::{IssueType, Severity};
use crate::terminology::TerminologyService;
use crate::validation::bindings::{check, BoundValue, CodedValue, Outcome, Strength};

const BASE: &str = "http://hl7.org/fhir/StructureDefinition/";

/// What FHIRPath's `resolve()` and `memberOf()` see while one resource is
/// walked: its contained resources, the Bundle's entries, and the
/// terminology service.
pub(super) struct Resolver<'s, 'v> {
    ctx: Ctx<'v>,
    bundle: Option<&'v Value>,
    terminology: &'s TerminologyService,
}

impl<'v> Services<'v> for Resolver<'_, 'v> {
    fn resolve(&self, reference: &str) -> Option<&'v Value> {
        resolve(reference, self.ctx, self.bundle)
    }

    /// A code, Coding or CodeableConcept in the value set; `None` when
    /// that cannot be told here (code system or value set not held).
    fn member_of(&self, item: &PathItem<'_>, value_set: &str) -> Result<Option<bool>, String> {
        let value = match item {
            PathItem::Node(node) => match (node.json(), node.type_name()) {
                (Some(Value::String(code)), _) => CodedValue::Code(code.clone()),
                (Some(v), Some("Coding")) => CodedValue::Coding(v.clone()),
                (Some(v), Some("CodeableConcept")) => CodedValue::CodeableConcept(v.clone()),
                _ => return Ok(None),
            },
            PathItem::String(code) => CodedValue::Code(code.to_string()),
            _ => return Ok(None),
        };
        let bound = BoundValue {
            location: String::new(),
            profile: String::new(),
            element_id: String::new(),
            strength: Strength::Required,
            value_set: value_set.to_owned(),
            value,
        };
        Ok(match check(self.terminology, bound).outcome {
            Outcome::Valid => Some(true),
            Outcome::Invalid(_) | Outcome::NoCode => Some(false),
            _ => None,
        })
    }
}

impl<'s, 'v> Walker<'s, 'v> {
    pub(super) fn resolver(&self, ctx: Ctx<'v>) -> Resolver<'s, 'v> {
        Resolver {
            ctx,
            bundle: self.bundle,
            terminology: self.validator.terminology(),
        }
    }

    pub(super) fn reference(&mut self, rule: &Rule, map: &'v Map<String, Value>, path: &str, ctx: Ctx<'v>) {
        let Some(reference) = map.get("reference").and_then(Value::as_str) else {
            return;
        };
        // Located at the Reference, as the Java validator does.
        let here = path;
        let resolved = resolve(reference, ctx, self.bundle);
        if reference.starts_with('#') && resolved.is_none() {
            self.error(
                IssueType::NotFound,
                here,
                format!("The reference {reference} names no contained resource"),
            );
            return;
        }
        let kind = match resolved {
            Some(target) => target.get("resourceType").and_then(Value::as_str),
            None => type_in(reference),
        };
        let Some(kind) = kind else { return };
        if let Some(declared) = map.get("type").and_then(Value::as_str) {
            if declared != kind {
                self.error(
                    IssueType::Structure,
                    &format!("{path}.type"),
                    format!("The reference is to a {kind}, but its type says {declared}"),
                );
            }
        }
        let targets: Vec<String> = rule
            .type_ref("Reference")
            .map(|t| t.target_profiles.clone())
            .unwrap_or_default();
        if targets.is_empty() {
            return;
        }
        let mut allowed = Vec::new();
        let mut profiles_for_kind = Vec::new();
        for target in &targets {
            let type_name = match self.definition(target) {
                Some(def) => def.type_name.clone(),
                // A target profile not held here: its type is not known.
                None if !target.starts_with(BASE) => return,
                None => target.strip_prefix(BASE).unwrap_or(target).to_owned(),
            };
            if type_name == kind && !target.starts_with(BASE) {
                profiles_for_kind.push(target.clone());
            }
            allowed.push(type_name);
        }
        if !allowed
            .iter()
            .any(|a| a == kind || a == "Resource" || r4().is_a(kind, a))
        {
            allowed.dedup();
            self.error(
                IssueType::Structure,
                here,
                format!(
                    "The reference {reference} is to a {kind}, which is not a valid target here (must be one of {})",
                    allowed.join(", ")
                ),
            );
            return;
        }
        let Some(target) = resolved else { return };
        let unconstrained = targets.iter().any(|t| t == &format!("{BASE}{kind}"));
        if unconstrained || profiles_for_kind.is_empty() {
            return;
        }
        if !profiles_for_kind.iter().any(|p| self.conforms_to(target, p)) {
            self.error(
                IssueType::Structure,
                here,
                format!(
                    "Unable to find a profile match: the {kind} that {reference} resolves to does not conform to {}",
                    profiles_for_kind.join(" or ")
                ),
            );
        }
    }

    /// Whether `value` (a resource or an element) meets `profile` without
    /// errors; remembered per value and profile. While a check runs, the
    /// answer is taken as yes, so circular references end.
    pub(super) fn conforms_to(&mut self, value: &'v Value, profile: &str) -> bool {
        let key = (value as *const Value as usize, profile.to_owned());
        if let Some(known) = self.conforms.get(&key) {
            return *known;
        }
        let Some(def) = self.definition(profile) else {
            return false;
        };
        self.conforms.insert(key.clone(), true);
        let saved = std::mem::take(&mut self.issues);
        let collecting = self.bindings.take();
        let ctx = Ctx {
            resource: value,
            root: value,
        };
        let item = Item {
            value: Some(value),
            extras: None,
        };
        let kind = def.type_name.clone();
        self.element(&def, 0, item, &kind, &kind, ctx);
        let checked = std::mem::replace(&mut self.issues, saved);
        self.bindings = collecting;
        let ok = !checked.iter().any(|i| i.severity <= Severity::Error);
        self.conforms.insert(key, ok);
        ok
    }
}

/// dom-3: every contained resource is referred to (`#id`) from elsewhere in
/// the resource, unless some contained resource refers to its container (`#`).
pub(super) fn unreferenced_contained(resource: &Value) -> Vec<usize> {
    let Some(contained) = resource.get("contained").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut local = std::collections::HashSet::new();
    local_references(resource, &mut local);
    if local.contains("") {
        return Vec::new();
    }
    contained
        .iter()
        .enumerate()
        .filter(|(_, c)| c.get("id").and_then(Value::as_str).is_none_or(|id| !local.contains(id)))
        .map(|(i, _)| i)
        .collect()
}

/// The ids of every `#id` string in `value` (`""` for `#`).
fn local_references<'v>(value: &'v Value, out: &mut std::collections::HashSet<&'v str>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix('#') {
                out.insert(id);
            } else if s.starts_with('<') {
                // Narrative links (`<img src="#id">`, `<a href="#id">`).
                for (at, _) in s.match_indices("=\"#") {
                    let rest = &s[at + 3..];
                    out.insert(rest.split('"').next().unwrap_or_default());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| local_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| local_references(v, out)),
        _ => {}
    }
}

/// The resource a reference names, in the walked resource's contained
/// resources or the Bundle's entries.
pub(super) fn resolve<'v>(reference: &str, ctx: Ctx<'v>, bundle: Option<&'v Value>) -> Option<&'v Value> {
    if let Some(id) = reference.strip_prefix('#') {
        if id.is_empty() {
            return Some(ctx.root);
        }
        return ctx
            .root
            .get("contained")?
            .as_array()?
            .iter()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(id));
    }
    let entries = bundle?.get("entry")?.as_array()?;
    let reference = reference.split("/_history/").next().unwrap_or(reference);
    // By fullUrl: the same, or for a relative reference one ending with it
    // (whatever the entry holds — a wrong type there is the reference's
    // fault, reported as such).
    let suffix = format!("/{reference}");
    let relative = !reference.contains(':');
    if let Some(found) = entries.iter().find(|e| {
        e.get("fullUrl")
            .and_then(Value::as_str)
            .is_some_and(|u| u == reference || (relative && u.ends_with(&suffix)))
    }) {
        return found.get("resource");
    }
    let (kind, id) = type_and_id(reference)?;
    entries.iter().filter_map(|e| e.get("resource")).find(|r| {
        r.get("resourceType").and_then(Value::as_str) == Some(kind) && r.get("id").and_then(Value::as_str) == Some(id)
    })
}

/// `Patient` in `Patient/1`, `http://x/fhir/Patient/1`, `Patient/1/_history/2`.
fn type_in(reference: &str) -> Option<&str> {
    type_and_id(reference).map(|(kind, _)| kind)
}

fn type_and_id(reference: &str) -> Option<(&str, &str)> {
    let reference = reference.split("/_history/").next().unwrap_or(reference);
    let reference = reference.split(['?', '#']).next().unwrap_or(reference);
    let mut segments = reference.rsplit('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let kind = segments.next()?;
    r4().is_resource(kind).then_some((kind, id))
}
