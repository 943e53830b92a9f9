//! Small FHIR value types shared across the crate.

pub mod datetime;
pub mod definitions;
pub mod elements;
pub mod id;
pub mod resource_type;

pub use id::Id;
pub use resource_type::ResourceType;
