//! Runs one case as Ipê would validate it: the case's packages and
//! supporting files added to a registry holding the base definitions and
//! THO, snapshots generated for differential-only profiles (as at package
//! load), the input parsed (XML through the project's facade), then the
//! structural validator and the profile validator.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipe::outcome::{Issue, IssueType, Severity};
use ipe::packages::{snapshot, CanonicalRegistry, Loader, Origin, PackageCache, PackageSpec};
use ipe::terminology::TerminologyService;
use ipe::validation::{ProfileValidator, StructuralValidator};
use serde_json::Value;

use super::case::Run;

/// What Ipê said about one run.
pub enum Ours {
    Issues(Vec<Issue>),
    /// The validator panicked (the message is on stderr).
    Panicked,
}

/// The registry every case starts from: base R4 and THO, loaded once.
pub async fn shared_registry(packages_dir: &Path, cache: &Path) -> CanonicalRegistry {
    let registry = ipe::packages::base::registry();
    let tho = packages_dir.join("hl7.terminology.r4-7.0.1.tgz");
    loader(cache)
        .load(&[PackageSpec::Path(tho)], &registry)
        .await
        .expect("THO loads from the shared packages");
    registry
}

fn loader(cache: &Path) -> Loader {
    Loader {
        cache: PackageCache::new(cache),
        registry_url: None,
    }
}

/// Sets up and validates one run. `Err` is a setup failure (a package or
/// supporting file Ipê cannot read), reported as such.
pub async fn execute(
    run: &Run,
    shared: &CanonicalRegistry,
    structural: &StructuralValidator,
    cache: &Path,
) -> Result<(Ours, Vec<String>), String> {
    let registry = shared.fork();
    let mut notes = Vec::new();
    if !run.packages.is_empty() {
        let specs: Vec<PackageSpec> = run.packages.iter().cloned().map(PackageSpec::Path).collect();
        let (report, _) = loader(cache)
            .load(&specs, &registry)
            .await
            .map_err(|e| format!("package load failed: {e}"))?;
        for (missing, by) in report.missing {
            notes.push(format!("dependency {missing} of {by} not available"));
        }
    }
    let origin = Origin::Package(format!("validator-case#{}", run.case));
    let mut profile_url = run.profile.clone();
    for file in &run.supporting {
        let resource = match read_resource(file) {
            Ok(resource) => resource,
            Err(e) => {
                notes.push(format!("supporting {e}"));
                continue;
            }
        };
        if run.profile.as_deref().is_some_and(|p| file.ends_with(p)) {
            profile_url = resource["url"].as_str().map(str::to_owned);
        }
        register(&registry, resource, &origin);
    }
    let filled = snapshot::fill_missing(&registry);
    notes.extend(filled.failed.iter().map(|e| format!("no snapshot: {e}")));
    let resource = match read_resource(&run.input) {
        Ok(resource) => resource,
        // As the server answers an unreadable body: one error, nothing more.
        Err(message) => return Ok((Ours::Issues(vec![Issue::error(IssueType::Structure, message)]), notes)),
    };
    let profiles: Vec<String> = profile_url.into_iter().collect();
    let profile = ProfileValidator::new(Arc::new(TerminologyService::new(Arc::new(registry))));
    let validated = catch_unwind(AssertUnwindSafe(|| {
        // Java reports a profile it cannot find as a warning.
        let found = profile.validate(&resource, &profiles, Severity::Warning);
        ipe::validation::merge(structural.validate(&resource), found)
    }));
    Ok((validated.map_or(Ours::Panicked, Ours::Issues), notes))
}

/// A resource file, JSON or XML (converted by the project's XML facade).
fn read_resource(path: &PathBuf) -> Result<Value, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let json = if name.ends_with(".xml") {
        ipe_xml::xml_to_json(&bytes).map_err(|e| format!("{name} is not FHIR XML: {e}"))?
    } else {
        String::from_utf8(bytes).map_err(|e| format!("{name} is not UTF-8: {e}"))?
    };
    serde_json::from_str(&json).map_err(|e| format!("{name} is not JSON: {e}"))
}

/// Registers a conformance resource, or each one of a Bundle of them.
fn register(registry: &CanonicalRegistry, resource: Value, origin: &Origin) {
    if resource["resourceType"] == "Bundle" {
        for entry in resource["entry"].as_array().into_iter().flatten() {
            register(registry, entry["resource"].clone(), origin);
        }
    } else {
        registry.insert_value(Arc::new(resource), origin.clone());
    }
}
