//! The parameters that shape results rather than select them
//! (<https://hl7.org/fhir/R4/search.html#return>): `_include`, `_revinclude`,
//! `_sort`, `_count`, `_total`, `_summary`, `_elements`, `_contained`,
//! `_containedType`.

use super::name::{self, targets_of, NameError, Scope};
use super::value::ValueError;
use super::{Contained, ContainedType, IncludeTarget, SearchParamError, SortKey, TotalMode};
use crate::index::{ParamType, Registry};
use crate::model::elements::SummaryMode;
use crate::model::ResourceType;

/// `*`, `Type:*` or `Type:param[:Target]`, where `param` is a reference
/// parameter of `Type` and `Target` one of its targets.
pub(crate) fn include_target(name: &str, value: &str, registry: &Registry) -> Result<IncludeTarget, SearchParamError> {
    let bad = |reason| SearchParamError::Value {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let bad_name = |reason| SearchParamError::Name {
        name: name.to_owned(),
        reason,
    };
    if value == "*" {
        return Ok(IncludeTarget::All);
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (source, param, target) = match parts.as_slice() {
        [source, param] => (*source, *param, None),
        [source, param, target] => (*source, *param, Some(*target)),
        _ => return Err(bad(ValueError::NotAnInclude)),
    };
    let source = ResourceType::parse(source).ok_or_else(|| bad(ValueError::UnknownType(source.to_owned())))?;
    if param == "*" && target.is_none() {
        return Ok(IncludeTarget::AllOf(source));
    }
    let def = registry.get(source.as_str(), param).ok_or_else(|| {
        bad_name(NameError::UnknownParameter {
            code: param.to_owned(),
            on: source.to_string(),
        })
    })?;
    if def.kind != ParamType::Reference {
        return Err(bad_name(NameError::NotAReference(param.to_owned())));
    }
    let target = match target {
        Some(text) => {
            let target = ResourceType::parse(text).ok_or_else(|| bad(ValueError::UnknownType(text.to_owned())))?;
            if !targets_of([def]).contains(&target) {
                return Err(bad(ValueError::NotATarget(target)));
            }
            Some(target)
        }
        None => None,
    };
    Ok(IncludeTarget::Param {
        source,
        param: param.to_owned(),
        target,
    })
}

/// One `_sort` item: `[-]code`, a parameter of the searched types.
pub(crate) fn sort_key(
    name: &str,
    item: &str,
    scope: &Scope,
    registry: &Registry,
) -> Result<SortKey, SearchParamError> {
    let (descending, code) = match item.strip_prefix('-') {
        Some(code) => (true, code),
        None => (false, item),
    };
    if code.is_empty() || code.contains([':', '.']) {
        return Err(SearchParamError::Value {
            name: name.to_owned(),
            value: item.to_owned(),
            reason: ValueError::NotASortKey,
        });
    }
    name::parse(code, scope, registry).map_err(|reason| SearchParamError::Name {
        name: name.to_owned(),
        reason,
    })?;
    Ok(SortKey {
        code: code.to_owned(),
        descending,
    })
}

pub(crate) fn count(value: &str) -> Result<u32, ValueError> {
    // `u32::from_str` takes a leading `+`, which is not an integer in FHIR.
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::NotACount);
    }
    value.parse().map_err(|_| ValueError::NotACount)
}

pub(crate) fn total(value: &str) -> Result<TotalMode, ValueError> {
    match value {
        "none" => Ok(TotalMode::Omit),
        "estimate" => Ok(TotalMode::Estimate),
        "accurate" => Ok(TotalMode::Accurate),
        _ => Err(ValueError::NotOneOf("none, estimate, accurate")),
    }
}

pub(crate) fn summary(value: &str) -> Result<SummaryMode, ValueError> {
    SummaryMode::parse(value).ok_or(ValueError::NotOneOf("true, text, data, count, false"))
}

/// Element names (`identifier`, `name`, `valueQuantity`); the elements module
/// decides what each keeps.
pub(crate) fn elements(value: &str) -> Result<Vec<String>, ValueError> {
    value
        .split(',')
        .map(|element| {
            let ok = !element.is_empty()
                && element
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'));
            ok.then(|| element.to_owned()).ok_or(ValueError::NotAnElement)
        })
        .collect()
}

pub(crate) fn contained(value: &str) -> Result<Contained, ValueError> {
    match value {
        "false" => Ok(Contained::Excluded),
        "true" => Ok(Contained::Only),
        "both" => Ok(Contained::Both),
        _ => Err(ValueError::NotOneOf("true, false, both")),
    }
}

pub(crate) fn contained_type(value: &str) -> Result<ContainedType, ValueError> {
    match value {
        "container" => Ok(ContainedType::Container),
        "contained" => Ok(ContainedType::Contained),
        _ => Err(ValueError::NotOneOf("container, contained")),
    }
}

impl TotalMode {
    pub(crate) fn code(self) -> &'static str {
        match self {
            TotalMode::Omit => "none",
            TotalMode::Estimate => "estimate",
            TotalMode::Accurate => "accurate",
        }
    }
}

impl Contained {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Contained::Excluded => "false",
            Contained::Only => "true",
            Contained::Both => "both",
        }
    }
}

impl ContainedType {
    pub(crate) fn code(self) -> &'static str {
        match self {
            ContainedType::Container => "container",
            ContainedType::Contained => "contained",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_a_non_negative_integer() {
        assert_eq!(count("0"), Ok(0));
        assert_eq!(count("20"), Ok(20));
        for bad in ["", "-1", "+5", "abc", "1.5", "99999999999"] {
            assert_eq!(count(bad), Err(ValueError::NotACount), "{bad}");
        }
    }

    #[test]
    fn total_summary_and_contained_take_only_their_codes() {
        assert_eq!(total("accurate"), Ok(TotalMode::Accurate));
        assert!(total("all").is_err());
        assert_eq!(summary("count"), Ok(SummaryMode::Count));
        assert!(summary("TRUE").is_err());
        assert_eq!(contained("both"), Ok(Contained::Both));
        assert!(contained("yes").is_err());
        assert_eq!(contained_type("contained"), Ok(ContainedType::Contained));
        assert!(contained_type("inline").is_err());
    }

    #[test]
    fn elements_are_names() {
        assert_eq!(
            elements("identifier,name"),
            Ok(vec!["identifier".to_owned(), "name".to_owned()])
        );
        assert_eq!(elements("name,"), Err(ValueError::NotAnElement));
        assert_eq!(elements("na me"), Err(ValueError::NotAnElement));
    }

    /// Every code written by the self link is read back as itself.
    #[test]
    fn codes_round_trip() {
        for mode in [TotalMode::Omit, TotalMode::Estimate, TotalMode::Accurate] {
            assert_eq!(total(mode.code()), Ok(mode));
        }
        for mode in [Contained::Excluded, Contained::Only, Contained::Both] {
            assert_eq!(contained(mode.code()), Ok(mode));
        }
        for mode in [ContainedType::Container, ContainedType::Contained] {
            assert_eq!(contained_type(mode.code()), Ok(mode));
        }
    }
}
