//! REST benchmark: the real server, in process, on PostgreSQL, driven over
//! HTTP. A program that prints numbers, not a timed test.
//!
//! ```text
//! IPE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench rest
//! ```
//!
//! `IPE_BENCH_DATABASE_URL` (or, failing that, `IPE_TEST_POSTGRES_URL`) is a
//! connection to a PostgreSQL server whose role may create databases: every
//! run gets a database of its own, created here and dropped afterwards.
//! The Synthea Bundles are read from `IPE_TEST_DATA` (default
//! `../shared/fhir`). `benches/postgres.sh` starts a private, durable
//! PostgreSQL and runs this; docs/PERFORMANCE.md has the numbers.
//!
//! What is measured (each request loop is bounded by a count and a time):
//!
//! - Synthea load: the 78 transaction Bundles (24,230 resources) POSTed to
//!   the base by 1 client, then by 4 clients taking Bundles from a shared
//!   queue; a fresh database each time. The smallest Bundle is posted once
//!   first, untimed, to warm the server up.
//! - create: `POST /Patient` of a small Patient, 1 and 8 clients.
//! - read: `GET /Patient/[id]` of the Patients just created, 1 and 8 clients.
//!
//! `IPE_BENCH_ONLY=synthea|create|read` (comma-separated) runs only those
//! workloads, e.g. under a profiler.
//!
//! Clients run in this process, so they share the CPU with the server, as a
//! load generator on the same machine would.

#[allow(dead_code)] // each bench uses part of it
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{
    admin_url, ms, percentile, pg_setting, post_bundles, read_synthea, validator_warm_up, Database, Server,
    SyntheaBundle, FHIR_JSON,
};

/// Bounds of the create and read loops: per client count, at most this many
/// requests in total and at most this long.
const CREATES: usize = 10_000;
const READS: usize = 20_000;
const LOOP_TIME: Duration = Duration::from_secs(20);
/// A Synthea load that takes longer than this is stopped (and reported as such).
const LOAD_TIME: Duration = Duration::from_secs(600);

fn main() {
    // Log as the server does in production (one line per request, at info),
    // into a sink: the formatting is measured, the terminal is not.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let admin = admin_url("benches/postgres.sh").unwrap_or_else(|e| exit(&e));
    let bundles = read_synthea().unwrap_or_else(|e| exit(&e));
    let resources: usize = bundles.iter().map(|b| b.resources).sum();
    let setting = |name| pg_setting(&admin, name);
    let pg_version = setting("server_version").await.expect("PostgreSQL setting");
    let fsync = setting("fsync").await.expect("PostgreSQL setting");
    let sync_commit = setting("synchronous_commit").await.expect("PostgreSQL setting");
    println!(
        "Ipê REST benchmark: {} CPUs, PostgreSQL {pg_version} (fsync={fsync}, synchronous_commit={sync_commit}), {} build",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "Synthea: {} transaction Bundles, {resources} resources\n",
        bundles.len()
    );

    // The server compiles the structural validator's schemas on a
    // background thread at start; time that once, and let each server
    // finish it before measuring.
    let warm_up = validator_warm_up();
    println!(
        "validator warm-up at server start: {:.2} s (waited out before each run)\n",
        warm_up.as_secs_f64()
    );

    let only = std::env::var("IPE_BENCH_ONLY").unwrap_or_default();
    let wanted = |w: &str| only.is_empty() || only.split(',').any(|o| o.trim() == w);
    let mut rows = Vec::new();
    if wanted("synthea") {
        for clients in [1, 4] {
            let db = Database::create(&admin).await.expect("bench database");
            let server = Server::start(&db.url, warm_up).await.expect("server");
            rows.push(synthea_load(&server, &bundles, clients).await);
            db.drop(&admin).await;
        }
    }
    if wanted("create") || wanted("read") {
        let db = Database::create(&admin).await.expect("bench database");
        let server = Server::start(&db.url, warm_up).await.expect("server");
        let mut ids = Vec::new();
        for clients in [1, 8] {
            let (row, created) = creates(&server, clients).await;
            rows.push(row);
            ids.extend(created);
        }
        let ids = Arc::new(ids);
        if wanted("read") {
            for clients in [1, 8] {
                rows.push(reads(&server, &ids, clients).await);
            }
        }
        db.drop(&admin).await;
    }

    print_table(&rows);
    if wanted("synthea") {
        in_process_costs(&bundles);
    }
}

// --- workloads ------------------------------------------------------------

struct Row {
    workload: String,
    clients: usize,
    requests: usize,
    elapsed: Duration,
    /// Resources written per second, for the Synthea load.
    resources_per_s: Option<f64>,
    /// Per-request latencies, sorted.
    latencies: Vec<Duration>,
    note: String,
}

/// Stops the bench with a message: what it needs is missing.
fn exit(message: &str) -> ! {
    eprintln!("rest bench: {message}");
    std::process::exit(2);
}

/// What the server does to a Synthea load besides HTTP and the database,
/// measured here on one thread: parsing the Bundles, validating them,
/// serialising each entry's resource (as the write path stores it) and
/// extracting its search index rows.
fn in_process_costs(bundles: &[SyntheaBundle]) {
    let validator = ipe::validation::StructuralValidator::new().expect("validator");
    validator.warm_up();
    let (mut parse, mut validate, mut serialise) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut extract, mut rows, mut skipped) = (Duration::ZERO, 0, 0);
    let mut resources = 0;
    for b in bundles {
        let t = Instant::now();
        let bundle: Value = serde_json::from_slice(&b.body).expect("Bundle JSON");
        parse += t.elapsed();
        let t = Instant::now();
        let issues = validator.validate(&bundle);
        validate += t.elapsed();
        assert!(issues.is_empty(), "{}: {} structural issues", b.name, issues.len());
        let t = Instant::now();
        for e in bundle["entry"].as_array().into_iter().flatten() {
            let bytes = serde_json::to_vec(&e["resource"]).expect("serialise");
            std::hint::black_box(bytes);
            resources += 1;
        }
        serialise += t.elapsed();
        let t = Instant::now();
        for e in bundle["entry"].as_array().into_iter().flatten() {
            let extraction = ipe::index::extract(ipe::index::Registry::r4(), &e["resource"]);
            rows += extraction.entries.len();
            skipped += extraction.skipped.len();
            std::hint::black_box(extraction);
        }
        extract += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / resources as f64;
    println!("\nServer CPU per Synthea resource outside HTTP and the database (one thread, in process):");
    println!(
        "  parse the Bundle JSON      {:>7.1} µs  ({:.2} s for all {resources})",
        per(parse),
        parse.as_secs_f64()
    );
    println!(
        "  structural validation      {:>7.1} µs  ({:.2} s)",
        per(validate),
        validate.as_secs_f64()
    );
    println!(
        "  serialise each resource    {:>7.1} µs  ({:.2} s)",
        per(serialise),
        serialise.as_secs_f64()
    );
    println!(
        "  extract index rows         {:>7.1} µs  ({:.2} s; {:.1} rows per resource, {skipped} expressions failed)",
        per(extract),
        extract.as_secs_f64(),
        rows as f64 / resources as f64
    );
}

async fn synthea_load(server: &Server, bundles: &[SyntheaBundle], clients: usize) -> Row {
    // Warm-up, untimed: the smallest Bundle (102 Practitioners).
    let warm = bundles
        .iter()
        .filter(|b| b.resources > 0)
        .min_by_key(|b| b.body.len())
        .expect("a Bundle");
    server
        .post_bundle(&warm.body)
        .await
        .unwrap_or_else(|e| panic!("warm-up {}: {e}", warm.name));

    let posted = post_bundles(server, bundles, clients, LOAD_TIME)
        .await
        .unwrap_or_else(|e| panic!("Synthea load: {e}"));
    let note = if posted.complete {
        String::new()
    } else {
        "stopped at the time limit".into()
    };
    Row {
        workload: "Synthea load (transaction Bundles)".into(),
        clients,
        requests: posted.latencies.len(),
        elapsed: posted.elapsed,
        resources_per_s: Some(posted.resources as f64 / posted.elapsed.as_secs_f64()),
        latencies: posted.latencies,
        note,
    }
}

fn small_patient(n: usize) -> Vec<u8> {
    serde_json::json!({
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.13.237", "value": format!("bench-{n}")}],
        "active": true,
        "name": [{"family": "Silva", "given": ["Maria", "José"]}],
        "gender": "female",
        "birthDate": "1984-03-17",
        "address": [{"city": "Recife", "state": "PE", "country": "BR"}]
    })
    .to_string()
    .into_bytes()
}

async fn creates(server: &Server, clients: usize) -> (Row, Vec<String>) {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (server, counter) = (server.clone(), counter.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut ids = Vec::new();
                loop {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    if n >= CREATES || started.elapsed() > LOOP_TIME {
                        break;
                    }
                    let t = Instant::now();
                    let id = server.create_patient(small_patient(n)).await;
                    latencies.push(t.elapsed());
                    ids.push(id);
                }
                (latencies, ids)
            })
        })
        .collect();
    let (latencies, ids) = join(tasks).await;
    let elapsed = started.elapsed();
    let row = Row {
        workload: "create (POST /Patient, small)".into(),
        clients,
        requests: latencies.len(),
        elapsed,
        resources_per_s: None,
        latencies,
        note: String::new(),
    };
    (row, ids)
}

async fn reads(server: &Server, ids: &Arc<Vec<String>>, clients: usize) -> Row {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (server, counter, ids) = (server.clone(), counter.clone(), ids.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    if n >= READS || started.elapsed() > LOOP_TIME {
                        break;
                    }
                    // A spread of ids, not one hot row.
                    let id = &ids[(n * 7919) % ids.len()];
                    let t = Instant::now();
                    server.read_patient(id).await;
                    latencies.push(t.elapsed());
                }
                (latencies, Vec::new())
            })
        })
        .collect();
    let (latencies, _) = join(tasks).await;
    Row {
        workload: "read (GET /Patient/[id])".into(),
        clients,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        resources_per_s: None,
        latencies,
        note: String::new(),
    }
}

type ClientResult = (Vec<Duration>, Vec<String>);

async fn join(tasks: Vec<tokio::task::JoinHandle<ClientResult>>) -> ClientResult {
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    for t in tasks {
        let (l, i) = t.await.expect("client task");
        latencies.extend(l);
        ids.extend(i);
    }
    latencies.sort();
    (latencies, ids)
}

// --- the server and its database --------------------------------------------

impl Server {
    async fn create_patient(&self, body: Vec<u8>) -> String {
        let res = self
            .client
            .post(format!("{}/Patient", self.base))
            .header("Content-Type", FHIR_JSON)
            .header("Prefer", "return=minimal")
            .body(body)
            .send()
            .await
            .expect("create request");
        assert_eq!(res.status().as_u16(), 201, "create");
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_string();
        let _ = res.bytes().await;
        // [base]/Patient/<id>/_history/1
        location.rsplit('/').nth(2).expect("id in Location").to_string()
    }

    async fn read_patient(&self, id: &str) {
        let res = self
            .client
            .get(format!("{}/Patient/{id}", self.base))
            .send()
            .await
            .expect("read request");
        assert_eq!(res.status().as_u16(), 200, "read Patient/{id}");
        let body = res.bytes().await.expect("read body");
        assert!(!body.is_empty());
    }
}

// --- output ----------------------------------------------------------------

fn print_table(rows: &[Row]) {
    println!(
        "{:<36} {:>7} {:>8} {:>9} {:>10} {:>12} {:>9} {:>9}",
        "workload", "clients", "requests", "time s", "req/s", "resources/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(107));
    for r in rows {
        let secs = r.elapsed.as_secs_f64();
        let resources = r.resources_per_s.map_or_else(|| "-".to_string(), |v| format!("{v:.0}"));
        println!(
            "{:<36} {:>7} {:>8} {:>9.2} {:>10.1} {:>12} {:>9.3} {:>9.3}{}",
            r.workload,
            r.clients,
            r.requests,
            secs,
            r.requests as f64 / secs,
            resources,
            ms(percentile(&r.latencies, 0.50)),
            ms(percentile(&r.latencies, 0.99)),
            if r.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", r.note)
            }
        );
    }
}
