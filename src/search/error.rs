//! Why a parsed search cannot be planned or run. `crate::error` decides what
//! the client sees for each.

use thiserror::Error;

use crate::model::ResourceType;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SearchError {
    /// Parsed, but not built yet (full text, terminology-backed modifiers…);
    /// refused rather than ignored, since ignoring a criterion returns more
    /// than the client asked for.
    #[error("{0} is not supported by this server yet")]
    NotSupported(String),
    /// `_page` that this server did not write for this search.
    #[error("_page is not a page of this search ({0}); start again from the first page")]
    BadPage(&'static str),
    #[error("{resource_type} is not in the {compartment} compartment")]
    NotInCompartment {
        compartment: ResourceType,
        resource_type: ResourceType,
    },
    #[error("{0} has no compartment")]
    NoCompartment(ResourceType),
}
