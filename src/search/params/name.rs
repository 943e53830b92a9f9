//! Parameter names (<https://hl7.org/fhir/R4/search.html#modifiers>,
//! [#chaining], [#has]): `code[:modifier]`, chains `ref[:Type].code` to any
//! depth and reverse chains `_has:Type:ref:code`, each link checked against
//! the registry.
//!
//! [#chaining]: https://hl7.org/fhir/R4/search.html#chaining
//! [#has]: https://hl7.org/fhir/R4/search.html#has

use thiserror::Error;

use super::Link;
use crate::index::{ParamType, Registry, SearchParam};
use crate::model::ResourceType;

/// What is wrong with a parameter name. Some only mean the server does not
/// know or support it ([`NameError::is_unsupported`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("'{code}' is not a search parameter of {on}")]
    UnknownParameter { code: String, on: String },
    #[error("{0} is not supported by this server")]
    NotSupported(String),
    #[error("_type applies only to a search across all types")]
    OnlyAcrossTypes,
    #[error("':{0}' is not a modifier")]
    UnknownModifier(String),
    #[error("the modifier ':{modifier}' does not apply to {code}, a {kind} parameter")]
    ModifierNotAllowed {
        modifier: String,
        code: String,
        kind: &'static str,
    },
    #[error("'{0}' is not a reference parameter, so nothing can be chained to it")]
    NotAReference(String),
    #[error("':{0}' before a chain must be a resource type")]
    ChainModifier(String),
    #[error("'{code}' cannot refer to {target}")]
    NotATarget { code: String, target: ResourceType },
    #[error("'{0}' is not a resource type")]
    UnknownType(String),
    #[error("_has must be written _has:Type:reference:parameter")]
    MalformedHas,
    #[error("{referring}.{param} cannot refer to {on}")]
    HasNotPointing {
        referring: ResourceType,
        param: String,
        on: String,
    },
    #[error("'{0}' has different types on the resource types the chain reaches; add a type modifier to the chain")]
    Ambiguous(String),
    #[error("the name has an empty part")]
    EmptyPart,
}

impl NameError {
    /// Unknown or unsupported parameters: errors only under `handling=strict`.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            NameError::UnknownParameter { .. } | NameError::NotSupported(_) | NameError::OnlyAcrossTypes
        )
    }
}

/// The resource types a parameter is looked up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The searched types: the parameter must exist on each (none: a search
    /// across all types, where only parameters of every resource apply).
    Every(Vec<ResourceType>),
    /// Where a chain may land: the parameter must exist on at least one, and
    /// the others are dropped from the chain.
    Any(Vec<ResourceType>),
}

/// A search modifier ([search.html#modifiers]), not yet checked against the
/// parameter's type.
///
/// [search.html#modifiers]: https://hl7.org/fhir/R4/search.html#modifiers
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Missing,
    Exact,
    Contains,
    Text,
    Not,
    Above,
    Below,
    In,
    NotIn,
    OfType,
    Identifier,
    /// `:[type]` on a reference.
    Type(ResourceType),
}

impl Modifier {
    fn parse(text: &str) -> Result<Modifier, NameError> {
        Ok(match text {
            "missing" => Modifier::Missing,
            "exact" => Modifier::Exact,
            "contains" => Modifier::Contains,
            "text" => Modifier::Text,
            "not" => Modifier::Not,
            "above" => Modifier::Above,
            "below" => Modifier::Below,
            "in" => Modifier::In,
            "not-in" => Modifier::NotIn,
            "of-type" => Modifier::OfType,
            "identifier" => Modifier::Identifier,
            other => {
                Modifier::Type(ResourceType::parse(other).ok_or_else(|| NameError::UnknownModifier(other.into()))?)
            }
        })
    }

    /// The `search-modifier-code` (what `SearchParameter.modifier` lists).
    pub(crate) fn code(self) -> &'static str {
        match self {
            Modifier::Missing => "missing",
            Modifier::Exact => "exact",
            Modifier::Contains => "contains",
            Modifier::Text => "text",
            Modifier::Not => "not",
            Modifier::Above => "above",
            Modifier::Below => "below",
            Modifier::In => "in",
            Modifier::NotIn => "not-in",
            Modifier::OfType => "of-type",
            Modifier::Identifier => "identifier",
            Modifier::Type(_) => "type",
        }
    }
}

/// A parameter name resolved against the registry.
#[derive(Debug)]
pub(crate) struct Named<'r> {
    pub(crate) path: Vec<Link>,
    pub(crate) code: String,
    pub(crate) modifier: Option<Modifier>,
    pub(crate) target: Target<'r>,
}

/// What the last part of a name tests.
#[derive(Debug)]
pub(crate) enum Target<'r> {
    /// A registry parameter: its definition on each type it is searched on,
    /// all of the one `kind`.
    Param {
        kind: ParamType,
        defs: Vec<&'r SearchParam>,
    },
    /// `_list`.
    List,
    /// `_text` / `_content`, which have no expression and live in no registry.
    FullText,
}

impl Named<'_> {
    /// Whether the parameter may be repeated (`SearchParameter.multipleAnd`).
    pub(crate) fn multiple_and(&self) -> bool {
        match &self.target {
            Target::Param { defs, .. } => defs.iter().all(|d| d.multiple_and),
            Target::List | Target::FullText => true,
        }
    }
}

/// Resolves `name` on the types of `scope`.
pub(crate) fn parse<'r>(name: &str, scope: &Scope, registry: &'r Registry) -> Result<Named<'r>, NameError> {
    let mut path = Vec::new();
    let mut scope = scope.clone();
    let mut rest = name;
    loop {
        if let Some(after) = rest.strip_prefix("_has:") {
            let (link, reached, remainder) = has(after, &scope, registry)?;
            settle(&mut path, &scope, reached);
            scope = match &link {
                Link::Has { source, .. } => Scope::Every(vec![*source]),
                Link::Chain { types, .. } => Scope::Any(types.clone()),
            };
            path.push(link);
            rest = remainder;
            continue;
        }
        let step = Step::split(rest)?;
        let Some(remainder) = step.chained else {
            let modifier = step.modifier.map(Modifier::parse).transpose()?;
            let (target, reached) = target(step.code, &scope, registry)?;
            settle(&mut path, &scope, reached);
            return Ok(Named {
                path,
                code: step.code.to_owned(),
                modifier,
                target,
            });
        };
        let (reached, targets) = hop(step.code, step.modifier, &scope, registry)?;
        settle(&mut path, &scope, reached);
        path.push(Link::Chain {
            param: step.code.to_owned(),
            types: targets.clone(),
        });
        scope = Scope::Any(targets);
        rest = remainder;
    }
}

/// `code[:modifier][.rest]`.
struct Step<'n> {
    code: &'n str,
    modifier: Option<&'n str>,
    chained: Option<&'n str>,
}

impl<'n> Step<'n> {
    fn split(text: &'n str) -> Result<Step<'n>, NameError> {
        let end = text.find([':', '.']).unwrap_or(text.len());
        let (code, tail) = text.split_at(end);
        let step = match tail.split_at_checked(1) {
            Some((".", chained)) => Step {
                code,
                modifier: None,
                chained: Some(chained),
            },
            Some((_, after_colon)) => match after_colon.split_once('.') {
                Some((modifier, chained)) => Step {
                    code,
                    modifier: Some(modifier),
                    chained: Some(chained),
                },
                None => Step {
                    code,
                    modifier: Some(after_colon),
                    chained: None,
                },
            },
            None => Step {
                code,
                modifier: None,
                chained: None,
            },
        };
        if code.is_empty() || step.chained.is_some_and(str::is_empty) {
            return Err(NameError::EmptyPart);
        }
        Ok(step)
    }
}

/// A chain link: the types where `code` is a reference parameter, and the
/// types it leads to (the `:Type` modifier's, or every target).
fn hop(
    code: &str,
    modifier: Option<&str>,
    scope: &Scope,
    registry: &Registry,
) -> Result<(Vec<ResourceType>, Vec<ResourceType>), NameError> {
    let found = resolve(code, scope, registry)?;
    let references: Vec<_> = found
        .into_iter()
        .filter(|(_, def)| def.kind == ParamType::Reference)
        .collect();
    if references.is_empty() {
        return Err(NameError::NotAReference(code.to_owned()));
    }
    let targets = targets_of(references.iter().map(|(_, def)| *def));
    let reached = references.iter().filter_map(|(t, _)| *t).collect();
    let Some(modifier) = modifier else {
        return Ok((reached, targets));
    };
    let chosen = ResourceType::parse(modifier).ok_or_else(|| NameError::ChainModifier(modifier.to_owned()))?;
    if !targets.contains(&chosen) {
        return Err(NameError::NotATarget {
            code: code.to_owned(),
            target: chosen,
        });
    }
    Ok((reached, vec![chosen]))
}

/// `_has:Source:param:rest` (text after `_has:`): the link, the types of the
/// scope `Source.param` can point at, and `rest`.
fn has<'n>(
    after: &'n str,
    scope: &Scope,
    registry: &Registry,
) -> Result<(Link, Vec<ResourceType>, &'n str), NameError> {
    let mut parts = after.splitn(3, ':');
    let (Some(source), Some(param), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NameError::MalformedHas);
    };
    if source.is_empty() || param.is_empty() || rest.is_empty() {
        return Err(NameError::MalformedHas);
    }
    let source = ResourceType::parse(source).ok_or_else(|| NameError::UnknownType(source.to_owned()))?;
    let def = registry
        .get(source.as_str(), param)
        .ok_or_else(|| NameError::UnknownParameter {
            code: param.to_owned(),
            on: source.to_string(),
        })?;
    if def.kind != ParamType::Reference {
        return Err(NameError::NotAReference(param.to_owned()));
    }
    let targets = targets_of([def]);
    let (types, required) = match scope {
        Scope::Every(types) => (types, types.len().min(1)),
        Scope::Any(types) => (types, 1),
    };
    let reached: Vec<ResourceType> = types.iter().copied().filter(|t| targets.contains(t)).collect();
    if reached.len() < required {
        return Err(NameError::HasNotPointing {
            referring: source,
            param: param.to_owned(),
            on: describe(types),
        });
    }
    let link = Link::Has {
        source,
        param: param.to_owned(),
    };
    Ok((link, reached, rest))
}

/// The last part of a name.
fn target<'r>(code: &str, scope: &Scope, registry: &'r Registry) -> Result<(Target<'r>, Vec<ResourceType>), NameError> {
    let all_of_scope = || match scope {
        Scope::Every(types) | Scope::Any(types) => types.clone(),
    };
    match code {
        "_list" => return Ok((Target::List, all_of_scope())),
        "_text" | "_content" => return Ok((Target::FullText, all_of_scope())),
        "_filter" | "_query" => return Err(NameError::NotSupported(code.to_owned())),
        "_has" => return Err(NameError::MalformedHas),
        _ => {}
    }
    let found = resolve(code, scope, registry)?;
    let kind = found.first().map(|(_, def)| def.kind);
    let (Some(kind), true) = (kind, found.iter().all(|(_, def)| Some(def.kind) == kind)) else {
        return Err(NameError::Ambiguous(code.to_owned()));
    };
    let reached = found.iter().filter_map(|(t, _)| *t).collect();
    let defs = found.into_iter().map(|(_, def)| def).collect();
    Ok((Target::Param { kind, defs }, reached))
}

/// The definitions of `code` on the scope's types, each with its type
/// (`None` for a search across all types, looked up on `Resource`).
fn resolve<'r>(
    code: &str,
    scope: &Scope,
    registry: &'r Registry,
) -> Result<Vec<(Option<ResourceType>, &'r SearchParam)>, NameError> {
    let unknown = |on: String| NameError::UnknownParameter {
        code: code.to_owned(),
        on,
    };
    match scope {
        Scope::Every(types) if types.is_empty() => registry
            .get("Resource", code)
            .map(|def| vec![(None, def)])
            .ok_or_else(|| unknown("every resource type".to_owned())),
        Scope::Every(types) => types
            .iter()
            .map(|t| {
                registry
                    .get(t.as_str(), code)
                    .map(|def| (Some(*t), def))
                    .ok_or_else(|| unknown(t.to_string()))
            })
            .collect(),
        Scope::Any(types) => {
            let found: Vec<_> = types
                .iter()
                .filter_map(|t| registry.get(t.as_str(), code).map(|def| (Some(*t), def)))
                .collect();
            match found.is_empty() {
                true => Err(unknown(describe(types))),
                false => Ok(found),
            }
        }
    }
}

/// Narrows the last chain link to the types where the rest of the name exists.
fn settle(path: &mut [Link], scope: &Scope, reached: Vec<ResourceType>) {
    if let (Scope::Any(_), Some(Link::Chain { types, .. })) = (scope, path.last_mut()) {
        *types = reached;
    }
}

/// Every type the definitions may refer to, sorted; no declared target means any type.
pub(crate) fn targets_of<'r>(defs: impl IntoIterator<Item = &'r SearchParam>) -> Vec<ResourceType> {
    let mut targets: Vec<ResourceType> = Vec::new();
    for def in defs {
        if def.targets.is_empty() {
            return ResourceType::all().collect();
        }
        targets.extend(def.targets.iter().filter_map(|t| ResourceType::parse(t)));
    }
    targets.sort();
    targets.dedup();
    targets
}

/// Names the types for a message, without listing a hundred of them.
fn describe(types: &[ResourceType]) -> String {
    match types {
        [] => "every resource type".to_owned(),
        [one] => one.to_string(),
        few if few.len() <= 5 => {
            let names: Vec<&str> = few.iter().map(ResourceType::as_str).collect();
            format!("any of {}", names.join(", "))
        }
        many => format!("any of the {} types reached", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(name: &str) -> ResourceType {
        ResourceType::parse(name).unwrap_or_else(|| panic!("{name}"))
    }

    fn on(t: &str) -> Scope {
        Scope::Every(vec![rt(t)])
    }

    fn named(name: &str, scope: &Scope) -> Result<(Vec<Link>, String, Option<Modifier>), NameError> {
        parse(name, scope, Registry::r4()).map(|n| (n.path, n.code, n.modifier))
    }

    fn chain(param: &str, types: &[&str]) -> Link {
        Link::Chain {
            param: param.to_owned(),
            types: types.iter().map(|t| rt(t)).collect(),
        }
    }

    #[test]
    fn a_plain_name_has_no_path() {
        assert_eq!(named("name", &on("Patient")), Ok((vec![], "name".to_owned(), None)));
        assert_eq!(
            named("name:exact", &on("Patient")),
            Ok((vec![], "name".to_owned(), Some(Modifier::Exact)))
        );
    }

    #[test]
    fn an_unknown_parameter_is_unsupported_not_malformed() {
        let error = named("shoe-size", &on("Patient")).map(|_| ());
        assert!(matches!(&error, Err(e) if e.is_unsupported()), "{error:?}");
        let error = named("subject.shoe-size", &on("Observation")).map(|_| ());
        assert!(matches!(&error, Err(e) if e.is_unsupported()), "{error:?}");
    }

    #[test]
    fn an_unknown_modifier_is_an_error_not_an_unsupported_parameter() {
        let error = named("name:sounds-like", &on("Patient"));
        assert_eq!(error, Err(NameError::UnknownModifier("sounds-like".to_owned())));
        assert!(!NameError::UnknownModifier(String::new()).is_unsupported());
    }

    /// search.html#chaining: `subject:Patient.name` names the type.
    #[test]
    fn a_typed_chain_goes_to_that_type() {
        let (path, code, _) = named("subject:Patient.name", &on("Observation")).unwrap_or_default();
        assert_eq!(path, [chain("subject", &["Patient"])]);
        assert_eq!(code, "name");
    }

    /// A chain through a single-target reference needs no type.
    #[test]
    fn an_untyped_chain_with_one_target_resolves_it() {
        let (path, _, _) = named("organization.name", &on("Patient")).unwrap_or_default();
        assert_eq!(path, [chain("organization", &["Organization"])]);
    }

    /// `subject.name`: subject may be a Patient, Group, Device or Location;
    /// `name` exists on Location and Patient only, so the planner tries those two.
    #[test]
    fn an_untyped_chain_keeps_the_targets_where_the_rest_exists() {
        let (path, _, _) = named("subject.name", &on("Observation")).unwrap_or_default();
        assert_eq!(path, [chain("subject", &["Location", "Patient"])]);
    }

    #[test]
    fn chains_go_three_deep() {
        let (path, code, modifier) =
            named("subject:Patient.organization.partof.name:exact", &on("Observation")).unwrap_or_default();
        assert_eq!(
            path,
            [
                chain("subject", &["Patient"]),
                chain("organization", &["Organization"]),
                chain("partof", &["Organization"])
            ]
        );
        assert_eq!((code.as_str(), modifier), ("name", Some(Modifier::Exact)));
    }

    #[test]
    fn every_link_of_a_chain_must_be_a_reference() {
        assert_eq!(
            named("code.name", &on("Observation")),
            Err(NameError::NotAReference("code".to_owned()))
        );
    }

    #[test]
    fn a_chain_type_must_be_a_target_of_the_reference() {
        assert_eq!(
            named("patient:Organization.name", &on("Observation")),
            Err(NameError::NotATarget {
                code: "patient".to_owned(),
                target: rt("Organization")
            })
        );
        assert_eq!(
            named("subject:exact.name", &on("Observation")),
            Err(NameError::ChainModifier("exact".to_owned()))
        );
    }

    /// `subject.value-quantity` would be a quantity nowhere: the chain only
    /// reaches types where it exists, and it exists on none.
    #[test]
    fn a_chain_into_a_parameter_no_target_has_is_unknown() {
        assert!(matches!(
            named("subject.value-quantity", &on("Observation")),
            Err(NameError::UnknownParameter { .. })
        ));
    }

    /// search.html#has: `_has:Observation:patient:code=1234` on Patient.
    #[test]
    fn a_reverse_chain_goes_to_the_referring_type() {
        let (path, code, _) = named("_has:Observation:patient:code", &on("Patient")).unwrap_or_default();
        assert_eq!(
            path,
            [Link::Has {
                source: rt("Observation"),
                param: "patient".to_owned()
            }]
        );
        assert_eq!(code, "code");
    }

    #[test]
    fn reverse_chains_nest() {
        let (path, code, _) =
            named("_has:Observation:patient:_has:AuditEvent:entity:agent", &on("Patient")).unwrap_or_default();
        assert_eq!(
            path,
            [
                Link::Has {
                    source: rt("Observation"),
                    param: "patient".to_owned()
                },
                Link::Has {
                    source: rt("AuditEvent"),
                    param: "entity".to_owned()
                }
            ]
        );
        assert_eq!(code, "agent");
    }

    #[test]
    fn a_reverse_chain_must_point_at_the_searched_type() {
        assert!(matches!(
            named("_has:Observation:patient:code", &on("Organization")),
            Err(NameError::HasNotPointing { .. })
        ));
        assert_eq!(
            named("_has:Observation:code:code", &on("Patient")),
            Err(NameError::NotAReference("code".to_owned()))
        );
        assert_eq!(
            named("_has:Observation:patient", &on("Patient")),
            Err(NameError::MalformedHas)
        );
        assert_eq!(
            named("_has:Spaceship:patient:code", &on("Patient")),
            Err(NameError::UnknownType("Spaceship".to_owned()))
        );
    }

    /// Across all types only parameters of every resource apply.
    #[test]
    fn across_all_types_only_common_parameters_resolve() {
        let all = Scope::Every(vec![]);
        assert!(named("_lastUpdated", &all).is_ok());
        assert!(matches!(named("name", &all), Err(NameError::UnknownParameter { .. })));
        let some = Scope::Every(vec![rt("Patient"), rt("Practitioner")]);
        assert!(named("name", &some).is_ok());
        assert!(matches!(
            named("gender:missing", &Scope::Every(vec![rt("Patient"), rt("Observation")])),
            Err(NameError::UnknownParameter { .. })
        ));
    }

    #[test]
    fn empty_parts_are_rejected() {
        for name in ["subject.", ".name", "subject:Patient."] {
            assert_eq!(named(name, &on("Observation")), Err(NameError::EmptyPart), "{name}");
        }
    }

    #[test]
    fn filter_and_query_are_unsupported() {
        assert_eq!(
            named("_filter", &on("Patient")),
            Err(NameError::NotSupported("_filter".to_owned()))
        );
        assert!(NameError::NotSupported(String::new()).is_unsupported());
    }
}
