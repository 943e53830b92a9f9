//! Evaluates `ValueSet.compose` into an [`Expansion`]: includes are unioned,
//! excludes removed; an include naming both a system and value sets is the
//! intersection of them all; concept lists keep the value set's displays.
//!
//! A system that cannot be enumerated does not fail the evaluation: it is
//! recorded as open ([`Open`]), so `$validate-code` can still answer for the
//! other systems, and `$expand` refuses with the reason.

use std::sync::Arc;

use serde_json::Value;

use super::builtin::{Builtin, GrammarFilter};
use super::cache::Deps;
use super::codesystem::{CodeSystemIndex, Designation};
use super::error::TerminologyError;
use super::expansion::{Expansion, Member, Open};
use super::service::{SystemSource, TerminologyService};

const SUPPLEMENT_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/valueset-supplement";

/// Request-level settings that change what an expansion contains.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpandOptions {
    /// `system-version`: the version to use when an include names none.
    pub system_versions: Vec<(String, String)>,
    /// `force-system-version`: the version to use whatever the include says.
    pub force_versions: Vec<(String, String)>,
    /// `useSupplement`: supplements to apply (canonicals).
    pub supplements: Vec<String>,
}

impl ExpandOptions {
    /// The cache key of a value set expanded with these options.
    pub fn key(&self, canonical: &str) -> String {
        if *self == ExpandOptions::default() {
            return canonical.to_owned();
        }
        format!(
            "{canonical} {:?} {:?} {:?}",
            self.system_versions, self.force_versions, self.supplements
        )
    }

    fn version_for<'a>(&'a self, system: &str, stated: Option<&'a str>) -> Option<&'a str> {
        let find = |list: &'a [(String, String)]| list.iter().find(|(s, _)| s == system).map(|(_, v)| v.as_str());
        find(&self.force_versions)
            .or(stated)
            .or_else(|| find(&self.system_versions))
    }
}

pub struct Composer<'a> {
    svc: &'a TerminologyService,
    options: &'a ExpandOptions,
    pub deps: Deps,
    /// Value sets being evaluated, outermost first (imports must not cycle).
    stack: Vec<String>,
    supplements: Vec<String>,
}

impl<'a> Composer<'a> {
    pub fn new(svc: &'a TerminologyService, options: &'a ExpandOptions, stack: Vec<String>) -> Self {
        Composer {
            svc,
            options,
            deps: Deps::default(),
            stack,
            supplements: options.supplements.clone(),
        }
    }

    pub fn value_set(&mut self, vs: &Value) -> Result<Expansion, TerminologyError> {
        let url = vs.get("url").and_then(Value::as_str).unwrap_or("(no url)");
        let Some(compose) = vs.get("compose") else {
            return match vs.get("expansion") {
                Some(e) => Ok(from_existing(e)),
                None => Err(TerminologyError::not_expandable(
                    url,
                    "it has neither compose nor expansion",
                )),
            };
        };
        self.supplements.extend(supplement_extensions(vs));
        let mut out = Expansion::default();
        for inc in array(compose, "include") {
            let part = self.include(url, inc)?;
            out.union(part);
        }
        for exc in array(compose, "exclude") {
            let part = self.include(url, exc)?;
            for (system, _) in &part.open {
                out.warnings
                    .push(format!("exclude of '{system}' could not be evaluated and was ignored"));
            }
            out = out.retain(|m| !part.contains(&m.system, &m.code));
        }
        Ok(out)
    }

    fn include(&mut self, url: &str, inc: &Value) -> Result<Expansion, TerminologyError> {
        let imports = array(inc, "valueSet")
            .filter_map(Value::as_str)
            .map(|c| self.import(c))
            .collect::<Result<Vec<_>, _>>()?;
        let system = inc.get("system").and_then(Value::as_str);
        let mut part = match system {
            Some(s) => self.system_part(s, inc)?,
            None => match imports.first() {
                Some(first) => copy_of(first),
                None => {
                    return Err(TerminologyError::not_expandable(
                        url,
                        "an include has neither system nor valueSet",
                    ))
                }
            },
        };
        if imports.is_empty() {
            return Ok(part);
        }
        for e in &imports {
            part.merge_notes(
                e.open.clone(),
                e.partial.clone(),
                e.unchecked.clone(),
                e.used_systems.clone(),
                e.warnings.clone(),
            );
        }
        Ok(part.retain(|m| {
            imports
                .iter()
                .all(|e| e.contains(&m.system, &m.code) || e.open_for(&m.system).is_some())
        }))
    }

    fn import(&mut self, canonical: &str) -> Result<Arc<Expansion>, TerminologyError> {
        if self.stack.iter().any(|s| s == canonical) {
            let outer = self.stack.first().cloned().unwrap_or_default();
            return Err(TerminologyError::not_expandable(
                &outer,
                format!("it imports '{canonical}' in a cycle"),
            ));
        }
        let (expansion, deps) = self.svc.expansion_in(canonical, self.options, self.stack.clone())?;
        self.deps.extend(&deps);
        Ok(expansion)
    }

    fn system_part(&mut self, system: &str, inc: &Value) -> Result<Expansion, TerminologyError> {
        let stated = inc.get("version").and_then(Value::as_str);
        let version = self.options.version_for(system, stated);
        match self.svc.system(system, version, &mut self.deps) {
            SystemSource::Index(cs) => {
                let cs = self.with_supplements(cs);
                Ok(indexed_part(&cs, inc))
            }
            SystemSource::Builtin(b) => Ok(builtin_part(b, inc)),
            SystemSource::NotPresent(reason) | SystemSource::Unknown(reason) => {
                Ok(unknown_part(system, version, inc, reason))
            }
        }
    }

    fn with_supplements(&mut self, cs: Arc<CodeSystemIndex>) -> Arc<CodeSystemIndex> {
        let registry = self.svc.registry();
        let mut found = Vec::new();
        for canonical in &self.supplements {
            let resource = self
                .deps
                .resolve(registry, "CodeSystem", canonical)
                .and_then(|e| e.resource());
            let Some(resource) = resource else { continue };
            let target = resource.get("supplements").and_then(Value::as_str).unwrap_or_default();
            if target.split('|').next() == Some(cs.url.as_str()) {
                found.push(resource);
            }
        }
        if found.is_empty() {
            return cs;
        }
        let refs: Vec<&Value> = found.iter().map(|r| &**r).collect();
        Arc::new(cs.with_supplements(&refs))
    }
}

fn indexed_part(cs: &Arc<CodeSystemIndex>, inc: &Value) -> Expansion {
    let system: Arc<str> = cs.url.as_str().into();
    let version: Option<Arc<str>> = cs.version.as_deref().map(Into::into);
    let mut part = Expansion::default();
    part.used_systems
        .push(format!("{}|{}", cs.url, cs.version.as_deref().unwrap_or_default()));
    if cs.content.is_partial() {
        part.partial.push(cs.url.clone());
    }
    let concepts: Vec<&Value> = array(inc, "concept").collect();
    let filters: Vec<Value> = array(inc, "filter").cloned().collect();
    if !concepts.is_empty() {
        for c in concepts {
            let code = c.get("code").and_then(Value::as_str).unwrap_or_default();
            match cs.find_index(code) {
                Some(i) => part.push(listed(Member::from_concept(cs, &system, &version, i), c)),
                None if cs.content.is_partial() => part.push(listed(bare(&system, &version, code), c)),
                None => part
                    .warnings
                    .push(format!("code '{code}' is not in code system '{}'", cs.url)),
            }
        }
        return part;
    }
    let selected = match filters.is_empty() {
        true => (0..cs.len() as u32).collect(),
        false => match super::filter::select(cs, &filters) {
            Ok(s) => s,
            Err(reason) => {
                part.open.push((cs.url.clone(), Open::NotSupported(reason)));
                return part;
            }
        },
    };
    for i in selected {
        part.push(Member::from_concept(cs, &system, &version, i));
    }
    part
}

fn builtin_part(b: Builtin, inc: &Value) -> Expansion {
    let mut part = Expansion::default();
    let system: Arc<str> = b.url().into();
    let concepts: Vec<&Value> = array(inc, "concept").collect();
    if concepts.is_empty() {
        let filters = array(inc, "filter").map(|f| GrammarFilter::compile(b, f)).collect();
        let open = match filters {
            Ok(filters) => Open::Builtin(b, filters),
            Err(reason) => Open::NotSupported(reason),
        };
        part.open.push((b.url().to_owned(), open));
        return part;
    }
    for c in concepts {
        let code = c.get("code").and_then(Value::as_str).unwrap_or_default();
        match b.check(code) {
            Ok(display) => {
                let mut m = listed(bare(&system, &None, code), c);
                if m.display.is_none() {
                    m.display = display.map(Into::into);
                }
                part.push(m);
            }
            Err(e) => part.warnings.push(e),
        }
    }
    part
}

fn unknown_part(system: &str, version: Option<&str>, inc: &Value, reason: String) -> Expansion {
    let mut part = Expansion::default();
    let concepts: Vec<&Value> = array(inc, "concept").collect();
    if concepts.is_empty() || inc.get("filter").is_some() {
        part.open.push((system.to_owned(), Open::NotSupported(reason)));
        return part;
    }
    part.unchecked.push(system.to_owned());
    let sys: Arc<str> = system.into();
    let version: Option<Arc<str>> = version.map(Into::into);
    for c in concepts {
        let code = c.get("code").and_then(Value::as_str).unwrap_or_default();
        part.push(listed(bare(&sys, &version, code), c));
    }
    part
}

fn bare(system: &Arc<str>, version: &Option<Arc<str>>, code: &str) -> Member {
    Member {
        system: system.clone(),
        version: version.clone(),
        code: code.into(),
        display: None,
        designations: Vec::new(),
        source: None,
        inactive: false,
        not_selectable: false,
    }
}

/// A member as a `compose.include.concept` lists it (display, designations).
fn listed(mut m: Member, c: &Value) -> Member {
    if let Some(d) = c.get("display").and_then(Value::as_str) {
        m.display = Some(d.into());
    }
    m.designations = array(c, "designation")
        .filter_map(|d| {
            Some(Designation {
                language: d.get("language").and_then(Value::as_str).map(Into::into),
                use_: d.get("use").cloned(),
                value: d.get("value")?.as_str()?.into(),
            })
        })
        .collect();
    m
}

/// The members of a value set that carries an expansion but no compose.
fn from_existing(expansion: &Value) -> Expansion {
    let mut out = Expansion::default();
    fn walk(out: &mut Expansion, contains: &Value) {
        for c in contains.as_array().into_iter().flatten() {
            if let (Some(system), Some(code)) = (
                c.get("system").and_then(Value::as_str),
                c.get("code").and_then(Value::as_str),
            ) {
                let version = c.get("version").and_then(Value::as_str).map(Into::into);
                let mut m = listed(bare(&system.into(), &version, code), c);
                m.inactive = c.get("inactive").and_then(Value::as_bool).unwrap_or(false);
                m.not_selectable = c.get("abstract").and_then(Value::as_bool).unwrap_or(false);
                out.push(m);
            }
            if let Some(nested) = c.get("contains") {
                walk(out, nested);
            }
        }
    }
    if let Some(contains) = expansion.get("contains") {
        walk(&mut out, contains);
    }
    out
}

fn copy_of(e: &Expansion) -> Expansion {
    let mut out = Expansion::default();
    for m in &e.members {
        out.push(m.clone());
    }
    out
}

fn supplement_extensions(vs: &Value) -> impl Iterator<Item = String> + '_ {
    array(vs, "extension")
        .filter(|e| e.get("url").and_then(Value::as_str) == Some(SUPPLEMENT_EXTENSION))
        .filter_map(|e| e.get("valueCanonical").and_then(Value::as_str).map(str::to_owned))
}

fn array<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}
