//! Behaviour of the two conversions on small, hand-written resources.

use ipe_xml::{json_to_xml, xml_to_json, XmlError};
use serde_json::Value;

const XHTML: &str = "http://www.w3.org/1999/xhtml";

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("test JSON")
}

/// JSON → XML → JSON, as a value.
fn round_trip(resource: &str) -> Value {
    let xml = json_to_xml(resource.as_bytes(), true).expect("to XML");
    json(&xml_to_json(xml.as_bytes()).expect("back to JSON"))
}

// --- decimals --------------------------------------------------------------

/// FHIR decimals carry precision in their text: 1.50 is not 1.5.
#[test]
fn decimals_keep_their_precision_through_xml() {
    let observation = r#"{"resourceType":"Observation","status":"final",
        "code":{"text":"x"},
        "valueQuantity":{"value":1.50,"unit":"mmol/L"},
        "referenceRange":[{"low":{"value":100.000},"high":{"value":1E2}}],
        "component":[{"code":{"text":"y"},"valueQuantity":{"value":0.0000001230}}]}"#;
    let xml = json_to_xml(observation.as_bytes(), false).unwrap();
    // serde_json (the parser, not this crate) spells exponents its own way:
    // 1E2 becomes 1e+2, with the same digits.
    for text in [
        "value=\"1.50\"",
        "value=\"100.000\"",
        "value=\"1e+2\"",
        "value=\"0.0000001230\"",
    ] {
        assert!(xml.contains(text), "{text} not in {xml}");
    }
    let back = xml_to_json(xml.as_bytes()).unwrap();
    for text in [
        "\"value\":1.50",
        "\"value\":100.000",
        "\"value\":1e+2",
        "\"value\":0.0000001230",
    ] {
        assert!(back.contains(text), "{text} not in {back}");
    }
}

#[test]
fn decimals_from_xml_keep_their_text_in_json() {
    let xml = r#"<Observation xmlns="http://hl7.org/fhir"><status value="final"/>
        <code><text value="x"/></code><valueQuantity><value value="100.000"/></valueQuantity>
        </Observation>"#;
    let back = xml_to_json(xml.as_bytes()).unwrap();
    assert!(back.contains("\"valueQuantity\":{\"value\":100.000}"), "{back}");
}

/// Integers must stay JSON numbers, booleans JSON booleans.
#[test]
fn integers_and_booleans_keep_their_json_types() {
    let patient = r#"{"resourceType":"Patient","active":true,"multipleBirthInteger":2,
        "telecom":[{"system":"phone","value":"1","rank":1}]}"#;
    assert_eq!(round_trip(patient), json(patient));
}

#[test]
fn a_decimal_element_with_a_non_number_in_xml_is_rejected() {
    let xml = r#"<Observation xmlns="http://hl7.org/fhir"><status value="final"/>
        <code><text value="x"/></code><valueQuantity><value value="abc"/></valueQuantity>
        </Observation>"#;
    assert!(matches!(xml_to_json(xml.as_bytes()), Err(XmlError::InvalidResource(_))));
}

// --- structure -------------------------------------------------------------

/// `_given` arrays line up with `given`, with nulls where one side is empty.
#[test]
fn primitive_extensions_with_nulls_survive() {
    let patient = r#"{"resourceType":"Patient","name":[{"family":"Chalmers",
        "_family":{"id":"f1"},
        "given":["Peter",null,"Jim"],
        "_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"X"}]},null]}]}"#;
    let xml = json_to_xml(patient.as_bytes(), false).unwrap();
    assert_eq!(xml.matches("<given").count(), 3, "{xml}");
    assert!(xml.contains("<family id=\"f1\" value=\"Chalmers\"/>"), "{xml}");
    assert_eq!(round_trip(patient), json(patient));
}

/// Bundles with entries, contained resources in entries, keys in any order.
#[test]
fn bundles_and_contained_resources_survive_in_any_key_order() {
    let bundle = r##"{"type":"transaction","resourceType":"Bundle","entry":[
        {"fullUrl":"urn:uuid:1","resource":{"id":"o1","resourceType":"Observation",
            "contained":[{"name":[{"family":"X"}],"resourceType":"Patient","id":"p"}],
            "status":"final","code":{"text":"x"},"subject":{"reference":"#p"}},
         "request":{"method":"POST","url":"Observation"}},
        {"resource":{"resourceType":"Parameters","parameter":[{"name":"r",
            "resource":{"active":false,"resourceType":"Patient"}}]},
         "request":{"method":"POST","url":"Parameters"}}]}"##;
    assert_eq!(round_trip(bundle), json(bundle));
}

/// Callers can rely on resourceType coming first in every resource.
#[test]
fn json_output_puts_resource_type_first() {
    let xml = r#"<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>
        <entry><resource><Patient><id value="p"/><contained><Organization><name value="o"/>
        </Organization></contained></Patient></resource></entry></Bundle>"#;
    let out = xml_to_json(xml.as_bytes()).unwrap();
    assert!(out.starts_with("{\"resourceType\":\"Bundle\""), "{out}");
    assert!(out.contains("\"resource\":{\"resourceType\":\"Patient\""), "{out}");
    assert!(
        out.contains("\"contained\":[{\"resourceType\":\"Organization\""),
        "{out}"
    );
}

#[test]
fn line_breaks_in_strings_survive() {
    let resource = r#"{"resourceType":"Patient","address":[{"text":"a\nb\r\nc\td  e"}]}"#;
    assert_eq!(round_trip(resource), json(resource));
}

// --- narrative -------------------------------------------------------------

/// Narrative markup reaches XML verbatim and comes back unchanged.
#[test]
fn narrative_survives_both_ways_verbatim() {
    let div = format!(
        "<div xmlns=\"{XHTML}\" class=\"n\">\r\n  <p>Peter James <b>Chalmers</b> (&quot;Jim&quot;)</p>\n  <div><br/></div>\n</div>"
    );
    let patient = serde_json::json!({"resourceType": "Patient", "text": {"status": "generated", "div": div}});
    let xml = json_to_xml(patient.to_string().as_bytes(), true).unwrap();
    assert!(xml.contains(&div), "{xml}");
    assert_eq!(round_trip(&patient.to_string()), patient);
}

#[test]
fn narrative_from_xml_keeps_its_whitespace() {
    let xml = format!(
        "<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/><div xmlns=\"{XHTML}\"><td>Peter James \n  <b>Chalmers</b> (&quot;Jim&quot;)</td></div></text></Patient>"
    );
    let out = json(&xml_to_json(xml.as_bytes()).unwrap());
    assert_eq!(
        out["text"]["div"],
        format!("<div xmlns=\"{XHTML}\"><td>Peter James \n  <b>Chalmers</b> (&quot;Jim&quot;)</td></div>")
    );
}

/// Narrative in contained resources and Bundle entries goes back to its place.
#[test]
fn every_narrative_returns_to_its_own_resource() {
    let narrative = |n: u32| format!("<div xmlns=\"{XHTML}\">n{n}</div>");
    let bundle = serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "text": {"status": "generated", "div": narrative(1)},
            "contained": [{"resourceType": "Organization", "text": {"status": "generated", "div": narrative(2)}}]}},
        {"resource": {"resourceType": "Patient", "text": {"status": "generated", "div": narrative(3)}}}]});
    assert_eq!(round_trip(&bundle.to_string()), bundle);
}

#[test]
fn narrative_that_is_not_well_formed_xhtml_is_rejected() {
    let patient = r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>"}}"#;
    assert!(matches!(
        json_to_xml(patient.as_bytes(), false),
        Err(XmlError::InvalidNarrative(_))
    ));
}

// --- output format ---------------------------------------------------------

#[test]
fn xml_is_indented_only_when_pretty() {
    let patient = br#"{"resourceType":"Patient","id":"a","active":true}"#;
    assert_eq!(
        json_to_xml(patient, false).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/><active value=\"true\"/></Patient>"
    );
    assert_eq!(
        json_to_xml(patient, true).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"a\"/>\n  <active value=\"true\"/>\n</Patient>"
    );
}

// --- bad input -------------------------------------------------------------

/// Malformed or non-FHIR XML is an error with a useful message, never a panic.
#[test]
fn malformed_xml_is_an_error() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("not XML", b"hello"),
        ("truncated", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/>"),
        ("mismatched tags", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"></name></Patient>"),
        ("unquoted attribute", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=a/></Patient>"),
        ("no namespace", b"<Patient><id value=\"a\"/></Patient>"),
        ("wrong namespace", b"<Patient xmlns=\"http://example.org\"><id value=\"a\"/></Patient>"),
        ("unknown element", b"<Patient xmlns=\"http://hl7.org/fhir\"><shoeSize value=\"9\"/></Patient>"),
        ("not a resource", b"<Banana xmlns=\"http://hl7.org/fhir\"/>"),
        ("text content", b"<Patient xmlns=\"http://hl7.org/fhir\"><id>a</id></Patient>"),
        ("not UTF-8", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"\xff\"/></Patient>"),
        ("not UTF-8 namespace", b"<Patient xmlns=\"\xff\"><id value=\"a\"/></Patient>"),
        ("undefined entity", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&nbsp;\"/></Patient>"),
        ("CDATA", b"<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/><![CDATA[x]]></Patient>"),
        ("entity expansion", b"<!DOCTYPE p [<!ENTITY x \"y\">]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&x;\"/></Patient>"),
        ("bad boolean", b"<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"yes\"/></Patient>"),
        ("bad integer", b"<Patient xmlns=\"http://hl7.org/fhir\"><multipleBirthInteger value=\"1.5\"/></Patient>"),
        ("two roots", b"<Patient xmlns=\"http://hl7.org/fhir\"/><Patient xmlns=\"http://hl7.org/fhir\"/>"),
        ("narrative outside XHTML", b"<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/><div>x</div></text></Patient>"),
        ("narrative not closed", b"<Patient xmlns=\"http://hl7.org/fhir\"><text><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div></text></Patient>"),
    ];
    for (what, xml) in cases {
        match xml_to_json(xml) {
            Ok(json) => panic!("{what}: accepted, gave {json}"),
            Err(XmlError::ConverterFailed(e)) => panic!("{what}: converter panicked: {e}"),
            Err(e) => assert!(!e.to_string().is_empty(), "{what}"),
        }
    }
}

#[test]
fn malformed_xml_errors_say_where() {
    let err =
        xml_to_json(b"<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"a\"></name>\n</Patient>").unwrap_err();
    assert!(matches!(err, XmlError::MalformedXml { line: 2, .. }), "{err:?}");
    let err = xml_to_json(b"<Patient xmlns=\"http://hl7.org/fhir\"><shoeSize value=\"9\"/></Patient>").unwrap_err();
    assert!(err.to_string().contains("shoeSize"), "{err}");
}

#[test]
fn malformed_or_non_fhir_json_is_an_error() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("truncated", b"{\"resourceType\":\"Patient\""),
        ("array", b"[]"),
        ("no resourceType", b"{\"id\":\"a\"}"),
        ("unknown resource", b"{\"resourceType\":\"Banana\"}"),
        ("unknown element", b"{\"resourceType\":\"Patient\",\"shoeSize\":9}"),
        ("wrong type", b"{\"resourceType\":\"Patient\",\"active\":\"yes\"}"),
        ("null element", b"{\"resourceType\":\"Patient\",\"gender\":null}"),
        (
            "non-string div",
            b"{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":1}}",
        ),
    ];
    for (what, input) in cases {
        match json_to_xml(input, false) {
            Ok(xml) => panic!("{what}: accepted, gave {xml}"),
            Err(XmlError::ConverterFailed(e)) => panic!("{what}: converter panicked: {e}"),
            Err(e) => assert!(!e.to_string().is_empty(), "{what}"),
        }
    }
    let err = json_to_xml(b"{\"resourceType\":\"Patient\",\n\"id\":}", false).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

/// Whatever prefix of a document arrives, and whatever byte is garbled, the
/// answer is a result, never a panic (not even a caught one).
#[test]
fn truncated_and_garbled_documents_never_panic() {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"collection\"/><entry><resource><Patient><id value=\"p\"/><text><status value=\"generated\"/><div xmlns=\"{XHTML}\"><p>A &amp; <b>B</b></p></div></text><name><given value=\"A\"/><given id=\"g\"><extension url=\"u\"><valueDecimal value=\"1.50\"/></extension></given></name></Patient></resource></entry></Bundle>"
    );
    let json = xml_to_json(xml.as_bytes()).unwrap();
    check_never_panics("XML", xml.as_bytes(), xml_to_json);
    check_never_panics("JSON", json.as_bytes(), |b| json_to_xml(b, true));
}

fn check_never_panics(what: &str, document: &[u8], convert: impl Fn(&[u8]) -> Result<String, XmlError>) {
    let assert_no_panic = |input: &[u8], how: &str| {
        if let Err(XmlError::ConverterFailed(e)) = convert(input) {
            panic!("{what} {how}: converter panicked: {e}");
        }
    };
    for end in 0..document.len() {
        assert_no_panic(&document[..end], &format!("cut at {end}"));
    }
    for at in 0..document.len() {
        for garbage in [b'<', b'>', b'"', b'&', b'/', b'{', b'}', b'[', b',', 0xff] {
            let mut garbled = document.to_vec();
            garbled[at] = garbage;
            assert_no_panic(&garbled, &format!("with {garbage:#x} at {at}"));
        }
    }
}

// --- nesting and the stack ---------------------------------------------------

/// Deeply nested input is refused before fhirbolt's recursive parser sees it.
#[test]
fn absurdly_deep_documents_are_refused() {
    let depth = 100_000;
    let xml = format!(
        "<Questionnaire xmlns=\"http://hl7.org/fhir\">{}{}</Questionnaire>",
        "<item>".repeat(depth),
        "</item>".repeat(depth)
    );
    assert!(matches!(xml_to_json(xml.as_bytes()), Err(XmlError::TooDeep { .. })));
    let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(matches!(
        json_to_xml(json.as_bytes(), false),
        Err(XmlError::MalformedJson(_))
    ));
}

/// The deepest documents accepted convert on a 2 MiB stack, the size of a
/// tokio worker thread's (and so actix-web's) stack.
#[test]
fn deepest_accepted_documents_fit_a_worker_thread_stack() {
    let levels = 62; // Questionnaire + 62 items + linkId: XML depth 64, JSON depth 126
    let mut item = serde_json::json!({"linkId": "leaf", "type": "display"});
    for n in 0..levels - 1 {
        item = serde_json::json!({"linkId": n.to_string(), "type": "group", "item": [item]});
    }
    let questionnaire = serde_json::json!({"resourceType": "Questionnaire", "status": "draft", "item": [item]});
    let text = questionnaire.to_string();
    let back = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let xml = json_to_xml(text.as_bytes(), true).expect("to XML");
            xml_to_json(xml.as_bytes()).expect("back to JSON")
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(json(&back), questionnaire);
}

// --- encodings and prologs ---------------------------------------------------

/// Encoding names are case-insensitive; many real documents say "utf-8".
#[test]
fn xml_declarations_are_read_as_xml_defines_them() {
    for declaration in [
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>",
        "<?xml version=\"1.0\"?>",
    ] {
        let xml = format!("{declaration}\n<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/></Patient>");
        assert_eq!(
            xml_to_json(xml.as_bytes()).unwrap(),
            r#"{"resourceType":"Patient","id":"a"}"#,
            "{declaration}"
        );
    }
    for declaration in [
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml version=\"1.1\"?>",
    ] {
        let xml = format!("{declaration}<Patient xmlns=\"http://hl7.org/fhir\"/>");
        assert!(
            matches!(xml_to_json(xml.as_bytes()), Err(XmlError::MalformedXml { .. })),
            "{declaration}"
        );
    }
}

/// Stylesheet instructions carry no FHIR content; they must not block a document.
#[test]
fn processing_instructions_are_ignored() {
    let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet href=\"fhir.xsl\" type=\"text/xsl\"?>\n<Patient xmlns=\"http://hl7.org/fhir\"><?pi x?><id value=\"a\"/></Patient>";
    assert_eq!(xml_to_json(xml).unwrap(), r#"{"resourceType":"Patient","id":"a"}"#);
}

/// XML cannot carry most control characters, so they cannot be converted.
#[test]
fn control_characters_cannot_go_to_xml() {
    let patient = br#"{"resourceType":"Patient","name":[{"text":"a\u0007b"}]}"#;
    assert!(matches!(json_to_xml(patient, false), Err(XmlError::InvalidResource(_))));
    let narrative = br#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">\u0007</div>"}}"#;
    assert!(json_to_xml(narrative, false).is_err());
}

/// Windows tools often start UTF-8 files with a byte order mark.
#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let xml = b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/></Patient>";
    assert_eq!(xml_to_json(xml).unwrap(), r#"{"resourceType":"Patient","id":"a"}"#);
    let xml = b"\xEF\xBB\xBF<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"a\"/></Patient>";
    assert_eq!(xml_to_json(xml).unwrap(), r#"{"resourceType":"Patient","id":"a"}"#);
    let json = b"\xEF\xBB\xBF{\"resourceType\":\"Patient\",\"id\":\"a\"}";
    assert!(json_to_xml(json, false).is_ok());
}
