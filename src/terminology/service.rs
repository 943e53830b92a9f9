//! [`TerminologyService`]: the registry's code systems and value sets made
//! usable — which source answers for a system, and cached expansions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::builtin::Builtin;
use super::cache::{Cache, Deps};
use super::codesystem::{CodeSystemIndex, Content};
use super::compose::{Composer, ExpandOptions};
use super::error::TerminologyError;
use super::expansion::Expansion;
use crate::clock::{Clock, SystemClock};
use crate::packages::registry::CanonicalRegistry;

/// Where the codes of a system come from.
#[derive(Debug, Clone)]
pub enum SystemSource {
    /// A CodeSystem resource with its concepts, or a loaded LOINC / SNOMED CT.
    Index(Arc<CodeSystemIndex>),
    /// UCUM, BCP-47 or MIME types, checked by grammar.
    Builtin(Builtin),
    /// A CodeSystem resource without concepts (`content` = not-present) and
    /// nothing loaded in its place; carries the reason.
    NotPresent(String),
    /// Nothing here knows the system; carries the reason.
    Unknown(String),
}

/// The terminology service over one [`CanonicalRegistry`]. Cheap to share
/// (`Arc`); every method takes `&self`.
pub struct TerminologyService {
    registry: Arc<CanonicalRegistry>,
    pub(crate) clock: Arc<dyn Clock>,
    local: RwLock<HashMap<String, Arc<CodeSystemIndex>>>,
    indexes: Cache<Arc<CodeSystemIndex>>,
    expansions: Cache<Arc<Expansion>>,
}

impl TerminologyService {
    pub fn new(registry: Arc<CanonicalRegistry>) -> Self {
        Self::with_clock(registry, Arc::new(SystemClock))
    }

    /// With an injected clock (the `expansion.timestamp`).
    pub fn with_clock(registry: Arc<CanonicalRegistry>, clock: Arc<dyn Clock>) -> Self {
        TerminologyService {
            registry,
            clock,
            local: RwLock::new(HashMap::new()),
            indexes: Cache::default(),
            expansions: Cache::default(),
        }
    }

    pub fn registry(&self) -> &CanonicalRegistry {
        &self.registry
    }

    /// Drops every cached index and expansion. Not needed for registry
    /// changes (caches notice those themselves); offered for callers that
    /// want memory back or changed something the caches cannot see.
    pub fn invalidate(&self) {
        self.indexes.clear();
        self.expansions.clear();
    }

    /// Makes a loaded code system (LOINC, SNOMED CT, see [`super::loaders`])
    /// available under its URL. It answers where the registry has no
    /// CodeSystem with concepts for that URL.
    pub fn add_code_system(&self, cs: CodeSystemIndex) {
        let mut local = self.local.write().unwrap_or_else(|p| p.into_inner());
        local.insert(cs.url.clone(), Arc::new(cs));
        drop(local);
        self.invalidate();
    }

    /// Which source answers for `system` (at `version`, if given), noting
    /// the registry lookup in `deps`.
    pub fn system(&self, system: &str, version: Option<&str>, deps: &mut Deps) -> SystemSource {
        let canonical = match version {
            Some(v) => format!("{system}|{v}"),
            None => system.to_owned(),
        };
        if let Some(slot) = self.indexes.get(&canonical, &self.registry) {
            deps.extend(&slot.deps);
            return SystemSource::Index(slot.value.clone());
        }
        let generation = self.indexes.generation();
        let mut own = Deps::default();
        let resource = own
            .resolve(&self.registry, "CodeSystem", &canonical)
            .and_then(|e| e.resource());
        deps.extend(&own);
        let content = resource
            .as_ref()
            .map(|r| r.get("content").and_then(Value::as_str).unwrap_or("complete"));
        if let (Some(r), Some(c)) = (&resource, content) {
            if c != "not-present" && c != "supplement" {
                let cs = Arc::new(CodeSystemIndex::from_json(r));
                self.indexes.put(canonical, generation, own, cs.clone());
                return SystemSource::Index(cs);
            }
        }
        if let Some(cs) = self.local_system(system, version) {
            return SystemSource::Index(cs);
        }
        if let Some(b) = Builtin::for_system(system) {
            return SystemSource::Builtin(b);
        }
        match (content, version) {
            (Some(c), _) => SystemSource::NotPresent(format!(
                "the CodeSystem resource has content '{c}' and no codes are loaded"
            )),
            (None, Some(v)) if self.registry.code_system(system).is_some() => {
                SystemSource::Unknown(format!("version '{v}' of the code system is not known"))
            }
            _ => SystemSource::Unknown("the code system is not known here".into()),
        }
    }

    fn local_system(&self, system: &str, version: Option<&str>) -> Option<Arc<CodeSystemIndex>> {
        let local = self.local.read().unwrap_or_else(|p| p.into_inner());
        let cs = local.get(system)?;
        version
            .is_none_or(|v| cs.version.as_deref().is_none_or(|have| have == v))
            .then(|| cs.clone())
    }

    /// The content of a value set known to the registry, cached.
    pub fn expansion(&self, canonical: &str) -> Result<Arc<Expansion>, TerminologyError> {
        if let Some(slot) = self.expansions.get(canonical, &self.registry) {
            return Ok(slot.value.clone());
        }
        self.expansion_in(canonical, &ExpandOptions::default(), Vec::new())
            .map(|(e, _)| e)
    }

    /// [`Self::expansion`] with options, from inside another evaluation
    /// (`stack` holds the value sets being evaluated around this one).
    pub fn expansion_in(
        &self,
        canonical: &str,
        options: &ExpandOptions,
        mut stack: Vec<String>,
    ) -> Result<(Arc<Expansion>, Deps), TerminologyError> {
        let key = options.key(canonical);
        if let Some(slot) = self.expansions.get(&key, &self.registry) {
            return Ok((slot.value.clone(), slot.deps.clone()));
        }
        let generation = self.expansions.generation();
        let mut deps = Deps::default();
        let Some(vs) = deps
            .resolve(&self.registry, "ValueSet", canonical)
            .and_then(|e| e.resource())
        else {
            return Err(TerminologyError::NotFound {
                kind: "ValueSet",
                canonical: canonical.to_owned(),
            });
        };
        stack.push(canonical.to_owned());
        let mut composer = Composer::new(self, options, stack);
        let expansion = Arc::new(composer.value_set(&vs)?);
        deps.extend(&composer.deps);
        self.expansions.put(key, generation, deps.clone(), expansion.clone());
        Ok((expansion, deps))
    }

    /// The content of a value set given as a resource (an inline `valueSet`
    /// parameter, or the instance of `ValueSet/{id}/$expand`). Served from
    /// the cache when it is the registry's copy of its `url|version`.
    pub fn expansion_of(&self, vs: &Value, options: &ExpandOptions) -> Result<Arc<Expansion>, TerminologyError> {
        if let Some(canonical) = canonical_of(vs) {
            let registered = self.registry.resolve(Some("ValueSet"), &canonical);
            if registered.is_some_and(|r| *r == *vs) {
                return self.expansion_in(&canonical, options, Vec::new()).map(|(e, _)| e);
            }
        }
        let stack = canonical_of(vs).into_iter().collect();
        Composer::new(self, options, stack).value_set(vs).map(Arc::new)
    }
}

/// `url|version` of a canonical resource (`url` alone without a version).
pub(crate) fn canonical_of(resource: &Value) -> Option<String> {
    let url = resource.get("url").and_then(Value::as_str)?;
    Some(match resource.get("version").and_then(Value::as_str) {
        Some(v) => format!("{url}|{v}"),
        None => url.to_owned(),
    })
}

impl Content {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Content::Complete => "complete",
            Content::Fragment => "fragment",
            Content::Example => "example",
            Content::NotPresent => "not-present",
            Content::Supplement => "supplement",
        }
    }
}
