//! Caches that notice when the registry changes.
//!
//! A cached value remembers every registry lookup it was computed from
//! ([`Deps`]: type, canonical, and the entry found — or that none was). On a
//! hit each lookup is repeated and compared by entry identity, so a ValueSet
//! or CodeSystem PUT through the REST API (a new `Arc<Entry>`), a removal, or
//! a resource that appears where there was none all make the value stale
//! without anyone having to say so. [`Cache::clear`] (through
//! `TerminologyService::invalidate`) drops everything, e.g. after loading
//! LOINC or SNOMED CT.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::packages::registry::{CanonicalRegistry, Entry};

/// Past this many values a cache starts over (values are cheap to rebuild,
/// memory is not free).
const MAX_ENTRIES: usize = 20_000;

#[derive(Debug, Clone)]
struct Dep {
    resource_type: &'static str,
    canonical: String,
    entry: Option<Arc<Entry>>,
}

/// The registry lookups a computed value depends on.
#[derive(Debug, Clone, Default)]
pub struct Deps(Vec<Dep>);

impl Deps {
    /// Looks `canonical` up and remembers the answer.
    pub fn resolve(
        &mut self,
        registry: &CanonicalRegistry,
        resource_type: &'static str,
        canonical: &str,
    ) -> Option<Arc<Entry>> {
        let entry = registry.resolve_entry(Some(resource_type), canonical);
        if !self
            .0
            .iter()
            .any(|d| d.resource_type == resource_type && d.canonical == canonical)
        {
            self.0.push(Dep {
                resource_type,
                canonical: canonical.to_owned(),
                entry: entry.clone(),
            });
        }
        entry
    }

    pub fn extend(&mut self, other: &Deps) {
        for d in &other.0 {
            if !self
                .0
                .iter()
                .any(|e| e.resource_type == d.resource_type && e.canonical == d.canonical)
            {
                self.0.push(d.clone());
            }
        }
    }

    /// Whether every lookup still finds the same entry.
    pub fn fresh(&self, registry: &CanonicalRegistry) -> bool {
        self.0.iter().all(|d| {
            let now = registry.resolve_entry(Some(d.resource_type), &d.canonical);
            match (&now, &d.entry) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
        })
    }
}

/// A cached value and what it was computed from.
pub struct Slot<T> {
    generation: u64,
    pub deps: Deps,
    pub value: T,
}

/// A map of computed values, each valid while its [`Deps`] are fresh and the
/// cache has not been cleared since it was computed.
pub struct Cache<T> {
    generation: AtomicU64,
    map: RwLock<HashMap<String, Arc<Slot<T>>>>,
}

impl<T: Clone> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            generation: AtomicU64::new(0),
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Cache<T> {
    /// The generation to pass to [`Self::put`] for a value about to be computed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str, registry: &CanonicalRegistry) -> Option<Arc<Slot<T>>> {
        let slot = self.map.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()?;
        (slot.generation == self.generation() && slot.deps.fresh(registry)).then_some(slot)
    }

    /// Stores a value computed since `generation` was read (dropped if the
    /// cache was cleared meanwhile).
    pub fn put(&self, key: String, generation: u64, deps: Deps, value: T) {
        if generation != self.generation() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key,
            Arc::new(Slot {
                generation,
                deps,
                value,
            }),
        );
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::registry::Origin;
    use serde_json::json;

    #[test]
    fn a_replaced_or_new_resource_makes_cached_values_stale() {
        let registry = CanonicalRegistry::new();
        let vs = |name: &str| json!({"resourceType": "ValueSet", "url": "http://x/vs", "name": name}).to_string();
        registry.insert_json(&vs("a"), Origin::Package("p#1".into())).unwrap();
        let cache: Cache<u32> = Cache::default();
        let mut deps = Deps::default();
        deps.resolve(&registry, "ValueSet", "http://x/vs");
        deps.resolve(&registry, "CodeSystem", "http://x/cs");
        cache.put("k".into(), cache.generation(), deps, 1);
        assert!(cache.get("k", &registry).is_some());
        registry.insert_json(&vs("b"), Origin::Server("1".into())).unwrap();
        assert!(cache.get("k", &registry).is_none(), "a PUT ValueSet must be seen");

        let mut deps = Deps::default();
        deps.resolve(&registry, "CodeSystem", "http://x/cs");
        cache.put("k".into(), cache.generation(), deps, 2);
        let cs = json!({"resourceType": "CodeSystem", "url": "http://x/cs"}).to_string();
        registry.insert_json(&cs, Origin::Server("2".into())).unwrap();
        assert!(
            cache.get("k", &registry).is_none(),
            "a code system that appears must be seen"
        );
    }

    #[test]
    fn clear_drops_values_computed_before_it() {
        let registry = CanonicalRegistry::new();
        let cache: Cache<u32> = Cache::default();
        let before = cache.generation();
        cache.clear();
        cache.put("k".into(), before, Deps::default(), 1);
        assert!(cache.get("k", &registry).is_none());
    }
}
