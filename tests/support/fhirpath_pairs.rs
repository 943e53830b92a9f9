//! The FHIRPath work both `benches/fhirpath.rs` and `tests/fhirpath_diff.rs`
//! run: every R4 SearchParameter expression on every resource of the 78
//! Synthea Bundles, through Ipê's engine and through `rh-fhirpath`.
//!
//! # Pairs
//!
//! The unit of work is a (resource, SearchParameter) pair: for each resource,
//! each SearchParameter that has an `expression` and whose `base` names the
//! resource's type, `Resource`, or `DomainResource` (for the resource types
//! that are DomainResources). The whole expression is evaluated with the
//! resource as input (and so as `%resource` and `%context`), unions over other
//! types included (`Patient.name | Practitioner.name` on a Patient), as a
//! server indexing that resource would.
//!
//! # Normalized results
//!
//! To compare engines, a result collection becomes a JSON array, in the
//! collection's order:
//!
//! - a FHIR element (a node of the resource): its JSON value as it stands in
//!   the resource (an object, string, number or boolean);
//! - System.Boolean: a JSON boolean; System.Integer and System.Decimal: a JSON
//!   number (decimals keep their digits: `1.50` stays `1.50`);
//! - System.String: a JSON string; System.Date, DateTime and Time: their
//!   string form, without the `@` of a literal;
//! - System.Quantity: `{"value": <number>, "unit": <string>}`, without `unit`
//!   when the quantity has none.
//!
//! [`same_results`] then compares two such arrays element by element, in
//! order (FHIRPath collections are ordered), with exactly one leniency:
//! numbers, anywhere (nested in objects too), are equal when their decimal
//! values are (`1.0 == 1.00 == 1`, `1e2 == 100`). Object members are
//! compared by name, whatever their order.

// The bench and the test each use only part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

const SYNTHEA: &str = "synthea/synthea-r4-dev-78.tar.gz";
const SEARCH_PARAMETERS: &str = "conformance/r4-search-parameters.json";
/// The R4 resource types that are not DomainResources.
const NOT_DOMAIN_RESOURCES: &[&str] = &["Binary", "Bundle", "Parameters"];

/// The outside test data folder (`IPE_TEST_DATA`, default `../shared/fhir`
/// from the crate root). Panics, naming the path, when it is missing.
pub fn test_data() -> PathBuf {
    let dir = std::env::var("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.join(SYNTHEA).is_file(),
        "outside FHIR test data not found: no {} under {} (set IPE_TEST_DATA)",
        SYNTHEA,
        dir.display()
    );
    dir
}

/// An R4 SearchParameter with an expression.
pub struct SearchParam {
    pub id: String,
    pub code: String,
    pub expression: String,
    pub bases: Vec<String>,
}

/// The resources, the search parameters, and which parameters apply to
/// which resource type.
pub struct Workload {
    pub resources: Vec<Value>,
    pub params: Vec<SearchParam>,
    /// Indexes into `params`, per resource type present in `resources`.
    by_type: HashMap<String, Vec<usize>>,
}

impl Workload {
    /// Loads the resources of the first `bundle_limit` Synthea Bundles (in
    /// file name order; all when `None`) and all the search parameters.
    pub fn load(bundle_limit: Option<usize>) -> Workload {
        let resources = load_synthea_resources(bundle_limit);
        let params = load_search_parameters();
        let mut by_type = HashMap::new();
        for resource in &resources {
            let rtype = resource_type(resource);
            if !by_type.contains_key(rtype) {
                by_type.insert(rtype.to_string(), params_applying_to(&params, rtype));
            }
        }
        Workload {
            resources,
            params,
            by_type,
        }
    }

    /// Indexes into `params` of the parameters evaluated on `resource`.
    pub fn params_for(&self, resource: &Value) -> &[usize] {
        self.by_type.get(resource_type(resource)).map_or(&[], Vec::as_slice)
    }

    /// The number of (resource, parameter) pairs.
    pub fn pair_count(&self) -> usize {
        self.resources.iter().map(|r| self.params_for(r).len()).sum()
    }

    /// Resource type -> indexes into `params`, for the types present.
    pub fn params_by_type(&self) -> &HashMap<String, Vec<usize>> {
        &self.by_type
    }
}

pub fn resource_type(resource: &Value) -> &str {
    resource["resourceType"].as_str().unwrap_or("")
}

/// `Type/id` of a resource, to name it in messages.
pub fn resource_ref(resource: &Value) -> String {
    format!("{}/{}", resource_type(resource), resource["id"].as_str().unwrap_or("?"))
}

fn params_applying_to(params: &[SearchParam], rtype: &str) -> Vec<usize> {
    let applies = |base: &str| {
        base == rtype || base == "Resource" || (base == "DomainResource" && !NOT_DOMAIN_RESOURCES.contains(&rtype))
    };
    params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.bases.iter().any(|b| applies(b)))
        .map(|(i, _)| i)
        .collect()
}

/// Every `entry.resource` of the Synthea transaction Bundles, Bundle by
/// Bundle in file name order.
pub fn load_synthea_resources(bundle_limit: Option<usize>) -> Vec<Value> {
    let path = test_data().join(SYNTHEA);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut bundles = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let bundle: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        bundles.push((name, bundle));
    }
    bundles.sort_by(|a, b| a.0.cmp(&b.0));
    bundles.truncate(bundle_limit.unwrap_or(usize::MAX));
    let mut resources = Vec::new();
    for (name, mut bundle) in bundles {
        let entries = bundle["entry"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("{name}: no entries"));
        resources.extend(entries.iter_mut().map(|e| e["resource"].take()));
    }
    resources
}

/// The R4 SearchParameters that have an expression, from the file
/// scripts/build-conformance.py writes.
pub fn load_search_parameters() -> Vec<SearchParam> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SEARCH_PARAMETERS);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    all.iter()
        .filter_map(|sp| {
            let text = |key: &str| sp[key].as_str().map(str::to_string);
            Some(SearchParam {
                id: text("id")?,
                code: text("code")?,
                expression: text("expression")?,
                bases: sp["base"]
                    .as_array()?
                    .iter()
                    .filter_map(|b| b.as_str().map(str::to_string))
                    .collect(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Ipê's engine: the only place that calls `ipe::fhirpath`.

/// Ipê's FHIRPath engine.
pub struct Ipe;

impl Ipe {
    pub fn new() -> Ipe {
        Ipe
    }

    pub fn compile(&self, expression: &str) -> Result<ipe::fhirpath::Expression, String> {
        ipe::fhirpath::Expression::compile(expression).map_err(|e| e.to_string())
    }

    /// Evaluates `expression` on `resource` and hands the result collection
    /// to `use_result` (the bench only counts it; the test normalizes it).
    pub fn evaluate<T>(
        &self,
        expression: &ipe::fhirpath::Expression,
        resource: &Value,
        use_result: impl for<'a> FnOnce(&[ipe::fhirpath::Item<'a>]) -> T,
    ) -> Result<T, String> {
        // An environment borrows for the input's lifetime, so it is made per
        // call; empty, it allocates nothing.
        let env = ipe::fhirpath::Env::new();
        let items = expression.evaluate(resource, &env).map_err(|e| e.to_string())?;
        Ok(use_result(&items))
    }

    /// The normalized result (see the module documentation).
    pub fn evaluate_json(
        &self,
        expression: &ipe::fhirpath::Expression,
        resource: &Value,
    ) -> Result<Vec<Value>, String> {
        self.evaluate(expression, resource, |items| {
            items.iter().map(|i| i.to_json()).collect()
        })
    }
}

// ---------------------------------------------------------------------------
// rh-fhirpath (crates.io).

/// rh-fhirpath's parser and evaluator.
pub struct Rh {
    parser: rh_fhirpath::FhirPathParser,
    evaluator: rh_fhirpath::FhirPathEvaluator,
}

impl Rh {
    pub fn new() -> Rh {
        Rh {
            parser: rh_fhirpath::FhirPathParser::new(),
            evaluator: rh_fhirpath::FhirPathEvaluator::new(),
        }
    }

    pub fn compile(&self, expression: &str) -> Result<rh_fhirpath::FhirPathExpression, String> {
        self.parser.parse(expression).map_err(|e| e.to_string())
    }

    /// The context every expression on `resource` is evaluated in. Its API
    /// takes the resource by value, so this clones it: once per resource.
    pub fn context(&self, resource: &Value) -> rh_fhirpath::EvaluationContext {
        rh_fhirpath::EvaluationContext::new(resource.clone())
    }

    pub fn evaluate(
        &self,
        expression: &rh_fhirpath::FhirPathExpression,
        context: &rh_fhirpath::EvaluationContext,
    ) -> Result<rh_fhirpath::FhirPathValue, String> {
        self.evaluator.evaluate(expression, context).map_err(|e| e.to_string())
    }

    /// The normalized result (see the module documentation).
    pub fn evaluate_json(
        &self,
        expression: &rh_fhirpath::FhirPathExpression,
        context: &rh_fhirpath::EvaluationContext,
    ) -> Result<Vec<Value>, String> {
        let value = self.evaluate(expression, context)?;
        let mut out = Vec::new();
        rh_to_json(value, &mut out);
        Ok(out)
    }
}

/// The number of items in an rh-fhirpath result, which returns a single
/// item bare and a collection as `Collection`.
pub fn rh_len(value: &rh_fhirpath::FhirPathValue) -> usize {
    use rh_fhirpath::FhirPathValue as V;
    match value {
        V::Empty => 0,
        V::Collection(items) | V::UnorderedCollection(items) => items.iter().map(rh_len).sum(),
        _ => 1,
    }
}

/// Appends the normalized items of an rh-fhirpath result to `out`.
fn rh_to_json(value: rh_fhirpath::FhirPathValue, out: &mut Vec<Value>) {
    use rh_fhirpath::FhirPathValue as V;
    match value {
        V::Empty => {}
        V::Collection(items) | V::UnorderedCollection(items) => items.into_iter().for_each(|i| rh_to_json(i, out)),
        V::FhirPrimitive { inner, .. } => rh_to_json(*inner, out),
        V::Boolean(b) | V::TypedBoolean { value: b, .. } => out.push(Value::Bool(b)),
        V::String(s) | V::TypedString { value: s, .. } => out.push(Value::String(s)),
        V::Integer(i) | V::Long(i) => out.push(Value::from(i)),
        V::Number(d) => out.push(decimal_json(&d.to_string())),
        V::Date(s) | V::DateTime(s) | V::TypedDateTime { value: s, .. } | V::Time(s) => {
            out.push(Value::String(s.trim_start_matches('@').to_string()))
        }
        V::Quantity { value, unit } => {
            let mut q = serde_json::Map::new();
            q.insert("value".into(), decimal_json(&value.to_string()));
            if let Some(unit) = unit {
                q.insert("unit".into(), Value::String(unit));
            }
            out.push(Value::Object(q));
        }
        V::Object(v) | V::TypedObject { value: v, .. } => out.push(v),
        // Only `precision()`-like functions make these; no search expression does.
        V::DateTimePrecision(p) => out.push(Value::String(format!("{p:?}"))),
    }
}

/// A JSON number with exactly these digits, or the text as a string when it
/// is not a JSON number (then it differs from every number, visibly).
fn decimal_json(text: &str) -> Value {
    text.parse::<serde_json::Number>()
        .map_or_else(|_| Value::String(text.to_string()), Value::Number)
}

// ---------------------------------------------------------------------------
// Comparing normalized results.

/// Whether two normalized results are the same (see the module documentation).
pub fn same_results(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => decimal_key(&x.to_string()) == decimal_key(&y.to_string()),
        (Value::Array(x), Value::Array(y)) => same_results(x, y),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// A decimal number in canonical form: (negative, significant digits,
/// exponent of the last digit), so that `1.50`, `1.5` and `15e-1` agree.
/// Zero is `(false, "", 0)` whatever its sign or scale.
fn decimal_key(text: &str) -> (bool, String, i64) {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return (false, String::new(), 0);
    }
    let dropped = (significant.len() - trimmed.len()) as i64;
    (negative, trimmed.to_string(), exponent - frac.len() as i64 + dropped)
}
