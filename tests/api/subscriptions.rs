//! Subscriptions end to end: a real webhook receiver started here gets the
//! handshake and the notifications Ipê sends for creates, updates and
//! deletes, in order, through failures and a restart of the server; the
//! Bundles have the structure of the backport IG's fixtures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use ipe::config::{Config, Overrides};
use ipe::startup::Application;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, test_data, Backend, TestApp};
use crate::on_both_backends;

const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";
const TOPIC_URL: &str = "http://ipe.test/topics/encounter";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    /// What the receiver answered.
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The SubscriptionStatus `type` of a notification Bundle.
    fn kind(&self) -> String {
        param(&self.json()["entry"][0]["resource"], "type")["valueCode"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn event_number(&self) -> Option<u64> {
        let status = &self.json()["entry"][0]["resource"];
        let event = param(status, "notification-event");
        event["part"].as_array()?.iter().find(|p| p["name"] == "event-number")?["valueString"]
            .as_str()?
            .parse()
            .ok()
    }
}

pub(crate) fn param<'v>(parameters: &'v Value, name: &str) -> &'v Value {
    parameters["parameter"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or(&Value::Null)
}

/// A webhook receiver: records every request and answers 500 to the first
/// `fail_first` of them (and to all while `fail_all` is set), 200 otherwise.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
    answer: Arc<Mutex<Option<String>>>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Clone)]
struct ReceiverState {
    log: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
    /// The body of the next 200 answer (taken once), else none.
    answer: Arc<Mutex<Option<String>>>,
}

async fn record(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let failing = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let answered = if failing { 500 } else { 200 };
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    state.log.lock().expect("log").push(Received {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
    });
    if failing {
        return HttpResponse::InternalServerError().finish();
    }
    match state.answer.lock().expect("answer").take() {
        Some(body) => HttpResponse::Ok().content_type("application/fhir+json").body(body),
        None => HttpResponse::Ok().finish(),
    }
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let state = ReceiverState {
            log: Arc::new(Mutex::new(Vec::new())),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            answer: Arc::new(Mutex::new(None)),
        };
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(record)))
            .workers(1)
            .bind("127.0.0.1:0")
            .expect("bind receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            log: state.log,
            fail_first: state.fail_first,
            answer: state.answer,
            handle,
        }
    }

    /// What was acknowledged (answered 200), in order of arrival.
    fn delivered(&self) -> Vec<Received> {
        let log = self.log.lock().expect("log");
        log.iter().filter(|r| r.answered == 200).cloned().collect()
    }

    fn all(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until `n` requests were acknowledged.
    async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.delivered();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} notifications, got {}: {:#?}",
                got.len(),
                got.iter()
                    .map(|r| (r.method.clone(), r.path.clone(), r.body.clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The server in-process, with fast retries; `stop` stops it as a restart would.
struct Server {
    app: TestApp,
    handle: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(database_url: &str) -> Server {
        Server::start_with_smtp(database_url, None).await
    }

    /// With `smtp` as the SMTP server of email subscriptions.
    async fn start_with_smtp(database_url: &str, smtp: Option<String>) -> Server {
        Server::start_with(database_url, |o| o.subscription_smtp_url = smtp).await
    }

    /// With the Subscriptions backport IG package loaded, so `$validate`
    /// checks against its profiles.
    async fn start_with_backport(database_url: &str) -> Server {
        let package = test_data().join("packages/hl7.fhir.uv.subscriptions-backport-1.1.0-sushi.tgz");
        let cache = std::env::temp_dir().join(format!("ipe-backport-cache-{}", uuid::Uuid::new_v4().simple()));
        Server::start_with(database_url, |o| {
            o.packages = vec![package.display().to_string()];
            o.package_cache = Some(cache);
            o.package_registry = Some("none".into());
        })
        .await
    }

    /// With the test settings, then `tweak`.
    async fn start_with(database_url: &str, tweak: impl FnOnce(&mut Overrides)) -> Server {
        let mut o = Overrides {
            host: Some("127.0.0.1".into()),
            port: Some(0),
            database_url: Some(database_url.to_owned()),
            database_max_connections: Some(5),
            subscription_retry_base_ms: Some(50),
            subscription_retry_max_ms: Some(400),
            subscription_max_attempts: Some(30),
            subscription_error_after: Some(3),
            subscription_timeout_ms: Some(2000),
            subscription_poll_ms: Some(50),
            subscription_hmac_secret: Some("shared-secret".into()),
            ..Default::default()
        };
        tweak(&mut o);
        let config = Config::load(&o).expect("config");
        let app = Application::build(&config).await.expect("build app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let running = tokio::spawn(app.run_until_stopped());
        Server {
            app: TestApp {
                base,
                client: reqwest::Client::new(),
                database_url: database_url.to_owned(),
            },
            handle,
            running,
        }
    }

    async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.running.await;
    }
}

/// A topic on Encounter create/update/delete, filterable by patient, stored
/// as the IG does on R4 (Basic + cross-version extensions).
pub(crate) fn encounter_topic() -> Value {
    let x = |name: &str| format!("http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.{name}");
    json!({
        "resourceType": "Basic",
        "modifierExtension": [{"url": x("status"), "valueCode": "active"}],
        "extension": [
            {"url": x("url"), "valueUri": TOPIC_URL},
            {"url": x("title"), "valueString": "Encounter changes"},
            {"url": x("resourceTrigger"), "extension": [
                {"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Encounter"},
                {"url": "supportedInteraction", "valueCode": "create"},
                {"url": "supportedInteraction", "valueCode": "update"},
                {"url": "supportedInteraction", "valueCode": "delete"}
            ]},
            {"url": x("canFilterBy"), "extension": [
                {"url": "resource", "valueUri": "Encounter"},
                {"url": "filterParameter", "valueString": "patient"}
            ]}
        ],
        "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]}
    })
}

/// A receiver and an active subscription to the topic of
/// [`TOPIC_URL`] with `content` delivering to it (its handshake delivered).
async fn subscribed(app: &TestApp, content: &str) -> (Receiver, String) {
    let r = Receiver::start(0).await;
    let id = app.create(&topic_subscription(&r.url, content, None)).await;
    wait_status(app, &id, "active").await;
    (r, id)
}

pub(crate) fn topic_subscription(endpoint: &str, content: &str, filter: Option<&str>) -> Value {
    let mut sub = json!({
        "resourceType": "Subscription",
        "meta": {"profile": [format!("{BACKPORT}backport-subscription")]},
        "status": "requested",
        "reason": "test",
        "criteria": TOPIC_URL,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "header": ["Authorization: Bearer test-token"],
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": format!("{BACKPORT}backport-payload-content"), "valueCode": content}]}
        }
    });
    if let Some(f) = filter {
        sub["_criteria"] =
            json!({"extension": [{"url": format!("{BACKPORT}backport-filter-criteria"), "valueString": f}]});
    }
    sub
}

pub(crate) fn encounter(patient: &str, status: &str) -> Value {
    json!({"resourceType": "Encounter", "status": status, "class": {"code": "AMB"},
           "subject": {"reference": format!("Patient/{patient}")}})
}

pub(crate) async fn wait_status(app: &TestApp, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = app.get(&format!("Subscription/{id}")).await.json();
        if got["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Subscription/{id} never became {status}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The structure of a notification Bundle, values left out: the Bundle
/// type, each entry's keys, the status parameters' names and value types
/// (and the parts' of each notification-event).
fn shape(bundle: &Value) -> Value {
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    };
    let typed = |p: &Value| {
        let mut k = keys(p);
        k.retain(|k| k != "name");
        json!({"name": p["name"], "as": k})
    };
    let status = &entries[0]["resource"];
    let params: Vec<Value> = status["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p["part"].as_array() {
            Some(parts) => json!({"name": p["name"], "parts": parts.iter().map(typed).collect::<Vec<_>>()}),
            None => typed(p),
        })
        .collect();
    json!({
        "type": bundle["type"],
        "profile": bundle["meta"]["profile"],
        "status": {"resourceType": status["resourceType"], "profile": status["meta"]["profile"], "parameter": params},
        "entries": entries.iter().map(|e| json!({"keys": keys(e), "request": e["request"]["method"],
            "resourceType": e["resource"]["resourceType"]})).collect::<Vec<_>>(),
    })
}

fn fixture(name: &str) -> Value {
    let path = test_data().join("subscriptions").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The resource type of a full-resource fixture's focus is Encounter, as in
/// these tests, so the shapes compare whole.
fn assert_same_shape(ours: &Value, fixture_name: &str) {
    assert_eq!(
        shape(ours),
        shape(&fixture(fixture_name)),
        "{fixture_name} vs ours: {ours:#}"
    );
}

async fn topic_subscriptions_notify_create_update_delete_with_each_payload(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let mut receivers = Vec::new();
    for content in ["empty", "id-only", "full-resource"] {
        let r = Receiver::start(0).await;
        let id = app
            .create(&topic_subscription(
                &r.url,
                content,
                Some("Encounter?patient=Patient/p1"),
            ))
            .await;
        receivers.push((content, r, id));
    }
    for (_, r, id) in &receivers {
        let handshake = r.wait_delivered(1).await;
        assert_eq!(handshake[0].kind(), "handshake");
        assert_same_shape(&handshake[0].json(), "handshake_bundle_example.json");
        wait_status(app, id, "active").await;
    }
    let other = app.create(&encounter("p2", "planned")).await;
    let enc = app.create(&encounter("p1", "planned")).await;
    let mut finished = encounter("p1", "finished");
    finished["id"] = json!(enc);
    assert_eq!(app.put(&format!("Encounter/{enc}"), &finished).await.status, 200);
    assert_eq!(app.delete(&format!("Encounter/{enc}")).await.status, 204);
    for (content, r, _) in &receivers {
        let got = r.wait_delivered(4).await;
        let events: Vec<u64> = got[1..].iter().filter_map(Received::event_number).collect();
        assert_eq!(
            events,
            vec![1, 2, 3],
            "{content}: in order, and Encounter of p2 filtered out"
        );
        let create = got[1].json();
        assert_eq!(got[1].method, "POST");
        assert_eq!(got[1].header("authorization"), Some("Bearer test-token"));
        assert_eq!(got[1].header("content-type"), Some("application/fhir+json"));
        let status = &create["entry"][0]["resource"];
        assert_eq!(param(status, "status")["valueCode"], "active");
        assert_eq!(param(status, "events-since-subscription-start")["valueString"], "1");
        match *content {
            "empty" => assert_same_shape(&create, "empty_notification_bundle_example.json"),
            "id-only" => assert_same_shape(&create, "id_only_notification_bundle_example.json"),
            _ => {
                assert_same_shape(&create, "full_resource_notification_bundle_example.json");
                assert_eq!(create["entry"][1]["resource"]["id"], json!(enc));
                assert_eq!(got[2].json()["entry"][1]["resource"]["status"], "finished");
            }
        }
        if *content != "empty" {
            let focus = param(status, "notification-event")["part"][2]["valueReference"]["reference"].clone();
            assert_eq!(focus, json!(format!("{}/Encounter/{enc}", app.base)));
            let delete = got[3].json();
            assert_eq!(delete["entry"][1]["request"]["method"], "DELETE");
            assert!(delete["entry"][1].get("resource").is_none());
        }
        assert!(
            !got.iter().any(|g| g.body.contains(&other)),
            "{content}: the other patient's Encounter leaked"
        );
    }
    server.stop().await;
}

/// A topic that fires when an Encounter becomes finished: query criteria on
/// the versions before and after, and FHIRPath on `%current`.
fn encounter_finished_topic() -> Value {
    let x = |name: &str| format!("http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.{name}");
    json!({
        "resourceType": "Basic",
        "extension": [
            {"url": x("url"), "valueUri": "http://ipe.test/topics/encounter-finished"},
            {"url": x("resourceTrigger"), "extension": [
                {"url": "resource", "valueUri": "Encounter"},
                {"url": "supportedInteraction", "valueCode": "create"},
                {"url": "supportedInteraction", "valueCode": "update"},
                {"url": "queryCriteria", "extension": [
                    {"url": "previous", "valueString": "status:not=finished"},
                    {"url": "resultForCreate", "valueCode": "test-passes"},
                    {"url": "current", "valueString": "status=finished"},
                    {"url": "resultForDelete", "valueCode": "test-fails"},
                    {"url": "requireBoth", "valueBoolean": true}
                ]},
                {"url": "fhirPathCriteria", "valueString": "%current.class.code = 'AMB'"}
            ]}
        ],
        "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]}
    })
}

async fn a_topic_fires_on_the_transition_its_previous_and_current_criteria_describe(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_finished_topic()).await;
    let r = Receiver::start(0).await;
    let mut sub = topic_subscription(&r.url, "full-resource", None);
    sub["criteria"] = json!("http://ipe.test/topics/encounter-finished");
    let id = app.create(&sub).await;
    wait_status(app, &id, "active").await;
    let enc = app.create(&encounter("p1", "planned")).await;
    let next = |status: &str, class: &str| {
        let mut e = encounter("p1", status);
        e["id"] = json!(enc);
        e["class"]["code"] = json!(class);
        e
    };
    let steps = [
        next("in-progress", "AMB"),
        next("finished", "AMB"),
        next("finished", "IMP"),
    ];
    for step in &steps {
        assert_eq!(app.put(&format!("Encounter/{enc}"), step).await.status, 200);
    }
    let born_finished = app.create(&encounter("p2", "finished")).await;
    let got = r.wait_delivered(3).await;
    let focus: Vec<(Value, Value)> = got[1..]
        .iter()
        .map(|g| {
            let e = &g.json()["entry"][1]["resource"];
            (e["id"].clone(), e["meta"]["versionId"].clone())
        })
        .collect();
    assert_eq!(
        focus,
        vec![(json!(enc), json!("3")), (json!(born_finished), json!("1"))],
        "only planned → in-progress → *finished* and a create as finished fire"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.delivered().len(), 3);
    server.stop().await;
}

async fn the_notifications_match_the_backport_package_examples(backend: Backend) {
    // The package's own R4 examples have the layout the inferno fixtures have.
    for (example, ours) in [
        ("Bundle-r4-notification-handshake.json", "handshake_bundle_example.json"),
        (
            "Bundle-r4-notification-empty.json",
            "empty_notification_bundle_example.json",
        ),
        (
            "Bundle-r4-notification-id-only.json",
            "id_only_notification_bundle_example.json",
        ),
        ("Bundle-r4-notification-heartbeat.json", "heartbeat_bundle_example.json"),
    ] {
        let (mut theirs, mut fixture) = (shape(&package_example(example)), shape(&fixture(ours)));
        if example.contains("id-only") {
            // The package's id-only example has the status entry only; the
            // Inferno fixture (and Ipê) add the focus entry (fullUrl,
            // request, response). The status parameters are the same.
            theirs["entries"] = Value::Null;
            fixture["entries"] = Value::Null;
        }
        assert_eq!(theirs, fixture, "{example}");
    }
    // The deliberately non-conformant fixture (no request / response on the
    // status entry) does not have that layout.
    assert_ne!(
        shape(&fixture("empty_notification_bundle_non_conformant_example.json")),
        shape(&fixture("empty_notification_bundle_example.json"))
    );
    // And a heartbeat from Ipê has that layout too.
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let r = Receiver::start(0).await;
    let mut sub = topic_subscription(&r.url, "id-only", None);
    sub["channel"]["extension"] =
        json!([{"url": format!("{BACKPORT}backport-heartbeat-period"), "valueUnsignedInt": 1}]);
    app.create(&sub).await;
    let got = r.wait_delivered(2).await;
    assert_eq!(got[1].kind(), "heartbeat");
    assert_same_shape(&got[1].json(), "heartbeat_bundle_example.json");
    server.stop().await;
}

/// The errors Ipê's validator finds in `resource` (`$validate`; with the
/// backport package loaded, a resource's `meta.profile` brings in the IG's
/// profiles), as `expression: diagnostics`.
async fn validation_errors(app: &TestApp, resource: &Value) -> Vec<String> {
    let rtype = resource["resourceType"].as_str().unwrap_or_default();
    let r = app.post(&format!("{rtype}/$validate"), resource).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
        .map(|i| {
            format!(
                "{}: {}",
                i["expression"][0].as_str().unwrap_or(""),
                i["diagnostics"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Asserts that Ipê's validator finds no error in `resource`.
async fn assert_conformant(app: &TestApp, resource: &Value, what: &str) {
    let errors = validation_errors(app, resource).await;
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{resource:#}");
}

/// Must-show 2: the Backport IG's conformance fixtures are accepted by
/// Ipê's own profile validator, the non-conformant one is rejected for
/// what it lacks, and every kind of notification Bundle Ipê sends (and the
/// `$status` / `$events` answers) is valid against the IG's R4 profiles.
async fn notification_bundles_are_valid_against_the_backport_ig_profiles(backend: Backend) {
    let server = Server::start_with_backport(&fresh_database(backend).await).await;
    let app = &server.app;
    let mut names: Vec<String> = std::fs::read_dir(test_data().join("subscriptions"))
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    for name in &names {
        let errors = validation_errors(app, &fixture(name)).await;
        if name == "empty_notification_bundle_non_conformant_example.json" {
            // Its status entry has no request / response, which a history
            // Bundle's entries must have (R4 Bundle invariants bdl-3, bdl-4).
            let invariants: Vec<String> = errors
                .iter()
                .map(|e| e.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": "))
                .collect();
            assert_eq!(invariants, ["Bundle: bdl-3", "Bundle: bdl-4"], "{errors:#?}");
        } else {
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
    }

    app.create(&encounter_topic()).await;
    let mut receivers = Vec::new();
    for content in ["empty", "id-only", "full-resource"] {
        let r = Receiver::start(0).await;
        let id = app.create(&topic_subscription(&r.url, content, None)).await;
        receivers.push((r, id));
    }
    let beating = Receiver::start(0).await;
    let mut sub = topic_subscription(&beating.url, "id-only", None);
    sub["channel"]["extension"] =
        json!([{"url": format!("{BACKPORT}backport-heartbeat-period"), "valueUnsignedInt": 1}]);
    app.create(&sub).await;
    for (_, id) in &receivers {
        wait_status(app, id, "active").await;
    }
    let enc = app.create(&encounter("p1", "planned")).await;
    let mut finished = encounter("p1", "finished");
    finished["id"] = json!(enc);
    assert_eq!(app.put(&format!("Encounter/{enc}"), &finished).await.status, 200);
    assert_eq!(app.delete(&format!("Encounter/{enc}")).await.status, 204);
    let mut sent: Vec<Received> = Vec::new();
    for (r, _) in &receivers {
        sent.extend(r.wait_delivered(4).await);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !beating.delivered().iter().any(|r| r.kind() == "heartbeat") {
        assert!(Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sent.extend(beating.delivered());
    let mut kinds = std::collections::BTreeSet::new();
    for got in &sent {
        kinds.insert(got.kind());
        assert_conformant(app, &got.json(), &format!("a {} Bundle", got.kind())).await;
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["event-notification", "handshake", "heartbeat"]
    );
    let (_, id) = &receivers[2];
    let status = app.get(&format!("Subscription/{id}/$status")).await.json();
    assert_conformant(app, &status["entry"][0]["resource"], "the $status Parameters").await;
    let events = app.get(&format!("Subscription/{id}/$events")).await.json();
    // The status, then the create, the update and the delete.
    assert_eq!(events["entry"].as_array().map(Vec::len), Some(4), "{events:#}");
    assert_conformant(app, &events, "the $events Bundle").await;

    // The profiles are really applied: a status without its `type` is not
    // a SubscriptionStatus of the IG.
    let mut broken = sent[0].json();
    broken["entry"][0]["resource"]["parameter"]
        .as_array_mut()
        .expect("parameters")
        .retain(|p| p["name"] != "type");
    let errors = validation_errors(app, &broken).await;
    assert!(
        errors.iter().any(|e| e.contains("slice 'type' requires at least 1")),
        "{errors:#?}"
    );
    server.stop().await;
}

/// The notification Bundle a FHIR message carries: the resource its
/// MessageHeader (first entry) focuses on.
fn carried_notification(message: &Value) -> Value {
    let focus = &message["entry"][0]["resource"]["focus"][0]["reference"];
    message["entry"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| &e["fullUrl"] == focus))
        .map(|e| e["resource"].clone())
        .unwrap_or(Value::Null)
}

/// The message channel: each notification is a FHIR message (a `message`
/// Bundle, MessageHeader first, focused on the notification Bundle) POSTed
/// to the endpoint, signed and retried like a rest-hook; a response message
/// that is not `ok` is a failed attempt. Messages are valid FHIR.
async fn message_subscriptions_post_fhir_messages_carrying_the_notification(backend: Backend) {
    let server = Server::start_with_backport(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let r = Receiver::start(0).await;
    let mut sub = topic_subscription(&format!("{}/$process-message", r.url), "full-resource", None);
    sub["channel"]["type"] = json!("message");
    let id = app.create(&sub).await;
    wait_status(app, &id, "active").await;
    // The first event: one 500, then a transient-error response message,
    // then accepted.
    r.fail_first.store(1, Ordering::SeqCst);
    *r.answer.lock().expect("answer") = Some(
        json!({"resourceType": "Bundle", "type": "message", "entry": [{"resource":
            {"resourceType": "MessageHeader", "eventUri": "x", "source": {"endpoint": "http://receiver"},
             "response": {"identifier": "m", "code": "transient-error"}}}]})
        .to_string(),
    );
    let enc = app.create(&encounter("p1", "planned")).await;
    let got = r.wait_delivered(3).await;
    assert_eq!(got[0].path, "/hook/$process-message");
    assert_eq!(got[0].header("content-type"), Some("application/fhir+json"));
    assert_eq!(got[0].header("authorization"), Some("Bearer test-token"));
    let signed = ipe::subscriptions::rest_hook::signature("shared-secret", got[2].body.as_bytes());
    assert_eq!(got[2].header("x-ipe-signature"), Some(signed.as_str()));
    let kinds: Vec<Value> = r
        .all()
        .iter()
        .map(|m| param(&carried_notification(&m.json())["entry"][0]["resource"], "type")["valueCode"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "handshake",
            "event-notification",
            "event-notification",
            "event-notification"
        ],
        "the event was sent again after the 500 and after the transient-error answer"
    );
    let message = got[2].json();
    assert_eq!(message["type"], "message");
    let header = &message["entry"][0]["resource"];
    assert_eq!(header["resourceType"], "MessageHeader");
    assert_eq!(header["eventUri"], TOPIC_URL);
    assert_eq!(header["source"]["endpoint"], app.base.as_str());
    let notification = carried_notification(&message);
    assert_same_shape(&notification, "full_resource_notification_bundle_example.json");
    assert_eq!(notification["entry"][1]["resource"]["id"], enc.as_str());
    assert_conformant(app, &message, "a message").await;
    assert_conformant(app, &got[0].json(), "a handshake message").await;

    // An R4 criteria subscription: the event is the notification type, the
    // notification has no topic.
    let plain = Receiver::start(0).await;
    let r4 = json!({"resourceType": "Subscription", "status": "requested", "reason": "r4",
        "criteria": "Patient?family=Chalmers",
        "channel": {"type": "message", "endpoint": plain.url, "payload": "application/fhir+json"}});
    let r4_id = app.create(&r4).await;
    wait_status(app, &r4_id, "active").await;
    let patient = app
        .create(&json!({"resourceType": "Patient", "name": [{"family": "Chalmers"}]}))
        .await;
    let got = plain.wait_delivered(2).await;
    let header = &got[1].json()["entry"][0]["resource"];
    assert_eq!(header["eventCoding"]["code"], "event-notification", "{header:#}");
    let notification = carried_notification(&got[1].json());
    assert_eq!(param(&notification["entry"][0]["resource"], "topic"), &Value::Null);
    assert_eq!(notification["entry"][1]["resource"]["id"], patient.as_str());
    assert_conformant(app, &got[1].json(), "an R4 criteria message").await;

    // Advertised.
    let cs = app.get("metadata").await.json();
    let documentation = cs["rest"][0]["resource"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["type"] == "Subscription"))
        .map(|r| r["documentation"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(
        documentation.contains("Channel types delivered: rest-hook, websocket, email, message;"),
        "{documentation}"
    );
    server.stop().await;
}

/// `encounter_topic` with a notification shape: an Encounter brings its
/// patient and the Observations made in it.
fn encounter_topic_with_shape(include: &str) -> Value {
    let x = |name: &str| format!("http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.{name}");
    let mut topic = encounter_topic();
    topic["extension"].as_array_mut().expect("extensions").push(json!(
        {"url": x("notificationShape"), "extension": [
            {"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Encounter"},
            {"url": "include", "valueString": include},
            {"url": "revInclude", "valueString": "Observation:encounter"}
        ]}
    ));
    topic
}

/// Topic `notificationShape`: the focus's `_include` / `_revinclude`
/// resources come along as additional context — entries with the resource
/// for full-resource, without for id-only, none for empty — found by search.
async fn a_notification_shape_brings_the_included_resources_along(backend: Backend) {
    let server = Server::start_with_backport(&fresh_database(backend).await).await;
    let app = &server.app;
    let bad = app
        .post("Basic", &encounter_topic_with_shape("Encounter:nonsense"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("notificationShape[0]"), "{}", bad.text);
    app.create(&encounter_topic_with_shape("Encounter:patient")).await;
    let mut receivers = Vec::new();
    for content in ["empty", "id-only", "full-resource"] {
        let (r, _) = subscribed(app, content).await;
        receivers.push((content, r));
    }
    // One transaction, so the Observation exists when the notification of
    // the Encounter is built.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0f3b1c52-1c2e-4b7a-9a51-6f2f0e0a0001",
         "resource": {"resourceType": "Patient", "name": [{"family": "Chalmers"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:0f3b1c52-1c2e-4b7a-9a51-6f2f0e0a0002",
         "resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                      "subject": {"reference": "urn:uuid:0f3b1c52-1c2e-4b7a-9a51-6f2f0e0a0001"}},
         "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:0f3b1c52-1c2e-4b7a-9a51-6f2f0e0a0003",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                      "encounter": {"reference": "urn:uuid:0f3b1c52-1c2e-4b7a-9a51-6f2f0e0a0002"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "unrelated"}},
         "request": {"method": "POST", "url": "Observation"}}
    ]});
    let r = app.post("", &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created: Vec<String> = r.json()["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["response"]["location"].as_str().unwrap_or_default().to_owned())
        .map(|l| l.split("/_history").next().unwrap_or_default().to_owned())
        .collect();
    let (patient, encounter, observation) = (&created[0], &created[1], &created[2]);
    // Locations are absolute: the fullUrls of the notification.
    let url = |location: &str| {
        assert!(location.starts_with(&app.base), "{location}");
        location.to_owned()
    };
    for (content, r) in &receivers {
        let got = r.wait_delivered(2).await;
        let event = got[1].json();
        assert_conformant(
            app,
            &event,
            &format!("a {content} notification with included resources"),
        )
        .await;
        let entries = event["entry"].as_array().cloned().unwrap_or_default();
        let context: Vec<Value> = param(&entries[0]["resource"], "notification-event")["part"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == "additional-context")
            .map(|p| p["valueReference"]["reference"].clone())
            .collect();
        if *content == "empty" {
            assert_eq!(entries.len(), 1, "{event:#}");
            assert!(context.is_empty(), "{event:#}");
            continue;
        }
        let urls: Vec<&str> = entries[1..].iter().filter_map(|e| e["fullUrl"].as_str()).collect();
        assert_eq!(urls, [url(encounter), url(patient), url(observation)], "{event:#}");
        assert_eq!(context, [json!(url(patient)), json!(url(observation))]);
        for included in &entries[2..] {
            assert_eq!(included["request"]["method"], "GET");
            assert_eq!(included["response"]["status"], "200");
            assert_eq!(
                included.get("resource").is_some(),
                *content == "full-resource",
                "{included:#}"
            );
        }
        if *content == "full-resource" {
            assert_eq!(entries[2]["resource"]["name"][0]["family"], "Chalmers");
            assert_eq!(entries[3]["resource"]["code"]["text"], "pulse");
        }
    }
    server.stop().await;
}

/// The `package/example/` file of the backport package named `name`.
fn package_example(name: &str) -> Value {
    let package = test_data().join("packages/hl7.fhir.uv.subscriptions-backport-1.1.0-sushi.tgz");
    let file = std::fs::File::open(&package).expect("backport package");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").ends_with(format!("example/{name}")) {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).expect("read");
            return serde_json::from_str(&text).expect("example JSON");
        }
    }
    panic!("{name} is not in the backport package");
}

/// A subscription in error says so: `$status` has the shape of the IG's
/// error notification (status `error`, an `error` CodeableConcept coded
/// from `subscription-error`), and so does every notification sent while
/// it is in error, until one is acknowledged and it is active again.
async fn a_subscription_in_error_says_what_went_wrong_in_status_and_notifications(backend: Backend) {
    let server = Server::start_with_backport(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let (r, id) = subscribed(app, "id-only").await;
    // Three failures make it `error`; the attempts after those go on.
    r.fail_first.store(6, Ordering::SeqCst);
    app.create(&encounter("p1", "planned")).await;
    wait_status(app, &id, "error").await;

    let status = app.get(&format!("Subscription/{id}/$status")).await.json();
    let mut ours = json!({"type": "history", "meta": {"profile": [
        "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4"]},
        "entry": [{"fullUrl": "urn:uuid:x", "resource": status["entry"][0]["resource"].clone(),
                   "request": {"method": "GET", "url": "x"}, "response": {"status": "200"}}]});
    // Ipê's own counters aside, the layout of the IG's example.
    ours["entry"][0]["resource"]["parameter"]
        .as_array_mut()
        .expect("parameters")
        .retain(|p| p["name"] != "ipe-delivery-counters");
    assert_eq!(
        shape(&ours),
        shape(&package_example("Bundle-r4-notification-error.json"))
    );
    let parameters = &status["entry"][0]["resource"];
    assert_conformant(app, parameters, "the $status of a subscription in error").await;
    let error = &param(parameters, "error")["valueCodeableConcept"];
    assert_eq!(
        error["coding"][0],
        json!({"system": "http://terminology.hl7.org/CodeSystem/subscription-error",
               "code": "error-response", "display": "Error response"})
    );
    assert!(error["text"].as_str().unwrap_or_default().contains("500"), "{error}");

    // The event, acknowledged at the 7th attempt, went out saying `error`.
    let got = r.wait_delivered(2).await;
    let event = got[1].json();
    assert_eq!(got[1].kind(), "event-notification");
    let sent_status = &event["entry"][0]["resource"];
    assert_eq!(param(sent_status, "status")["valueCode"], "error", "{event:#}");
    assert_eq!(
        param(sent_status, "error")["valueCodeableConcept"]["coding"][0]["code"],
        "error-response"
    );
    assert_conformant(app, &event, "a notification sent in error").await;
    let in_error: Vec<Value> = r
        .all()
        .iter()
        .skip(1)
        .map(|g| param(&g.json()["entry"][0]["resource"], "status")["valueCode"].clone())
        .collect();
    assert_eq!(
        in_error.first(),
        Some(&json!("active")),
        "the first attempt: {in_error:?}"
    );

    // Acknowledged: active again, and nothing more about errors.
    wait_status(app, &id, "active").await;
    app.create(&encounter("p1", "planned")).await;
    let got = r.wait_delivered(3).await;
    let sent_status = &got[2].json()["entry"][0]["resource"];
    assert_eq!(param(sent_status, "status")["valueCode"], "active");
    assert_eq!(param(sent_status, "error"), &Value::Null);
    server.stop().await;
}

/// A topic and a Subscription naming it in one transaction: the
/// Subscription is resolved against the Bundle's topic (listed after it
/// here, so written after it), is served, and notifies; a Subscription
/// naming a topic nobody has still fails the whole transaction.
async fn a_subscription_can_name_a_topic_created_in_the_same_transaction(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    let r = Receiver::start(0).await;
    let transaction = |topic_url: &str| {
        let mut topic = encounter_topic();
        topic["extension"][0]["valueUri"] = json!("http://ipe.test/topics/in-the-same-bundle");
        let mut sub = topic_subscription(&r.url, "id-only", Some("Encounter?patient=Patient/p1"));
        sub["criteria"] = json!(topic_url);
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": sub, "request": {"method": "POST", "url": "Subscription"}},
            {"resource": topic, "request": {"method": "POST", "url": "Basic"}}
        ]})
    };
    let refused = app.post("", &transaction("http://ipe.test/topics/nowhere")).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("is not known"), "{}", refused.text);
    assert_eq!(app.get("Basic").await.json()["total"], 0, "all or nothing");

    let r2 = app
        .post("", &transaction("http://ipe.test/topics/in-the-same-bundle"))
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    let location = r2.json()["entry"][0]["response"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = location
        .split("Subscription/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    wait_status(app, &id, "active").await;
    app.create(&encounter("p2", "planned")).await;
    let enc = app.create(&encounter("p1", "planned")).await;
    let got = r.wait_delivered(2).await;
    assert_eq!(got[0].kind(), "handshake");
    assert_eq!(
        got[1].json()["entry"][1]["fullUrl"],
        format!("{}/Encounter/{enc}", app.base),
        "the filter of the Bundle's topic's canFilterBy applies"
    );
    let cs = app.get("metadata").await.json();
    assert!(cs.to_string().contains("http://ipe.test/topics/in-the-same-bundle"));
    server.stop().await;
}

async fn r4_criteria_subscriptions_put_matching_resources_to_the_endpoint(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    let with_payload = Receiver::start(0).await;
    let ping_only = Receiver::start(0).await;
    let criteria = "Observation?code=http://loinc.org|8867-4&value-quantity=gt100";
    let mut sub = json!({"resourceType": "Subscription", "status": "requested", "reason": "r4",
        "criteria": criteria, "channel": {"type": "rest-hook", "endpoint": with_payload.url,
        "payload": "application/fhir+json",
        "extension": [{"url": "https://ipe.dev/fhir/StructureDefinition/subscription-hmac-secret", "valueString": "s3cret"}]}});
    let id = app.create(&sub).await;
    sub["channel"] = json!({"type": "rest-hook", "endpoint": ping_only.url});
    app.create(&sub).await;
    wait_status(app, &id, "active").await;
    let obs = |value: i64| {
        json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "/min"}})
    };
    app.create(&obs(80)).await;
    let high = app.create(&obs(130)).await;
    let got = with_payload.wait_delivered(2).await;
    assert_eq!(
        (got[0].method.as_str(), got[0].body.as_str()),
        ("POST", ""),
        "the handshake is an empty POST"
    );
    assert_eq!(got[1].method, "PUT");
    assert_eq!(got[1].path, format!("/hook/Observation/{high}"));
    assert_eq!(got[1].json()["valueQuantity"]["value"], 130);
    let expected = ipe::subscriptions::rest_hook::signature("s3cret", got[1].body.as_bytes());
    assert_eq!(got[1].header("x-ipe-signature"), Some(expected.as_str()));
    let pings = ping_only.wait_delivered(2).await;
    assert_eq!((pings[1].method.as_str(), pings[1].body.as_str()), ("POST", ""));
    // Signed with the server-wide secret when the subscription has none.
    let server_wide = ipe::subscriptions::rest_hook::signature("shared-secret", b"");
    assert_eq!(pings[1].header("x-ipe-signature"), Some(server_wide.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        with_payload.delivered().len(),
        2,
        "the Observation of 80/min does not match"
    );
    server.stop().await;
}

/// `channel.payload` application/fhir+xml: the same notifications, in FHIR
/// XML — a topic subscription's Bundles and an R4 criteria subscription's
/// resources — and the XML reads back as the JSON it stands for.
async fn xml_payloads_are_sent_as_fhir_xml(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let topic_hook = Receiver::start(0).await;
    let criteria_hook = Receiver::start(0).await;
    let mut sub = topic_subscription(&topic_hook.url, "full-resource", None);
    sub["channel"]["payload"] = json!("application/fhir+xml");
    let topic_sub = app.create(&sub).await;
    let r4 = json!({"resourceType": "Subscription", "status": "requested", "reason": "r4",
        "criteria": "Encounter?status=planned", "channel": {"type": "rest-hook",
        "endpoint": criteria_hook.url, "payload": "application/fhir+xml;fhirVersion=4.0"}});
    let r4_sub = app.create(&r4).await;
    wait_status(app, &topic_sub, "active").await;
    wait_status(app, &r4_sub, "active").await;
    let enc = app.create(&encounter("p1", "planned")).await;
    let as_json = |xml: &str| {
        let json = ipe_xml::xml_to_json(xml.as_bytes()).expect("FHIR XML");
        serde_json::from_str::<Value>(&json).expect("JSON")
    };
    let got = topic_hook.wait_delivered(2).await;
    for r in &got {
        assert_eq!(r.header("content-type"), Some("application/fhir+xml"), "{r:?}");
        assert!(r.body.contains("<Bundle xmlns=\"http://hl7.org/fhir\">"), "{}", r.body);
    }
    let event = as_json(&got[1].body);
    assert_eq!(
        param(&event["entry"][0]["resource"], "type")["valueCode"],
        "event-notification"
    );
    assert_eq!(event["entry"][1]["resource"]["id"], enc.as_str(), "{event:#}");
    assert_same_shape(&event, "full_resource_notification_bundle_example.json");
    let put = &criteria_hook.wait_delivered(2).await[1];
    assert_eq!(
        (put.method.as_str(), put.header("content-type")),
        ("PUT", Some("application/fhir+xml"))
    );
    assert_eq!(as_json(&put.body)["id"], enc.as_str());
    server.stop().await;
}

async fn what_cannot_be_honoured_is_refused_with_422(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let r4 = |criteria: &str, channel: &str| {
        json!({"resourceType": "Subscription", "status": "requested", "reason": "x", "criteria": criteria,
               "channel": {"type": channel, "endpoint": "http://127.0.0.1:9/hook"}})
    };
    let cases = [
        (
            r4("Observation?subject.name=x", "rest-hook"),
            "Subscription.criteria",
            "chain",
        ),
        (
            r4("Patient?_has:Observation:patient:code=1", "rest-hook"),
            "Subscription.criteria",
            "chain or _has",
        ),
        (
            r4("Observation?nonsense=1", "rest-hook"),
            "Subscription.criteria",
            "nonsense",
        ),
        (
            {
                let mut sub = r4("Observation?code=1", "message");
                sub["channel"]["endpoint"] = json!("ftp://127.0.0.1/inbox");
                sub
            },
            "Subscription.channel.endpoint",
            "a message channel needs an http:// or https:// endpoint",
        ),
        (
            {
                let mut sub = r4("Observation?code=1", "rest-hook");
                sub["channel"]["payload"] = json!("text/csv");
                sub
            },
            "Subscription.channel.payload",
            "text/csv",
        ),
        (
            r4("Observation?code=1", "email"),
            "Subscription.channel.endpoint",
            "mailto:",
        ),
        (
            r4("http://ipe.test/topics/unknown", "rest-hook"),
            "Subscription.criteria",
            "not known",
        ),
        (
            topic_subscription("http://127.0.0.1:9/hook", "id-only", Some("Encounter?status=finished")),
            "Subscription.criteria.extension[0]",
            "canFilterBy",
        ),
    ];
    for (sub, expression, says) in cases {
        let r = app.post("Subscription", &sub).await;
        assert_eq!(r.status, 422, "{sub}: {}", r.text);
        let issue = r.issue();
        assert_eq!(issue["expression"][0], expression, "{}", r.text);
        assert!(
            issue["diagnostics"].as_str().unwrap_or_default().contains(says),
            "{}",
            r.text
        );
    }
    // A topic whose criteria cannot be matched in memory is refused too.
    let mut topic = encounter_topic();
    topic["extension"][2]["extension"]
        .as_array_mut()
        .expect("trigger")
        .push(json!({"url": "queryCriteria", "extension": [{"url": "current", "valueString": "subject.name=x"}]}));
    assert_eq!(app.post("Basic", &topic).await.status, 422);
    // What is claimed: the topic, $status, $events, $get-ws-binding-token
    // (besides `$validate`, served on every type).
    let cs = app.get("metadata").await.json();
    let subscription = cs["rest"][0]["resource"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["type"] == "Subscription"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(subscription["extension"][0]["valueCanonical"], TOPIC_URL);
    let ops: Vec<&str> = subscription["operation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(ops, vec!["validate", "status", "events", "get-ws-binding-token"]);
    assert!(subscription["documentation"]
        .as_str()
        .unwrap_or_default()
        .contains("Not supported"));
    server.stop().await;
}

/// The delivery counter `name` of a `$status` Bundle (a part of Ipê's
/// `ipe-delivery-counters` parameter).
fn counter(status: &Value, name: &str) -> Option<Value> {
    param(&status["entry"][0]["resource"], "ipe-delivery-counters")["part"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .map(|p| p["valueString"].clone())
}

async fn failed_deliveries_are_retried_in_order_until_the_receiver_recovers(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    // Handshake first (delivered), then the receiver fails 6 times.
    let (r, id) = subscribed(app, "id-only").await;
    r.fail_first.store(6, Ordering::SeqCst);
    for _ in 0..3 {
        app.create(&encounter("p1", "planned")).await;
    }
    // Three failures in a row: the subscription is in error, with the reason.
    wait_status(app, &id, "error").await;
    let status = app.get(&format!("Subscription/{id}/$status")).await.json();
    let parameters = &status["entry"][0]["resource"];
    assert_eq!(param(parameters, "type")["valueCode"], "query-status");
    assert!(param(parameters, "error")["valueCodeableConcept"]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("500"));
    let got = r.wait_delivered(4).await;
    let events: Vec<u64> = got[1..].iter().filter_map(Received::event_number).collect();
    assert_eq!(events, vec![1, 2, 3]);
    // While event 1 failed, 2 and 3 were not sent.
    let attempts: Vec<Option<u64>> = r.all()[1..].iter().map(Received::event_number).collect();
    assert_eq!(&attempts[..7], &[Some(1); 7], "{attempts:?}");
    wait_status(app, &id, "active").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        // The receiver has answered; the outcome may still be being recorded.
        let status = app.get(&format!("Subscription/{id}/$status")).await.json();
        if counter(&status, "delivered") == Some(json!("4")) || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let part = |name: &str| counter(&status, name);
    assert_eq!(part("delivered"), Some(json!("4")));
    assert_eq!(part("queued"), Some(json!("0")));
    assert_eq!(part("failed"), Some(json!("0")), "nothing was given up");
    // $events replays them from the delivery rows.
    let replay = app
        .get(&format!(
            "Subscription/{id}/$events?eventsSinceNumber=2&eventsUntilNumber=3&content=full-resource"
        ))
        .await
        .json();
    let status = &replay["entry"][0]["resource"];
    assert_eq!(param(status, "type")["valueCode"], "query-event");
    let numbers: Vec<&str> = status["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "notification-event")
        .filter_map(|p| p["part"][0]["valueString"].as_str())
        .collect();
    assert_eq!(numbers, vec!["2", "3"]);
    assert_eq!(replay["entry"][2]["resource"]["resourceType"], "Encounter");
    server.stop().await;
}

async fn pending_notifications_are_delivered_after_a_restart_without_loss(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let r = Receiver::start(0).await;
    let server = Server::start(&database_url).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let id = app.create(&topic_subscription(&r.url, "id-only", None)).await;
    wait_status(app, &id, "active").await;
    r.fail_first.store(usize::MAX, Ordering::SeqCst);
    for _ in 0..5 {
        app.create(&encounter("p1", "planned")).await;
    }
    // Some attempts fail before the stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.all().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
    r.fail_first.store(0, Ordering::SeqCst);
    let server = Server::start(&database_url).await;
    let got = r.wait_delivered(6).await;
    let events: Vec<u64> = got.iter().filter_map(Received::event_number).collect();
    assert_eq!(events, vec![1, 2, 3, 4, 5], "every event once, in order");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = r.delivered();
    assert_eq!(delivered.len(), 6, "nothing acknowledged is sent again");
    assert_eq!(delivered.iter().filter(|d| d.kind() == "handshake").count(), 1);
    server.stop().await;
    r.handle.stop(false).await;
}

/// The event numbers of a notification Bundle, in the order of its
/// `notification-event` parts, with the focus of each.
fn events_of(bundle: &Value) -> Vec<(u64, String)> {
    let status = &bundle["entry"][0]["resource"];
    let part = |event: &Value, name: &str| -> Value {
        event["part"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    status["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "notification-event")
        .map(|event| {
            let number = part(event, "event-number")["valueString"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let focus = part(event, "focus")["valueReference"]["reference"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (number, focus)
        })
        .collect()
}

async fn events_due_together_go_in_one_bundle_up_to_max_count(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let r = Receiver::start(0).await;
    let mut sub = topic_subscription(&r.url, "id-only", None);
    sub["channel"]["extension"] = json!([{"url": format!("{BACKPORT}backport-max-count"), "valuePositiveInt": 5}]);
    let id = app.create(&sub).await;
    wait_status(app, &id, "active").await;
    // The receiver is down while 7 events are written, so they are all
    // due at once when it comes back.
    r.fail_first.store(usize::MAX, Ordering::SeqCst);
    let mut encounters = Vec::new();
    for _ in 0..7 {
        encounters.push(app.create(&encounter("p1", "planned")).await);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let attempts = loop {
        let status = app.get(&format!("Subscription/{id}/$status")).await.json();
        let counted = param(&status["entry"][0]["resource"], "events-since-subscription-start")["valueString"].clone();
        if counted == "7" {
            break r.all().len();
        }
        assert!(Instant::now() < deadline, "the events were not queued: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The second failed attempt from now was claimed after all 7 were
    // queued, and so is every one after it.
    while r.all().len() < attempts + 2 {
        assert!(Instant::now() < deadline, "no retries");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    r.fail_first.store(0, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    let bundles = loop {
        let bundles: Vec<Vec<(u64, String)>> = r
            .delivered()
            .iter()
            .filter(|g| g.kind() == "event-notification")
            .map(|g| events_of(&g.json()))
            .collect();
        if bundles.iter().map(Vec::len).sum::<usize>() >= 7 {
            break bundles;
        }
        assert!(Instant::now() < deadline, "not every event arrived: {bundles:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let numbers: Vec<Vec<u64>> = bundles.iter().map(|b| b.iter().map(|e| e.0).collect()).collect();
    assert_eq!(
        numbers,
        vec![vec![1, 2, 3, 4, 5], vec![6, 7]],
        "at most 5 per Bundle, in order"
    );
    let focus: Vec<String> = bundles.iter().flatten().map(|e| e.1.clone()).collect();
    let expected: Vec<String> = encounters
        .iter()
        .map(|e| format!("{}/Encounter/{e}", app.base))
        .collect();
    assert_eq!(focus, expected, "each event names its own Encounter");
    // One focus entry per event, in the same order (id-only: no resource).
    let first = r
        .delivered()
        .into_iter()
        .find(|g| g.kind() == "event-notification")
        .map(|g| g.json())
        .unwrap_or(Value::Null);
    let entries: Vec<String> = first["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(1)
        .filter_map(|e| e["fullUrl"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(entries, expected[..5].to_vec());
    assert_eq!(
        param(&first["entry"][0]["resource"], "events-since-subscription-start")["valueString"],
        "5"
    );
    // $status counts each event delivered.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get(&format!("Subscription/{id}/$status")).await.json();
        let delivered = counter(&status, "delivered");
        if delivered == Some(json!("8")) {
            break;
        }
        assert!(Instant::now() < deadline, "delivered counter: {delivered:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
    r.handle.stop(false).await;
}

on_both_backends!(
    events_due_together_go_in_one_bundle_up_to_max_count,
    topic_subscriptions_notify_create_update_delete_with_each_payload,
    a_topic_fires_on_the_transition_its_previous_and_current_criteria_describe,
    the_notifications_match_the_backport_package_examples,
    notification_bundles_are_valid_against_the_backport_ig_profiles,
    message_subscriptions_post_fhir_messages_carrying_the_notification,
    a_notification_shape_brings_the_included_resources_along,
    a_subscription_in_error_says_what_went_wrong_in_status_and_notifications,
    a_subscription_can_name_a_topic_created_in_the_same_transaction,
    r4_criteria_subscriptions_put_matching_resources_to_the_endpoint,
    xml_payloads_are_sent_as_fhir_xml,
    what_cannot_be_honoured_is_refused_with_422,
    failed_deliveries_are_retried_in_order_until_the_receiver_recovers,
    pending_notifications_are_delivered_after_a_restart_without_loss,
    a_websocket_on_another_node_receives_the_notifications_after_binding_with_a_token,
    r4_websocket_subscriptions_bind_by_id_and_get_pings,
    email_subscriptions_send_the_notification_bundles_through_the_smtp_server,
);

/// One message the SMTP server took: its envelope and the message as
/// stored.
#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: String,
    data: String,
}

impl Mail {
    /// Reads a message the Maildir handler stored (LF line ends; the
    /// envelope in `X-MailFrom` / `X-RcptTo` headers it adds).
    fn read(text: &str) -> Mail {
        let data = text.replace("\r\n", "\n");
        let mut mail = Mail {
            from: String::new(),
            to: String::new(),
            data,
        };
        mail.from = mail.header("X-MailFrom").unwrap_or_default();
        mail.to = mail.header("X-RcptTo").unwrap_or_default();
        mail
    }

    /// The header `name` of the message.
    fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\n\n")?;
        // Long header lines are folded (RFC 5322 2.2.3).
        let head = head.replace("\n ", " ").replace("\n\t", " ");
        head.split('\n')
            .find_map(|l| l.split_once(": ").filter(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.to_owned())
    }

    /// The JSON of a base64 `application/fhir+json` body.
    fn json(&self) -> Value {
        use base64::Engine;
        let (_, body) = self.data.split_once("\n\n").unwrap_or_default();
        let joined: String = body.split('\n').collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(joined.trim())
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// A real SMTP server, aiosmtpd (RFC 5321 with its extensions; from
/// PyPI, in the venv scripts/test.sh makes, `IPE_PYTHON`), storing every
/// message it accepts in a Maildir. Stopped (and the Maildir removed) when
/// dropped.
struct SmtpServer {
    url: String,
    maildir: std::path::PathBuf,
    process: std::process::Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let python = std::env::var("IPE_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let maildir = std::env::temp_dir().join(format!("ipe-tests/maildir-{}", uuid::Uuid::new_v4()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let process = std::process::Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {python} -m aiosmtpd ({e}): run scripts/test.sh, or set IPE_PYTHON to a Python with the packages of scripts/test-requirements.txt")
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpServer {
            url: format!("smtp://127.0.0.1:{port}"),
            maildir,
            process,
        }
    }

    /// The messages delivered so far, in the order they arrived (Maildir
    /// names start with the delivery's seconds and microseconds).
    fn mails(&self) -> Vec<Mail> {
        let arrival = |name: &str| -> (u64, u64) {
            let (secs, rest) = name.split_once('.').unwrap_or_default();
            let micros = rest
                .strip_prefix('M')
                .and_then(|r| r.split('P').next())
                .unwrap_or_default();
            (secs.parse().unwrap_or(0), micros.parse().unwrap_or(0))
        };
        let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(self.maildir.join("new"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|(name, _)| arrival(name));
        files
            .iter()
            .map(|(_, path)| Mail::read(&std::fs::read_to_string(path).unwrap_or_default()))
            .collect()
    }

    async fn wait_mails(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.mails();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "expected {n} mails, got {got:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn email_subscriptions_send_the_notification_bundles_through_the_smtp_server(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = Server::start_with_smtp(&fresh_database(backend).await, Some(smtp.url.clone())).await;
    let app = &server.app;
    app.create(&encounter_topic()).await;
    let mut sub = topic_subscription("mailto:alerts@example.org", "full-resource", None);
    sub["channel"]["type"] = json!("email");
    sub["channel"].as_object_mut().map(|c| c.remove("header"));
    let id = app.create(&sub).await;
    wait_status(app, &id, "active").await;
    let enc = app.create(&encounter("p1", "planned")).await;
    let mails = smtp.wait_mails(2).await;
    assert_eq!(mails[0].to, "alerts@example.org");
    assert_eq!(mails[0].from, "ipe@localhost");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some(format!("FHIR handshake for Subscription/{id}").as_str())
    );
    assert_eq!(
        mails[0].header("Content-Type").as_deref(),
        Some("application/fhir+json")
    );
    let kind = |b: &Value| param(&b["entry"][0]["resource"], "type")["valueCode"].clone();
    assert_eq!(kind(&mails[0].json()), "handshake", "{:?}", mails[0]);
    let event = mails[1].json();
    assert_eq!(kind(&event), "event-notification", "{:?}", mails[1]);
    assert_eq!(event["entry"][1]["resource"]["id"], enc.as_str(), "{event:#}");
    assert_same_shape(&event, "full_resource_notification_bundle_example.json");

    // Not a mailto: address; and no SMTP server configured.
    sub["channel"]["endpoint"] = json!("http://example.org");
    assert_eq!(app.post("Subscription", &sub).await.status, 422);
    server.stop().await;
    let plain = Server::start(&fresh_database(backend).await).await;
    plain.app.create(&encounter_topic()).await;
    sub["channel"]["endpoint"] = json!("mailto:alerts@example.org");
    let r = plain.app.post("Subscription", &sub).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("SMTP"), "{}", r.text);
    plain.stop().await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connect");
    socket
}

async fn send_text(socket: &mut Socket, text: &str) {
    use futures_util::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(text.to_owned()))
        .await
        .expect("websocket send");
}

/// The next text frame (pings skipped), within 30 s.
async fn next_text(socket: &mut Socket) -> String {
    use futures_util::StreamExt;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .expect("a websocket frame in time")
            .expect("the websocket is open")
            .expect("a websocket frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return text;
        }
    }
}

fn websocket_subscription(content: &str) -> Value {
    let mut sub = topic_subscription("", content, None);
    sub["channel"] = json!({
        "type": "websocket",
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": format!("{BACKPORT}backport-payload-content"), "valueCode": content}]}
    });
    sub
}

/// The socket is bound on node B; the Encounters are written on node A
/// (one before the bind: it waits for the socket), so the notifications
/// reach B only through the database.
async fn a_websocket_on_another_node_receives_the_notifications_after_binding_with_a_token(backend: Backend) {
    let database = fresh_database(backend).await;
    let a = Server::start(&database).await;
    let b = Server::start(&database).await;
    a.app.create(&encounter_topic()).await;
    let id = a.app.create(&websocket_subscription("id-only")).await;
    let first = a.app.create(&encounter("p1", "planned")).await;

    let r = b.app.get(&format!("Subscription/{id}/$get-ws-binding-token")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = param(&r.json(), "token")["valueString"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty(), "{}", r.text);
    assert_eq!(param(&r.json(), "subscription")["valueString"], id.as_str());
    assert!(
        param(&r.json(), "expiration")["valueDateTime"].is_string(),
        "{}",
        r.text
    );
    let url = param(&r.json(), "websocket-url")["valueUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(url, format!("{}/ws", b.app.base.replacen("http://", "ws://", 1)));

    let mut socket = connect(&url).await;
    send_text(&mut socket, "bind-with-token not-a-token").await;
    assert!(next_text(&mut socket).await.starts_with("error "));
    send_text(&mut socket, &format!("bind-with-token {token}")).await;
    let handshake: Value = serde_json::from_str(&next_text(&mut socket).await).expect("a Bundle");
    let kind = |b: &Value| param(&b["entry"][0]["resource"], "type")["valueCode"].clone();
    assert_eq!(kind(&handshake), "handshake", "{handshake:#}");
    let event: Value = serde_json::from_str(&next_text(&mut socket).await).expect("a Bundle");
    assert_eq!(kind(&event), "event-notification", "{event:#}");
    // Sent by node B (its base URL), written on node A.
    assert_eq!(
        event["entry"][1]["fullUrl"],
        format!("{}/Encounter/{first}", b.app.base)
    );
    wait_status(&a.app, &id, "active").await;

    let second = a.app.create(&encounter("p2", "planned")).await;
    let event: Value = serde_json::from_str(&next_text(&mut socket).await).expect("a Bundle");
    assert_eq!(
        event["entry"][1]["fullUrl"],
        format!("{}/Encounter/{second}", b.app.base)
    );
    let number = param(&event["entry"][0]["resource"], "notification-event")["part"][0]["valueString"].clone();
    assert_eq!(number, "2", "{event:#}");

    // Only websocket subscriptions get tokens.
    let hook = a
        .app
        .create(&topic_subscription("http://127.0.0.1:9/hook", "empty", None))
        .await;
    assert_eq!(
        b.app
            .get(&format!("Subscription/{hook}/$get-ws-binding-token"))
            .await
            .status,
        400
    );
    a.stop().await;
    b.stop().await;
}

async fn r4_websocket_subscriptions_bind_by_id_and_get_pings(backend: Backend) {
    let server = Server::start(&fresh_database(backend).await).await;
    let app = &server.app;
    let sub = json!({"resourceType": "Subscription", "status": "requested", "reason": "x",
                     "criteria": "Patient?family=Chalmers", "channel": {"type": "websocket"}});
    let id = app.create(&sub).await;
    let cs = app.get("metadata").await.json();
    let url = cs["rest"][0]["extension"][0]["valueUri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut socket = connect(&url).await;
    send_text(&mut socket, "bind nonexistent").await;
    assert!(next_text(&mut socket).await.starts_with("error "));
    send_text(&mut socket, &format!("bind {id}")).await;
    assert_eq!(next_text(&mut socket).await, format!("bound {id}"));
    wait_status(app, &id, "active").await;
    app.create(&json!({"resourceType": "Patient", "name": [{"family": "Other"}]}))
        .await;
    app.create(&json!({"resourceType": "Patient", "name": [{"family": "Chalmers"}]}))
        .await;
    assert_eq!(next_text(&mut socket).await, format!("ping {id}"));
    server.stop().await;
}
