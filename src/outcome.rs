//! OperationOutcome issues: the one shape every error, warning and validation
//! finding takes before it reaches a client.

use serde_json::{json, Value};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code` (value set `issue-type`), the subset Ipê emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    Invalid,
    Structure,
    Required,
    Value,
    /// A code that is not valid in its system or value set (terminology).
    CodeInvalid,
    Invariant,
    Security,
    Forbidden,
    NotSupported,
    NotFound,
    Deleted,
    TooLong,
    Conflict,
    Duplicate,
    Processing,
    Exception,
    Informational,
    TooCostly,
    Incomplete,
    Timeout,
    Transient,
}

impl IssueType {
    pub fn code(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::Invariant => "invariant",
            IssueType::Security => "security",
            IssueType::Forbidden => "forbidden",
            IssueType::NotSupported => "not-supported",
            IssueType::NotFound => "not-found",
            IssueType::Deleted => "deleted",
            IssueType::TooLong => "too-long",
            IssueType::Conflict => "conflict",
            IssueType::Duplicate => "duplicate",
            IssueType::Processing => "processing",
            IssueType::Exception => "exception",
            IssueType::Informational => "informational",
            IssueType::TooCostly => "too-costly",
            IssueType::Incomplete => "incomplete",
            IssueType::Timeout => "timeout",
            IssueType::Transient => "transient",
        }
    }
}

/// One `OperationOutcome.issue`. `expression` is a FHIRPath location such as
/// `Patient.name[0].given[1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    pub diagnostics: String,
    pub expression: Option<String>,
}

impl Issue {
    pub fn error(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn information(diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Information,
            code: IssueType::Informational,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }

    pub fn to_json(&self) -> Value {
        let mut issue = json!({
            "severity": self.severity.code(),
            "code": self.code.code(),
            "diagnostics": self.diagnostics,
        });
        if let Some(expr) = &self.expression {
            issue["expression"] = json!([expr]);
            // `location` is deprecated in R4 but still read by many clients.
            issue["location"] = json!([expr]);
        }
        issue
    }
}

/// An OperationOutcome resource holding `issues` (at least one, as the spec requires).
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = if issues.is_empty() {
        vec![Issue::information("All OK").to_json()]
    } else {
        issues.iter().map(Issue::to_json).collect()
    };
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_always_has_an_issue_because_issue_is_mandatory() {
        let oo = operation_outcome(&[]);
        assert_eq!(oo["issue"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn issue_carries_expression_and_location() {
        let i = Issue::error(IssueType::Structure, "bad").at("Patient.name[0]");
        let j = i.to_json();
        assert_eq!(j["expression"][0], "Patient.name[0]");
        assert_eq!(j["code"], "structure");
    }
}
