//! Code systems defined by a grammar rather than a list of codes: UCUM units,
//! BCP-47 language tags, MIME types. They validate any code but cannot be
//! enumerated, so a value set including one of them whole can be checked
//! against but not expanded.

mod bcp47;
mod mime;

pub const UCUM: &str = "http://unitsofmeasure.org";
pub const BCP47: &str = "urn:ietf:bcp:47";
pub const MIME: &str = "urn:ietf:bcp:13";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Ucum,
    Bcp47,
    Mime,
}

impl Builtin {
    pub fn for_system(system: &str) -> Option<Self> {
        match system {
            UCUM => Some(Builtin::Ucum),
            BCP47 => Some(Builtin::Bcp47),
            MIME => Some(Builtin::Mime),
            _ => None,
        }
    }

    pub fn url(self) -> &'static str {
        match self {
            Builtin::Ucum => UCUM,
            Builtin::Bcp47 => BCP47,
            Builtin::Mime => MIME,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Ucum => "UCUM",
            Builtin::Bcp47 => "BCP-47 language tags",
            Builtin::Mime => "MIME types",
        }
    }

    /// Checks a code; `Ok` carries its display where the system gives one
    /// (a UCUM unit displays as itself; `pt-BR` as "Portuguese (Brazil)").
    pub fn check(self, code: &str) -> Result<Option<String>, String> {
        match self {
            Builtin::Ucum => {
                if crate::ucum::is_valid(code) {
                    Ok(Some(code.to_owned()))
                } else {
                    Err(format!("'{code}' is not a valid UCUM unit"))
                }
            }
            Builtin::Bcp47 => bcp47::check(code).map(Some),
            Builtin::Mime => mime::check(code).map(|()| None),
        }
    }
}

/// A value set filter on a grammar-defined system, tested per code:
/// UCUM `canonical = unit` (units commensurable with it, as the base
/// spec's `all-time-units` uses) and BCP-47 `<part> exists true|false`
/// (parts: `ext-lang`, `script`, `region`, `variant`, `extension`,
/// `private-use`, as US Core's `simple-language` uses).
#[derive(Debug, Clone, PartialEq)]
pub enum GrammarFilter {
    UcumCommensurable(String),
    Bcp47Part { part: String, exists: bool },
}

impl GrammarFilter {
    pub fn compile(system: Builtin, filter: &serde_json::Value) -> Result<Self, String> {
        let field = |k: &str| filter.get(k).and_then(serde_json::Value::as_str).unwrap_or_default();
        match (system, field("property"), field("op")) {
            (Builtin::Ucum, "canonical", "=") => Ok(GrammarFilter::UcumCommensurable(field("value").to_owned())),
            (Builtin::Bcp47, part, "exists") => Ok(GrammarFilter::Bcp47Part {
                part: part.to_owned(),
                exists: field("value") != "false",
            }),
            (b, p, op) => Err(format!("filter '{p} {op}' on {} is not supported", b.name())),
        }
    }

    /// Whether a code (already known valid) passes.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            GrammarFilter::UcumCommensurable(unit) => {
                match (crate::ucum::canonical(code), crate::ucum::canonical(unit)) {
                    (Ok(a), Ok(b)) => a.is_commensurable(&b),
                    _ => false,
                }
            }
            GrammarFilter::Bcp47Part { part, exists } => {
                bcp47::parts(code).is_some_and(|parts| parts.contains(&part.as_str()) == *exists)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_filters_select_time_units_and_plain_language_tags() {
        let time = GrammarFilter::compile(
            Builtin::Ucum,
            &serde_json::json!({"property": "canonical", "op": "=", "value": "a"}),
        )
        .unwrap();
        assert!(time.matches("min") && time.matches("h") && !time.matches("mg"));
        let f = serde_json::json!({"property": "script", "op": "exists", "value": "false"});
        let no_script = GrammarFilter::compile(Builtin::Bcp47, &f).unwrap();
        assert!(no_script.matches("pt-BR") && !no_script.matches("zh-Hant"));
    }

    #[test]
    fn ucum_units_are_checked_by_the_ucum_grammar() {
        assert!(Builtin::Ucum.check("mg/dL").is_ok());
        assert!(Builtin::Ucum.check("Cel").is_ok());
        assert!(Builtin::Ucum.check("mg/").is_err());
        assert!(Builtin::Ucum.check("furlong").is_err());
    }
}
