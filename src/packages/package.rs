//! One FHIR NPM package, read from a `.tgz` or an unpacked folder
//! (<https://confluence.hl7.org/display/FHIR/NPM+Package+Specification>).
//!
//! A package is `package/package.json` (name, version, dependencies) plus
//! resources as JSON files in `package/`; examples sit in `package/example/`
//! and other subfolders hold what tools need (openapi, xml, …). Only the JSON
//! resources directly in `package/` and in `package/example/` are read; in a
//! folder, a `.index.json` (when present) says which files those are.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What `package/package.json` says about a package.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub canonical: Option<String>,
    #[serde(default)]
    pub fhir_versions: Vec<String>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
}

impl Manifest {
    /// `name#version`, as the package cache names folders.
    pub fn id(&self) -> String {
        format!("{}#{}", self.name, self.version)
    }
}

/// A resource file of a package, kept as text.
#[derive(Debug)]
pub struct PackageFile {
    /// Path inside the package, e.g. `package/ValueSet-foo.json`.
    pub path: String,
    pub resource_type: String,
    pub text: String,
    /// In `package/example/`.
    pub example: bool,
}

/// A read package.
#[derive(Debug)]
pub struct Package {
    pub manifest: Manifest,
    pub files: Vec<PackageFile>,
}

/// Why a package could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: no package/package.json")]
    NoManifest { path: PathBuf },
    #[error("{path}: package/package.json: {source}")]
    BadManifest { path: PathBuf, source: serde_json::Error },
    #[error("{path}: not a .tgz file or a package folder")]
    NotAPackage { path: PathBuf },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeOnly {
    resource_type: Option<String>,
}

impl Package {
    /// Reads a package from a `.tgz` file or a folder (the folder holding
    /// `package/`, or `package/` itself).
    pub fn read(path: &Path) -> Result<Package, PackageError> {
        if path.is_dir() {
            read_dir(path)
        } else if path.is_file() {
            let file = File::open(path).map_err(|source| io(path, source))?;
            read_tgz(path, file)
        } else {
            Err(PackageError::NotAPackage { path: path.to_owned() })
        }
    }

    /// Reads a package from the bytes of a `.tgz` (a download).
    pub fn read_tgz_bytes(origin: &Path, bytes: &[u8]) -> Result<Package, PackageError> {
        read_tgz(origin, bytes)
    }

    /// Resources by type: (conformance and other resources, examples).
    pub fn counts(&self) -> (BTreeMap<&str, usize>, BTreeMap<&str, usize>) {
        let mut resources = BTreeMap::new();
        let mut examples = BTreeMap::new();
        for f in &self.files {
            let map = if f.example { &mut examples } else { &mut resources };
            *map.entry(f.resource_type.as_str()).or_insert(0) += 1;
        }
        (resources, examples)
    }
}

fn io(path: &Path, source: std::io::Error) -> PackageError {
    PackageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where a file sits in a package: `Some(example?)` for resource files.
fn resource_place(inner: &str) -> Option<bool> {
    let rest = inner.strip_prefix("package/")?;
    if !rest.ends_with(".json") || rest.ends_with("package.json") || rest.ends_with(".index.json") {
        return None;
    }
    match rest.split_once('/') {
        None => Some(false),
        Some(("example" | "examples", name)) if !name.contains('/') => Some(true),
        Some(_) => None,
    }
}

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest, PackageError> {
    serde_json::from_str(text).map_err(|source| PackageError::BadManifest {
        path: path.to_owned(),
        source,
    })
}

/// A resource file, or nothing when the JSON names no resource type (some
/// packages carry other JSON, e.g. `ig-r4.json` fragments).
fn package_file(path: String, text: String, example: bool) -> Option<PackageFile> {
    let head: TypeOnly = serde_json::from_str(&text).ok()?;
    Some(PackageFile {
        path,
        resource_type: head.resource_type?,
        text,
        example,
    })
}

fn read_tgz(path: &Path, reader: impl Read) -> Result<Package, PackageError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let mut manifest = None;
    let mut files = Vec::new();
    let entries = archive.entries().map_err(|e| io(path, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| io(path, e))?;
        let inner = entry
            .path()
            .map_err(|e| io(path, e))?
            .to_string_lossy()
            .replace('\\', "/");
        let inner = inner.trim_start_matches("./").to_owned();
        let place = resource_place(&inner);
        if inner != "package/package.json" && place.is_none() {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).map_err(|e| io(path, e))?;
        match place {
            None => manifest = Some(parse_manifest(path, &text)?),
            Some(example) => files.extend(package_file(inner, text, example)),
        }
    }
    let manifest = manifest.ok_or_else(|| PackageError::NoManifest { path: path.to_owned() })?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package { manifest, files })
}

fn read_dir(path: &Path) -> Result<Package, PackageError> {
    let root = if path.join("package").is_dir() {
        path.join("package")
    } else {
        path.to_owned()
    };
    let manifest_path = root.join("package.json");
    if !manifest_path.is_file() {
        return Err(PackageError::NoManifest { path: path.to_owned() });
    }
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| io(&manifest_path, e))?;
    let manifest = parse_manifest(&manifest_path, &text)?;
    let mut files = Vec::new();
    for (folder, example) in [("", false), ("example", true), ("examples", true)] {
        read_folder(&root, folder, example, &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package { manifest, files })
}

/// The resource files of one folder of an unpacked package.
fn read_folder(root: &Path, folder: &str, example: bool, files: &mut Vec<PackageFile>) -> Result<(), PackageError> {
    let dir = root.join(folder);
    let Ok(listing) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let index = folder_index(&dir);
    for item in listing {
        let item = item.map_err(|e| io(&dir, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let inner = match folder {
            "" => format!("package/{name}"),
            _ => format!("package/{folder}/{name}"),
        };
        if resource_place(&inner) != Some(example) {
            continue;
        }
        // With an index, what it does not list is not a resource, and what
        // it lists need not be parsed to learn its type.
        let known_type = match &index {
            Some(index) => match index.get(&name) {
                Some(t) => Some(t.clone()),
                None => continue,
            },
            None => None,
        };
        let text = std::fs::read_to_string(item.path()).map_err(|e| io(&item.path(), e))?;
        match known_type {
            Some(resource_type) => files.push(PackageFile {
                path: inner,
                resource_type,
                text,
                example,
            }),
            None => files.extend(package_file(inner, text, example)),
        }
    }
    Ok(())
}

/// A folder's `.index.json` (the package spec's file index), as file name
/// → resource type; `None` when absent or unreadable (then every file is
/// read and its type taken from its content).
fn folder_index(dir: &Path) -> Option<std::collections::HashMap<String, String>> {
    #[derive(Deserialize)]
    struct Index {
        files: Vec<IndexEntry>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct IndexEntry {
        filename: String,
        resource_type: String,
    }
    let text = std::fs::read_to_string(dir.join(".index.json")).ok()?;
    let index: Index = serde_json::from_str(&text).ok()?;
    Some(index.files.into_iter().map(|f| (f.filename, f.resource_type)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_index_says_which_files_are_resources() {
        let dir = std::env::temp_dir().join(format!("ipe-index-test-{}", std::process::id()));
        let package = dir.join("package");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("package.json"), r#"{"name": "p", "version": "1"}"#).unwrap();
        std::fs::write(
            package.join("ValueSet-a.json"),
            r#"{"resourceType": "ValueSet", "url": "http://x/a"}"#,
        )
        .unwrap();
        std::fs::write(
            package.join("other.json"),
            r#"{"resourceType": "ValueSet", "url": "http://x/b"}"#,
        )
        .unwrap();
        let read = || {
            Package::read(&dir)
                .unwrap()
                .files
                .iter()
                .map(|f| f.path.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(read(), ["package/ValueSet-a.json", "package/other.json"]);
        std::fs::write(
            package.join(".index.json"),
            r#"{"index-version": 1, "files": [{"filename": "ValueSet-a.json", "resourceType": "ValueSet"}]}"#,
        )
        .unwrap();
        assert_eq!(read(), ["package/ValueSet-a.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_top_level_and_example_json_are_resources() {
        assert_eq!(resource_place("package/ValueSet-x.json"), Some(false));
        assert_eq!(resource_place("package/example/Patient-x.json"), Some(true));
        assert_eq!(resource_place("package/package.json"), None);
        assert_eq!(resource_place("package/.index.json"), None);
        assert_eq!(resource_place("package/openapi/Patient.json"), None);
        assert_eq!(resource_place("package/other/x/Patient.json"), None);
        assert_eq!(resource_place("package/ValueSet-x.xml"), None);
    }
}
