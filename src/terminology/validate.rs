//! `$validate-code` on ValueSet and CodeSystem
//! ([ValueSet](https://hl7.org/fhir/R4/valueset-operation-validate-code.html),
//! [CodeSystem](https://hl7.org/fhir/R4/codesystem-operation-validate-code.html)).
//!
//! A value set is checked with one hash lookup in its cached [`Expansion`].
//! The answer is a [`Validation`] whose [`Verdict`] tells four cases apart:
//! valid; invalid (with a message saying whether the code is unknown in its
//! system, the system is unknown, or the code is simply not in the value
//! set); not supported here (the system is not loaded — a warning for the
//! validator, never an error); unknown (not found in a fragment code
//! system). A display that matches neither the concept's display nor any of
//! its designations is a warning; the result stays true, as with the Java
//! terminology server.

use serde_json::Value;

use super::builtin::Builtin;
use super::cache::Deps;
use super::error::TerminologyError;
use super::expand::{read_options, requested_canonical};
use super::expansion::{Expansion, Member, Open};
use super::params::{Output, Params};
use super::service::{SystemSource, TerminologyService};
use crate::outcome::{operation_outcome, Issue, IssueType, Severity};

/// A coding to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodingRef<'a> {
    pub system: Option<&'a str>,
    pub version: Option<&'a str>,
    pub code: &'a str,
    pub display: Option<&'a str>,
}

impl<'a> CodingRef<'a> {
    pub fn from_json(coding: &'a Value) -> Self {
        let s = |k: &str| coding.get(k).and_then(Value::as_str);
        CodingRef {
            system: s("system"),
            version: s("version"),
            code: s("code").unwrap_or_default(),
            display: s("display"),
        }
    }
}

/// What a check concluded; ordered from best to worst for CodeableConcepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Valid,
    /// Not found in a fragment (or example) code system: may exist.
    Unknown,
    /// The system is not available here; nothing can be said.
    NotSupported,
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub verdict: Verdict,
    pub system: Option<String>,
    pub code: String,
    /// The concept's display (in the requested language when asked).
    pub display: Option<String>,
    pub issues: Vec<Issue>,
}

impl Validation {
    fn new(verdict: Verdict, coding: &CodingRef) -> Self {
        Validation {
            verdict,
            system: coding.system.map(str::to_owned),
            code: coding.code.to_owned(),
            display: None,
            issues: Vec::new(),
        }
    }

    fn with(mut self, severity: Severity, code: IssueType, message: String) -> Self {
        self.issues.push(Issue {
            severity,
            code,
            diagnostics: message,
            expression: None,
        });
        self
    }

    /// The `result` of the operation: true for valid and for unknown codes of
    /// fragments (with a warning).
    pub fn result(&self) -> bool {
        matches!(self.verdict, Verdict::Valid | Verdict::Unknown)
    }

    pub fn message(&self) -> Option<String> {
        (!self.issues.is_empty()).then(|| {
            self.issues
                .iter()
                .map(|i| i.diagnostics.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The output `Parameters`.
    pub fn to_parameters(&self) -> Value {
        let mut out = Output::new();
        out.add("result", "valueBoolean", self.result());
        if let Some(m) = self.message() {
            out.string("message", &m);
        }
        if let Some(d) = &self.display {
            out.string("display", d);
        }
        out.add("code", "valueCode", self.code.as_str());
        if let Some(s) = &self.system {
            out.add("system", "valueUri", s.as_str());
            if self.verdict == Verdict::NotSupported {
                out.add("x-caused-by-unknown-system", "valueCanonical", s.as_str());
            }
        }
        if !self.issues.is_empty() {
            let mut p = serde_json::Map::new();
            p.insert("name".into(), "issues".into());
            p.insert("resource".into(), operation_outcome(&self.issues));
            let mut built = out.build();
            if let Some(list) = built.get_mut("parameter").and_then(Value::as_array_mut) {
                list.push(Value::Object(p));
            }
            return built;
        }
        out.build()
    }
}

impl TerminologyService {
    /// Whether a coding is in a value set known to the registry (the
    /// validator's entry point; cached, one hash lookup when warm).
    pub fn validate_in_value_set(
        &self,
        value_set: &str,
        coding: &CodingRef,
        language: Option<&str>,
    ) -> Result<Validation, TerminologyError> {
        let expansion = self.expansion(value_set)?;
        Ok(self.check_member(&expansion, value_set, coding, language))
    }

    /// Whether a coding's code exists in its code system.
    pub fn validate_in_code_system(&self, coding: &CodingRef, language: Option<&str>) -> Validation {
        let Some(system) = coding.system else {
            return Validation::new(Verdict::Invalid, coding).with(
                Severity::Error,
                IssueType::Required,
                "the coding has no system".into(),
            );
        };
        match self.system(system, coding.version, &mut Deps::default()) {
            SystemSource::Index(cs) => match cs.find_index(coding.code) {
                Some(i) => {
                    let m = Member::from_concept(&cs, &cs.url.as_str().into(), &None, i);
                    valid(&m, coding, language)
                }
                None if cs.content.is_partial() => unknown_in_fragment(coding, system),
                None => Validation::new(Verdict::Invalid, coding).with(
                    Severity::Error,
                    IssueType::CodeInvalid,
                    format!("Unknown code '{}' in the code system '{system}'", coding.code),
                ),
            },
            SystemSource::Builtin(b) => builtin(b, coding),
            SystemSource::NotPresent(reason) | SystemSource::Unknown(reason) => not_supported(coding, system, &reason),
        }
    }

    pub(crate) fn check_member(
        &self,
        exp: &Expansion,
        vs: &str,
        coding: &CodingRef,
        language: Option<&str>,
    ) -> Validation {
        let inferred;
        let system = match coding.system {
            Some(s) => s,
            None => match single_system(exp) {
                Some(s) => {
                    inferred = s;
                    inferred.as_str()
                }
                None => {
                    return Validation::new(Verdict::Invalid, coding).with(
                        Severity::Error,
                        IssueType::Required,
                        format!("the coding has no system and value set '{vs}' has several"),
                    )
                }
            },
        };
        let coding = CodingRef {
            system: Some(system),
            ..*coding
        };
        if let Some(m) = exp.find(system, coding.code) {
            return valid(m, &coding, language);
        }
        match exp.open_for(system) {
            Some(Open::Builtin(b, filters)) => {
                let v = builtin(*b, &coding);
                match filters.iter().find(|f| !f.matches(coding.code)) {
                    Some(f) if v.verdict == Verdict::Valid => Validation::new(Verdict::Invalid, &coding).with(
                        Severity::Error,
                        IssueType::CodeInvalid,
                        format!(
                            "The code '{}' is valid {} but not in the value set '{vs}' (filter {f:?})",
                            coding.code,
                            b.name()
                        ),
                    ),
                    _ => v,
                }
            }
            Some(Open::NotSupported(reason)) => not_supported(&coding, system, reason),
            None if exp.partial.iter().any(|s| s == system) => unknown_in_fragment(&coding, system),
            None => self.not_member(vs, &coding, system),
        }
    }

    /// Says why a code is not in a value set: unknown code, unknown system,
    /// or a known code the value set does not hold.
    fn not_member(&self, vs: &str, coding: &CodingRef, system: &str) -> Validation {
        let code = coding.code;
        let message = match self.system(system, coding.version, &mut Deps::default()) {
            SystemSource::Index(cs) if cs.find_index(code).is_none() => {
                format!("Unknown code '{code}' in the code system '{system}'; it is not in the value set '{vs}'")
            }
            SystemSource::Builtin(b) if b.check(code).is_err() => {
                format!(
                    "'{code}' is not a valid code of {} and not in the value set '{vs}'",
                    b.name()
                )
            }
            SystemSource::NotPresent(_) | SystemSource::Unknown(_) => {
                format!("The code system '{system}' is not known here, and the value set '{vs}' does not include it")
            }
            _ => format!("The code '{system}#{code}' is not in the value set '{vs}'"),
        };
        Validation::new(Verdict::Invalid, coding).with(Severity::Error, IssueType::CodeInvalid, message)
    }
}

fn single_system(exp: &Expansion) -> Option<String> {
    let mut systems: Vec<&str> = exp.systems().collect();
    systems.dedup();
    (systems.len() == 1).then(|| systems[0].to_owned())
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn valid(m: &Member, coding: &CodingRef, language: Option<&str>) -> Validation {
    let mut v = Validation::new(Verdict::Valid, coding);
    v.system = Some(m.system.to_string());
    v.code = m.code.to_string();
    v.display = m.display_in(language).map(str::to_owned);
    if *m.code != *coding.code {
        let msg = format!(
            "the code '{}' differs in case from '{}' (the code system is case-insensitive)",
            coding.code, m.code
        );
        v = v.with(Severity::Information, IssueType::Informational, msg);
    }
    if let Some(given) = coding.display {
        let wanted = normalise(given);
        let ok = m
            .display()
            .into_iter()
            .chain(m.all_designations().map(|d| &*d.value))
            .any(|d| normalise(d) == wanted);
        if !ok && (m.display().is_some() || m.all_designations().next().is_some()) {
            let msg = format!(
                "Wrong display '{given}' for {}#{}: should be '{}'",
                m.system,
                m.code,
                v.display.as_deref().unwrap_or_default()
            );
            v = v.with(Severity::Warning, IssueType::Invalid, msg);
        }
    }
    if m.inactive {
        v = v.with(
            Severity::Warning,
            IssueType::Processing,
            format!("the concept '{}' is inactive", m.code),
        );
    }
    v
}

fn builtin(b: Builtin, coding: &CodingRef) -> Validation {
    match b.check(coding.code) {
        Ok(display) => {
            let mut v = Validation::new(Verdict::Valid, coding);
            v.display = display;
            v
        }
        Err(e) => Validation::new(Verdict::Invalid, coding).with(Severity::Error, IssueType::CodeInvalid, e),
    }
}

fn not_supported(coding: &CodingRef, system: &str, reason: &str) -> Validation {
    let msg = format!(
        "The code system '{system}' is not supported here ({reason}); the code '{}' could not be checked",
        coding.code
    );
    Validation::new(Verdict::NotSupported, coding).with(Severity::Warning, IssueType::NotSupported, msg)
}

fn unknown_in_fragment(coding: &CodingRef, system: &str) -> Validation {
    let msg = format!(
        "Unknown code '{}' in the code system '{system}', which is a fragment: the code may be valid in a part not loaded",
        coding.code
    );
    Validation::new(Verdict::Unknown, coding).with(Severity::Warning, IssueType::CodeInvalid, msg)
}

/// The codings a request names: `coding`, `codeableConcept`, or `code` with
/// `system` (`system_param`), `version` and `display`.
fn requested_codings<'a>(
    p: &Params<'a>,
    system_param: &'static str,
    version_param: &'static str,
) -> Result<Vec<CodingRef<'a>>, TerminologyError> {
    if let Some(c) = p.complex("coding")? {
        return Ok(vec![CodingRef::from_json(c)]);
    }
    if let Some(cc) = p.complex("codeableConcept")? {
        let codings: Vec<CodingRef> = cc
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(CodingRef::from_json)
            .collect();
        if codings.is_empty() {
            return Err(TerminologyError::param("codeableConcept", "has no coding"));
        }
        return Ok(codings);
    }
    let code = p
        .string("code")?
        .ok_or_else(|| TerminologyError::param("code", "one of code, coding or codeableConcept is required"))?;
    Ok(vec![CodingRef {
        system: p.string(system_param)?,
        version: p.string(version_param)?,
        code,
        display: p.string("display")?,
    }])
}

/// The best answer over several codings (any valid coding is enough).
fn best(mut results: Vec<Validation>) -> Validation {
    results.sort_by_key(|v| v.verdict);
    results
        .into_iter()
        .next()
        .unwrap_or_else(|| Validation::new(Verdict::Invalid, &CodingRef::default()))
}

/// Runs `ValueSet/$validate-code`; `instance` is the ValueSet invoked on.
pub fn validate_code_value_set(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let language = p.string("displayLanguage")?;
    let codings = requested_codings(&p, "system", "systemVersion")?;
    let (expansion, name) = match (instance, p.complex("valueSet")?) {
        (Some(vs), _) | (None, Some(vs)) => {
            let name = vs.get("url").and_then(Value::as_str).unwrap_or("(inline)").to_owned();
            (svc.expansion_of(vs, &read_options(&p)?)?, name)
        }
        (None, None) => {
            let canonical = requested_canonical(&p, "url", "valueSetVersion")?;
            (svc.expansion(&canonical)?, canonical)
        }
    };
    let mut v = best(
        codings
            .iter()
            .map(|c| svc.check_member(&expansion, &name, c, language))
            .collect(),
    );
    if p.boolean("abstract")? == Some(false) {
        let abstract_code = codings.iter().any(|c| {
            c.system
                .and_then(|s| expansion.find(s, c.code))
                .is_some_and(|m| m.not_selectable)
        });
        if abstract_code && v.verdict == Verdict::Valid {
            v.verdict = Verdict::Invalid;
            let message = format!("the code '{}' is abstract and not allowed here", v.code);
            v = v.with(Severity::Error, IssueType::Processing, message);
        }
    }
    Ok(v.to_parameters())
}

/// Runs `CodeSystem/$validate-code`; `instance` is the CodeSystem invoked on.
pub fn validate_code_code_system(
    svc: &TerminologyService,
    parameters: &Value,
    instance: Option<&Value>,
) -> Result<Value, TerminologyError> {
    let p = Params::new(parameters);
    let language = p.string("displayLanguage")?;
    let url = match instance.or(p.complex("codeSystem")?) {
        Some(cs) => cs.get("url").and_then(Value::as_str),
        None => p.string("url")?,
    };
    let mut codings = requested_codings(&p, "url", "version")?;
    for c in &mut codings {
        c.system = c.system.or(url);
    }
    if codings.iter().all(|c| c.system.is_none()) {
        return Err(TerminologyError::param(
            "url",
            "the code system is required: give url, coding.system or invoke on a CodeSystem",
        ));
    }
    if let Some(cs) = instance.or(p.complex("codeSystem")?) {
        if svc
            .registry()
            .code_system(url.unwrap_or_default())
            .is_none_or(|r| *r != *cs)
        {
            return Ok(best(codings.iter().map(|c| inline_code_system(cs, c, language)).collect()).to_parameters());
        }
    }
    Ok(best(
        codings
            .iter()
            .map(|c| svc.validate_in_code_system(c, language))
            .collect(),
    )
    .to_parameters())
}

/// Checks against a CodeSystem resource that is not (this version of) the
/// registry's.
fn inline_code_system(cs: &Value, coding: &CodingRef, language: Option<&str>) -> Validation {
    let index = std::sync::Arc::new(super::codesystem::CodeSystemIndex::from_json(cs));
    match index.find_index(coding.code) {
        Some(i) => valid(
            &Member::from_concept(&index, &index.url.as_str().into(), &None, i),
            coding,
            language,
        ),
        None if index.content.is_partial() => unknown_in_fragment(coding, &index.url),
        None => Validation::new(Verdict::Invalid, coding).with(
            Severity::Error,
            IssueType::CodeInvalid,
            format!("Unknown code '{}' in the code system '{}'", coding.code, index.url),
        ),
    }
}
