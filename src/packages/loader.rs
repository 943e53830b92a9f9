//! Loading packages and their dependencies into the canonical registry.
//!
//! A package is named on the command line or in the configuration as a
//! `.tgz` file, a folder, or `name@version` (`name#version` too). Named
//! packages and dependencies are found in the package cache, else downloaded
//! from the package registry (when one is configured) and installed into the
//! cache. A dependency whose exact version is unavailable is met by another
//! cached version of the same package, with a warning (offline use would
//! otherwise be impossible); one that is not available at all is reported and
//! loading goes on. `hl7.fhir.r4.core` is the base, always present.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::base::CORE_PACKAGE;
use super::cache::PackageCache;
use super::package::{Package, PackageError};
use super::registry::{CanonicalRegistry, Origin};

/// The public FHIR package registry.
pub const DEFAULT_REGISTRY: &str = "https://packages.fhir.org";

/// How a package is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSpec {
    /// A `.tgz` file or a folder.
    Path(PathBuf),
    /// `name@version`; the version may be a wildcard or `latest`.
    Named { name: String, version: String },
}

impl PackageSpec {
    /// A path when it exists or looks like one (`.tgz`, a `/`), else
    /// `name@version` / `name#version` / `name` (latest).
    pub fn parse(text: &str) -> PackageSpec {
        let text = text.trim();
        let path = Path::new(text);
        if path.exists() || text.ends_with(".tgz") || text.contains('/') {
            return PackageSpec::Path(path.to_owned());
        }
        match text.split_once(['@', '#']) {
            Some((name, version)) => PackageSpec::Named {
                name: name.into(),
                version: version.into(),
            },
            None => PackageSpec::Named {
                name: text.into(),
                version: "latest".into(),
            },
        }
    }
}

impl std::fmt::Display for PackageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageSpec::Path(p) => write!(f, "{}", p.display()),
            PackageSpec::Named { name, version } => write!(f, "{name}@{version}"),
        }
    }
}

/// Why a package named by the user could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("package {spec} is not in the cache ({cache}) and {why}")]
    NotFound { spec: String, cache: String, why: String },
}

/// One loaded package.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    /// Conformance resources put in the registry.
    pub registered: usize,
    /// Resource files read, examples included.
    pub files: usize,
    pub millis: u128,
}

/// What a load did.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    pub loaded: Vec<Loaded>,
    /// (`wanted name#version`, version used instead).
    pub substituted: Vec<(String, String)>,
    /// (`name#version`, the package that needs it).
    pub missing: Vec<(String, String)>,
}

/// Finds packages (cache, registry) and loads them with their dependencies.
#[derive(Debug, Clone)]
pub struct Loader {
    pub cache: PackageCache,
    /// `None`: offline, files and the cache only.
    pub registry_url: Option<String>,
}

impl Loader {
    /// Loads the packages and everything they depend on into `registry`;
    /// returns the packages themselves too (their examples are wanted by
    /// tests and by `ipe validate`).
    pub async fn load(
        &self,
        specs: &[PackageSpec],
        registry: &CanonicalRegistry,
    ) -> Result<(LoadReport, Vec<Package>), LoadError> {
        let mut report = LoadReport::default();
        let mut packages = Vec::new();
        let mut done: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<(String, String, String)> = VecDeque::new();
        for spec in specs {
            let package = self.obtain(spec).await?;
            self.register(package, registry, &mut report, &mut done, &mut queue, &mut packages);
        }
        while let Some((name, version, needed_by)) = queue.pop_front() {
            if done.iter().any(|id| id.split_once('#').is_some_and(|(n, _)| n == name)) {
                continue; // one version per package name, the first asked for
            }
            match self.dependency(&name, &version).await {
                Some((package, used)) => {
                    if used != version {
                        report.substituted.push((format!("{name}#{version}"), used));
                    }
                    self.register(package, registry, &mut report, &mut done, &mut queue, &mut packages);
                }
                None => {
                    report.missing.push((format!("{name}#{version}"), needed_by));
                    done.insert(format!("{name}#{version}"));
                }
            }
        }
        Ok((report, packages))
    }

    fn register(
        &self,
        package: Package,
        registry: &CanonicalRegistry,
        report: &mut LoadReport,
        done: &mut HashSet<String>,
        queue: &mut VecDeque<(String, String, String)>,
        packages: &mut Vec<Package>,
    ) {
        let id = package.manifest.id();
        if !done.insert(id.clone()) {
            return;
        }
        let started = Instant::now();
        let origin = Origin::Package(id.clone());
        let registered = package
            .files
            .iter()
            .filter(|f| !f.example)
            .filter(|f| matches!(registry.insert_json(&f.text, origin.clone()), Ok(true)))
            .count();
        let loaded = Loaded {
            id: id.clone(),
            registered,
            files: package.files.len(),
            millis: started.elapsed().as_millis(),
        };
        tracing::info!(package = %id, registered, files = loaded.files, millis = loaded.millis as u64, "package loaded");
        report.loaded.push(loaded);
        for (name, version) in &package.manifest.dependencies {
            if name != CORE_PACKAGE {
                queue.push_back((name.clone(), version.clone(), id.clone()));
            }
        }
        packages.push(package);
    }

    /// A package the user named: it must be found.
    async fn obtain(&self, spec: &PackageSpec) -> Result<Package, LoadError> {
        match spec {
            PackageSpec::Path(path) => Ok(Package::read(path)?),
            PackageSpec::Named { name, version } => {
                if let Some(v) = self.cache.find(name, version) {
                    return Ok(self.cache.read(name, &v)?);
                }
                let not_found = |why: String| LoadError::NotFound {
                    spec: spec.to_string(),
                    cache: self.cache.root().display().to_string(),
                    why,
                };
                match &self.registry_url {
                    None => Err(not_found("no package registry is configured (offline)".into())),
                    Some(url) => {
                        let bytes = download(url, name, version).await.map_err(not_found)?;
                        let package = Package::read_tgz_bytes(Path::new(&format!("{url}/{name}/{version}")), &bytes)?;
                        self.cache.install(&package)?;
                        Ok(package)
                    }
                }
            }
        }
    }

    /// A dependency: exact version from the cache or the registry, else
    /// the highest cached version. Returns the version used.
    async fn dependency(&self, name: &str, version: &str) -> Option<(Package, String)> {
        let exact = PackageSpec::Named {
            name: name.into(),
            version: version.into(),
        };
        if let Ok(package) = self.obtain(&exact).await {
            let used = package.manifest.version.clone();
            return Some((package, used));
        }
        let other = self.cache.find(name, "latest")?;
        let package = self.cache.read(name, &other).ok()?;
        Some((package, other))
    }
}

/// `GET {registry}/{name}/{version}`: the package registry protocol's
/// tarball download. Errors are one line for the user.
pub async fn download(registry: &str, name: &str, version: &str) -> Result<Vec<u8>, String> {
    let url = format!("{}/{name}/{version}", registry.trim_end_matches('/'));
    tracing::info!(%url, "downloading package");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let response = client
        .get(&url)
        .header("Accept", "application/tar+gzip, application/octet-stream")
        .send()
        .await
        .map_err(|e| format!("downloading {url} failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("downloading {url} failed: {e}"))?;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_package_names_and_paths() {
        assert_eq!(
            PackageSpec::parse("hl7.fhir.us.core@6.1.0"),
            PackageSpec::Named {
                name: "hl7.fhir.us.core".into(),
                version: "6.1.0".into()
            }
        );
        assert_eq!(
            PackageSpec::parse("hl7.fhir.us.core#6.1.0"),
            PackageSpec::Named {
                name: "hl7.fhir.us.core".into(),
                version: "6.1.0".into()
            }
        );
        assert_eq!(
            PackageSpec::parse("hl7.terminology.r4"),
            PackageSpec::Named {
                name: "hl7.terminology.r4".into(),
                version: "latest".into()
            }
        );
        assert_eq!(
            PackageSpec::parse("rnds-0.1.0.tgz"),
            PackageSpec::Path("rnds-0.1.0.tgz".into())
        );
        assert_eq!(PackageSpec::parse("./ig"), PackageSpec::Path("./ig".into()));
    }
}
