//! `ipe validate FILE… [--profile URL]… [--package NAME@VER|FILE]…`:
//! validation without a server. The registry is built as `ipe serve`
//! builds it (base R4, the `--package` packages and ready sets, snapshots
//! generated), each file is read as JSON or XML and checked structurally
//! and against its base definition, its `meta.profile` and each
//! `--profile`, and a report like an OperationOutcome is printed per file.
//!
//! Exit code: 0 when no file has an error, 1 when one has, 2 when the
//! command cannot do its work (a file unreadable, a package or profile not
//! found); see [`Summary::exit_code`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::{ProfileValidator, StructuralValidator};
use crate::config::Config;
use crate::http::{parse_resource, Format};
use crate::outcome::{Issue, Severity};
use crate::terminology::TerminologyService;

/// What the command found over all its files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    /// Files with at least one error.
    pub invalid: usize,
    /// Files that could not be read.
    pub unreadable: usize,
}

impl Summary {
    /// 2 when a file could not be read, else 1 when one is invalid, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.unreadable > 0 {
            2
        } else if self.invalid > 0 {
            1
        } else {
            0
        }
    }
}

/// Why the command cannot run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error("cannot load the R4 schema: {0}")]
    Schema(#[from] super::SchemaLoadError),
    #[error("the profile {0} is not known: load the package that defines it with --package")]
    UnknownProfile(String),
}

/// Validates `files`, printing each report as it is made (`print` gets
/// the text of one file's report).
pub async fn run(
    config: &Config,
    files: &[PathBuf],
    profiles: &[String],
    mut print: impl FnMut(&str),
) -> Result<Summary, ValidateError> {
    let canonicals = Arc::new(crate::startup::load_canonicals(config).await?);
    if let Some(unknown) = profiles.iter().find(|p| canonicals.structure_definition(p).is_none()) {
        return Err(ValidateError::UnknownProfile(unknown.clone()));
    }
    let terminology = crate::startup::load_code_systems(config, Arc::new(TerminologyService::new(canonicals)))?;
    let profile = ProfileValidator::new(terminology);
    let structural = StructuralValidator::new()?;
    let unknown_profile = config.validation.unknown_profile.severity();
    let mut summary = Summary::default();
    for file in files {
        summary.files += 1;
        let issues = match read(file) {
            Ok(Ok(resource)) => {
                let found = profile.validate(&resource, profiles, unknown_profile);
                super::merge(structural.validate(&resource), found)
            }
            // Not FHIR JSON or XML: the file is invalid, as a server would say.
            Ok(Err(issues)) => issues,
            Err(error) => {
                summary.unreadable += 1;
                print(&format!("== {}: cannot be read: {error}\n", file.display()));
                continue;
            }
        };
        if issues.iter().any(is_error) {
            summary.invalid += 1;
        }
        print(&report(file, &issues));
    }
    Ok(summary)
}

fn is_error(issue: &Issue) -> bool {
    matches!(issue.severity, Severity::Error | Severity::Fatal)
}

/// The file parsed as a resource (XML when it starts with `<`), or the
/// issues of a file that is not one; `Err` when it cannot be read.
fn read(path: &Path) -> std::io::Result<Result<Value, Vec<Issue>>> {
    let bytes = std::fs::read(path)?;
    let format = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Format::Xml,
        _ => Format::Json,
    };
    Ok(parse_resource(&bytes, format).map_err(|e| e.issues()))
}

/// One file's report: a heading with the counts, then one line per issue
/// (severity, FHIRPath location, issue code, message).
fn report(file: &Path, issues: &[Issue]) -> String {
    let count = |s: &[Severity]| issues.iter().filter(|i| s.contains(&i.severity)).count();
    let errors = count(&[Severity::Error, Severity::Fatal]);
    let warnings = count(&[Severity::Warning]);
    let mut out = format!(
        "== {}: {} — {errors} error(s), {warnings} warning(s)\n",
        file.display(),
        if errors == 0 { "valid" } else { "INVALID" }
    );
    for i in issues {
        let _ = writeln!(
            out,
            "  {:<11} {} [{}] {}",
            i.severity.code(),
            i.expression.as_deref().unwrap_or("(resource)"),
            i.code.code(),
            i.diagnostics
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::IssueType;

    #[test]
    fn exit_code_puts_unreadable_files_before_invalid_ones() {
        let s = |invalid, unreadable| Summary {
            files: 3,
            invalid,
            unreadable,
        };
        assert_eq!(s(0, 0).exit_code(), 0);
        assert_eq!(s(2, 0).exit_code(), 1);
        assert_eq!(s(2, 1).exit_code(), 2);
    }

    #[test]
    fn report_gives_counts_then_one_line_per_issue() {
        let issues = [
            Issue::error(IssueType::CodeInvalid, "not in the value set").at("Patient.gender"),
            Issue {
                severity: Severity::Warning,
                code: IssueType::NotFound,
                diagnostics: "unknown profile".into(),
                expression: None,
            },
        ];
        let text = report(Path::new("p.json"), &issues);
        assert!(
            text.starts_with("== p.json: INVALID — 1 error(s), 1 warning(s)\n"),
            "{text}"
        );
        assert!(
            text.contains("error       Patient.gender [code-invalid] not in the value set"),
            "{text}"
        );
        assert!(
            text.contains("warning     (resource) [not-found] unknown profile"),
            "{text}"
        );
    }
}
