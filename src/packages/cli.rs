//! `ipe packages install | list`: the package cache from the command line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{sets, CanonicalRegistry, Loader, PackageCache, PackageSpec};

/// Installs packages and their dependencies into the cache; returns the
/// report to print, one line per package.
pub async fn install(loader: &Loader, specs: &[PackageSpec]) -> Result<String, String> {
    let registry = CanonicalRegistry::new();
    let (report, packages) = loader.load(specs, &registry).await.map_err(|e| e.to_string())?;
    let mut out = String::new();
    for package in &packages {
        let id = package.manifest.id();
        let cached = loader
            .cache
            .versions(&package.manifest.name)
            .contains(&package.manifest.version);
        if !cached {
            let path = loader.cache.install(package).map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "installed {id} ({} files) in {}",
                package.files.len(),
                path.display()
            );
        } else {
            let _ = writeln!(out, "present   {id}");
        }
    }
    for (wanted, used) in &report.substituted {
        let _ = writeln!(
            out,
            "warning: dependency {wanted} not available; {used} is used instead"
        );
    }
    for (missing, needed_by) in &report.missing {
        let _ = writeln!(out, "warning: dependency {missing} (of {needed_by}) not available");
    }
    Ok(out)
}

/// Every cached package: id, canonical, dependencies, and resources by type.
pub fn list(cache: &PackageCache) -> Result<String, String> {
    let mut out = format!("package cache: {}\n", cache.root().display());
    let folders = cache.folders();
    if folders.is_empty() {
        out.push_str("(empty)\n");
    }
    for folder in folders {
        let Some((name, version)) = folder.split_once('#') else {
            continue;
        };
        let package = cache.read(name, version).map_err(|e| e.to_string())?;
        let (resources, examples) = package.counts();
        let total: usize = resources.values().sum();
        let _ = writeln!(
            out,
            "\n{folder}  {}  {total} resources, {} examples",
            package.manifest.canonical.as_deref().unwrap_or("-"),
            examples.values().sum::<usize>()
        );
        let deps: Vec<String> = package
            .manifest
            .dependencies
            .iter()
            .map(|(n, v)| format!("{n}#{v}{}", dependency_state(cache, n, v)))
            .collect();
        if !deps.is_empty() {
            let _ = writeln!(out, "  depends on: {}", deps.join(", "));
        }
        let _ = writeln!(out, "  {}", by_type(&resources));
        if !examples.is_empty() {
            let _ = writeln!(out, "  examples: {}", by_type(&examples));
        }
    }
    let _ = writeln!(
        out,
        "\nready sets (ipe serve --package <name>): {}",
        sets::names().collect::<Vec<_>>().join(", ")
    );
    Ok(out)
}

/// How a dependency would be met: by the base, exactly, by another cached
/// version, or not at all (offline).
fn dependency_state(cache: &PackageCache, name: &str, version: &str) -> String {
    if name == super::base::CORE_PACKAGE {
        return " (base)".into();
    }
    match (cache.find(name, version), cache.find(name, "latest")) {
        (Some(_), _) => String::new(),
        (None, Some(other)) => format!(" (not cached; {other} is used)"),
        (None, None) => " (not cached)".into(),
    }
}

fn by_type(counts: &BTreeMap<&str, usize>) -> String {
    counts
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}
