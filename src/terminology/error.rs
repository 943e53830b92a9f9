//! What can go wrong in a terminology operation, and how each becomes an
//! OperationOutcome (through [`FhirError`]).
//!
//! | error              | status | issue code    |
//! |--------------------|--------|---------------|
//! | `NotFound`         | 404    | not-found     |
//! | `InvalidParameter` | 400    | invalid       |
//! | `NotSupported`     | 422    | not-supported |
//! | `NotExpandable`    | 422    | processing    |
//! | `TooCostly`        | 422    | too-costly    |

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TerminologyError {
    /// A ValueSet, CodeSystem or ConceptMap the request names is not known.
    #[error("{kind} '{canonical}' is not known")]
    NotFound { kind: &'static str, canonical: String },
    /// A parameter is missing, repeated where it may not be, or malformed.
    #[error("parameter '{name}': {message}")]
    InvalidParameter { name: &'static str, message: String },
    /// The request needs a code system this server does not have (LOINC or
    /// SNOMED CT not loaded, a CodeSystem with `content` = not-present, a
    /// filter that cannot be evaluated on a built-in system …).
    #[error("code system '{system}' is not supported here: {reason}")]
    NotSupported { system: String, reason: String },
    /// The value set's definition cannot be evaluated (a circular import, an
    /// unknown filter operator …).
    #[error("value set '{url}' cannot be expanded: {reason}")]
    NotExpandable { url: String, reason: String },
    /// The expansion is larger than the server returns without paging.
    #[error("the expansion has {total} codes, more than the limit of {limit}; use count and offset to page")]
    TooCostly { total: usize, limit: usize },
}

impl TerminologyError {
    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
        TerminologyError::InvalidParameter {
            name,
            message: message.into(),
        }
    }

    pub(crate) fn not_supported(system: &str, reason: impl Into<String>) -> Self {
        TerminologyError::NotSupported {
            system: system.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_expandable(url: &str, reason: impl Into<String>) -> Self {
        TerminologyError::NotExpandable {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FhirError;

    #[test]
    fn each_error_kind_maps_to_its_status_and_issue_code() {
        let cases = [
            (
                TerminologyError::NotFound {
                    kind: "ValueSet",
                    canonical: "http://x".into(),
                },
                404,
                "not-found",
            ),
            (TerminologyError::param("count", "not an integer"), 400, "invalid"),
            (
                TerminologyError::not_supported("http://loinc.org", "not loaded"),
                422,
                "not-supported",
            ),
            (TerminologyError::TooCostly { total: 5, limit: 1 }, 422, "too-costly"),
        ];
        for (error, status, code) in cases {
            let fhir: FhirError = error.into();
            assert_eq!(fhir.status(), status);
            assert_eq!(fhir.issues()[0].code.code(), code);
        }
    }
}
