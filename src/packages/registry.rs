//! The canonical registry: every conformance resource the server knows, by
//! canonical URL and version.
//!
//! The validator, the terminology service, the snapshot generator, the
//! search-parameter registry and the subscription topics all read it
//! (DESIGN.md, "Packages"). Resources come from three places, in rising
//! precedence for the same `url|version`: the base R4 definitions, loaded
//! packages, and resources stored through the REST API (live as soon as they
//! are written).
//!
//! Bodies are kept as the JSON text they arrived in and parsed on first use:
//! base R4, THO and a few IGs are ~50 MB of JSON, of which a server touches a
//! small part, and a parsed `serde_json::Value` takes several times its text.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde::Deserialize;
use serde_json::Value;

/// The resource types the registry holds; others are not conformance
/// resources and are ignored by [`CanonicalRegistry::insert_json`].
pub const CANONICAL_TYPES: &[&str] = &[
    "StructureDefinition",
    "ValueSet",
    "CodeSystem",
    "ConceptMap",
    "SearchParameter",
    "OperationDefinition",
    "NamingSystem",
    "CapabilityStatement",
    "ImplementationGuide",
    "CompartmentDefinition",
    "StructureMap",
    "Questionnaire",
];

/// Where a registered resource came from; later origins win over earlier ones
/// for the same `url|version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// The base R4 definitions shipped under `conformance/`.
    Base,
    /// A loaded package, as `name#version`.
    Package(String),
    /// Stored through the REST API, with its logical id.
    Server(String),
}

/// The fields the registry indexes; read without building the whole tree.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    resource_type: String,
    url: Option<String>,
    version: Option<String>,
    name: Option<String>,
    /// NamingSystem: its `uniqueId`s (uri, and oid as `urn:oid:`) are
    /// aliases of its URL.
    #[serde(default)]
    unique_id: Vec<UniqueId>,
    /// An R4 NamingSystem has no `url`/`version` elements; THO gives them
    /// by the R5 cross-version extensions.
    #[serde(default)]
    extension: Vec<Extension>,
    /// StructureDefinition: whether it carries a snapshot, and a differential.
    snapshot: Option<serde::de::IgnoredAny>,
    differential: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    url: String,
    value_uri: Option<String>,
    value_string: Option<String>,
}

const NAMING_SYSTEM_URL: &str = "http://hl7.org/fhir/5.0/StructureDefinition/extension-NamingSystem.url";
const NAMING_SYSTEM_VERSION: &str = "http://hl7.org/fhir/5.0/StructureDefinition/extension-NamingSystem.version";

impl Head {
    /// The canonical URL: `url`, else (NamingSystem) the cross-version
    /// extension, else its first unique id.
    fn canonical(&self) -> Option<String> {
        self.url
            .clone()
            .or_else(|| self.extension_value(NAMING_SYSTEM_URL))
            .or_else(|| self.aliases().into_iter().next())
            .filter(|u| !u.is_empty())
    }

    fn version(&self) -> Option<String> {
        self.version
            .clone()
            .or_else(|| self.extension_value(NAMING_SYSTEM_VERSION))
    }

    fn extension_value(&self, url: &str) -> Option<String> {
        let e = self.extension.iter().find(|e| e.url == url)?;
        e.value_uri.clone().or_else(|| e.value_string.clone())
    }

    /// A NamingSystem's unique ids as URIs.
    fn aliases(&self) -> Vec<String> {
        self.unique_id
            .iter()
            .filter_map(|u| match (u.kind.as_deref(), u.value.as_deref()) {
                (Some("uri"), Some(v)) => Some(v.to_owned()),
                (Some("oid"), Some(v)) => Some(format!("urn:oid:{v}")),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct UniqueId {
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
}

/// One registered resource.
#[derive(Debug)]
pub struct Entry {
    pub resource_type: String,
    pub url: String,
    pub version: Option<String>,
    pub name: Option<String>,
    pub origin: Origin,
    /// A StructureDefinition with a differential and no snapshot: the
    /// snapshot generator's work.
    pub needs_snapshot: bool,
    text: Option<Box<str>>,
    parsed: OnceLock<Option<Arc<Value>>>,
}

impl Entry {
    /// The resource, parsed on first use.
    pub fn resource(&self) -> Option<Arc<Value>> {
        self.parsed
            .get_or_init(|| {
                let text = self.text.as_deref()?;
                match serde_json::from_str(text) {
                    Ok(v) => Some(Arc::new(v)),
                    Err(error) => {
                        tracing::warn!(url = %self.url, %error, "registered resource is not valid JSON");
                        None
                    }
                }
            })
            .clone()
    }
}

/// Why a resource could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Conformance resources by canonical URL; see the module docs.
#[derive(Debug, Default)]
pub struct CanonicalRegistry {
    by_url: RwLock<HashMap<String, Vec<Arc<Entry>>>>,
}

impl CanonicalRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding everything this one holds now; what is added to
    /// either afterwards stays its own. Entries are shared, so a resource
    /// one has parsed the other does not parse again: a base loaded once
    /// serves many short-lived registries (one per validator test case).
    pub fn fork(&self) -> CanonicalRegistry {
        let map = self.by_url.read().unwrap_or_else(|p| p.into_inner());
        CanonicalRegistry {
            by_url: RwLock::new(map.clone()),
        }
    }

    /// Registers a conformance resource given as JSON text. Returns false
    /// (and keeps nothing) for resources that are not conformance resources
    /// or have no `url`.
    pub fn insert_json(&self, text: &str, origin: Origin) -> Result<bool, RegistryError> {
        let head: Head = serde_json::from_str(text)?;
        Ok(self.insert_entry(head, Some(text.into()), None, origin))
    }

    /// Registers an already parsed conformance resource.
    pub fn insert_value(&self, resource: Arc<Value>, origin: Origin) -> bool {
        let Ok(head) = Head::deserialize(&*resource) else {
            return false;
        };
        self.insert_entry(head, None, Some(resource), origin)
    }

    fn insert_entry(&self, head: Head, text: Option<Box<str>>, parsed: Option<Arc<Value>>, origin: Origin) -> bool {
        if !CANONICAL_TYPES.contains(&head.resource_type.as_str()) {
            return false;
        }
        let Some(url) = head.canonical() else {
            return false;
        };
        let version = head.version();
        let mut aliases = head.aliases();
        aliases.retain(|a| *a != url);
        aliases.dedup();
        let cell = OnceLock::new();
        if let Some(p) = parsed {
            let _ = cell.set(Some(p));
        }
        let needs_snapshot = head.snapshot.is_none() && head.differential.is_some();
        let entry = Arc::new(Entry {
            needs_snapshot,
            resource_type: head.resource_type,
            url: url.clone(),
            version,
            name: head.name,
            origin,
            text,
            parsed: cell,
        });
        let mut map = self.by_url.write().unwrap_or_else(|p| p.into_inner());
        for key in std::iter::once(url).chain(aliases) {
            let list = map.entry(key).or_default();
            // One entry per (type, version, origin class): a reload replaces.
            list.retain(|e| {
                !(e.resource_type == entry.resource_type && e.version == entry.version && e.origin == entry.origin)
            });
            list.push(entry.clone());
        }
        true
    }

    /// Forgets a resource stored through the REST API (after delete).
    pub fn remove_server(&self, id: &str, resource_type: &str) {
        let mut map = self.by_url.write().unwrap_or_else(|p| p.into_inner());
        let origin = Origin::Server(id.to_owned());
        for list in map.values_mut() {
            list.retain(|e| !(e.origin == origin && e.resource_type == resource_type));
        }
        map.retain(|_, list| !list.is_empty());
    }

    /// Resolves `url` or `url|version` to a resource of the given type
    /// (`None` for any type). The version may be exact or a `major.minor`
    /// prefix; without one the latest version wins. Among equal versions the
    /// highest [`Origin`] wins.
    pub fn resolve_entry(&self, resource_type: Option<&str>, canonical: &str) -> Option<Arc<Entry>> {
        let (url, version) = split_canonical(canonical);
        let map = self.by_url.read().unwrap_or_else(|p| p.into_inner());
        let list = map.get(url)?;
        list.iter()
            .filter(|e| resource_type.is_none_or(|t| e.resource_type == t))
            .filter(|e| version.is_none_or(|v| version_matches(e.version.as_deref(), v)))
            .max_by(|a, b| {
                compare_versions(a.version.as_deref(), b.version.as_deref()).then_with(|| a.origin.cmp(&b.origin))
            })
            .cloned()
    }

    /// [`Self::resolve_entry`], parsed.
    pub fn resolve(&self, resource_type: Option<&str>, canonical: &str) -> Option<Arc<Value>> {
        self.resolve_entry(resource_type, canonical)?.resource()
    }

    pub fn structure_definition(&self, canonical: &str) -> Option<Arc<Value>> {
        self.resolve(Some("StructureDefinition"), canonical)
    }

    pub fn value_set(&self, canonical: &str) -> Option<Arc<Value>> {
        self.resolve(Some("ValueSet"), canonical)
    }

    pub fn code_system(&self, canonical: &str) -> Option<Arc<Value>> {
        self.resolve(Some("CodeSystem"), canonical)
    }

    pub fn concept_map(&self, canonical: &str) -> Option<Arc<Value>> {
        self.resolve(Some("ConceptMap"), canonical)
    }

    /// Every registered entry of a type (all versions, all origins), in no
    /// particular order.
    pub fn entries(&self, resource_type: &str) -> Vec<Arc<Entry>> {
        let map = self.by_url.read().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        map.values()
            .flatten()
            .filter(|e| e.resource_type == resource_type)
            .filter(|e| seen.insert(Arc::as_ptr(e)))
            .cloned()
            .collect()
    }

    /// How many entries of each type came from each origin.
    pub fn counts(&self) -> HashMap<(Origin, String), usize> {
        let map = self.by_url.read().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        let mut counts = HashMap::new();
        for e in map.values().flatten().filter(|e| seen.insert(Arc::as_ptr(e))) {
            *counts.entry((e.origin.clone(), e.resource_type.clone())).or_insert(0) += 1;
        }
        counts
    }
}

/// `url|version` → (`url`, `Some(version)`); a fragment (`#id`) stays on the URL.
pub fn split_canonical(canonical: &str) -> (&str, Option<&str>) {
    match canonical.split_once('|') {
        Some((url, version)) if !version.is_empty() => (url, Some(version)),
        Some((url, _)) => (url, None),
        None => (canonical, None),
    }
}

/// Exact, or `wanted` is a dotted prefix (`1.1` matches `1.1.0`, `1.1.3`).
fn version_matches(have: Option<&str>, wanted: &str) -> bool {
    let Some(have) = have else { return false };
    have == wanted
        || have
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
}

/// Orders versions as semver-like dotted numbers where they are numeric, as
/// text otherwise; a missing version sorts first.
pub(crate) fn compare_versions(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => {
            let mut left = a.split(['.', '-']);
            let mut right = b.split(['.', '-']);
            loop {
                match (left.next(), right.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Greater, // 1.0 > 1.0-ballot
                    (Some(_), None) => return Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            _ => x.cmp(y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vs(url: &str, version: &str, name: &str) -> String {
        json!({"resourceType": "ValueSet", "url": url, "version": version, "name": name}).to_string()
    }

    #[test]
    fn resolves_exact_latest_and_major_minor_versions() {
        let r = CanonicalRegistry::new();
        for v in ["1.0.0", "1.1.0", "1.1.2", "2.0.0", "1.10.0"] {
            r.insert_json(&vs("http://x/vs", v, v), Origin::Package(format!("p#{v}")))
                .unwrap();
        }
        let version = |c: &str| r.resolve_entry(Some("ValueSet"), c).and_then(|e| e.version.clone());
        assert_eq!(version("http://x/vs").as_deref(), Some("2.0.0"));
        assert_eq!(version("http://x/vs|1.1.0").as_deref(), Some("1.1.0"));
        assert_eq!(version("http://x/vs|1.1").as_deref(), Some("1.1.2"));
        assert_eq!(version("http://x/vs|1").as_deref(), Some("1.10.0"));
        assert_eq!(version("http://x/vs|3"), None);
        assert!(r.resolve(Some("CodeSystem"), "http://x/vs").is_none());
    }

    #[test]
    fn a_fork_shares_what_exists_and_keeps_later_additions_apart() {
        let r = CanonicalRegistry::new();
        r.insert_json(&vs("http://x/a", "1", "a"), Origin::Base).unwrap();
        let fork = r.fork();
        fork.insert_json(&vs("http://x/b", "1", "b"), Origin::Package("case#1".into()))
            .unwrap();
        r.insert_json(&vs("http://x/c", "1", "c"), Origin::Base).unwrap();
        assert!(fork.value_set("http://x/a").is_some());
        assert!(fork.value_set("http://x/b").is_some() && r.value_set("http://x/b").is_none());
        assert!(r.value_set("http://x/c").is_some() && fork.value_set("http://x/c").is_none());
    }

    #[test]
    fn server_copies_win_over_packages_and_can_be_removed() {
        let r = CanonicalRegistry::new();
        r.insert_json(&vs("http://x/vs", "1", "pkg"), Origin::Package("p#1".into()))
            .unwrap();
        r.insert_json(&vs("http://x/vs", "1", "srv"), Origin::Server("abc".into()))
            .unwrap();
        assert_eq!(r.value_set("http://x/vs").unwrap()["name"], "srv");
        r.remove_server("abc", "ValueSet");
        assert_eq!(r.value_set("http://x/vs").unwrap()["name"], "pkg");
    }

    #[test]
    fn ignores_non_conformance_resources_and_finds_naming_system_aliases() {
        let r = CanonicalRegistry::new();
        let patient = json!({"resourceType": "Patient", "url": "http://x"}).to_string();
        assert!(!r.insert_json(&patient, Origin::Base).unwrap());
        let ns = json!({"resourceType": "NamingSystem", "url": "http://x/ns", "name": "cpf",
            "uniqueId": [{"type": "uri", "value": "urn:oid:2.16.840.1.113883.13.237"}]});
        assert!(r.insert_json(&ns.to_string(), Origin::Base).unwrap());
        assert_eq!(
            r.resolve(None, "urn:oid:2.16.840.1.113883.13.237").unwrap()["name"],
            "cpf"
        );
    }

    #[test]
    fn an_r4_naming_system_is_found_by_its_cross_version_url_and_its_ids() {
        let r = CanonicalRegistry::new();
        let ns = json!({"resourceType": "NamingSystem", "name": "CDCREC",
            "extension": [
                {"url": NAMING_SYSTEM_URL, "valueUri": "http://terminology.hl7.org/NamingSystem/CDCREC"},
                {"url": NAMING_SYSTEM_VERSION, "valueString": "3.0.1"}],
            "uniqueId": [{"type": "oid", "value": "2.16.840.1.113883.6.238"},
                         {"type": "uri", "value": "http://terminology.hl7.org/CodeSystem/PHRaceAndEthnicityCDC"}]});
        assert!(r.insert_json(&ns.to_string(), Origin::Base).unwrap());
        let canonical = "http://terminology.hl7.org/NamingSystem/CDCREC|3.0.1";
        let entry = r.resolve_entry(Some("NamingSystem"), canonical).unwrap();
        assert_eq!(entry.name.as_deref(), Some("CDCREC"));
        for alias in [
            "urn:oid:2.16.840.1.113883.6.238",
            "http://terminology.hl7.org/CodeSystem/PHRaceAndEthnicityCDC",
        ] {
            assert!(r.resolve(Some("NamingSystem"), alias).is_some(), "{alias}");
        }
        let no_url = json!({"resourceType": "NamingSystem", "name": "x",
            "uniqueId": [{"type": "uri", "value": "http://example.org/ids"}]});
        assert!(r.insert_json(&no_url.to_string(), Origin::Base).unwrap());
        assert!(r.resolve(Some("NamingSystem"), "http://example.org/ids").is_some());
    }
}
