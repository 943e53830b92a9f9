//! What the R4 type model says about the elements a patch touches: whether
//! an element repeats (so `add` appends to an array), how a choice element
//! is spelled in JSON (`value` + the value's type), and the type of a new
//! value given as parts.

use serde_json::Value;

use crate::model::definitions::{self, ElementDef, TypeDef};

/// A place in the type model: a type, or a backbone element inside one
/// (`path` is "" for the type itself, `contact` for `Patient.contact`).
#[derive(Debug, Clone, Copy)]
pub(super) struct TypeAt {
    def: &'static TypeDef,
    path: &'static str,
}

impl TypeAt {
    pub(super) fn named(name: &str) -> Option<TypeAt> {
        definitions::r4().get(name).map(|def| TypeAt { def, path: "" })
    }

    /// The type of a resource, by its `resourceType`.
    pub(super) fn of_resource(resource: &Value) -> Option<TypeAt> {
        TypeAt::named(resource.get("resourceType")?.as_str()?)
    }

    /// The name to show in messages: `Patient`, `Patient.contact`.
    pub(super) fn describe(&self) -> String {
        if self.path.is_empty() {
            self.def.name.to_string()
        } else {
            format!("{}.{}", self.def.name, self.path)
        }
    }

    /// The element named `name` as the definitions name it (`value` for
    /// `value[x]`). Elements every type inherits (`id`, `extension`) are
    /// listed only on the base types, so those are searched too.
    pub(super) fn element(&self, name: &str) -> Option<&'static ElementDef> {
        self.find(|def, path| def.element(path, name))
    }

    /// The element spelled `key` in JSON (`valueQuantity`, `_birthDate`).
    pub(super) fn element_for_key(&self, key: &str) -> Option<&'static ElementDef> {
        self.find(|def, path| def.child(path, key))
    }

    fn find(
        &self,
        lookup: impl Fn(&'static TypeDef, &'static str) -> Option<&'static ElementDef>,
    ) -> Option<&'static ElementDef> {
        if let Some(element) = lookup(self.def, self.path) {
            return Some(element);
        }
        if !self.path.is_empty() {
            return None;
        }
        // The base chain is at most five deep in R4; the bound guards a broken table.
        let mut base = self.def.base;
        for _ in 0..16 {
            let def = definitions::r4().get(base?)?;
            if let Some(element) = lookup(def, "") {
                return Some(element);
            }
            base = def.base;
        }
        None
    }

    /// The type of the value of `element` spelled `key`. `json` is the value
    /// itself, needed only for elements that hold a resource (`contained`),
    /// whose type is its `resourceType`.
    pub(super) fn child(&self, element: &ElementDef, key: &str, json: Option<&Value>) -> Option<TypeAt> {
        if let Some(path) = element.children {
            return Some(TypeAt { def: self.def, path });
        }
        let key = key.strip_prefix('_').unwrap_or(key);
        let code = if element.choice {
            element.choice_type(key)?
        } else {
            element.type_code()
        };
        if code == "Resource" || code == "DomainResource" {
            return json.and_then(TypeAt::of_resource);
        }
        TypeAt::named(code)
    }
}

/// The JSON key of `element` holding a value of type `value_type`: the
/// element's name, or for a choice element the name with the type as suffix
/// (`value` + `Quantity`). `requested` is the name the patch gave, which may
/// already be the full key (`valueQuantity`).
pub(super) fn json_key(element: &ElementDef, requested: &str, value_type: Option<&str>) -> Result<String, String> {
    if !element.choice {
        return Ok(element.name.to_string());
    }
    let Some(value_type) = value_type else {
        return Err(format!(
            "'{}' is a choice element ({}[x]): its value must be given as a value[x] so that its type is known",
            element.name, element.name
        ));
    };
    if !element.type_codes().any(|code| code == value_type) {
        let allowed: Vec<&str> = element.type_codes().collect();
        return Err(format!(
            "'{}[x]' cannot hold a {value_type}; its types are {}",
            element.name,
            allowed.join(", ")
        ));
    }
    let key = format!("{}{}", element.name, capitalized(value_type));
    if requested != element.name && requested != key {
        return Err(format!(
            "'{requested}' does not match the type of the value ({value_type})"
        ));
    }
    Ok(key)
}

/// `dateTime` → `DateTime`, as choice keys spell type names.
fn capitalized(code: &str) -> String {
    let mut chars = code.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherited_elements_are_found_on_base_types() {
        // `date` lists no elements of its own: `extension` comes from Element.
        let date = TypeAt::named("date").expect("date");
        assert!(date.element("extension").is_some_and(|e| e.many));
        let patient = TypeAt::named("Patient").expect("Patient");
        assert!(patient.element("birthDate").is_some());
        assert!(patient.element("nonsense").is_none());
    }

    #[test]
    fn backbone_elements_take_their_children_from_the_owning_type() {
        let patient = TypeAt::named("Patient").expect("Patient");
        let contact = patient.element("contact").expect("contact");
        let inside = patient.child(contact, "contact", None).expect("contact type");
        assert_eq!(inside.describe(), "Patient.contact");
        assert!(inside.element("gender").is_some());
    }

    #[test]
    fn choice_keys_take_the_type_of_the_value() {
        let obs = TypeAt::named("Observation").expect("Observation");
        let value = obs.element("value").expect("value[x]");
        assert_eq!(json_key(value, "value", Some("Quantity")), Ok("valueQuantity".into()));
        assert_eq!(json_key(value, "value", Some("dateTime")), Ok("valueDateTime".into()));
        assert_eq!(json_key(value, "valueString", Some("string")), Ok("valueString".into()));
        assert!(json_key(value, "valueString", Some("boolean")).is_err());
        assert!(json_key(value, "value", Some("HumanName")).is_err());
        assert!(json_key(value, "value", None).is_err());
    }

    #[test]
    fn contained_resources_are_typed_by_their_resource_type() {
        let patient = TypeAt::named("Patient").expect("Patient");
        let contained = patient.element("contained").expect("contained");
        let org = serde_json::json!({"resourceType": "Organization"});
        let ty = patient.child(contained, "contained", Some(&org)).expect("typed");
        assert_eq!(ty.describe(), "Organization");
    }
}
