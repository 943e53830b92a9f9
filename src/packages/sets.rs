//! Ready package sets (`profiles/<name>.toml`, compiled in): a deployment
//! switches one on by name where it would name a package.

use serde::Deserialize;

use super::loader::PackageSpec;

static SETS: &[(&str, &str)] = &[
    ("us-core", include_str!("../../profiles/us-core.toml")),
    ("br-core", include_str!("../../profiles/br-core.toml")),
    ("rnds", include_str!("../../profiles/rnds.toml")),
    (
        "subscriptions-backport",
        include_str!("../../profiles/subscriptions-backport.toml"),
    ),
];

#[derive(Debug, Deserialize)]
struct SetFile {
    packages: Vec<String>,
}

/// The names of the ready sets.
pub fn names() -> impl Iterator<Item = &'static str> {
    SETS.iter().map(|(name, _)| *name)
}

/// Package specs as configured: a set name becomes its packages; anything
/// else is a package spec.
pub fn expand(configured: &[String]) -> Vec<PackageSpec> {
    configured
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .flat_map(|s| match SETS.iter().find(|(name, _)| *name == s) {
            Some((name, text)) => set_packages(name, text),
            None => vec![PackageSpec::parse(s)],
        })
        .collect()
}

fn set_packages(name: &str, text: &str) -> Vec<PackageSpec> {
    match toml::from_str::<SetFile>(text) {
        Ok(set) => set.packages.iter().map(|p| PackageSpec::parse(p)).collect(),
        Err(error) => {
            // Compiled in and covered by a test; never a user's mistake.
            tracing::error!(set = name, %error, "profiles/{name}.toml is invalid");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_file_names_packages() {
        for (name, text) in SETS {
            assert!(!set_packages(name, text).is_empty(), "{name}");
        }
    }

    #[test]
    fn set_names_expand_and_other_specs_pass_through() {
        let specs = expand(&["us-core".into(), "rnds@0.1.0".into()]);
        assert_eq!(
            specs,
            vec![
                PackageSpec::Named {
                    name: "hl7.fhir.us.core".into(),
                    version: "6.1.0".into()
                },
                PackageSpec::Named {
                    name: "rnds".into(),
                    version: "0.1.0".into()
                },
            ]
        );
    }
}
