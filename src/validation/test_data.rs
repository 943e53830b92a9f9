//! Test access to the outside FHIR data (`IPE_TEST_DATA`, by default
//! `../shared/fhir` next to the project), read in place, never copied.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use serde_json::Value;

const EXAMPLES: &str = "packages/hl7.fhir.r4.examples-4.0.1.tgz";

pub(crate) fn data_dir() -> PathBuf {
    let dir = std::env::var_os("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.is_dir(),
        "outside FHIR test data not found at {} — set IPE_TEST_DATA to the shared/fhir folder",
        dir.display()
    );
    dir
}

/// Calls `visit` with the file name and content of every `package/*.json`
/// resource of the official R4 examples package, streaming the archive so the
/// 190 MB of JSON are never all in memory.
pub(crate) fn for_each_example(visit: impl FnMut(&str, Value)) {
    for_each_matching(|_| true, visit);
}

/// Like [`for_each_example`], parsing only the files `wanted` accepts.
fn for_each_matching(wanted: impl Fn(&str) -> bool, mut visit: impl FnMut(&str, Value)) {
    let path = data_dir().join(EXAMPLES);
    let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    for entry in archive.entries().expect("readable tar") {
        let mut entry = entry.expect("readable tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        let Some(file_name) = name.strip_prefix("package/") else {
            continue;
        };
        // package.json and .index.json describe the package, they are not resources.
        if file_name.contains('/')
            || !file_name.ends_with(".json")
            || file_name == "package.json"
            || file_name.starts_with('.')
            || !wanted(file_name)
        {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("UTF-8 JSON");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file_name}: {e}"));
        visit(file_name, value);
    }
}

/// One resource of the examples package, e.g. `Patient-example.json`.
pub(crate) fn example(file_name: &str) -> Value {
    let mut found = None;
    for_each_matching(|name| name == file_name, |_, value| found = Some(value));
    found.unwrap_or_else(|| panic!("{file_name} is not in {EXAMPLES}"))
}
