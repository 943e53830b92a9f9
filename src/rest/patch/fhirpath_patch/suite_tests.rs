//! The official FHIRPath Patch test cases (`patch/fhir-patch-tests.xml`
//! under `IPE_TEST_DATA`, default `../shared/fhir`): each case's diff (a
//! Parameters resource) applied to its input must give its output, or fail
//! where the case expects an error. Inputs, diffs and outputs are XML,
//! converted through `ipe-xml`.
//!
//! A case's `mode` (`both` / `forwards`) says whether a diff engine must
//! also produce the diff from input and output; Ipê only applies patches,
//! which every case tests.

use std::path::PathBuf;

use serde_json::Value;

use super::FhirPathPatch;
use crate::rest::patch::PatchError;

/// The number of cases in the published file, so a bad scan cannot pass by
/// finding fewer.
const CASES: usize = 33;

struct Case {
    name: String,
    input: String,
    diff: String,
    expected: Expected,
}

enum Expected {
    Output(String),
    /// The `msg` of `<error msg="…"/>`.
    Error(String),
}

fn suite_path() -> PathBuf {
    crate::validation::test_data::data_dir()
        .join("patch")
        .join("fhir-patch-tests.xml")
}

/// Splits the file into cases. Its markup is regular (no CDATA, no nested
/// cases), so a scan for the known tags is enough.
fn cases(xml: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<case ") {
        rest = &rest[start..];
        let open_end = rest.find('>').expect("unterminated <case> tag");
        let attributes = &rest[..open_end];
        let close = rest.find("</case>").expect("missing </case>");
        let body = &rest[open_end + 1..close];
        let name = attribute(attributes, "name").expect("case without a name");
        let expected = match inner(body, "output") {
            Some(output) => Expected::Output(output.to_string()),
            None => Expected::Error(error_message(body).unwrap_or_else(|| panic!("{name}: no output or error"))),
        };
        cases.push(Case {
            input: inner(body, "input")
                .unwrap_or_else(|| panic!("{name}: no input"))
                .to_string(),
            diff: inner(body, "diff")
                .unwrap_or_else(|| panic!("{name}: no diff"))
                .to_string(),
            name,
            expected,
        });
        rest = &rest[close..];
    }
    cases
}

/// The content of `<tag>…</tag>` (a tag with no attributes, as the file writes them).
fn inner<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(&body[start..start + len])
}

fn error_message(body: &str) -> Option<String> {
    let start = body.find("<error ")?;
    let end = body[start..].find('>')?;
    attribute(&body[start..start + end], "msg")
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = attributes[start..].find('"')?;
    Some(unescape(&attributes[start..start + len]))
}

use crate::validation::test_data::xml_unescape as unescape;

fn to_json(xml: &str, what: &str) -> Result<Value, String> {
    let json = ipe_xml::xml_to_json(xml.trim().as_bytes()).map_err(|e| format!("{what} is not FHIR XML: {e}"))?;
    serde_json::from_str(&json).map_err(|e| format!("{what}: converted JSON does not parse: {e}"))
}

/// Writes every narrative `div` with `"` for `&quot;`. The converter keeps a
/// div's XHTML as written and escapes quotes in its text, while a div set
/// from a `valueString` (case "Full Resource") has them plain: the same
/// XHTML either way, so the comparison must not depend on it.
fn canonical_narrative(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(div) if key == "div" => *div = div.replace("&quot;", "\""),
                    _ => canonical_narrative(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_narrative),
        _ => {}
    }
}

/// Runs one case; `Err` says how it failed.
fn run(case: &Case) -> Result<(), String> {
    let mut resource = to_json(&case.input, "input")?;
    let diff = to_json(&case.diff, "diff")?;
    let patch = FhirPathPatch::parse(&diff).map_err(|e| format!("the diff was refused: {e:?}"))?;
    let result = patch.apply(&mut resource);
    match (&case.expected, result) {
        (Expected::Output(output), Ok(())) => {
            let mut expected = to_json(output, "output")?;
            canonical_narrative(&mut resource);
            canonical_narrative(&mut expected);
            // serde_json's map equality ignores key order.
            if resource == expected {
                Ok(())
            } else {
                Err(format!("got\n{resource:#}\nexpected\n{expected:#}"))
            }
        }
        (Expected::Output(_), Err(e)) => Err(format!("the patch failed: {e:?}")),
        (Expected::Error(msg), Err(PatchError::NotApplicable { message, .. })) if message.contains(msg.as_str()) => {
            Ok(())
        }
        (Expected::Error(msg), Err(e)) => Err(format!("expected the error '{msg}', got {e:?}")),
        (Expected::Error(msg), Ok(())) => Err(format!("expected the error '{msg}', but the patch applied")),
    }
}

#[test]
fn official_fhirpath_patch_cases_all_pass() {
    let path = suite_path();
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "FHIRPath Patch tests not found at {} ({e}); set IPE_TEST_DATA to the fhir data dir",
            path.display()
        )
    });
    // An XML processor reads CRLF as LF (XML 1.0 §2.11); the file has CRLF
    // line ends, which the converter would keep inside narrative XHTML.
    let cases = cases(&xml.replace("\r\n", "\n"));
    assert_eq!(cases.len(), CASES, "cases found in {}", path.display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run(case).err().map(|e| format!("{}: {e}", case.name)))
        .collect();
    println!(
        "FHIRPath Patch suite: {} of {} cases pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_scan_reads_outputs_errors_and_escaped_attributes() {
    let xml = r#"<tests><case name="a &amp; b" mode="both"><input><P/></input><diff><D/></diff>
        <output><O/></output></case><case name="e" mode="forwards"><input><P/></input>
        <diff><D/></diff><error msg="at x.where(y = &apos;z&apos;)"/></case></tests>"#;
    let cases = cases(xml);
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].name, "a & b");
    assert!(matches!(&cases[0].expected, Expected::Output(o) if o == "<O/>"));
    assert!(matches!(&cases[1].expected, Expected::Error(m) if m == "at x.where(y = 'z')"));
}
