//! A parameter's value read by the parameter's type and modifier
//! (<https://hl7.org/fhir/R4/search.html#modifiers>): which modifiers a type
//! takes, and what its values then are.
//!
//! | type | modifiers |
//! |---|---|
//! | every type | `:missing` |
//! | string | `:exact`, `:contains` |
//! | token | `:text`, `:not`, `:above`, `:below`, `:in`, `:not-in`, `:of-type` |
//! | reference | `:[type]`, `:identifier` |
//! | uri | `:above`, `:below`, `:contains` (the last from R5) |
//!
//! R4 defines `:text` for tokens only, so a string or reference `:text` is
//! rejected like any modifier its type does not take.

use super::escape::{split, unescape};
use super::name::{targets_of, Modifier, NameError, Named, Target};
use super::text_query;
use super::value::{self, Prefix, ReferenceValue, Value, ValueError};
use super::{Criterion, SearchParamError, StringMatch, TokenMatch, UriMatch};
use crate::index::{ParamType, SearchParam};
use crate::model::{Id, ResourceType};

/// The criterion `name=value` states; `named` is `name` resolved.
pub(crate) fn parse(name: &str, named: &Named<'_>, value: &str) -> Result<Criterion, SearchParamError> {
    let reader = Reader { name, named };
    reader.check_declared_modifier()?;
    if named.modifier == Some(Modifier::Missing) && matches!(named.target, Target::Param { .. }) {
        return match value {
            "true" => Ok(Criterion::Missing(true)),
            "false" => Ok(Criterion::Missing(false)),
            _ => Err(reader.bad(value, ValueError::NotABoolean)),
        };
    }
    let items = reader.items(value)?;
    match &named.target {
        Target::List => reader.list(&items),
        Target::FullText => reader.full_text(&items),
        Target::Param { kind, defs } => reader.param(*kind, defs, &items),
    }
}

struct Reader<'a, 'r> {
    name: &'a str,
    named: &'a Named<'r>,
}

impl Reader<'_, '_> {
    fn bad(&self, value: &str, reason: ValueError) -> SearchParamError {
        SearchParamError::Value {
            name: self.name.to_owned(),
            value: value.to_owned(),
            reason,
        }
    }

    fn bad_name(&self, reason: NameError) -> SearchParamError {
        SearchParamError::Name {
            name: self.name.to_owned(),
            reason,
        }
    }

    fn modifier_not_allowed(&self, modifier: Modifier, kind: &'static str) -> SearchParamError {
        let modifier = match modifier {
            Modifier::Type(t) => t.to_string(),
            other => other.code().to_owned(),
        };
        self.bad_name(NameError::ModifierNotAllowed {
            modifier,
            code: self.named.code.clone(),
            kind,
        })
    }

    /// A SearchParameter may list the modifiers it allows (`SearchParameter.modifier`).
    fn check_declared_modifier(&self) -> Result<(), SearchParamError> {
        let (Some(modifier), Target::Param { kind, defs }) = (self.named.modifier, &self.named.target) else {
            return Ok(());
        };
        let declared =
            |def: &&SearchParam| def.modifiers.is_empty() || def.modifiers.iter().any(|m| m == modifier.code());
        match defs.iter().all(declared) {
            true => Ok(()),
            false => Err(self.modifier_not_allowed(modifier, kind.as_str())),
        }
    }

    /// The OR items, still escaped; none may be empty.
    fn items<'v>(&self, value: &'v str) -> Result<Vec<&'v str>, SearchParamError> {
        let items = split(value, ',');
        if items.iter().any(|item| item.is_empty()) {
            return Err(self.bad(value, ValueError::Empty));
        }
        if let Target::Param { defs, .. } = &self.named.target {
            if items.len() > 1 && !defs.iter().all(|d| d.multiple_or) {
                return Err(self.bad(value, ValueError::NotASingleValue));
            }
        }
        Ok(items)
    }

    fn each<T>(
        &self,
        items: &[&str],
        read: impl Fn(&str) -> Result<T, ValueError>,
    ) -> Result<Vec<T>, SearchParamError> {
        items
            .iter()
            .map(|item| read(item).map_err(|reason| self.bad(item, reason)))
            .collect()
    }

    fn list(&self, items: &[&str]) -> Result<Criterion, SearchParamError> {
        if let Some(modifier) = self.named.modifier {
            return Err(self.modifier_not_allowed(modifier, "list"));
        }
        let ids = self.each(items, |item| Id::parse(&unescape(item)).ok_or(ValueError::NotAnId))?;
        Ok(Criterion::List(ids))
    }

    fn full_text(&self, items: &[&str]) -> Result<Criterion, SearchParamError> {
        if let Some(modifier) = self.named.modifier {
            return Err(self.modifier_not_allowed(modifier, "full-text"));
        }
        let queries = self.each(items, |item| {
            text_query::parse(&unescape(item)).map_err(ValueError::NotATextQuery)
        })?;
        Ok(Criterion::FullText(queries))
    }

    fn param(&self, kind: ParamType, defs: &[&SearchParam], items: &[&str]) -> Result<Criterion, SearchParamError> {
        let strings = |mode| {
            Ok(Criterion::String(
                mode,
                items.iter().map(|i| value::string(i)).collect(),
            ))
        };
        let tokens = |mode| Ok(Criterion::Token(mode, self.each(items, value::token)?));
        let uris = |mode| Ok(Criterion::Uri(mode, items.iter().map(|i| value::uri(i)).collect()));
        let value_sets = |negated| {
            let urls = items.iter().map(|i| value::uri(i)).collect();
            Ok(Criterion::InValueSet { negated, urls })
        };
        match (kind, self.named.modifier) {
            (ParamType::Number, None) => {
                let numbers = self.each(items, value::number)?;
                self.check_prefixes(defs, items, numbers.iter().map(|n| n.prefix))?;
                Ok(Criterion::Number(numbers))
            }
            (ParamType::Date, None) => {
                let dates = self.each(items, value::date)?;
                self.check_prefixes(defs, items, dates.iter().map(|d| d.prefix))?;
                Ok(Criterion::Date(dates))
            }
            (ParamType::Quantity, None) => {
                let quantities = self.each(items, value::quantity)?;
                self.check_prefixes(defs, items, quantities.iter().map(|q| q.number.prefix))?;
                Ok(Criterion::Quantity(quantities))
            }
            (ParamType::String, None) => strings(StringMatch::StartsWith),
            (ParamType::String, Some(Modifier::Exact)) => strings(StringMatch::Exact),
            (ParamType::String, Some(Modifier::Contains)) => strings(StringMatch::Contains),
            (ParamType::Token, None) => tokens(TokenMatch::Equal),
            (ParamType::Token, Some(Modifier::Not)) => tokens(TokenMatch::Not),
            (ParamType::Token, Some(Modifier::Above)) => tokens(TokenMatch::Above),
            (ParamType::Token, Some(Modifier::Below)) => tokens(TokenMatch::Below),
            (ParamType::Token, Some(Modifier::Text)) => {
                Ok(Criterion::TokenText(items.iter().map(|i| value::string(i)).collect()))
            }
            (ParamType::Token, Some(Modifier::In)) => value_sets(false),
            (ParamType::Token, Some(Modifier::NotIn)) => value_sets(true),
            (ParamType::Token, Some(Modifier::OfType)) => Ok(Criterion::OfType(self.each(items, value::of_type)?)),
            (ParamType::Reference, None) => self.references(defs, items, None),
            (ParamType::Reference, Some(Modifier::Type(wanted))) => self.references(defs, items, Some(wanted)),
            (ParamType::Reference, Some(Modifier::Identifier)) => {
                Ok(Criterion::ReferenceIdentifier(self.each(items, value::token)?))
            }
            (ParamType::Uri, None) => uris(UriMatch::Equal),
            (ParamType::Uri, Some(Modifier::Above)) => uris(UriMatch::Above),
            (ParamType::Uri, Some(Modifier::Below)) => uris(UriMatch::Below),
            (ParamType::Uri, Some(Modifier::Contains)) => uris(UriMatch::Contains),
            (ParamType::Composite, None) => self.composite(defs, items),
            (ParamType::Special, None) if defs.iter().all(|d| crate::index::is_searchable_special(&d.code)) => {
                Ok(Criterion::Near(self.each(items, value::near)?))
            }
            (ParamType::Special, None) => Ok(Criterion::Special(items.iter().map(|i| (*i).to_owned()).collect())),
            (kind, Some(modifier)) => Err(self.modifier_not_allowed(modifier, kind.as_str())),
        }
    }

    /// A SearchParameter may list the prefixes it allows (`SearchParameter.comparator`).
    fn check_prefixes(
        &self,
        defs: &[&SearchParam],
        items: &[&str],
        prefixes: impl Iterator<Item = Prefix>,
    ) -> Result<(), SearchParamError> {
        for (item, prefix) in items.iter().zip(prefixes) {
            let allowed = |def: &&&SearchParam| {
                prefix == Prefix::Eq || def.comparators.is_empty() || def.comparators.iter().any(|c| c == prefix.code())
            };
            if !defs.iter().all(|def| allowed(&def)) {
                return Err(self.bad(item, ValueError::PrefixNotAllowed(prefix.code())));
            }
        }
        Ok(())
    }

    /// References, with the `:Type` modifier folded in (`subject:Patient=1`
    /// is `subject=Patient/1`, search.html#reference) and each type checked
    /// against the parameter's targets.
    fn references(
        &self,
        defs: &[&SearchParam],
        items: &[&str],
        wanted: Option<ResourceType>,
    ) -> Result<Criterion, SearchParamError> {
        let targets = targets_of(defs.iter().copied());
        if let Some(wanted) = wanted.filter(|t| !targets.contains(t)) {
            return Err(self.bad_name(NameError::NotATarget {
                code: self.named.code.clone(),
                target: wanted,
            }));
        }
        let read = |item: &str| {
            let reference = match (value::reference(item)?, wanted) {
                (ReferenceValue::Local { resource_type, id }, Some(wanted)) => match resource_type {
                    Some(found) if found != wanted => return Err(ValueError::TypeMismatch { wanted, found }),
                    _ => ReferenceValue::Local {
                        resource_type: Some(wanted),
                        id,
                    },
                },
                (ReferenceValue::Url { .. }, Some(_)) => return Err(ValueError::UrlWithType),
                (reference, None) => reference,
            };
            match &reference {
                ReferenceValue::Local {
                    resource_type: Some(t), ..
                } if !targets.contains(t) => Err(ValueError::NotATarget(*t)),
                _ => Ok(reference),
            }
        };
        Ok(Criterion::Reference(self.each(items, read)?))
    }

    /// `a$b`: one value per component, each read by its component's type.
    fn composite(&self, defs: &[&SearchParam], items: &[&str]) -> Result<Criterion, SearchParamError> {
        let kinds: Vec<ParamType> = defs
            .first()
            .map(|def| def.components.iter().map(|c| c.kind).collect())
            .unwrap_or_default();
        let same_components = defs
            .iter()
            .all(|def| def.components.iter().map(|c| c.kind).eq(kinds.iter().copied()));
        if !same_components {
            return Err(self.bad_name(NameError::Ambiguous(self.named.code.clone())));
        }
        if kinds.is_empty()
            || kinds
                .iter()
                .any(|k| matches!(k, ParamType::Composite | ParamType::Special))
        {
            return Err(self.bad_name(NameError::NotSupported(format!(
                "the composite parameter '{}', whose components cannot be searched",
                self.named.code
            ))));
        }
        let read = |item: &str| {
            let parts = split(item, '$');
            if parts.len() != kinds.len() {
                return Err(ValueError::ComponentCount {
                    expected: kinds.len(),
                    found: parts.len(),
                });
            }
            parts
                .iter()
                .zip(&kinds)
                .map(|(part, kind)| component(*kind, part))
                .collect()
        };
        Ok(Criterion::Composite(self.each(items, read)?))
    }
}

/// One composite component: the plain value of its type.
fn component(kind: ParamType, part: &str) -> Result<Value, ValueError> {
    if part.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(match kind {
        ParamType::Number => Value::Number(value::number(part)?),
        ParamType::Date => Value::Date(value::date(part)?),
        ParamType::Quantity => Value::Quantity(value::quantity(part)?),
        ParamType::String => Value::String(value::string(part)),
        ParamType::Token => Value::Token(value::token(part)?),
        ParamType::Reference => Value::Reference(value::reference(part)?),
        // Composite and special components are refused before any value is read.
        ParamType::Uri | ParamType::Composite | ParamType::Special => Value::Uri(value::uri(part)),
    })
}
