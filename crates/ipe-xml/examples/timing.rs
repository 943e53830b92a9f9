//! Prints how long the conversions take on real documents: the R4 Patient
//! example, a Synthea patient's transaction Bundle and the 35 MB
//! `Bundle-resources.json` of the R4 package. Run it optimised:
//!
//! ```text
//! cargo run --release -p ipe-xml --example timing
//! ```
//!
//! The data folder comes from `IPE_TEST_DATA` (default: `shared/fhir`
//! beside the checkout), as for the tests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() {
    let data = data_dir();
    let examples = data.join("packages/hl7.fhir.r4.examples-4.0.1.tgz");
    let synthea = data.join("synthea/synthea-r4-dev-78.tar.gz");
    let patient = read_from_tgz(&examples, |name| name == "package/Patient-example.json");
    let transaction = read_from_tgz(&synthea, |name| name.starts_with("Fletcher_Hyatt"));
    let resources = read_from_tgz(&examples, |name| name == "package/Bundle-resources.json");
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>12} {:>12}",
        "document", "JSON", "XML", "JSON→XML", "JSON→XML", "XML→JSON"
    );
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>12} {:>12}",
        "", "", "", "compact", "pretty", ""
    );
    measure("Patient-example.json", &patient, 200);
    measure("Synthea transaction Bundle", &transaction, 5);
    measure("Bundle-resources.json (R4 pkg)", &resources, 1);
}

/// Best of `runs` for each direction, so one slow run (a page fault, the
/// other core busy) does not decide the number.
fn measure(name: &str, json: &[u8], runs: u32) {
    let compact = best_of(runs, || ipe_xml::json_to_xml(json, false).expect("to XML"));
    let pretty = best_of(runs, || ipe_xml::json_to_xml(json, true).expect("to XML"));
    let xml = ipe_xml::json_to_xml(json, false).expect("to XML");
    let back = best_of(runs, || ipe_xml::xml_to_json(xml.as_bytes()).expect("to JSON"));
    println!(
        "{name:<34} {:>9} {:>9} {:>12?} {:>12?} {:>12?}",
        size(json.len()),
        size(xml.len()),
        compact,
        pretty,
        back
    );
}

fn best_of(runs: u32, mut convert: impl FnMut() -> String) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(convert());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} kB", bytes as f64 / 1024.0)
    }
}

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fhir")));
    assert!(
        dir.join("README.md").is_file(),
        "FHIR test data not found at {}: set IPE_TEST_DATA to the shared/fhir folder",
        dir.display()
    );
    dir
}

/// The first file of a `.tar.gz` whose path matches.
fn read_from_tgz(archive: &Path, wanted: impl Fn(&str) -> bool) -> Vec<u8> {
    let file = std::fs::File::open(archive).expect("archive");
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        if wanted(&path) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("entry");
            return bytes;
        }
    }
    panic!("no such file in {}", archive.display());
}
