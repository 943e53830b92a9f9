//! What the checks find, before it becomes an [`Issue`]: a location as JSON
//! pointer segments (so findings from nested resources and from the schema can
//! be merged, ordered and de-duplicated exactly), then converted to a FHIRPath
//! expression once at the end.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::resource_type::ResourceType;
use crate::outcome::{Issue, IssueType};

/// At most this many issues reach the client; a broken 10 MB Bundle must not
/// produce a 10 MB OperationOutcome.
pub(crate) const MAX_ISSUES: usize = 100;

/// The checks stop collecting past this many raw findings: enough to fill
/// [`MAX_ISSUES`] after de-duplication, bounded so garbage input stays cheap.
pub(crate) const MAX_FINDINGS: usize = 1000;

/// One step of a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A location inside the resource being validated, from its root.
pub(crate) type Pointer = Vec<Segment>;

/// Which check produced a finding. At one location only the findings of the
/// most specific source are kept (see [`into_issues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// The JSON rules the schema cannot express (`rules.rs`): they know why a
    /// value is wrong (`""`, `null`), where the schema only sees a mismatch.
    Rules,
    /// A JSON type mismatch found by the schema: once the type is wrong, its
    /// pattern or code-list failures at the same place add nothing.
    SchemaType,
    /// Any other schema failure.
    Schema,
}

#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub pointer: Pointer,
    pub code: IssueType,
    pub message: String,
    pub source: Source,
}

impl Finding {
    pub fn new(pointer: Pointer, code: IssueType, message: impl Into<String>) -> Self {
        Finding {
            pointer,
            code,
            message: message.into(),
            source: Source::Rules,
        }
    }

    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }
}

/// Pointer `path` extended by one segment.
pub(crate) fn child(path: &[Segment], segment: Segment) -> Pointer {
    let mut pointer = Vec::with_capacity(path.len() + 1);
    pointer.extend_from_slice(path);
    pointer.push(segment);
    pointer
}

/// Turns the raw findings on `resource` into client-facing issues: keeps the
/// most specific findings per location, orders them as the elements appear in
/// the document, drops duplicates and caps the count.
pub(crate) fn into_issues(resource: &Value, root: Option<ResourceType>, findings: Vec<Finding>) -> Vec<Issue> {
    let mut best: HashMap<&Pointer, Source> = HashMap::new();
    for finding in &findings {
        best.entry(&finding.pointer)
            .and_modify(|source| *source = (*source).min(finding.source))
            .or_insert(finding.source);
    }
    let mut kept: Vec<(Vec<usize>, &Finding)> = findings
        .iter()
        .filter(|f| best.get(&f.pointer) == Some(&f.source))
        .map(|f| (document_order(resource, &f.pointer), f))
        .collect();
    kept.sort_by(|(a_order, a), (b_order, b)| a_order.cmp(b_order).then_with(|| a.message.cmp(&b.message)));

    let mut issues: Vec<Issue> = Vec::new();
    for (_, finding) in kept {
        let mut issue = Issue::error(finding.code, finding.message.clone());
        issue.expression = fhirpath(root, &finding.pointer);
        if !issues.contains(&issue) {
            issues.push(issue);
        }
    }
    if issues.len() > MAX_ISSUES {
        let hidden = issues.len() - (MAX_ISSUES - 1);
        issues.truncate(MAX_ISSUES - 1);
        issues.push(Issue::information(format!(
            "{hidden} more issues not reported; fix the ones above first"
        )));
    }
    issues
}

/// The FHIRPath location of a pointer: `Patient.name[0].given[1]`. The `_x`
/// part of a primitive names the element `x` itself, as FHIRPath sees one
/// element. A nested resource continues its parent's path
/// (`Bundle.entry[0].resource.name[0]`). `None` at the root of a resource of
/// unknown type: there is no element to name.
pub(crate) fn fhirpath(root: Option<ResourceType>, pointer: &[Segment]) -> Option<String> {
    let root = root?;
    let mut path = String::from(root.as_str());
    for segment in pointer {
        match segment {
            Segment::Key(key) => {
                path.push('.');
                path.push_str(key.strip_prefix('_').unwrap_or(key));
            }
            Segment::Index(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    Some(path)
}

/// A sort key that orders locations as they appear in the document: each
/// object key by its position (preserve_order keeps the sender's order),
/// missing keys (a required element that is absent) after the present ones.
fn document_order(resource: &Value, pointer: &[Segment]) -> Vec<usize> {
    let mut order = Vec::with_capacity(pointer.len());
    let mut current = Some(resource);
    for segment in pointer {
        let (position, next) = match (segment, current) {
            (Segment::Key(key), Some(Value::Object(map))) => match map.keys().position(|k| k == key) {
                Some(position) => (position, map.get(key)),
                None => (map.len(), None),
            },
            (Segment::Index(index), Some(Value::Array(items))) => (*index, items.get(*index)),
            _ => (usize::MAX, None),
        };
        order.push(position);
        current = next;
    }
    order
}

/// Converts a JSON pointer string from the schema validator (relative to
/// `instance`) into segments. A segment is an index only where the instance
/// holds an array, so a (wrong) property named `"0"` stays a key.
pub(crate) fn parse_pointer(prefix: &[Segment], pointer: &str, instance: &Value) -> Pointer {
    let mut segments = prefix.to_vec();
    let mut current = Some(instance);
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        match current {
            Some(Value::Array(items)) => match token.parse::<usize>() {
                Ok(index) => {
                    current = items.get(index);
                    segments.push(Segment::Index(index));
                }
                Err(_) => {
                    current = None;
                    segments.push(Segment::Key(token));
                }
            },
            Some(Value::Object(map)) => {
                current = map.get(&token);
                segments.push(Segment::Key(token));
            }
            _ => {
                current = None;
                segments.push(Segment::Key(token));
            }
        }
    }
    segments
}

/// How a value reads in a message: its JSON kind and, for scalars, a
/// shortened rendering (`a string "1990-13-01"`, `a number 1.5`).
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", shorten(&n.to_string())),
        Value::String(s) => format!("the string {}", shorten(&Value::from(s.as_str()).to_string())),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Values are quoted in messages, but a whole base64 attachment is not.
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() <= MAX_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_CHARS).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    #[test]
    fn fhirpath_names_the_element_for_primitive_extension_parts() {
        // `_birthDate` and `birthDate` are one element in FHIRPath.
        let patient = ResourceType::parse("Patient");
        assert_eq!(
            fhirpath(patient, &[key("_birthDate")]).as_deref(),
            Some("Patient.birthDate")
        );
        assert_eq!(
            fhirpath(
                patient,
                &[key("name"), Segment::Index(0), key("_given"), Segment::Index(1)]
            )
            .as_deref(),
            Some("Patient.name[0].given[1]")
        );
    }

    #[test]
    fn pointer_segments_are_indices_only_inside_arrays() {
        // A property literally named "0" must not be taken for an index.
        let doc = json!({"a": [{"0": 1}]});
        assert_eq!(
            parse_pointer(&[], "/a/0/0", &doc),
            vec![key("a"), Segment::Index(0), key("0")]
        );
        assert_eq!(parse_pointer(&[], "/x~1y~0z", &json!({})), vec![key("x/y~z")]);
    }

    #[test]
    fn issues_follow_document_order_not_discovery_order() {
        // Clients read the outcome top to bottom next to their document.
        let doc = json!({"resourceType": "Patient", "b": 1, "a": 2});
        let findings = vec![
            Finding::new(vec![key("a")], IssueType::Structure, "second"),
            Finding::new(vec![key("b")], IssueType::Structure, "first"),
        ];
        let issues = into_issues(&doc, ResourceType::parse("Patient"), findings);
        let messages: Vec<&str> = issues.iter().map(|i| i.diagnostics.as_str()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn more_specific_source_wins_at_one_location() {
        // `"gender": ""` is an empty string (rules) and not a code (schema):
        // one issue, the one that says what to fix.
        let doc = json!({"resourceType": "Patient", "gender": ""});
        let findings = vec![
            Finding::new(vec![key("gender")], IssueType::Value, "enum").with_source(Source::Schema),
            Finding::new(vec![key("gender")], IssueType::Value, "empty"),
        ];
        let issues = into_issues(&doc, ResourceType::parse("Patient"), findings);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].diagnostics, "empty");
    }

    #[test]
    fn issue_count_is_capped() {
        let doc = json!({"resourceType": "Patient"});
        let findings = (0..500)
            .map(|i| Finding::new(vec![key(&format!("k{i}"))], IssueType::Structure, "x"))
            .collect();
        let issues = into_issues(&doc, ResourceType::parse("Patient"), findings);
        assert_eq!(issues.len(), MAX_ISSUES);
        assert!(issues[MAX_ISSUES - 1].diagnostics.contains("401 more issues"));
    }
}
