//! Finding the outside FHIR test data (see `shared/fhir/README.md`).

#![allow(dead_code)] // each test binary uses its own subset

use std::io::Read;
use std::path::PathBuf;

/// The folder from `IPE_TEST_DATA`, else `shared/fhir` beside the checkout.
/// Panics with instructions when it is missing: a test that silently
/// skipped its data would pass while testing nothing.
pub fn data_dir() -> PathBuf {
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

/// `(file name, bytes)` of every `package/*.json` in an NPM package `.tgz`.
pub fn package_json_files(package: &str) -> Vec<(String, Vec<u8>)> {
    let path = data_dir().join("packages").join(package);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = Vec::new();
    for entry in archive.entries().expect("readable tar") {
        let mut entry = entry.expect("readable tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        let Some(name) = name.strip_prefix("package/") else {
            continue;
        };
        if name.contains('/') || !name.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("readable entry");
        files.push((name.to_owned(), bytes));
    }
    files.sort();
    files
}
