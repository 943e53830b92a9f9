//! The parse step of search (<https://hl7.org/fhir/R4/search.html>): the
//! query pairs of a search request, already percent-decoded and in order,
//! become a typed [`SearchRequest`] that the planner compiles without looking
//! at text again.
//!
//! Every parameter is checked against the SearchParameter [`Registry`]: its
//! type decides how its values and modifiers are read. A parameter the server
//! does not know or support is an error under `Prefer: handling=strict` and is
//! otherwise listed in [`SearchRequest::ignored`] and left out of the self link
//! ([search.html#errors]). A bad value of a known parameter is always an error.
//!
//! Submodules: `escape` (`\,` `\$` `\|` `\\`), `value` (values by type),
//! `name` (chains, `_has`, modifiers), `criterion` (a parameter's values read
//! by its type and modifier), `text_query` (`_text` / `_content` values),
//! `result` (`_include`, `_sort`, `_count`…), `link` (the self link).
//!
//! [search.html#errors]: https://hl7.org/fhir/R4/search.html#errors

mod criterion;
mod escape;
mod link;
mod name;
mod result;
pub mod text_query;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use thiserror::Error;

use crate::error::FhirError;
use crate::index::Registry;
use crate::model::elements::SummaryMode;
use crate::model::{Id, ResourceType};

pub use name::NameError;
pub use text_query::{TextExpr, TextQuery, TextQueryError};
pub use value::{
    DateValue, NearValue, NumberValue, OfTypeValue, Prefix, QuantityValue, ReferenceValue, StringValue, TokenValue,
    Value, ValueError,
};

/// What the caller decides about parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// `Prefer: handling=strict`: unknown or unsupported parameters are errors.
    pub strict: bool,
    /// `_count` above this is lowered to it.
    pub max_count: u32,
    /// The page size when the request has no `_count`.
    pub default_count: u32,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            strict: false,
            max_count: 1000,
            default_count: 50,
        }
    }
}

/// A search request, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// `None` for a search across all types (`GET [base]?…`).
    pub resource_type: Option<ResourceType>,
    /// `_type`: the types a search across all types is limited to (empty: all).
    pub types: Vec<ResourceType>,
    /// The criteria, all of which a match meets (a repeated parameter is one
    /// clause per occurrence).
    pub clauses: Vec<Clause>,
    pub includes: Vec<Include>,
    pub revincludes: Vec<Include>,
    pub sort: Vec<SortKey>,
    /// `_count`, or the default, capped at the maximum.
    pub count: u32,
    pub total: Option<TotalMode>,
    pub summary: Option<SummaryMode>,
    /// `_elements`: the element names asked for (empty: all).
    pub elements: Vec<String>,
    pub contained: Contained,
    pub contained_type: ContainedType,
    /// `_page`: the paging cursor, opaque here (the planner defines it).
    pub page: Option<String>,
    /// Parameters not applied, and why: those without a value, and unknown or
    /// unsupported ones under lenient handling.
    pub ignored: Vec<(String, String)>,
}

/// One criterion: the resources reached through `path` have a value of the
/// parameter `code` that passes `criterion`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Chains and reverse chains, in the order written; empty for a plain
    /// parameter of the searched type.
    pub path: Vec<Link>,
    pub code: String,
    pub criterion: Criterion,
}

/// One step from the resources at hand to others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// `param[:Type].`: to the resources the reference parameter `param`
    /// points at, of the `types` on which the rest of the path exists (one
    /// when the chain names it or only one fits; otherwise the planner tries
    /// each).
    Chain { param: String, types: Vec<ResourceType> },
    /// `_has:Source:param:`: to the `source` resources whose reference
    /// parameter `param` points at the resource at hand.
    Has { source: ResourceType, param: String },
}

/// A parameter's values, any of which may match, read by the parameter's type
/// and modifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// `:missing=true|false`, any type.
    Missing(bool),
    Number(Vec<NumberValue>),
    Date(Vec<DateValue>),
    Quantity(Vec<QuantityValue>),
    /// String, plain (starts with), `:exact` or `:contains`.
    String(StringMatch, Vec<StringValue>),
    /// Token, plain, `:not`, `:above` or `:below`.
    Token(TokenMatch, Vec<TokenValue>),
    /// Token `:text`: the text of the coding or concept.
    TokenText(Vec<StringValue>),
    /// Token `:in` / `:not-in` (`negated`): the value set URLs.
    InValueSet {
        negated: bool,
        urls: Vec<String>,
    },
    /// Token `:of-type`.
    OfType(Vec<OfTypeValue>),
    /// `:in`, `:not-in`, `:above` or `:below` (`original`) resolved by the
    /// terminology service into the (system, code) pairs it stands for.
    Codes {
        negated: bool,
        codes: Vec<(String, String)>,
        original: Box<Criterion>,
    },
    /// Reference, plain or with a `:Type` modifier (folded into the values).
    Reference(Vec<ReferenceValue>),
    /// Reference `:identifier`: the identifier of the reference.
    ReferenceIdentifier(Vec<TokenValue>),
    /// Uri, plain, `:above`, `:below` or `:contains`.
    Uri(UriMatch, Vec<String>),
    /// Composite: each value is one typed value per component, in order.
    Composite(Vec<Vec<Value>>),
    /// Special (e.g. `Location.near`): the text as written, escapes kept,
    /// since only the parameter knows its syntax.
    Special(Vec<String>),
    /// `near` (Location.position): within a distance of a point.
    Near(Vec<NearValue>),
    /// `_list`: ids of List resources the match is an item of.
    List(Vec<Id>),
    /// `_text` / `_content`: full-text queries, any of which may match.
    FullText(Vec<TextQuery>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMatch {
    /// No modifier: the value starts with the text, folded.
    StartsWith,
    /// `:exact`: the whole value, case and accents included.
    Exact,
    /// `:contains`: the text anywhere in the value, folded.
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMatch {
    Equal,
    /// `:not`: resources without a matching value (including those without any).
    Not,
    /// `:above`: the value subsumes the code.
    Above,
    /// `:below`: the value is subsumed by the code.
    Below,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMatch {
    Equal,
    /// `:above`: the value is a prefix of the URL.
    Above,
    /// `:below`: the URL is a prefix of the value.
    Below,
    /// `:contains` (defined for uri in R5; harmless and useful in R4).
    Contains,
}

/// One `_include` or `_revinclude`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// `:iterate` (R4's `:recurse` too): also from the resources included.
    pub iterate: bool,
    pub what: IncludeTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncludeTarget {
    /// `*`: every reference parameter.
    All,
    /// `Type:*`: every reference parameter of `Type`.
    AllOf(ResourceType),
    /// `Type:param[:Target]`.
    Param {
        source: ResourceType,
        param: String,
        target: Option<ResourceType>,
    },
}

/// One `_sort` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub code: String,
    pub descending: bool,
}

/// `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalMode {
    /// `none`: the client does not need it.
    Omit,
    Estimate,
    Accurate,
}

/// `_contained`: whether contained resources are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Contained {
    /// `false` (the default): only resources that are not contained.
    #[default]
    Excluded,
    /// `true`: only contained resources.
    Only,
    /// `both`.
    Both,
}

/// `_containedType`: how a contained match is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainedType {
    /// `container` (the default): the resource that contains it.
    #[default]
    Container,
    /// `contained`: the contained resource itself.
    Contained,
}

/// Why a search request cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SearchParamError {
    /// The name: an unknown or unsupported parameter, a wrong modifier, a bad chain.
    #[error("search parameter '{name}': {reason}")]
    Name { name: String, reason: NameError },
    #[error("search parameter '{name}': '{value}' {reason}")]
    Value {
        name: String,
        value: String,
        reason: ValueError,
    },
    #[error("search parameter '{name}' can be given only once")]
    Repeated { name: String },
}

impl SearchParamError {
    /// Whether the server merely does not know or support what was asked,
    /// which lenient handling ignores.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, SearchParamError::Name { reason, .. } if reason.is_unsupported())
    }
}

/// Parses the query pairs of a search on `resource_type` (`None`: across all types).
pub fn parse(
    resource_type: Option<&str>,
    pairs: &[(String, String)],
    registry: &Registry,
    options: &ParseOptions,
) -> Result<SearchRequest, FhirError> {
    let resource_type = match resource_type {
        Some(name) => Some(ResourceType::parse(name).ok_or_else(|| FhirError::UnknownResourceType(name.to_owned()))?),
        None => None,
    };
    Ok(Parser::new(resource_type, registry, options).run(pairs)?)
}

/// The request being built, and what is needed to check each parameter.
struct Parser<'r> {
    registry: &'r Registry,
    options: &'r ParseOptions,
    request: SearchRequest,
    /// Parameters already given that may be given only once.
    seen_once: HashSet<String>,
}

impl<'r> Parser<'r> {
    fn new(resource_type: Option<ResourceType>, registry: &'r Registry, options: &'r ParseOptions) -> Self {
        Parser {
            registry,
            options,
            request: SearchRequest {
                resource_type,
                types: Vec::new(),
                clauses: Vec::new(),
                includes: Vec::new(),
                revincludes: Vec::new(),
                sort: Vec::new(),
                count: options.default_count.min(options.max_count),
                total: None,
                summary: None,
                elements: Vec::new(),
                contained: Contained::default(),
                contained_type: ContainedType::default(),
                page: None,
                ignored: Vec::new(),
            },
            seen_once: HashSet::new(),
        }
    }

    fn run(mut self, pairs: &[(String, String)]) -> Result<SearchRequest, SearchParamError> {
        // `_type` decides which parameters the others may name, wherever it is.
        let (types, others): (Vec<_>, Vec<_>) = pairs.iter().partition(|(name, _)| name == "_type");
        for (name, value) in types.into_iter().chain(others) {
            // A parameter without a value asks for nothing.
            if value.is_empty() {
                self.request.ignored.push((name.clone(), "has no value".to_owned()));
                continue;
            }
            let outcome = match name.as_str() {
                "_type" => self.types(name, value),
                _ => self.pair(name, value),
            };
            self.lenient(outcome)?;
        }
        Ok(self.request)
    }

    /// Under lenient handling, turns "not supported" into an ignored parameter.
    fn lenient(&mut self, outcome: Result<(), SearchParamError>) -> Result<(), SearchParamError> {
        match outcome {
            Err(SearchParamError::Name { name, reason }) if reason.is_unsupported() && !self.options.strict => {
                self.request.ignored.push((name, reason.to_string()));
                Ok(())
            }
            other => other,
        }
    }

    fn pair(&mut self, name: &str, value: &str) -> Result<(), SearchParamError> {
        let (base, modifier) = match name.split_once(':') {
            Some((base, modifier)) => (base, Some(modifier)),
            None => (name, None),
        };
        match base {
            // Output format: the HTTP layer's.
            "_format" | "_pretty" => Ok(()),
            "_include" | "_revinclude" => self.include(name, base, modifier, value),
            "_sort" | "_count" | "_total" | "_summary" | "_elements" | "_contained" | "_containedType" | "_page" => {
                match modifier {
                    Some(modifier) => Err(SearchParamError::Name {
                        name: name.to_owned(),
                        reason: NameError::UnknownModifier(modifier.to_owned()),
                    }),
                    None => self.result_parameter(name, value),
                }
            }
            _ => self.clause(name, value),
        }
    }

    fn types(&mut self, name: &str, value: &str) -> Result<(), SearchParamError> {
        if self.request.resource_type.is_some() {
            return Err(SearchParamError::Name {
                name: name.to_owned(),
                reason: NameError::OnlyAcrossTypes,
            });
        }
        for item in value.split(',') {
            let resource_type = ResourceType::parse(item).ok_or_else(|| SearchParamError::Value {
                name: name.to_owned(),
                value: item.to_owned(),
                reason: ValueError::UnknownType(item.to_owned()),
            })?;
            if !self.request.types.contains(&resource_type) {
                self.request.types.push(resource_type);
            }
        }
        Ok(())
    }

    fn clause(&mut self, name: &str, value: &str) -> Result<(), SearchParamError> {
        let named = name::parse(name, &self.scope(), self.registry).map_err(|reason| SearchParamError::Name {
            name: name.to_owned(),
            reason,
        })?;
        let criterion = criterion::parse(name, &named, value)?;
        if !named.multiple_and() {
            self.once(name)?;
        }
        self.request.clauses.push(Clause {
            path: named.path,
            code: named.code,
            criterion,
        });
        Ok(())
    }

    fn include(&mut self, name: &str, base: &str, modifier: Option<&str>, value: &str) -> Result<(), SearchParamError> {
        let iterate = match modifier {
            None => false,
            Some("iterate" | "recurse") => true,
            Some(other) => {
                return Err(SearchParamError::Name {
                    name: name.to_owned(),
                    reason: NameError::UnknownModifier(other.to_owned()),
                })
            }
        };
        let what = result::include_target(name, value, self.registry)?;
        let include = Include { iterate, what };
        match base {
            "_include" => self.request.includes.push(include),
            _ => self.request.revincludes.push(include),
        }
        Ok(())
    }

    fn result_parameter(&mut self, name: &str, value: &str) -> Result<(), SearchParamError> {
        if name != "_elements" && name != "_sort" {
            self.once(name)?;
        }
        let bad = |reason| SearchParamError::Value {
            name: name.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let request = &mut self.request;
        match name {
            "_count" => request.count = result::count(value).map_err(bad)?.min(self.options.max_count),
            "_total" => request.total = Some(result::total(value).map_err(bad)?),
            "_summary" => request.summary = Some(result::summary(value).map_err(bad)?),
            "_elements" => request.elements.extend(result::elements(value).map_err(bad)?),
            "_contained" => request.contained = result::contained(value).map_err(bad)?,
            "_containedType" => request.contained_type = result::contained_type(value).map_err(bad)?,
            "_page" => request.page = Some(value.to_owned()),
            // `_sort`, the one result parameter left.
            _ => return self.sort(name, value),
        }
        Ok(())
    }

    /// `_sort`: a key naming an unknown parameter is dropped on its own
    /// (lenient) so the others still apply.
    fn sort(&mut self, name: &str, value: &str) -> Result<(), SearchParamError> {
        let scope = self.scope();
        for item in value.split(',') {
            let key = result::sort_key(name, item, &scope, self.registry);
            match key {
                Ok(key) => self.request.sort.push(key),
                Err(e) => self.lenient(Err(e))?,
            }
        }
        Ok(())
    }

    fn once(&mut self, name: &str) -> Result<(), SearchParamError> {
        match self.seen_once.insert(name.to_owned()) {
            true => Ok(()),
            false => Err(SearchParamError::Repeated { name: name.to_owned() }),
        }
    }

    /// The types the parameters of this request are looked up on.
    fn scope(&self) -> name::Scope {
        match self.request.resource_type {
            Some(t) => name::Scope::Every(vec![t]),
            None => name::Scope::Every(self.request.types.clone()),
        }
    }
}
