//! capabilities — `GET [base]/metadata`
//! (<https://hl7.org/fhir/R4/http.html#capabilities>). Generated from what is
//! built: every claim here has code and tests behind it; what is not built
//! (search, conditional operations…) is not claimed.

use serde_json::{json, Value};

use super::Context;
use crate::model::ResourceType;

pub fn capability_statement(ctx: &Context, base: &str, started_at: &str) -> Value {
    let interactions = json!([
        {"code": "read"}, {"code": "vread"}, {"code": "update"}, {"code": "patch"},
        {"code": "delete"}, {"code": "history-instance"}, {"code": "history-type"}, {"code": "create"}
    ]);
    let resources: Vec<Value> = ResourceType::all()
        .map(|t| {
            json!({
                "type": t.as_str(),
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
                "interaction": interactions,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": ctx.update_create,
                "conditionalCreate": false,
                "conditionalRead": "not-supported",
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": started_at,
        "publisher": "Ipê",
        "kind": "instance",
        "software": {"name": "Ipê", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Ipê FHIR R4 server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml"],
        // JSON Patch, and FHIRPath Patch as a Parameters resource in either format.
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
        }]
    })
}
