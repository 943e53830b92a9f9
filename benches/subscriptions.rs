//! Subscription delivery benchmark (issue 7): the real server, in process,
//! on PostgreSQL, with default settings, sending rest-hook notifications to
//! a webhook receiver in this process. A program that prints numbers, not a
//! timed test.
//!
//! ```text
//! benches/postgres.sh --bench subscriptions   # a private, durable PostgreSQL
//! IPE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench subscriptions
//! ```
//!
//! The steps:
//!
//! 1. **Latency.** A topic on Encounter create/update (filterable by
//!    patient) and 100 active subscriptions, each filtered to its own
//!    patient (`id-only`). Encounters are written at 100 per second for
//!    20 s, round robin over the 100 patients, so each write is one
//!    notification. The receiver takes, for every notification, the time
//!    from the event's commit (the `notification-event` `timestamp`, which is
//!    the version's `meta.lastUpdated`) to its arrival: p50, p99, max.
//! 2. **Throughput.** Those subscriptions are deleted and 100 without a
//!    filter created; then a burst of Encounter writes (8 clients), each
//!    matching all 100: notifications per second delivered, from the first
//!    write to the last arrival.
//!
//! Settings: `IPE_BENCH_SECONDS` (default 20) for step 1,
//! `IPE_BENCH_BURST` (default 100 writes) for step 2. The receiver answers
//! at once; it, the writers, the server and PostgreSQL share the machine.

// This bench uses the server and latency parts, not the Synthea loading.
#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use support::{admin_url, ms, percentile, truncate, validator_warm_up, Database, Result, Server, FHIR_JSON};

const SUBSCRIPTIONS: usize = 100;
const WRITES_PER_SECOND: u64 = 100;
const TOPIC_URL: &str = "http://ipe.bench/topics/encounter";
const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("subscriptions bench: {e}");
        std::process::exit(1);
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run() -> Result<()> {
    let admin = admin_url("benches/postgres.sh --bench subscriptions")?;
    let db = Database::create(&admin).await?;
    let outcome = bench(&db.url).await;
    db.drop(&admin).await;
    outcome
}

async fn bench(database_url: &str) -> Result<()> {
    let receiver = Receiver::start()?;
    let server = Server::start(database_url, validator_warm_up()).await?;
    create(&server, "Basic", &topic()).await?;

    // 1. Latency at 100 writes/s, one notification per write.
    let mut ids = Vec::new();
    for n in 0..SUBSCRIPTIONS {
        let filter = format!("Encounter?patient=Patient/p{n}");
        ids.push(create(&server, "Subscription", &subscription(&receiver.url, Some(&filter))).await?);
    }
    receiver.wait_handshakes(SUBSCRIPTIONS).await?;
    let seconds = setting("IPE_BENCH_SECONDS", 20);
    let writes = (seconds * WRITES_PER_SECOND) as usize;
    receiver.reset();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / WRITES_PER_SECOND));
    let mut sent = Vec::with_capacity(writes);
    for i in 0..writes {
        ticker.tick().await;
        let server = server.clone();
        let body = encounter(&format!("p{}", i % SUBSCRIPTIONS));
        sent.push(tokio::spawn(async move { create(&server, "Encounter", &body).await }));
    }
    for write in sent {
        write.await.map_err(|e| e.to_string())??;
    }
    let write_rate = writes as f64 / started.elapsed().as_secs_f64();
    let latencies = receiver.wait_events(writes).await?;
    println!(
        "Subscriptions: {SUBSCRIPTIONS} active (each filtered to one patient), {writes} writes at {write_rate:.0}/s"
    );
    println!(
        "  commit → webhook receipt: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} notifications)",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        latencies.len()
    );

    // 2. Throughput: every write notifies all 100 subscriptions.
    for id in &ids {
        let res = server
            .client
            .delete(format!("{}/Subscription/{id}", server.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        success(res).await?;
    }
    receiver.reset();
    for _ in 0..SUBSCRIPTIONS {
        create(&server, "Subscription", &subscription(&receiver.url, None)).await?;
    }
    receiver.wait_handshakes(SUBSCRIPTIONS).await?;
    receiver.reset();
    let burst = setting("IPE_BENCH_BURST", 100) as usize;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let writers = (0..8).map(|_| {
        let (server, next) = (server.clone(), next.clone());
        tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < burst {
                create(&server, "Encounter", &encounter("burst")).await?;
            }
            Ok::<_, String>(())
        })
    });
    for writer in futures_util::future::join_all(writers).await {
        writer.map_err(|e| e.to_string())??;
    }
    let written = started.elapsed();
    let expected = burst * SUBSCRIPTIONS;
    receiver.wait_events(expected).await?;
    let delivered = receiver.last_arrival_since(started);
    println!(
        "  burst: {burst} writes ({:.0}/s) → {expected} notifications delivered in {:.2} s: {:.0} notifications/s",
        burst as f64 / written.as_secs_f64(),
        delivered.as_secs_f64(),
        expected as f64 / delivered.as_secs_f64()
    );
    Ok(())
}

async fn create(server: &Server, rtype: &str, body: &Value) -> Result<String> {
    let res = server
        .client
        .post(format!("{}/{rtype}", server.base))
        .header("Content-Type", FHIR_JSON)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let created: Value = serde_json::from_slice(&success(res).await?).map_err(|e| e.to_string())?;
    created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {created}"))
}

/// The body of a 2xx answer; any other status is an error with the body.
async fn success(res: reqwest::Response) -> Result<Vec<u8>> {
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "status {status}: {}",
            truncate(&String::from_utf8_lossy(&body))
        ));
    }
    Ok(body.to_vec())
}

fn topic() -> Value {
    let x = |name: &str| format!("http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.{name}");
    json!({
        "resourceType": "Basic",
        "modifierExtension": [{"url": x("status"), "valueCode": "active"}],
        "extension": [
            {"url": x("url"), "valueUri": TOPIC_URL},
            {"url": x("resourceTrigger"), "extension": [
                {"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Encounter"},
                {"url": "supportedInteraction", "valueCode": "create"},
                {"url": "supportedInteraction", "valueCode": "update"}
            ]},
            {"url": x("canFilterBy"), "extension": [
                {"url": "resource", "valueUri": "Encounter"},
                {"url": "filterParameter", "valueString": "patient"}
            ]}
        ],
        "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]}
    })
}

fn subscription(endpoint: &str, filter: Option<&str>) -> Value {
    let mut sub = json!({
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "bench",
        "criteria": TOPIC_URL,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": format!("{BACKPORT}backport-payload-content"), "valueCode": "id-only"}]}
        }
    });
    if let Some(f) = filter {
        sub["_criteria"] =
            json!({"extension": [{"url": format!("{BACKPORT}backport-filter-criteria"), "valueString": f}]});
    }
    sub
}

fn encounter(patient: &str) -> Value {
    json!({"resourceType": "Encounter", "status": "planned", "class": {"code": "AMB"},
           "subject": {"reference": format!("Patient/{patient}")}})
}

/// What the receiver saw since the last reset.
#[derive(Default)]
struct Seen {
    handshakes: usize,
    /// Commit → arrival of each event notification.
    latencies: Vec<Duration>,
    last_arrival: Option<Instant>,
}

struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

/// The SubscriptionStatus type and the event timestamp of a notification.
fn read_notification(body: &[u8]) -> Option<(String, Option<String>)> {
    let bundle: Value = serde_json::from_slice(body).ok()?;
    let params = bundle["entry"][0]["resource"]["parameter"].as_array()?;
    let find = |name: &str| params.iter().find(|p| p["name"] == name);
    let kind = find("type")?["valueCode"].as_str()?.to_owned();
    let timestamp = find("notification-event")
        .and_then(|e| e["part"].as_array())
        .and_then(|parts| parts.iter().find(|p| p["name"] == "timestamp"))
        .and_then(|p| p["valueInstant"].as_str())
        .map(str::to_owned);
    Some((kind, timestamp))
}

async fn receive(body: web::Bytes, seen: web::Data<Arc<Mutex<Seen>>>) -> HttpResponse {
    let now = SystemTime::now();
    let arrived = Instant::now();
    let Some((kind, timestamp)) = read_notification(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    match (kind.as_str(), timestamp) {
        ("handshake", _) => seen.handshakes += 1,
        ("event-notification", Some(ts)) => {
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&ts) {
                let at = SystemTime::from(at);
                seen.latencies.push(now.duration_since(at).unwrap_or_default());
                seen.last_arrival = Some(arrived);
            }
        }
        _ => {}
    }
    HttpResponse::Ok().finish()
}

impl Receiver {
    fn start() -> Result<Receiver> {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let data = web::Data::new(seen.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(2)
            .backlog(1024)
            .bind("127.0.0.1:0")
            .map_err(|e| format!("bind the receiver: {e}"))?;
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Ok(Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            seen,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Seen) -> T) -> T {
        f(&mut self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn reset(&self) {
        self.with(|s| *s = Seen::default());
    }

    async fn wait_handshakes(&self, n: usize) -> Result<()> {
        self.wait(n, |s| s.handshakes, "handshakes").await
    }

    /// Waits for `n` event notifications; their latencies, sorted.
    async fn wait_events(&self, n: usize) -> Result<Vec<Duration>> {
        self.wait(n, |s| s.latencies.len(), "event notifications").await?;
        let mut latencies = self.with(|s| s.latencies.clone());
        latencies.sort();
        Ok(latencies)
    }

    async fn wait(&self, n: usize, count: impl Fn(&Seen) -> usize, what: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = self.with(|s| count(s));
            if got >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("only {got} of {n} {what} arrived"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn last_arrival_since(&self, start: Instant) -> Duration {
        self.with(|s| s.last_arrival.map_or(Duration::ZERO, |at| at - start))
    }
}
