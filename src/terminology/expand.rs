//! `$expand` on ValueSet
//! ([spec](https://hl7.org/fhir/R4/valueset-operation-expand.html)).
//!
//! The value set comes from the instance, the `valueSet` parameter or `url`
//! (+ `valueSetVersion`). The evaluated content is cached; `filter`,
//! `activeOnly`, `excludeNotForUI`, `displayLanguage`, `includeDesignations`,
//! `includeDefinition` and `count`/`offset` paging are applied per request.
//! Without `count`, an expansion above [`MAX_UNPAGED`] codes is too costly.
//! The output is the value set without its `compose` and `text`, with the
//! `expansion`.

use serde_json::{json, Map, Value};

use super::compose::ExpandOptions;
use super::error::TerminologyError;
use super::expansion::{Expansion, Member, Open};
use super::params::Params;
use super::service::TerminologyService;

/// The largest expansion returned without paging.
pub const MAX_UNPAGED: usize = 10_000;

/// What a request asks of the expansion it gets.
#[derive(Debug, Default)]
struct Shape<'a> {
    filter: Option<String>,
    active_only: bool,
    exclude_not_for_ui: bool,
    language: Option<&'a str>,
    designations: bool,
    definitions: bool,
    offset: usize,
    count: Option<usize>,
}

impl<'a> Shape<'a> {
    fn read(p: &Params<'a>) -> Result<Self, TerminologyError> {
        Ok(Shape {
            filter: p
                .string("filter")?
                .map(str::to_lowercase)
                .filter(|f| !f.trim().is_empty()),
            active_only: p.boolean("activeOnly")?.unwrap_or(false),
            exclude_not_for_ui: p.boolean("excludeNotForUI")?.unwrap_or(false),
            language: p.string("displayLanguage")?,
            designations: p.boolean("includeDesignations")?.unwrap_or(false),
            definitions: p.boolean("includeDefinition")?.unwrap_or(false),
            offset: p.integer("offset")?.unwrap_or(0),
            count: p.integer("count")?,
        })
    }

    fn keeps(&self, m: &Member) -> bool {
        (!self.active_only || !m.inactive)
            && (!self.exclude_not_for_ui || !m.not_selectable)
            && self.filter.as_deref().is_none_or(|f| matches_text(m, f, self.language))
    }
}

/// Runs `$expand`; `instance` is the ValueSet of `ValueSet/{id}/$expand`.
pub fn expand(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let options = read_options(&p)?;
    let (vs, expansion) = match (instance, p.complex("valueSet")?) {
        (Some(vs), _) | (None, Some(vs)) => (header(vs), svc.expansion_of(vs, &options)?),
        (None, None) => {
            let canonical = requested_canonical(&p, "url", "valueSetVersion")?;
            let (expansion, _) = svc.expansion_in(&canonical, &options, Vec::new())?;
            let vs = svc
                .registry()
                .value_set(&canonical)
                .map(|v| header(&v))
                .unwrap_or_default();
            (vs, expansion)
        }
    };
    refuse_open(&expansion)?;
    let shape = Shape::read(&p)?;
    let kept: Vec<&Member> = expansion.members.iter().filter(|m| shape.keeps(m)).collect();
    let total = kept.len();
    if shape.count.is_none() && total > MAX_UNPAGED {
        return Err(TerminologyError::TooCostly {
            total,
            limit: MAX_UNPAGED,
        });
    }
    let page = kept.iter().skip(shape.offset).take(shape.count.unwrap_or(usize::MAX));
    let contains: Vec<Value> = page.map(|m| entry(m, &shape)).collect();
    Ok(output(svc, vs, &expansion, &shape, total, contains))
}

/// The value set's own elements for the output: everything but `compose`
/// (which can list thousands of codes), `text` and any old `expansion`.
fn header(vs: &Value) -> Value {
    let fields = vs.as_object().into_iter().flatten();
    let kept = fields.filter(|(k, _)| !matches!(k.as_str(), "compose" | "text" | "expansion"));
    Value::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// `url` (+ a version parameter) as one canonical.
pub(crate) fn requested_canonical(
    p: &Params,
    url: &'static str,
    version: &'static str,
) -> Result<String, TerminologyError> {
    let u = p
        .string(url)?
        .ok_or_else(|| TerminologyError::param(url, "a value set is required: give url or valueSet"))?;
    Ok(match p.string(version)? {
        Some(v) if !u.contains('|') => format!("{u}|{v}"),
        _ => u.to_owned(),
    })
}

pub(crate) fn read_options(p: &Params) -> Result<ExpandOptions, TerminologyError> {
    let pairs = |name: &'static str| -> Result<Vec<(String, String)>, TerminologyError> {
        p.strings(name)
            .into_iter()
            .map(|s| {
                s.split_once('|')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| TerminologyError::param(name, format!("'{s}' is not system|version")))
            })
            .collect()
    };
    Ok(ExpandOptions {
        system_versions: pairs("system-version")?,
        force_versions: pairs("force-system-version")?,
        supplements: p.strings("useSupplement").into_iter().map(str::to_owned).collect(),
    })
}

/// An expansion with systems it cannot enumerate is refused with the reason.
fn refuse_open(expansion: &Expansion) -> Result<(), TerminologyError> {
    match expansion.open.first() {
        None => Ok(()),
        Some((system, Open::NotSupported(reason))) => Err(TerminologyError::not_supported(system, reason.clone())),
        Some((system, Open::Builtin(b, _))) => Err(TerminologyError::not_supported(
            system,
            format!("{} are defined by a grammar and cannot be enumerated", b.name()),
        )),
    }
}

/// Every word of the filter starts a word of the display, or the filter
/// starts the code (case-insensitive).
fn matches_text(m: &Member, filter: &str, language: Option<&str>) -> bool {
    if m.code.to_lowercase().starts_with(filter) {
        return true;
    }
    let display = m.display_in(language).unwrap_or_default().to_lowercase();
    let words: Vec<&str> = display
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    filter
        .split_whitespace()
        .all(|f| words.iter().any(|w| w.starts_with(f)))
}

fn entry(m: &Member, shape: &Shape) -> Value {
    let mut e = Map::new();
    e.insert("system".into(), (*m.system).into());
    if let Some(v) = &m.version {
        e.insert("version".into(), (**v).into());
    }
    if m.not_selectable {
        e.insert("abstract".into(), true.into());
    }
    if m.inactive {
        e.insert("inactive".into(), true.into());
    }
    e.insert("code".into(), (*m.code).into());
    if let Some(d) = m.display_in(shape.language) {
        e.insert("display".into(), d.into());
    }
    if shape.designations {
        let ds: Vec<Value> = m.all_designations().map(|d| d.to_json()).collect();
        if !ds.is_empty() {
            e.insert("designation".into(), ds.into());
        }
    }
    if let Some(def) = m
        .concept()
        .and_then(|c| c.definition.as_deref())
        .filter(|_| shape.definitions)
    {
        let ext =
            json!([{"url": "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition", "valueString": def}]);
        e.insert("extension".into(), ext);
    }
    Value::Object(e)
}

fn output(
    svc: &TerminologyService,
    mut vs: Value,
    expansion: &Expansion,
    shape: &Shape,
    total: usize,
    contains: Vec<Value>,
) -> Value {
    let mut parameters = Vec::new();
    let mut param = |name: &str, key: &str, value: Value| parameters.push(json!({"name": name, key: value}));
    if let Some(f) = &shape.filter {
        param("filter", "valueString", f.clone().into());
    }
    if shape.active_only {
        param("activeOnly", "valueBoolean", true.into());
    }
    if let Some(l) = shape.language {
        param("displayLanguage", "valueCode", l.into());
    }
    if let Some(c) = shape.count {
        param("count", "valueInteger", c.into());
        param("offset", "valueInteger", shape.offset.into());
    }
    for s in &expansion.used_systems {
        param("used-codesystem", "valueUri", s.as_str().into());
    }
    for s in &expansion.partial {
        param(
            "warning",
            "valueString",
            format!("code system '{s}' is a fragment: the expansion may be incomplete").into(),
        );
    }
    for s in &expansion.unchecked {
        param(
            "warning",
            "valueString",
            format!("codes of '{s}' are as the value set lists them; the code system is not known here").into(),
        );
    }
    for w in &expansion.warnings {
        param("warning", "valueString", w.as_str().into());
    }
    let mut body = Map::new();
    body.insert("identifier".into(), format!("urn:uuid:{}", uuid::Uuid::new_v4()).into());
    body.insert("timestamp".into(), crate::clock::instant(svc.clock.now_micros()).into());
    body.insert("total".into(), total.into());
    body.insert("offset".into(), shape.offset.into());
    if !parameters.is_empty() {
        body.insert("parameter".into(), parameters.into());
    }
    if !contains.is_empty() {
        body.insert("contains".into(), contains.into());
    }
    if let Some(o) = vs.as_object_mut() {
        o.insert("resourceType".into(), "ValueSet".into());
        o.insert("expansion".into(), Value::Object(body));
    }
    vs
}
