//! Test access to the outside FHIR data (`IPE_TEST_DATA`, by default
//! `../shared/fhir` next to the project), read in place, never copied.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use serde_json::Value;

const EXAMPLES: &str = "packages/hl7.fhir.r4.examples-4.0.1.tgz";
const SYNTHEA: &str = "synthea/synthea-r4-dev-78.tar.gz";

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
    let accept = |name: &str| {
        // package.json and .index.json describe the package, they are not resources.
        name.strip_prefix("package/").is_some_and(|file_name| {
            !file_name.contains('/')
                && file_name.ends_with(".json")
                && file_name != "package.json"
                && !file_name.starts_with('.')
                && wanted(file_name)
        })
    };
    for_each_json_in(EXAMPLES, accept, |name, value| {
        visit(name.strip_prefix("package/").unwrap_or(name), value)
    });
}

/// Calls `visit` with each transaction Bundle of the Synthea archive.
pub(crate) fn for_each_synthea_bundle(visit: impl FnMut(&str, Value)) {
    for_each_json_in(SYNTHEA, |name| name.ends_with(".json"), visit);
}

/// Calls `visit` with the name and parsed content of each file `wanted`
/// accepts in a `.tar.gz` of the data folder, streaming the archive.
fn for_each_json_in(archive: &str, wanted: impl Fn(&str) -> bool, mut visit: impl FnMut(&str, Value)) {
    let path = data_dir().join(archive);
    let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    for entry in archive.entries().expect("readable tar") {
        let mut entry = entry.expect("readable tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        if !wanted(&name) {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("UTF-8 JSON");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        visit(&name, value);
    }
}

/// Undoes the five XML entities, for the suites read with a plain scan.
/// `&amp;` goes last, so `&amp;lt;` becomes `&lt;` and not `<`.
pub(crate) fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One resource of the examples package, e.g. `Patient-example.json`.
pub(crate) fn example(file_name: &str) -> Value {
    let mut found = None;
    for_each_matching(|name| name == file_name, |_, value| found = Some(value));
    found.unwrap_or_else(|| panic!("{file_name} is not in {EXAMPLES}"))
}
