//! Profile validation over HTTP (issue 6): `$validate` at type and instance
//! level, and validation on write under each policy (`off`, `structural`,
//! `declared`, `enforced`), against the US Core 6.1.0 and BR Core 1.1
//! packages of the shared data.
//!
//! The profile errors used are binding errors the profiles add to the base
//! spec: US Core's CarePlan allows only `generated | additional` as
//! `text.status` (the base allows `empty` too), and BR Core's Composition
//! binds `event.code` to v3-ActCode, required (the base: an example).

use ipe::config::{Config, Overrides, ValidationMode};
use ipe::startup::{Application, StartupError};
use serde_json::{json, Value};

use crate::helpers::{fresh_database, spawn_with, test_data, Backend, Resp, TestApp, FHIR_JSON};
use crate::on_both_backends;

const US_CORE_CAREPLAN: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan";
const BR_CORE_CAREPLAN: &str = "https://br-core.saude.gov.br/fhir/StructureDefinition/br-core-careplan";
const BR_CORE_COMPOSITION: &str = "https://br-core.saude.gov.br/fhir/StructureDefinition/br-core-composition";

/// The server with US Core and BR Core loaded (offline, a throwaway
/// cache), validating writes as `tweak` says.
async fn app_with(backend: Backend, tweak: impl FnOnce(&mut Overrides)) -> TestApp {
    spawn_with(backend, |o| {
        o.packages = packages();
        o.package_cache = Some(throwaway_cache());
        o.package_registry = Some("none".into());
        tweak(o);
    })
    .await
}

fn packages() -> Vec<String> {
    [
        "hl7.fhir.us.core-6.1.0.tgz",
        "br.gov.saude.br-core.fhir-1.1.0-sushi.tgz",
    ]
    .iter()
    .map(|f| test_data().join("packages").join(f).display().to_string())
    .collect()
}

fn throwaway_cache() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ipe-validation-cache-{}", uuid::Uuid::new_v4().simple()))
}

/// A CarePlan; `text.status` "empty" breaks US Core's binding only.
fn care_plan(text_status: &str, profiles: &[&str]) -> Value {
    let mut plan = json!({
        "resourceType": "CarePlan",
        "text": {"status": text_status, "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">plan</div>"},
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                  "code": "assess-plan"}]}],
        "subject": {"reference": "Patient/example"}
    });
    if !profiles.is_empty() {
        plan["meta"] = json!({ "profile": profiles });
    }
    plan
}

/// A Composition; an `event.code` outside v3-ActCode breaks BR Core's
/// binding only.
fn composition(event_code: &str) -> Value {
    json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"text": "summary"},
        "date": "2024-01-01",
        "author": [{"display": "Dra. Ana"}],
        "title": "Sumário",
        "event": [{"code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                         "code": event_code}]}]}]
    })
}

fn issues(outcome: &Value) -> Vec<Value> {
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    outcome["issue"].as_array().cloned().unwrap_or_default()
}

/// The FHIRPath locations of the errors of an OperationOutcome.
fn errors_at(outcome: &Value) -> Vec<String> {
    issues(outcome)
        .iter()
        .filter(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
        .map(|i| i["expression"][0].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn validate(app: &TestApp, path: &str, body: &Value) -> Value {
    let r = app.post(path, body).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json()
}

async fn post_prefer(app: &TestApp, path: &str, body: &Value, prefer: &str) -> Resp {
    app.send(
        app.client
            .post(app.url(path))
            .header("Content-Type", FHIR_JSON)
            .header("Prefer", prefer)
            .body(body.to_string()),
    )
    .await
}

/// `$validate` answers 200 with the findings in the OperationOutcome, the
/// resource posted bare or as the `resource` parameter, profiles from
/// `meta.profile`, the `profile` parameter or the query.
async fn validate_reports_profile_errors_in_a_200_outcome(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let declared = validate(&app, "CarePlan/$validate", &care_plan("empty", &[US_CORE_CAREPLAN])).await;
    assert_eq!(errors_at(&declared), ["CarePlan.text.status"], "{declared}");

    // Not declared: only the base definition applies, and it allows "empty".
    let plain = care_plan("empty", &[]);
    let ok = validate(&app, "CarePlan/$validate", &plain).await;
    assert!(errors_at(&ok).is_empty(), "{ok}");

    let by_parameter = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": plain},
        {"name": "profile", "valueCanonical": US_CORE_CAREPLAN}]});
    let named = validate(&app, "CarePlan/$validate", &by_parameter).await;
    assert_eq!(errors_at(&named), ["CarePlan.text.status"], "{named}");
    let by_query = validate(&app, &format!("CarePlan/$validate?profile={US_CORE_CAREPLAN}"), &plain).await;
    assert_eq!(errors_at(&by_query), ["CarePlan.text.status"], "{by_query}");

    // A profile the server cannot validate against is an error, said so.
    let unknown = validate(&app, "CarePlan/$validate?profile=http://example.org/nowhere", &plain).await;
    let found = issues(&unknown);
    assert!(
        found.iter().any(|i| i["severity"] == "error"
            && i["code"] == "not-supported"
            && i["diagnostics"]
                .as_str()
                .unwrap_or("")
                .contains("http://example.org/nowhere")),
        "{unknown}"
    );

    // Structural errors are findings too, located by FHIRPath.
    let mut broken = care_plan("generated", &[]);
    broken["colour"] = json!("blue");
    let structural = validate(&app, "CarePlan/$validate", &broken).await;
    assert_eq!(errors_at(&structural), ["CarePlan.colour"], "{structural}");

    // A valid resource: one information issue.
    let fine = validate(&app, "CarePlan/$validate", &care_plan("generated", &[US_CORE_CAREPLAN])).await;
    assert_eq!(issues(&fine).len(), 1, "{fine}");
    assert_eq!(issues(&fine)[0]["severity"], "information");
}

/// BR Core's required binding on `Composition.event.code`, over XML too.
async fn validate_checks_br_core_bindings_in_json_and_xml(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let path = format!("Composition/$validate?profile={BR_CORE_COMPOSITION}");
    let bad = validate(&app, &path, &composition("NOPE")).await;
    assert_eq!(errors_at(&bad), ["Composition.event[0].code[0]"], "{bad}");
    let good = validate(&app, &path, &composition("AMB")).await;
    assert!(errors_at(&good).is_empty(), "{good}");

    let xml = r#"<Composition xmlns="http://hl7.org/fhir"><status value="final"/><type><text value="x"/></type>
        <date value="2024-01-01"/><author><display value="a"/></author><title value="t"/>
        <event><code><coding><system value="http://terminology.hl7.org/CodeSystem/v3-ActCode"/><code value="NOPE"/></coding></code></event>
        </Composition>"#;
    let r = app
        .send(
            app.client
                .post(app.url(&path))
                .header("Content-Type", "application/fhir+xml")
                .header("Accept", FHIR_JSON)
                .body(xml),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(errors_at(&r.json()), ["Composition.event[0].code[0]"], "{}", r.text);
}

/// Instance level: the stored resource, or the one posted; `mode` adds the
/// rules of the write it stands for.
async fn validate_modes_follow_the_write_rules(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let id = app.create(&care_plan("generated", &[])).await;

    let stored = app
        .get(&format!("CarePlan/{id}/$validate?profile={US_CORE_CAREPLAN}"))
        .await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert!(errors_at(&stored.json()).is_empty(), "{}", stored.text);

    // update: the body must carry the id of the URL.
    let mut other = care_plan("generated", &[]);
    other["id"] = json!("someone-else");
    let update = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": other}, {"name": "mode", "valueCode": "update"}]});
    let mismatch = validate(&app, &format!("CarePlan/{id}/$validate"), &update).await;
    assert_eq!(errors_at(&mismatch), ["CarePlan.id"], "{mismatch}");

    // create: the resource must be of the type addressed.
    let create = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": composition("AMB")}, {"name": "mode", "valueCode": "create"}]});
    let wrong_type = validate(&app, "CarePlan/$validate", &create).await;
    assert_eq!(errors_at(&wrong_type), ["resourceType"], "{wrong_type}");

    // delete: allowed for what exists (no referential integrity here).
    let delete = app.get(&format!("CarePlan/{id}/$validate?mode=delete")).await;
    assert_eq!(delete.status, 200, "{}", delete.text);
    let said = issues(&delete.json());
    assert_eq!(said[0]["severity"], "information", "{}", delete.text);
    assert!(said[0]["diagnostics"]
        .as_str()
        .unwrap_or("")
        .contains("referential integrity"));
    assert_eq!(app.get("CarePlan/nobody/$validate?mode=delete").await.status, 404);

    // Requests that are not validations are refused as such.
    assert_eq!(app.get("CarePlan/$validate?mode=delete").await.status, 400);
    assert_eq!(app.get("CarePlan/$validate").await.status, 400);
    let bad_mode = app
        .post("CarePlan/$validate?mode=patch", &care_plan("generated", &[]))
        .await;
    assert_eq!(bad_mode.status, 400, "{}", bad_mode.text);

    let metadata = app.get("metadata").await.json();
    let patient = metadata["rest"][0]["resource"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "Patient"))
        .cloned()
        .unwrap_or_default();
    assert!(
        patient["operation"]
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o["name"] == "validate")),
        "{patient}"
    );
}

/// The default (`structural`) stores what its profiles reject, as before
/// this policy existed; `off` stores what the schema rejects.
async fn structural_and_off_policies_do_not_check_profiles(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let r = app.post("CarePlan", &care_plan("empty", &[US_CORE_CAREPLAN])).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut broken = care_plan("generated", &[]);
    broken["colour"] = json!("blue");
    assert_eq!(app.post("CarePlan", &broken).await.status, 400);

    let off = app_with(backend, |o| o.validation = Some(ValidationMode::Off)).await;
    let r = off.post("CarePlan", &broken).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// `declared`: the profiles of `meta.profile` are checked on every write
/// (create, update, patch, batch and transaction entries); failures are
/// 422 with the OperationOutcome, and nothing is written.
async fn declared_policy_refuses_writes_that_break_their_profiles(backend: Backend) {
    let app = app_with(backend, |o| o.validation = Some(ValidationMode::Declared)).await;
    let r = app.post("CarePlan", &care_plan("empty", &[US_CORE_CAREPLAN])).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(errors_at(&r.json()), ["CarePlan.text.status"], "{}", r.text);
    // Undeclared, the same content is fine.
    let id = app.create(&care_plan("empty", &[])).await;

    let mut update = care_plan("empty", &[US_CORE_CAREPLAN]);
    update["id"] = json!(id);
    let r = app.put(&format!("CarePlan/{id}"), &update).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let patch = json!([{"op": "add", "path": "/meta/profile", "value": [US_CORE_CAREPLAN]}]);
    let r = app
        .send(
            app.client
                .patch(app.url(&format!("CarePlan/{id}")))
                .header("Content-Type", "application/json-patch+json")
                .body(patch.to_string()),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        app.get(&format!("CarePlan/{id}")).await.json()["meta"]["versionId"],
        "1"
    );

    let entry = |resource: Value| json!({"resource": resource, "request": {"method": "POST", "url": "CarePlan"}});
    let good = care_plan("generated", &[US_CORE_CAREPLAN]);
    let bad = care_plan("empty", &[US_CORE_CAREPLAN]);
    let transaction = json!({"resourceType": "Bundle", "type": "transaction",
        "entry": [entry(good.clone()), entry(bad.clone())]});
    let r = app.post("", &transaction).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        errors_at(&r.json()),
        ["Bundle.entry[1].resource.text.status"],
        "{}",
        r.text
    );
    let total = app.get("CarePlan?_summary=count").await.json()["total"].clone();
    assert_eq!(total, 1, "the transaction's good entry must not be written");

    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [entry(good), entry(bad)]});
    let r = app.post("", &batch).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let statuses: Vec<Value> = r.json()["entry"]
        .as_array()
        .map(|e| e.iter().map(|e| e["response"]["status"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, [json!("201 Created"), json!("422 Unprocessable Entity")]);
}

/// An unknown profile in `meta.profile` is a warning by default, returned
/// under `Prefer: return=OperationOutcome`; configured as an error, 422.
async fn unknown_declared_profiles_warn_or_refuse_as_configured(backend: Backend) {
    let unknown = care_plan("generated", &["http://example.org/StructureDefinition/nowhere"]);
    let app = app_with(backend, |o| o.validation = Some(ValidationMode::Declared)).await;
    let r = post_prefer(&app, "CarePlan", &unknown, "return=OperationOutcome").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let warned = issues(&r.json());
    assert!(
        warned.iter().any(|i| i["severity"] == "warning"
            && i["diagnostics"]
                .as_str()
                .unwrap_or("")
                .contains("example.org/StructureDefinition/nowhere")),
        "{}",
        r.text
    );

    let strict = app_with(backend, |o| {
        o.validation = Some(ValidationMode::Declared);
        o.unknown_profile = Some(ipe::config::UnknownProfile::Error);
    })
    .await;
    let r = strict.post("CarePlan", &unknown).await;
    assert_eq!(r.status, 422, "{}", r.text);
}

/// `enforced`: every resource of a configured type must conform to one of
/// its profiles, declared or not.
async fn enforced_policy_requires_one_of_the_configured_profiles(backend: Backend) {
    let app = app_with(backend, |o| {
        o.validation = Some(ValidationMode::Enforced);
        o.enforce_profiles = vec![
            format!("Composition={BR_CORE_COMPOSITION}"),
            format!("CarePlan={US_CORE_CAREPLAN}"),
            format!("CarePlan={BR_CORE_CAREPLAN}"),
        ];
    })
    .await;
    let r = app.post("Composition", &composition("NOPE")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let outcome = r.json();
    assert_eq!(
        errors_at(&outcome),
        ["Composition", "Composition.event[0].code[0]"],
        "{outcome}"
    );
    let lead = issues(&outcome).into_iter().find(|i| i["severity"] == "error");
    assert!(
        lead.is_some_and(|i| i["diagnostics"].as_str().unwrap_or("").contains(BR_CORE_COMPOSITION)),
        "{outcome}"
    );
    let r = app.post("Composition", &composition("AMB")).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // "empty" breaks US Core's CarePlan but not BR Core's, which this one
    // meets (a description and an activity): one is enough.
    let mut plan = care_plan("empty", &[]);
    plan["description"] = json!("Plano de cuidado");
    plan["activity"] = json!([{"detail": {"status": "scheduled", "description": "consulta",
        "scheduledString": "semanal"}}]);
    let r = app.post("CarePlan", &plan).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Meeting neither is refused, with what each profile found.
    let r = app.post("CarePlan", &care_plan("empty", &[])).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let refused = r.json();
    let said = |needle: &str| {
        issues(&refused)
            .iter()
            .any(|i| i["diagnostics"].as_str().unwrap_or("").contains(needle))
    };
    assert!(said(US_CORE_CAREPLAN) && said(BR_CORE_CAREPLAN), "{refused}");
    // A type with no enforced profile is checked as under `declared`.
    let r = app.post("Patient", &json!({"resourceType": "Patient"})).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // $validate with mode=create says what the write would say.
    let create = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": composition("NOPE")}, {"name": "mode", "valueCode": "create"}]});
    let said = validate(&app, "Composition/$validate", &create).await;
    assert_eq!(
        errors_at(&said),
        ["Composition", "Composition.event[0].code[0]"],
        "{said}"
    );
}

on_both_backends!(
    validate_reports_profile_errors_in_a_200_outcome,
    validate_checks_br_core_bindings_in_json_and_xml,
    validate_modes_follow_the_write_rules,
    structural_and_off_policies_do_not_check_profiles,
    declared_policy_refuses_writes_that_break_their_profiles,
    unknown_declared_profiles_warn_or_refuse_as_configured,
    enforced_policy_requires_one_of_the_configured_profiles,
);

/// A profile enforced but not loaded stops the start: otherwise every
/// write of that type would be refused.
#[tokio::test]
async fn an_enforced_profile_that_is_not_loaded_stops_the_start() {
    let o = Overrides {
        host: Some("127.0.0.1".into()),
        port: Some(0),
        database_url: Some(fresh_database(Backend::Sqlite).await),
        validation: Some(ValidationMode::Enforced),
        enforce_profiles: vec!["Patient=http://example.org/StructureDefinition/not-loaded".into()],
        ..Default::default()
    };
    let config = Config::load(&o).expect("config");
    let built = Application::build(&config).await;
    assert!(
        matches!(built, Err(StartupError::EnforcedProfile { .. })),
        "the start must fail"
    );
}
