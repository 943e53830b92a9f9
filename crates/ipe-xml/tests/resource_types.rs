//! Ipê's list of R4 resource types agrees with the R4 package: every
//! concrete resource converts, and no data type passes for a resource.

mod common;

use serde_json::Value;

#[test]
fn every_r4_resource_type_converts_and_no_data_type_does() {
    let mut resources = 0;
    let mut data_types = 0;
    for (name, bytes) in common::package_json_files("hl7.fhir.r4.examples-4.0.1.tgz") {
        if !name.starts_with("StructureDefinition-") {
            continue;
        }
        let definition: Value = serde_json::from_slice(&bytes).unwrap();
        let is_base = definition["derivation"] == "specialization";
        let Some(type_name) = definition["type"].as_str().filter(|_| is_base) else {
            continue;
        };
        let kind = definition["kind"].as_str().unwrap_or_default();
        let is_abstract = definition["abstract"] == true;
        let json = format!("{{\"resourceType\":\"{type_name}\"}}");
        let xml = format!("<{type_name} xmlns=\"http://hl7.org/fhir\"/>");
        if kind == "resource" && !is_abstract {
            resources += 1;
            let back = ipe_xml::json_to_xml(json.as_bytes(), false)
                .and_then(|xml| ipe_xml::xml_to_json(xml.as_bytes()))
                .unwrap_or_else(|e| panic!("{type_name}: {e}"));
            assert_eq!(back, json);
        } else if type_name.starts_with(char::is_uppercase) {
            data_types += 1;
            assert!(ipe_xml::json_to_xml(json.as_bytes(), false).is_err(), "{type_name}");
            assert!(ipe_xml::xml_to_json(xml.as_bytes()).is_err(), "{type_name}");
        }
    }
    assert_eq!(resources, 146);
    assert!(data_types > 30, "only {data_types} data types checked");
}
