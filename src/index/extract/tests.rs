//! Spot checks of extraction per parameter type, on hand-written resources.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::*;
use crate::ucum;

/// The values of parameter `code`, failing on any skipped expression.
fn values(resource: &Value, code: &str) -> Vec<IndexValue> {
    let extraction = extract(Registry::r4(), resource);
    assert!(extraction.skipped.is_empty(), "skipped: {:?}", extraction.skipped);
    extraction
        .entries
        .into_iter()
        .filter(|entry| entry.code == code)
        .map(|entry| entry.value)
        .collect()
}

fn micros(year: i32, month: u32, day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc().timestamp_micros())
        .expect("valid date")
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

fn string(normalized: &str, exact: &str) -> IndexValue {
    IndexValue::String {
        normalized: normalized.into(),
        exact: exact.into(),
    }
}

fn token(system: Option<&str>, code: Option<&str>, text: Option<&str>) -> IndexValue {
    IndexValue::Token {
        system: system.map(Into::into),
        code: code.map(Into::into),
        text: text.map(Into::into),
    }
}

fn reference(target_type: Option<&str>, id: Option<&str>, version: Option<&str>, url: Option<&str>) -> IndexValue {
    IndexValue::Reference {
        target_type: target_type.map(Into::into),
        id: id.map(Into::into),
        version: version.map(Into::into),
        url: url.map(Into::into),
        identifier: None,
    }
}

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "meta": {
            "lastUpdated": "2024-05-06T07:08:09.123Z",
            "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"],
            "tag": [{"system": "http://example.org/tags", "code": "vip", "display": "VIP"}],
            "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
            "source": "http://example.org/source#1"
        },
        "active": true,
        "identifier": [{
            "type": {"text": "CPF"},
            "system": "urn:oid:2.16.840.1.113883.13.237",
            "value": "123.456.789-00"
        }],
        "name": [{
            "family": "da-Silva",
            "given": ["José", "Maria"],
            "prefix": ["Sr."],
            "text": "José Maria da-Silva"
        }],
        "telecom": [
            {"system": "phone", "value": "+55 11 5555-0100"},
            {"system": "email", "value": "jose@example.org"}
        ],
        "address": [{"line": ["Rua Augusta, 100"], "city": "São Paulo", "state": "SP", "postalCode": "01305-000"}],
        "birthDate": "2019-03",
        "generalPractitioner": [
            {"reference": "Practitioner/pr1"},
            {"reference": "https://other.example/fhir/Organization/o1/_history/3"},
            {"identifier": {"system": "http://example.org/npi", "value": "999"}}
        ],
        "contained": [{"resourceType": "Patient", "id": "hidden", "name": [{"family": "Contained"}]}]
    })
}

/// Every HumanName part is its own entry, folded so "jose" finds "José" by
/// prefix, and kept as written for `:exact`.
#[test]
fn human_names_index_each_part_folded_and_exact() {
    let name = values(&patient(), "name");
    for expected in [
        string("da silva", "da-Silva"),
        string("jose", "José"),
        string("maria", "Maria"),
        string("sr", "Sr."),
        string("jose maria da silva", "José Maria da-Silva"),
    ] {
        assert!(name.contains(&expected), "{expected:?} not in {name:?}");
    }
    assert_eq!(name.len(), 5);
    assert_eq!(values(&patient(), "family"), [string("da silva", "da-Silva")]);
}

/// The container's parameters see only its own elements, not those of
/// resources in `contained`.
#[test]
fn contained_resources_are_not_indexed_as_the_container() {
    let name = values(&patient(), "name");
    assert!(!name
        .iter()
        .any(|v| matches!(v, IndexValue::String { exact, .. } if exact == "Contained")));
}

#[test]
fn addresses_index_each_part() {
    let address = values(&patient(), "address");
    assert!(address.contains(&string("rua augusta 100", "Rua Augusta, 100")));
    assert!(address.contains(&string("sao paulo", "São Paulo")));
    assert!(address.contains(&string("01305 000", "01305-000")));
    assert_eq!(values(&patient(), "address-city"), [string("sao paulo", "São Paulo")]);
}

#[test]
fn identifiers_are_system_and_value_with_the_type_text() {
    assert_eq!(
        values(&patient(), "identifier"),
        [token(
            Some("urn:oid:2.16.840.1.113883.13.237"),
            Some("123.456.789-00"),
            Some("CPF")
        )]
    );
}

/// search.html maps ContactPoint to its value alone.
#[test]
fn contact_points_are_their_value() {
    assert_eq!(
        values(&patient(), "phone"),
        [token(None, Some("+55 11 5555-0100"), None)]
    );
    assert_eq!(values(&patient(), "telecom").len(), 2);
}

#[test]
fn booleans_are_true_or_false_tokens() {
    assert_eq!(values(&patient(), "active"), [token(None, Some("true"), None)]);
}

/// "2019-03" is all of March, so `birthdate=2019-03-15` can match it and
/// `birthdate=2019-04` cannot.
#[test]
fn a_partial_date_covers_its_whole_month() {
    assert_eq!(
        values(&patient(), "birthdate"),
        [IndexValue::Date {
            low: micros(2019, 3, 1),
            high: micros(2019, 4, 1)
        }]
    );
}

#[test]
fn resource_level_parameters_are_indexed() {
    let p = patient();
    assert_eq!(values(&p, "_id"), [token(None, Some("p1"), None)]);
    let updated = micros(2024, 5, 6) + ((7 * 60 + 8) * 60 + 9) * 1_000_000 + 123_000;
    assert_eq!(
        values(&p, "_lastUpdated"),
        [IndexValue::Date {
            low: updated,
            high: updated + 1_000
        }]
    );
    assert_eq!(
        values(&p, "_tag"),
        [token(Some("http://example.org/tags"), Some("vip"), Some("VIP"))]
    );
    assert_eq!(
        values(&p, "_security"),
        [token(
            Some("http://terminology.hl7.org/CodeSystem/v3-Confidentiality"),
            Some("R"),
            None
        )]
    );
    assert_eq!(
        values(&p, "_profile"),
        [IndexValue::Uri {
            value: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient".into()
        }]
    );
    assert_eq!(
        values(&p, "_source"),
        [IndexValue::Uri {
            value: "http://example.org/source#1".into()
        }]
    );
}

/// Relative, absolute-with-history and logical references: each kept as
/// written and taken apart where it has a `Type/id` tail.
#[test]
fn references_relative_absolute_versioned_and_logical() {
    let general = values(&patient(), "general-practitioner");
    assert_eq!(
        general,
        [
            reference(Some("Practitioner"), Some("pr1"), None, Some("Practitioner/pr1")),
            reference(
                Some("Organization"),
                Some("o1"),
                Some("3"),
                Some("https://other.example/fhir/Organization/o1/_history/3")
            ),
            IndexValue::Reference {
                target_type: None,
                id: None,
                version: None,
                url: None,
                identifier: Some((Some("http://example.org/npi".into()), "999".into())),
            },
        ]
    );
}

fn observation() -> Value {
    json!({
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"},
                {"system": "http://snomed.info/sct", "code": "27113001"}
            ],
            "text": "Weight"
        },
        "subject": {"reference": "#p", "identifier": {"value": "MRN-1"}},
        "effectivePeriod": {"start": "2021-06-01T10:00:00+02:00"},
        "valueQuantity": {"value": 6, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"},
        "component": [{
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 120.0, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
        }],
        "contained": [
            {"resourceType": "Patient", "id": "p"},
            {"resourceType": "Observation", "id": "inner", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}}
        ]
    })
}

#[test]
fn codeable_concepts_give_each_coding_and_the_text() {
    assert_eq!(
        values(&observation(), "code"),
        [
            token(Some("http://loinc.org"), Some("29463-7"), Some("Body weight")),
            token(Some("http://snomed.info/sct"), Some("27113001"), None),
            token(None, None, Some("Weight")),
        ]
    );
}

/// An open Period end reaches to the end of time, and an offset moves the
/// start to UTC.
#[test]
fn a_period_with_an_open_end_is_unbounded_above() {
    let start = micros(2021, 6, 1) + 8 * 3_600 * 1_000_000;
    assert_eq!(
        values(&observation(), "date"),
        [IndexValue::Date {
            low: start,
            high: i64::MAX
        }]
    );
}

/// The canonical form is what lets `value-quantity=gt5000|http://unitsofmeasure.org|mg`
/// find 6 g: both are compared in grams.
#[test]
fn quantities_carry_their_canonical_form() {
    let found = values(&observation(), "value-quantity");
    let [IndexValue::Quantity {
        value,
        low,
        high,
        system,
        code,
        unit,
        canonical: Some(canonical),
    }] = found.as_slice()
    else {
        panic!("one canonical quantity expected: {found:?}");
    };
    assert_eq!((*value, *low, *high), (dec("6"), dec("5.5"), dec("6.5")));
    assert_eq!(system.as_deref(), Some("http://unitsofmeasure.org"));
    assert_eq!((code.as_deref(), unit.as_deref()), (Some("g"), Some("g")));
    let (search, search_unit) = ucum::to_canonical(dec("5000"), "mg").expect("mg");
    assert_eq!(canonical.unit, search_unit);
    assert!(
        canonical.low > search,
        "{canonical:?} should be above {search} {search_unit}"
    );
}

/// A contained target is kept as written (`#p`), resolves for the
/// `where(resolve() is Patient)` of `patient`, and the logical identifier
/// rides along.
#[test]
fn contained_and_typed_references() {
    let contained = IndexValue::Reference {
        target_type: None,
        id: None,
        version: None,
        url: Some("#p".into()),
        identifier: Some((None, "MRN-1".into())),
    };
    let obs = observation();
    assert_eq!(values(&obs, "subject"), std::slice::from_ref(&contained));
    assert_eq!(values(&obs, "patient"), [contained]);
    let mut elsewhere = observation();
    elsewhere["subject"] = json!({"reference": "Group/g1"});
    assert!(values(&elsewhere, "patient").is_empty());
    assert_eq!(
        values(&elsewhere, "subject"),
        [reference(Some("Group"), Some("g1"), None, Some("Group/g1"))]
    );
    elsewhere["subject"] = json!({"reference": "Patient/x"});
    assert_eq!(
        values(&elsewhere, "patient"),
        [reference(Some("Patient"), Some("x"), None, Some("Patient/x"))]
    );
}

#[test]
fn codes_of_contained_resources_are_not_the_containers() {
    let codes = values(&observation(), "code");
    assert!(!codes
        .iter()
        .any(|v| matches!(v, IndexValue::Token { code: Some(c), .. } if c == "0000-0")));
}

/// The contained resources are extracted apart, each under its own type's
/// parameters and its position, for `_contained` searches.
#[test]
fn contained_resources_are_extracted_apart_by_position() {
    let mut container = observation();
    container["contained"]
        .as_array_mut()
        .expect("contained")
        .insert(1, json!({"resourceType": "Medication"}));
    let extraction = extract(Registry::r4(), &container);
    let found: Vec<_> = extraction
        .contained
        .iter()
        .map(|c| (c.position, c.resource_type.as_str(), c.id.as_str()))
        .collect();
    // Position 2 has no id: it cannot be returned, so it is not indexed.
    assert_eq!(found, [(1, "Patient", "p"), (3, "Observation", "inner")]);
    let inner = &extraction.contained[1].entries;
    assert!(inner
        .iter()
        .any(|e| e.code == "code" && matches!(&e.value, IndexValue::Token { code: Some(c), .. } if c == "0000-0")));
    let types = ["Observation".to_owned()];
    let codes = extract_param_contained(Registry::r4(), &container, "code", &types);
    assert_eq!(codes.len(), 1);
    assert_eq!((codes[0].0, codes[0].1.as_str()), (3, "Observation"));
    assert_eq!(codes[0].2.len(), 1);
}

/// code-value-quantity pairs the code with the value of the same
/// Observation; component-code-value-quantity pairs each component's.
#[test]
fn composites_pair_components_of_the_same_element() {
    let found = values(&observation(), "code-value-quantity");
    let [IndexValue::Composite { components }] = found.as_slice() else {
        panic!("one composite expected: {found:?}");
    };
    assert_eq!(components.len(), 2);
    assert_eq!(components[0].len(), 3);
    assert!(matches!(components[1].as_slice(), [IndexValue::Quantity { value, .. }] if *value == dec("6")));

    let found = values(&observation(), "component-code-value-quantity");
    let [IndexValue::Composite { components }] = found.as_slice() else {
        panic!("one composite expected: {found:?}");
    };
    assert_eq!(components[0], [token(Some("http://loinc.org"), Some("8480-6"), None)]);
    assert!(
        matches!(components[1].as_slice(), [IndexValue::Quantity { low, high, .. }] if *low == dec("119.95") && *high == dec("120.05"))
    );
    // The combination covers both the Observation and its component.
    assert_eq!(values(&observation(), "combo-code-value-quantity").len(), 2);
}

/// Precision sets the range: `0.50` is [0.495, 0.505), `100` is [99.5, 100.5).
#[test]
fn numbers_carry_their_implied_precision() {
    // Parsed from text: `json!` would make 0.50 an f64 and lose the trailing zero.
    let risk: Value = serde_json::from_str(
        r#"{"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/1"},
            "prediction": [{"probabilityDecimal": 0.50}, {"probabilityRange": {"low": {"value": 10}}}]}"#,
    )
    .expect("JSON");
    assert_eq!(
        values(&risk, "probability"),
        [
            IndexValue::Number {
                value: dec("0.50"),
                low: dec("0.495"),
                high: dec("0.505")
            },
            IndexValue::Number {
                value: dec("10"),
                low: dec("10"),
                high: Decimal::MAX
            },
        ]
    );
    let sequence = json!({"resourceType": "MolecularSequence", "coordinateSystem": 0, "variant": [{"start": 100}]});
    assert_eq!(
        values(&sequence, "variant-start"),
        [IndexValue::Number {
            value: dec("100"),
            low: dec("99.5"),
            high: dec("100.5")
        }]
    );
}

#[test]
fn money_and_ranges_are_quantities() {
    let charge = json!({
        "resourceType": "ChargeItem", "status": "billable", "code": {"text": "x"},
        "subject": {"reference": "Patient/1"},
        "priceOverride": {"value": 12.5, "currency": "BRL"}
    });
    assert!(matches!(
        values(&charge, "price-override").as_slice(),
        [IndexValue::Quantity { value, system: Some(s), code: Some(c), canonical: None, .. }]
            if *value == dec("12.5") && s == "urn:iso:std:iso:4217" && c == "BRL"
    ));
    let condition = json!({
        "resourceType": "Condition", "subject": {"reference": "Patient/1"},
        "onsetRange": {"low": {"value": 2, "system": "http://unitsofmeasure.org", "code": "a"},
                        "high": {"value": 4, "system": "http://unitsofmeasure.org", "code": "a"}}
    });
    let found = values(&condition, "onset-age");
    let [IndexValue::Quantity {
        low,
        high,
        code,
        canonical: Some(canonical),
        ..
    }] = found.as_slice()
    else {
        panic!("one range expected: {found:?}");
    };
    assert_eq!((*low, *high, code.as_deref()), (dec("2"), dec("4"), Some("a")));
    assert_eq!(canonical.unit, "s");
    assert!(canonical.high > canonical.low);
}

/// Timing counts by its outer limits: its events and its bounds.
#[test]
fn timings_cover_their_events_and_bounds() {
    let plan = json!({
        "resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": {"reference": "Patient/1"},
        "activity": [{"detail": {"status": "scheduled", "scheduledTiming": {
            "event": ["2020-02-10"],
            "repeat": {"boundsPeriod": {"start": "2020-01-01", "end": "2020-01-31"}}
        }}}]
    });
    assert_eq!(
        values(&plan, "activity-date"),
        [IndexValue::Date {
            low: micros(2020, 1, 1),
            high: micros(2020, 2, 11)
        }]
    );
}

#[test]
fn canonicals_split_url_and_version() {
    let response = json!({
        "resourceType": "QuestionnaireResponse", "status": "completed",
        "questionnaire": "http://example.org/Questionnaire/q|1.0"
    });
    assert_eq!(
        values(&response, "questionnaire"),
        [reference(
            None,
            None,
            Some("1.0"),
            Some("http://example.org/Questionnaire/q")
        )]
    );
}

/// A repeated value is one row: two equal codings must not double-count.
#[test]
fn equal_values_of_one_parameter_are_indexed_once() {
    let mut obs = observation();
    obs["category"] = json!([
        {"coding": [{"system": "http://x", "code": "vital-signs"}]},
        {"coding": [{"system": "http://x", "code": "vital-signs"}]}
    ]);
    assert_eq!(values(&obs, "category").len(), 1);
}

/// An expression failing on one resource must not lose the others' values.
#[test]
fn a_failing_expression_is_reported_and_the_rest_indexed() {
    let failing = json!({
        "resourceType": "SearchParameter", "url": "http://example.org/sp/one-given", "code": "one-given",
        "base": ["Patient"], "type": "string", "expression": "Patient.name.given.single()"
    });
    let working = json!({
        "resourceType": "SearchParameter", "url": "http://example.org/sp/family", "code": "family",
        "base": ["Patient"], "type": "string", "expression": "Patient.name.family"
    });
    let registry = Registry::from_resources([&failing, &working]).expect("valid");
    let extraction = extract(&registry, &patient());
    assert_eq!(extraction.skipped.len(), 1);
    assert_eq!(extraction.skipped[0].0, "http://example.org/sp/one-given");
    let params: Vec<_> = extraction.entries.iter().filter(|e| e.code != FULL_TEXT_CODE).collect();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0].code, "family");
}

#[test]
fn json_without_a_resource_type_has_no_entries() {
    let extraction = extract(Registry::r4(), &json!({"name": "x"}));
    assert!(extraction.entries.is_empty() && extraction.skipped.is_empty());
}

/// R4 parameters such as gene-identifier select the extension itself
/// (`Observation.extension('…')`); what is indexed is its value.
#[test]
fn an_extension_is_indexed_by_its_value() {
    let mut obs = observation();
    obs["extension"] = json!([{
        "url": "http://hl7.org/fhir/StructureDefinition/observation-geneticsGene",
        "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": "3236"}]}
    }]);
    assert_eq!(
        values(&obs, "gene-identifier"),
        [token(Some("http://www.genenames.org"), Some("3236"), None)]
    );
}

/// One parameter alone gives what the whole extraction gives for it.
#[test]
fn one_parameter_alone_matches_the_whole_extraction() {
    let obs = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        "component": [{"code": {"text": "x"}, "valueQuantity": {"value": 1, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}}]
    });
    let all = extract(Registry::r4(), &obs).entries;
    for code in [
        "code",
        "value-quantity",
        "combo-code-value-quantity",
        "status",
        "subject",
    ] {
        let alone = extract_param(Registry::r4(), &obs, code).entries;
        let expected: Vec<IndexEntry> = all.iter().filter(|e| e.code == code).cloned().collect();
        assert_eq!(alone, expected, "{code}");
    }
    assert!(extract_param(Registry::r4(), &obs, "nonsense").entries.is_empty());
}
