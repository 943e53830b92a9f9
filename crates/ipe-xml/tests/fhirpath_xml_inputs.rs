//! The XML resources of the official FHIRPath test suite, written by hand
//! by others, convert to JSON of the right resource type, and match their
//! JSON twins in the R4 examples package where those exist.

mod common;

use serde_json::Value;

#[test]
fn fhirpath_suite_xml_resources_convert_to_json() {
    let dir = common::data_dir().join("fhirpath");
    let mut converted = 0;
    for entry in std::fs::read_dir(&dir).expect("fhirpath folder") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".xml") || name.starts_with("tests-") {
            continue;
        }
        let xml = std::fs::read(&path).expect("readable file");
        let json = ipe_xml::xml_to_json(&xml).unwrap_or_else(|e| panic!("{name} did not convert: {e}"));
        let value: Value = serde_json::from_str(&json).expect("output is JSON");
        assert_eq!(
            value["resourceType"].as_str(),
            Some(root_element_name(&xml).as_str()),
            "{name}"
        );
        converted += 1;
    }
    assert!(converted >= 7, "only {converted} XML files found in {}", dir.display());
}

/// The XML and JSON renderings of an example, both published by HL7, say
/// the same thing; narrative aside (its whitespace differs between the two
/// files), so must our conversion of the XML.
#[test]
fn patient_example_xml_matches_its_published_json() {
    let xml = std::fs::read(common::data_dir().join("fhirpath/patient-example.xml")).unwrap();
    let ours: Value = serde_json::from_str(&ipe_xml::xml_to_json(&xml).unwrap()).unwrap();
    let (_, published) = common::package_json_files("hl7.fhir.r4.examples-4.0.1.tgz")
        .into_iter()
        .find(|(name, _)| name == "Patient-example.json")
        .expect("Patient-example.json in the package");
    let published: Value = serde_json::from_slice(&published).unwrap();
    assert_eq!(without_narrative(ours), without_narrative(published));
}

fn without_narrative(mut value: Value) -> Value {
    value.as_object_mut().unwrap().remove("text");
    value
}

/// `Patient` for `<?xml …?><Patient xmlns=…>`.
fn root_element_name(xml: &[u8]) -> String {
    let text = String::from_utf8_lossy(xml);
    let start = text
        .match_indices('<')
        .map(|(i, _)| &text[i + 1..])
        .find(|rest| !rest.starts_with('?') && !rest.starts_with('!'))
        .expect("a root element");
    start.chars().take_while(|c| c.is_ascii_alphanumeric()).collect()
}
