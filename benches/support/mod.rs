//! What the benchmarks share (`mod support;` in each): the Synthea data, a
//! server started in process on a PostgreSQL database of its own, and
//! latency arithmetic. Errors are messages: a benchmark prints them and
//! exits non-zero.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipe::config::{Config, Overrides};
use ipe::startup::Application;
use serde_json::Value;
use sqlx::Connection;

pub type Result<T, E = String> = std::result::Result<T, E>;

pub const FHIR_JSON: &str = "application/fhir+json";

/// The PostgreSQL URL whose role may create the benchmark's databases
/// (`IPE_BENCH_DATABASE_URL`, else `IPE_TEST_POSTGRES_URL`). `command` is
/// what starts a private cluster for this benchmark.
pub fn admin_url(command: &str) -> Result<String> {
    std::env::var("IPE_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("IPE_TEST_POSTGRES_URL"))
        .map_err(|_| {
            format!(
                "set IPE_BENCH_DATABASE_URL to a PostgreSQL URL whose role may create databases\n\
                 (or run {command}, which starts a private PostgreSQL)"
            )
        })
}

/// The server compiles its validator's schemas on a background thread at
/// start; time that once here, so each server can be given the time to
/// finish before anything is measured.
pub fn validator_warm_up() -> Duration {
    let t = Instant::now();
    ipe::validation::StructuralValidator::new()
        .expect("validator")
        .warm_up();
    t.elapsed()
}

// --- the outside data ---------------------------------------------------------

/// `$IPE_TEST_DATA`, default `../shared/fhir`.
pub fn data_dir() -> PathBuf {
    std::env::var("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"))
}

/// The package files of what `ipe serve --package us-core --package
/// br-core --package rnds` loads (THO is US Core's dependency), in
/// `$IPE_TEST_DATA/packages`, and the specs that load them.
pub const IG_PACKAGE_FILES: &[&str] = &[
    "hl7.terminology.r4-7.0.1.tgz",
    "hl7.fhir.us.core-6.1.0.tgz",
    "br.gov.saude.br-core.fhir-1.1.0-sushi.tgz",
    "rnds-0.1.0.tgz",
];
pub const IG_PACKAGE_SPECS: &[&str] = &[
    "hl7.fhir.us.core@6.1.0",
    "br.gov.saude.br-core.fhir@1.1.x",
    "rnds@0.1.0",
];

/// Installs [`IG_PACKAGE_FILES`] into `loader`'s package cache.
pub fn install_ig_packages(runtime: &tokio::runtime::Runtime, loader: &ipe::packages::Loader) -> Result<()> {
    for file in IG_PACKAGE_FILES {
        let path = data_dir().join("packages").join(file);
        if !path.is_file() {
            return Err(format!("{} not found; set IPE_TEST_DATA", path.display()));
        }
        runtime.block_on(ipe::packages::cli::install(
            loader,
            &[ipe::packages::PackageSpec::Path(path)],
        ))?;
    }
    Ok(())
}

/// [`IG_PACKAGE_SPECS`], parsed.
pub fn ig_package_specs() -> Vec<ipe::packages::PackageSpec> {
    IG_PACKAGE_SPECS
        .iter()
        .map(|s| ipe::packages::PackageSpec::parse(s))
        .collect()
}

// --- the Synthea data --------------------------------------------------------

pub struct SyntheaBundle {
    pub name: String,
    pub body: Vec<u8>,
    /// Entries of the transaction (resources it writes).
    pub resources: usize,
}

/// The Synthea transaction Bundles (`$IPE_TEST_DATA/synthea/…`), by name.
pub fn read_synthea() -> Result<Vec<SyntheaBundle>> {
    let path = data_dir().join("synthea/synthea-r4-dev-78.tar.gz");
    let file =
        std::fs::File::open(&path).map_err(|e| format!("cannot open {} ({e}); set IPE_TEST_DATA", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    for entry in archive.entries().map_err(fail)? {
        let mut entry = entry.map_err(fail)?;
        let name = entry.path().map_err(fail)?.to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let mut body = Vec::new();
        entry.read_to_end(&mut body).map_err(fail)?;
        let bundle: Value = serde_json::from_slice(&body).map_err(|e| format!("{name}: {e}"))?;
        let resources = bundle["entry"].as_array().map_or(0, Vec::len);
        out.push(SyntheaBundle { name, body, resources });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

// --- the server and its database ---------------------------------------------

#[derive(Clone)]
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts a server on `database_url` and waits out its background
    /// start-up work (`warm_up`, with a margin).
    pub async fn start(database_url: &str, warm_up: Duration) -> Result<Server> {
        let overrides = Overrides {
            host: Some("127.0.0.1".into()),
            port: Some(0),
            database_url: Some(database_url.to_string()),
            ..Default::default()
        };
        let config = Config::load(&overrides).map_err(|e| format!("config: {e}"))?;
        let app = Application::build(&config)
            .await
            .map_err(|e| format!("start the server: {e}"))?;
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        tokio::time::sleep(warm_up.mul_f64(1.5)).await;
        Ok(Server {
            base,
            client: reqwest::Client::new(),
        })
    }

    /// Posts a transaction Bundle, asking for a minimal answer.
    pub async fn post_bundle(&self, body: &[u8]) -> Result<()> {
        let res = self
            .client
            .post(format!("{}/", self.base))
            .header("Content-Type", FHIR_JSON)
            .header("Prefer", "return=minimal")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        expect_200(res).await.map(drop)
    }
}

/// What [`post_bundles`] did.
pub struct Posted {
    /// Per Bundle posted, sorted.
    pub latencies: Vec<Duration>,
    /// Resources written (entries of the Bundles posted).
    pub resources: usize,
    pub elapsed: Duration,
    /// Every Bundle was posted before `deadline`.
    pub complete: bool,
}

/// POSTs the Bundles in order, `clients` at a time from a shared queue,
/// until all are posted or `deadline` has passed; the first failed POST is
/// the error.
pub async fn post_bundles(
    server: &Server,
    bundles: &[SyntheaBundle],
    clients: usize,
    deadline: Duration,
) -> Result<Posted> {
    let bundles: Arc<Vec<(String, Vec<u8>, usize)>> = Arc::new(
        bundles
            .iter()
            .map(|b| (b.name.clone(), b.body.clone(), b.resources))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (server, bundles, next) = (server.clone(), bundles.clone(), next.clone());
            tokio::spawn(async move {
                let (mut latencies, mut resources) = (Vec::new(), 0);
                while let Some((name, body, entries)) = bundles.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if started.elapsed() > deadline {
                        break;
                    }
                    let t = Instant::now();
                    server.post_bundle(body).await.map_err(|e| format!("{name}: {e}"))?;
                    latencies.push(t.elapsed());
                    resources += entries;
                }
                Ok::<_, String>((latencies, resources))
            })
        })
        .collect();
    let (mut latencies, mut resources) = (Vec::new(), 0);
    for task in tasks {
        let (l, r) = task.await.map_err(|e| format!("client task: {e}"))??;
        latencies.extend(l);
        resources += r;
    }
    latencies.sort();
    Ok(Posted {
        complete: latencies.len() == bundles.len(),
        latencies,
        resources,
        elapsed: started.elapsed(),
    })
}

/// The body of a 200 answer; any other status is an error with the start
/// of the body.
pub async fn expect_200(res: reqwest::Response) -> Result<Vec<u8>> {
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            truncate(&String::from_utf8_lossy(&body))
        ));
    }
    Ok(body.to_vec())
}

/// The first 500 characters of `text`.
pub fn truncate(text: &str) -> &str {
    match text.char_indices().nth(500) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// A database of the benchmark's own on the admin URL's server.
pub struct Database {
    pub name: String,
    pub url: String,
}

impl Database {
    pub async fn create(admin: &str) -> Result<Database> {
        let name = format!("ipe_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .map_err(|e| format!("connect to PostgreSQL: {e}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("create database: {e}"))?;
        let (server, _) = admin.rsplit_once('/').ok_or("the database URL names no database")?;
        let url = format!("{server}/{name}");
        Ok(Database { name, url })
    }

    /// Drops the database, closing the (still running) server's connections.
    pub async fn drop(self, admin: &str) {
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        let dropped = match sqlx::PgConnection::connect(admin).await {
            Ok(mut conn) => sqlx::query(&sql).execute(&mut conn).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = dropped {
            eprintln!("could not drop {}: {e}", self.name);
        }
    }
}

/// `SHOW name` on the admin URL's server.
pub async fn pg_setting(admin: &str, name: &str) -> Result<String> {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .map_err(|e| format!("connect to PostgreSQL: {e}"))?;
    sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("SHOW {name}: {e}"))
}

// --- latencies ---------------------------------------------------------------

/// Nearest-rank percentile of sorted latencies.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
