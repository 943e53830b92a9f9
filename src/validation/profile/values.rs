//! Value constraints of an element: `fixed[x]` (exactly this), `pattern[x]`
//! (at least this), `minValue[x]` / `maxValue[x]`, and its binding, checked
//! through the terminology service ([`crate::validation::bindings`]).

use std::cmp::Ordering;

use serde_json::Value;

use super::definition::{Definition, Rule};
use super::json::covers;
use super::primitive::clip;
use super::slicing::same_value;
use super::walk::Walker;
use crate::outcome::IssueType;
use crate::validation::bindings::{bound, check, NotCheckable, Outcome};

impl Walker<'_, '_> {
    pub(super) fn values(&mut self, rule: &Rule, value: &Value, kind: &str, path: &str) {
        if let Some(fixed) = &rule.fixed {
            if !same_value(value, fixed) {
                self.error(
                    IssueType::Value,
                    path,
                    format!(
                        "Value is {} but must be exactly {} (fixed for {})",
                        show(value),
                        show(fixed),
                        rule.path
                    ),
                );
            }
        }
        if let Some(pattern) = &rule.pattern {
            if !covers(value, pattern) {
                self.error(
                    IssueType::Value,
                    path,
                    format!(
                        "Value is {} but must match the pattern {} ({})",
                        show(value),
                        show(pattern),
                        rule.path
                    ),
                );
            }
        }
        for (bound, low) in [(&rule.min_value, true), (&rule.max_value, false)] {
            let Some(limit) = bound else { continue };
            let Some(order) = compare(value, limit, kind) else {
                continue;
            };
            let broken = match low {
                true => order == Ordering::Less,
                false => order == Ordering::Greater,
            };
            if broken {
                let which = if low { "minimum" } else { "maximum" };
                self.error(
                    IssueType::Value,
                    path,
                    format!(
                        "Value {} is beyond the {which} of {} for {}",
                        show(value),
                        show(limit),
                        rule.path
                    ),
                );
            }
        }
    }

    /// The element's binding, if it has one and the value is coded.
    pub(super) fn binding(&mut self, def: &Definition, at: usize, value: &Value, kind: &str, path: &str) {
        let node = def.tree.node(at);
        if node.element.get("binding").is_none() {
            return;
        }
        let Some(bound) = bound(&def.tree, node, value, Some(kind), path) else {
            return;
        };
        if let Some(collected) = &mut self.bindings {
            collected.push(bound);
            return;
        }
        let checked = check(self.validator.terminology(), bound);
        let Some(severity) = checked.severity() else { return };
        let message = format!(
            "{} (binding {} to {}, in {})",
            describe(&checked.outcome),
            checked.bound.strength.code(),
            checked.value_set_used,
            def.url()
        );
        self.report(severity, IssueType::CodeInvalid, path, message);
    }
}

impl Walker<'_, '_> {
    /// A Coding's system is an absolute URI naming a code system, not a
    /// value set (a common mistake the Java validator reports).
    pub(super) fn coding_system(&mut self, map: &serde_json::Map<String, Value>, path: &str) {
        let Some(system) = map.get("system").and_then(Value::as_str) else {
            return;
        };
        let here = format!("{path}.system");
        if !system.contains(':') {
            self.error(
                IssueType::Value,
                &here,
                format!("Coding.system must be an absolute reference, not a local reference ('{system}')"),
            );
            return;
        }
        let registry = self.validator.registry();
        // Entries, not parsed resources: this runs for every Coding.
        let names = |kind: &str| registry.resolve_entry(Some(kind), system).is_some();
        if names("ValueSet") && !names("CodeSystem") {
            self.error(
                IssueType::Value,
                &here,
                format!("The Coding references a value set, not a code system ('{system}')"),
            );
        }
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Valid => "Valid".into(),
        Outcome::Invalid(message) => message.clone(),
        Outcome::NotCheckable(NotCheckable::SystemNotSupported(s)) => {
            format!("The code system {s} is not available here; the code was not checked")
        }
        Outcome::NotCheckable(NotCheckable::Fragment(s)) => {
            format!("The code was not found in {s}, which this server holds only a fragment of")
        }
        Outcome::NotCheckable(NotCheckable::ValueSet(why)) => format!("The value set cannot be evaluated here: {why}"),
        Outcome::UnknownValueSet(vs) => format!("The value set {vs} is not known to this server"),
        Outcome::NoCode => "A code is required here, but the CodeableConcept has none".into(),
    }
}

/// Orders a value against a min/max limit: numbers by value, dates and
/// times by their text when written to the same precision, quantities by
/// value when their units agree.
fn compare(value: &Value, limit: &Value, kind: &str) -> Option<Ordering> {
    match (value, limit) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) if a.len() == b.len() => Some(a.cmp(b)),
        (Value::Object(a), Value::Object(b)) if kind_is_quantity(kind) => {
            let unit = |m: &serde_json::Map<String, Value>| m.get("code").or(m.get("unit")).cloned();
            if unit(a) != unit(b) {
                return None;
            }
            compare(a.get("value")?, b.get("value")?, "decimal")
        }
        _ => None,
    }
}

fn kind_is_quantity(kind: &str) -> bool {
    crate::model::definitions::r4().is_a(kind, "Quantity")
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{}'", clip(s)),
        other => clip(&other.to_string()),
    }
}
