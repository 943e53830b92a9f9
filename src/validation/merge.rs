//! One list of findings from the two validators. The profile validator
//! checks much of what the structural pass checks (ids, primitive formats,
//! unknown elements, empty arrays), in its own words; a client should see
//! one error per fault, so a profile finding at a location where the
//! structural pass already reported a finding of the same severity is left
//! out. Findings elsewhere, and of other severities, are all kept.

use crate::outcome::Issue;

/// `structural`'s issues, then `profile`'s not already said at their
/// location.
pub fn merge(structural: Vec<Issue>, profile: Vec<Issue>) -> Vec<Issue> {
    let said = |p: &Issue| {
        structural
            .iter()
            .any(|s| s.severity == p.severity && s.expression.is_some() && s.expression == p.expression)
    };
    let kept: Vec<Issue> = profile.into_iter().filter(|p| !said(p)).collect();
    structural.into_iter().chain(kept).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{IssueType, Severity};

    fn at(severity: Severity, expression: &str, message: &str) -> Issue {
        Issue {
            severity,
            code: IssueType::Structure,
            diagnostics: message.into(),
            expression: Some(expression.into()),
        }
    }

    #[test]
    fn a_fault_both_validators_find_is_reported_once() {
        let structural = vec![at(Severity::Error, "Patient.id", "not a valid id")];
        let profile = vec![
            at(Severity::Error, "Patient.id", "Invalid Resource id"),
            at(Severity::Error, "Patient.gender", "not in the value set"),
            at(Severity::Warning, "Patient.id", "a warning stays"),
        ];
        let merged = merge(structural, profile);
        let messages: Vec<&str> = merged.iter().map(|i| i.diagnostics.as_str()).collect();
        assert_eq!(messages, ["not a valid id", "not in the value set", "a warning stays"]);
    }
}
