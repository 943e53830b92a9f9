//! LOINC from its main table, `Loinc.csv`: one concept per `LOINC_NUM`,
//! displayed by `LONG_COMMON_NAME`; `COMPONENT`, `PROPERTY`, `TIME_ASPCT`,
//! `SYSTEM`, `SCALE_TYP`, `METHOD_TYP`, `CLASS`, `CLASSTYPE`, `ORDER_OBS`
//! and `STATUS` become properties of those names (so value set filters such
//! as `SCALE_TYP = Doc` work); `SHORTNAME` becomes a designation; a
//! `DEPRECATED` status makes the concept inactive.

use std::path::Path;

use serde_json::{json, Value};

use super::super::codesystem::{CodeSystemIndex, Concept, Designation, PropertyValue};
use super::{csv, read, LoadError};

pub const URL: &str = "http://loinc.org";

const PROPERTIES: &[&str] = &[
    "COMPONENT",
    "PROPERTY",
    "TIME_ASPCT",
    "SYSTEM",
    "SCALE_TYP",
    "METHOD_TYP",
    "CLASS",
    "CLASSTYPE",
    "ORDER_OBS",
    "STATUS",
];

pub fn load(path: &Path, version: Option<&str>) -> Result<CodeSystemIndex, LoadError> {
    let text = read(path)?;
    let mut rows = csv::records(&text).into_iter();
    let header = rows
        .next()
        .ok_or_else(|| LoadError::Missing(format!("header in {}", path.display())))?;
    let column = |name: &str| header.iter().position(|h| h == name);
    let code_at = column("LOINC_NUM").ok_or_else(|| LoadError::Format {
        path: path.to_owned(),
        line: 1,
        message: "no LOINC_NUM column".into(),
    })?;
    let (long_name, short_name, status) = (column("LONG_COMMON_NAME"), column("SHORTNAME"), column("STATUS"));
    let properties: Vec<(&str, usize)> = PROPERTIES.iter().filter_map(|p| Some((*p, column(p)?))).collect();
    let mut b = CodeSystemIndex::builder(URL, version).name("LOINC");
    for row in rows {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(String::as_str).filter(|s| !s.is_empty());
        let Some(code) = get(Some(code_at)) else { continue };
        let mut concept = Concept::new(code, get(long_name).or(get(short_name)));
        if let Some(s) = get(short_name) {
            let use_ = json!({"system": URL, "code": "SHORTNAME"});
            concept.designations.push(Designation {
                language: Some("en-US".into()),
                use_: Some(use_),
                value: s.into(),
            });
        }
        for (name, i) in &properties {
            if let Some(v) = get(Some(*i)) {
                concept
                    .properties
                    .push(PropertyValue::new(name, "valueString", Value::String(v.to_owned())));
            }
        }
        concept.inactive = get(status) == Some("DEPRECATED");
        b.add(concept);
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_concepts_properties_and_status_from_loinc_csv() {
        let dir = std::env::temp_dir().join(format!("ipe-loinc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("Loinc.csv");
        let csv = "\"LOINC_NUM\",\"COMPONENT\",\"PROPERTY\",\"TIME_ASPCT\",\"SYSTEM\",\"SCALE_TYP\",\"METHOD_TYP\",\"CLASS\",\"VersionLastChanged\",\"CHNG_TYPE\",\"DefinitionDescription\",\"STATUS\",\"CONSUMER_NAME\",\"CLASSTYPE\",\"FORMULA\",\"EXMPL_ANSWERS\",\"SURVEY_QUEST_TEXT\",\"SURVEY_QUEST_SRC\",\"UNITSREQUIRED\",\"RELATEDNAMES2\",\"SHORTNAME\",\"ORDER_OBS\",\"HL7_FIELD_SUBFIELD_ID\",\"EXTERNAL_COPYRIGHT_NOTICE\",\"EXAMPLE_UNITS\",\"LONG_COMMON_NAME\"\r\n\
\"2345-7\",\"Glucose\",\"MCnc\",\"Pt\",\"Ser/Plas\",\"Qn\",\"\",\"CHEM\",\"2.73\",\"MIN\",\"\",\"ACTIVE\",\"\",\"1\",\"\",\"\",\"\",\"\",\"Y\",\"Glu; Gluc, \"\"sugar\"\"\",\"Glucose SerPl-mCnc\",\"Both\",\"\",\"\",\"mg/dL\",\"Glucose [Mass/volume] in Serum or Plasma\"\r\n\
\"1234-5\",\"Old thing\",\"Prid\",\"Pt\",\"Ser\",\"Nom\",\"\",\"CHEM\",\"2.40\",\"DEL\",\"\",\"DEPRECATED\",\"\",\"1\",\"\",\"\",\"\",\"\",\"N\",\"\",\"Old\",\"Observation\",\"\",\"\",\"\",\"Old thing in Serum\"\r\n";
        std::fs::write(&path, csv).unwrap();
        let cs = load(&path, Some("2.77")).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(cs.len(), 2);
        let glucose = cs.find("2345-7").unwrap();
        assert_eq!(
            glucose.display.as_deref(),
            Some("Glucose [Mass/volume] in Serum or Plasma")
        );
        assert_eq!(glucose.property_texts("SCALE_TYP").collect::<Vec<_>>(), ["Qn"]);
        assert_eq!(&*glucose.designations[0].value, "Glucose SerPl-mCnc");
        assert!(!glucose.inactive);
        assert!(cs.find("1234-5").unwrap().inactive);
        assert_eq!(cs.version.as_deref(), Some("2.77"));
    }
}
