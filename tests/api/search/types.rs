//! One test per parameter type (search.html §3.1.1), each prefix and
//! modifier against fixtures where the right answer is plain to see.

use serde_json::json;

use super::{expect, put_all};
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

async fn patients(app: &TestApp) {
    put_all(
        app,
        &[
            json!({"resourceType": "Patient", "id": "p1",
                "meta": {"tag": [{"system": "http://example.org/tags", "code": "vip"}]},
                "active": true,
                "name": [{"family": "Silva", "given": ["José"]}],
                "gender": "male", "birthDate": "1980-05-17",
                "identifier": [{"system": "http://example.org/mrn", "value": "A1"}],
                "address": [{"city": "São Paulo"}]}),
            json!({"resourceType": "Patient", "id": "p2",
                "active": false,
                "name": [{"family": "Silverman", "given": ["Ann"]}],
                "gender": "female", "birthDate": "1990-01-01",
                "identifier": [{"system": "http://example.org/mrn", "value": "B2"}]}),
            json!({"resourceType": "Patient", "id": "p3",
                "name": [{"family": "Souza"}],
                "birthDate": "1980"}),
        ],
    )
    .await;
}

/// search.html#string: starts with, folded for case and accents; `:exact`
/// is the whole string as written; `:contains` anywhere.
async fn string_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    expect(
        &app,
        &[
            ("Patient?name=silva", &["p1"]),
            ("Patient?name=silv", &["p1", "p2"]),
            ("Patient?family=SILV", &["p1", "p2"]),
            ("Patient?name=jose", &["p1"]),
            ("Patient?name=JOSÉ", &["p1"]),
            ("Patient?name=ose", &[]),
            ("Patient?name=souza,ann", &["p2", "p3"]),
            ("Patient?name=s&name=ann", &["p2"]),
            ("Patient?name:exact=Silva", &["p1"]),
            ("Patient?name:exact=silva", &[]),
            ("Patient?name:exact=Silv", &[]),
            ("Patient?name:contains=ERMA", &["p2"]),
            ("Patient?name:contains=ilv", &["p1", "p2"]),
            ("Patient?address-city=sao%20paulo", &["p1"]),
        ],
    )
    .await;
}

/// search.html#token: `code`, `system|code`, `|code`, `system|`, `:not`
/// (which includes resources without a value), `:text`.
async fn token_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    put_all(
        &app,
        &[json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8", "display": "Glucose [Moles/volume] in Blood"}],
                     "text": "Blood sugar"}})],
    )
    .await;
    expect(
        &app,
        &[
            ("Patient?gender=male", &["p1"]),
            ("Patient?gender=male,female", &["p1", "p2"]),
            ("Patient?gender=Male", &[]),
            ("Patient?gender:not=male", &["p2", "p3"]),
            ("Patient?gender:not=male,female", &["p3"]),
            ("Patient?identifier=http://example.org/mrn%7CA1", &["p1"]),
            ("Patient?identifier=A1", &["p1"]),
            ("Patient?identifier=http://example.org/mrn%7C", &["p1", "p2"]),
            ("Patient?identifier=%7CA1", &[]),
            ("Patient?identifier=http://other.org%7CA1", &[]),
            ("Patient?active=true", &["p1"]),
            ("Patient?active=false", &["p2"]),
            ("Patient?_tag=http://example.org/tags%7Cvip", &["p1"]),
            ("Observation?code=http://loinc.org%7C15074-8", &["o1"]),
            ("Observation?code:text=glucose", &["o1"]),
            ("Observation?code:text=BLOOD%20SUG", &["o1"]),
            ("Observation?code:text=sugar", &[]),
            ("Patient?_id=p1,p3", &["p1", "p3"]),
            ("Patient?_id=%7Cp2", &["p2"]),
            ("Patient?_id:not=p1", &["p2", "p3"]),
        ],
    )
    .await;
}

/// search.html#date with the prefix table of search.html#prefix: `1980` is
/// the whole year, so a birth date of 1980-05-17 lies within it, while a
/// birth date given as just "1980" does not lie within one day of it.
async fn date_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    expect(
        &app,
        &[
            ("Patient?birthdate=1980", &["p1", "p3"]),
            ("Patient?birthdate=eq1980-05-17", &["p1"]),
            ("Patient?birthdate=1980-05", &["p1"]),
            ("Patient?birthdate=ne1980", &["p2"]),
            ("Patient?birthdate=gt1985", &["p2"]),
            ("Patient?birthdate=lt1985", &["p1", "p3"]),
            ("Patient?birthdate=gt1980-05-17", &["p2", "p3"]),
            ("Patient?birthdate=ge1980-05-17", &["p1", "p2", "p3"]),
            ("Patient?birthdate=le1980-05-17", &["p1", "p3"]),
            ("Patient?birthdate=lt1980-05-17", &["p3"]),
            ("Patient?birthdate=sa1985", &["p2"]),
            ("Patient?birthdate=sa1980-05-17", &["p2"]),
            ("Patient?birthdate=eb1985", &["p1", "p3"]),
            ("Patient?birthdate=eb1980-05-17", &[]),
            ("Patient?birthdate=ap1990-01-01", &["p2"]),
            ("Patient?birthdate=ge1980&birthdate=lt1981", &["p1", "p3"]),
            ("Patient?birthdate=1979,1990", &["p2"]),
            ("Patient?birthdate=1980-05-17T10:00:00Z", &[]),
        ],
    )
    .await;
}

/// `_lastUpdated` is served from the resource row: each instant is its own.
async fn last_updated(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    let stamp = |id: &str| {
        let app = &app;
        let id = id.to_owned();
        async move {
            let r = app.get(&format!("Patient/{id}")).await.json();
            r["meta"]["lastUpdated"]
                .as_str()
                .unwrap_or_default()
                .replace('+', "%2B")
        }
    };
    let (t1, t2) = (stamp("p1").await, stamp("p2").await);
    expect(
        &app,
        &[
            (&format!("Patient?_lastUpdated={t1}"), &["p1"]),
            (&format!("Patient?_lastUpdated=gt{t1}"), &["p2", "p3"]),
            (&format!("Patient?_lastUpdated=le{t2}"), &["p1", "p2"]),
            ("Patient?_lastUpdated=gt2000-01-01", &["p1", "p2", "p3"]),
            ("Patient?_lastUpdated=lt2000-01-01", &[]),
        ],
    )
    .await;
}

/// search.html#number: `0.3` stands for [0.25, 0.35); ordering prefixes
/// compare with the value as written; `ap` is within 10 %.
async fn number_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let risk = |id: &str, probability: f64| {
        json!({"resourceType": "RiskAssessment", "id": id, "status": "final",
            "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityDecimal": probability}]})
    };
    put_all(&app, &[risk("r1", 0.3), risk("r2", 0.35), risk("r3", 0.8)]).await;
    expect(
        &app,
        &[
            ("RiskAssessment?probability=0.3", &["r1"]),
            ("RiskAssessment?probability=0.30", &["r1"]),
            ("RiskAssessment?probability=0.35", &["r2"]),
            ("RiskAssessment?probability=0.4", &["r2"]),
            ("RiskAssessment?probability=ne0.3", &["r2", "r3"]),
            ("RiskAssessment?probability=gt0.3", &["r2", "r3"]),
            ("RiskAssessment?probability=lt0.5", &["r1", "r2"]),
            ("RiskAssessment?probability=ge0.35", &["r2", "r3"]),
            ("RiskAssessment?probability=le0.3", &["r1"]),
            ("RiskAssessment?probability=sa0.3", &["r2", "r3"]),
            ("RiskAssessment?probability=eb0.35", &["r1"]),
            ("RiskAssessment?probability=ap0.75", &["r3"]),
            ("RiskAssessment?probability=ap0.33", &["r1", "r2"]),
            ("RiskAssessment?probability=0.3,0.8", &["r1", "r3"]),
        ],
    )
    .await;
}

/// search.html#quantity: units as written, and UCUM quantities compared in
/// canonical units, so 6 g is more than 5000 mg.
async fn quantity_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let observation = |id: &str, quantity: serde_json::Value| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "weight of something"}, "valueQuantity": quantity})
    };
    put_all(
        &app,
        &[
            observation(
                "q1",
                json!({"value": 5.4, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}),
            ),
            observation(
                "q2",
                json!({"value": 6, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}),
            ),
            observation("q3", json!({"value": 7, "unit": "mg"})),
        ],
    )
    .await;
    expect(
        &app,
        &[
            (
                "Observation?value-quantity=5.4%7Chttp://unitsofmeasure.org%7Cmg",
                &["q1"],
            ),
            ("Observation?value-quantity=5.4", &["q1"]),
            ("Observation?value-quantity=5.4%7C%7Cmg", &["q1"]),
            ("Observation?value-quantity=7%7C%7Cmg", &["q3"]),
            ("Observation?value-quantity=gt5%7C%7Cmg", &["q1", "q3"]),
            (
                "Observation?value-quantity=gt5000%7Chttp://unitsofmeasure.org%7Cmg",
                &["q2"],
            ),
            (
                "Observation?value-quantity=6000%7Chttp://unitsofmeasure.org%7Cmg",
                &["q2"],
            ),
            (
                "Observation?value-quantity=lt1%7Chttp://unitsofmeasure.org%7Cg",
                &["q1"],
            ),
            (
                "Observation?value-quantity=ge5.4%7Chttp://unitsofmeasure.org%7Cmg",
                &["q1", "q2"],
            ),
            (
                "Observation?value-quantity=gt5.4%7Chttp://unitsofmeasure.org%7Cmg",
                &["q2"],
            ),
            (
                "Observation?value-quantity=ap6%7Chttp://unitsofmeasure.org%7Cmg",
                &["q1"],
            ),
            (
                "Observation?value-quantity=ne5.4%7Chttp://unitsofmeasure.org%7Cmg",
                &["q2"],
            ),
            ("Observation?value-quantity=le5.4%7C%7Cmg", &["q1"]),
            (
                "Observation?value-quantity=sa5%7Chttp://unitsofmeasure.org%7Cg",
                &["q2"],
            ),
            (
                "Observation?value-quantity=eb1%7Chttp://unitsofmeasure.org%7Cg",
                &["q1"],
            ),
            ("Observation?value-quantity=5.4%7Chttp://unitsofmeasure.org%7Ckg", &[]),
            ("Observation?value-quantity=gt5%7Chttp://unitsofmeasure.org%7Cm", &[]),
        ],
    )
    .await;
}

/// search.html#reference: `id`, `Type/id`, `:Type`, absolute URLs on this
/// server (local) and elsewhere (not local), `:identifier`.
async fn reference_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    let base = app.base.clone();
    let observation = |id: &str, subject: serde_json::Value| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "x"}, "subject": subject})
    };
    put_all(
        &app,
        &[
            observation("o1", json!({"reference": "Patient/p1"})),
            observation("o2", json!({"reference": format!("{base}/Patient/p1")})),
            observation("o3", json!({"reference": "http://elsewhere.org/fhir/Patient/p1"})),
            observation("o4", json!({"reference": "Patient/p2/_history/1"})),
            observation(
                "o5",
                json!({"identifier": {"system": "http://example.org/mrn", "value": "A1"}}),
            ),
            observation("o6", json!({"reference": "Group/p1"})),
        ],
    )
    .await;
    let absolute = format!("{base}/Patient/p1").replace(':', "%3A");
    expect(
        &app,
        &[
            ("Observation?subject=Patient/p1", &["o1", "o2"]),
            ("Observation?subject=p1", &["o1", "o2", "o6"]),
            ("Observation?subject:Patient=p1", &["o1", "o2"]),
            ("Observation?subject:Group=p1", &["o6"]),
            ("Observation?patient=p1", &["o1", "o2"]),
            (&format!("Observation?subject={absolute}"), &["o1", "o2"]),
            ("Observation?subject=http://elsewhere.org/fhir/Patient/p1", &["o3"]),
            ("Observation?subject=Patient/p2", &["o4"]),
            ("Observation?subject=Patient/p1,Patient/p2", &["o1", "o2", "o4"]),
            ("Observation?subject:identifier=http://example.org/mrn%7CA1", &["o5"]),
            ("Observation?subject:identifier=A1", &["o5"]),
            ("Observation?subject:identifier=http://other.org%7CA1", &[]),
        ],
    )
    .await;
}

/// search.html#uri: whole URI by default, `:below` (starts with the value),
/// `:above` (the value starts with it).
async fn uri_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let value_set = |id: &str, url: &str| json!({"resourceType": "ValueSet", "id": id, "status": "active", "url": url});
    put_all(
        &app,
        &[
            value_set("v1", "http://example.org/fhir/ValueSet/a"),
            value_set("v2", "http://example.org/fhir/ValueSet/a/b"),
            value_set("v3", "http://other.org/ValueSet/a"),
        ],
    )
    .await;
    expect(
        &app,
        &[
            ("ValueSet?url=http://example.org/fhir/ValueSet/a", &["v1"]),
            ("ValueSet?url=http://example.org/fhir/ValueSet/A", &[]),
            ("ValueSet?url:below=http://example.org/fhir/", &["v1", "v2"]),
            (
                "ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c",
                &["v1", "v2"],
            ),
            ("ValueSet?url:above=http://example.org/fhir/ValueSet/a", &["v1"]),
            ("ValueSet?url:contains=fhir/ValueSet", &["v1", "v2"]),
            ("ValueSet?url:contains=VALUESET", &[]),
            ("ValueSet?url:missing=true", &[]),
        ],
    )
    .await;
}

/// search.html#composite: every component must match within one instance
/// of the base element (one Observation.component), not across them.
async fn composite_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let loinc = |code: &str| json!({"coding": [{"system": "http://loinc.org", "code": code}]});
    let mmhg =
        |value: i64| json!({"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    put_all(
        &app,
        &[
            json!({"resourceType": "Observation", "id": "bp", "status": "final", "code": loinc("85354-9"),
                "component": [
                    {"code": loinc("8480-6"), "valueQuantity": mmhg(120)},
                    {"code": loinc("8462-4"), "valueQuantity": mmhg(80)}
                ]}),
            json!({"resourceType": "Observation", "id": "glucose", "status": "final", "code": loinc("15074-8"),
                "valueQuantity": {"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}),
        ],
    )
    .await;
    expect(
        &app,
        &[
            (
                "Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt100",
                &["bp"],
            ),
            (
                "Observation?component-code-value-quantity=http://loinc.org%7C8462-4$gt100",
                &[],
            ),
            ("Observation?component-code-value-quantity=8462-4$lt90", &["bp"]),
            (
                "Observation?code-value-quantity=http://loinc.org%7C15074-8$5.4",
                &["glucose"],
            ),
            ("Observation?code-value-quantity=http://loinc.org%7C15074-8$gt6", &[]),
        ],
    )
    .await;
}

/// search.html#missing, and deleted resources never match.
async fn missing_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    expect(
        &app,
        &[
            ("Patient?gender:missing=true", &["p3"]),
            ("Patient?gender:missing=false", &["p1", "p2"]),
            ("Patient?identifier:missing=true", &["p3"]),
            ("Patient?_id:missing=false", &["p1", "p2", "p3"]),
            // Negated criteria beside a positive one, written before or
            // after it (the SQL takes them inside the positive lookup).
            ("Patient?gender:not=male&family=s", &["p2", "p3"]),
            ("Patient?family=s&gender:not=male&identifier:missing=true", &["p3"]),
            ("Patient?gender:missing=true&birthdate=1980", &["p3"]),
            ("Patient?gender:not=female&gender:not=male&name=silv", &[]),
        ],
    )
    .await;
    assert_eq!(app.delete("Patient/p2").await.status, 204);
    expect(
        &app,
        &[
            ("Patient?name=silv", &["p1"]),
            ("Patient?gender:not=male", &["p3"]),
            ("Patient", &["p1", "p3"]),
        ],
    )
    .await;
}

/// search.html#token `:of-type`: `type-system|type-code|value` finds an
/// identifier by its type coding and value; the value alone or another type
/// does not.
async fn identifier_of_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let v2 = "http://terminology.hl7.org/CodeSystem/v2-0203";
    let typed = |id: &str, code: &str, value: &str| {
        json!({"resourceType": "Patient", "id": id,
            "identifier": [{"type": {"coding": [{"system": v2, "code": code}], "text": "record"},
                            "system": "http://example.org/ids", "value": value}]})
    };
    put_all(
        &app,
        &[
            typed("mr", "MR", "446053"),
            typed("dl", "DL", "446053"),
            typed("mr2", "MR", "999"),
            json!({"resourceType": "Patient", "id": "untyped",
                "identifier": [{"system": "http://example.org/ids", "value": "446053"}]}),
        ],
    )
    .await;
    let of_type = |code: &str, value: &str| format!("Patient?identifier:of-type={v2}%7C{code}%7C{value}");
    expect(
        &app,
        &[
            (&of_type("MR", "446053"), &["mr"]),
            (&of_type("DL", "446053"), &["dl"]),
            (&of_type("MR", "999"), &["mr2"]),
            (&of_type("MR", "4460"), &[]),
            (
                &format!("{}%2C{v2}%7CDL%7C446053", of_type("MR", "999")),
                &["dl", "mr2"],
            ),
            ("Patient?identifier:of-type=http://other.org%7CMR%7C446053", &[]),
            // The type rows never widen ordinary token searches.
            ("Patient?identifier=446053", &["dl", "mr", "untyped"]),
            (&format!("Patient?identifier={v2}%7CMR"), &[]),
            (&format!("Patient?identifier={v2}%7C"), &[]),
            (
                "Patient?identifier=http://example.org/ids%7C446053",
                &["dl", "mr", "untyped"],
            ),
            ("Patient?identifier:text=record", &["dl", "mr", "mr2"]),
        ],
    )
    .await;
    let bad = app.get("Patient?identifier:of-type=MR%7C446053").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

/// location.html#positional `near=latitude|longitude|distance|units`:
/// Locations whose position is within the distance (km by default units),
/// across the antimeridian; a Location without a position never matches.
async fn near_positions(backend: Backend) {
    let app = spawn_app(backend).await;
    let at = |id: &str, latitude: f64, longitude: f64| json!({"resourceType": "Location", "id": id, "position": {"latitude": latitude, "longitude": longitude}});
    put_all(
        &app,
        &[
            // São Paulo (Sé), Campinas (~85 km NW), Rio (~360 km), Fiji on
            // either side of the antimeridian, and one with no position.
            at("se", -23.5505, -46.6333),
            at("paulista", -23.5614, -46.6559),
            at("campinas", -22.9056, -47.0608),
            at("rio", -22.9068, -43.1729),
            at("fiji-east", -17.0, 179.9),
            at("fiji-west", -17.0, -179.9),
            json!({"resourceType": "Location", "id": "nowhere", "name": "Virtual"}),
        ],
    )
    .await;
    expect(
        &app,
        &[
            // Sé ↔ Paulista is ~2.6 km.
            ("Location?near=-23.5505%7C-46.6333%7C1%7Ckm", &["se"]),
            ("Location?near=-23.5505%7C-46.6333%7C3%7Ckm", &["paulista", "se"]),
            ("Location?near=-23.5505%7C-46.6333%7C3000%7Cm", &["paulista", "se"]),
            (
                "Location?near=-23.5505%7C-46.6333%7C100",
                &["campinas", "paulista", "se"],
            ),
            // ~80 km along the diagonal: inside the bounding box of a 70 km
            // circle, outside the circle.
            ("Location?near=-23.5505%7C-46.6333%7C70%7Ckm", &["paulista", "se"]),
            (
                "Location?near=-23.5505%7C-46.6333%7C400%7Ckm",
                &["campinas", "paulista", "rio", "se"],
            ),
            // No distance: the server's 10 km.
            ("Location?near=-23.5505%7C-46.6333", &["paulista", "se"]),
            // 0.2° of longitude at 17°S is ~21 km, across ±180°.
            ("Location?near=-17%7C179.95%7C25%7Ckm", &["fiji-east", "fiji-west"]),
            ("Location?near=-17%7C179.95%7C10%7Ckm", &["fiji-east"]),
            (
                "Location?near=-22.9068%7C-43.1729%7C1%7Ckm,-17%7C-179.9%7C1%7Ckm",
                &["fiji-west", "rio"],
            ),
            ("Location?near:missing=true", &["nowhere"]),
        ],
    )
    .await;
    for bad in [
        "Location?near=91%7C0%7C1%7Ckm",
        "Location?near=abc",
        "Location?near=0%7C0%7C1%7Ckg",
    ] {
        let r = app.get(bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
}

/// search.html#token `:in` / `:not-in` (value sets) and `:below` /
/// `:above` (subsumption), answered through the terminology service over a
/// code system and value set stored on the server and a base value set.
async fn token_terminology_modifiers(backend: Backend) {
    let app = spawn_app(backend).await;
    patients(&app).await;
    let cs = "http://example.org/cs/findings";
    put_all(
        &app,
        &[
            json!({"resourceType": "CodeSystem", "id": "findings", "url": cs, "status": "active", "content": "complete",
                "concept": [{"code": "disorder", "concept": [
                    {"code": "infection", "concept": [{"code": "pneumonia"}, {"code": "sepsis"}]},
                    {"code": "fracture"}]}]}),
            json!({"resourceType": "ValueSet", "id": "infections", "url": "http://example.org/vs/infections",
                "status": "active", "compose": {"include": [{"system": cs,
                    "filter": [{"property": "concept", "op": "is-a", "value": "infection"}]}]}}),
            json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": cs, "code": "pneumonia"}]}}),
            json!({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"},
                "code": {"coding": [{"system": cs, "code": "fracture"}]}}),
            json!({"resourceType": "Condition", "id": "c3", "subject": {"reference": "Patient/p2"},
                "code": {"coding": [{"system": cs, "code": "infection"}]}}),
            json!({"resourceType": "Condition", "id": "c4", "subject": {"reference": "Patient/p3"},
                "code": {"coding": [{"system": "http://other.org", "code": "pneumonia"}]}}),
        ],
    )
    .await;
    expect(
        &app,
        &[
            ("Condition?code:in=http://example.org/vs/infections", &["c1", "c3"]),
            ("Condition?code:not-in=http://example.org/vs/infections", &["c2", "c4"]),
            (&format!("Condition?code:below={cs}%7Cinfection"), &["c1", "c3"]),
            (&format!("Condition?code:below={cs}%7Cdisorder"), &["c1", "c2", "c3"]),
            (&format!("Condition?code:above={cs}%7Cpneumonia"), &["c1", "c3"]),
            (&format!("Condition?code:above={cs}%7Cfracture"), &["c2"]),
            (
                "Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender",
                &["p1", "p2"],
            ),
            // Through a chain.
            (
                "Condition?subject:Patient.gender:in=http://hl7.org/fhir/ValueSet/administrative-gender",
                &["c1", "c2", "c3"],
            ),
        ],
    )
    .await;
    let self_link = app
        .get("Condition?code:in=http://example.org/vs/infections")
        .await
        .json()["link"][0]["url"]
        .to_string();
    assert!(
        self_link.contains("code:in=http://example.org/vs/infections"),
        "{self_link}"
    );
    // What cannot be answered here is refused, never searched as empty.
    let unknown = app.get("Condition?code:in=http://example.org/vs/nothing").await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let loinc = app.get("Observation?code:below=http://loinc.org%7C1234-5").await;
    assert_eq!(loinc.status, 422, "{}", loinc.text);
    let no_system = app.get("Condition?code:below=infection").await;
    assert_eq!(no_system.status, 400, "{}", no_system.text);
}

on_both_backends!(
    token_terminology_modifiers,
    near_positions,
    string_parameters,
    token_parameters,
    identifier_of_type,
    date_parameters,
    last_updated,
    number_parameters,
    quantity_parameters,
    reference_parameters,
    uri_parameters,
    composite_parameters,
    missing_and_deleted,
);
