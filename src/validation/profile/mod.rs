//! Profile validation (issue 6): whether a resource meets the
//! StructureDefinitions that apply to it — its base definition, the
//! profiles it declares in `meta.profile`, and any the caller names —
//! found in the canonical registry with their snapshots.
//!
//! [`ProfileValidator::validate`] is the one entry point used by
//! `$validate`, validation on write and `ipe validate`. It checks, in one
//! walk per profile (see `docs/validation.md`): element existence and
//! cardinality, types and choice types, primitive formats and lengths,
//! fixed / pattern / min / max values, bindings, slicing, extensions,
//! invariants, references, contained resources and Bundle entries, and
//! narrative content. The walk covers what the structural (JSON schema)
//! validator checks too, located the same way, so a caller needs only one
//! of them.
//!
//! # Layout
//!
//! - `definition`: a StructureDefinition compiled once (rules per element,
//!   invariants compiled), cached here while the registry keeps the same
//!   version;
//! - `walk`: the walk — properties to elements, arrays, cardinality,
//!   nested resources;
//! - `slicing`, `primitive`, `values`, `extensions`, `references`,
//!   `invariants`, `xhtml`, `bundle`: the checks the walk makes.

mod bundle;
mod definition;
mod extensions;
mod invariants;
mod primitive;
mod references;
mod slicing;
mod values;
mod walk;
mod xhtml;

#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod package_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::outcome::{Issue, Severity};
use crate::packages::registry::Entry;
use crate::packages::CanonicalRegistry;
use crate::terminology::TerminologyService;

use definition::Definition;
use walk::Walker;

const BASE: &str = "http://hl7.org/fhir/StructureDefinition/";

/// A compiled definition and the registry entry it was compiled from.
type Cached = (Option<Arc<Entry>>, Option<Arc<Definition>>);

/// Validates instances against profiles from the canonical registry. Share
/// one per server: compiled definitions are kept between calls.
pub struct ProfileValidator {
    terminology: Arc<TerminologyService>,
    definitions: RwLock<HashMap<String, Cached>>,
    /// How an extension whose definition is not known is reported.
    unknown_extensions: Severity,
}

impl ProfileValidator {
    pub fn new(terminology: Arc<TerminologyService>) -> Self {
        ProfileValidator {
            terminology,
            definitions: RwLock::new(HashMap::new()),
            unknown_extensions: Severity::Error,
        }
    }

    /// How an extension whose definition the registry does not hold is
    /// reported: an error by default (the Java validator's "could not be
    /// found, so it is not allowed here"); a warning where instances may
    /// carry extensions of packages the server does not load.
    pub fn with_unknown_extensions(mut self, severity: Severity) -> Self {
        self.unknown_extensions = severity;
        self
    }

    pub fn registry(&self) -> &CanonicalRegistry {
        self.terminology.registry()
    }

    pub fn terminology(&self) -> &TerminologyService {
        &self.terminology
    }

    /// Checks `resource` against its base definition, each profile in its
    /// `meta.profile`, and each of `profiles` (canonicals, `url` or
    /// `url|version`). A profile the registry does not know is reported
    /// with severity `unknown_profile` (deployment policy: error or
    /// warning). Issues are located by FHIRPath from the resource type.
    pub fn validate(&self, resource: &Value, profiles: &[String], unknown_profile: Severity) -> Vec<Issue> {
        let kind = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource");
        self.validate_at(resource, profiles, unknown_profile, kind)
    }

    /// [`Self::validate`] with issues located from `location` (e.g.
    /// `Bundle.entry[2].resource` for a resource checked on its own).
    pub fn validate_at(
        &self,
        resource: &Value,
        profiles: &[String],
        unknown_profile: Severity,
        location: &str,
    ) -> Vec<Issue> {
        let mut walker = Walker::new(self, unknown_profile);
        if resource.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
            walker.bundle = Some(resource);
        }
        walker.resource(resource, location, profiles, None);
        dedupe(walker.issues)
    }

    /// The compiled definition of a canonical; `None` when the registry
    /// does not know it or it has no snapshot. Recompiled when the registry
    /// now resolves the canonical to another entry.
    fn definition(&self, canonical: &str) -> Option<Arc<Definition>> {
        let entry = self.registry().resolve_entry(Some("StructureDefinition"), canonical);
        let same = |cached: &Option<Arc<Entry>>| match (cached, &entry) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        {
            let cache = self.definitions.read().unwrap_or_else(|p| p.into_inner());
            if let Some((cached, def)) = cache.get(canonical) {
                if same(cached) {
                    return def.clone();
                }
            }
        }
        let compiled = entry
            .as_ref()
            .and_then(|e| e.resource())
            .and_then(|sd| Definition::compile(&sd))
            .map(Arc::new);
        let mut cache = self.definitions.write().unwrap_or_else(|p| p.into_inner());
        cache.insert(canonical.to_owned(), (entry, compiled.clone()));
        compiled
    }
}

/// The same finding reached through two profiles (or twice through one
/// element seen as a slice and as itself) is reported once.
fn dedupe(issues: Vec<Issue>) -> Vec<Issue> {
    let mut out: Vec<Issue> = Vec::with_capacity(issues.len());
    for issue in issues {
        if !out.contains(&issue) {
            out.push(issue);
        }
    }
    out
}
