//! `$lookup` and `$subsumes` on CodeSystem
//! ([lookup](https://hl7.org/fhir/R4/codesystem-operation-lookup.html),
//! [subsumes](https://hl7.org/fhir/R4/codesystem-operation-subsumes.html)).

use std::sync::Arc;

use serde_json::{json, Value};

use super::cache::Deps;
use super::codesystem::CodeSystemIndex;
use super::error::TerminologyError;
use super::params::{part, Output, Params};
use super::service::{SystemSource, TerminologyService};
use super::validate::CodingRef;

/// The code system and code a request names (`code` + `system` + `version`,
/// or `coding`), with the CodeSystem instance's URL as the default system.
fn requested<'a>(
    p: &Params<'a>,
    instance: Option<&'a Value>,
    code: &'static str,
    coding: &'static str,
) -> Result<CodingRef<'a>, TerminologyError> {
    let mut c = match p.complex(coding)? {
        Some(c) => CodingRef::from_json(c),
        None => CodingRef {
            code: p
                .string(code)?
                .ok_or_else(|| TerminologyError::param(code, format!("one of {code} or {coding} is required")))?,
            system: p.string("system")?,
            version: p.string("version")?,
            display: None,
        },
    };
    c.system = c
        .system
        .or_else(|| instance.and_then(|i| i.get("url")).and_then(Value::as_str));
    if c.system.is_none() {
        return Err(TerminologyError::param("system", "the code system is required"));
    }
    Ok(c)
}

/// The indexed code system of a coding; built-in and unknown systems are
/// answered by `other`.
fn index_of(
    svc: &TerminologyService,
    c: &CodingRef,
) -> Result<Result<Arc<CodeSystemIndex>, SystemSource>, TerminologyError> {
    let system = c.system.unwrap_or_default();
    Ok(match svc.system(system, c.version, &mut Deps::default()) {
        SystemSource::Index(cs) => Ok(cs),
        SystemSource::NotPresent(reason) | SystemSource::Unknown(reason) => {
            return Err(TerminologyError::not_supported(system, reason))
        }
        builtin => Err(builtin),
    })
}

fn unknown_code(c: &CodingRef) -> TerminologyError {
    TerminologyError::NotFound {
        kind: "Code",
        canonical: format!("{}#{}", c.system.unwrap_or_default(), c.code),
    }
}

/// Runs `$lookup`; `instance` is the CodeSystem invoked on, if any.
pub fn lookup(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let c = requested(&p, instance, "code", "coding")?;
    let wanted: Vec<&str> = p.strings("property");
    let language = p.string("displayLanguage")?;
    let cs = match index_of(svc, &c)? {
        Ok(cs) => cs,
        Err(SystemSource::Builtin(b)) => {
            let display = b.check(c.code).map_err(|e| TerminologyError::param("code", e))?;
            let mut out = Output::new();
            out.string("name", b.name());
            out.string("display", display.as_deref().unwrap_or(c.code));
            return Ok(out.build());
        }
        Err(_) => return Err(unknown_code(&c)),
    };
    let i = cs.find_index(c.code).ok_or_else(|| unknown_code(&c))?;
    Ok(describe(&cs, i, &wanted, language))
}

fn describe(cs: &CodeSystemIndex, i: u32, wanted: &[&str], language: Option<&str>) -> Value {
    let concept = cs.concept(i);
    let show = |name: &str| wanted.is_empty() || wanted.contains(&name);
    let mut out = Output::new();
    out.string("name", cs.name.as_deref().unwrap_or(&cs.url));
    if let Some(v) = &cs.version {
        out.string("version", v);
    }
    let in_language = language.and_then(|l| concept.designations.iter().find(|d| d.language.as_deref() == Some(l)));
    if let Some(d) = in_language.map(|d| &*d.value).or(concept.display.as_deref()) {
        out.string("display", d);
    }
    if let Some(def) = concept.definition.as_deref().filter(|_| show("definition")) {
        out.string("definition", def);
    }
    for d in concept.designations.iter().filter(|_| show("designation")) {
        let mut parts = Vec::new();
        if let Some(l) = &d.language {
            parts.push(part("language", "valueCode", &**l));
        }
        if let Some(u) = &d.use_ {
            parts.push(part("use", "valueCoding", u.clone()));
        }
        parts.push(part("value", "valueString", &*d.value));
        out.parts("designation", parts);
    }
    for prop in concept.properties.iter().filter(|p| show(&p.code)) {
        out.parts(
            "property",
            vec![
                part("code", "valueCode", &*prop.code),
                part("value", &prop.key, prop.value.clone()),
            ],
        );
    }
    if show("inactive") {
        out.parts(
            "property",
            vec![
                part("code", "valueCode", "inactive"),
                part("value", "valueBoolean", concept.inactive),
            ],
        );
    }
    for (name, links) in [("parent", cs.parents(i)), ("child", cs.children(i))] {
        if !show(name) {
            continue;
        }
        for l in links {
            let linked = cs.concept(*l);
            let mut parts = vec![
                part("code", "valueCode", name),
                part("value", "valueCode", &*linked.code),
            ];
            if let Some(d) = &linked.display {
                parts.push(part("description", "valueString", &**d));
            }
            out.parts("property", parts);
        }
    }
    out.build()
}

/// Runs `$subsumes`; `instance` is the CodeSystem invoked on, if any.
pub fn subsumes(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let a = requested(&p, instance, "codeA", "codingA")?;
    let b = requested(&p, instance, "codeB", "codingB")?;
    if a.system != b.system {
        return Err(TerminologyError::param(
            "codingB",
            "codes from different systems cannot be compared",
        ));
    }
    let cs = index_of(svc, &a)?.map_err(|_| {
        TerminologyError::not_supported(a.system.unwrap_or_default(), "the system has no hierarchy here")
    })?;
    let ia = cs.find_index(a.code).ok_or_else(|| unknown_code(&a))?;
    let ib = cs.find_index(b.code).ok_or_else(|| unknown_code(&b))?;
    let outcome = if ia == ib {
        "equivalent"
    } else if cs.subsumes(ia, ib) {
        "subsumes"
    } else if cs.subsumes(ib, ia) {
        "subsumed-by"
    } else {
        "not-subsumed"
    };
    Ok(json!({"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}))
}
