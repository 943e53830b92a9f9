//! Comparing Ipê's errors with the Java validator's: whether both find
//! errors, how many, and where.

use std::collections::BTreeMap;

use ipe::outcome::{Issue, Severity};
use regex::Regex;

use super::case::{Expected, JavaError};

/// How one run compares, from best to worst agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Same errors (count, and locations where Java gives them).
    Agree,
    /// Same number of errors, at other places.
    LocationsDiffer,
    /// Both find errors, not the same number.
    CountDiffers,
    /// Java finds errors, Ipê none.
    WeMissError,
    /// Ipê finds errors, Java none.
    WeFalseError,
    /// Ipê's validator panicked.
    Panicked,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Agree => "agree",
            Verdict::LocationsDiffer => "locations differ",
            Verdict::CountDiffers => "count differs",
            Verdict::WeMissError => "we miss error",
            Verdict::WeFalseError => "we false error",
            Verdict::Panicked => "PANIC",
        }
    }

    /// Whether Ipê and Java agree on error / no error.
    pub fn error_agrees(self) -> bool {
        matches!(self, Verdict::Agree | Verdict::LocationsDiffer | Verdict::CountDiffers)
    }

    /// Whether the error counts are equal.
    pub fn count_agrees(self) -> bool {
        matches!(self, Verdict::Agree | Verdict::LocationsDiffer)
    }
}

pub fn is_error(issue: &Issue) -> bool {
    matches!(issue.severity, Severity::Error | Severity::Fatal)
}

/// The verdict for Ipê's `ours` (all issues) against `expected`.
pub fn verdict(expected: &Expected, ours: &[Issue]) -> Verdict {
    let mine = ours.iter().filter(|i| is_error(i)).count();
    let theirs = expected.error_count();
    match (theirs, mine) {
        (0, 0) => Verdict::Agree,
        (_, 0) => Verdict::WeMissError,
        (0, _) => Verdict::WeFalseError,
        (t, m) if t != m => Verdict::CountDiffers,
        _ => match expected {
            Expected::Count(_) => Verdict::Agree,
            Expected::Outcome(errors) => {
                let (only_java, only_ours) = location_difference(errors, ours);
                if only_java.is_empty() && only_ours.is_empty() {
                    Verdict::Agree
                } else {
                    Verdict::LocationsDiffer
                }
            }
        },
    }
}

/// The locations of Ipê's errors.
pub fn our_locations(ours: &[Issue]) -> impl Iterator<Item = &str> {
    ours.iter()
        .filter(|i| is_error(i))
        .map(|i| i.expression.as_deref().unwrap_or(""))
}

/// The locations only Java reports and those only Ipê reports (normalised,
/// each as often as it is unmatched).
pub fn location_difference(java: &[JavaError], ours: &[Issue]) -> (Vec<String>, Vec<String>) {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for e in java {
        *counts.entry(normalise(&java_location(e))).or_default() += 1;
    }
    for l in our_locations(ours) {
        *counts.entry(normalise(l)).or_default() -= 1;
    }
    let mut only_java = Vec::new();
    let mut only_ours = Vec::new();
    for (location, n) in counts {
        let list = if n > 0 { &mut only_java } else { &mut only_ours };
        for _ in 0..n.unsigned_abs() {
            list.push(location.clone());
        }
    }
    (only_java, only_ours)
}

/// Where a Java error points. A cardinality error ("Observation.code:
/// minimum required = 1, but only found 0") is located at the parent; Ipê
/// locates it at the element itself (`Observation.code`), which is what the
/// message names: that element is taken.
fn java_location(error: &JavaError) -> String {
    let cardinality = Regex::new(r"^([A-Za-z][\w.\[\]:-]*): (minimum required|max allowed) = ").expect("regex");
    let Some(c) = cardinality.captures(&error.message) else {
        return error.location.clone();
    };
    let element = c[1].rsplit('.').next().unwrap_or("").trim_end_matches("[x]");
    // A slice (`component:SystolicBP`) is not an element name.
    if element.is_empty() || element.contains(':') || c[1].split('.').count() < 2 {
        return error.location.clone();
    }
    format!("{}.{element}", error.location)
}

/// One spelling for a location, so Java's FHIRPath and Ipê's compare:
/// Java's `/*Type/id*/` comments and `[url='…']` filters go, and a choice
/// element's `value.ofType(Quantity)` becomes the JSON name `valueQuantity`
/// (`resource.ofType(Patient)` becomes `resource`).
pub fn normalise(location: &str) -> String {
    let comments = Regex::new(r"/\*.*?\*/").expect("regex");
    let filters = Regex::new(r"\[[^\]]*[^0-9\]][^\]]*\]").expect("regex");
    let of_type = Regex::new(r"([A-Za-z]+)\.ofType\(([A-Za-z]+)\)").expect("regex");
    let location = comments.replace_all(location.trim(), "");
    let location = filters.replace_all(&location, "");
    of_type
        .replace_all(&location, |c: &regex::Captures| {
            if &c[1] == "resource" {
                c[1].to_owned()
            } else {
                let t = &c[2];
                format!("{}{}{}", &c[1], t[..1].to_uppercase(), &t[1..])
            }
        })
        .into_owned()
}

#[test]
fn cardinality_errors_are_located_at_the_missing_element() {
    let e = |location: &str, message: &str| JavaError {
        location: location.into(),
        message: message.into(),
    };
    let missing = e(
        "Bundle.entry[0].resource/*Encounter/x*/",
        "Encounter.class: minimum required = 1, but only found 0 (from http://x)",
    );
    assert_eq!(normalise(&java_location(&missing)), "Bundle.entry[0].resource.class");
    let choice = e(
        "MedicationRequest",
        "MedicationRequest.medication[x]: minimum required = 1, but only found 0",
    );
    assert_eq!(java_location(&choice), "MedicationRequest.medication");
    let other = e("Patient.gender", "The value provided was not found");
    assert_eq!(java_location(&other), "Patient.gender");
}

#[test]
fn java_spellings_are_normalised_to_json_names() {
    assert_eq!(
        normalise("Observation.value.ofType(Quantity)"),
        "Observation.valueQuantity"
    );
    assert_eq!(
        normalise("Bundle.entry[1].resource/*Patient/p1*/.name[0]"),
        "Bundle.entry[1].resource.name[0]"
    );
    assert_eq!(
        normalise("Patient.extension[1][url='http://x|4.0.0']"),
        "Patient.extension[1]"
    );
    assert_eq!(
        normalise("Bundle.entry[0].resource.ofType(Patient).id"),
        "Bundle.entry[0].resource.id"
    );
}
