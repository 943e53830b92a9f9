//! The query of a search's `self` link (<https://hl7.org/fhir/R4/search.html#selflink>):
//! the parameters as applied — ignored ones left out, defaults that changed
//! the result written out — in a stable order, escaped and percent-encoded,
//! so that parsing it again gives the same request.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::escape::escape;
use super::{Clause, Contained, ContainedType, Criterion, Include, IncludeTarget, Link, SearchRequest};
use super::{StringMatch, TokenMatch, UriMatch};
use crate::model::elements::SummaryMode;

/// What stays literal: unreserved characters and the separators that read
/// well in a query. `+` is encoded, since form decoding reads it as a space,
/// and so are `|`, `$` and `\`.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/')
    .remove(b',')
    .remove(b'*');

impl SearchRequest {
    /// `name=value&…`, without the leading `?`. Order: `_type`, the criteria
    /// as given, `_include`s, `_revinclude`s, `_sort`, `_count`, then the
    /// other result parameters, `_page` last.
    pub fn self_link_query(&self) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if !self.types.is_empty() {
            let types: Vec<&str> = self.types.iter().map(|t| t.as_str()).collect();
            pairs.push(("_type".into(), types.join(",")));
        }
        pairs.extend(
            self.clauses
                .iter()
                .map(|c| (clause_name(c), criterion_values(&c.criterion))),
        );
        pairs.extend(self.includes.iter().map(|i| include("_include", i)));
        pairs.extend(self.revincludes.iter().map(|i| include("_revinclude", i)));
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.code))
                .collect();
            pairs.push(("_sort".into(), keys.join(",")));
        }
        pairs.push(("_count".into(), self.count.to_string()));
        if let Some(total) = self.total {
            pairs.push(("_total".into(), total.code().into()));
        }
        if let Some(summary) = self.summary {
            pairs.push(("_summary".into(), summary_code(summary).into()));
        }
        if !self.elements.is_empty() {
            pairs.push(("_elements".into(), self.elements.join(",")));
        }
        if self.contained != Contained::default() {
            pairs.push(("_contained".into(), self.contained.code().into()));
        }
        if self.contained_type != ContainedType::default() {
            pairs.push(("_containedType".into(), self.contained_type.code().into()));
        }
        if let Some(page) = &self.page {
            pairs.push(("_page".into(), page.clone()));
        }
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        encoded.join("&")
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY).to_string()
}

fn clause_name(clause: &Clause) -> String {
    let mut name = String::new();
    for link in &clause.path {
        match link {
            Link::Chain { param, types } => match types.as_slice() {
                [only] => name.push_str(&format!("{param}:{only}.")),
                _ => name.push_str(&format!("{param}.")),
            },
            Link::Has { source, param } => name.push_str(&format!("_has:{source}:{param}:")),
        }
    }
    name.push_str(&clause.code);
    name.push_str(modifier_suffix(&clause.criterion));
    name
}

fn modifier_suffix(criterion: &Criterion) -> &'static str {
    match criterion {
        Criterion::Codes { original, .. } => modifier_suffix(original),
        Criterion::Missing(_) => ":missing",
        Criterion::String(StringMatch::Exact, _) => ":exact",
        Criterion::String(StringMatch::Contains, _) | Criterion::Uri(UriMatch::Contains, _) => ":contains",
        Criterion::Token(TokenMatch::Not, _) => ":not",
        Criterion::Token(TokenMatch::Above, _) | Criterion::Uri(UriMatch::Above, _) => ":above",
        Criterion::Token(TokenMatch::Below, _) | Criterion::Uri(UriMatch::Below, _) => ":below",
        Criterion::TokenText(_) => ":text",
        Criterion::InValueSet { negated: false, .. } => ":in",
        Criterion::InValueSet { negated: true, .. } => ":not-in",
        Criterion::OfType(_) => ":of-type",
        Criterion::ReferenceIdentifier(_) => ":identifier",
        Criterion::String(StringMatch::StartsWith, _)
        | Criterion::Token(TokenMatch::Equal, _)
        | Criterion::Uri(UriMatch::Equal, _)
        | Criterion::Number(_)
        | Criterion::Date(_)
        | Criterion::Quantity(_)
        | Criterion::Reference(_)
        | Criterion::Composite(_)
        | Criterion::Special(_)
        | Criterion::Near(_)
        | Criterion::List(_)
        | Criterion::FullText(_) => "",
    }
}

/// The OR values, each escaped, joined by `,`.
fn criterion_values(criterion: &Criterion) -> String {
    let items: Vec<String> = match criterion {
        Criterion::Codes { original, .. } => return criterion_values(original),
        Criterion::Missing(missing) => vec![missing.to_string()],
        Criterion::Number(values) => values.iter().map(|v| v.query_text()).collect(),
        Criterion::Date(values) => values.iter().map(|v| v.query_text()).collect(),
        Criterion::Quantity(values) => values.iter().map(|v| v.query_text()).collect(),
        Criterion::String(_, values) | Criterion::TokenText(values) => values.iter().map(|v| escape(&v.text)).collect(),
        Criterion::Token(_, values) | Criterion::ReferenceIdentifier(values) => {
            values.iter().map(|v| v.query_text()).collect()
        }
        Criterion::InValueSet { urls: texts, .. } | Criterion::Uri(_, texts) => {
            texts.iter().map(|t| escape(t)).collect()
        }
        Criterion::FullText(queries) => queries.iter().map(|q| escape(&q.text)).collect(),
        Criterion::OfType(values) => values.iter().map(|v| v.query_text()).collect(),
        Criterion::Reference(values) => values.iter().map(|v| v.query_text()).collect(),
        Criterion::Composite(values) => values
            .iter()
            .map(|components| {
                let parts: Vec<String> = components.iter().map(|c| c.query_text()).collect();
                parts.join("$")
            })
            .collect(),
        // Kept as written, escapes and all.
        Criterion::Special(raw) => raw.clone(),
        Criterion::Near(values) => values.iter().map(|v| v.raw.clone()).collect(),
        Criterion::List(ids) => ids.iter().map(|id| id.to_string()).collect(),
    };
    items.join(",")
}

fn include(name: &str, include: &Include) -> (String, String) {
    let name = match include.iterate {
        true => format!("{name}:iterate"),
        false => name.to_owned(),
    };
    let value = match &include.what {
        IncludeTarget::All => "*".to_owned(),
        IncludeTarget::AllOf(source) => format!("{source}:*"),
        IncludeTarget::Param {
            source,
            param,
            target: None,
        } => format!("{source}:{param}"),
        IncludeTarget::Param {
            source,
            param,
            target: Some(target),
        } => format!("{source}:{param}:{target}"),
    };
    (name, value)
}

fn summary_code(mode: SummaryMode) -> &'static str {
    match mode {
        SummaryMode::True => "true",
        SummaryMode::Text => "text",
        SummaryMode::Data => "data",
        SummaryMode::Count => "count",
        SummaryMode::False => "false",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `+` in a time zone would come back as a space from form decoding.
    #[test]
    fn plus_bar_dollar_and_backslash_are_percent_encoded() {
        assert_eq!(encode("2024-01-01T10:00:00+02:00"), "2024-01-01T10:00:00%2B02:00");
        assert_eq!(encode(r"a|b$c\,d e"), "a%7Cb%24c%5C,d%20e");
        assert_eq!(encode("José"), "Jos%C3%A9");
    }

    #[test]
    fn summary_codes_are_read_back_by_summary_mode() {
        for mode in [
            SummaryMode::True,
            SummaryMode::Text,
            SummaryMode::Data,
            SummaryMode::Count,
            SummaryMode::False,
        ] {
            assert_eq!(SummaryMode::parse(summary_code(mode)), Some(mode));
        }
    }
}
