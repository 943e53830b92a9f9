//! Slicing: which slice an item belongs to, by the sliced element's
//! discriminators (`value`, `pattern`, `type`, `profile`, `exists`), then
//! the slicing rules (`closed`, `openAtEnd`, `ordered`) and each slice's
//! cardinality. A re-slice (`a:s/t`) refines a match of its slice.
//!
//! The discriminator's path is read in the instance natively when it is
//! only property names (`code`, `url`, `$this`), else through FHIRPath
//! (`extension('…').value`, `resolve()`, `ofType(…)`); in the definition,
//! the same path is followed down the slice's elements to the one whose
//! fixed or pattern value, binding, types or profiles discriminate.

use std::sync::Arc;

use serde_json::Value;

use super::definition::{Definition, Discriminator, SlicingRules};
use super::references::resolve;
use super::walk::{child_for, Ctx, Item, Place, Walker};
use crate::fhirpath::{Env, Item as PathItem, Node};
use crate::outcome::IssueType;
use crate::validation::bindings::{covers, values_at};

impl<'v> Walker<'_, 'v> {
    /// The deepest (re-)slice of `at` that `item` matches, or `at`.
    pub(super) fn pick_slice(
        &mut self,
        def: &Arc<Definition>,
        at: usize,
        item: Item<'v>,
        kind: &str,
        path: &str,
        ctx: Ctx<'v>,
    ) -> usize {
        let mut current = at;
        let mut holder = at; // whose slicing applies (a re-slice may inherit)
        loop {
            if def.rule(current).slicing.is_some() {
                holder = current;
            }
            let Some(slicing) = &def.rule(holder).slicing else {
                return current;
            };
            let slices = def.tree.node(current).slices.clone();
            let matched = slices.into_iter().find(|&slice| {
                slicing
                    .discriminators
                    .iter()
                    .all(|d| self.discriminator_holds(def, slice, item, kind, d, path, ctx))
            });
            match matched {
                Some(slice) => current = slice,
                None => return current,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn discriminator_holds(
        &mut self,
        def: &Arc<Definition>,
        slice: usize,
        item: Item<'v>,
        kind: &str,
        d: &Discriminator,
        _path: &str,
        ctx: Ctx<'v>,
    ) -> bool {
        let Some(value) = item.value else {
            return false;
        };
        let found = self.discriminated(value, kind, d, ctx);
        let target = self.descend(def, slice, &d.path);
        match d.kind.as_str() {
            "value" | "pattern" => {
                let Some((t, at)) = target else { return false };
                let rule = t.rule(at);
                if let Some(fixed) = &rule.fixed {
                    return found.iter().any(|v| same_value(v, fixed));
                }
                if let Some(pattern) = &rule.pattern {
                    return found.iter().any(|v| covers(v, pattern));
                }
                // An extension slice known only by its type profile: its url.
                if d.path == "url" {
                    let url = def.rule(slice).type_ref("Extension").and_then(|t| t.profiles.first());
                    if let Some(url) = url {
                        return found.iter().any(|v| v.as_str() == Some(url.as_str()));
                    }
                }
                self.in_required_binding(&t, at, &found).unwrap_or(false)
            }
            "exists" => match target {
                Some((t, at)) if t.rule(at).max == Some(0) => found.is_empty(),
                Some((t, at)) if t.rule(at).min >= 1 => !found.is_empty(),
                _ => true,
            },
            "type" => {
                let Some((t, at)) = target else { return false };
                let actual: Vec<String> = match d.steps.as_deref() {
                    Some([]) if !d.resolves => vec![kind.to_owned()],
                    _ => self.types_of(value, kind, d, ctx),
                };
                let expected: Vec<String> = match d.resolves {
                    // Through a reference: the types its target profiles are of.
                    true => {
                        let targets: Vec<String> = t
                            .rule(at)
                            .types
                            .iter()
                            .flat_map(|ty| ty.target_profiles.clone())
                            .collect();
                        targets
                            .iter()
                            .filter_map(|p| self.definition(p).map(|d| d.type_name.clone()))
                            .collect()
                    }
                    false => t.rule(at).types.iter().map(|ty| ty.code.clone()).collect(),
                };
                actual.iter().any(|a| expected.contains(a))
            }
            "profile" => {
                let profiles: Vec<String> = match target {
                    Some((t, at)) => {
                        let rule = t.rule(at);
                        let through_reference = d.path.ends_with("resolve()");
                        rule.types
                            .iter()
                            .flat_map(|ty| match through_reference {
                                true => ty.target_profiles.iter(),
                                false => ty.profiles.iter(),
                            })
                            .cloned()
                            .collect()
                    }
                    None => Vec::new(),
                };
                if profiles.is_empty() {
                    return false;
                }
                found.iter().any(|v| profiles.iter().any(|p| self.conforms_to(v, p)))
            }
            _ => false,
        }
    }

    /// The values a discriminator's path selects in the item.
    fn discriminated(&mut self, value: &'v Value, kind: &str, d: &Discriminator, ctx: Ctx<'v>) -> Vec<&'v Value> {
        let selected: Vec<&'v Value> = match &d.steps {
            Some(steps) => {
                let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
                values_at(value, &steps)
            }
            None => self
                .evaluate_path(value, kind, d, ctx)
                .into_iter()
                .filter_map(|i| match i {
                    PathItem::Node(n) => n.json(),
                    _ => None,
                })
                .collect(),
        };
        if !d.resolves {
            return selected;
        }
        selected
            .into_iter()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|r| resolve(r, ctx, self.bundle))
            .collect()
    }

    fn evaluate_path(&mut self, value: &'v Value, kind: &str, d: &Discriminator, ctx: Ctx<'v>) -> Vec<PathItem<'v>> {
        let Some(expression) = &d.expression else {
            return Vec::new();
        };
        let node = match value.get("resourceType") {
            Some(_) => Node::resource(value),
            None => Node::element(Some(value), None, kind, None),
        };
        // No services: a path ending in resolve() is resolved by the caller.
        let env = Env::new().with_resource(ctx.resource).with_root_resource(ctx.root);
        expression
            .evaluate_items(&[PathItem::Node(node)], &env)
            .unwrap_or_default()
    }

    /// The FHIR types of what a type discriminator's path selects.
    fn types_of(&mut self, value: &'v Value, kind: &str, d: &Discriminator, ctx: Ctx<'v>) -> Vec<String> {
        if d.resolves {
            let found = self.discriminated(value, kind, d, ctx);
            return found
                .iter()
                .filter_map(|r| r.get("resourceType").and_then(Value::as_str).map(str::to_owned))
                .collect();
        }
        if let Some(steps) = &d.steps {
            // `value[x]`-like last step: the type its JSON name carries.
            let Some((last, parents)) = steps.split_last() else {
                return vec![kind.to_owned()];
            };
            let prefix = last.strip_suffix("[x]").unwrap_or(last);
            let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
            return values_at(value, &parents)
                .into_iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter())
                .filter_map(|(k, v)| {
                    let suffix = k.strip_prefix(prefix)?;
                    if suffix.is_empty() {
                        return v.get("resourceType").and_then(Value::as_str).map(str::to_owned);
                    }
                    suffix.starts_with(char::is_uppercase).then(|| lower_first(suffix))
                })
                .collect();
        }
        self.evaluate_path(value, kind, d, ctx)
            .into_iter()
            .filter_map(|i| match i {
                PathItem::Node(n) => n
                    .resource_type()
                    .map(str::to_owned)
                    .or_else(|| n.type_name().map(str::to_owned)),
                _ => None,
            })
            .collect()
    }

    /// The element a discriminator path names below `slice`, diving into
    /// type definitions; `extension('url')` picks the extension slice (or
    /// definition) of that url, `resolve()` and `ofType()` stay in place.
    pub(super) fn descend(&mut self, def: &Arc<Definition>, slice: usize, path: &str) -> Option<Place> {
        let mut place: Place = (def.clone(), slice);
        for step in split_path(path) {
            if step == "$this" || step == "resolve()" || step.starts_with("ofType(") {
                continue;
            }
            let kind = place.0.rule(place.1).single_type().unwrap_or("Element").to_owned();
            let (d, at) = self.inside(&place.0, place.1, &serde_json::Map::new(), &kind)?;
            if let Some(url) = step
                .strip_prefix("extension(")
                .and_then(|s| s.strip_suffix(')'))
                .map(|s| s.trim_matches(['\'', '"']))
            {
                place = self.extension_place(&d, at, url)?;
                continue;
            }
            // A path names a choice without its [x] (`value` for `value[x]`).
            let (child, _) = child_for(&d, at, step).or_else(|| child_for(&d, at, &format!("{step}[x]")))?;
            place = (d, child);
        }
        Some(place)
    }

    /// The extension slice of `at` with that url, else the definition.
    fn extension_place(&mut self, def: &Arc<Definition>, at: usize, url: &str) -> Option<Place> {
        let (child, _) = child_for(def, at, "extension")?;
        let slice = def.tree.node(child).slices.iter().copied().find(|&s| {
            def.rule(s)
                .type_ref("Extension")
                .is_some_and(|t| t.profiles.iter().any(|p| p == url))
        });
        match slice {
            Some(s) => Some((def.clone(), s)),
            None => self.definition(url).map(|d| (d, 0)),
        }
    }

    /// For a value discriminator on an element with a required binding and
    /// no fixed or pattern value (US Core's Condition.category slices): is a
    /// value in the value set? `None` when none can be checked.
    fn in_required_binding(&mut self, def: &Definition, at: usize, found: &[&Value]) -> Option<bool> {
        use crate::validation::bindings::{bound, check, Outcome, Strength};
        let node = def.tree.node(at);
        let kind = def.rule(at).single_type()?.to_owned();
        let svc = self.validator.terminology();
        let mut checkable = false;
        for value in found {
            let Some(b) = bound(&def.tree, node, value, Some(&kind), "") else {
                continue;
            };
            if b.strength != Strength::Required {
                return None;
            }
            match check(svc, b).outcome {
                Outcome::Valid => return Some(true),
                Outcome::Invalid(_) | Outcome::NoCode => checkable = true,
                _ => {}
            }
        }
        checkable.then_some(false)
    }

    /// `closed`, `openAtEnd` and `ordered`, over the slots items went to.
    pub(super) fn slicing_rules(
        &mut self,
        def: &Definition,
        at: usize,
        slots: &[usize],
        items: &[(Item<'v>, String)],
        path: &str,
        name: &str,
    ) {
        let Some(slicing) = &def.rule(at).slicing else {
            return;
        };
        let order = |slot: usize| {
            def.tree
                .node(at)
                .slices
                .iter()
                .position(|&s| s == slot || def.tree.is_within(slot, s))
        };
        let mut last_matched: Option<usize> = None;
        let mut seen_unmatched = false;
        for (slot, (_, item_path)) in slots.iter().zip(items) {
            match order(*slot) {
                None => {
                    if slicing.rules == SlicingRules::Closed {
                        self.error(
                            IssueType::Structure,
                            item_path,
                            format!(
                                "This element does not match any known slice of {} (slicing is closed; discriminators: {})",
                                def.rule(at).path,
                                describe(&slicing.discriminators)
                            ),
                        );
                    }
                    seen_unmatched = true;
                }
                Some(position) => {
                    if slicing.rules == SlicingRules::OpenAtEnd && seen_unmatched {
                        self.error(
                            IssueType::Structure,
                            item_path,
                            format!(
                                "{}: open slicing at end, but a sliced item follows an unsliced one",
                                def.rule(at).path
                            ),
                        );
                    }
                    if slicing.ordered && last_matched.is_some_and(|l| position < l) {
                        self.error(
                            IssueType::Structure,
                            item_path,
                            format!(
                                "{}: the slices are ordered, and this item is out of order",
                                def.rule(at).path
                            ),
                        );
                    }
                    last_matched = Some(position);
                }
            }
        }
        let _ = (path, name);
    }

    /// Each slice's (and re-slice's) cardinality, from the slots the items
    /// went to. `path` locates the parent, as for a missing element.
    pub(super) fn slice_counts(&mut self, def: &Definition, at: usize, slots: &[usize], path: &str) {
        for &slice in &def.tree.node(at).slices {
            let count = slots
                .iter()
                .filter(|&&s| s == slice || def.tree.is_within(s, slice))
                .count() as u32;
            let rule = def.rule(slice);
            let name = rule.slice_name.as_deref().unwrap_or_default();
            if count < rule.min {
                self.error(
                    IssueType::Required,
                    path,
                    format!(
                        "{}: slice '{name}' requires at least {}, but found {count} (from {})",
                        rule.path,
                        rule.min,
                        def.url()
                    ),
                );
            }
            if rule.max.is_some_and(|m| count > m) {
                self.error(
                    IssueType::Structure,
                    path,
                    format!(
                        "{}: slice '{name}' allows at most {}, but found {count}",
                        rule.path,
                        rule.max_label()
                    ),
                );
            }
            if count > 0 {
                self.slice_counts(def, slice, slots, path);
            }
        }
    }
}

fn describe(discriminators: &[Discriminator]) -> String {
    let list: Vec<String> = discriminators
        .iter()
        .map(|d| format!("{} {}", d.kind, d.path))
        .collect();
    list.join(", ")
}

/// `fixed[x]` equality: numbers by value (`1.0` = `1`), the rest exactly.
pub(super) fn same_value(actual: &Value, fixed: &Value) -> bool {
    match (actual, fixed) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && b.iter().all(|(k, bv)| a.get(k).is_some_and(|av| same_value(av, bv)))
        }
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y)),
        (a, b) => a == b,
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => {
            let rest = chars.as_str();
            // Types written all in capitals keep them (`CodeableConcept`
            // starts upper; `dateTime` comes from `DateTime`).
            let lowered = format!("{}{rest}", c.to_ascii_lowercase());
            if crate::model::definitions::r4().get(s).is_some() {
                s.to_owned()
            } else {
                lowered
            }
        }
        None => String::new(),
    }
}

/// A discriminator path split on the dots outside parentheses and quotes.
fn split_path(path: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let (mut depth, mut quoted, mut start) = (0, false, 0);
    for (i, c) in path.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            '.' if !quoted && depth == 0 => {
                steps.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    steps.push(&path[start..]);
    steps
}
