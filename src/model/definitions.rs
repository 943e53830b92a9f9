//! The R4 type model: every base type (resources, complex and primitive
//! datatypes, and the abstract types they build on), the type each one
//! specializes, and the elements of each with their types, cardinality and
//! flags.
//!
//! Read from `conformance/r4-elements.tsv`, which `scripts/build-conformance.py`
//! generates from the StructureDefinition snapshots of the R4 package. Used
//! wherever Ipê needs to know what a JSON property is: `_summary`/`_elements`,
//! and FHIRPath navigation and type tests (`Observation.value` finds
//! `valueQuantity` and knows it is a `Quantity`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FNV-1a: the keys are short names looked up on every FHIRPath step, where
/// SipHash's DoS resistance buys nothing (the table is fixed at build time)
/// and costs a third of the lookup.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The embedded table (see the generating script for the format).
static ELEMENTS_TSV: &str = include_str!("../../conformance/r4-elements.tsv");

/// What a StructureDefinition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PrimitiveType,
    ComplexType,
    Resource,
}

/// One base type.
#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The type this one specializes (`DomainResource` for `Patient`).
    pub base: Option<&'static str>,
    pub is_abstract: bool,
    /// Elements grouped by parent path ("" for the type's own children,
    /// `contact` for those of the backbone element `Patient.contact`).
    by_parent: FastMap<&'static str, Vec<ElementDef>>,
}

impl TypeDef {
    /// The element spelled `key` in JSON (`valueQuantity` and `_birthDate` included) under `parent`.
    pub fn child(&self, parent: &str, key: &str) -> Option<&ElementDef> {
        self.by_parent.get(parent)?.iter().find(|e| e.matches(key))
    }

    /// The element named `name` as the definition names it (`value` for `value[x]`).
    pub fn element(&self, parent: &str, name: &str) -> Option<&ElementDef> {
        self.by_parent.get(parent)?.iter().find(|e| e.name == name)
    }

    /// The elements directly under `parent`, in definition order.
    pub fn children(&self, parent: &str) -> &[ElementDef] {
        self.by_parent.get(parent).map_or(&[], Vec::as_slice)
    }

    /// The table's own copy of a parent path (`contact` of `Patient`), for
    /// callers that need it to outlive their borrowed path.
    pub fn parent_path(&self, parent: &str) -> Option<&'static str> {
        self.by_parent.get_key_value(parent).map(|(k, _)| *k)
    }
}

/// One element of a type.
#[derive(Debug)]
pub struct ElementDef {
    /// The last path segment without `[x]`: `value` for `value[x]`.
    pub name: &'static str,
    /// Whether the name is a choice (`value[x]`) spelled `valueQuantity` etc. in JSON.
    pub choice: bool,
    /// Comma-separated type codes; `#path` for an element defined by reference.
    types: &'static str,
    pub min: u32,
    /// Whether the element repeats (max > 1).
    pub many: bool,
    pub summary: bool,
    pub modifier: bool,
    /// For elements with children of their own (backbone elements), the path
    /// whose children they have: their own, or for an element defined by
    /// reference (`Questionnaire.item.item`) the referenced one (`item`).
    pub children: Option<&'static str>,
    /// The definition of the single type, looked up once.
    resolved: OnceLock<Option<&'static TypeDef>>,
}

impl ElementDef {
    /// Whether this element is spelled `key` in JSON (`_key` included).
    pub fn matches(&self, key: &str) -> bool {
        let key = key.strip_prefix('_').unwrap_or(key);
        if !self.choice {
            return key == self.name;
        }
        self.choice_type(key).is_some()
    }

    /// For a choice element, the type a JSON key names: `Quantity` for
    /// `valueQuantity`. `None` if the key is not one of this element's.
    pub fn choice_type(&self, key: &str) -> Option<&'static str> {
        let suffix = key.strip_prefix(self.name)?;
        self.type_codes().find(|code| is_capitalized(code, suffix))
    }

    /// The type codes (`Quantity`, `string`…); empty for an element defined by reference.
    pub fn type_codes(&self) -> impl Iterator<Item = &'static str> {
        let types = if self.types.starts_with('#') { "" } else { self.types };
        types.split(',').filter(|code| !code.is_empty())
    }

    /// The definition of [`type_code`](Self::type_code), cached on the element.
    pub fn type_def(&'static self) -> Option<&'static TypeDef> {
        *self.resolved.get_or_init(|| r4().get(self.type_code()))
    }

    /// The single type of a non-choice element: `BackboneElement` for backbone
    /// elements (also those defined by reference).
    pub fn type_code(&self) -> &'static str {
        if self.types.starts_with('#') {
            return "BackboneElement";
        }
        self.type_codes().next().unwrap_or("Element")
    }
}

/// `suffix` is `code` with its first letter upper-cased (`dateTime` → `DateTime`).
fn is_capitalized(code: &str, suffix: &str) -> bool {
    let mut code_chars = code.chars();
    let mut suffix_chars = suffix.chars();
    match (code_chars.next(), suffix_chars.next()) {
        (Some(c), Some(s)) => c.to_ascii_uppercase() == s && code_chars.eq(suffix_chars),
        _ => false,
    }
}

/// All R4 base types by name.
#[derive(Debug, Default)]
pub struct Definitions {
    types: FastMap<&'static str, TypeDef>,
}

impl Definitions {
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// Whether `name` is `ancestor` or specializes it, directly or not
    /// (`Age` is a `Quantity`; `Patient` is a `DomainResource` and a `Resource`).
    pub fn is_a(&self, name: &str, ancestor: &str) -> bool {
        let mut current = Some(name);
        // The chain is at most five deep in R4; the bound guards a broken table.
        for _ in 0..16 {
            match current {
                Some(n) if n == ancestor => return true,
                Some(n) => current = self.types.get(n).and_then(|t| t.base),
                None => return false,
            }
        }
        false
    }

    pub fn is_resource(&self, name: &str) -> bool {
        self.get(name).is_some_and(|t| t.kind == Kind::Resource)
    }
}

/// The R4 definitions. If the embedded table were broken — which the tests
/// rule out — the error is logged once and the model is empty, so callers
/// degrade (FHIRPath falls back to untyped JSON) rather than fail requests.
pub fn r4() -> &'static Definitions {
    static TABLE: OnceLock<Definitions> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse_table(ELEMENTS_TSV).unwrap_or_else(|error| {
            tracing::error!(%error, "R4 type table unusable");
            Definitions::default()
        })
    })
}

#[derive(Debug, thiserror::Error)]
#[error("conformance/r4-elements.tsv line {line}: {problem}")]
struct TableError {
    line: usize,
    problem: &'static str,
}

fn parse_table(text: &'static str) -> Result<Definitions, TableError> {
    let mut types: FastMap<&'static str, TypeDef> = FastMap::default();
    let mut current: Option<&'static str> = None;
    for (index, line) in text.lines().enumerate() {
        let error = |problem| TableError {
            line: index + 1,
            problem,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(element_line) = line.strip_prefix('\t') else {
            let def = parse_type_line(line).ok_or_else(|| error("bad type line"))?;
            current = Some(def.name);
            types.insert(def.name, def);
            continue;
        };
        let type_name = current.ok_or_else(|| error("element before any type"))?;
        let (parent, element) = parse_element(element_line).ok_or_else(|| error("bad element"))?;
        types
            .get_mut(type_name)
            .ok_or_else(|| error("unknown type"))?
            .by_parent
            .entry(parent)
            .or_default()
            .push(element);
    }
    for def in types.values_mut() {
        mark_backbones(def);
    }
    Ok(Definitions { types })
}

/// `Name kind base [abstract]`.
fn parse_type_line(line: &'static str) -> Option<TypeDef> {
    let mut fields = line.split('\t');
    let name = fields.next()?;
    let kind = match fields.next()? {
        "primitive-type" => Kind::PrimitiveType,
        "complex-type" => Kind::ComplexType,
        "resource" => Kind::Resource,
        _ => return None,
    };
    let base = Some(fields.next()?).filter(|base| *base != "-");
    let is_abstract = fields.next() == Some("abstract");
    Some(TypeDef {
        name,
        kind,
        base,
        is_abstract,
        by_parent: FastMap::default(),
    })
}

/// One element line: `path min max flags types`. Returns its parent path too.
fn parse_element(line: &'static str) -> Option<(&'static str, ElementDef)> {
    let mut fields = line.split('\t');
    let path = fields.next()?;
    let min = fields.next()?.parse().ok()?;
    let max = fields.next()?;
    let flags = fields.next()?;
    let types = fields.next()?;
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let (name, choice) = match last.strip_suffix("[x]") {
        Some(base) => (base, true),
        None => (last, false),
    };
    // `#Questionnaire.item`: reuse the children of `item`.
    let children = types
        .strip_prefix('#')
        .map(|target| target.split_once('.').map_or(target, |(_, path)| path));
    Some((
        parent,
        ElementDef {
            name,
            choice,
            types,
            min,
            many: max != "0" && max != "1",
            summary: flags.contains('S'),
            modifier: flags.contains('M'),
            children,
            resolved: OnceLock::new(),
        },
    ))
}

/// Gives every element that has child elements its own path as `children`.
fn mark_backbones(def: &mut TypeDef) {
    let parents: Vec<&'static str> = def.by_parent.keys().copied().collect();
    for parent in parents {
        let Some((grand, last)) = split_parent(parent) else {
            continue;
        };
        if let Some(element) = def
            .by_parent
            .get_mut(grand)
            .and_then(|siblings| siblings.iter_mut().find(|e| e.name == last))
        {
            element.children = Some(parent);
        }
    }
}

fn split_parent(path: &'static str) -> Option<(&'static str, &'static str)> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('.').unwrap_or(("", path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_covers_every_r4_resource_type() {
        let table = parse_table(ELEMENTS_TSV).expect("table parses");
        let resources = table
            .types
            .values()
            .filter(|t| t.kind == Kind::Resource && !t.is_abstract)
            .count();
        assert_eq!(resources, 146);
        for name in crate::model::resource_type::ALL {
            assert!(table.is_resource(name), "{name} missing");
        }
    }

    #[test]
    fn datatypes_and_their_ancestry_are_known() {
        let defs = r4();
        assert!(defs.is_a("Age", "Quantity"));
        assert!(defs.is_a("Patient", "DomainResource"));
        assert!(defs.is_a("Bundle", "Resource"));
        assert!(!defs.is_a("Bundle", "DomainResource"));
        assert!(defs.is_a("code", "string"));
        assert_eq!(defs.get("string").map(|t| t.kind), Some(Kind::PrimitiveType));
        let name = defs
            .get("HumanName")
            .and_then(|t| t.element("", "given"))
            .expect("HumanName.given");
        assert!(name.many);
        assert_eq!(name.type_code(), "string");
    }

    #[test]
    fn choice_elements_name_their_type_by_json_key() {
        let obs = r4().get("Observation").expect("Observation");
        let value = obs.element("", "value").expect("value[x]");
        assert!(value.choice);
        assert_eq!(value.choice_type("valueQuantity"), Some("Quantity"));
        assert_eq!(value.choice_type("valueDateTime"), Some("dateTime"));
        assert_eq!(value.choice_type("valueFoo"), None);
        assert!(obs.child("", "_valueString").is_some());
    }

    #[test]
    fn elements_defined_by_reference_reuse_the_referenced_children() {
        let q = r4().get("Questionnaire").expect("Questionnaire");
        let nested = q.element("item", "item").expect("item.item");
        assert_eq!(nested.children, Some("item"));
        assert_eq!(nested.type_code(), "BackboneElement");
        assert!(q.element("item", "linkId").is_some());
    }
}
