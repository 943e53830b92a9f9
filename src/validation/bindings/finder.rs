//! [`BindingFinder`]: every coded value of an instance under a binding of
//! a profile, found by the profile validator's walk (one walk pairs an
//! instance with a profile's elements, for validation and for this), and
//! the profiles an instance is checked against (`select`).

use serde_json::Value;

use std::sync::Arc;

use super::tree::{Node, Tree};
use super::{BoundValue, CodedValue, Strength};
use crate::packages::CanonicalRegistry;
use crate::validation::profile::definition::Definition;
use crate::validation::ProfileValidator;

/// Finds bound coded values with a profile validator's compiled
/// definitions.
pub struct BindingFinder<'r> {
    pub(super) validator: &'r ProfileValidator,
}

impl<'r> BindingFinder<'r> {
    pub fn new(validator: &'r ProfileValidator) -> Self {
        BindingFinder { validator }
    }

    pub fn registry(&self) -> &CanonicalRegistry {
        self.validator.registry()
    }

    /// Every value of `instance` under a binding of the profile `profile`
    /// (a canonical, `url` or `url|version`), located from `location` (the
    /// resource type for a resource on its own, `Bundle.entry[2].resource`
    /// for one inside a Bundle). Resources inside it are left to the
    /// caller, who knows which profiles apply to them. Empty when the
    /// profile is not known.
    pub fn bound_values(&self, instance: &Value, profile: &str, location: &str) -> Vec<BoundValue> {
        self.validator.bound_values(instance, profile, location)
    }

    /// A profile's compiled definition; `None` when unknown or without snapshot.
    pub(super) fn tree(&self, canonical: &str) -> Option<Arc<Definition>> {
        self.validator.definition(canonical)
    }
}

/// The value at `at` when the element carries a binding and a coded type.
pub(crate) fn bound(tree: &Tree, node: &Node, value: &Value, kind: Option<&str>, location: &str) -> Option<BoundValue> {
    let binding = node.element.get("binding")?;
    let value_set = binding.get("valueSet").and_then(Value::as_str)?;
    let strength = Strength::parse(binding.get("strength").and_then(Value::as_str)?)?;
    let kind = kind.or_else(|| single_type(node))?;
    let coded = match kind {
        "code" => CodedValue::Code(value.as_str()?.to_owned()),
        "Coding" => CodedValue::Coding(value.clone()),
        "CodeableConcept" => CodedValue::CodeableConcept(value.clone()),
        "Quantity" | "SimpleQuantity" | "Age" | "Duration" | "Distance" | "Count" | "MoneyQuantity" => {
            value.get("code")?;
            CodedValue::Quantity(value.clone())
        }
        "string" | "uri" | "url" | "canonical" => CodedValue::Text(value.as_str()?.to_owned()),
        _ => return None,
    };
    Some(BoundValue {
        location: location.to_owned(),
        profile: tree.url.clone(),
        element_id: node.str("id").unwrap_or(&node.name).to_owned(),
        strength,
        value_set: value_set.to_owned(),
        value: coded,
    })
}

fn single_type(node: &Node) -> Option<&str> {
    let mut codes = node.type_codes();
    let first = codes.next()?;
    codes.next().is_none().then_some(first)
}
