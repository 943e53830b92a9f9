//! The walk that pairs an instance with a profile's elements and collects
//! every coded value under a binding.
//!
//! Each JSON property is matched to its element (choice elements by type
//! suffix: `valueCodeableConcept` → `value[x]` as CodeableConcept); each
//! array item to the slice it matches, else to the sliced element. Where the
//! profile says nothing below an element (a datatype left unconstrained, an
//! extension slice, a `contentReference`), the walk goes on in the element's
//! type profile — for an extension, the definition its `url` names — or in
//! the base definition of its type, so bindings of datatypes
//! (`HumanName.use`) and extensions are found too. Resources inside
//! resources (`contained`, `Bundle.entry.resource`) are left to the caller,
//! who knows which profiles apply to them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::tree::{Node, Tree};
use super::{check, BoundValue, CodedValue, Outcome, Strength};
use crate::packages::CanonicalRegistry;
use crate::terminology::TerminologyService;

const BASE: &str = "http://hl7.org/fhir/StructureDefinition/";

/// Finds bound coded values; keeps each definition's tree once built. The
/// terminology service decides slices discriminated by a binding.
pub struct BindingFinder<'r> {
    svc: &'r TerminologyService,
    registry: &'r CanonicalRegistry,
    trees: Mutex<HashMap<String, Option<Arc<Tree>>>>,
}

/// A place in a definition: the tree and one of its nodes.
type Place = (Arc<Tree>, usize);

impl<'r> BindingFinder<'r> {
    pub fn new(svc: &'r TerminologyService) -> Self {
        BindingFinder {
            svc,
            registry: svc.registry(),
            trees: Mutex::new(HashMap::new()),
        }
    }

    pub fn registry(&self) -> &CanonicalRegistry {
        self.registry
    }

    /// The definition's tree; `None` when it is unknown or has no snapshot.
    pub(super) fn tree(&self, canonical: &str) -> Option<Arc<Tree>> {
        let mut trees = self.trees.lock().unwrap_or_else(|p| p.into_inner());
        trees
            .entry(canonical.to_owned())
            .or_insert_with(|| {
                let definition = self.registry.structure_definition(canonical)?;
                Tree::from_definition(&definition).map(Arc::new)
            })
            .clone()
    }

    /// Every value of `instance` under a binding of the profile `profile`
    /// (a canonical, `url` or `url|version`), located from `location` (the
    /// resource type for a resource on its own, `Bundle.entry[2].resource`
    /// for one inside a Bundle). Empty when the profile is not known.
    pub fn bound_values(&self, instance: &Value, profile: &str, location: &str) -> Vec<BoundValue> {
        let mut out = Vec::new();
        if let Some(tree) = self.tree(profile) {
            self.visit(&tree, 0, instance, None, location, &mut out);
        }
        out
    }

    fn visit(
        &self,
        tree: &Arc<Tree>,
        at: usize,
        value: &Value,
        kind: Option<&str>,
        location: &str,
        out: &mut Vec<BoundValue>,
    ) {
        let node = tree.node(at);
        out.extend(bound(tree, node, value, kind, location));
        let Value::Object(map) = value else { return };
        let Some((tree, at)) = self.inside(tree, at, value, kind) else {
            return;
        };
        for (key, child_value) in map {
            if key == "resourceType" || key.starts_with('_') {
                continue;
            }
            let Some((child, child_kind)) = child_for(&tree, at, key) else {
                continue; // not in the definition: the structural validator's business
            };
            if tree.node(child).type_codes().any(|t| t == "Resource") {
                continue;
            }
            let kind = child_kind.as_deref();
            let mut each = |item: &Value, location: String| {
                let slot = self.pick_slice(&tree, child, item, kind, None);
                self.visit(&tree, slot, item, kind, &location, out);
            };
            match child_value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        each(item, format!("{location}.{key}[{i}]"));
                    }
                }
                single => each(single, format!("{location}.{key}")),
            }
        }
    }

    /// The place whose children describe what is inside `value` at `at`:
    /// the element itself when the profile lists children, else (see the
    /// module docs) the root of its type's definition. `value` is only read
    /// for an extension's `url`; pass `Null` to follow the declared type.
    fn inside(&self, tree: &Arc<Tree>, at: usize, value: &Value, kind: Option<&str>) -> Option<Place> {
        let node = tree.node(at);
        if !node.children.is_empty() {
            return Some((tree.clone(), at));
        }
        if let Some(target) = node.str("contentReference") {
            let id = target.rsplit('#').next().unwrap_or(target);
            return tree.find(id).map(|found| (tree.clone(), found));
        }
        let kind = kind.or_else(|| single_type(node))?;
        if kind.starts_with(|c: char| c.is_ascii_lowercase()) {
            return None; // a primitive: nothing inside but extensions
        }
        let own_url = (kind == "Extension")
            .then(|| value.get("url").and_then(Value::as_str))
            .flatten();
        let definition = own_url
            .and_then(|url| self.tree(url))
            .or_else(|| node.type_profile(kind).and_then(|p| self.tree(p)))
            .or_else(|| self.tree(&format!("{BASE}{kind}")))?;
        (!definition.node(0).children.is_empty()).then_some((definition, 0))
    }

    /// The (re-)slice of the element at `at` that `item` belongs to, or `at`
    /// itself when it matches none. Discriminators come from the sliced
    /// element (a re-slice may declare its own).
    fn pick_slice(
        &self,
        tree: &Arc<Tree>,
        at: usize,
        item: &Value,
        kind: Option<&str>,
        inherited: Option<&Value>,
    ) -> usize {
        let node = tree.node(at);
        let discriminators = node.element.pointer("/slicing/discriminator").or(inherited);
        let Some(list) = discriminators.and_then(Value::as_array) else {
            return at;
        };
        let matched = node.slices.iter().copied().find(|&slice| {
            list.iter()
                .all(|d| self.discriminator_holds(tree, slice, item, kind, d))
        });
        match matched {
            Some(slice) => self.pick_slice(tree, slice, item, kind, discriminators),
            None => at,
        }
    }

    /// Whether `item` meets one discriminator of `slice`. Discriminators
    /// this walk cannot evaluate (`profile`, paths through `resolve()` or
    /// `extension(…)`, elements the definitions do not reach) hold: a
    /// binding finder may take a wrong slice there, never lose a value.
    fn discriminator_holds(&self, tree: &Arc<Tree>, slice: usize, item: &Value, kind: Option<&str>, d: &Value) -> bool {
        let kind_of = d.get("type").and_then(Value::as_str).unwrap_or("value");
        let path = d.get("path").and_then(Value::as_str).unwrap_or("$this");
        if ["resolve(", "extension(", "ofType(", "("]
            .iter()
            .any(|f| path.contains(f))
        {
            return true;
        }
        let steps: Vec<&str> = path.split('.').filter(|s| *s != "$this").collect();
        let target = self.descend(tree, slice, &steps);
        let found = values_at(item, &steps);
        match kind_of {
            "value" | "pattern" => {
                if let Some((t, at)) = target
                    .as_ref()
                    .filter(|(t, at)| t.node(*at).fixed_or_pattern().is_none())
                {
                    if let Some(holds) = self.in_required_binding(t.node(*at), &found) {
                        return holds;
                    }
                }
                let expected = match &target {
                    Some((t, at)) => t.node(*at).fixed_or_pattern().cloned(),
                    None => None,
                };
                // An extension slice whose definition is not loaded: its
                // url is the type profile.
                let expected = expected.or_else(|| {
                    (steps == ["url"])
                        .then(|| tree.node(slice).type_profile("Extension"))
                        .flatten()
                        .map(|p| Value::String(p.to_owned()))
                });
                expected.is_none_or(|e| found.iter().any(|v| covers(v, &e)))
            }
            "exists" => match &target {
                Some((t, at)) if t.node(*at).max_is_zero() => found.is_empty(),
                Some((t, at)) if t.node(*at).min() >= 1 => !found.is_empty(),
                _ => true,
            },
            "type" => {
                let actual = match steps.split_last() {
                    None => kind.map(str::to_owned).or_else(|| resource_type(item)),
                    Some((last, parents)) => choice_type(&values_at(item, parents), last),
                };
                let expected = match &steps[..] {
                    [] => Some((tree.clone(), slice)),
                    _ => target,
                };
                match (actual, expected) {
                    (Some(actual), Some((t, at))) => t.node(at).type_codes().any(|c| same_type(c, &actual)),
                    _ => true,
                }
            }
            _ => true,
        }
    }

    /// For a value discriminator on an element with a required binding and
    /// no fixed or pattern value (US Core's Condition.category slices): is a
    /// value in the value set? `None` when no value can be checked here.
    fn in_required_binding(&self, node: &Node, found: &[&Value]) -> Option<bool> {
        let binding = node.element.get("binding")?;
        if binding.get("strength").and_then(Value::as_str) != Some("required") {
            return None;
        }
        let kind = single_type(node)?;
        let answers = found
            .iter()
            .filter_map(|v| bound(&Tree::empty(), node, v, Some(kind), ""))
            .map(|b| check(self.svc, b).outcome);
        let mut checkable = false;
        for outcome in answers {
            match outcome {
                Outcome::Valid => return Some(true),
                Outcome::Invalid(_) | Outcome::NoCode => checkable = true,
                _ => {}
            }
        }
        checkable.then_some(false)
    }

    /// The element `steps` below `at`, diving into type definitions where
    /// the profile lists no children.
    fn descend(&self, tree: &Arc<Tree>, at: usize, steps: &[&str]) -> Option<Place> {
        let mut place = (tree.clone(), at);
        for step in steps {
            let (t, inner) = self.inside(&place.0, place.1, &Value::Null, None)?;
            let (child, _) = child_for(&t, inner, step)?;
            place = (t, child);
        }
        Some(place)
    }
}

/// The child element of `at` a JSON property names, with the type a choice
/// property carries (`valueQuantity` → `Quantity`) or the element's single
/// type.
pub(crate) fn child_for(tree: &Tree, at: usize, key: &str) -> Option<(usize, Option<String>)> {
    for &child in &tree.node(at).children {
        let node = tree.node(child);
        if node.name == key || node.name.strip_suffix("[x]") == Some(key) {
            return Some((child, single_type(node).map(str::to_owned)));
        }
        let Some(prefix) = node.name.strip_suffix("[x]") else {
            continue;
        };
        let Some(suffix) = key.strip_prefix(prefix) else {
            continue;
        };
        if let Some(code) = node.type_codes().find(|c| same_type(c, suffix)) {
            return Some((child, Some(code.to_owned())));
        }
    }
    None
}

fn single_type(node: &Node) -> Option<&str> {
    let mut codes = node.type_codes();
    let first = codes.next()?;
    codes.next().is_none().then_some(first)
}

/// `dateTime` is written `DateTime` in `valueDateTime`.
pub(crate) fn same_type(code: &str, written: &str) -> bool {
    let mut chars = code.chars();
    code == written
        || chars
            .next()
            .is_some_and(|c| written.starts_with(c.to_ascii_uppercase()) && written[1..] == *chars.as_str())
}

fn resource_type(item: &Value) -> Option<String> {
    item.get("resourceType").and_then(Value::as_str).map(str::to_owned)
}

/// The type of the choice property `step` (`value` or `value[x]`) present
/// in one of `values`.
fn choice_type(values: &[&Value], step: &str) -> Option<String> {
    let prefix = step.strip_suffix("[x]").unwrap_or(step);
    values.iter().filter_map(|v| v.as_object()).find_map(|map| {
        map.keys()
            .find_map(|k| {
                k.strip_prefix(prefix)
                    .filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
            })
            .map(str::to_owned)
    })
}

/// The values at a path of property names in `item`, arrays flattened; a
/// `name[x]` step takes any `nameType` property.
pub(crate) fn values_at<'v>(item: &'v Value, steps: &[&str]) -> Vec<&'v Value> {
    let mut current = vec![item];
    for step in steps {
        let mut next = Vec::new();
        for value in current {
            let Some(map) = value.as_object() else { continue };
            let found: Vec<&Value> = match step.strip_suffix("[x]") {
                Some(prefix) => map
                    .iter()
                    .filter(|(k, _)| {
                        k.strip_prefix(prefix)
                            .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
                    })
                    .map(|(_, v)| v)
                    .collect(),
                None => map.get(*step).into_iter().collect(),
            };
            for v in found {
                match v {
                    Value::Array(items) => next.extend(items),
                    other => next.push(other),
                }
            }
        }
        current = next;
    }
    current
}

/// Whether `actual` has everything `pattern` has (FHIR pattern matching:
/// objects by their pattern's properties, arrays item by item in any order).
pub(crate) fn covers(actual: &Value, pattern: &Value) -> bool {
    match (actual, pattern) {
        (Value::Object(a), Value::Object(p)) => p.iter().all(|(k, pv)| a.get(k).is_some_and(|av| covers(av, pv))),
        (Value::Array(a), Value::Array(p)) => p.iter().all(|pv| a.iter().any(|av| covers(av, pv))),
        (Value::Array(a), p) => a.iter().any(|av| covers(av, p)),
        (a, p) => a == p,
    }
}

/// The value at `at` when the element carries a binding and a coded type.
pub(crate) fn bound(tree: &Tree, node: &Node, value: &Value, kind: Option<&str>, location: &str) -> Option<BoundValue> {
    let binding = node.element.get("binding")?;
    let value_set = binding.get("valueSet").and_then(Value::as_str)?;
    let strength = Strength::parse(binding.get("strength").and_then(Value::as_str)?)?;
    let kind = kind.or_else(|| single_type(node))?;
    let coded = match kind {
        "code" => CodedValue::Code(value.as_str()?.to_owned()),
        "Coding" => CodedValue::Coding(value.clone()),
        "CodeableConcept" => CodedValue::CodeableConcept(value.clone()),
        "Quantity" | "SimpleQuantity" | "Age" | "Duration" | "Distance" | "Count" | "MoneyQuantity" => {
            value.get("code")?;
            CodedValue::Quantity(value.clone())
        }
        "string" | "uri" | "url" | "canonical" => CodedValue::Text(value.as_str()?.to_owned()),
        _ => return None,
    };
    Some(BoundValue {
        location: location.to_owned(),
        profile: tree.url.clone(),
        element_id: node.str("id").unwrap_or(&node.name).to_owned(),
        strength,
        value_set: value_set.to_owned(),
        value: coded,
    })
}
