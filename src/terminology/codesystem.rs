//! One code system indexed for lookups: code → concept, the hierarchy, the
//! properties. Built once per CodeSystem resource (or by a loader for LOINC /
//! SNOMED CT) and shared behind an `Arc`.
//!
//! The hierarchy comes from nested `concept`s and from the `parent` /
//! `child` / `subsumedBy` properties (also when a property is declared under
//! another code with the standard `concept-properties#…` URI). A concept is
//! inactive when its `inactive` property is true or its `status` property is
//! `retired` or `inactive`; it is not selectable when `notSelectable` (or
//! `abstract`) is true.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

/// `CodeSystem.content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Complete,
    /// Only some codes are listed: a code not found is unknown, not invalid.
    Fragment,
    /// Illustrative codes only: treated like a fragment.
    Example,
    /// The resource carries no codes (LOINC, SNOMED CT stubs in THO).
    NotPresent,
    /// A supplement: merged into the system it supplements.
    Supplement,
}

impl Content {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("fragment") => Content::Fragment,
            Some("example") => Content::Example,
            Some("not-present") => Content::NotPresent,
            Some("supplement") => Content::Supplement,
            _ => Content::Complete,
        }
    }

    /// Whether a code missing from the index may still exist.
    pub fn is_partial(self) -> bool {
        matches!(self, Content::Fragment | Content::Example)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Designation {
    pub language: Option<Box<str>>,
    /// A Coding (`{"system", "code", "display"}`), as in the resource.
    pub use_: Option<Value>,
    pub value: Box<str>,
}

impl Designation {
    fn from_json(d: &Value) -> Option<Self> {
        Some(Designation {
            language: d.get("language").and_then(Value::as_str).map(Into::into),
            use_: d.get("use").cloned(),
            value: d.get("value")?.as_str()?.into(),
        })
    }

    pub fn to_json(&self) -> Value {
        let mut d = serde_json::Map::new();
        if let Some(l) = &self.language {
            d.insert("language".into(), l.as_ref().into());
        }
        if let Some(u) = &self.use_ {
            d.insert("use".into(), u.clone());
        }
        d.insert("value".into(), self.value.as_ref().into());
        Value::Object(d)
    }
}

/// One `concept.property`: its code, its `value[x]` key and value, and the
/// value as text for filters (a Coding's code, a boolean's `true`…).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyValue {
    pub code: Box<str>,
    pub key: Box<str>,
    pub value: Value,
    pub text: Box<str>,
}

impl PropertyValue {
    pub fn new(code: &str, key: &str, value: Value) -> Self {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.get("code").and_then(Value::as_str).unwrap_or_default().to_owned(),
            other => other.to_string(),
        };
        PropertyValue {
            code: code.into(),
            key: key.into(),
            value,
            text: text.into(),
        }
    }

    fn from_json(p: &Value) -> Option<Self> {
        let o = p.as_object()?;
        let code = o.get("code")?.as_str()?;
        let (key, value) = o.iter().find(|(k, _)| k.starts_with("value"))?;
        Some(Self::new(code, key, value.clone()))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Concept {
    pub code: Box<str>,
    pub display: Option<Box<str>>,
    pub definition: Option<Box<str>>,
    pub designations: Vec<Designation>,
    pub properties: Vec<PropertyValue>,
    pub inactive: bool,
    pub not_selectable: bool,
    parents: Vec<u32>,
    children: Vec<u32>,
}

impl Concept {
    pub fn new(code: &str, display: Option<&str>) -> Self {
        Concept {
            code: code.into(),
            display: display.map(Into::into),
            ..Concept::default()
        }
    }

    /// Values of one property, as text.
    pub fn property_texts<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.properties
            .iter()
            .filter(move |p| &*p.code == code)
            .map(|p| &*p.text)
    }
}

/// A code system ready for lookups; see the module docs.
#[derive(Debug, Clone)]
pub struct CodeSystemIndex {
    pub url: String,
    pub version: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub case_sensitive: bool,
    pub content: Content,
    /// Supplements merged in, as `url|version`.
    pub supplements: Vec<String>,
    concepts: Vec<Concept>,
    by_code: HashMap<Box<str>, u32>,
    /// Lower-cased codes, for case-insensitive systems only.
    folded: HashMap<String, u32>,
}

impl CodeSystemIndex {
    /// An empty system; fill it with a [`CodeSystemBuilder`].
    pub fn builder(url: &str, version: Option<&str>) -> CodeSystemBuilder {
        CodeSystemBuilder::new(CodeSystemIndex {
            url: url.to_owned(),
            version: version.map(str::to_owned),
            name: None,
            language: None,
            case_sensitive: true,
            content: Content::Complete,
            supplements: Vec::new(),
            concepts: Vec::new(),
            by_code: HashMap::new(),
            folded: HashMap::new(),
        })
    }

    /// Indexes a CodeSystem resource. A missing `caseSensitive` counts as
    /// true (the safe reading for validation).
    pub fn from_json(cs: &Value) -> Self {
        let text = |k: &str| cs.get(k).and_then(Value::as_str);
        let url = text("url").unwrap_or_default();
        let mut b = Self::builder(url, text("version"));
        b.cs.name = text("name").map(str::to_owned);
        b.cs.language = text("language").map(str::to_owned);
        b.cs.case_sensitive = cs.get("caseSensitive").and_then(Value::as_bool).unwrap_or(true);
        b.cs.content = Content::parse(text("content"));
        b.aliases = property_aliases(cs);
        for c in cs.get("concept").and_then(Value::as_array).into_iter().flatten() {
            b.add_json(c, None);
        }
        b.finish()
    }

    /// This system with supplements' designations and properties merged in.
    pub fn with_supplements(&self, supplements: &[&Value]) -> Self {
        let mut merged = self.clone();
        for s in supplements {
            let version = s.get("version").and_then(Value::as_str).unwrap_or_default();
            let url = s.get("url").and_then(Value::as_str).unwrap_or_default();
            merged.supplements.push(format!("{url}|{version}"));
            merged.merge_concepts(s.get("concept").and_then(Value::as_array).into_iter().flatten());
        }
        merged
    }

    fn merge_concepts<'a>(&mut self, concepts: impl Iterator<Item = &'a Value>) {
        for c in concepts {
            let code = c.get("code").and_then(Value::as_str).unwrap_or_default();
            if let Some(i) = self.find_index(code) {
                let concept = &mut self.concepts[i as usize];
                let designations = c.get("designation").and_then(Value::as_array).into_iter().flatten();
                concept
                    .designations
                    .extend(designations.filter_map(Designation::from_json));
                let properties = c.get("property").and_then(Value::as_array).into_iter().flatten();
                concept
                    .properties
                    .extend(properties.filter_map(PropertyValue::from_json));
            }
            self.merge_concepts(c.get("concept").and_then(Value::as_array).into_iter().flatten());
        }
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    pub fn concepts(&self) -> &[Concept] {
        &self.concepts
    }

    pub fn concept(&self, index: u32) -> &Concept {
        &self.concepts[index as usize]
    }

    /// The concept's index: exact match, or case-folded for case-insensitive
    /// systems.
    pub fn find_index(&self, code: &str) -> Option<u32> {
        if let Some(i) = self.by_code.get(code) {
            return Some(*i);
        }
        if self.case_sensitive {
            return None;
        }
        self.folded.get(&code.to_lowercase()).copied()
    }

    pub fn find(&self, code: &str) -> Option<&Concept> {
        self.find_index(code).map(|i| self.concept(i))
    }

    pub fn parents(&self, index: u32) -> &[u32] {
        &self.concepts[index as usize].parents
    }

    pub fn children(&self, index: u32) -> &[u32] {
        &self.concepts[index as usize].children
    }

    /// Every concept below `index` (not itself), breadth first.
    pub fn descendants(&self, index: u32) -> Vec<u32> {
        self.walk(index, |i| self.children(i))
    }

    /// Every concept above `index` (not itself).
    pub fn ancestors(&self, index: u32) -> Vec<u32> {
        self.walk(index, |i| self.parents(i))
    }

    fn walk<'a>(&'a self, start: u32, next: impl Fn(u32) -> &'a [u32]) -> Vec<u32> {
        let mut seen = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        let mut out = Vec::new();
        while let Some(i) = queue.pop_front() {
            for &n in next(i) {
                if seen.insert(n) {
                    out.push(n);
                    queue.push_back(n);
                }
            }
        }
        out
    }

    /// Whether `ancestor` subsumes `descendant` (strictly).
    pub fn subsumes(&self, ancestor: u32, descendant: u32) -> bool {
        ancestor != descendant && self.ancestors(descendant).contains(&ancestor)
    }
}

/// Maps declared property codes to the standard meanings Ipê acts on
/// (`parent`, `child`, `inactive`, `status`, `notSelectable`).
fn property_aliases(cs: &Value) -> HashMap<String, &'static str> {
    const STANDARD: &[&str] = &[
        "parent",
        "child",
        "subsumedBy",
        "inactive",
        "status",
        "notSelectable",
        "deprecated",
    ];
    let mut aliases = HashMap::new();
    for p in cs.get("property").and_then(Value::as_array).into_iter().flatten() {
        let (Some(code), Some(uri)) = (
            p.get("code").and_then(Value::as_str),
            p.get("uri").and_then(Value::as_str),
        ) else {
            continue;
        };
        let meaning = uri.rsplit('#').next().unwrap_or_default();
        if let Some(m) = STANDARD.iter().find(|s| **s == meaning) {
            aliases.insert(code.to_owned(), *m);
        }
    }
    aliases
}

/// Fills a [`CodeSystemIndex`]; parent/child links may name codes added later.
#[derive(Debug)]
pub struct CodeSystemBuilder {
    cs: CodeSystemIndex,
    aliases: HashMap<String, &'static str>,
    links: Vec<(u32, Box<str>)>,
    child_links: Vec<(u32, Box<str>)>,
}

impl CodeSystemBuilder {
    fn new(cs: CodeSystemIndex) -> Self {
        CodeSystemBuilder {
            cs,
            aliases: HashMap::new(),
            links: Vec::new(),
            child_links: Vec::new(),
        }
    }

    pub fn name(mut self, name: &str) -> Self {
        self.cs.name = Some(name.to_owned());
        self
    }

    pub fn content(mut self, content: Content) -> Self {
        self.cs.content = content;
        self
    }

    /// Adds a concept (a repeated code is ignored) and returns its index.
    pub fn add(&mut self, concept: Concept) -> u32 {
        if let Some(i) = self.cs.by_code.get(&concept.code) {
            return *i;
        }
        let index = self.cs.concepts.len() as u32;
        self.cs.by_code.insert(concept.code.clone(), index);
        self.cs.concepts.push(concept);
        index
    }

    /// The index of a concept added before.
    pub fn index_of(&self, code: &str) -> Option<u32> {
        self.cs.by_code.get(code).copied()
    }

    /// A concept added before, to complete (display, designations).
    pub fn concept_mut(&mut self, index: u32) -> &mut Concept {
        &mut self.cs.concepts[index as usize]
    }

    /// Records that the concept at `child` is-a `parent` (a code).
    pub fn add_parent(&mut self, child: u32, parent: &str) {
        self.links.push((child, parent.into()));
    }

    fn add_json(&mut self, c: &Value, parent: Option<u32>) {
        let Some(code) = c.get("code").and_then(Value::as_str) else {
            return;
        };
        let mut concept = Concept::new(code, c.get("display").and_then(Value::as_str));
        concept.definition = c.get("definition").and_then(Value::as_str).map(Into::into);
        let designations = c.get("designation").and_then(Value::as_array).into_iter().flatten();
        concept.designations = designations.filter_map(Designation::from_json).collect();
        let properties = c.get("property").and_then(Value::as_array).into_iter().flatten();
        concept.properties = properties.filter_map(PropertyValue::from_json).collect();
        let index = self.add(concept);
        self.apply_standard_properties(index);
        if let Some(p) = parent {
            let code = self.cs.concepts[p as usize].code.clone();
            self.links.push((index, code));
        }
        for child in c.get("concept").and_then(Value::as_array).into_iter().flatten() {
            self.add_json(child, Some(index));
        }
    }

    fn apply_standard_properties(&mut self, index: u32) {
        let props = self.cs.concepts[index as usize].properties.clone();
        for p in &props {
            let meaning = self.aliases.get(&*p.code).copied().unwrap_or(&*p.code);
            let concept = &mut self.cs.concepts[index as usize];
            match (meaning, &p.value) {
                ("parent" | "subsumedBy", _) => self.links.push((index, p.text.clone())),
                ("child", _) => self.child_links.push((index, p.text.clone())),
                ("inactive", Value::Bool(b)) => concept.inactive |= *b,
                ("status", _) => concept.inactive |= matches!(&*p.text, "retired" | "inactive"),
                ("notSelectable" | "abstract", Value::Bool(b)) => concept.not_selectable |= *b,
                _ => {}
            }
        }
    }

    pub fn finish(mut self) -> CodeSystemIndex {
        let links = std::mem::take(&mut self.links);
        for (child, parent) in links {
            if let Some(&p) = self.cs.by_code.get(&parent) {
                self.link(p, child);
            }
        }
        let child_links = std::mem::take(&mut self.child_links);
        for (parent, child) in child_links {
            if let Some(&c) = self.cs.by_code.get(&child) {
                self.link(parent, c);
            }
        }
        if !self.cs.case_sensitive {
            for (i, c) in self.cs.concepts.iter().enumerate() {
                self.cs.folded.entry(c.code.to_lowercase()).or_insert(i as u32);
            }
        }
        self.cs
    }

    fn link(&mut self, parent: u32, child: u32) {
        if parent == child || self.cs.concepts[child as usize].parents.contains(&parent) {
            return;
        }
        self.cs.concepts[child as usize].parents.push(parent);
        self.cs.concepts[parent as usize].children.push(child);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A small animal taxonomy: nested and `parent`-property hierarchy,
    /// an inactive concept, designations in Portuguese.
    pub fn animals() -> Value {
        json!({
            "resourceType": "CodeSystem", "url": "http://example.org/animals", "version": "1",
            "name": "Animals", "status": "active", "content": "complete", "caseSensitive": true,
            "property": [{"code": "legs", "type": "integer"}, {"code": "inactive", "type": "boolean"},
                         {"code": "parent", "type": "code"}],
            "concept": [
                {"code": "animal", "display": "Animal", "concept": [
                    {"code": "mammal", "display": "Mammal", "concept": [
                        {"code": "dog", "display": "Dog", "definition": "A domestic dog",
                         "designation": [{"language": "pt-BR", "value": "Cachorro"}],
                         "property": [{"code": "legs", "valueInteger": 4}]},
                        {"code": "cat", "display": "Cat",
                         "designation": [{"language": "pt", "value": "Gato"}],
                         "property": [{"code": "legs", "valueInteger": 4}]}
                    ]},
                    {"code": "bird", "display": "Bird", "property": [{"code": "legs", "valueInteger": 2}]}
                ]},
                {"code": "parrot", "display": "Parrot", "property": [{"code": "parent", "valueCode": "bird"},
                    {"code": "legs", "valueInteger": 2}]},
                {"code": "dodo", "display": "Dodo", "property": [{"code": "parent", "valueCode": "bird"},
                    {"code": "inactive", "valueBoolean": true}]}
            ]
        })
    }

    #[test]
    fn nested_concepts_and_parent_properties_make_one_hierarchy() {
        let cs = CodeSystemIndex::from_json(&animals());
        let idx = |c| cs.find_index(c).unwrap();
        let below: Vec<&str> = cs
            .descendants(idx("animal"))
            .iter()
            .map(|i| &*cs.concept(*i).code)
            .collect();
        assert_eq!(below.len(), 6, "{below:?}");
        assert!(cs.subsumes(idx("bird"), idx("parrot")));
        assert!(!cs.subsumes(idx("parrot"), idx("bird")));
        assert!(cs.find("dodo").unwrap().inactive);
        assert_eq!(
            cs.find("dog").unwrap().property_texts("legs").collect::<Vec<_>>(),
            ["4"]
        );
    }

    #[test]
    fn case_insensitive_systems_find_codes_in_any_case() {
        let mut v = animals();
        assert!(CodeSystemIndex::from_json(&v).find("DOG").is_none());
        v["caseSensitive"] = json!(false);
        assert_eq!(&*CodeSystemIndex::from_json(&v).find("DOG").unwrap().code, "dog");
    }

    #[test]
    fn supplements_add_designations_to_existing_concepts() {
        let cs = CodeSystemIndex::from_json(&animals());
        let sup = json!({"resourceType": "CodeSystem", "url": "http://example.org/animals-es",
            "content": "supplement", "supplements": "http://example.org/animals",
            "concept": [{"code": "dog", "designation": [{"language": "es", "value": "Perro"}]}]});
        let merged = cs.with_supplements(&[&sup]);
        let values: Vec<&str> = merged
            .find("dog")
            .unwrap()
            .designations
            .iter()
            .map(|d| &*d.value)
            .collect();
        assert_eq!(values, ["Cachorro", "Perro"]);
    }

    #[test]
    fn child_properties_link_like_parent_ones() {
        let cs = CodeSystemIndex::from_json(&json!({"url": "http://x", "concept": [
            {"code": "a", "property": [{"code": "child", "valueCode": "b"}]}, {"code": "b"}]}));
        assert!(cs.subsumes(cs.find_index("a").unwrap(), cs.find_index("b").unwrap()));
    }
}
