//! The SQL of criteria, read as text: what the integration tests cannot see
//! (that values are bound, never spliced) and refusals of what is not built.

use super::*;
use crate::search::params::{parse, ParseOptions};

fn env() -> Env {
    Env {
        dialect: Dialect::Sqlite,
        base: "http://example.org/fhir".into(),
        now: 0,
    }
}

/// The criterion of `name=value` on `resource_type`, for the submodules'
/// tests (the value readers are private to the parser).
pub(super) fn criterion(resource_type: &str, name: &str, value: &str) -> Criterion {
    let pairs = vec![(name.to_owned(), value.to_owned())];
    parse(Some(resource_type), &pairs, Registry::r4(), &ParseOptions::default())
        .ok()
        .and_then(|request| request.clauses.into_iter().next())
        .map(|clause| clause.criterion)
        .unwrap_or_else(|| panic!("{resource_type}?{name}={value} does not parse"))
}

fn condition(resource_type: &str, name: &str, value: &str) -> std::result::Result<Sql, SearchError> {
    let pairs = vec![(name.to_owned(), value.to_owned())];
    let request = parse(Some(resource_type), &pairs, Registry::r4(), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
    let types = request.resource_type.into_iter().collect::<Vec<_>>();
    let mut sql = Sql::new("");
    let env = env();
    let mut e = Emit::new(&mut sql, &env, Registry::r4());
    for clause in &request.clauses {
        e.clause("r", &types, clause)?;
    }
    Ok(sql)
}

/// Client text reaches the database only as bound parameters.
#[test]
fn values_are_bound_never_spliced() {
    let sql = condition("Patient", "name", "o'brien; DROP TABLE resources").unwrap_or_default();
    assert!(!sql.text.contains("brien"), "{}", sql.text);
    assert!(!sql.text.contains("DROP"), "{}", sql.text);
    let sql = condition("Patient", "identifier", "x' OR '1'='1").unwrap_or_default();
    assert!(!sql.text.contains("'1'"), "{}", sql.text);
}

/// search.html#modifiers: `:not` includes resources without any value.
#[test]
fn token_not_is_not_in_the_matching_rows() {
    let sql = condition("Patient", "gender:not", "male").unwrap_or_default();
    assert!(
        sql.text.starts_with("r.rkey NOT IN (SELECT x1.rkey FROM idx_token"),
        "{}",
        sql.text
    );
}

#[test]
fn missing_true_is_not_in_the_table_of_the_parameter_type() {
    let sql = condition("Patient", "birthdate:missing", "true").unwrap_or_default();
    assert!(
        sql.text.starts_with("r.rkey NOT IN (SELECT x1.rkey FROM idx_date"),
        "{}",
        sql.text
    );
    let sql = condition("Patient", "birthdate:missing", "false").unwrap_or_default();
    assert!(
        sql.text.starts_with("r.rkey IN (SELECT x1.rkey FROM idx_date"),
        "{}",
        sql.text
    );
}

#[test]
fn terminology_modifiers_are_refused_as_not_supported() {
    for (name, value) in [
        ("code:in", "http://example.org/vs"),
        ("code:not-in", "http://example.org/vs"),
        ("code:below", "http://snomed.info/sct|123"),
        ("code:above", "http://snomed.info/sct|123"),
    ] {
        assert!(
            matches!(condition("Observation", name, value), Err(SearchError::NotSupported(_))),
            "{name}"
        );
    }
}

/// A chain is an EXISTS through idx_reference into the target resources.
#[test]
fn chains_nest_through_the_target_resources() {
    let sql = condition("Observation", "subject:Patient.name", "peter").unwrap_or_default();
    assert!(
        sql.text
            .starts_with("EXISTS (SELECT 1 FROM idx_reference x1 JOIN resources t2"),
        "{}",
        sql.text
    );
    assert!(
        sql.text
            .contains("t2.rkey IN (SELECT x3.rkey FROM idx_string x3 WHERE x3.param ="),
        "{}",
        sql.text
    );
}
