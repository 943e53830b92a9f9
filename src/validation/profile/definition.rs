//! A StructureDefinition compiled for validation, once per definition and
//! kept while the registry holds the same version: the snapshot tree (ids
//! place elements, see [`Tree`]) and, per element, what the walk checks —
//! cardinality, types, fixed / pattern / min / max values, maxLength,
//! slicing, and the invariants with their FHIRPath already compiled.

use serde_json::Value;

use crate::fhirpath::Expression;
use crate::outcome::Severity;
use crate::validation::bindings::tree::Tree;

/// The FHIRPath System types the snapshot uses for `id`, `url` and the
/// `value` of primitives, and the FHIR type each stands for.
const SYSTEM_TYPES: &[(&str, &str)] = &[
    ("http://hl7.org/fhirpath/System.String", "string"),
    ("http://hl7.org/fhirpath/System.Boolean", "boolean"),
    ("http://hl7.org/fhirpath/System.Integer", "integer"),
    ("http://hl7.org/fhirpath/System.Decimal", "decimal"),
    ("http://hl7.org/fhirpath/System.Date", "date"),
    ("http://hl7.org/fhirpath/System.DateTime", "dateTime"),
    ("http://hl7.org/fhirpath/System.Time", "time"),
];

/// One compiled definition; `rules[i]` describes `tree.nodes[i]`.
#[derive(Debug)]
pub(crate) struct Definition {
    pub tree: Tree,
    pub rules: Vec<Rule>,
    /// `StructureDefinition.type` (`Patient`, `Extension`, `HumanName`).
    pub type_name: String,
    /// `kind` = resource.
    pub is_resource: bool,
    /// The root element's `isModifier` (for extension definitions).
    pub is_modifier: bool,
    /// `context` (extension definitions): (type, expression).
    pub context: Vec<(String, String)>,
    /// The `fhirpath` contexts, compiled (`None` where they do not compile).
    pub fhirpath_contexts: Vec<Option<Expression>>,
    /// `contextInvariant`s, compiled.
    pub context_invariants: Vec<Expression>,
}

/// An allowed type of an element.
#[derive(Debug, Clone)]
pub(crate) struct TypeRef {
    /// A FHIR type code (`Quantity`, `string`; System types mapped).
    pub code: String,
    pub profiles: Vec<String>,
    pub target_profiles: Vec<String>,
}

/// One invariant (`ElementDefinition.constraint`).
#[derive(Debug)]
pub(crate) struct Constraint {
    pub key: String,
    pub severity: Severity,
    pub human: String,
    pub expression: Result<Expression, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlicingRules {
    Open,
    Closed,
    OpenAtEnd,
}

#[derive(Debug)]
pub(crate) struct Discriminator {
    /// `value`, `pattern`, `type`, `profile` or `exists`.
    pub kind: String,
    /// The path as written (`code`, `$this`, `resolve()`, `extension('x').value`).
    pub path: String,
    /// Property steps when the path is only that (`code.coding`); `$this` is none.
    pub steps: Option<Vec<String>>,
    /// The compiled path otherwise.
    pub expression: Option<Expression>,
    /// The path ends in `resolve()`: `steps` / `expression` select
    /// references, and the walk resolves them itself (contained resources,
    /// Bundle entries).
    pub resolves: bool,
}

#[derive(Debug)]
pub(crate) struct Slicing {
    pub discriminators: Vec<Discriminator>,
    pub ordered: bool,
    pub rules: SlicingRules,
}

/// What the walk checks at one element.
#[derive(Debug)]
pub(crate) struct Rule {
    pub path: String,
    pub slice_name: Option<String>,
    pub min: u32,
    /// `None` for `*`.
    pub max: Option<u32>,
    /// Whether the base element repeats, so JSON carries an array.
    pub repeats: bool,
    pub types: Vec<TypeRef>,
    pub fixed: Option<Value>,
    pub pattern: Option<Value>,
    pub min_value: Option<Value>,
    pub max_value: Option<Value>,
    pub max_length: Option<usize>,
    /// The `minLength` extension of the element definition.
    pub min_length: Option<usize>,
    /// The `elementdefinition-mustHaveValue` extension: a primitive here
    /// needs a value, extensions alone do not do.
    pub must_have_value: bool,
    pub constraints: Vec<Constraint>,
    pub slicing: Option<Slicing>,
    /// `contentReference` target, as an element id (`Questionnaire.item`).
    pub content_reference: Option<String>,
}

impl Rule {
    /// The single type, if the element has exactly one.
    pub fn single_type(&self) -> Option<&str> {
        match self.types.as_slice() {
            [one] => Some(&one.code),
            _ => None,
        }
    }

    pub fn type_ref(&self, code: &str) -> Option<&TypeRef> {
        self.types.iter().find(|t| t.code == code)
    }

    pub fn max_label(&self) -> String {
        self.max.map_or_else(|| "*".to_owned(), |m| m.to_string())
    }
}

impl Definition {
    /// `None` when the definition has no snapshot.
    pub fn compile(definition: &Value) -> Option<Definition> {
        let tree = Tree::from_definition(definition)?;
        let rules = tree.nodes.iter().map(|n| rule(&n.element)).collect();
        let s = |k: &str| definition.get(k).and_then(Value::as_str).unwrap_or_default();
        let context: Vec<(String, String)> = definition
            .get("context")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                (s("type"), s("expression"))
            })
            .collect();
        let is_modifier = tree.node(0).element.get("isModifier").and_then(Value::as_bool) == Some(true);
        let fhirpath_contexts = context
            .iter()
            .filter(|(kind, _)| kind == "fhirpath")
            .map(|(_, e)| Expression::compile(e).ok())
            .collect();
        let context_invariants = strings(definition.get("contextInvariant"))
            .iter()
            .filter_map(|e| Expression::compile(e).ok())
            .collect();
        Some(Definition {
            type_name: s("type").to_owned(),
            is_resource: s("kind") == "resource",
            is_modifier,
            context,
            fhirpath_contexts,
            context_invariants,
            tree,
            rules,
        })
    }

    pub fn url(&self) -> &str {
        &self.tree.url
    }

    pub fn rule(&self, at: usize) -> &Rule {
        &self.rules[at]
    }
}

fn rule(e: &Value) -> Rule {
    let s = |k: &str| e.get(k).and_then(Value::as_str);
    let value_of = |prefix: &str| {
        e.as_object()?
            .iter()
            .find(|(k, _)| {
                k.strip_prefix(prefix)
                    .is_some_and(|t| t.starts_with(char::is_uppercase))
            })
            .map(|(_, v)| v.clone())
    };
    let base_max = e.pointer("/base/max").and_then(Value::as_str).or(s("max"));
    Rule {
        path: s("path").unwrap_or_default().to_owned(),
        slice_name: s("sliceName").map(str::to_owned),
        min: e.get("min").and_then(Value::as_u64).map_or(0, |m| m as u32),
        max: s("max").and_then(|m| m.parse().ok()),
        repeats: base_max.is_some_and(|m| m != "1" && m != "0"),
        types: types(e),
        fixed: value_of("fixed"),
        pattern: value_of("pattern"),
        min_value: value_of("minValue"),
        max_value: value_of("maxValue"),
        max_length: e.get("maxLength").and_then(Value::as_u64).map(|m| m as usize),
        min_length: extension(e, MIN_LENGTH)
            .and_then(|x| x.get("valueInteger"))
            .and_then(Value::as_u64)
            .map(|m| m as usize),
        must_have_value: extension(e, MUST_HAVE_VALUE).and_then(|x| x.get("valueBoolean")) == Some(&Value::Bool(true)),
        constraints: constraints(e),
        slicing: e.get("slicing").map(slicing),
        content_reference: s("contentReference").map(|r| r.rsplit('#').next().unwrap_or(r).to_owned()),
    }
}

const MIN_LENGTH: &str = "http://hl7.org/fhir/StructureDefinition/minLength";
const MUST_HAVE_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/elementdefinition-mustHaveValue";

/// The element definition's extension of that url.
fn extension<'e>(e: &'e Value, url: &str) -> Option<&'e Value> {
    e.get("extension")?
        .as_array()?
        .iter()
        .find(|x| x.get("url").and_then(Value::as_str) == Some(url))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn types(e: &Value) -> Vec<TypeRef> {
    let list = e.get("type").and_then(Value::as_array).into_iter().flatten();
    list.filter_map(|t| {
        let code = t.get("code").and_then(Value::as_str)?;
        let code = match SYSTEM_TYPES.iter().find(|(system, _)| *system == code) {
            // The fhir-type extension says which FHIR type it stands for
            // (`Element.id` is `string`, `Resource.id` is `id`).
            Some((_, fhir)) => t
                .get("extension")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|x| x.get("valueUrl").or(x.get("valueUri")).and_then(Value::as_str))
                .unwrap_or(fhir),
            None => code,
        };
        Some(TypeRef {
            code: code.to_owned(),
            profiles: strings(t.get("profile")),
            target_profiles: strings(t.get("targetProfile")),
        })
    })
    .collect()
}

/// Checked natively by the walk: ele-1 and ext-1 (every element has ele-1:
/// evaluating it through FHIRPath would dominate the cost), txt-1 and txt-2
/// (`htmlChecks()` is the validator's own, not FHIRPath's), dom-3 (its
/// expression applies `as()` to collections, which FHIRPath N1 makes an
/// error and the Java validator tolerates).
pub(crate) const NATIVE: &[&str] = &["ele-1", "ext-1", "txt-1", "txt-2", "dom-3"];

fn constraints(e: &Value) -> Vec<Constraint> {
    let list = e.get("constraint").and_then(Value::as_array).into_iter().flatten();
    list.filter_map(|c| {
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        let key = s("key")?;
        if NATIVE.contains(&key) {
            return None;
        }
        let text = s("expression")?;
        Some(Constraint {
            key: key.to_owned(),
            severity: match s("severity") {
                Some("warning") => Severity::Warning,
                _ => Severity::Error,
            },
            human: s("human").unwrap_or_default().to_owned(),
            expression: Expression::compile(text).map_err(|e| e.to_string()),
        })
    })
    .collect()
}

fn slicing(s: &Value) -> Slicing {
    let discriminators = s
        .get("discriminator")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let path = d.get("path").and_then(Value::as_str).unwrap_or("$this").to_owned();
            let (selected, resolves) = match path.strip_suffix("resolve()") {
                Some(prefix) => (prefix.strip_suffix('.').unwrap_or("$this"), true),
                None => (path.as_str(), false),
            };
            let selected = if selected.is_empty() { "$this" } else { selected };
            // `$this.name` is `name`.
            let selected = selected.strip_prefix("$this.").unwrap_or(selected);
            let steps: Option<Vec<String>> = if selected == "$this" {
                Some(Vec::new())
            } else {
                selected
                    .split('.')
                    .map(|step| {
                        step.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                            .then(|| step.to_owned())
                    })
                    .collect()
            };
            let expression = match steps {
                Some(_) => None,
                None => Expression::compile(selected).ok(),
            };
            Discriminator {
                kind: d.get("type").and_then(Value::as_str).unwrap_or("value").to_owned(),
                path,
                steps,
                expression,
                resolves,
            }
        })
        .collect();
    Slicing {
        discriminators,
        ordered: s.get("ordered").and_then(Value::as_bool) == Some(true),
        rules: match s.get("rules").and_then(Value::as_str) {
            Some("closed") => SlicingRules::Closed,
            Some("openAtEnd") => SlicingRules::OpenAtEnd,
            _ => SlicingRules::Open,
        },
    }
}
