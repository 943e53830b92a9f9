//! JSON Patch (RFC 6902), with `application/json-patch+json`.

use serde_json::Value;

use super::PatchError;
use crate::outcome::IssueType;

/// A parsed JSON Patch document.
#[derive(Debug)]
pub struct JsonPatch(json_patch::Patch);

impl JsonPatch {
    pub fn parse(doc: &Value) -> Result<Self, PatchError> {
        serde_json::from_value::<json_patch::Patch>(doc.clone())
            .map(JsonPatch)
            .map_err(|e| PatchError::Invalid {
                code: IssueType::Invalid,
                message: format!("invalid JSON Patch document: {e}"),
                expression: None,
            })
    }

    pub(super) fn apply(&self, resource: &mut Value) -> Result<(), PatchError> {
        json_patch::patch(resource, &self.0).map_err(|e| PatchError::NotApplicable {
            message: format!("the patch cannot be applied: {e}"),
            expression: None,
        })
    }
}
