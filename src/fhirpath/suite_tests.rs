//! Parses every expression of the official FHIRPath R4 test suite
//! (`fhirpath/tests-fhir-r4.xml` under `IPE_TEST_DATA`, default `../shared/fhir`).

use std::path::PathBuf;

/// Expressions the parser cannot handle yet, with why. Each must still fail:
/// the test breaks when one starts passing, so the list stays honest.
const ALLOW_LIST: &[(&str, &str)] = &[];

struct Case {
    expression: String,
    /// The `invalid` attribute: `syntax`, `semantic`, `execution`, …
    invalid: Option<String>,
}

/// What the suite expects of the parser for one expression.
#[derive(PartialEq)]
enum Expect {
    Parse,
    Reject,
    /// `semantic` / `execution` errors: the grammar may or may not catch them
    /// (`@T14:34:28Z` is outside the N1 TIME token, so the parser rejects it).
    Either,
}

fn expectation(case: &Case) -> Expect {
    match case.invalid.as_deref() {
        None => Expect::Parse,
        Some("syntax") => Expect::Reject,
        Some(_) => Expect::Either,
    }
}

fn suite_path() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"),
        PathBuf::from,
    );
    dir.join("fhirpath/tests-fhir-r4.xml")
}

/// Extracts `<expression …>text</expression>` elements outside comments; the
/// file's markup is simple enough (no CDATA, no nesting) that a scan beats an
/// XML dependency.
fn cases(xml: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let xml = strip_comments(xml);
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<expression") {
        rest = &rest[start + "<expression".len()..];
        // Skip `<expressions>` and the like: the tag name must end here.
        if !rest.starts_with(|c: char| c == '>' || c.is_whitespace()) {
            continue;
        }
        let open_end = rest.find('>').expect("unterminated <expression> tag");
        let attributes = &rest[..open_end];
        rest = &rest[open_end + 1..];
        let close = rest.find("</expression>").expect("missing </expression>");
        cases.push(Case {
            expression: unescape(&rest[..close]),
            invalid: attribute(attributes, "invalid"),
        });
        rest = &rest[close..];
    }
    cases
}

/// Drops `<!-- … -->`: the suite comments out old tests, some half-edited.
fn strip_comments(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("-->").expect("unterminated comment");
        rest = &rest[start + end + 3..];
    }
    out.push_str(rest);
    out
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let len = attributes[start..].find('"')?;
    Some(attributes[start..start + len].to_string())
}

fn unescape(text: &str) -> String {
    // `&amp;` last, so `&amp;lt;` becomes `&lt;` and not `<`.
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
fn official_r4_suite_parses_valid_expressions_and_rejects_syntax_errors() {
    let path = suite_path();
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "FHIRPath suite not found at {} ({e}); set IPE_TEST_DATA to the fhir data dir",
            path.display()
        )
    });
    let cases = cases(&xml);
    assert!(cases.len() > 900, "only {} expressions found", cases.len());

    let (mut parsed, mut rejected, mut allowed, mut other_invalid_rejected) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let result = super::parse(&case.expression);
        let allow = ALLOW_LIST.iter().find(|(e, _)| *e == case.expression);
        match (expectation(case), &result, allow) {
            (_, Ok(_), Some(_)) => {
                failures.push(format!("allow-listed but now parses, remove it: {}", case.expression))
            }
            (_, Err(_), Some(_)) => allowed += 1,
            (Expect::Reject, Ok(_), None) => failures.push(format!("should not parse: {}", case.expression)),
            (Expect::Reject, Err(_), None) => rejected += 1,
            (Expect::Parse, Err(e), None) => failures.push(format!("{e}: {}", case.expression)),
            (_, Ok(_), None) => parsed += 1,
            (Expect::Either, Err(_), None) => other_invalid_rejected += 1,
        }
    }
    println!(
        "FHIRPath suite: {} expressions, {parsed} parsed, {rejected} syntax-invalid rejected, \
         {other_invalid_rejected} semantic/execution-invalid rejected, {allowed} allow-listed",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn extraction_unescapes_entities_and_reads_the_invalid_attribute() {
    let xml = "<expressions/><!-- <expression>x</expression> -->\
               <expression\tinvalid=\"syntax\">a &lt; b &amp;lt;</expression>";
    let cases = cases(xml);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].expression, "a < b &lt;");
    assert_eq!(cases[0].invalid.as_deref(), Some("syntax"));
}
