//! Search criteria matched in memory against one resource's index rows
//! (`crate::index::extract`, the same extraction the write path stores),
//! so a subscription is matched without a database query. Each criterion
//! means what the SQL of `crate::search` means for it (search.html §3.1.1);
//! what cannot be decided from the resource alone (chains, `_has`, `_list`,
//! value sets, subsumption, full text, `near`) is refused by
//! [`check_supported`] when the subscription is created, never mismatched.

use rust_decimal::Decimal;

use crate::index::{normalize_string, of_type_system, IndexEntry, IndexValue};
use crate::model::ResourceType;
use crate::search::params::{
    Clause, Criterion, DateValue, NumberValue, Prefix, QuantityValue, ReferenceValue, StringMatch, StringValue,
    TokenMatch, TokenValue, UriMatch, Value,
};

const UCUM: &str = "http://unitsofmeasure.org";

/// What a resource is matched on: its identity and index rows.
pub struct Candidate<'a> {
    pub id: &'a str,
    /// µs since the epoch.
    pub last_updated: i64,
    pub entries: &'a [IndexEntry],
    /// The server's base URL (absolute references under it are local).
    pub base: &'a str,
    /// Now, µs (date `ap` is relative to it).
    pub now: i64,
}

/// Why a criterion cannot be matched in memory.
pub fn check_supported(clause: &Clause) -> Result<(), String> {
    if !clause.path.is_empty() {
        return Err(format!(
            "'{}' goes through a chain or _has, which needs other resources: a subscription can only test the changed resource's own parameters",
            clause.code
        ));
    }
    let refused = match &clause.criterion {
        Criterion::Token(TokenMatch::Above | TokenMatch::Below, _) => Some("the token modifiers :above and :below"),
        Criterion::InValueSet { .. } | Criterion::Codes { .. } => Some("the token modifiers :in and :not-in"),
        Criterion::Special(_) | Criterion::Near(_) => Some("special parameters"),
        Criterion::List(_) => Some("_list"),
        Criterion::FullText(_) => Some("_text and _content"),
        Criterion::Composite(values) if values.iter().any(|c| c.len() > 3) => {
            Some("composites of more than three components")
        }
        _ => None,
    };
    match refused {
        Some(what) => Err(format!(
            "'{}': {what} are not supported in subscription criteria",
            clause.code
        )),
        None => Ok(()),
    }
}

/// Whether the candidate meets every clause.
pub fn matches_all(clauses: &[Clause], c: &Candidate<'_>) -> bool {
    clauses.iter().all(|clause| matches(clause, c))
}

fn matches(clause: &Clause, c: &Candidate<'_>) -> bool {
    let code = clause.code.as_str();
    match (code, &clause.criterion) {
        ("_id" | "_lastUpdated", Criterion::Missing(missing)) => return !missing,
        ("_id", Criterion::Token(mode, values)) => {
            let found = values.iter().any(|v| match v {
                TokenValue::Code(id) | TokenValue::CodeWithoutSystem(id) => id == c.id,
                _ => false,
            });
            return found != (*mode == TokenMatch::Not);
        }
        ("_lastUpdated", Criterion::Date(values)) => {
            return values
                .iter()
                .any(|v| date(v, c.last_updated, c.last_updated + 1, c.now));
        }
        _ => {}
    }
    let mut rows = c.entries.iter().filter(|e| e.code == code).map(|e| &e.value);
    match &clause.criterion {
        Criterion::Missing(missing) => rows.next().is_none() == *missing,
        Criterion::Token(TokenMatch::Not, values) => !rows.any(|r| values.iter().any(|v| token(v, r))),
        Criterion::Token(_, values) => rows.any(|r| values.iter().any(|v| token(v, r))),
        Criterion::TokenText(values) => rows.any(|r| match r {
            IndexValue::Token { text: Some(t), .. } => {
                let folded = normalize_string(t);
                values.iter().any(|v| folded.starts_with(&v.normalized))
            }
            _ => false,
        }),
        Criterion::OfType(values) => rows.any(|r| {
            values.iter().any(|v| match r {
                IndexValue::Token { system, code, .. } => {
                    system.as_deref() == Some(of_type_system(&v.system, &v.code).as_str())
                        && code.as_deref() == Some(v.value.as_str())
                }
                _ => false,
            })
        }),
        Criterion::String(mode, values) => rows.any(|r| values.iter().any(|v| string(*mode, v, r))),
        Criterion::Number(values) => rows.any(|r| match r {
            IndexValue::Number { value, .. } => values.iter().any(|v| number(v, *value)),
            _ => false,
        }),
        Criterion::Date(values) => rows.any(|r| match r {
            IndexValue::Date { low, high } => values.iter().any(|v| date(v, *low, *high, c.now)),
            _ => false,
        }),
        Criterion::Quantity(values) => rows.any(|r| values.iter().any(|v| quantity(v, r))),
        Criterion::Reference(values) => rows.any(|r| values.iter().any(|v| reference(v, r, c.base))),
        Criterion::ReferenceIdentifier(values) => rows.any(|r| match r {
            IndexValue::Reference {
                identifier: Some((system, value)),
                ..
            } => values.iter().any(|v| token_parts(v, system.as_deref(), Some(value))),
            _ => false,
        }),
        Criterion::Uri(mode, values) => rows.any(|r| match r {
            IndexValue::Uri { value } => values.iter().any(|v| uri(*mode, v, value)),
            _ => false,
        }),
        Criterion::Composite(values) => rows.any(|r| match r {
            IndexValue::Composite { components } => values.iter().any(|wanted| composite(wanted, components, c)),
            _ => false,
        }),
        // Refused by `check_supported` before a subscription is stored.
        Criterion::InValueSet { .. }
        | Criterion::Codes { .. }
        | Criterion::Special(_)
        | Criterion::Near(_)
        | Criterion::List(_)
        | Criterion::FullText(_) => false,
    }
}

fn token(v: &TokenValue, row: &IndexValue) -> bool {
    match row {
        IndexValue::Token { system, code, .. } => token_parts(v, system.as_deref(), code.as_deref()),
        _ => false,
    }
}

fn token_parts(v: &TokenValue, system: Option<&str>, code: Option<&str>) -> bool {
    match v {
        TokenValue::Code(c) => code == Some(c.as_str()),
        TokenValue::SystemCode { system: s, code: c } => system == Some(s.as_str()) && code == Some(c.as_str()),
        TokenValue::CodeWithoutSystem(c) => system.is_none() && code == Some(c.as_str()),
        TokenValue::System(s) => system == Some(s.as_str()),
    }
}

fn string(mode: StringMatch, v: &StringValue, row: &IndexValue) -> bool {
    let IndexValue::String { normalized, exact } = row else {
        return false;
    };
    match mode {
        StringMatch::StartsWith => normalized.starts_with(&v.normalized),
        StringMatch::Exact => *exact == v.text,
        StringMatch::Contains => normalized.contains(&v.normalized),
    }
}

/// The bounds a number criterion compares with (as `crate::search`'s SQL):
/// its precision range, and ±10 % for `ap`.
fn compare(prefix: Prefix, v: &NumberValue, x: Decimal) -> bool {
    let margin = v.value.abs() / Decimal::TEN;
    let near_low = v.value.checked_sub(margin).map_or(v.low, |l| l.min(v.low));
    let near_high = v.value.checked_add(margin).map_or(v.high, |h| h.max(v.high));
    match prefix {
        Prefix::Eq => x >= v.low && x < v.high,
        Prefix::Ne => x < v.low || x >= v.high,
        Prefix::Gt => x > v.value,
        Prefix::Lt => x < v.value,
        Prefix::Ge => x >= v.value,
        Prefix::Le => x <= v.value,
        Prefix::Sa => x >= v.high,
        Prefix::Eb => x < v.low,
        Prefix::Ap => x >= near_low && x <= near_high,
    }
}

fn number(v: &NumberValue, x: Decimal) -> bool {
    compare(v.prefix, v, x)
}

/// A date criterion against a value covering [low, high), as the SQL does.
fn date(v: &DateValue, low: i64, high: i64, now: i64) -> bool {
    match v.prefix {
        Prefix::Eq => low >= v.low && high <= v.high,
        Prefix::Ne => low < v.low || high > v.high,
        Prefix::Gt => high > v.high,
        Prefix::Lt => low < v.low,
        Prefix::Ge => high > v.high || low >= v.low,
        Prefix::Le => low < v.low || high <= v.high,
        Prefix::Sa => low >= v.high,
        Prefix::Eb => high <= v.low,
        Prefix::Ap => {
            let gap = if now < v.low {
                v.low.saturating_sub(now)
            } else {
                now.saturating_sub(v.high).max(0)
            };
            let margin = gap / 10;
            low < v.high.saturating_add(margin) && high > v.low.saturating_sub(margin)
        }
    }
}

fn quantity(v: &QuantityValue, row: &IndexValue) -> bool {
    let IndexValue::Quantity {
        value,
        system,
        code,
        unit,
        canonical,
        ..
    } = row
    else {
        return false;
    };
    let units = match (&v.system, &v.code) {
        (Some(s), Some(c)) => system.as_deref() == Some(s.as_str()) && code.as_deref() == Some(c.as_str()),
        (None, Some(c)) => code.as_deref() == Some(c.as_str()) || unit.as_deref() == Some(c.as_str()),
        (Some(s), None) => system.as_deref() == Some(s.as_str()),
        (None, None) => true,
    };
    if units && number(&v.number, *value) {
        return true;
    }
    // In canonical UCUM units, so `gt5000|…|mg` matches `6 g`.
    let (Some(UCUM), Some(unit_code), Some(stored)) = (v.system.as_deref(), v.code.as_deref(), canonical) else {
        return false;
    };
    let convert = |d: Decimal| crate::ucum::to_canonical(d, unit_code).ok();
    let (Some((value, unit)), Some((low, _)), Some((high, _))) =
        (convert(v.number.value), convert(v.number.low), convert(v.number.high))
    else {
        return false;
    };
    let converted = NumberValue {
        prefix: v.number.prefix,
        value,
        low,
        high,
        text: String::new(),
    };
    unit == stored.unit && number(&converted, stored.value)
}

fn reference(v: &ReferenceValue, row: &IndexValue, base: &str) -> bool {
    let IndexValue::Reference {
        target_type,
        id,
        version,
        url,
        ..
    } = row
    else {
        return false;
    };
    let local = |want_type: Option<ResourceType>, want_id: &str| {
        id.as_deref() == Some(want_id)
            && want_type.is_none_or(|t| target_type.as_deref() == Some(t.as_str()))
            && url
                .as_deref()
                .is_some_and(|u| !u.contains(':') || u.starts_with(&format!("{base}/")))
    };
    match v {
        ReferenceValue::Local {
            resource_type,
            id: want,
        } => local(*resource_type, want.as_str()),
        ReferenceValue::Url {
            url: want,
            version: want_version,
        } => {
            let under_base = want_version.is_none().then(|| under_base(base, want)).flatten();
            if let Some((t, i)) = under_base {
                if local(Some(t), &i) {
                    return true;
                }
            }
            url.as_deref() == Some(want.as_str())
                && want_version
                    .as_ref()
                    .is_none_or(|wv| version.as_deref() == Some(wv.as_str()))
        }
    }
}

/// `[base]/Type/id[/_history/n]` → (Type, id).
fn under_base(base: &str, url: &str) -> Option<(ResourceType, String)> {
    let rest = url.strip_prefix(base)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let t = ResourceType::parse(parts.next()?)?;
    let id = parts.next()?.to_owned();
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) | (Some("_history"), Some(_), None) => Some((t, id)),
        _ => None,
    }
}

fn uri(mode: UriMatch, wanted: &str, value: &str) -> bool {
    match mode {
        UriMatch::Equal => value == wanted,
        UriMatch::Below => value.starts_with(wanted),
        UriMatch::Above => wanted.starts_with(value),
        UriMatch::Contains => value.contains(wanted),
    }
}

/// One composite value: each component has a value that matches.
fn composite(wanted: &[Value], components: &[Vec<IndexValue>], c: &Candidate<'_>) -> bool {
    wanted.len() <= components.len()
        && wanted.iter().zip(components).all(|(want, values)| {
            values.iter().any(|row| match (want, row) {
                (Value::Token(v), _) => token(v, row),
                (Value::Quantity(v), _) => quantity(v, row),
                (Value::Number(v), IndexValue::Number { value, .. }) => number(v, *value),
                (Value::Date(v), IndexValue::Date { low, high }) => date(v, *low, *high, c.now),
                (Value::String(v), _) => string(StringMatch::StartsWith, v, row),
                (Value::Reference(v), _) => reference(v, row, c.base),
                (Value::Uri(v), IndexValue::Uri { value }) => v == value,
                _ => false,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{extract, Registry};
    use crate::search::params::{parse, ParseOptions};
    use serde_json::json;

    fn clauses(rtype: &str, query: &str) -> Vec<Clause> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let options = ParseOptions {
            strict: true,
            ..Default::default()
        };
        match parse(Some(rtype), &pairs, Registry::r4(), &options) {
            Ok(request) => request.clauses,
            Err(e) => panic!("{query}: {e:?}"),
        }
    }

    fn matches_query(resource: &serde_json::Value, query: &str) -> bool {
        let rtype = resource["resourceType"].as_str().unwrap_or_default();
        let entries = extract(Registry::r4(), resource).entries;
        let c = Candidate {
            id: resource["id"].as_str().unwrap_or_default(),
            last_updated: 0,
            entries: &entries,
            base: "http://ipe.test/fhir",
            now: 0,
        };
        matches_all(&clauses(rtype, query), &c)
    }

    #[test]
    fn each_parameter_type_matches_as_search_does() {
        let obs = json!({
            "resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-03-05T10:00:00Z",
            "valueQuantity": {"value": 72, "unit": "beats/min", "system": "http://unitsofmeasure.org", "code": "/min"}
        });
        assert!(matches_query(&obs, "code=http://loinc.org|8867-4"));
        assert!(!matches_query(&obs, "code=http://loinc.org|0000-0"));
        assert!(matches_query(&obs, "status:not=preliminary"));
        assert!(!matches_query(&obs, "status:not=final"));
        assert!(matches_query(&obs, "subject=Patient/p1&patient=p1"));
        assert!(matches_query(&obs, "subject=http://ipe.test/fhir/Patient/p1"));
        assert!(!matches_query(&obs, "subject=Patient/p2"));
        assert!(matches_query(&obs, "date=ge2024-03-01&date=lt2024-04"));
        assert!(!matches_query(&obs, "date=gt2024-03-06"));
        assert!(matches_query(
            &obs,
            "value-quantity=gt70|http://unitsofmeasure.org|/min"
        ));
        assert!(!matches_query(&obs, "value-quantity=lt70"));
        assert!(matches_query(&obs, "code:text=heart"));
        assert!(matches_query(&obs, "_id=o1&value-date:missing=true"));
        assert!(matches_query(&obs, "code-value-quantity=http://loinc.org|8867-4$gt70"));
    }

    #[test]
    fn strings_fold_case_and_accents_like_the_index() {
        let p = json!({"resourceType": "Patient", "id": "p", "name": [{"family": "José da Silva"}]});
        assert!(matches_query(&p, "family=jose"));
        assert!(matches_query(&p, "family:contains=silva"));
        assert!(!matches_query(&p, "family:exact=jose da silva"));
        assert!(matches_query(&p, "family:exact=José da Silva"));
    }

    #[test]
    fn chains_and_value_sets_are_refused_not_mismatched() {
        for (rtype, query) in [
            ("Observation", "subject.name=x"),
            ("Patient", "_has:Observation:patient:code=1"),
            ("Observation", "code:in=http://vs"),
            ("Observation", "_text=x"),
        ] {
            let refused = clauses(rtype, query).iter().any(|c| check_supported(c).is_err());
            assert!(refused, "{query}");
        }
        assert!(clauses("Observation", "code=1&date=ge2020")
            .iter()
            .all(|c| check_supported(c).is_ok()));
    }
}
