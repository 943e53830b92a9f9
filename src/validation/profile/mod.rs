//! Profile validation (issue 6): whether a resource meets the
//! StructureDefinitions that apply to it — its base definition, the
//! profiles it declares in `meta.profile`, and any the caller names —
//! found in the canonical registry with their snapshots.
//!
//! [`ProfileValidator::validate`] is the one entry point used by
//! `$validate`, validation on write and `ipe validate`. Structural checks
//! against the R4 JSON schema stay in
//! [`StructuralValidator`](super::StructuralValidator); callers run both.

use std::sync::Arc;

use serde_json::Value;

use super::bindings::{check, BindingFinder};
use crate::outcome::{Issue, IssueType, Severity};
use crate::packages::CanonicalRegistry;
use crate::terminology::TerminologyService;

const BASE: &str = "http://hl7.org/fhir/StructureDefinition/";

/// Validates instances against profiles from the canonical registry.
pub struct ProfileValidator {
    terminology: Arc<TerminologyService>,
}

impl ProfileValidator {
    pub fn new(terminology: Arc<TerminologyService>) -> Self {
        ProfileValidator { terminology }
    }

    pub fn registry(&self) -> &CanonicalRegistry {
        self.terminology.registry()
    }

    /// Checks `resource` against its base definition, each profile in its
    /// `meta.profile`, and each of `profiles` (canonicals, `url` or
    /// `url|version`). A profile the registry does not know is reported
    /// with severity `unknown_profile` (deployment policy: error or
    /// warning). Issues are located by FHIRPath from the resource type.
    pub fn validate(&self, resource: &Value, profiles: &[String], unknown_profile: Severity) -> Vec<Issue> {
        let Some(kind) = resource.get("resourceType").and_then(Value::as_str) else {
            return vec![Issue::error(
                IssueType::Structure,
                "A resource must have a resourceType",
            )];
        };
        let declared = resource
            .pointer("/meta/profile")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned);
        let mut wanted = vec![format!("{BASE}{kind}")];
        for p in declared.chain(profiles.iter().cloned()) {
            if !wanted.contains(&p) {
                wanted.push(p);
            }
        }
        let finder = BindingFinder::new(&self.terminology);
        let mut issues = Vec::new();
        for profile in &wanted {
            if self.registry().structure_definition(profile).is_none() {
                issues.push(Issue {
                    severity: unknown_profile,
                    code: IssueType::NotFound,
                    diagnostics: format!("Profile {profile} is not known to this server"),
                    expression: Some(kind.to_owned()),
                });
                continue;
            }
            for bound in finder.bound_values(resource, profile, kind) {
                let checked = check(&self.terminology, bound);
                if let Some(severity) = checked.severity() {
                    issues.push(Issue {
                        severity,
                        code: IssueType::CodeInvalid,
                        diagnostics: format!(
                            "{} (binding {} to {}, in {})",
                            describe(&checked.outcome),
                            checked.bound.strength.code(),
                            checked.value_set_used,
                            profile
                        ),
                        expression: Some(checked.bound.location.clone()),
                    });
                }
            }
        }
        issues
    }
}

fn describe(outcome: &super::bindings::Outcome) -> String {
    use super::bindings::{NotCheckable, Outcome};
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
