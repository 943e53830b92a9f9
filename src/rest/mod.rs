//! FHIR interactions as plain async functions over a [`Context`]. Nothing
//! here knows about HTTP; `crate::http` turns requests into these calls and
//! their results into responses. One file per interaction, named as the spec
//! names it.

pub mod batch;
mod bundle_entry;
mod bundle_writer;
pub mod canonicals;
pub mod capabilities;
pub mod conditional;
pub mod create;
pub mod delete;
pub mod history;
pub mod managed;
pub mod operations;
pub mod patch;
pub mod read;
pub mod search_codes;
pub mod search_compartment;
pub mod search_system;
pub mod search_type;
mod searchset;
pub mod transaction;
pub mod update;
pub mod validate;
pub mod vread;
mod write;

use std::sync::Arc;

use crate::clock::{Clock, IdGenerator};
use crate::config::ConditionalDelete;
use crate::error::FhirError;
use crate::index::LiveRegistry;
use crate::model::{Id, ResourceType};
use crate::outcome::Issue;
use crate::outcome::IssueType;
use crate::store::{FoundRow, Store, StoredVersion};
use crate::validation::{ProfileValidator, StructuralValidator, WritePolicy};

pub use bundle_entry::{deleted_outcome, parse_etag};
pub use bundle_writer::BundleWriter;
pub use searchset::SearchOptions;

/// Everything an interaction needs; cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub validator: Arc<StructuralValidator>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Whether update may create a resource with a client-chosen id.
    pub update_create: bool,
    /// Whether a conditional delete may delete several resources.
    pub conditional_delete: ConditionalDelete,
    /// The SearchParameters writes are indexed and searches planned with.
    pub registry: Arc<LiveRegistry>,
    /// Conformance resources (base, packages, stored) by canonical URL.
    pub canonicals: Arc<crate::packages::CanonicalRegistry>,
    /// `$expand`, `$validate-code`… over [`Self::canonicals`].
    pub terminology: Arc<crate::terminology::TerminologyService>,
    /// Profile validation (`$validate`, validation on write).
    pub profiles: Arc<ProfileValidator>,
    /// What a write must pass (the `validation` settings).
    pub write_policy: Arc<WritePolicy>,
    /// The subscriptions and topics in force (`crate::subscriptions`).
    pub subscriptions: Arc<crate::subscriptions::Hub>,
    /// The subscription topics a transaction being processed writes (empty
    /// outside one), so a Subscription in the same Bundle can name a topic
    /// that is not committed yet (see [`Context::in_transaction_writing`]).
    pub transaction_topics: Arc<Vec<Arc<crate::subscriptions::topic::Topic>>>,
}

impl Context {
    /// This context for the entries of a transaction that writes `topics`.
    pub fn in_transaction_writing(&self, topics: Vec<Arc<crate::subscriptions::topic::Topic>>) -> Context {
        Context {
            transaction_topics: Arc::new(topics),
            ..self.clone()
        }
    }
}

/// One version of a resource as served: the stored JSON and its identity.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    /// Microseconds since the epoch.
    pub last_updated: i64,
    /// The resource JSON; `None` for a delete tombstone.
    pub body: Option<Vec<u8>>,
}

impl From<StoredVersion> for Versioned {
    fn from(v: StoredVersion) -> Self {
        Versioned {
            resource_type: v.resource_type,
            id: v.id,
            version: v.version,
            last_updated: v.last_updated,
            body: v.body,
        }
    }
}

impl From<FoundRow> for Versioned {
    fn from(row: FoundRow) -> Self {
        Versioned {
            resource_type: row.resource_type,
            id: row.id,
            version: row.version,
            last_updated: row.last_updated,
            body: Some(row.body),
        }
    }
}

impl Versioned {
    /// `Type/id/_history/n`, relative to the base.
    pub fn versioned_ref(&self) -> String {
        format!("{}/{}/_history/{}", self.resource_type, self.id, self.version)
    }
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct Written {
    pub version: Versioned,
    /// Whether the resource did not exist (or was deleted) before.
    pub created: bool,
    /// What validation on write found short of an error (returned under
    /// `Prefer: return=OperationOutcome`).
    pub warnings: Vec<Issue>,
}

/// `If-Match` on a write: the version the client last saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfMatch(pub Option<i64>);

/// What the client wants back from a write (`Prefer: return=…`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Return {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

/// Checks a resource type from a URL.
pub fn resource_type(name: &str) -> Result<ResourceType, FhirError> {
    ResourceType::parse(name).ok_or_else(|| FhirError::UnknownResourceType(name.to_string()))
}

/// Checks a logical id from a URL.
pub fn id(s: &str) -> Result<Id, FhirError> {
    Id::parse(s).ok_or_else(|| {
        FhirError::invalid(
            IssueType::Value,
            format!("'{s}' is not a valid resource id (1-64 of A-Z a-z 0-9 - .)"),
            None,
        )
    })
}
