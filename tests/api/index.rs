//! Search index rows (docs/database.md, "Search index"): every write replaces
//! what the resource is indexed under, in the same transaction as the
//! version, and a delete leaves nothing. The tables are read directly here,
//! as the search planner will read them.

use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::helpers::{spawn_app, Backend, TestApp, FHIR_JSON};
use crate::on_both_backends;

const TABLES: [&str; 9] = [
    "idx_string",
    "idx_token",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
    "idx_composite",
    "idx_text",
];

/// The test's own connection to the server's database.
struct IndexDb {
    pool: AnyPool,
}

impl IndexDb {
    async fn open(app: &TestApp) -> Self {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&app.database_url)
            .await
            .expect("connect to the test database");
        IndexDb { pool }
    }

    /// `columns` of the rows of `table` for `rtype/id` under `param`.
    async fn rows(&self, table: &str, columns: &str, rtype: &str, id: &str, param: &str) -> Vec<AnyRow> {
        let sql = format!(
            "SELECT {columns} FROM {table} t JOIN resources r ON r.rkey = t.rkey \
             WHERE r.rtype = $1 AND r.id = $2 AND t.param = $3 ORDER BY {columns}"
        );
        sqlx::query(&sql)
            .bind(rtype)
            .bind(id)
            .bind(param)
            .fetch_all(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// One text column of those rows.
    async fn texts(&self, table: &str, column: &str, rtype: &str, id: &str, param: &str) -> Vec<String> {
        self.rows(table, column, rtype, id, param)
            .await
            .iter()
            .map(|row| row.try_get::<String, _>(0).expect("text column"))
            .collect()
    }

    /// Index rows of `rtype/id` over all tables.
    async fn count(&self, rtype: &str, id: &str) -> i64 {
        let mut total = 0;
        for table in TABLES {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {table} t JOIN resources r ON r.rkey = t.rkey \
                 WHERE r.rtype = $1 AND r.id = $2"
            );
            let row = sqlx::query(&sql)
                .bind(rtype)
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            total += row.try_get::<i64, _>("n").expect("count");
        }
        total
    }

    /// Index rows in all tables, whoever they belong to.
    async fn count_all(&self) -> i64 {
        let mut total = 0;
        for table in TABLES {
            let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(&self.pool)
                .await
                .expect("count");
            total += row.try_get::<i64, _>("n").expect("count");
        }
        total
    }
}

fn micros(instant: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(instant)
        .unwrap_or_else(|e| panic!("{instant}: {e}"))
        .timestamp_micros()
}

fn patient(family: &str, given: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": "http://hospital.example/mrn", "value": "MRN-1"}],
        "name": [{"family": family, "given": [given]}],
        "gender": "male",
        "birthDate": "1980-05-17",
        "generalPractitioner": [{"reference": "Practitioner/dr1"}]
    })
}

fn quantity(value: i64) -> Value {
    json!({"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"})
}

fn loinc(code: &str) -> Value {
    json!({"coding": [{"system": "http://loinc.org", "code": code}]})
}

/// A blood pressure panel: two components, each a code and a value.
fn blood_pressure() -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": loinc("85354-9"),
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-01-01T10:00:00Z",
        "component": [
            {"code": loinc("8480-6"), "valueQuantity": quantity(120)},
            {"code": loinc("8462-4"), "valueQuantity": quantity(80)}
        ]
    })
}

async fn create_indexes_strings_tokens_dates_and_references(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let r = app.post("Patient", &patient("Silva", "José")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().expect("id");

    let names = db.texts("idx_string", "norm", "Patient", id, "name").await;
    assert_eq!(names, ["jose", "silva"], "names are stored folded");
    let exact = db.texts("idx_string", "exact", "Patient", id, "given").await;
    assert_eq!(exact, ["José"], ":exact needs the name as written");

    let ids = db.rows("idx_token", "system, code", "Patient", id, "identifier").await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        ids[0].try_get::<String, _>("system").ok().as_deref(),
        Some("http://hospital.example/mrn")
    );
    assert_eq!(ids[0].try_get::<String, _>("code").ok().as_deref(), Some("MRN-1"));
    let own_id = db.texts("idx_token", "code", "Patient", id, "_id").await;
    assert_eq!(own_id, [id], "indexed after the server assigned the id");

    let birth = db.rows("idx_date", "low, high", "Patient", id, "birthdate").await;
    assert_eq!(birth.len(), 1);
    assert_eq!(
        birth[0].try_get::<i64, _>("low").ok(),
        Some(micros("1980-05-17T00:00:00Z"))
    );
    assert_eq!(
        birth[0].try_get::<i64, _>("high").ok(),
        Some(micros("1980-05-18T00:00:00Z"))
    );
    let updated = db.rows("idx_date", "low", "Patient", id, "_lastUpdated").await;
    let stamped = micros(created["meta"]["lastUpdated"].as_str().expect("meta.lastUpdated"));
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0].try_get::<i64, _>("low").ok(),
        Some(stamped),
        "indexed after meta was set"
    );

    let gp = db
        .rows(
            "idx_reference",
            "target_type, target_id, url",
            "Patient",
            id,
            "general-practitioner",
        )
        .await;
    assert_eq!(gp.len(), 1);
    assert_eq!(
        gp[0].try_get::<String, _>("target_type").ok().as_deref(),
        Some("Practitioner")
    );
    assert_eq!(gp[0].try_get::<String, _>("target_id").ok().as_deref(), Some("dr1"));
    assert_eq!(
        gp[0].try_get::<String, _>("url").ok().as_deref(),
        Some("Practitioner/dr1")
    );
}

async fn create_indexes_quantities_and_composites_per_component(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let id = app.create(&blood_pressure()).await;

    let values = db
        .rows(
            "idx_quantity",
            "value, low, high, code, canon_unit",
            "Observation",
            &id,
            "component-value-quantity",
        )
        .await;
    let triples: Vec<(f64, f64, f64)> = values
        .iter()
        .map(|r| (r.get("value"), r.get("low"), r.get("high")))
        .collect();
    assert_eq!(triples, [(80.0, 79.5, 80.5), (120.0, 119.5, 120.5)]);
    assert_eq!(values[0].try_get::<String, _>("code").ok().as_deref(), Some("mm[Hg]"));
    assert!(
        values[0].try_get::<String, _>("canon_unit").is_ok(),
        "mm[Hg] is UCUM: a canonical form is stored"
    );

    // Each component's code goes with its own value only.
    let pairs: Vec<(String, f64)> = db
        .rows(
            "idx_composite",
            "c1_code, c2_value",
            "Observation",
            &id,
            "component-code-value-quantity",
        )
        .await
        .iter()
        .map(|r| (r.get("c1_code"), r.get("c2_value")))
        .collect();
    assert_eq!(pairs, [("8462-4".to_string(), 80.0), ("8480-6".to_string(), 120.0)]);

    // component-code-value-quantity=http://loinc.org|8480-6$gt100, in SQL.
    let found = sqlx::query(
        "SELECT r.id FROM idx_composite c JOIN resources r ON r.rkey = c.rkey \
         WHERE r.rtype = 'Observation' AND c.param = 'component-code-value-quantity' \
         AND c.c1_system = 'http://loinc.org' AND c.c1_code = '8480-6' AND c.c2_low > 100",
    )
    .fetch_all(&db.pool)
    .await
    .expect("composite query");
    assert_eq!(found.len(), 1);
    let diastolic_high = sqlx::query(
        "SELECT r.id FROM idx_composite c JOIN resources r ON r.rkey = c.rkey \
         WHERE c.param = 'component-code-value-quantity' AND c.c1_code = '8462-4' AND c.c2_low > 100",
    )
    .fetch_all(&db.pool)
    .await
    .expect("composite query");
    assert!(diastolic_high.is_empty(), "80 is not paired with the systolic code");

    let subject = db
        .texts("idx_reference", "target_id", "Observation", &id, "subject")
        .await;
    assert_eq!(subject, ["p1"]);
    let effective = db.rows("idx_date", "low, high", "Observation", &id, "date").await;
    assert_eq!(effective.len(), 1);
    assert_eq!(effective[0].get::<i64, _>("low"), micros("2020-01-01T10:00:00Z"));
}

async fn create_indexes_numbers_and_uris(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let risk = app
        .create(&json!({
            "resourceType": "RiskAssessment",
            "status": "final",
            "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityDecimal": 0.25}]
        }))
        .await;
    let probability: Vec<(f64, f64, f64)> = db
        .rows("idx_number", "value, low, high", "RiskAssessment", &risk, "probability")
        .await
        .iter()
        .map(|r| (r.get("value"), r.get("low"), r.get("high")))
        .collect();
    assert_eq!(probability, [(0.25, 0.245, 0.255)]);

    let vs = app
        .create(&json!({"resourceType": "ValueSet", "status": "draft", "url": "http://example.org/vs/1"}))
        .await;
    let urls = db.texts("idx_uri", "value", "ValueSet", &vs, "url").await;
    assert_eq!(urls, ["http://example.org/vs/1"]);
}

async fn open_period_ends_are_stored_as_the_integer_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let mut ongoing = blood_pressure();
    ongoing["effectivePeriod"] = json!({"start": "2020-01-01T10:00:00Z"});
    ongoing.as_object_mut().map(|o| o.remove("effectiveDateTime"));
    let id = app.create(&ongoing).await;
    let date = db.rows("idx_date", "low, high", "Observation", &id, "date").await;
    assert_eq!(date.len(), 1);
    assert_eq!(date[0].get::<i64, _>("low"), micros("2020-01-01T10:00:00Z"));
    assert_eq!(date[0].get::<i64, _>("high"), i64::MAX);
}

async fn update_replaces_the_previous_versions_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let mut body = patient("Silva", "José");
    body["id"] = json!("p1");
    assert_eq!(app.put("Patient/p1", &body).await.status, 201);
    let before = db.count("Patient", "p1").await;

    body["name"] = json!([{"family": "Souza", "given": ["Ana"]}]);
    body["birthDate"] = json!("1990");
    let r = app.put("Patient/p1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let names = db.texts("idx_string", "norm", "Patient", "p1", "name").await;
    assert_eq!(names, ["ana", "souza"], "the old names are gone");
    let birth = db.rows("idx_date", "low, high", "Patient", "p1", "birthdate").await;
    assert_eq!(birth.len(), 1, "one birthdate row, the new one");
    assert_eq!(birth[0].get::<i64, _>("low"), micros("1990-01-01T00:00:00Z"));
    assert_eq!(birth[0].get::<i64, _>("high"), micros("1991-01-01T00:00:00Z"));
    assert_eq!(
        db.count("Patient", "p1").await,
        before,
        "same shape, same number of rows"
    );
}

async fn delete_removes_every_row_and_recreate_indexes_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let id = app.create(&blood_pressure()).await;
    let other = app.create(&patient("Silva", "José")).await;
    let others_rows = db.count("Patient", &other).await;
    assert!(db.count("Observation", &id).await > 0);

    assert_eq!(app.delete(&format!("Observation/{id}")).await.status, 204);
    assert_eq!(
        db.count("Observation", &id).await,
        0,
        "a deleted resource is indexed under nothing"
    );
    assert_eq!(
        db.count("Patient", &other).await,
        others_rows,
        "other resources keep their rows"
    );

    let mut again = blood_pressure();
    again["id"] = json!(id);
    let r = app.put(&format!("Observation/{id}"), &again).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pairs = db
        .rows(
            "idx_composite",
            "c1_code",
            "Observation",
            &id,
            "component-code-value-quantity",
        )
        .await;
    assert_eq!(pairs.len(), 2, "indexed again after being recreated");
}

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

async fn transaction_indexes_every_entry_with_references_resolved(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let mut observation = blood_pressure();
    observation["subject"] = json!({"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"});
    let b = transaction(vec![
        json!({"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
               "resource": patient("Costa", "Maria"), "request": {"method": "POST", "url": "Patient"}}),
        json!({"resource": observation, "request": {"method": "POST", "url": "Observation"}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    let id_of = |i: usize| {
        let location = out["entry"][i]["response"]["location"].as_str().expect("location");
        location
            .split('/')
            .rev()
            .nth(2)
            .expect("Type/id/_history/n")
            .to_string()
    };
    let (patient_id, observation_id) = (id_of(0), id_of(1));

    let names = db.texts("idx_string", "norm", "Patient", &patient_id, "family").await;
    assert_eq!(names, ["costa"]);
    let subject = db
        .rows(
            "idx_reference",
            "target_type, target_id",
            "Observation",
            &observation_id,
            "subject",
        )
        .await;
    assert_eq!(subject.len(), 1);
    assert_eq!(subject[0].get::<String, _>("target_type"), "Patient");
    assert_eq!(
        subject[0].get::<String, _>("target_id"),
        patient_id,
        "indexed after the urn:uuid was rewritten"
    );
}

async fn failed_transaction_leaves_the_index_as_it_was(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let mut old = patient("Old", "Name");
    old["id"] = json!("a");
    assert_eq!(app.put("Patient/a", &old).await.status, 201);
    let before = db.count_all().await;

    // Processed in order POST, PUT a, PUT b: reading b's current version
    // flushes the create and the update of a (index rows included) inside
    // the transaction, then b's If-Match fails and everything rolls back.
    let mut new = patient("New", "Name");
    new["id"] = json!("a");
    let b = transaction(vec![
        json!({"resource": patient("Created", "Never"), "request": {"method": "POST", "url": "Patient"}}),
        json!({"resource": new, "request": {"method": "PUT", "url": "Patient/a"}}),
        json!({"resource": {"resourceType": "Patient", "id": "b"},
               "request": {"method": "PUT", "url": "Patient/b", "ifMatch": "W/\"3\""}}),
    ]);
    let r = app.post("", &b).await;
    assert_eq!(r.status, 412, "{}", r.text);

    assert_eq!(db.count_all().await, before, "no index row added or removed");
    let names = db.texts("idx_string", "norm", "Patient", "a", "family").await;
    assert_eq!(names, ["old"], "Patient/a keeps the rows of its stored version");
}

/// The first patient Bundle in the Synthea archive (`Practitioner`- and
/// `Organization`-only Bundles are skipped).
fn first_patient_bundle() -> String {
    crate::synthea::load_bundles()
        .into_iter()
        .find(|b| b.types.iter().any(|t| t == "Patient"))
        .map(|b| b.text)
        .expect("a patient Bundle in the Synthea archive")
}

async fn synthea_patient_bundle_is_indexed(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let text = first_patient_bundle();
    let bundle: Value = serde_json::from_str(&text).expect("Bundle JSON");
    let given_patient = bundle["entry"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["resource"]["resourceType"] == "Patient"))
        .map(|e| e["resource"].clone())
        .expect("a Patient entry");
    let r = app
        .send(
            app.client
                .post(app.url("/"))
                .header("Content-Type", FHIR_JSON)
                .header("Prefer", "return=minimal")
                .body(text),
        )
        .await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(2000)]);
    let out = r.json();
    let location = out["entry"]
        .as_array()
        .and_then(|entries| {
            entries
                .iter()
                .filter_map(|e| e["response"]["location"].as_str())
                .find(|l| l.contains("/Patient/"))
        })
        .expect("the Patient's location");
    let id = location.split('/').rev().nth(2).expect("Type/id/_history/n");

    let family = given_patient["name"][0]["family"].as_str().expect("family");
    let names = db.texts("idx_string", "exact", "Patient", id, "family").await;
    assert!(names.iter().any(|n| n == family), "{names:?} lacks {family}");
    let birth = db.rows("idx_date", "low", "Patient", id, "birthdate").await;
    let birth_date = given_patient["birthDate"].as_str().expect("birthDate");
    assert_eq!(birth.len(), 1);
    assert_eq!(
        birth[0].get::<i64, _>("low"),
        micros(&format!("{birth_date}T00:00:00Z"))
    );
    // One row per identifier, plus one per Identifier.type coding for
    // `:of-type` (its system is `type-system|type-code`).
    let identifiers = db.texts("idx_token", "code", "Patient", id, "identifier").await;
    let given = given_patient["identifier"].as_array().cloned().unwrap_or_default();
    let typed: usize = given
        .iter()
        .map(|i| i["type"]["coding"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        !given.is_empty() && identifiers.len() == given.len() + typed,
        "{identifiers:?}"
    );
    let mut values: Vec<&str> = given.iter().filter_map(|i| i["value"].as_str()).collect();
    let mut indexed: Vec<&str> = identifiers.iter().map(String::as_str).collect();
    values.sort_unstable();
    values.dedup();
    indexed.sort_unstable();
    indexed.dedup();
    assert_eq!(indexed, values);

    // Everything in the Bundle is indexed under at least _id.
    let unindexed = sqlx::query(
        "SELECT COUNT(*) AS n FROM resources r WHERE NOT EXISTS \
         (SELECT 1 FROM idx_token t WHERE t.rkey = r.rkey AND t.param = '_id')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(unindexed.get::<i64, _>("n"), 0);
}

/// The full-text row (docs/database.md, "Full text"): one per resource, its
/// folded words; replaced on update, gone on delete. On SQLite the FTS5
/// index must stay in step with `idx_text` through its triggers, which its
/// integrity check verifies.
async fn full_text_row_follows_the_current_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = IndexDb::open(&app).await;
    let texts = |id: &'static str| {
        let sql = "SELECT t.narrative, t.data FROM idx_text t JOIN resources r ON r.rkey = t.rkey \
                   WHERE r.rtype = 'Patient' AND r.id = $1";
        let pool = db.pool.clone();
        async move {
            sqlx::query(sql)
                .bind(id)
                .fetch_all(&pool)
                .await
                .expect("idx_text")
                .iter()
                .map(|row| (row.get::<String, _>("narrative"), row.get::<String, _>("data")))
                .collect::<Vec<_>>()
        }
    };
    let mut body = patient("Silva", "José");
    body["id"] = json!("p1");
    body["text"] = json!({"status": "generated",
        "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jos&#233; <b>Sil</b>va</div>"});
    assert_eq!(app.put("Patient/p1", &body).await.status, 201);
    assert_eq!(
        texts("p1").await,
        [("jose silva".to_owned(), "mrn 1 | silva | jose | male".to_owned())]
    );

    body["name"] = json!([{"family": "Souza"}]);
    assert_eq!(app.put("Patient/p1", &body).await.status, 200);
    assert_eq!(
        texts("p1").await,
        [("jose silva".to_owned(), "mrn 1 | souza | male".to_owned())]
    );

    assert_eq!(app.delete("Patient/p1").await.status, 204);
    assert!(texts("p1").await.is_empty());
    if backend == Backend::Sqlite {
        sqlx::query("INSERT INTO idx_text_fts (idx_text_fts) VALUES ('integrity-check')")
            .execute(&db.pool)
            .await
            .expect("the FTS5 index matches idx_text");
    }
}

on_both_backends!(
    full_text_row_follows_the_current_version,
    create_indexes_strings_tokens_dates_and_references,
    create_indexes_quantities_and_composites_per_component,
    create_indexes_numbers_and_uris,
    open_period_ends_are_stored_as_the_integer_limits,
    update_replaces_the_previous_versions_rows,
    delete_removes_every_row_and_recreate_indexes_again,
    transaction_indexes_every_entry_with_references_resolved,
    failed_transaction_leaves_the_index_as_it_was,
    synthea_patient_bundle_is_indexed,
);
