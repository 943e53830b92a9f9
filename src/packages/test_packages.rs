//! Test access to the packages of the outside data
//! (`IPE_TEST_DATA/packages`), loaded as `ipe serve --package <file>…` loads
//! them: offline, with a throwaway cache, dependencies met by the files given
//! (or reported missing), snapshots generated.

use std::path::PathBuf;

use super::{base, snapshot, CanonicalRegistry, Loader, Package, PackageCache, PackageSpec};
use crate::validation::test_data::data_dir;

pub(crate) const THO: &str = "hl7.terminology.r4-7.0.1.tgz";
pub(crate) const US_CORE_311: &str = "hl7.fhir.us.core-3.1.1.tgz";
pub(crate) const US_CORE_610: &str = "hl7.fhir.us.core-6.1.0.tgz";
pub(crate) const US_CORE_700: &str = "hl7.fhir.us.core-7.0.0.tgz";
pub(crate) const BR_CORE: &str = "br.gov.saude.br-core.fhir-1.1.0-sushi.tgz";
pub(crate) const RNDS: &str = "rnds-0.1.0.tgz";
pub(crate) const BACKPORT: &str = "hl7.fhir.uv.subscriptions-backport-1.1.0-sushi.tgz";

/// The path of one package file of the outside data.
pub(crate) fn shared(file: &str) -> PathBuf {
    data_dir().join("packages").join(file)
}

/// The base definitions plus these package files, and the packages read.
pub(crate) async fn load(files: &[&str]) -> (CanonicalRegistry, Vec<Package>) {
    let cache = std::env::temp_dir().join(format!("ipe-test-packages-{}-{}", std::process::id(), files.len()));
    let loader = Loader {
        cache: PackageCache::new(&cache),
        registry_url: None,
    };
    let specs: Vec<PackageSpec> = files.iter().map(|f| PackageSpec::Path(shared(f))).collect();
    let registry = base::registry();
    let (_, packages) = loader.load(&specs, &registry).await.expect("the shared packages load");
    let filled = snapshot::fill_missing(&registry);
    assert!(filled.failed.is_empty(), "snapshots failed: {:?}", filled.failed);
    let _ = std::fs::remove_dir_all(&cache);
    (registry, packages)
}

/// A package's resource profiles (constraints on resource types): the
/// candidates for its examples that declare no profile.
pub(crate) fn resource_profiles(package: &Package) -> Vec<String> {
    let mut urls: Vec<String> = package
        .files
        .iter()
        .filter(|f| !f.example && f.resource_type == "StructureDefinition")
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.text).ok())
        .filter(|sd| sd["kind"] == "resource" && sd["derivation"] == "constraint")
        .filter_map(|sd| sd["url"].as_str().map(str::to_owned))
        .collect();
    urls.sort();
    urls
}
