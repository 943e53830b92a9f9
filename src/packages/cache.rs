//! The FHIR package cache: `~/.fhir/packages/<name>#<version>/package/…`, as
//! the IG Publisher, SUSHI and HAPI share it. Installing unpacks a package
//! there; loading by `name@version` reads from there.

use std::path::{Path, PathBuf};

use super::package::{Manifest, Package, PackageError};

/// A package cache folder.
#[derive(Debug, Clone)]
pub struct PackageCache {
    root: PathBuf,
}

impl PackageCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$FHIR_PACKAGE_CACHE`, else `~/.fhir/packages`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("FHIR_PACKAGE_CACHE") {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".fhir").join("packages")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder(&self, name: &str, version: &str) -> PathBuf {
        self.root.join(format!("{name}#{version}"))
    }

    /// The versions of a package present in the cache, highest first.
    pub fn versions(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}#");
        let mut versions: Vec<String> = self
            .folders()
            .into_iter()
            .filter_map(|f| f.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        versions.sort_by(|a, b| super::registry::compare_versions(Some(b), Some(a)));
        versions
    }

    /// The cached version that satisfies `wanted`: exact, a wildcard
    /// (`1.1.x`, `1.x`), or `latest`/`current`/empty for the highest.
    pub fn find(&self, name: &str, wanted: &str) -> Option<String> {
        let versions = self.versions(name);
        let prefix = wanted.trim_end_matches(".x").trim_end_matches('x');
        versions.into_iter().find(|v| match wanted {
            "" | "latest" | "current" | "dev" => true,
            w if w.ends_with('x') => prefix.is_empty() || v.starts_with(&format!("{prefix}.")),
            w => v == w,
        })
    }

    /// Reads a cached package.
    pub fn read(&self, name: &str, version: &str) -> Result<Package, PackageError> {
        Package::read(&self.folder(name, version))
    }

    /// Every `name#version` folder in the cache, sorted.
    pub fn folders(&self) -> Vec<String> {
        let Ok(listing) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = listing
            .filter_map(Result::ok)
            .filter(|e| e.path().join("package").join("package.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains('#'))
            .collect();
        names.sort();
        names
    }

    /// Writes a read package into the cache (replacing an older copy of the
    /// same version). The copy is made beside the final folder and renamed
    /// into place, so a crash never leaves half a package that looks whole.
    pub fn install(&self, package: &Package) -> Result<PathBuf, PackageError> {
        let io = |path: &Path, source| PackageError::Io {
            path: path.to_owned(),
            source,
        };
        let manifest: &Manifest = &package.manifest;
        let target = self.folder(&manifest.name, &manifest.version);
        let staging = self
            .root
            .join(format!(".{}-{}.partial", manifest.id(), std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let inner = staging.join("package");
        std::fs::create_dir_all(inner.join("example")).map_err(|e| io(&inner, e))?;
        let manifest_json = serde_json::json!({
            "name": manifest.name,
            "version": manifest.version,
            "canonical": manifest.canonical,
            "fhirVersions": manifest.fhir_versions,
            "dependencies": manifest.dependencies,
        });
        std::fs::write(inner.join("package.json"), manifest_json.to_string()).map_err(|e| io(&inner, e))?;
        for file in &package.files {
            let path = staging.join(&file.path);
            std::fs::write(&path, &file.text).map_err(|e| io(&path, e))?;
        }
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
        }
        std::fs::rename(&staging, &target).map_err(|e| io(&target, e))?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_wildcard_and_latest_versions() {
        let dir = std::env::temp_dir().join(format!("ipe-cache-test-{}", std::process::id()));
        for v in ["1.0.0", "1.1.0", "1.1.2", "2.0.0"] {
            let p = dir.join(format!("pkg#{v}")).join("package");
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("package.json"), format!(r#"{{"name":"pkg","version":"{v}"}}"#)).unwrap();
        }
        let cache = PackageCache::new(&dir);
        assert_eq!(cache.find("pkg", "1.1.0").as_deref(), Some("1.1.0"));
        assert_eq!(cache.find("pkg", "1.1.x").as_deref(), Some("1.1.2"));
        assert_eq!(cache.find("pkg", "1.x").as_deref(), Some("1.1.2"));
        assert_eq!(cache.find("pkg", "latest").as_deref(), Some("2.0.0"));
        assert_eq!(cache.find("pkg", "3.0.0"), None);
        assert_eq!(cache.find("other", "latest"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
