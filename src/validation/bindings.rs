//! Bindings: every coded value of an instance that a profile binds to a
//! value set, found and checked with the terminology service (issue 5,
//! must-show 3; the binding part of issue 6's validator).
//!
//! [`BindingFinder::bound_values`] walks an instance with a profile's
//! snapshot and returns each [`BoundValue`]: where it is (a FHIRPath such as
//! `Observation.code` or `Patient.name[0].use`), the binding's strength and
//! value set, and the value. [`check`] asks the terminology service and
//! classifies the answer as an [`Outcome`]; [`Checked::severity`] says what
//! a validator makes of it. [`BindingFinder::profiles_for`] says which
//! profiles an instance is checked against.
//!
//! # Layout
//!
//! - [`tree`]: a snapshot as a tree of children and slices.
//! - `finder`: [`BindingFinder`], over the profile validator's walk (choice
//!   types, slices, datatypes and extensions followed into their
//!   definitions), and [`bound`], the bound value at one element.
//! - `select`: which profiles apply to an instance.

mod finder;
mod select;
pub(crate) mod tree;

#[cfg(test)]
mod package_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

pub(crate) use finder::bound;
pub use finder::BindingFinder;

use crate::outcome::Severity;
use crate::packages::registry::split_canonical;
use crate::terminology::expansion::Expansion;
use crate::terminology::{CodingRef, TerminologyError, TerminologyService, Validation, Verdict};

/// `ElementDefinition.binding.strength`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strength {
    Required,
    Extensible,
    Preferred,
    Example,
}

impl Strength {
    pub fn parse(code: &str) -> Option<Strength> {
        Some(match code {
            "required" => Strength::Required,
            "extensible" => Strength::Extensible,
            "preferred" => Strength::Preferred,
            "example" => Strength::Example,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Strength::Required => "required",
            Strength::Extensible => "extensible",
            Strength::Preferred => "preferred",
            Strength::Example => "example",
        }
    }
}

/// A bound value as the instance has it.
#[derive(Debug, Clone, PartialEq)]
pub enum CodedValue {
    /// A `code` element.
    Code(String),
    Coding(Value),
    CodeableConcept(Value),
    /// A Quantity (or Age, Duration…) with a `code`.
    Quantity(Value),
    /// A `string` or `uri` bound like a code.
    Text(String),
}

/// One coded value under a binding.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundValue {
    /// FHIRPath of the element in the instance.
    pub location: String,
    /// The definition whose element carries the binding (the profile, or a
    /// datatype or extension definition the walk went into).
    pub profile: String,
    /// That element's id.
    pub element_id: String,
    pub strength: Strength,
    /// The value set canonical, as the binding gives it.
    pub value_set: String,
    pub value: CodedValue,
}

impl BoundValue {
    /// A CodeableConcept with `text`: what lets an extensible binding pass
    /// without a code from its value set.
    pub fn has_text(&self) -> bool {
        matches!(&self.value, CodedValue::CodeableConcept(cc) if cc.get("text").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()))
    }

    /// The codings to check, each with its own location.
    fn codings(&self) -> Vec<(String, CodingRef<'_>)> {
        match &self.value {
            CodedValue::Code(code) | CodedValue::Text(code) => vec![(
                self.location.clone(),
                CodingRef {
                    code,
                    ..CodingRef::default()
                },
            )],
            CodedValue::Coding(c) => vec![(self.location.clone(), CodingRef::from_json(c))],
            CodedValue::Quantity(q) => vec![(self.location.clone(), CodingRef::from_json(q))],
            CodedValue::CodeableConcept(cc) => cc
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| (format!("{}.coding[{i}]", self.location), CodingRef::from_json(c)))
                .filter(|(_, c)| !c.code.is_empty())
                .collect(),
        }
    }
}

/// Why a value could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotCheckable {
    /// The code system is not available here (LOINC, SNOMED CT, a
    /// CodeSystem with `content` = not-present…): the service's "not
    /// supported here".
    SystemNotSupported(String),
    /// Not found in a fragment code system: it may exist.
    Fragment(String),
    /// The value set cannot be evaluated here (its reason).
    ValueSet(String),
}

/// What checking a bound value concluded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Valid,
    /// Not in the value set; the service's message.
    Invalid(String),
    NotCheckable(NotCheckable),
    /// The value set (or one it imports, named) is not in the registry.
    UnknownValueSet(String),
    /// A CodeableConcept with no coding (text only): nothing to check.
    NoCode,
}

/// A bound value with its outcome and each coding's validation.
#[derive(Debug, Clone)]
pub struct Checked {
    pub bound: BoundValue,
    pub outcome: Outcome,
    /// (location, validation) per coding checked.
    pub codings: Vec<(String, Validation)>,
    /// The value set checked against: the binding's, or the same url
    /// without its version when that version is not known (see [`check`]).
    pub value_set_used: String,
}

impl Checked {
    /// What a validator reports, by issue 6's rules: a value outside a
    /// required binding is an error; outside an extensible one a warning,
    /// unless a CodeableConcept carries text instead; preferred and example
    /// bindings never give an issue. A value that cannot be checked (system
    /// or value set not available here) is a warning for required and
    /// extensible bindings — never a silent pass, never a false error. A
    /// required CodeableConcept with no coding is an error.
    pub fn severity(&self) -> Option<Severity> {
        let strong = matches!(self.bound.strength, Strength::Required | Strength::Extensible);
        match (&self.outcome, self.bound.strength) {
            (Outcome::Valid, _) => None,
            (Outcome::Invalid(_), Strength::Required) => Some(Severity::Error),
            (Outcome::Invalid(_), Strength::Extensible) if !self.bound.has_text() => Some(Severity::Warning),
            (Outcome::NotCheckable(_) | Outcome::UnknownValueSet(_), _) if strong => Some(Severity::Warning),
            (Outcome::NoCode, Strength::Required) => Some(Severity::Error),
            _ => None,
        }
    }
}

/// Checks a bound value against its value set. A CodeableConcept is as good
/// as its best coding; a bare code (no system) is tried in each system of
/// the value set.
pub fn check(svc: &TerminologyService, bound: BoundValue) -> Checked {
    let mut checked = Checked {
        outcome: Outcome::NoCode,
        value_set_used: bound.value_set.clone(),
        codings: Vec::new(),
        bound,
    };
    if is_simple_format(&checked.bound) {
        checked.outcome = Outcome::Valid;
        return checked;
    }
    let codings = checked.bound.codings();
    if codings.is_empty() {
        return checked;
    }
    let (expansion, used) = match expansion(svc, &checked.bound.value_set) {
        Ok(found) => found,
        Err(TerminologyError::NotFound {
            kind: "ValueSet",
            canonical,
        }) => {
            checked.outcome = Outcome::UnknownValueSet(canonical);
            return checked;
        }
        Err(e) => {
            checked.outcome = Outcome::NotCheckable(NotCheckable::ValueSet(e.to_string()));
            return checked;
        }
    };
    checked.value_set_used = used;
    let vs = checked.value_set_used.as_str();
    let results: Vec<(String, Validation)> = codings
        .iter()
        .map(|(location, coding)| {
            let v = match coding.system {
                Some(_) => svc.check_member(&expansion, vs, coding, None),
                None => bare_code(svc, &expansion, vs, coding),
            };
            (location.clone(), v)
        })
        .collect();
    checked.outcome = results
        .iter()
        .map(|(_, v)| v)
        .min_by_key(|v| v.verdict)
        .map(outcome_of)
        .unwrap_or(Outcome::NoCode);
    checked.codings = results;
    checked
}

/// R4 binds `CapabilityStatement.format` to MIME types, but its
/// definition also allows `xml`, `json` and `ttl`, the spec's own
/// encodings ("Otherwise, mime types are legal here"); servers announce
/// themselves with them, so they are valid there (as for the Java
/// validator).
fn is_simple_format(bound: &BoundValue) -> bool {
    let at_format = bound.element_id == "CapabilityStatement.format";
    at_format && matches!(&bound.value, CodedValue::Code(c) if matches!(c.as_str(), "xml" | "json" | "ttl"))
}

/// The expansion of a binding's value set, and the canonical used. The base
/// R4 definitions bind many terminology.hl7.org value sets as `url|4.0.1`,
/// a version those value sets never had (`v3-EntityNameUseR2` is
/// `2018-08-12`); like the Java validator, a versioned canonical that does
/// not resolve falls back to the latest version of the same url.
fn expansion(svc: &TerminologyService, canonical: &str) -> Result<(Arc<Expansion>, String), TerminologyError> {
    match svc.expansion(canonical) {
        Err(TerminologyError::NotFound { .. }) if canonical.contains('|') => {
            let (url, _) = split_canonical(canonical);
            match svc.registry().value_set(url) {
                Some(_) => svc.expansion(url).map(|e| (e, url.to_owned())),
                None => svc.expansion(canonical).map(|e| (e, canonical.to_owned())),
            }
        }
        other => other.map(|e| (e, canonical.to_owned())),
    }
}

/// A code without a system, tried in every system of the value set (best
/// answer wins; sorted so the answer does not depend on hash order).
fn bare_code(svc: &TerminologyService, expansion: &Expansion, vs: &str, coding: &CodingRef) -> Validation {
    let mut systems: Vec<&str> = expansion.systems().collect();
    systems.sort_unstable();
    systems.dedup();
    let tries = systems.iter().map(|s| {
        let with_system = CodingRef {
            system: Some(s),
            ..*coding
        };
        svc.check_member(expansion, vs, &with_system, None)
    });
    tries
        .min_by_key(|v| v.verdict)
        .unwrap_or_else(|| svc.check_member(expansion, vs, coding, None))
}

fn outcome_of(v: &Validation) -> Outcome {
    let system = v.system.clone().unwrap_or_default();
    match v.verdict {
        Verdict::Valid => Outcome::Valid,
        Verdict::Unknown => Outcome::NotCheckable(NotCheckable::Fragment(system)),
        Verdict::NotSupported => Outcome::NotCheckable(NotCheckable::SystemNotSupported(system)),
        Verdict::Invalid => Outcome::Invalid(v.message().unwrap_or_default()),
    }
}
