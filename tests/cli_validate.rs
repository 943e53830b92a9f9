//! `ipe validate` (issue 6): the real binary run on files, offline, with
//! US Core 6.1.0 from the shared data. Exit code 0 when no file has an
//! error, 1 when one has, 2 when a file, package or profile cannot be used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

const US_CORE_CAREPLAN: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan";

fn test_data() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.join("README.md").is_file(),
        "outside FHIR test data not found at {} (set IPE_TEST_DATA)",
        dir.display()
    );
    dir
}

/// A folder of its own for each test.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ipe-cli-validate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `ipe validate ARGS…` with US Core loaded offline.
fn ipe_validate(dir: &Path, args: &[&str]) -> (i32, String) {
    let us_core = test_data().join("packages/hl7.fhir.us.core-6.1.0.tgz");
    let output: Output = Command::new(env!("CARGO_BIN_EXE_ipe"))
        .arg("validate")
        .args(args)
        .arg("--package")
        .arg(&us_core)
        .args(["--package-registry", "none", "--package-cache"])
        .arg(dir.join("cache"))
        .current_dir(dir)
        .env_remove("IPE_PACKAGES")
        .env_remove("IPE_CONFIG")
        .output()
        .expect("ipe runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().unwrap_or(-1), stdout)
}

/// A CarePlan declaring US Core; `text.status` "empty" breaks its binding.
fn care_plan(dir: &Path, name: &str, text_status: &str) {
    let plan = json!({
        "resourceType": "CarePlan",
        "meta": {"profile": [US_CORE_CAREPLAN]},
        "text": {"status": text_status, "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">plan</div>"},
        "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                  "code": "assess-plan"}]}],
        "subject": {"reference": "Patient/example"}
    });
    std::fs::write(dir.join(name), plan.to_string()).expect("write");
}

#[test]
fn valid_files_exit_0_and_say_so() {
    let dir = workdir("valid");
    care_plan(&dir, "good.json", "generated");
    let xml = r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">Ana</div></text><gender value="female"/></Patient>"#;
    std::fs::write(dir.join("patient.xml"), xml).expect("write");
    let (code, out) = ipe_validate(&dir, &["good.json", "patient.xml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("== good.json: valid — 0 error(s)"), "{out}");
    assert!(out.contains("== patient.xml: valid — 0 error(s)"), "{out}");
}

#[test]
fn profile_errors_exit_1_with_their_location() {
    let dir = workdir("invalid");
    care_plan(&dir, "good.json", "generated");
    care_plan(&dir, "bad.json", "empty");
    std::fs::write(
        dir.join("broken.json"),
        r#"{"resourceType": "CarePlan", "colour": "blue"}"#,
    )
    .expect("write");
    let (code, out) = ipe_validate(&dir, &["good.json", "bad.json", "broken.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("== bad.json: INVALID — 1 error(s)"), "{out}");
    assert!(out.contains("error       CarePlan.text.status [code-invalid]"), "{out}");
    assert!(out.contains("error       CarePlan.colour"), "{out}");
    assert!(out.contains("3 file(s): 2 invalid, 0 unreadable"), "{out}");
}

#[test]
fn a_named_profile_applies_to_every_file() {
    let dir = workdir("named");
    let plan = json!({
        "resourceType": "CarePlan",
        "text": {"status": "empty", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">plan</div>"},
        "status": "active", "intent": "plan", "subject": {"reference": "Patient/example"},
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                  "code": "assess-plan"}]}]
    });
    std::fs::write(dir.join("plain.json"), plan.to_string()).expect("write");
    assert_eq!(ipe_validate(&dir, &["plain.json"]).0, 0);
    let (code, out) = ipe_validate(&dir, &["plain.json", "--profile", US_CORE_CAREPLAN]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CarePlan.text.status"), "{out}");
}

#[test]
fn unusable_files_profiles_and_arguments_exit_2() {
    let dir = workdir("unusable");
    care_plan(&dir, "good.json", "generated");
    let (code, out) = ipe_validate(&dir, &["good.json", "missing.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("== missing.json: cannot be read"), "{out}");
    assert_eq!(
        ipe_validate(&dir, &["good.json", "--profile", "http://example.org/nowhere"]).0,
        2
    );
    assert_eq!(ipe_validate(&dir, &[]).0, 2, "no file is a usage error");
}
