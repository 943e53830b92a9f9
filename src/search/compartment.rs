//! Compartments (<https://hl7.org/fhir/R4/compartmentdefinition.html>): which
//! resources a compartment search (`GET [base]/Patient/123/Observation`)
//! may return. The five R4 CompartmentDefinitions ship in
//! `conformance/r4-compartments.json`, which `scripts/build-conformance.py`
//! extracts from the R4 package: per compartment, per resource type, the
//! reference parameters that put a resource in it. They cannot be derived
//! from the SearchParameter registry — which parameters count is the
//! definition's choice (an Observation is in the patient's compartment
//! through `subject` and `performer`, not through `focus`).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::SearchError;
use crate::model::{Id, ResourceType};

static R4_COMPARTMENTS: &str = include_str!("../../conformance/r4-compartments.json");

/// The definition's name for "the compartment's own resource".
const ITSELF: &str = "{def}";

/// compartment type → resource type → parameters.
type Definitions = HashMap<String, HashMap<String, Vec<String>>>;

fn definitions() -> &'static Definitions {
    static DEFINITIONS: OnceLock<Definitions> = OnceLock::new();
    DEFINITIONS.get_or_init(|| {
        // The file is generated and checked by the tests below; were it
        // broken, there would be no compartments rather than a panic.
        serde_json::from_str(R4_COMPARTMENTS).unwrap_or_else(|error| {
            tracing::error!(%error, "conformance/r4-compartments.json is not valid");
            Definitions::new()
        })
    })
}

/// What puts a resource of one type in one compartment instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub owner: ResourceType,
    pub id: Id,
    /// The type of the resources this is about.
    pub resource_type: ResourceType,
    /// Reference parameters of the searched type that point at the owner.
    pub params: Vec<String>,
    /// The owner itself is in its compartment (`{def}`).
    pub itself: bool,
}

/// The compartment types there are (`Patient`, `Encounter`…).
pub fn is_compartment(owner: ResourceType) -> bool {
    definitions().contains_key(owner.as_str())
}

/// How `resource_type` resources are in the compartment of `owner/id`.
pub fn membership(owner: ResourceType, id: Id, resource_type: ResourceType) -> Result<Membership, SearchError> {
    let compartment = definitions()
        .get(owner.as_str())
        .ok_or(SearchError::NoCompartment(owner))?;
    let params = compartment
        .get(resource_type.as_str())
        .ok_or(SearchError::NotInCompartment {
            compartment: owner,
            resource_type,
        })?;
    Ok(Membership {
        owner,
        id,
        resource_type,
        params: params.iter().filter(|p| *p != ITSELF).cloned().collect(),
        itself: params.iter().any(|p| p == ITSELF),
    })
}

/// How resources of every type that can be in it are in the compartment of
/// `owner/id` (`GET [base]/Patient/123/*`), types sorted.
pub fn all_memberships(owner: ResourceType, id: Id) -> Result<Vec<Membership>, SearchError> {
    if !is_compartment(owner) {
        return Err(SearchError::NoCompartment(owner));
    }
    let mut all = Vec::new();
    for resource_type in types_in(owner) {
        let m = membership(owner, id.clone(), resource_type)?;
        if !m.params.is_empty() || m.itself {
            all.push(m);
        }
    }
    Ok(all)
}

/// The resource types that can be in `owner`'s compartment, sorted.
pub fn types_in(owner: ResourceType) -> Vec<ResourceType> {
    let mut types: Vec<ResourceType> = definitions()
        .get(owner.as_str())
        .map(|c| c.keys().filter_map(|t| ResourceType::parse(t)).collect())
        .unwrap_or_default();
    types.sort();
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(name: &str) -> ResourceType {
        ResourceType::parse(name).unwrap_or_else(|| panic!("{name}"))
    }

    fn id(text: &str) -> Id {
        Id::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn the_five_r4_compartments_are_shipped() {
        let mut names: Vec<&String> = definitions().keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["Device", "Encounter", "Patient", "Practitioner", "RelatedPerson"]
        );
        for compartment in definitions().values() {
            for name in compartment.keys() {
                assert!(ResourceType::parse(name).is_some(), "{name}");
            }
        }
    }

    /// CompartmentDefinition-patient: Observation through subject and performer.
    #[test]
    fn an_observation_is_in_the_patient_compartment_through_subject_or_performer() {
        let m = membership(rt("Patient"), id("123"), rt("Observation")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.params, ["subject", "performer"]);
        assert!(!m.itself);
    }

    #[test]
    fn an_encounter_is_in_its_own_compartment() {
        let m = membership(rt("Encounter"), id("e1"), rt("Encounter")).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.itself);
    }

    #[test]
    fn types_outside_the_compartment_and_non_compartments_are_refused() {
        assert!(matches!(
            membership(rt("Patient"), id("1"), rt("Library")),
            Err(SearchError::NotInCompartment { .. })
        ));
        assert_eq!(
            membership(rt("Observation"), id("1"), rt("Patient")),
            Err(SearchError::NoCompartment(rt("Observation")))
        );
        assert!(is_compartment(rt("Patient")));
        assert!(!is_compartment(rt("Observation")));
        assert!(types_in(rt("Patient")).contains(&rt("Observation")));
    }

    #[test]
    fn every_type_of_a_compartment_with_a_way_in_is_listed() {
        let all = all_memberships(rt("Patient"), id("1")).unwrap_or_else(|e| panic!("{e}"));
        let types: Vec<&str> = all.iter().map(|m| m.resource_type.as_str()).collect();
        assert!(
            types.contains(&"Observation") && types.contains(&"Patient"),
            "{types:?}"
        );
        assert!(!types.contains(&"Library"), "{types:?}");
        assert!(all.iter().all(|m| !m.params.is_empty() || m.itself));
        assert!(all_memberships(rt("Observation"), id("1")).is_err());
    }
}
