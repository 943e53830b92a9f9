//! The registry the server runs with: the base R4 parameters plus the
//! SearchParameters stored on it, swapped whole when one of those changes
//! (`crate::reindex` builds the new one). Readers take a snapshot
//! ([`LiveRegistry::current`]) and keep it for the whole request, so a
//! search is planned and a resource indexed against one consistent registry.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::Registry;

#[derive(Debug)]
pub struct LiveRegistry {
    current: RwLock<Arc<Registry>>,
    /// Set when stored SearchParameters changed; the refresher
    /// (`crate::reindex`) rebuilds once for any number of changes.
    pub refresh_wanted: tokio::sync::Notify,
    /// code → resource types, of parameters whose rows for resources
    /// written before they were defined are still being written. Every
    /// search asks; keyed so that asking allocates nothing.
    reindexing: RwLock<HashMap<String, HashSet<String>>>,
}

impl Default for LiveRegistry {
    /// The base R4 parameters only.
    fn default() -> Self {
        LiveRegistry {
            current: RwLock::new(Registry::r4_arc()),
            refresh_wanted: tokio::sync::Notify::new(),
            reindexing: RwLock::new(HashMap::new()),
        }
    }
}

impl LiveRegistry {
    pub fn current(&self) -> Arc<Registry> {
        // A poisoned lock still holds a whole registry (writers only swap
        // the Arc), so it is used as is.
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, registry: Registry) {
        let registry = Arc::new(registry);
        match self.current.write() {
            Ok(mut guard) => *guard = registry,
            Err(poisoned) => *poisoned.into_inner() = registry,
        }
    }

    /// Marks the parameter `code` of each of `types` as being reindexed
    /// (`true`) or done (`false`).
    pub fn set_reindexing(&self, types: &[String], code: &str, on: bool) {
        let mut map = match self.reindexing.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if on {
            map.entry(code.to_owned()).or_default().extend(types.iter().cloned());
        } else if let Some(set) = map.get_mut(code) {
            for t in types {
                set.remove(t);
            }
            if set.is_empty() {
                map.remove(code);
            }
        }
    }

    /// Whether searches on `code` of `resource_type` may miss resources
    /// written before the parameter was defined.
    pub fn is_reindexing(&self, resource_type: &str, code: &str) -> bool {
        let map = match self.reindexing.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(code).is_some_and(|types| {
            [resource_type, "Resource", "DomainResource"]
                .iter()
                .any(|t| types.contains(*t))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reindexing_is_tracked_per_type_and_code() {
        let live = LiveRegistry::default();
        assert!(live.current().get("Patient", "family").is_some());
        live.set_reindexing(&["Patient".into()], "nickname", true);
        assert!(live.is_reindexing("Patient", "nickname"));
        assert!(!live.is_reindexing("Observation", "nickname"));
        live.set_reindexing(&["Resource".into()], "tagx", true);
        assert!(live.is_reindexing("Observation", "tagx"));
        live.set_reindexing(&["Patient".into()], "nickname", false);
        assert!(!live.is_reindexing("Patient", "nickname"));
    }
}
