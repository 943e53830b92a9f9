//! The SearchParameter registry: every parameter by resource type and code,
//! and by canonical URL, with its FHIRPath expression compiled once.
//!
//! Parameters on `Resource` and `DomainResource` (`_id`, `_lastUpdated`,
//! `_tag`…) apply to every resource type that specializes them; a parameter
//! declared on the type itself with the same code wins.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::fhirpath::{Expression, ParseError};
use crate::model::definitions;
use crate::model::resource_type;

/// The base R4 SearchParameters, one JSON resource per line of a JSON array.
static R4_SEARCH_PARAMETERS: &str = include_str!("../../conformance/r4-search-parameters.json");

/// `SearchParameter.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    /// The `search-param-type` code (`token`, `reference`…).
    pub fn parse(code: &str) -> Option<ParamType> {
        Some(match code {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Date => "date",
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Composite => "composite",
            ParamType::Quantity => "quantity",
            ParamType::Uri => "uri",
            ParamType::Special => "special",
        }
    }
}

/// One component of a composite parameter, evaluated on each item the
/// composite's own expression selects.
#[derive(Debug, Clone)]
pub struct Component {
    /// Canonical URL of the component's SearchParameter.
    pub definition: String,
    pub expression: Expression,
    /// The type of the component's SearchParameter, resolved when the
    /// registry is built so extraction never looks it up.
    pub kind: ParamType,
}

/// A SearchParameter, ready to extract and to search with.
#[derive(Debug, Clone)]
pub struct SearchParam {
    pub url: String,
    pub code: String,
    pub base: Vec<String>,
    pub kind: ParamType,
    /// Compiled once. Parameters without an expression are not loaded, so
    /// this is `Some` for every parameter of a registry built here.
    pub expression: Option<Expression>,
    /// Resource types a reference parameter may point to.
    pub targets: Vec<String>,
    pub components: Vec<Component>,
    pub modifiers: Vec<String>,
    pub comparators: Vec<String>,
    pub chains: Vec<String>,
    /// Default `true`: SearchParameter leaves it to the server, and Ipê allows both.
    pub multiple_or: bool,
    pub multiple_and: bool,
}

/// A SearchParameter resource that cannot be used; names the parameter by
/// its URL (or id, or position in the input when it has neither).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("resource {parameter} is not a SearchParameter")]
    NotSearchParameter { parameter: String },
    #[error("SearchParameter {parameter}: missing {field}")]
    Missing { parameter: String, field: &'static str },
    #[error("SearchParameter {parameter}: unknown type '{code}'")]
    UnknownType { parameter: String, code: String },
    #[error("SearchParameter {parameter}: base '{base}' is not an R4 resource type")]
    UnknownBase { parameter: String, base: String },
    #[error("SearchParameter {parameter}: expression '{expression}': {source}")]
    Expression {
        parameter: String,
        expression: String,
        #[source]
        source: ParseError,
    },
    #[error("SearchParameter {parameter}: component {definition} is not a known SearchParameter")]
    UnknownComponent { parameter: String, definition: String },
    #[error("the embedded R4 SearchParameters are not a JSON array: {message}")]
    Embedded { message: String },
}

/// The parameters applying to one resource type.
#[derive(Debug, Default)]
struct TypeParams {
    by_code: HashMap<String, usize>,
    /// Indexes into `Registry::params`, own parameters first, then inherited ones.
    order: Vec<usize>,
}

/// SearchParameters by (resource type, code) and by URL.
#[derive(Debug, Default)]
pub struct Registry {
    params: Vec<SearchParam>,
    by_url: HashMap<String, usize>,
    /// Every R4 resource type (including `Resource` and `DomainResource`) and
    /// every other declared base, with inheritance already applied.
    by_type: HashMap<String, TypeParams>,
}

impl Registry {
    /// The base R4 parameters, built once. The spec's example parameters
    /// (`SearchParameter/example*`) are left out: they redefine `_id` and
    /// `Condition.subject` for illustration only. A base parameter Ipê cannot
    /// compile (one uses `hasExtension()`, which FHIRPath does not define) is
    /// logged and left out rather than costing every other parameter; the
    /// tests pin which ones.
    pub fn r4() -> &'static Registry {
        r4_shared()
    }

    /// [`r4`](Self::r4) as a shared handle, for a server that has no
    /// SearchParameters of its own (`crate::index::LiveRegistry`): one copy
    /// per process, however many servers it runs.
    pub fn r4_arc() -> Arc<Registry> {
        r4_shared().clone()
    }

    /// From SearchParameter resources (packages, REST later). Parameters
    /// without an expression are skipped (`_text`, `_content`, `_filter`:
    /// handled by search itself). Component definitions resolve against the
    /// given resources, then the base R4 parameters. A later parameter with
    /// the URL, or the base and code, of an earlier one replaces it.
    pub fn from_resources<'v>(resources: impl IntoIterator<Item = &'v Value>) -> Result<Registry, RegistryError> {
        build(resources, Some(Registry::r4()), &mut Err)
    }

    /// The parameter `code` of `resource_type`, including `Resource`/`DomainResource` ones (`_id`, `_lastUpdated`, `_tag`…).
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        let index = self.type_params(resource_type)?.by_code.get(code)?;
        self.params.get(*index)
    }

    /// Every parameter applying to `resource_type`.
    pub fn for_type<'r>(&'r self, resource_type: &'r str) -> impl Iterator<Item = &'r SearchParam> + 'r {
        self.type_params(resource_type)
            .map(|t| t.order.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|index| self.params.get(*index))
    }

    pub fn by_url(&self, url: &str) -> Option<&SearchParam> {
        self.by_url.get(url).and_then(|index| self.params.get(*index))
    }

    /// How many parameters the registry holds.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Types the registry has no entry for (not R4, never a declared base)
    /// get what applies to every resource.
    fn type_params(&self, resource_type: &str) -> Option<&TypeParams> {
        self.by_type.get(resource_type).or_else(|| self.by_type.get("Resource"))
    }
}

fn r4_shared() -> &'static Arc<Registry> {
    static REGISTRY: OnceLock<Arc<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let (registry, rejected) = load_r4(&[]);
        for error in rejected {
            tracing::warn!(%error, "R4 SearchParameter left out");
        }
        Arc::new(registry)
    })
}

/// The base R4 SearchParameter resources as shipped (empty if the embedded
/// file were not JSON, which the tests rule out).
pub fn r4_resources() -> Vec<Value> {
    serde_json::from_str(R4_SEARCH_PARAMETERS).unwrap_or_default()
}

impl Registry {
    /// The base R4 parameters and then `extra` (SearchParameters stored on
    /// the server), which replace base ones with the same URL, or the same
    /// base and code. Parameters that cannot be used are left out and
    /// returned with why.
    pub fn r4_with(extra: &[Value]) -> (Registry, Vec<RegistryError>) {
        load_r4(extra)
    }
}

/// The embedded parameters (then `extra`), and those left out with why. If
/// the embedded file were not JSON — which the tests rule out — the registry
/// is empty, so searches report unknown parameters rather than the server
/// failing writes.
fn load_r4(extra: &[Value]) -> (Registry, Vec<RegistryError>) {
    let resources: Vec<Value> = match serde_json::from_str(R4_SEARCH_PARAMETERS) {
        Ok(resources) => resources,
        Err(e) => {
            return (
                Registry::default(),
                vec![RegistryError::Embedded { message: e.to_string() }],
            )
        }
    };
    let is_example = |resource: &&Value| {
        text(resource, "url").is_some_and(|url| url.starts_with("http://hl7.org/fhir/SearchParameter/example"))
    };
    let mut rejected = Vec::new();
    let mut keep_going = |error| {
        rejected.push(error);
        Ok(())
    };
    let all = resources.iter().filter(|r| !is_example(r)).chain(extra);
    let registry = build(all, None, &mut keep_going);
    (registry.unwrap_or_default(), rejected)
}

/// Parses every resource, then indexes them by URL and by type. A parameter
/// that cannot be used goes to `on_error`, which stops the build by
/// returning the error or leaves the parameter out by returning `Ok`.
fn build<'v>(
    resources: impl IntoIterator<Item = &'v Value>,
    fallback: Option<&Registry>,
    on_error: &mut dyn FnMut(RegistryError) -> Result<(), RegistryError>,
) -> Result<Registry, RegistryError> {
    let resources: Vec<&Value> = resources.into_iter().collect();
    let kinds = declared_kinds(&resources);
    let component_kind = |url: &str| {
        kinds
            .get(url)
            .copied()
            .or_else(|| fallback.and_then(|registry| registry.by_url(url)).map(|p| p.kind))
    };
    let mut registry = Registry::default();
    for (position, resource) in resources.iter().enumerate() {
        match parse_param(resource, position, &component_kind) {
            Ok(Some(param)) => registry.insert(param),
            Ok(None) => {}
            Err(error) => on_error(error)?,
        }
    }
    registry.index_types();
    Ok(registry)
}

/// The type of every parameter in the batch, by URL, so composites can name
/// components that come later in it.
fn declared_kinds<'v>(resources: &[&'v Value]) -> HashMap<&'v str, ParamType> {
    resources
        .iter()
        .filter_map(|r| {
            let url = r.get("url")?.as_str()?;
            let kind = ParamType::parse(r.get("type")?.as_str()?)?;
            Some((url, kind))
        })
        .collect()
}

impl Registry {
    fn insert(&mut self, param: SearchParam) {
        match self.by_url.get(&param.url) {
            Some(&index) => self.params[index] = param,
            None => {
                self.by_url.insert(param.url.clone(), self.params.len());
                self.params.push(param);
            }
        }
    }

    /// Fills `by_type`: each type's own parameters, then those of
    /// `DomainResource` and `Resource` it inherits, skipping codes it defines.
    fn index_types(&mut self) {
        let mut declared: HashMap<&str, TypeParams> = HashMap::new();
        for (index, param) in self.params.iter().enumerate() {
            for base in &param.base {
                declared.entry(base).or_default().add(&param.code, index);
            }
        }
        let mut types: Vec<&str> = resource_type::ALL.to_vec();
        types.extend(["Resource", "DomainResource"]);
        let others: Vec<&str> = declared.keys().copied().filter(|t| !types.contains(t)).collect();
        types.extend(others);
        let mut by_type = HashMap::with_capacity(types.len());
        for type_name in types {
            let mut params = TypeParams::default();
            for ancestor in lineage(type_name) {
                if let Some(own) = declared.get(ancestor) {
                    for &index in &own.order {
                        let code = &self.params[index].code;
                        if !params.by_code.contains_key(code) {
                            params.add(code, index);
                        }
                    }
                }
            }
            by_type.insert(type_name.to_owned(), params);
        }
        self.by_type = by_type;
    }
}

impl TypeParams {
    /// Adds or replaces the parameter for `code`, keeping the first position.
    fn add(&mut self, code: &str, index: usize) {
        match self.by_code.insert(code.to_owned(), index) {
            Some(previous) => {
                if let Some(slot) = self.order.iter_mut().find(|i| **i == previous) {
                    *slot = index;
                }
            }
            None => self.order.push(index),
        }
    }
}

/// `type_name`, then the abstract resource types it specializes, nearest first.
fn lineage(type_name: &str) -> impl Iterator<Item = &str> {
    let model = definitions::r4();
    let domain = type_name != "DomainResource" && model.is_a(type_name, "DomainResource");
    let resource = type_name != "Resource";
    std::iter::once(type_name)
        .chain(domain.then_some("DomainResource"))
        .chain(resource.then_some("Resource"))
}

/// Whether search handles a `special` parameter: only `near`, whose
/// Location.position the index keeps as a (latitude, longitude) composite
/// row (`extract`'s `ParamType::Special`).
pub fn is_searchable_special(code: &str) -> bool {
    code == "near"
}

/// One SearchParameter resource; `None` when it has no expression (nothing
/// to extract: full-text and special parameters search handles itself).
fn parse_param(
    resource: &Value,
    position: usize,
    component_kind: &dyn Fn(&str) -> Option<ParamType>,
) -> Result<Option<SearchParam>, RegistryError> {
    let name = parameter_name(resource, position);
    if resource.get("resourceType").and_then(Value::as_str) != Some("SearchParameter") {
        return Err(RegistryError::NotSearchParameter { parameter: name });
    }
    let Some(expression_text) = resource.get("expression").and_then(Value::as_str) else {
        return Ok(None);
    };
    let missing = |field| RegistryError::Missing {
        parameter: name.clone(),
        field,
    };
    let url = text(resource, "url").ok_or_else(|| missing("url"))?;
    let code = text(resource, "code").ok_or_else(|| missing("code"))?;
    let type_code = text(resource, "type").ok_or_else(|| missing("type"))?;
    let kind = ParamType::parse(type_code).ok_or_else(|| RegistryError::UnknownType {
        parameter: name.clone(),
        code: type_code.to_owned(),
    })?;
    let base = strings(resource, "base");
    if base.is_empty() {
        return Err(missing("base"));
    }
    if let Some(unknown) = base.iter().find(|b| !definitions::r4().is_resource(b)) {
        return Err(RegistryError::UnknownBase {
            parameter: name,
            base: unknown.clone(),
        });
    }
    let expression = compile(&name, expression_text)?;
    let components = components(resource, &name, component_kind)?;
    Ok(Some(SearchParam {
        url: url.to_owned(),
        code: code.to_owned(),
        base,
        kind,
        expression: Some(expression),
        targets: strings(resource, "target"),
        components,
        modifiers: strings(resource, "modifier"),
        comparators: strings(resource, "comparator"),
        chains: strings(resource, "chain"),
        multiple_or: flag(resource, "multipleOr"),
        multiple_and: flag(resource, "multipleAnd"),
    }))
}

fn components(
    resource: &Value,
    name: &str,
    component_kind: &dyn Fn(&str) -> Option<ParamType>,
) -> Result<Vec<Component>, RegistryError> {
    let Some(list) = resource.get("component").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|component| {
            let missing = |field| RegistryError::Missing {
                parameter: name.to_owned(),
                field,
            };
            let definition = text(component, "definition").ok_or_else(|| missing("component.definition"))?;
            let expression = text(component, "expression").ok_or_else(|| missing("component.expression"))?;
            let kind = component_kind(definition).ok_or_else(|| RegistryError::UnknownComponent {
                parameter: name.to_owned(),
                definition: definition.to_owned(),
            })?;
            Ok(Component {
                definition: definition.to_owned(),
                expression: compile(name, expression)?,
                kind,
            })
        })
        .collect()
}

fn compile(name: &str, expression: &str) -> Result<Expression, RegistryError> {
    Expression::compile(expression).map_err(|source| RegistryError::Expression {
        parameter: name.to_owned(),
        expression: expression.to_owned(),
        source,
    })
}

fn parameter_name(resource: &Value, position: usize) -> String {
    text(resource, "url")
        .or_else(|| text(resource, "id"))
        .map_or_else(|| format!("#{position}"), str::to_owned)
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn embedded() -> Vec<Value> {
        serde_json::from_str(R4_SEARCH_PARAMETERS).expect("embedded JSON")
    }

    /// The whole embedded file loads: a parameter dropped silently (or a
    /// broken file turning into an empty registry) would make searches on it
    /// fail as "unknown parameter".
    #[test]
    fn r4_loads_every_parameter_with_an_expression_except_the_examples() {
        let all = embedded();
        assert_eq!(all.len(), 1400);
        let with_expression = all.iter().filter(|p| p.get("expression").is_some()).count();
        assert_eq!(with_expression, 1384);
        let (registry, rejected) = load_r4(&[]);
        // The one base parameter using a function FHIRPath does not define.
        let item_subject =
            "http://hl7.org/fhir/SearchParameter/questionnaireresponse-extensions-QuestionnaireResponse-item-subject";
        assert!(
            matches!(rejected.as_slice(), [RegistryError::Expression { parameter, source, .. }]
                if parameter == item_subject && source.message.contains("hasExtension")),
            "{rejected:?}"
        );
        // Less example, example-extension and example-reference.
        assert_eq!(registry.len(), with_expression - 3 - rejected.len());
        assert_eq!(Registry::r4().len(), registry.len());
        assert!(Registry::r4()
            .by_url("http://hl7.org/fhir/SearchParameter/example")
            .is_none());
    }

    #[test]
    fn a_type_finds_its_own_parameters() {
        let name = Registry::r4().get("Patient", "name").expect("Patient.name");
        assert_eq!(name.kind, ParamType::String);
        assert_eq!(name.url, "http://hl7.org/fhir/SearchParameter/Patient-name");
        assert_eq!(name.expression.as_ref().map(Expression::text), Some("Patient.name"));
        assert!(Registry::r4().get("Patient", "code").is_none());
    }

    /// `_id`, `_lastUpdated`… are declared once on `Resource` and must be
    /// found on every type, including those that are not DomainResources.
    #[test]
    fn resource_parameters_apply_to_every_type() {
        let r4 = Registry::r4();
        let updated = r4.get("Observation", "_lastUpdated").expect("_lastUpdated");
        assert_eq!(updated.kind, ParamType::Date);
        assert_eq!(updated.base, ["Resource"]);
        assert!(r4.get("Bundle", "_id").is_some());
        assert!(r4.get("Binary", "_tag").is_some());
        let codes: Vec<&str> = r4.for_type("Observation").map(|p| p.code.as_str()).collect();
        for code in [
            "code",
            "patient",
            "_id",
            "_lastUpdated",
            "_tag",
            "_profile",
            "_security",
            "_source",
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        assert_eq!(codes.iter().filter(|c| **c == "_id").count(), 1);
    }

    /// The spec's example parameter redefining Condition.subject (targets
    /// Organization) must not replace the real one.
    #[test]
    fn base_definitions_are_not_replaced_by_spec_examples() {
        let subject = Registry::r4().get("Condition", "subject").expect("subject");
        assert_eq!(subject.url, "http://hl7.org/fhir/SearchParameter/Condition-subject");
        assert_eq!(subject.targets, ["Group", "Patient"]);
    }

    #[test]
    fn composites_have_their_components_resolved() {
        let param = Registry::r4()
            .get("Observation", "code-value-quantity")
            .expect("code-value-quantity");
        assert_eq!(param.kind, ParamType::Composite);
        assert!(!param.multiple_or);
        let kinds: Vec<ParamType> = param.components.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [ParamType::Token, ParamType::Quantity]);
        assert_eq!(
            param.components[0].definition,
            "http://hl7.org/fhir/SearchParameter/clinical-code"
        );
        assert_eq!(param.components[1].expression.text(), "value.as(Quantity)");
    }

    #[test]
    fn parameters_without_expression_are_not_loaded() {
        assert!(Registry::r4().get("Patient", "_text").is_none());
        assert!(Registry::r4().get("Patient", "_content").is_none());
    }

    fn custom(code: &str, expression: &str) -> Value {
        json!({
            "resourceType": "SearchParameter",
            "url": format!("http://example.org/SearchParameter/{code}"),
            "code": code,
            "base": ["Patient"],
            "type": "token",
            "expression": expression,
        })
    }

    #[test]
    fn a_bad_expression_is_an_error_naming_the_parameter() {
        let good = custom("good", "Patient.gender");
        let bad = custom("bad", "Patient.name.where(");
        let error = Registry::from_resources([&good, &bad]).expect_err("bad expression");
        assert!(matches!(&error, RegistryError::Expression { parameter, .. }
            if parameter == "http://example.org/SearchParameter/bad"));
        assert!(error.to_string().contains("http://example.org/SearchParameter/bad"));
    }

    #[test]
    fn unknown_type_base_and_component_are_errors() {
        let mut wrong_type = custom("t", "Patient.gender");
        wrong_type["type"] = json!("fuzzy");
        assert!(matches!(
            Registry::from_resources([&wrong_type]),
            Err(RegistryError::UnknownType { .. })
        ));
        let mut wrong_base = custom("b", "Patient.gender");
        wrong_base["base"] = json!(["Patient", "Spaceship"]);
        assert!(matches!(
            Registry::from_resources([&wrong_base]),
            Err(RegistryError::UnknownBase { base, .. }) if base == "Spaceship"
        ));
        let mut composite = custom("c", "Patient");
        composite["type"] = json!("composite");
        composite["component"] = json!([{"definition": "http://example.org/nowhere", "expression": "gender"}]);
        assert!(matches!(
            Registry::from_resources([&composite]),
            Err(RegistryError::UnknownComponent { definition, .. }) if definition == "http://example.org/nowhere"
        ));
    }

    /// Packages (US Core…) add parameters whose composites point at base R4
    /// ones, and still see `_id` & co. on their types.
    #[test]
    fn custom_registries_resolve_components_against_r4_and_inherit_nothing_else() {
        let mut composite = custom("gender-name", "Patient");
        composite["type"] = json!("composite");
        composite["component"] = json!([
            {"definition": "http://hl7.org/fhir/SearchParameter/individual-gender", "expression": "gender"},
            {"definition": "http://example.org/SearchParameter/good", "expression": "name"},
        ]);
        let good = custom("good", "Patient.gender");
        let registry = Registry::from_resources([&composite, &good]).expect("valid");
        let param = registry.get("Patient", "gender-name").expect("composite");
        assert_eq!(param.components[0].kind, ParamType::Token);
        assert_eq!(param.components[1].kind, ParamType::Token);
        assert_eq!(registry.for_type("Patient").count(), 2);
        assert!(registry.get("Observation", "good").is_none());
    }

    #[test]
    fn a_later_parameter_with_the_same_base_and_code_replaces_the_earlier() {
        let first = custom("same", "Patient.gender");
        let mut second = custom("same", "Patient.active");
        second["url"] = json!("http://example.org/other");
        let registry = Registry::from_resources([&first, &second]).expect("valid");
        assert_eq!(
            registry.get("Patient", "same").map(|p| p.url.as_str()),
            Some("http://example.org/other")
        );
        assert_eq!(registry.for_type("Patient").count(), 1);
    }

    #[test]
    fn param_type_codes_round_trip() {
        for code in [
            "number",
            "date",
            "string",
            "token",
            "reference",
            "composite",
            "quantity",
            "uri",
            "special",
        ] {
            assert_eq!(ParamType::parse(code).map(ParamType::as_str), Some(code));
        }
        assert_eq!(ParamType::parse("Token"), None);
    }
}
