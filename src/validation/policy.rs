//! Validation on write: what a deployment requires of every resource it
//! stores (`validation` in the configuration, see docs/validation-usage.md).
//!
//! - `off`: nothing beyond the body being a resource of the URL's type;
//! - `structural` (the default): the R4 JSON schema and FHIR JSON rules;
//! - `declared`: also the base definition and every profile the resource
//!   declares in `meta.profile`;
//! - `enforced`: also, for the resource types configured, conformance to at
//!   least one of the configured profiles (every Patient is BRIndividuo or
//!   us-core-patient).
//!
//! A profile named in `meta.profile` that the server does not know is an
//! error or a warning, as configured.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::ProfileValidator;
use crate::outcome::{Issue, IssueType, Severity};

/// How much a write is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    Off,
    #[default]
    Structural,
    Declared,
    Enforced,
}

impl ValidationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationMode::Off => "off",
            ValidationMode::Structural => "structural",
            ValidationMode::Declared => "declared",
            ValidationMode::Enforced => "enforced",
        }
    }
}

/// The severity of an unknown profile in `meta.profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum UnknownProfile {
    Error,
    #[default]
    Warning,
}

impl UnknownProfile {
    pub fn severity(self) -> Severity {
        match self {
            UnknownProfile::Error => Severity::Error,
            UnknownProfile::Warning => Severity::Warning,
        }
    }
}

/// The write policy of a deployment, checked at start.
#[derive(Debug, Clone, Default)]
pub struct WritePolicy {
    pub mode: ValidationMode,
    pub unknown_profile: UnknownProfile,
    /// Resource type → the profiles one of which it must conform to
    /// (`enforced` only).
    pub enforced: BTreeMap<String, Vec<String>>,
}

/// What profile validation found on a write: accepted with `issues` as
/// warnings, or refused because some are errors.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Accepted(Vec<Issue>),
    Refused(Vec<Issue>),
}

impl WritePolicy {
    /// Whether the structural checks run.
    pub fn structural(&self) -> bool {
        self.mode != ValidationMode::Off
    }

    /// The profile checks of a resource about to be written (after the
    /// structural ones). `structural` and `off` run none.
    pub fn check(&self, validator: &ProfileValidator, resource: &Value) -> Verdict {
        if matches!(self.mode, ValidationMode::Off | ValidationMode::Structural) {
            return Verdict::Accepted(Vec::new());
        }
        let mut issues = validator.validate(resource, &[], self.unknown_profile.severity());
        issues.extend(self.enforced_issues(validator, resource, &issues));
        if issues.iter().any(is_error) {
            Verdict::Refused(issues)
        } else {
            Verdict::Accepted(issues)
        }
    }
}

impl WritePolicy {
    /// Under `enforced`, what stands between the resource and the profiles
    /// required of its type: nothing when it conforms to one of them, else
    /// an error saying so and what each profile found. `base` is what
    /// [`ProfileValidator::validate`] found without them (every run
    /// repeats it, so it is left out of each profile's findings).
    pub fn enforced_issues(&self, validator: &ProfileValidator, resource: &Value, base: &[Issue]) -> Vec<Issue> {
        if self.mode != ValidationMode::Enforced {
            return Vec::new();
        }
        let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or("");
        match self.enforced.get(kind) {
            Some(required) if !required.is_empty() => one_of(
                validator,
                resource,
                kind,
                required,
                base,
                self.unknown_profile.severity(),
            ),
            _ => Vec::new(),
        }
    }
}

fn is_error(issue: &Issue) -> bool {
    matches!(issue.severity, Severity::Error | Severity::Fatal)
}

/// Conformance to at least one of `required`: nothing when one of them
/// finds no error beyond `base` (the issues of the base definition and
/// declared profiles, which every run repeats); else an error saying so,
/// followed by what each profile found.
fn one_of(
    validator: &ProfileValidator,
    resource: &Value,
    kind: &str,
    required: &[String],
    base: &[Issue],
    severity: Severity,
) -> Vec<Issue> {
    let mut found = Vec::new();
    for profile in required {
        let own = without(
            validator.validate(resource, std::slice::from_ref(profile), severity),
            base,
        );
        if !own.iter().any(is_error) {
            return Vec::new();
        }
        found.extend(own.into_iter().filter(is_error));
    }
    let lead = Issue::error(
        IssueType::Processing,
        format!(
            "this server requires every {kind} to conform to {}; it conforms to none (the errors against each follow)",
            describe(required)
        ),
    )
    .at(kind);
    std::iter::once(lead).chain(found).collect()
}

fn describe(profiles: &[String]) -> String {
    match profiles {
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}

/// `issues` less one copy of each issue in `base`.
fn without(mut issues: Vec<Issue>, base: &[Issue]) -> Vec<Issue> {
    for b in base {
        if let Some(at) = issues.iter().position(|i| i == b) {
            issues.remove(at);
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::packages::CanonicalRegistry;
    use crate::terminology::TerminologyService;

    const PROFILE: &str = "http://example.org/StructureDefinition/strict-patient";

    /// A Patient profile binding `maritalStatus` to a one-code value set,
    /// required: binding errors are what the profile validator reports.
    fn validator() -> ProfileValidator {
        let registry = crate::packages::base::registry();
        add_profile(&registry);
        ProfileValidator::new(Arc::new(TerminologyService::new(Arc::new(registry))))
    }

    fn add_profile(registry: &CanonicalRegistry) {
        use crate::packages::Origin;
        let vs = json!({
            "resourceType": "ValueSet", "url": "http://example.org/ValueSet/married-only", "status": "active",
            "compose": {"include": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                      "concept": [{"code": "M"}]}]}
        });
        registry.insert_value(Arc::new(vs), Origin::Package("test#1".into()));
        let base = registry
            .structure_definition("http://hl7.org/fhir/StructureDefinition/Patient")
            .expect("base Patient");
        let mut profile = (*base).clone();
        profile["url"] = json!(PROFILE);
        profile["derivation"] = json!("constraint");
        profile["baseDefinition"] = json!("http://hl7.org/fhir/StructureDefinition/Patient");
        for element in profile["snapshot"]["element"].as_array_mut().into_iter().flatten() {
            if element["path"] == "Patient.maritalStatus" {
                element["binding"] = json!({"strength": "required",
                    "valueSet": "http://example.org/ValueSet/married-only"});
            }
        }
        registry.insert_value(Arc::new(profile), Origin::Package("test#1".into()));
    }

    fn patient(marital: &str, profiles: &[&str]) -> Value {
        let mut patient = json!({
            "resourceType": "Patient",
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">a patient</div>"},
            "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                          "code": marital}]}
        });
        if !profiles.is_empty() {
            patient["meta"] = json!({ "profile": profiles });
        }
        patient
    }

    fn policy(mode: ValidationMode) -> WritePolicy {
        WritePolicy {
            mode,
            unknown_profile: UnknownProfile::Warning,
            enforced: BTreeMap::from([("Patient".to_owned(), vec![PROFILE.to_owned()])]),
        }
    }

    #[test]
    fn structural_mode_runs_no_profile_check() {
        let verdict = policy(ValidationMode::Structural).check(&validator(), &patient("S", &[PROFILE]));
        assert_eq!(verdict, Verdict::Accepted(Vec::new()));
    }

    #[test]
    fn declared_mode_checks_the_profiles_in_meta_only() {
        let v = validator();
        let declared = policy(ValidationMode::Declared);
        assert!(matches!(
            declared.check(&v, &patient("S", &[PROFILE])),
            Verdict::Refused(_)
        ));
        assert!(matches!(declared.check(&v, &patient("S", &[])), Verdict::Accepted(_)));
    }

    #[test]
    fn enforced_mode_requires_a_configured_profile_even_undeclared() {
        let v = validator();
        let enforced = policy(ValidationMode::Enforced);
        let Verdict::Refused(issues) = enforced.check(&v, &patient("S", &[])) else {
            panic!("a single Patient should be refused");
        };
        let lead = issues.iter().find(|i| is_error(i)).map(|i| i.diagnostics.as_str());
        assert!(lead.is_some_and(|d| d.contains(PROFILE)), "{issues:?}");
        assert!(issues
            .iter()
            .any(|i| i.expression.as_deref() == Some("Patient.maritalStatus")));
        assert!(matches!(enforced.check(&v, &patient("M", &[])), Verdict::Accepted(_)));
    }

    #[test]
    fn one_conforming_profile_of_several_is_enough() {
        let v = validator();
        let mut enforced = policy(ValidationMode::Enforced);
        let loose = "http://hl7.org/fhir/StructureDefinition/Patient".to_owned();
        enforced.enforced.insert("Patient".into(), vec![PROFILE.into(), loose]);
        assert!(matches!(enforced.check(&v, &patient("S", &[])), Verdict::Accepted(_)));
    }

    #[test]
    fn unknown_declared_profile_is_refused_or_warned_as_configured() {
        let v = validator();
        let unknown = patient("M", &["http://example.org/nowhere"]);
        let mut declared = policy(ValidationMode::Declared);
        let Verdict::Accepted(warnings) = declared.check(&v, &unknown) else {
            panic!("a warning only by default");
        };
        let about = |i: &&Issue| i.diagnostics.contains("http://example.org/nowhere");
        assert_eq!(warnings.iter().filter(about).count(), 1, "{warnings:?}");
        declared.unknown_profile = UnknownProfile::Error;
        assert!(matches!(declared.check(&v, &unknown), Verdict::Refused(_)));
    }
}
