//! The walk: each differential element is located in a copy of the base
//! snapshot's tree (diving into datatypes and type profiles, creating
//! slices, following choice renames), then merged onto it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::choice::{find_child, narrow_choice};
use super::differential::{self, DiffElement};
use super::merge;
use super::slicing::{close_slicing, ensure_slicing};
use super::tree::{parse_id, slice_prefixes, Node, Step};
use super::types::{extension_profile, single_type_definition, types};
use super::SnapshotError;
use crate::packages::CanonicalRegistry;

/// Generates snapshots, remembering the trees of every definition it read
/// or made, so a chain of profiles (and the datatypes they dive into) is
/// parsed once. Keep one for a batch of profiles; drop it when the registry
/// changes.
pub struct Generator<'r> {
    registry: &'r CanonicalRegistry,
    trees: HashMap<String, Arc<Node>>,
    /// Profiles being generated, innermost last: a profile met again while
    /// its own snapshot is being made depends on itself.
    in_progress: Vec<String>,
}

/// What one profile's walk works on.
struct Walk {
    profile: String,
    /// The differential element being applied, for error messages.
    element: String,
    /// The base snapshot as read, for `contentReference`.
    base: Arc<Node>,
    /// The base as the walk found it, where new slices take their template
    /// from (a slice starts from the base element, not from the constraints
    /// this profile put on the sliced element).
    pristine: Node,
}

impl<'r> Generator<'r> {
    pub fn new(registry: &'r CanonicalRegistry) -> Self {
        Generator {
            registry,
            trees: HashMap::new(),
            in_progress: Vec::new(),
        }
    }

    /// The StructureDefinition with its `snapshot` made from its base and
    /// differential (any snapshot it had is replaced).
    pub fn generate(&mut self, profile: &Value) -> Result<Value, SnapshotError> {
        let tree = self.build(profile)?;
        Ok(with_snapshot(profile, tree.flatten()))
    }

    fn build(&mut self, profile: &Value) -> Result<Arc<Node>, SnapshotError> {
        let url = text(profile, "url").unwrap_or("(no url)").to_owned();
        let Some(base_url) = text(profile, "baseDefinition") else {
            return Err(SnapshotError::NoBase { profile: url });
        };
        if self.in_progress.contains(&url) {
            return Err(SnapshotError::Cycle { profile: url });
        }
        self.in_progress.push(url.clone());
        let built = self.build_on(&url, base_url, profile);
        self.in_progress.retain(|u| *u != url);
        let tree = Arc::new(built?);
        self.trees.insert(url, tree.clone());
        Ok(tree)
    }

    fn build_on(&mut self, url: &str, base_url: &str, profile: &Value) -> Result<Node, SnapshotError> {
        let Some(base) = self.tree(base_url)? else {
            return Err(SnapshotError::UnknownBase {
                profile: url.to_owned(),
                base: base_url.to_owned(),
            });
        };
        let mut tree = (*base).clone();
        let mut walk = Walk {
            profile: url.to_owned(),
            element: String::new(),
            pristine: (*base).clone(),
            base,
        };
        let elements = profile
            .pointer("/differential/element")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for diff in differential::read(elements) {
            walk.element.clone_from(&diff.id);
            self.apply(&mut walk, &mut tree, &diff)?;
        }
        Ok(tree)
    }

    /// The snapshot tree of a definition: its own snapshot, or one generated
    /// from its differential. `None` when the registry does not know it.
    fn tree(&mut self, canonical: &str) -> Result<Option<Arc<Node>>, SnapshotError> {
        if let Some(tree) = self.trees.get(canonical) {
            return Ok(Some(tree.clone()));
        }
        let Some(definition) = self.registry.structure_definition(canonical) else {
            return Ok(None);
        };
        let own = definition
            .pointer("/snapshot/element")
            .and_then(Value::as_array)
            .and_then(|elements| Node::from_elements(elements));
        let tree = match own {
            Some(tree) => Arc::new(tree),
            None => self.build(&definition)?,
        };
        self.trees.insert(canonical.to_owned(), tree.clone());
        Ok(Some(tree))
    }

    fn apply(&mut self, walk: &mut Walk, tree: &mut Node, diff: &DiffElement) -> Result<(), SnapshotError> {
        let Some((root, steps)) = diff.steps.split_first() else {
            return Err(unmatched(walk, diff));
        };
        if root.name != tree.name || root.slice.is_some() {
            return Err(unmatched(walk, diff));
        }
        let required = diff.element.get("min").and_then(Value::as_u64).is_some_and(|m| m >= 1);
        let mut node = tree;
        for (i, step) in steps.iter().enumerate() {
            let last = i + 1 == steps.len();
            node = match self.child(walk, node, &steps[..i], step, last && required, !last)? {
                Some(child) => child,
                None => return Err(unmatched(walk, diff)),
            };
        }
        merge::apply(&mut node.element, diff.element, &walk.profile);
        if diff.element.contains_key("type") {
            self.pull_extension_definition(node, diff.element)?;
        }
        Ok(())
    }

    /// The child of `node` named by `step`, diving into the node's type when
    /// it has no children yet and creating the slice the step names when the
    /// node does not have it. `prefix` is the steps from the root to `node`;
    /// `required` says the differential element makes the child mandatory,
    /// `descending` that the walk goes on below the child.
    fn child<'t>(
        &mut self,
        walk: &mut Walk,
        node: &'t mut Node,
        prefix: &[Step],
        step: &Step,
        required: bool,
        descending: bool,
    ) -> Result<Option<&'t mut Node>, SnapshotError> {
        if node.children.is_empty() {
            self.expand(walk, node)?;
        }
        let Some((index, renamed)) = find_child(node, &step.name) else {
            return Ok(None);
        };
        let child = &mut node.children[index];
        if step.slice.is_some()
            && descending
            && child.children.is_empty()
            && child.element.contains_key("contentReference")
        {
            // The Publisher unfolds a content reference (`part` of
            // Parameters) at the sliced element too when a profile
            // constrains inside its slices, not a datatype's children.
            self.expand(walk, child)?;
        }
        if renamed && step.slice.is_none() {
            return self.renamed_choice(walk, child, prefix, &step.name, required).map(Some);
        }
        match &step.slice {
            None => Ok(Some(child)),
            Some(slice) => self.slice_of(walk, child, prefix, slice).map(Some),
        }
    }

    /// `valueQuantity` where the base has `value[x]`. The Publisher reads it
    /// as the type slice `value[x]:valueQuantity` (closing the slicing and
    /// keeping the choice to that type when the slice is required), except
    /// inside a slice or on a choice already of one type, where the choice
    /// element itself is kept to that type.
    fn renamed_choice<'t>(
        &mut self,
        walk: &mut Walk,
        choice: &'t mut Node,
        prefix: &[Step],
        renamed: &str,
        required: bool,
    ) -> Result<&'t mut Node, SnapshotError> {
        let in_slice = prefix.iter().any(|s| s.slice.is_some());
        let sliced = choice.slice_mut(renamed).is_some() || choice.element.contains_key("slicing");
        if !sliced && (in_slice || types(&choice.element).count() <= 1) {
            narrow_choice(choice, renamed);
            return Ok(choice);
        }
        ensure_slicing(choice);
        if required {
            narrow_choice(choice, renamed);
            let min = choice.element.get("min").and_then(Value::as_u64).unwrap_or(0);
            choice.element.insert("min".into(), Value::from(min.max(1)));
        }
        if types(&choice.element).count() == 1 {
            close_slicing(choice);
        }
        let slice = self.slice_of(walk, choice, prefix, renamed)?;
        narrow_choice(slice, renamed);
        Ok(slice)
    }

    /// The (re-)slice `slice` of `sliced`, created when missing.
    fn slice_of<'t>(
        &mut self,
        walk: &mut Walk,
        sliced: &'t mut Node,
        prefix: &[Step],
        slice: &str,
    ) -> Result<&'t mut Node, SnapshotError> {
        let mut node = sliced;
        let mut parent: Option<&str> = None;
        for name in slice_prefixes(slice) {
            let position = node.slices.iter().position(|s| s.slice_name.as_deref() == Some(name));
            let position = match position {
                Some(position) => position,
                None => {
                    let created = self.new_slice(walk, node, prefix, parent, name)?;
                    ensure_slicing(node);
                    node.slices.push(created);
                    node.slices.len() - 1
                }
            };
            node = &mut node.slices[position];
            parent = Some(name);
        }
        Ok(node)
    }

    /// A new slice of `owner`. As the Publisher makes them: the element is
    /// the base's (not what this profile said of the sliced element), a
    /// slice is optional until the differential says otherwise, and the
    /// children are the sliced element's as this profile constrained them.
    fn new_slice(
        &mut self,
        walk: &mut Walk,
        owner: &Node,
        prefix: &[Step],
        parent: Option<&str>,
        name: &str,
    ) -> Result<Node, SnapshotError> {
        let at = Step {
            name: owner.name.clone(),
            slice: parent.map(str::to_owned),
        };
        let mut element = match self.template(walk, prefix, &at)? {
            Some(element) => element,
            None => owner.element.clone(),
        };
        element.remove("slicing");
        element.insert("sliceName".into(), Value::String(name.to_owned()));
        element.insert("min".into(), Value::from(0));
        Ok(Node {
            name: owner.name.clone(),
            slice_name: Some(name.to_owned()),
            element,
            children: owner.children.clone(),
            slices: Vec::new(),
        })
    }

    /// The base element at `prefix` + `at` as it was before this profile,
    /// with slices the base does not have read as their sliced element.
    fn template(
        &mut self,
        walk: &mut Walk,
        prefix: &[Step],
        at: &Step,
    ) -> Result<Option<Map<String, Value>>, SnapshotError> {
        let mut pristine = std::mem::replace(&mut walk.pristine, Node::empty());
        let found = self.find_in_pristine(walk, &mut pristine, prefix, at);
        walk.pristine = pristine;
        found
    }

    fn find_in_pristine(
        &mut self,
        walk: &Walk,
        pristine: &mut Node,
        prefix: &[Step],
        at: &Step,
    ) -> Result<Option<Map<String, Value>>, SnapshotError> {
        let mut node = pristine;
        for step in prefix.iter().chain(std::iter::once(at)) {
            if node.children.is_empty() {
                self.expand(walk, node)?;
            }
            let Some((index, _)) = find_child(node, &step.name) else {
                return Ok(None);
            };
            node = &mut node.children[index];
            for name in step.slice.iter().flat_map(|s| slice_prefixes(s)) {
                match node.slices.iter().position(|s| s.slice_name.as_deref() == Some(name)) {
                    Some(position) => node = &mut node.slices[position],
                    None => break,
                }
            }
        }
        Ok(Some(node.element.clone()))
    }

    /// Gives a leaf its children: those of the element a `contentReference`
    /// names, or of its one type's definition (its profile when it has one).
    /// Elements of several types or of none stay leaves.
    fn expand(&mut self, walk: &Walk, node: &mut Node) -> Result<(), SnapshotError> {
        if let Some(reference) = node.element.get("contentReference").and_then(Value::as_str) {
            let id = reference.rsplit_once('#').map_or(reference, |(_, id)| id);
            let steps = parse_id(id);
            if let Some(target) = walk.base.find(steps.get(1..).unwrap_or_default()) {
                node.children = target.children.clone();
            }
            return Ok(());
        }
        let Some(url) = single_type_definition(&node.element) else {
            return Ok(());
        };
        match self.tree(&url)? {
            Some(tree) => {
                node.children = tree.children.clone();
                Ok(())
            }
            None => Err(SnapshotError::UnknownTypeProfile {
                profile: walk.profile.clone(),
                element: walk.element.clone(),
                type_profile: url,
            }),
        }
    }

    /// An element typed with an extension definition takes from that
    /// definition's root what the differential did not say: its documentation,
    /// its constraints and conditions, and its cardinality where narrower.
    fn pull_extension_definition(&mut self, node: &mut Node, diff: &Map<String, Value>) -> Result<(), SnapshotError> {
        let Some(url) = extension_profile(&node.element) else {
            return Ok(());
        };
        let Some(definition) = self.tree(&url)? else {
            // The Publisher would stop here; a missing extension package
            // should not cost the whole profile its snapshot.
            tracing::debug!(%url, "extension definition not known; its root is not pulled in");
            return Ok(());
        };
        let root = &definition.element;
        for key in ["short", "definition", "comment", "requirements"] {
            if let (false, Some(value)) = (diff.contains_key(key), root.get(key)) {
                node.element.insert(key.to_owned(), value.clone());
            }
        }
        if let Some(constraints) = root.get("constraint") {
            merge::add_constraints(&mut node.element, constraints, None);
        }
        if let Some(conditions) = root.get("condition") {
            merge::append_new(&mut node.element, "condition", conditions);
        }
        narrow_cardinality(&mut node.element, root, diff);
        Ok(())
    }
}

fn unmatched(walk: &Walk, diff: &DiffElement) -> SnapshotError {
    SnapshotError::UnmatchedElement {
        profile: walk.profile.clone(),
        element: diff.id.clone(),
    }
}

impl Node {
    /// A placeholder while the pristine tree is lent out.
    fn empty() -> Node {
        Node {
            name: String::new(),
            slice_name: None,
            element: Map::new(),
            children: Vec::new(),
            slices: Vec::new(),
        }
    }

    /// The node at `steps` below this one, without changing anything.
    fn find(&self, steps: &[Step]) -> Option<&Node> {
        let mut node = self;
        for step in steps {
            node = node.children.iter().find(|c| c.name == step.name)?;
            for name in step.slice.iter().flat_map(|s| slice_prefixes(s)) {
                node = node.slices.iter().find(|s| s.slice_name.as_deref() == Some(name))?;
            }
        }
        Some(node)
    }
}

/// An extension definition limited to one repetition (or required) limits
/// the element using it, unless the differential said otherwise.
fn narrow_cardinality(element: &mut Map<String, Value>, root: &Map<String, Value>, diff: &Map<String, Value>) {
    let root_min = root.get("min").and_then(Value::as_u64).unwrap_or(0);
    let min = element.get("min").and_then(Value::as_u64).unwrap_or(0);
    if !diff.contains_key("min") && root_min > min {
        element.insert("min".into(), Value::from(root_min));
    }
    let root_max = root.get("max").and_then(Value::as_str).unwrap_or("*");
    if !diff.contains_key("max") && root_max != "*" {
        element.insert("max".into(), Value::String(root_max.to_owned()));
    }
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// The definition with `snapshot` set, placed before `differential` as the
/// Publisher writes it.
fn with_snapshot(profile: &Value, elements: Vec<Value>) -> Value {
    let snapshot = json!({ "element": elements });
    let Some(map) = profile.as_object() else {
        return profile.clone();
    };
    let mut out = Map::with_capacity(map.len() + 1);
    let mut placed = false;
    for (key, value) in map {
        match key.as_str() {
            "snapshot" => continue,
            "differential" if !placed => {
                out.insert("snapshot".into(), snapshot.clone());
                placed = true;
            }
            _ => {}
        }
        out.insert(key.clone(), value.clone());
    }
    if !placed {
        out.insert("snapshot".into(), snapshot);
    }
    Value::Object(out)
}
