//! `$translate` on ConceptMap
//! ([spec](https://hl7.org/fhir/R4/conceptmap-operation-translate.html)).
//!
//! The maps used are the instance, the `conceptMap` parameter, the one named
//! by `url` (+ `conceptMapVersion`), or else every registered ConceptMap
//! whose source / target value sets match `source` / `target` and that has a
//! group for the coding's system. `reverse` reads maps target → source
//! (with `wider` ↔ `narrower` and `subsumes` ↔ `specializes` swapped). A group's
//! `unmapped` applies when it has no element for the code: `provided` gives
//! the code itself (`equal`), `fixed` the fixed code (`inexact`),
//! `other-map` the result of that map.

use std::sync::Arc;

use serde_json::{json, Value};

use super::error::TerminologyError;
use super::params::{part, Output, Params};
use super::service::TerminologyService;
use super::validate::CodingRef;

const MAX_MAP_DEPTH: usize = 5;

/// One translation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub equivalence: String,
    /// `(system, version, code, display)`; none for `unmatched`.
    pub concept: Option<(String, Option<String>, String, Option<String>)>,
    pub map: String,
}

struct Request<'a> {
    coding: CodingRef<'a>,
    target_system: Option<&'a str>,
    reverse: bool,
}

/// Runs `$translate`; `instance` is the ConceptMap invoked on, if any.
pub fn translate(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let codings = requested_codings(&p)?;
    let reverse = p.boolean("reverse")?.unwrap_or(false);
    let target_system = p.string("targetsystem")?;
    let maps = maps_for(svc, &p, instance, reverse)?;
    let mut matches = Vec::new();
    for coding in codings {
        let req = Request {
            coding,
            target_system,
            reverse,
        };
        for map in &maps {
            matches.extend(translate_with(svc, map, &req, 0));
        }
    }
    Ok(output(&matches))
}

fn requested_codings<'a>(p: &Params<'a>) -> Result<Vec<CodingRef<'a>>, TerminologyError> {
    if let Some(c) = p.complex("coding")? {
        return Ok(vec![CodingRef::from_json(c)]);
    }
    if let Some(cc) = p.complex("codeableConcept")? {
        return Ok(cc
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(CodingRef::from_json)
            .collect());
    }
    let code = p
        .string("code")?
        .ok_or_else(|| TerminologyError::param("code", "one of code, coding or codeableConcept is required"))?;
    let system = p
        .string("system")?
        .ok_or_else(|| TerminologyError::param("system", "is required with code"))?;
    Ok(vec![CodingRef {
        system: Some(system),
        version: p.string("version")?,
        code,
        display: None,
    }])
}

fn maps_for(
    svc: &TerminologyService,
    p: &Params,
    instance: Option<&Value>,
    reverse: bool,
) -> Result<Vec<Arc<Value>>, TerminologyError> {
    if let Some(map) = instance.or(p.complex("conceptMap")?) {
        return Ok(vec![Arc::new(map.clone())]);
    }
    if let Some(url) = p.string("url")? {
        let canonical = match p.string("conceptMapVersion")? {
            Some(v) => format!("{url}|{v}"),
            None => url.to_owned(),
        };
        return svc
            .registry()
            .concept_map(&canonical)
            .map(|m| vec![m])
            .ok_or(TerminologyError::NotFound {
                kind: "ConceptMap",
                canonical,
            });
    }
    let (source, target) = (p.string("source")?, p.string("target")?);
    let (source, target) = if reverse { (target, source) } else { (source, target) };
    let scope = |m: &Value, side: &str| {
        ["Uri", "Canonical"]
            .iter()
            .find_map(|k| m.get(format!("{side}{k}")).and_then(Value::as_str))
            .map(|s| s.split('|').next().unwrap_or_default().to_owned())
    };
    let matches =
        |wanted: Option<&str>, have: Option<String>| wanted.is_none_or(|w| have.as_deref() == w.split('|').next());
    Ok(svc
        .registry()
        .entries("ConceptMap")
        .iter()
        .filter_map(|e| e.resource())
        .filter(|m| matches(source, scope(m, "source")) && matches(target, scope(m, "target")))
        .collect())
}

fn translate_with(svc: &TerminologyService, map: &Value, req: &Request, depth: usize) -> Vec<Match> {
    let url = map.get("url").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for group in map.get("group").and_then(Value::as_array).into_iter().flatten() {
        let field = |k: &str| group.get(k).and_then(Value::as_str);
        let (from, to) = if req.reverse {
            ("target", "source")
        } else {
            ("source", "target")
        };
        let from_ok = field(from).is_none_or(|s| Some(s) == req.coding.system);
        let to_ok = req.target_system.is_none_or(|t| field(to) == Some(t));
        if !(from_ok && to_ok) {
            continue;
        }
        let found = if req.reverse {
            reverse_group(group, req, url)
        } else {
            forward_group(group, req, url)
        };
        if found.is_empty() && !req.reverse {
            out.extend(unmapped(svc, group, req, url, depth));
        }
        out.extend(found);
    }
    out
}

fn elements(group: &Value) -> impl Iterator<Item = &Value> {
    group.get("element").and_then(Value::as_array).into_iter().flatten()
}

fn targets(element: &Value) -> impl Iterator<Item = &Value> {
    element.get("target").and_then(Value::as_array).into_iter().flatten()
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn forward_group(group: &Value, req: &Request, url: &str) -> Vec<Match> {
    let system = text(group, "target").unwrap_or_default();
    let version = text(group, "targetVersion");
    elements(group)
        .filter(|e| e.get("code").and_then(Value::as_str) == Some(req.coding.code))
        .flat_map(targets)
        .map(|t| Match {
            equivalence: text(t, "equivalence").unwrap_or_else(|| "equivalent".into()),
            concept: text(t, "code").map(|c| (system.clone(), version.clone(), c, text(t, "display"))),
            map: url.to_owned(),
        })
        .collect()
}

fn reverse_group(group: &Value, req: &Request, url: &str) -> Vec<Match> {
    let system = text(group, "source").unwrap_or_default();
    let version = text(group, "sourceVersion");
    let mut out = Vec::new();
    for e in elements(group) {
        for t in targets(e).filter(|t| t.get("code").and_then(Value::as_str) == Some(req.coding.code)) {
            let equivalence = match t.get("equivalence").and_then(Value::as_str).unwrap_or("equivalent") {
                "wider" => "narrower",
                "narrower" => "wider",
                "subsumes" => "specializes",
                "specializes" => "subsumes",
                other => other,
            };
            out.push(Match {
                equivalence: equivalence.to_owned(),
                concept: text(e, "code").map(|c| (system.clone(), version.clone(), c, text(e, "display"))),
                map: url.to_owned(),
            });
        }
    }
    out
}

fn unmapped(svc: &TerminologyService, group: &Value, req: &Request, url: &str, depth: usize) -> Vec<Match> {
    let Some(u) = group.get("unmapped") else {
        return Vec::new();
    };
    let system = text(group, "target").unwrap_or_default();
    let one = |equivalence: &str, code: String, display: Option<String>| {
        vec![Match {
            equivalence: equivalence.to_owned(),
            concept: Some((system.clone(), text(group, "targetVersion"), code, display)),
            map: url.to_owned(),
        }]
    };
    match u.get("mode").and_then(Value::as_str) {
        Some("provided") => one("equal", req.coding.code.to_owned(), None),
        Some("fixed") => match text(u, "code") {
            Some(code) => one("inexact", code, text(u, "display")),
            None => Vec::new(),
        },
        Some("other-map") if depth < MAX_MAP_DEPTH => {
            let other = text(u, "url").and_then(|m| svc.registry().concept_map(&m));
            other
                .map(|m| translate_with(svc, &m, req, depth + 1))
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn output(matches: &[Match]) -> Value {
    let result = matches
        .iter()
        .any(|m| !matches!(m.equivalence.as_str(), "unmatched" | "disjoint"));
    let mut out = Output::new();
    out.add("result", "valueBoolean", result);
    if !result {
        out.string("message", "no translation was found for the code");
    }
    for m in matches {
        let mut parts = vec![part("equivalence", "valueCode", m.equivalence.as_str())];
        if let Some((system, version, code, display)) = &m.concept {
            let mut coding = json!({"system": system, "code": code});
            if let Some(v) = version {
                coding["version"] = v.as_str().into();
            }
            if let Some(d) = display {
                coding["display"] = d.as_str().into();
            }
            parts.push(part("concept", "valueCoding", coding));
        }
        parts.push(part("source", "valueUri", m.map.as_str()));
        out.parts("match", parts);
    }
    out.build()
}
