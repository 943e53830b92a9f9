//! The FHIR error type of every interaction and the one place that decides
//! what a client sees for it.
//!
//! | error                    | status | issue code     |
//! |--------------------------|--------|----------------|
//! | `UnknownResourceType`    | 404    | not-supported  |
//! | `NotFound`               | 404    | not-found      |
//! | `Gone`                   | 410    | deleted        |
//! | `Invalid`                | 400    | (per issue)    |
//! | `Unprocessable`          | 422    | (per issue)    |
//! | `PreconditionFailed`     | 412    | conflict       |
//! | `Conflict`               | 409    | conflict       |
//! | `MethodNotAllowed`       | 405    | not-supported  |
//! | `UnsupportedMediaType`   | 415    | not-supported  |
//! | `NotAcceptable`          | 406    | not-supported  |
//! | `PayloadTooLarge`        | 413    | too-long       |
//! | `NotImplemented`         | 501    | not-supported  |
//! | `Store`                  | 500    | exception (detail only in the log) |
//! | `Internal`               | 500    | exception (detail only in the log) |
//! | `Unavailable`            | 503    | transient      |
//! | `InEntry`                | that of the failed entry | (per issue, located in the Bundle) |
//!
//! A [`PatchError`] becomes `Invalid` (the patch document is malformed) or
//! `Unprocessable` with issue code `processing` (it does not apply to the
//! current resource).
//!
//! A [`SearchParamError`] is always `Invalid` (400): issue code
//! `not-supported` for a parameter the server does not know or support (an
//! error only under `Prefer: handling=strict`), `value` for a bad value,
//! `invalid` for a malformed name.
//!
//! A [`SearchError`] is `NotImplemented` (501, `not-supported`) for a search
//! feature that is parsed but not built, and `Invalid` (400) otherwise: a
//! `_page` this server did not write (`value`), or a compartment search the
//! compartment definitions do not allow (`not-supported`).
//!
//! A [`TerminologyError`] (the terminology operations) is `NotFound` (404)
//! for an unknown ValueSet, CodeSystem, ConceptMap or code; `Invalid` (400,
//! `invalid`) for a bad parameter; `Unprocessable` (422) when the request is
//! well formed but cannot be answered here: `not-supported` for a code
//! system not loaded, `processing` for a value set that cannot be expanded,
//! `too-costly` for an expansion over the limit without paging.

use thiserror::Error;

use crate::outcome::{Issue, IssueType};
use crate::rest::patch::PatchError;
use crate::search::params::SearchParamError;
use crate::search::SearchError;
use crate::store::StoreError;
use crate::terminology::TerminologyError;

#[derive(Debug, Error)]
pub enum FhirError {
    #[error("unknown resource type '{0}'")]
    UnknownResourceType(String),
    #[error("{0} is not known")]
    NotFound(String),
    #[error("{0} has been deleted")]
    Gone(String),
    #[error("the request is invalid")]
    Invalid(Vec<Issue>),
    #[error("the request cannot be processed")]
    Unprocessable(Vec<Issue>),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    NotImplemented(String),
    /// A transaction failed because of one entry; carries that entry's
    /// status and issues, located at `Bundle.entry[i]`.
    #[error("transaction entry failed")]
    InEntry { status: u16, issues: Vec<Issue> },
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Store(#[source] StoreError),
    /// A server-side failure outside storage (e.g. rendering a stored
    /// resource); the detail is for the log only.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for FhirError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConcurrentCreate => {
                FhirError::Conflict("a resource with the same id was created by a concurrent request; retry".into())
            }
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => FhirError::Unavailable(e),
            other => FhirError::Store(other),
        }
    }
}

impl From<PatchError> for FhirError {
    /// A malformed patch document is the request's fault (400); a valid one
    /// that does not fit the current resource is unprocessable (422).
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Invalid {
                code,
                message,
                expression,
            } => FhirError::invalid(code, message, expression.as_deref()),
            PatchError::NotApplicable { message, expression } => {
                let issue = Issue::error(IssueType::Processing, message);
                FhirError::Unprocessable(vec![match expression {
                    Some(e) => issue.at(e),
                    None => issue,
                }])
            }
        }
    }
}

impl From<SearchParamError> for FhirError {
    fn from(e: SearchParamError) -> Self {
        let code = match &e {
            e if e.is_unsupported() => IssueType::NotSupported,
            SearchParamError::Value { .. } => IssueType::Value,
            SearchParamError::Name { .. } | SearchParamError::Repeated { .. } => IssueType::Invalid,
        };
        FhirError::invalid(code, e.to_string(), None)
    }
}

impl From<SearchError> for FhirError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::NotSupported(_) => FhirError::NotImplemented(e.to_string()),
            SearchError::BadPage(_) => FhirError::invalid(IssueType::Value, e.to_string(), None),
            SearchError::NotInCompartment { .. } | SearchError::NoCompartment(_) => {
                FhirError::invalid(IssueType::NotSupported, e.to_string(), None)
            }
        }
    }
}

impl From<TerminologyError> for FhirError {
    fn from(e: TerminologyError) -> Self {
        let message = e.to_string();
        match e {
            TerminologyError::NotFound { .. } => FhirError::NotFound(message.trim_end_matches(" is not known").into()),
            TerminologyError::InvalidParameter { name, .. } => FhirError::invalid(
                IssueType::Invalid,
                message,
                Some(&format!("Parameters.parameter.where(name = '{name}')")),
            ),
            TerminologyError::NotSupported { .. } => {
                FhirError::Unprocessable(vec![Issue::error(IssueType::NotSupported, message)])
            }
            TerminologyError::NotExpandable { .. } => {
                FhirError::Unprocessable(vec![Issue::error(IssueType::Processing, message)])
            }
            TerminologyError::TooCostly { .. } => {
                FhirError::Unprocessable(vec![Issue::error(IssueType::TooCostly, message)])
            }
        }
    }
}

impl FhirError {
    /// One 400 issue at a FHIRPath location.
    pub fn invalid(code: IssueType, message: impl Into<String>, expression: Option<&str>) -> Self {
        let issue = Issue::error(code, message);
        FhirError::Invalid(vec![match expression {
            Some(e) => issue.at(e),
            None => issue,
        }])
    }

    pub fn status(&self) -> u16 {
        match self {
            FhirError::UnknownResourceType(_) | FhirError::NotFound(_) => 404,
            FhirError::Gone(_) => 410,
            FhirError::Invalid(_) => 400,
            FhirError::Unprocessable(_) => 422,
            FhirError::PreconditionFailed(_) => 412,
            FhirError::Conflict(_) => 409,
            FhirError::MethodNotAllowed(_) => 405,
            FhirError::UnsupportedMediaType(_) => 415,
            FhirError::NotAcceptable(_) => 406,
            FhirError::PayloadTooLarge(_) => 413,
            FhirError::NotImplemented(_) => 501,
            FhirError::Unavailable(_) => 503,
            FhirError::Store(_) | FhirError::Internal(_) => 500,
            FhirError::InEntry { status, .. } => *status,
        }
    }

    /// What the client may see: internal detail is never included.
    pub fn issues(&self) -> Vec<Issue> {
        let code = match self {
            FhirError::Invalid(issues) | FhirError::Unprocessable(issues) | FhirError::InEntry { issues, .. } => {
                return issues.clone()
            }
            FhirError::UnknownResourceType(_)
            | FhirError::MethodNotAllowed(_)
            | FhirError::UnsupportedMediaType(_)
            | FhirError::NotAcceptable(_)
            | FhirError::NotImplemented(_) => IssueType::NotSupported,
            FhirError::NotFound(_) => IssueType::NotFound,
            FhirError::Gone(_) => IssueType::Deleted,
            FhirError::PreconditionFailed(_) | FhirError::Conflict(_) => IssueType::Conflict,
            FhirError::PayloadTooLarge(_) => IssueType::TooLong,
            FhirError::Unavailable(_) => IssueType::Transient,
            FhirError::Store(_) | FhirError::Internal(_) => IssueType::Exception,
        };
        vec![Issue::error(code, self.to_string())]
    }

    /// Locates this error at `Bundle.entry[index]` (server errors stay as they
    /// are, so their detail stays hidden).
    pub fn in_entry(self, index: usize) -> Self {
        if self.is_server_error() {
            return self;
        }
        let status = self.status();
        let prefix = format!("Bundle.entry[{index}]");
        let issues = self
            .issues()
            .into_iter()
            .map(|mut issue| {
                issue.expression = Some(match issue.expression.take() {
                    // `Patient.name[0]` inside the entry's resource.
                    Some(e) => match e.split_once('.') {
                        Some((_, rest)) if e.starts_with(|c: char| c.is_ascii_uppercase()) => {
                            format!("{prefix}.resource.{rest}")
                        }
                        // `Patient`: the entry's resource itself.
                        None if e.starts_with(|c: char| c.is_ascii_uppercase()) => format!("{prefix}.resource"),
                        _ => format!("{prefix}.{e}"),
                    },
                    None => prefix.clone(),
                });
                issue.diagnostics = format!("entry {index}: {}", issue.diagnostics);
                issue
            })
            .collect();
        FhirError::InEntry { status, issues }
    }

    /// Whether this is the server's fault (logged as an error).
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500 && !matches!(self, FhirError::NotImplemented(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_detail_from_clients() {
        let e = FhirError::Store(StoreError::Corrupt("secret table name".into()));
        assert_eq!(e.status(), 500);
        assert!(!e.issues()[0].diagnostics.contains("secret"));
    }

    #[test]
    fn lost_create_race_is_a_conflict_not_a_server_error() {
        let e: FhirError = StoreError::ConcurrentCreate.into();
        assert_eq!(e.status(), 409);
    }
}
