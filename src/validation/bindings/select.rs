//! Which profiles an instance is checked against.
//!
//! Its `meta.profile` entries that the registry knows. Without any, the
//! candidates the caller offers (an IG's profiles, for its examples) of the
//! instance's type: those whose top-level `fixed[x]` / `pattern[x]` values
//! and required pattern slices the instance meets, the one meeting most of
//! them winning (ties: the first candidate in order). A candidate with no
//! such constraints qualifies with score 0, so a specific profile beats the
//! IG's general one. With no candidate of the type, the base definition of
//! the type, so core bindings are still checked.

use serde_json::Value;

use super::tree::Tree;
use super::BindingFinder;
use crate::validation::profile::json::covers;

const BASE: &str = "http://hl7.org/fhir/StructureDefinition/";

impl BindingFinder<'_> {
    /// The canonicals of the profiles that apply to `resource` (see the
    /// module docs); empty only when even its type is not known.
    pub fn profiles_for(&self, resource: &Value, candidates: &[String]) -> Vec<String> {
        let Some(kind) = resource.get("resourceType").and_then(Value::as_str) else {
            return Vec::new();
        };
        let declared: Vec<String> = resource
            .pointer("/meta/profile")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|p| self.tree(p).is_some())
            .map(str::to_owned)
            .collect();
        if !declared.is_empty() {
            return declared;
        }
        let mut best: Option<(usize, &String)> = None;
        for url in candidates {
            let Some(tree) = self.tree(url) else { continue };
            if tree.tree.node(0).name != kind {
                continue;
            }
            if let Some(score) = score(&tree.tree, resource) {
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, url));
                }
            }
        }
        match best {
            Some((_, url)) => vec![url.clone()],
            None => {
                let base = format!("{BASE}{kind}");
                self.tree(&base).map(|_| base).into_iter().collect()
            }
        }
    }
}

/// How many of the profile's top-level fixed / pattern constraints the
/// resource meets; `None` when it breaks one.
fn score(tree: &Tree, resource: &Value) -> Option<usize> {
    let mut score = 0;
    for &child in &tree.node(0).children {
        let node = tree.node(child);
        let values: Vec<&Value> = match resource.get(&node.name) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        if let Some(pattern) = node.fixed_or_pattern() {
            if !values.iter().any(|v| covers(v, pattern)) {
                return None; // absent or different: either way not this profile
            }
            score += 1;
        }
        for &slice in &node.slices {
            let slice = tree.node(slice);
            let Some(pattern) = slice.fixed_or_pattern().filter(|_| slice.min() >= 1) else {
                continue;
            };
            if !values.iter().any(|v| covers(v, pattern)) {
                return None;
            }
            score += 1;
        }
    }
    Some(score)
}
