//! A snapshot's element list as a tree, and back.
//!
//! The list is a pre-order walk: an element, then its children, then its
//! slices (`a:s`, each followed by its own children and re-slices `a:s/r`).
//! Generation edits the tree (children come and go with types, slices are
//! added next to their sliced element) and ids and paths are written once,
//! when the tree is flattened, so they always follow its shape.

use serde_json::{Map, Value};

/// One step of an element id: `name` or `name:slice` (`slice` may be a
/// re-slice, `a/b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Step {
    pub name: String,
    pub slice: Option<String>,
}

impl Step {
    pub fn plain(name: &str) -> Step {
        Step {
            name: name.to_owned(),
            slice: None,
        }
    }
}

/// Parses `Observation.component:systolic.value[x]` into steps. Slice names
/// cannot hold dots (eld-16), so splitting on `.` is safe.
pub(super) fn parse_id(id: &str) -> Vec<Step> {
    id.split('.')
        .map(|part| match part.split_once(':') {
            Some((name, slice)) => Step {
                name: name.to_owned(),
                slice: Some(slice.to_owned()),
            },
            None => Step::plain(part),
        })
        .collect()
}

/// The prefixes of a (re-)slice name: `a/b/c` → `a`, `a/b`, `a/b/c`.
pub(super) fn slice_prefixes(slice: &str) -> impl Iterator<Item = &str> {
    slice
        .match_indices('/')
        .map(move |(i, _)| &slice[..i])
        .chain(std::iter::once(slice))
}

/// One element with what sits below it.
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// The last segment of the element's path (`value[x]`, `component`).
    pub name: String,
    /// For a slice, its full slice name (`a` or, re-sliced, `a/b`).
    pub slice_name: Option<String>,
    pub element: Map<String, Value>,
    pub children: Vec<Node>,
    pub slices: Vec<Node>,
}

impl Node {
    fn new(step: &Step, element: Map<String, Value>) -> Node {
        Node {
            name: step.name.clone(),
            slice_name: step.slice.clone(),
            element,
            children: Vec::new(),
            slices: Vec::new(),
        }
    }

    /// Builds the tree of a snapshot element list; `None` when the list is
    /// empty. Elements whose parent is missing are dropped (a snapshot the
    /// Publisher made has none).
    pub fn from_elements(elements: &[Value]) -> Option<Node> {
        let mut iter = elements.iter().filter_map(Value::as_object);
        let first = iter.next()?;
        let mut root = Node::new(&Step::plain(&element_path(first)), first.clone());
        for element in iter {
            let steps = parse_id(&element_id(element));
            if let Some((last, parents)) = steps.split_last() {
                if let Some(parent) = root.find_mut(parents.get(1..).unwrap_or_default()) {
                    parent.attach(last, element.clone());
                }
            }
        }
        Some(root)
    }

    /// Adds a child (or a slice of a child) read from a snapshot list.
    fn attach(&mut self, step: &Step, element: Map<String, Value>) {
        let Some(slice) = &step.slice else {
            self.children.push(Node::new(step, element));
            return;
        };
        let Some(sliced) = self.children.iter_mut().rev().find(|c| c.name == step.name) else {
            return;
        };
        let owner = match slice.rsplit_once('/') {
            Some((parent, _)) => sliced.slice_mut(parent),
            None => Some(sliced),
        };
        if let Some(owner) = owner {
            owner.slices.push(Node::new(step, element));
        }
    }

    /// The node at `steps` below this one (steps exclude this node's own).
    pub fn find_mut(&mut self, steps: &[Step]) -> Option<&mut Node> {
        let mut node = self;
        for step in steps {
            let child = node.children.iter_mut().find(|c| c.name == step.name)?;
            node = match &step.slice {
                Some(slice) => child.slice_mut(slice)?,
                None => child,
            };
        }
        Some(node)
    }

    /// A (re-)slice of this node by its full name (`a/b` is found inside `a`).
    pub fn slice_mut(&mut self, slice: &str) -> Option<&mut Node> {
        let mut node = self;
        for prefix in slice_prefixes(slice) {
            node = node
                .slices
                .iter_mut()
                .find(|s| s.slice_name.as_deref() == Some(prefix))?;
        }
        Some(node)
    }

    /// The snapshot element list, ids and paths written from the tree.
    pub fn flatten(&self) -> Vec<Value> {
        let mut out = Vec::new();
        self.emit("", "", &mut out);
        out
    }

    fn emit(&self, parent_id: &str, parent_path: &str, out: &mut Vec<Value>) {
        let path = join(parent_path, &self.name);
        let mut id = join(parent_id, &self.name);
        if let Some(slice) = &self.slice_name {
            id = format!("{id}:{slice}");
        }
        let mut element = Map::with_capacity(self.element.len() + 2);
        element.insert("id".into(), Value::String(id.clone()));
        for (key, value) in &self.element {
            match key.as_str() {
                "id" => {}
                "path" => {
                    element.insert("path".into(), Value::String(path.clone()));
                }
                _ => {
                    element.insert(key.clone(), value.clone());
                }
            }
        }
        if !element.contains_key("path") {
            element.insert("path".into(), Value::String(path.clone()));
        }
        out.push(Value::Object(element));
        for child in &self.children {
            child.emit(&id, &path, out);
        }
        for slice in &self.slices {
            slice.emit(parent_id, parent_path, out);
        }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn element_path(element: &Map<String, Value>) -> String {
    element
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The element's id, or one made from its path and slice name (snapshots
/// from before R4 may lack ids; a slice name then belongs to the last step).
fn element_id(element: &Map<String, Value>) -> String {
    if let Some(id) = element.get("id").and_then(Value::as_str) {
        return id.to_owned();
    }
    let path = element_path(element);
    match element.get("sliceName").and_then(Value::as_str) {
        Some(slice) => format!("{path}:{slice}"),
        None => path,
    }
}
