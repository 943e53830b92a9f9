//! The manifest of the validator cases (`validator/manifest.json`), read
//! into runs: one per case for the base validation, and one more for a case
//! with a `profile` step. A run that cannot be set up the way the Java
//! validator ran it is a [`Skip`] with the reason.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Which validation of a case: against the specification (and the
/// profiles the resource declares), or also against `profile.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Base,
    Profile,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Base => "base",
            Variant::Profile => "profile",
        }
    }
}

/// One error the Java validator reported.
#[derive(Debug, Clone)]
pub struct JavaError {
    pub location: String,
    pub message: String,
}

/// What the Java validator found.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Its OperationOutcome: every error with its location.
    Outcome(Vec<JavaError>),
    /// Only an error count (the manifest gives `{"errorCount": n}`).
    Count(usize),
}

impl Expected {
    pub fn error_count(&self) -> usize {
        match self {
            Expected::Outcome(errors) => errors.len(),
            Expected::Count(n) => *n,
        }
    }
}

/// One validation to run and compare.
#[derive(Debug)]
pub struct Run {
    pub case: String,
    pub variant: Variant,
    pub module: String,
    pub input: PathBuf,
    /// Package files to load (resolved from the manifest's `name#version`).
    pub packages: Vec<PathBuf>,
    /// Conformance files of the case (profiles, value sets, code systems…).
    pub supporting: Vec<PathBuf>,
    /// `profile.source`: a file of the case or a canonical URL.
    pub profile: Option<String>,
    pub expected: Expected,
}

/// A run left out, and why: a reason shared by runs, and this run's detail.
#[derive(Debug)]
pub struct Skip {
    pub case: String,
    pub variant: Variant,
    pub reason: &'static str,
    pub detail: String,
}

const NOT_R4: &str = "not an R4 case";
const NDJSON: &str = "NDJSON input (Ipê validates one resource at a time)";
const BUNDLE_PARAM: &str = "uses the Java CLI's bundle-param option";
const NO_INPUT: &str = "the input file is not in the data folder";
const NO_OUTCOME: &str = "no Java outcome (none in the manifest, or its file is not in the data folder)";
const NO_PACKAGE: &str = "needs a package that is not in ../shared/fhir/packages";
const NO_SUPPORTING: &str = "a supporting file or profile is not in the data folder";

/// Every run of the manifest, set up or skipped.
pub fn runs(dir: &Path, packages_dir: &Path) -> Vec<Result<Run, Skip>> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let manifest: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = manifest["test-cases"].as_array().cloned().unwrap_or_default();
    assert!(!cases.is_empty(), "{} lists no test-cases", path.display());
    let reader = Reader { dir, packages_dir };
    let mut runs = Vec::new();
    for case in &cases {
        runs.push(reader.run(case, Variant::Base));
        if case.get("profile").is_some() {
            runs.push(reader.run(case, Variant::Profile));
        }
    }
    runs
}

struct Reader<'a> {
    dir: &'a Path,
    packages_dir: &'a Path,
}

impl Reader<'_> {
    fn run(&self, case: &Value, variant: Variant) -> Result<Run, Skip> {
        let name = text(case, "name");
        let skip = |reason: &'static str, detail: String| Skip {
            case: name.clone(),
            variant,
            reason,
            detail,
        };
        let step = match variant {
            Variant::Base => case,
            Variant::Profile => &case["profile"],
        };
        let version = text(case, "version");
        // No version means the current R5, by the manifest's convention.
        if !version.starts_with("4.0") {
            return Err(skip(NOT_R4, format!("version '{version}'")));
        }
        let file = text(case, "file");
        if file.ends_with(".ndjson") {
            return Err(skip(NDJSON, file));
        }
        if case.get("bundle-param").is_some() {
            return Err(skip(BUNDLE_PARAM, case["bundle-param"].to_string()));
        }
        let input = self.dir.join(&file);
        if !input.is_file() {
            return Err(skip(NO_INPUT, file));
        }
        let expected = self.expected(step).map_err(|d| skip(NO_OUTCOME, d))?;
        let mut packages = Vec::new();
        for spec in strings(case, "packages").chain(strings(step, "packages")) {
            packages.push(self.package(&spec).map_err(|d| skip(NO_PACKAGE, d))?);
        }
        let mut supporting = Vec::new();
        let profile_files = match variant {
            Variant::Base => None,
            Variant::Profile => Some(strings(step, "supporting")),
        };
        for file in ["supporting", "profiles"]
            .iter()
            .flat_map(|k| strings(case, k))
            .chain(profile_files.into_iter().flatten())
        {
            let path = self.dir.join(&file);
            if !path.is_file() {
                return Err(skip(NO_SUPPORTING, file));
            }
            supporting.push(path);
        }
        let profile = match variant {
            Variant::Base => None,
            Variant::Profile => Some(text(step, "source")),
        };
        if let Some(source) = profile.as_deref().filter(|s| !is_url(s)) {
            let path = self.dir.join(source);
            if !path.is_file() {
                return Err(skip(NO_SUPPORTING, source.to_owned()));
            }
            supporting.push(path);
        }
        Ok(Run {
            case: name,
            variant,
            module: text(case, "module"),
            input,
            packages,
            supporting,
            profile,
            expected,
        })
    }

    /// The Java outcome of a step: a file under `outcomes/`, or an error
    /// count given inline.
    fn expected(&self, step: &Value) -> Result<Expected, String> {
        match step.get("java") {
            None => Err("none in the manifest".into()),
            Some(Value::Object(inline)) => inline
                .get("errorCount")
                .and_then(Value::as_u64)
                .map(|n| Expected::Count(n as usize))
                .ok_or_else(|| "the inline Java outcome has no errorCount".into()),
            Some(Value::String(file)) => {
                let path = self.dir.join("outcomes").join(file);
                let text = std::fs::read_to_string(&path).map_err(|_| file.clone())?;
                let outcome: Value =
                    serde_json::from_str(&text).map_err(|e| format!("the Java outcome {file} is not JSON: {e}"))?;
                Ok(Expected::Outcome(java_errors(&outcome)))
            }
            Some(other) => Err(format!("unexpected Java outcome {other}")),
        }
    }

    /// A package named `name#version` in the manifest: a file of the shared
    /// packages folder (`name-version.tgz`) or of the case folder.
    fn package(&self, spec: &str) -> Result<PathBuf, String> {
        let local = self.dir.join(spec);
        if local.is_file() {
            return Ok(local);
        }
        if let Some((name, version)) = spec.split_once('#') {
            let shared = self.packages_dir.join(format!("{name}-{version}.tgz"));
            if shared.is_file() {
                return Ok(shared);
            }
        }
        Err(spec.to_owned())
    }
}

/// The errors (and fatal issues) of a Java OperationOutcome, each at its
/// `expression` (else `location`).
fn java_errors(outcome: &Value) -> Vec<JavaError> {
    outcome["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
        .map(|i| JavaError {
            location: i["expression"][0]
                .as_str()
                .or_else(|| i["location"][0].as_str())
                .unwrap_or("")
                .to_owned(),
            message: i["details"]["text"]
                .as_str()
                .or_else(|| i["diagnostics"].as_str())
                .unwrap_or("")
                .to_owned(),
        })
        .collect()
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn strings<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = String> + 'a {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}
