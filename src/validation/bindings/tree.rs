//! A profile's snapshot as a tree: each element with its children and its
//! slices, found by element id.
//!
//! Ids, not paths, place an element: `Observation.component:systolic.code`
//! is a child of the slice `Observation.component:systolic`, which a path
//! (`Observation.component.code`) cannot say. Slice names hold no dots
//! (eld-16), so splitting an id on `.` is safe. A re-slice `a:s/t` is kept as
//! a slice of the slice `a:s`, so matching can refine a match.

use std::collections::HashMap;

use serde_json::Value;

/// One snapshot element.
#[derive(Debug)]
pub(crate) struct Node {
    /// The last segment of the element's path (`value[x]`, `coding`).
    pub name: String,
    pub element: Value,
    pub children: Vec<usize>,
    pub slices: Vec<usize>,
}

impl Node {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.element.get(key).and_then(Value::as_str)
    }

    /// The element's type codes (`CodeableConcept`, `code`, …).
    pub fn type_codes(&self) -> impl Iterator<Item = &str> {
        self.types().filter_map(|t| t.get("code").and_then(Value::as_str))
    }

    pub fn types(&self) -> impl Iterator<Item = &Value> {
        self.element.get("type").and_then(Value::as_array).into_iter().flatten()
    }

    /// The first `type.profile` given for a type code, e.g. the extension
    /// definition of an extension slice.
    pub fn type_profile(&self, code: &str) -> Option<&str> {
        self.types()
            .filter(|t| t.get("code").and_then(Value::as_str) == Some(code))
            .filter_map(|t| t.get("profile")?.as_array()?.first()?.as_str())
            .next()
    }

    /// `fixed[x]` or `pattern[x]`, whichever the element has.
    pub fn fixed_or_pattern(&self) -> Option<&Value> {
        self.element
            .as_object()?
            .iter()
            .find_map(|(k, v)| (k.starts_with("fixed") || k.starts_with("pattern")).then_some(v))
    }

    pub fn min(&self) -> u64 {
        self.element.get("min").and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn max_is_zero(&self) -> bool {
        self.str("max") == Some("0")
    }
}

/// A StructureDefinition's snapshot; node 0 is the root element.
#[derive(Debug)]
pub(crate) struct Tree {
    pub url: String,
    pub nodes: Vec<Node>,
    by_id: HashMap<String, usize>,
}

impl Tree {
    /// `None` when the definition has no snapshot.
    pub fn from_definition(definition: &Value) -> Option<Tree> {
        let elements = definition.get("snapshot")?.get("element")?.as_array()?;
        let mut tree = Tree {
            url: definition
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            nodes: Vec::with_capacity(elements.len()),
            by_id: HashMap::new(),
        };
        for element in elements {
            tree.add(element);
        }
        (!tree.nodes.is_empty()).then_some(tree)
    }

    fn add(&mut self, element: &Value) {
        let s = |k: &str| element.get(k).and_then(Value::as_str);
        let Some(id) = s("id").or(s("path")) else { return };
        let path = s("path").unwrap_or(id);
        let name = path.rsplit('.').next().unwrap_or(path).to_owned();
        let at = self.nodes.len();
        // Where the element hangs: nowhere (the root), under its parent, or
        // next to the element it slices. An element whose place is not in
        // the tree is malformed and left out.
        let place = match id.rsplit_once('.') {
            None if self.nodes.is_empty() => None,
            None => return,
            Some((parent, last)) => match last.split_once(':') {
                Some((step, slice)) => {
                    let sliced = match slice.rsplit_once('/') {
                        Some((outer, _)) => format!("{parent}.{step}:{outer}"),
                        None => format!("{parent}.{step}"),
                    };
                    Some((self.find(&sliced), true))
                }
                None => Some((self.find(parent), false)),
            },
        };
        match place {
            None => {}
            Some((None, _)) => return,
            Some((Some(owner), true)) => self.nodes[owner].slices.push(at),
            Some((Some(owner), false)) => self.nodes[owner].children.push(at),
        }
        self.by_id.insert(id.to_owned(), at);
        self.nodes.push(Node {
            name,
            element: element.clone(),
            children: Vec::new(),
            slices: Vec::new(),
        });
    }

    /// A tree with no elements, for values checked outside any definition.
    pub fn empty() -> Tree {
        Tree {
            url: String::new(),
            nodes: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// Whether `slot` is a re-slice of `slice` (`a:s/t` of `a:s`), at any depth.
    pub fn is_within(&self, slot: usize, slice: usize) -> bool {
        let id = |at: usize| {
            self.nodes[at]
                .element
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let (inner, outer) = (id(slot), id(slice));
        inner.len() > outer.len() && inner.starts_with(outer) && inner.as_bytes()[outer.len()] == b'/'
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn node(&self, at: usize) -> &Node {
        &self.nodes[at]
    }
}
