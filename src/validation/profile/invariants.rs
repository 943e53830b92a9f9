//! Invariants (`ElementDefinition.constraint`): each expression, compiled
//! once with its definition, evaluated with the element as its context,
//! `%resource` the resource the element is in and `%rootResource` its
//! container (itself unless contained); `resolve()` sees contained
//! resources and the Bundle's entries. A constraint with severity
//! `warning` gives a warning. ele-1 and ext-1 are checked by the walk.

use serde_json::Value;

use super::definition::Definition;
use super::walk::{is_primitive, Ctx, Item, Walker};
use crate::fhirpath::{Env, Item as PathItem, Node};
use crate::outcome::{IssueType, Severity};

impl<'v> Walker<'_, 'v> {
    pub(super) fn invariants(
        &mut self,
        def: &Definition,
        at: usize,
        item: Item<'v>,
        kind: &str,
        path: &str,
        ctx: Ctx<'v>,
    ) {
        let rule = def.rule(at);
        if rule.constraints.is_empty() {
            return;
        }
        let node = context_node(item, kind, &rule.path);
        let resolver = self.resolver(ctx);
        let env = Env::new()
            .with_resource(ctx.resource)
            .with_root_resource(ctx.root)
            .with_services(&resolver);
        let input = [PathItem::Node(node)];
        let mut found = Vec::new();
        for constraint in &rule.constraints {
            let expression = match &constraint.expression {
                Ok(expression) => expression,
                Err(why) => {
                    found.push((
                        Severity::Warning,
                        IssueType::Processing,
                        format!(
                            "{}: the expression cannot be compiled ({why}); not checked",
                            constraint.key
                        ),
                    ));
                    continue;
                }
            };
            let result = expression.evaluate_items(&input, &env).map(|items| boolean(&items));
            match result {
                Ok(Some(false)) => found.push((
                    constraint.severity,
                    IssueType::Invariant,
                    format!("{}: {} [{}]", constraint.key, constraint.human, expression.text()),
                )),
                Ok(_) => {}
                Err(why) => found.push((
                    Severity::Warning,
                    IssueType::Processing,
                    format!(
                        "{}: the expression could not be evaluated ({why}); not checked",
                        constraint.key
                    ),
                )),
            }
        }
        for (severity, code, message) in found {
            self.report(severity, code, path, message);
        }
    }
}

/// The element as FHIRPath sees it: a resource, a backbone element by its
/// path inside its resource or datatype, or a value of its type.
fn context_node<'v>(item: Item<'v>, kind: &str, path: &str) -> Node<'v> {
    if let Some(value) = item.value.filter(|v| v.get("resourceType").is_some()) {
        return Node::resource(value);
    }
    if matches!(kind, "BackboneElement" | "Element") && !is_primitive(kind) {
        if let Some((owner, inner)) = path.split_once('.') {
            return Node::element(item.value, item.extras, kind, Some((owner, inner)));
        }
    }
    Node::element(item.value, item.extras, kind, None)
}

/// An invariant's result read as FHIR reads them: empty is no verdict, a
/// single boolean is the verdict, anything else counts as true (exists).
fn boolean(items: &[PathItem<'_>]) -> Option<bool> {
    match items {
        [] => None,
        [PathItem::Boolean(b)] => Some(*b),
        [PathItem::Node(n)] => match n.json() {
            Some(Value::Bool(b)) => Some(*b),
            _ => Some(true),
        },
        _ => Some(true),
    }
}
