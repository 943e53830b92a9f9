//! Primitive values: the JSON kind each FHIR primitive takes, the spec's
//! regular expression for its lexical form (R4 §2.24.0.1, checked here
//! without regex engines where a date calendar is involved), integer ranges,
//! string and `maxLength` limits, and narrative content (see [`super::xhtml`]).

use std::sync::OnceLock;

use base64::Engine;
use regex::Regex;
use serde_json::Value;

use super::definition::Rule;
use super::walk::{json_kind, Walker};
use crate::outcome::IssueType;

/// FHIR's limit on any string (R4 §2.24.0.1: 1 MB).
const MAX_STRING: usize = 1024 * 1024;

/// The spec's regex for each primitive whose form a regex says fully.
fn pattern(kind: &str) -> Option<&'static Regex> {
    static PATTERNS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let table = PATTERNS.get_or_init(|| {
        [
            ("code", r"[^\s]+(\s[^\s]+)*"),
            ("id", r"[A-Za-z0-9\-\.]{1,64}"),
            ("oid", r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
            (
                "uuid",
                r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            ),
            ("uri", r"\S*"),
            ("url", r"\S*"),
            ("canonical", r"\S*"),
            ("time", r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"),
            (
                "date",
                r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?",
            ),
            (
                "dateTime",
                r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
            ),
            (
                "instant",
                r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
            ),
        ]
        .into_iter()
        .filter_map(|(k, p)| Regex::new(&format!("^(?:{p})$")).ok().map(|r| (k, r)))
        .collect()
    });
    table.iter().find(|(k, _)| *k == kind).map(|(_, r)| r)
}

impl Walker<'_, '_> {
    /// Checks a primitive's JSON kind, lexical form and length.
    pub(super) fn primitive(&mut self, rule: &Rule, value: &Value, kind: &str, path: &str) {
        if let Err(problem) = check(kind, value) {
            self.error(IssueType::Value, path, problem);
            return;
        }
        let Some(text) = value.as_str() else { return };
        let length = text.chars().count();
        if let Some(max) = rule.max_length.filter(|m| length > *m) {
            self.error(
                IssueType::TooLong,
                path,
                format!(
                    "The value is {length} characters long, more than the maxLength of {max} for {}",
                    rule.path
                ),
            );
        }
        if let Some(min) = rule.min_length.filter(|m| length < *m) {
            self.error(
                IssueType::Value,
                path,
                format!(
                    "Value '{}' is shorter than the minimum length of {min} for {}",
                    clip(text),
                    rule.path
                ),
            );
        }
        if kind == "xhtml" {
            self.narrative(text, path);
        }
    }
}

/// Whether `value` is a valid `kind`; the problem otherwise.
pub(super) fn check(kind: &str, value: &Value) -> Result<(), String> {
    match kind {
        "boolean" => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| format!("A boolean must be true or false, found {}", shown(value))),
        "integer" => integer(value, i64::from(i32::MIN), "integer"),
        "positiveInt" => integer(value, 1, "positiveInt"),
        "unsignedInt" => integer(value, 0, "unsignedInt"),
        "decimal" => match value {
            Value::Number(_) => Ok(()),
            other => Err(format!("A decimal must be a JSON number, found {}", shown(other))),
        },
        _ => {
            let Value::String(text) = value else {
                return Err(format!("A {kind} must be a JSON string, found {}", shown(value)));
            };
            string(kind, text)
        }
    }
}

fn integer(value: &Value, min: i64, kind: &str) -> Result<(), String> {
    let Value::Number(n) = value else {
        return Err(format!("A {kind} must be a JSON number, found {}", shown(value)));
    };
    let Some(i) = n.as_i64() else {
        return Err(format!("A {kind} must be a whole number, found {n}"));
    };
    if i < min || i > i64::from(i32::MAX) {
        let range = match min {
            1 => "1 to 2147483647".to_owned(),
            0 => "0 to 2147483647".to_owned(),
            _ => "-2147483648 to 2147483647".to_owned(),
        };
        return Err(format!("The value {i} is outside the range of {kind} ({range})"));
    }
    Ok(())
}

fn string(kind: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("A {kind} must not be empty (@value cannot be empty)"));
    }
    if text.len() > MAX_STRING {
        return Err(format!(
            "The value is {} bytes long, more than FHIR's 1 MB limit",
            text.len()
        ));
    }
    if let Some(regex) = pattern(kind) {
        if !regex.is_match(text) {
            return Err(format!(
                "The value '{}' is not a valid {kind}{}",
                clip(text),
                hint(kind)
            ));
        }
    }
    match kind {
        "date" | "dateTime" | "instant" if !real_day(text) => Err(format!(
            "The value '{}' is not a valid {kind}: that day does not exist",
            clip(text)
        )),
        "base64Binary" => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(drop)
                .map_err(|e| format!("The value is not valid base64Binary: {e}"))
        }
        _ => Ok(()),
    }
}

fn hint(kind: &str) -> &'static str {
    match kind {
        "dateTime" => " (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone)",
        "instant" => " (YYYY-MM-DDThh:mm:ss with a time zone)",
        "date" => " (YYYY, YYYY-MM or YYYY-MM-DD)",
        "time" => " (hh:mm:ss)",
        "id" => " (1 to 64 of A-Z, a-z, 0-9, '-' and '.')",
        "code" => " (no leading, trailing or repeated whitespace)",
        "uri" | "url" | "canonical" => " (no whitespace)",
        _ => "",
    }
}

/// The day of a date exists (no 31 April, 29 February only in leap years).
fn real_day(text: &str) -> bool {
    let parts: Vec<&str> = text.get(..10).unwrap_or(text).splitn(3, '-').collect();
    let [year, month, day] = parts[..] else {
        return true;
    };
    let (Ok(year), Ok(month), Ok(day)) = (year.parse::<u32>(), month.parse::<u32>(), day.parse::<u32>()) else {
        return true;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string '{}'", clip(s)),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        other => json_kind(other).to_owned(),
    }
}

/// A value shown in a message, cut to a readable length.
pub(super) fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
