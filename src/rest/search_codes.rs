//! Token searches that need the terminology service
//! (<https://hl7.org/fhir/R4/search.html#token>): `:in` / `:not-in` a value
//! set, `:below` (the code and everything it subsumes) and `:above` (the
//! code and everything that subsumes it). Before the plan is compiled, each
//! becomes the list of codes it stands for, which search matches like any
//! token list. What cannot be enumerated here — a value set including all of
//! LOINC, a code system not loaded — is refused (422), never searched as
//! if it were empty.

use std::collections::BTreeSet;

use serde_json::json;

use crate::error::FhirError;
use crate::outcome::{Issue, IssueType};
use crate::search::params::{Criterion, SearchRequest, TokenMatch, TokenValue};
use crate::terminology::expansion::Expansion;
use crate::terminology::{ExpandOptions, TerminologyService};

/// More codes than this in one criterion is refused: the list becomes SQL
/// parameters, and a search on tens of thousands of codes is not one a
/// client means.
pub const MAX_CODES: usize = 10_000;

/// Replaces every terminology criterion of `request` by its codes.
pub fn resolve(request: &mut SearchRequest, svc: &TerminologyService) -> Result<(), FhirError> {
    for clause in &mut request.clauses {
        let resolved = match &clause.criterion {
            Criterion::InValueSet { negated, urls } => Some((*negated, in_value_sets(svc, urls)?)),
            Criterion::Token(mode @ (TokenMatch::Above | TokenMatch::Below), values) => Some((
                false,
                subsumption(svc, *mode == TokenMatch::Below, &clause.code, values)?,
            )),
            _ => None,
        };
        if let Some((negated, codes)) = resolved {
            if codes.len() > MAX_CODES {
                return Err(unprocessable(
                    IssueType::TooCostly,
                    format!(
                        "'{}' stands for {} codes, more than the {MAX_CODES} a search takes",
                        clause.code,
                        codes.len()
                    ),
                ));
            }
            let original = Box::new(std::mem::replace(&mut clause.criterion, Criterion::Missing(false)));
            clause.criterion = Criterion::Codes {
                negated,
                codes: codes.into_iter().collect(),
                original,
            };
        }
    }
    Ok(())
}

type Codes = BTreeSet<(String, String)>;

fn in_value_sets(svc: &TerminologyService, urls: &[String]) -> Result<Codes, FhirError> {
    let mut codes = Codes::new();
    for url in urls {
        let expansion = svc.expansion(url).map_err(|e| match e {
            // In a search the value set is a parameter value: unknown is 400.
            crate::terminology::TerminologyError::NotFound { .. } => {
                FhirError::invalid(IssueType::Value, format!("value set '{url}' is not known"), None)
            }
            other => other.into(),
        })?;
        add_members(&mut codes, &expansion, &format!("value set '{url}'"))?;
    }
    Ok(codes)
}

fn subsumption(svc: &TerminologyService, below: bool, code: &str, values: &[TokenValue]) -> Result<Codes, FhirError> {
    let mut codes = Codes::new();
    for value in values {
        let TokenValue::SystemCode { system, code: concept } = value else {
            return Err(FhirError::invalid(
                IssueType::Value,
                format!("'{code}:{}' needs system|code", if below { "below" } else { "above" }),
                None,
            ));
        };
        let op = if below { "is-a" } else { "generalizes" };
        let value_set = json!({"resourceType": "ValueSet", "status": "active", "compose": {"include": [
            {"system": system, "filter": [{"property": "concept", "op": op, "value": concept}]}]}});
        let expansion = svc.expansion_of(&value_set, &ExpandOptions::default())?;
        add_members(&mut codes, &expansion, &format!("'{system}|{concept}'"))?;
    }
    Ok(codes)
}

/// The expansion's codes, or 422 when it cannot list them all (a code
/// system not loaded here, such as LOINC or SNOMED CT).
fn add_members(codes: &mut Codes, expansion: &Expansion, what: &str) -> Result<(), FhirError> {
    if let Some((system, _)) = expansion.open.first() {
        return Err(unprocessable(
            IssueType::NotSupported,
            format!("{what} needs the codes of {system}, which this server cannot list"),
        ));
    }
    codes.extend(
        expansion
            .members
            .iter()
            .map(|m| (m.system.to_string(), m.code.to_string())),
    );
    Ok(())
}

fn unprocessable(code: IssueType, message: String) -> FhirError {
    FhirError::Unprocessable(vec![Issue::error(code, message)])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::packages::CanonicalRegistry;

    #[test]
    fn subsumption_in_a_code_system_not_loaded_is_refused() {
        let svc = TerminologyService::new(Arc::new(CanonicalRegistry::new()));
        let values = [TokenValue::SystemCode {
            system: "http://loinc.org".into(),
            code: "1234-5".into(),
        }];
        let result = subsumption(&svc, true, "code", &values);
        assert!(matches!(result, Err(FhirError::Unprocessable(_))), "{result:?}");
    }
}
