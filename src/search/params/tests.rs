//! Whole requests through [`parse`]: each parameter type with its prefixes and
//! modifiers, chains, `_has`, result parameters, strict and lenient handling,
//! and the self link.

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::outcome::IssueType;

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

fn with(
    options: ParseOptions,
    resource_type: Option<&str>,
    pairs: &[(&str, &str)],
) -> Result<SearchRequest, FhirError> {
    parse(resource_type, &owned(pairs), Registry::r4(), &options)
}

fn lenient(resource_type: &str, pairs: &[(&str, &str)]) -> Result<SearchRequest, FhirError> {
    with(ParseOptions::default(), Some(resource_type), pairs)
}

fn strict(resource_type: &str, pairs: &[(&str, &str)]) -> Result<SearchRequest, FhirError> {
    let options = ParseOptions {
        strict: true,
        ..ParseOptions::default()
    };
    with(options, Some(resource_type), pairs)
}

/// The only clause of `resource_type?name=value`.
fn clause(resource_type: &str, name: &str, value: &str) -> Clause {
    match lenient(resource_type, &[(name, value)]) {
        Ok(request) if request.clauses.len() == 1 => request.clauses[0].clone(),
        other => panic!("{resource_type}?{name}={value}: {other:?}"),
    }
}

fn criterion(resource_type: &str, name: &str, value: &str) -> Criterion {
    clause(resource_type, name, value).criterion
}

/// The 400 of `resource_type?name=value`: its issue code and message.
fn rejected(resource_type: &str, pairs: &[(&str, &str)]) -> (IssueType, String) {
    match lenient(resource_type, pairs) {
        Err(e) if e.status() == 400 => {
            let issue = &e.issues()[0];
            (issue.code, issue.diagnostics.clone())
        }
        other => panic!("{resource_type}?{pairs:?} should be a 400: {other:?}"),
    }
}

fn rt(name: &str) -> ResourceType {
    ResourceType::parse(name).unwrap_or_else(|| panic!("{name}"))
}

fn id(text: &str) -> Id {
    Id::parse(text).unwrap_or_else(|| panic!("{text}"))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or(Decimal::MAX)
}

// --- Parameter types and prefixes ---

#[test]
fn number_values_carry_prefix_and_implied_range() {
    let Criterion::Number(values) = criterion("RiskAssessment", "probability", "gt0.8,100") else {
        panic!("not a number criterion");
    };
    assert_eq!(values[0].prefix, Prefix::Gt);
    assert_eq!((values[0].low, values[0].high), (dec("0.75"), dec("0.85")));
    assert_eq!(
        (values[1].prefix, values[1].low, values[1].high),
        (Prefix::Eq, dec("99.5"), dec("100.5"))
    );
}

#[test]
fn every_prefix_applies_to_number_date_and_quantity_parameters() {
    for prefix in ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"] {
        let number = criterion("RiskAssessment", "probability", &format!("{prefix}0.5"));
        assert!(
            matches!(&number, Criterion::Number(v) if v[0].prefix.code() == prefix),
            "{number:?}"
        );
        let date = criterion("Observation", "date", &format!("{prefix}2024-02"));
        assert!(
            matches!(&date, Criterion::Date(v) if v[0].prefix.code() == prefix),
            "{date:?}"
        );
        let quantity = criterion("Observation", "value-quantity", &format!("{prefix}5.4||mg"));
        assert!(
            matches!(&quantity, Criterion::Quantity(v) if v[0].number.prefix.code() == prefix),
            "{quantity:?}"
        );
    }
}

#[test]
fn date_values_are_ranges_in_microseconds() {
    let Criterion::Date(values) = criterion("Observation", "date", "ge2024-01-01") else {
        panic!("not a date criterion");
    };
    let day = 86_400_000_000;
    assert_eq!(values[0].high - values[0].low, day);
    assert_eq!(values[0].low, 1_704_067_200_000_000);
}

#[test]
fn a_bad_date_is_a_400_naming_parameter_and_value() {
    let (code, message) = rejected("Observation", &[("date", "ge2024-13-01")]);
    assert_eq!(code, IssueType::Value);
    assert!(
        message.contains("'date'") && message.contains("2024-13-01"),
        "{message}"
    );
}

#[test]
fn quantity_values_have_optional_system_and_code() {
    let Criterion::Quantity(values) = criterion(
        "Observation",
        "value-quantity",
        "le5.4|http://unitsofmeasure.org|mg,5.4||mg,5.4",
    ) else {
        panic!("not a quantity criterion");
    };
    let units: Vec<(Option<&str>, Option<&str>)> = values
        .iter()
        .map(|q| (q.system.as_deref(), q.code.as_deref()))
        .collect();
    assert_eq!(
        units,
        [
            (Some("http://unitsofmeasure.org"), Some("mg")),
            (None, Some("mg")),
            (None, None)
        ]
    );
    assert_eq!(values[0].number.prefix, Prefix::Le);
}

#[test]
fn token_forms_are_told_apart() {
    let criterion = criterion(
        "Observation",
        "code",
        "1234,http://loinc.org|1234,|1234,http://loinc.org|",
    );
    assert_eq!(
        criterion,
        Criterion::Token(
            TokenMatch::Equal,
            vec![
                TokenValue::Code("1234".into()),
                TokenValue::SystemCode {
                    system: "http://loinc.org".into(),
                    code: "1234".into()
                },
                TokenValue::CodeWithoutSystem("1234".into()),
                TokenValue::System("http://loinc.org".into()),
            ]
        )
    );
}

#[test]
fn string_values_are_folded_like_the_index() {
    let Criterion::String(StringMatch::StartsWith, values) = criterion("Patient", "name", "José") else {
        panic!("not a string criterion");
    };
    assert_eq!(
        (values[0].text.as_str(), values[0].normalized.as_str()),
        ("José", "jose")
    );
}

#[test]
fn uri_values_are_kept_whole() {
    assert_eq!(
        criterion("ValueSet", "url", "http://example.org/ValueSet/a"),
        Criterion::Uri(UriMatch::Equal, vec!["http://example.org/ValueSet/a".into()])
    );
}

#[test]
fn reference_values_in_every_form() {
    let Criterion::Reference(values) =
        criterion("Observation", "subject", "Patient/1,2,http://other.org/fhir/Patient/3")
    else {
        panic!("not a reference criterion");
    };
    assert_eq!(
        values,
        [
            ReferenceValue::Local {
                resource_type: Some(rt("Patient")),
                id: id("1")
            },
            ReferenceValue::Local {
                resource_type: None,
                id: id("2")
            },
            ReferenceValue::Url {
                url: "http://other.org/fhir/Patient/3".into(),
                version: None
            },
        ]
    );
}

/// search.html#reference: `subject:Patient=23` is `subject=Patient/23`.
#[test]
fn a_type_modifier_is_folded_into_the_reference() {
    assert_eq!(
        criterion("Observation", "subject:Patient", "23"),
        criterion("Observation", "subject", "Patient/23")
    );
}

#[test]
fn a_reference_to_a_type_the_parameter_cannot_point_at_is_rejected() {
    let (_, message) = rejected("Observation", &[("subject", "Organization/1")]);
    assert!(message.contains("Organization"), "{message}");
    let (code, _) = rejected("Observation", &[("subject:Organization", "1")]);
    assert_eq!(code, IssueType::Invalid);
    let (_, message) = rejected("Observation", &[("subject:Patient", "Group/1")]);
    assert!(message.contains("Group"), "{message}");
    rejected("Observation", &[("subject:Patient", "http://x.org/Patient/1")]);
}

/// search.html#composite: `code-value-quantity=http://loinc.org|8480-6$lt60`.
#[test]
fn composite_values_are_split_and_typed_by_component() {
    let criterion = criterion("Observation", "code-value-quantity", "http://loinc.org|8480-6$lt60");
    let Criterion::Composite(values) = criterion else {
        panic!("not a composite criterion: {criterion:?}");
    };
    let [Value::Token(code), Value::Quantity(quantity)] = values[0].as_slice() else {
        panic!("components: {values:?}");
    };
    assert_eq!(
        code,
        &TokenValue::SystemCode {
            system: "http://loinc.org".into(),
            code: "8480-6".into()
        }
    );
    assert_eq!((quantity.number.prefix, quantity.number.value), (Prefix::Lt, dec("60")));
}

#[test]
fn a_composite_with_the_wrong_number_of_components_is_rejected() {
    let (_, message) = rejected("Observation", &[("code-value-quantity", "8480-6")]);
    assert!(message.contains("components"), "{message}");
    rejected("Observation", &[("code-value-quantity", "8480-6$lt60$x")]);
}

/// The R4 composites say `multipleOr: false`.
#[test]
fn a_single_value_parameter_rejects_a_list() {
    let (_, message) = rejected("Observation", &[("code-value-quantity", "a$1,b$2")]);
    assert!(message.contains("single value"), "{message}");
}

#[test]
fn near_values_are_read_in_metres_with_km_and_10_km_defaults() {
    let near = |value: &str| match criterion("Location", "near", value) {
        Criterion::Near(values) => (values[0].latitude, values[0].longitude, values[0].metres),
        other => panic!("{other:?}"),
    };
    assert_eq!(near("42.256|-83.69|11.2|km"), (42.256, -83.69, 11_200.0));
    assert_eq!(near("42.256|-83.69|500|m"), (42.256, -83.69, 500.0));
    assert_eq!(near("42.256|-83.69|2"), (42.256, -83.69, 2_000.0));
    assert_eq!(near("42.256|-83.69"), (42.256, -83.69, 10_000.0));
    for bad in ["42.256", "91|0|1|km", "0|181", "0|0|1|kg", "0|0|-1|km", "a|b"] {
        rejected("Location", &[("near", bad)]);
    }
}

// --- Modifiers ---

#[test]
fn missing_applies_to_every_type() {
    for (resource_type, name) in [
        ("RiskAssessment", "probability"),
        ("Observation", "date"),
        ("Patient", "name"),
        ("Observation", "code"),
        ("Observation", "subject"),
        ("Observation", "code-value-quantity"),
        ("Observation", "value-quantity"),
        ("ValueSet", "url"),
        ("Location", "near"),
    ] {
        let modified = format!("{name}:missing");
        assert_eq!(criterion(resource_type, &modified, "true"), Criterion::Missing(true));
        assert_eq!(criterion(resource_type, &modified, "false"), Criterion::Missing(false));
    }
    let (_, message) = rejected("Patient", &[("name:missing", "yes")]);
    assert!(message.contains("true or false"), "{message}");
}

#[test]
fn each_modifier_is_read_on_the_types_that_take_it() {
    let cases: [(&str, &str, &str, Criterion); 13] = [
        (
            "Patient",
            "name:exact",
            "Eve",
            Criterion::String(StringMatch::Exact, vec![value::string("Eve")]),
        ),
        (
            "Patient",
            "name:contains",
            "ev",
            Criterion::String(StringMatch::Contains, vec![value::string("ev")]),
        ),
        (
            "Observation",
            "code:not",
            "1",
            Criterion::Token(TokenMatch::Not, vec![TokenValue::Code("1".into())]),
        ),
        (
            "Observation",
            "code:above",
            "1",
            Criterion::Token(TokenMatch::Above, vec![TokenValue::Code("1".into())]),
        ),
        (
            "Observation",
            "code:below",
            "1",
            Criterion::Token(TokenMatch::Below, vec![TokenValue::Code("1".into())]),
        ),
        (
            "Observation",
            "code:text",
            "Bp",
            Criterion::TokenText(vec![value::string("Bp")]),
        ),
        (
            "Observation",
            "code:in",
            "http://x/vs",
            Criterion::InValueSet {
                negated: false,
                urls: vec!["http://x/vs".into()],
            },
        ),
        (
            "Observation",
            "code:not-in",
            "http://x/vs",
            Criterion::InValueSet {
                negated: true,
                urls: vec!["http://x/vs".into()],
            },
        ),
        (
            "Patient",
            "identifier:of-type",
            "http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053",
            Criterion::OfType(vec![OfTypeValue {
                system: "http://terminology.hl7.org/CodeSystem/v2-0203".into(),
                code: "MR".into(),
                value: "446053".into(),
            }]),
        ),
        (
            "Observation",
            "subject:identifier",
            "http://ns|7",
            Criterion::ReferenceIdentifier(vec![TokenValue::SystemCode {
                system: "http://ns".into(),
                code: "7".into(),
            }]),
        ),
        (
            "ValueSet",
            "url:above",
            "http://x/a/b",
            Criterion::Uri(UriMatch::Above, vec!["http://x/a/b".into()]),
        ),
        (
            "ValueSet",
            "url:below",
            "http://x/",
            Criterion::Uri(UriMatch::Below, vec!["http://x/".into()]),
        ),
        (
            "ValueSet",
            "url:contains",
            "x",
            Criterion::Uri(UriMatch::Contains, vec!["x".into()]),
        ),
    ];
    for (resource_type, name, value, expected) in cases {
        assert_eq!(
            criterion(resource_type, name, value),
            expected,
            "{resource_type}?{name}={value}"
        );
    }
}

/// search.html#modifiers: a modifier the parameter's type does not take is
/// an error, never silently ignored — even under lenient handling.
#[test]
fn a_modifier_the_type_does_not_take_is_rejected() {
    for (resource_type, name) in [
        ("RiskAssessment", "probability:exact"),
        ("Observation", "date:not"),
        ("Patient", "name:not"),
        ("Patient", "name:text"),
        ("Observation", "code:exact"),
        ("Observation", "code:contains"),
        ("Observation", "subject:text"),
        ("Observation", "subject:not"),
        ("ValueSet", "url:exact"),
        ("ValueSet", "url:in"),
        ("Observation", "value-quantity:below"),
        ("Observation", "code-value-quantity:exact"),
        ("Location", "near:contains"),
        ("Patient", "_list:missing"),
        ("Patient", "_text:exact"),
    ] {
        let (code, message) = rejected(resource_type, &[(name, "1")]);
        assert_eq!(code, IssueType::Invalid, "{name}");
        assert!(message.contains("does not apply"), "{name}: {message}");
    }
    let (_, message) = rejected("Patient", &[("name:sounds-like", "x")]);
    assert!(message.contains("sounds-like"), "{message}");
    // The modifier codes of R5 and later are not R4 ones.
    rejected("Observation", &[("code:code-text", "x")]);
}

#[test]
fn of_type_needs_system_code_and_value() {
    rejected("Patient", &[("identifier:of-type", "MR|446053")]);
}

#[test]
fn a_prefix_is_read_only_on_types_that_have_prefixes() {
    assert_eq!(
        criterion("Patient", "name", "gt5"),
        Criterion::String(StringMatch::StartsWith, vec![value::string("gt5")])
    );
}

// --- Escaping ---

/// search.html#escaping: `\,` is a comma in a value, not a second value.
#[test]
fn escaped_commas_stay_in_the_value() {
    let Criterion::String(_, values) = criterion("Patient", "name", r"Smith\, Jr,Jones") else {
        panic!("not a string criterion");
    };
    let texts: Vec<&str> = values.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["Smith, Jr", "Jones"]);
}

#[test]
fn escaped_bars_and_dollars_stay_in_their_part() {
    assert_eq!(
        criterion("Observation", "code", r"http://s\|x|a\$b"),
        Criterion::Token(
            TokenMatch::Equal,
            vec![TokenValue::SystemCode {
                system: "http://s|x".into(),
                code: "a$b".into()
            }]
        )
    );
    let Criterion::Composite(values) = criterion("Observation", "code-value-string", r"1234$a\$b") else {
        panic!("not a composite");
    };
    assert!(
        matches!(&values[0][1], Value::String(s) if s.text == "a$b"),
        "{values:?}"
    );
}

#[test]
fn an_empty_or_value_is_rejected() {
    let (_, message) = rejected("Patient", &[("name", "a,,b")]);
    assert!(message.contains("empty"), "{message}");
}

// --- AND / OR ---

/// search.html#combining: repeating a parameter ANDs, commas OR.
#[test]
fn repeated_parameters_are_separate_clauses_and_commas_alternatives() {
    let request = lenient("Observation", &[("code", "a,b"), ("code", "c")]).map(|r| r.clauses);
    let counts: Vec<usize> = request
        .unwrap_or_default()
        .iter()
        .map(|c| match &c.criterion {
            Criterion::Token(_, values) => values.len(),
            _ => 0,
        })
        .collect();
    assert_eq!(counts, [2, 1]);
}

fn custom_registry() -> Registry {
    let once = json!({
        "resourceType": "SearchParameter", "url": "http://example.org/sp/once", "code": "once",
        "base": ["Patient"], "type": "token", "expression": "Patient.gender", "multipleAnd": false,
    });
    let restricted = json!({
        "resourceType": "SearchParameter", "url": "http://example.org/sp/restricted", "code": "restricted",
        "base": ["Patient"], "type": "string", "expression": "Patient.name.family", "modifier": ["exact"],
    });
    let compared = json!({
        "resourceType": "SearchParameter", "url": "http://example.org/sp/compared", "code": "compared",
        "base": ["Patient"], "type": "date", "expression": "Patient.birthDate", "comparator": ["eq", "gt", "lt"],
    });
    Registry::from_resources([&once, &restricted, &compared]).unwrap_or_default()
}

fn custom(pairs: &[(&str, &str)]) -> Result<SearchRequest, FhirError> {
    parse(
        Some("Patient"),
        &owned(pairs),
        &custom_registry(),
        &ParseOptions::default(),
    )
}

/// `SearchParameter.multipleAnd: false`: the parameter may appear once.
#[test]
fn a_parameter_without_multiple_and_cannot_repeat() {
    assert!(custom(&[("once", "a")]).is_ok());
    let error = custom(&[("once", "a"), ("once", "b")]).map(|_| ());
    assert!(matches!(&error, Err(e) if e.status() == 400), "{error:?}");
}

/// `SearchParameter.modifier` and `.comparator` narrow what the type allows.
#[test]
fn declared_modifiers_and_comparators_are_enforced() {
    assert!(custom(&[("restricted:exact", "a")]).is_ok());
    assert!(custom(&[("restricted:contains", "a")]).is_err());
    assert!(custom(&[("compared", "gt2020")]).is_ok());
    let error = custom(&[("compared", "ge2020")]).map_err(|e| e.issues()[0].diagnostics.clone());
    assert!(matches!(&error, Err(m) if m.contains("'ge'")), "{error:?}");
}

// --- Chains ---

#[test]
fn a_chained_parameter_is_typed_by_the_last_link() {
    let clause = clause("Observation", "subject:Patient.birthdate", "ge2000");
    assert_eq!(
        clause.path,
        [Link::Chain {
            param: "subject".into(),
            types: vec![rt("Patient")]
        }]
    );
    assert!(matches!(&clause.criterion, Criterion::Date(v) if v[0].prefix == Prefix::Ge));
}

#[test]
fn chains_reach_three_links_deep_typed_or_not() {
    let clause = clause("Observation", "subject.organization.partof.name", "Acme");
    let params: Vec<(&str, usize)> = clause
        .path
        .iter()
        .map(|l| match l {
            Link::Chain { param, types } => (param.as_str(), types.len()),
            Link::Has { param, .. } => (param.as_str(), 0),
        })
        .collect();
    // subject → Device, Location or Patient (each has `organization`).
    assert_eq!(params, [("subject", 3), ("organization", 1), ("partof", 1)]);
    assert_eq!(clause.code, "name");
}

#[test]
fn an_untyped_chain_across_targets_of_different_parameter_types_is_ambiguous() {
    // A chain `subject.x` where x were a string on one target and a token on another.
    let string_x = json!({"resourceType": "SearchParameter", "url": "http://e.org/a", "code": "x",
        "base": ["Patient"], "type": "string", "expression": "Patient.name.family"});
    let token_x = json!({"resourceType": "SearchParameter", "url": "http://e.org/b", "code": "x",
        "base": ["Group"], "type": "token", "expression": "Group.type"});
    let subject = json!({"resourceType": "SearchParameter", "url": "http://e.org/c", "code": "subject",
        "base": ["Observation"], "type": "reference", "expression": "Observation.subject", "target": ["Patient", "Group"]});
    let registry = Registry::from_resources([&string_x, &token_x, &subject]).unwrap_or_default();
    let parsed = |name: &str| {
        parse(
            Some("Observation"),
            &owned(&[(name, "1")]),
            &registry,
            &ParseOptions::default(),
        )
    };
    let error = parsed("subject.x").map(|_| ());
    assert!(
        matches!(&error, Err(e) if e.issues()[0].diagnostics.contains("type modifier")),
        "{error:?}"
    );
    assert!(parsed("subject:Patient.x").is_ok());
}

#[test]
fn a_chain_link_that_is_not_a_reference_is_rejected() {
    let (_, message) = rejected("Observation", &[("code.name", "x")]);
    assert!(message.contains("not a reference"), "{message}");
}

#[test]
fn has_is_read_nested() {
    let clause = clause(
        "Patient",
        "_has:Observation:patient:_has:AuditEvent:entity:agent",
        "Practitioner/1",
    );
    assert_eq!(
        clause.path,
        [
            Link::Has {
                source: rt("Observation"),
                param: "patient".into()
            },
            Link::Has {
                source: rt("AuditEvent"),
                param: "entity".into()
            }
        ]
    );
    assert!(matches!(clause.criterion, Criterion::Reference(_)));
}

#[test]
fn has_reads_the_value_by_the_source_parameter() {
    assert_eq!(
        criterion("Patient", "_has:Observation:patient:code", "1234"),
        Criterion::Token(TokenMatch::Equal, vec![TokenValue::Code("1234".into())])
    );
}

// --- Includes ---

#[test]
fn include_forms() {
    let request = lenient(
        "Observation",
        &[
            ("_include", "Observation:subject"),
            ("_include", "Observation:subject:Patient"),
            ("_include:iterate", "Patient:organization"),
            ("_include:recurse", "Organization:partof"),
            ("_include", "*"),
            ("_include", "Observation:*"),
            ("_revinclude", "Provenance:target"),
            ("_revinclude:iterate", "AuditEvent:entity:Observation"),
        ],
    )
    .map(|r| (r.includes, r.revincludes))
    .unwrap_or_default();
    let param = |source: &str, param: &str, target: Option<&str>| IncludeTarget::Param {
        source: rt(source),
        param: param.into(),
        target: target.map(rt),
    };
    let includes: Vec<(bool, IncludeTarget)> = request.0.into_iter().map(|i| (i.iterate, i.what)).collect();
    assert_eq!(
        includes,
        [
            (false, param("Observation", "subject", None)),
            (false, param("Observation", "subject", Some("Patient"))),
            (true, param("Patient", "organization", None)),
            (true, param("Organization", "partof", None)),
            (false, IncludeTarget::All),
            (false, IncludeTarget::AllOf(rt("Observation"))),
        ]
    );
    let revincludes: Vec<(bool, IncludeTarget)> = request.1.into_iter().map(|i| (i.iterate, i.what)).collect();
    assert_eq!(
        revincludes,
        [
            (false, param("Provenance", "target", None)),
            (true, param("AuditEvent", "entity", Some("Observation"))),
        ]
    );
}

#[test]
fn a_malformed_include_is_rejected() {
    for value in [
        "Observation",
        "Observation:code",
        "Observation:subject:Medication",
        "Spaceship:x",
        "a:b:c:d",
    ] {
        rejected("Observation", &[("_include", value)]);
    }
    rejected("Observation", &[("_include:deep", "Observation:subject")]);
}

#[test]
fn an_include_of_an_unknown_parameter_is_unsupported() {
    let request = lenient("Observation", &[("_include", "Observation:shoe")]);
    assert!(
        matches!(&request, Ok(r) if r.includes.is_empty() && r.ignored.len() == 1),
        "{request:?}"
    );
    assert!(strict("Observation", &[("_include", "Observation:shoe")]).is_err());
}

// --- Sort, count and the other result parameters ---

#[test]
fn sort_keys_keep_their_order_and_direction() {
    let sort = lenient("Observation", &[("_sort", "-date,status,_id,-_lastUpdated")])
        .map(|r| r.sort)
        .unwrap_or_default();
    let keys: Vec<(&str, bool)> = sort.iter().map(|k| (k.code.as_str(), k.descending)).collect();
    assert_eq!(
        keys,
        [
            ("date", true),
            ("status", false),
            ("_id", false),
            ("_lastUpdated", true)
        ]
    );
}

#[test]
fn an_unknown_sort_key_is_dropped_leniently_and_refused_strictly() {
    let request = lenient("Observation", &[("_sort", "shoe,date")]);
    assert!(
        matches!(&request, Ok(r) if r.sort.len() == 1 && r.ignored.len() == 1 && r.ignored[0].0 == "_sort"),
        "{request:?}"
    );
    assert!(strict("Observation", &[("_sort", "shoe,date")]).is_err());
    rejected("Observation", &[("_sort", "date,")]);
}

#[test]
fn count_defaults_caps_and_rejects_non_integers() {
    let options = ParseOptions {
        strict: false,
        max_count: 100,
        default_count: 20,
    };
    let count = |value: Option<&str>| {
        let pairs: Vec<(&str, &str)> = value.map(|v| vec![("_count", v)]).unwrap_or_default();
        with(options, Some("Patient"), &pairs).map(|r| r.count)
    };
    assert_eq!(count(None).ok(), Some(20));
    assert_eq!(count(Some("0")).ok(), Some(0));
    assert_eq!(count(Some("100")).ok(), Some(100));
    assert_eq!(count(Some("5000")).ok(), Some(100));
    for bad in ["abc", "-1", "1.5"] {
        assert_eq!(count(Some(bad)).map_err(|e| e.status()), Err(400), "{bad}");
    }
    rejected("Patient", &[("_count", "10"), ("_count", "20")]);
}

#[test]
fn result_parameters_are_read() {
    let request = lenient(
        "Patient",
        &[
            ("_total", "accurate"),
            ("_summary", "count"),
            ("_elements", "identifier,name"),
            ("_elements", "birthDate"),
            ("_contained", "both"),
            ("_containedType", "contained"),
            ("_page", "opaque-cursor"),
            ("_format", "json"),
            ("_pretty", "true"),
        ],
    );
    let Ok(request) = request else {
        panic!("{request:?}");
    };
    assert_eq!(request.total, Some(TotalMode::Accurate));
    assert_eq!(request.summary, Some(SummaryMode::Count));
    assert_eq!(request.elements, ["identifier", "name", "birthDate"]);
    assert_eq!(
        (request.contained, request.contained_type),
        (Contained::Both, ContainedType::Contained)
    );
    assert_eq!(request.page.as_deref(), Some("opaque-cursor"));
    assert!(request.ignored.is_empty(), "{:?}", request.ignored);
    for (name, value) in [
        ("_total", "all"),
        ("_summary", "yes"),
        ("_contained", "x"),
        ("_containedType", "x"),
    ] {
        rejected("Patient", &[(name, value)]);
    }
}

// --- Common and special parameters ---

#[test]
fn common_parameters_come_from_the_registry() {
    assert!(matches!(criterion("Patient", "_id", "a1"), Criterion::Token(..)));
    assert!(matches!(
        criterion("Patient", "_lastUpdated", "gt2024"),
        Criterion::Date(..)
    ));
    assert!(matches!(criterion("Patient", "_tag", "s|c"), Criterion::Token(..)));
    assert!(matches!(
        criterion("Patient", "_profile", "http://p"),
        Criterion::Uri(..)
    ));
    assert!(matches!(criterion("Patient", "_security", "s|c"), Criterion::Token(..)));
    assert!(matches!(
        criterion("Patient", "_source", "http://s"),
        Criterion::Uri(..)
    ));
}

#[test]
fn list_and_full_text_are_kept() {
    assert_eq!(criterion("Patient", "_list", "42"), Criterion::List(vec![id("42")]));
    let Criterion::FullText(queries) = criterion("Patient", "_content", "a,B c") else {
        panic!("not full text");
    };
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    assert_eq!(texts, ["a", "B c"]);
    assert_eq!(queries[0].expr, TextExpr::Phrase(vec!["a".into()]));
    assert!(matches!(criterion("Patient", "_text", "cancer"), Criterion::FullText(q) if q.len() == 1));
    rejected("Patient", &[("_list", "not an id")]);
    // Bad text-query syntax is a bad value, whatever the handling.
    let (code, message) = rejected("Patient", &[("_text", "(bone OR liver")]);
    assert_eq!(code, IssueType::Value);
    assert!(message.contains("parenthesis"), "{message}");
}

// --- Strict and lenient handling ---

#[test]
fn unknown_parameters_are_ignored_leniently_and_reported() {
    let request = lenient(
        "Patient",
        &[
            ("shoe-size", "42"),
            ("_filter", "name eq x"),
            ("_query", "q"),
            ("name", "x"),
        ],
    );
    let Ok(request) = request else {
        panic!("{request:?}");
    };
    let ignored: Vec<&str> = request.ignored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(ignored, ["shoe-size", "_filter", "_query"]);
    assert!(request.ignored[0].1.contains("Patient"), "{:?}", request.ignored);
    assert_eq!(request.clauses.len(), 1);
}

#[test]
fn unknown_parameters_are_a_400_under_strict_handling() {
    for name in ["shoe-size", "_filter", "subject.shoe-size"] {
        let error = strict("Observation", &[(name, "42")]);
        let Err(error) = error else {
            panic!("{name}: {error:?}");
        };
        let issue = &error.issues()[0];
        assert_eq!((error.status(), issue.code), (400, IssueType::NotSupported), "{name}");
        assert!(issue.diagnostics.contains(name), "{}", issue.diagnostics);
    }
}

#[test]
fn bad_values_of_known_parameters_are_a_400_even_leniently() {
    for (name, value) in [("birthdate", "tomorrow"), ("_count", "abc"), ("gender:exact", "x")] {
        let (_, message) = rejected("Patient", &[(name, value)]);
        assert!(message.contains(name.split(':').next().unwrap_or(name)), "{message}");
    }
}

#[test]
fn a_parameter_without_a_value_is_ignored() {
    let request = strict("Patient", &[("name", "")]);
    assert!(
        matches!(&request, Ok(r) if r.clauses.is_empty() && r.ignored.len() == 1),
        "{request:?}"
    );
}

// --- Across all types ---

#[test]
fn a_search_across_types_takes_type_and_their_common_parameters() {
    let request = with(
        ParseOptions::default(),
        None,
        &[("name", "x"), ("_type", "Patient,Practitioner")],
    );
    let Ok(request) = request else {
        panic!("{request:?}");
    };
    assert_eq!(request.types, [rt("Patient"), rt("Practitioner")]);
    assert_eq!(request.clauses.len(), 1);
    let unknown = with(ParseOptions::default(), None, &[("_type", "Spaceship")]).map_err(|e| e.status());
    assert_eq!(unknown.map(|_| ()), Err(400));
    let everything = with(
        ParseOptions::default(),
        None,
        &[("_lastUpdated", "gt2024"), ("name", "x")],
    );
    assert!(
        matches!(&everything, Ok(r) if r.clauses.len() == 1 && r.ignored.len() == 1),
        "{everything:?}"
    );
}

#[test]
fn type_is_not_a_parameter_of_a_type_search() {
    let request = lenient("Patient", &[("_type", "Patient")]);
    assert!(
        matches!(&request, Ok(r) if r.types.is_empty() && r.ignored.len() == 1),
        "{request:?}"
    );
    assert!(strict("Patient", &[("_type", "Patient")]).is_err());
}

#[test]
fn an_unknown_resource_type_is_a_404() {
    let error = with(ParseOptions::default(), Some("Spaceship"), &[]).map(|_| ());
    assert!(matches!(&error, Err(e) if e.status() == 404), "{error:?}");
}

// --- The self link ---

fn reparse(request: &SearchRequest) -> SearchRequest {
    let query = request.self_link_query();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let resource_type = request.resource_type.map(|t| t.as_str());
    match parse(resource_type, &pairs, Registry::r4(), &ParseOptions::default()) {
        Ok(again) => again,
        Err(e) => panic!("{query}: {:?}", e.issues()),
    }
}

/// The paging code builds links from the self link, so parsing it again must
/// give the very same search.
#[test]
fn the_self_link_parses_back_to_the_same_request() {
    let request = lenient(
        "Observation",
        &[
            ("code", r"http://loinc.org|8480-6,|x\,y,http://s|"),
            ("code:not", "z"),
            ("code:text", "blood pressure"),
            ("code:in", "http://vs/a"),
            ("date", "ge2024-01-01T10:00:00+02:00"),
            ("date", "lt2025"),
            ("value-quantity", "ap5.4|http://unitsofmeasure.org|mg,1e2||kg"),
            ("subject:Patient", "1"),
            ("subject", "http://other/Patient/2"),
            ("subject:identifier", "http://ns|3"),
            ("subject.name:exact", r"Smith\, Jr"),
            ("subject:Patient.organization.name:contains", "a$b|c"),
            ("_has:Provenance:target:agent", "Practitioner/9"),
            ("code-value-quantity", "http://loinc.org|8480-6$lt60"),
            ("status:missing", "false"),
            ("_list", "l1"),
            ("_text", "héllo wörld"),
            ("identifier:of-type", "http://s|MR|7"),
            ("_profile:below", "http://p/"),
            ("_include", "Observation:subject:Patient"),
            ("_include:iterate", "Patient:organization"),
            ("_revinclude", "Provenance:target"),
            ("_sort", "-date,_id"),
            ("_count", "7"),
            ("_total", "estimate"),
            ("_summary", "data"),
            ("_elements", "code,value"),
            ("_contained", "true"),
            ("_containedType", "contained"),
            ("_page", "c+u/r=s&o r"),
        ],
    );
    let Ok(request) = request else {
        panic!("{request:?}");
    };
    assert!(request.ignored.is_empty(), "{:?}", request.ignored);
    assert_eq!(reparse(&request), request);
}

#[test]
fn the_self_link_of_a_search_across_types_keeps_type() {
    let request = with(
        ParseOptions::default(),
        None,
        &[("_type", "Patient,Group"), ("_id", "1")],
    );
    let Ok(request) = request else {
        panic!("{request:?}");
    };
    assert_eq!(request.self_link_query(), "_type=Patient,Group&_id=1&_count=50");
    assert_eq!(reparse(&request), request);
}

#[test]
fn the_self_link_leaves_out_what_was_ignored_and_writes_out_the_count() {
    let request = lenient(
        "Patient",
        &[("shoe", "1"), ("name", "José"), ("_format", "xml"), ("_sort", "x,name")],
    );
    let query = request.map(|r| r.self_link_query()).unwrap_or_default();
    assert_eq!(query, "name=Jos%C3%A9&_sort=name&_count=50");
}

#[test]
fn the_self_link_escapes_and_encodes_values() {
    let request = lenient(
        "Observation",
        &[("code", r"a\,b|c+d"), ("date", "2024-01-01T00:00:00+01:00")],
    );
    let query = request.map(|r| r.self_link_query()).unwrap_or_default();
    assert_eq!(query, "code=a%5C,b%7Cc%2Bd&date=2024-01-01T00:00:00%2B01:00&_count=50");
}
