//! Search benchmark: the real server, in process, on PostgreSQL, loaded with
//! the 78 Synthea Bundles and searched over HTTP. A program that prints
//! numbers, not a timed test.
//!
//! ```text
//! benches/postgres.sh --bench search      # a private, durable PostgreSQL
//! IPE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench search
//! ```
//!
//! `IPE_BENCH_DATABASE_URL` (or, failing that, `IPE_TEST_POSTGRES_URL`) is a
//! connection whose role may create databases: the run gets a database of its
//! own, dropped afterwards. The Synthea Bundles are read from `IPE_TEST_DATA`
//! (default `../shared/fhir`). docs/PERFORMANCE.md has the numbers.
//!
//! The steps:
//!
//! 1. Load the 78 Synthea transaction Bundles (24,230 resources) over HTTP,
//!    timed: the load throughput with full search indexing.
//! 2. `VACUUM ANALYZE` the database, as autovacuum does soon after a bulk
//!    load in a real deployment (PostgreSQL 13 and later vacuum insert-only
//!    tables too). Without statistics PostgreSQL plans the searches on
//!    freshly loaded tables badly (a sorted search once took 10 s); without
//!    the vacuum no index-only scan is possible.
//! 3. Pick the queries' values from the Bundles themselves (the Patient with
//!    the most Observations, its family name, LOINC and SNOMED codes that
//!    occur…), so every query finds something. Server ids are looked up by
//!    the Synthea identifier each Patient carries.
//! 4. Run each query once and check it: 200, a `searchset`, the expected
//!    kind of result (exact totals where the Bundles tell them). A failed
//!    check ends the run with a non-zero exit: a timed error measures
//!    nothing.
//! 5. Time each query: 200 requests by 1 client, then 800 by 8 clients (100
//!    each), over keep-alive connections, every request with `Prefer:
//!    handling=strict` so that no parameter is silently ignored.
//!
//! Settings, all optional:
//!
//! - `IPE_BENCH_ONLY=patient-name,chain,…` times only those queries (the keys
//!   of the table);
//! - `IPE_BENCH_LOAD_CLIENTS=4` loads with that many clients (default 1);
//! - `IPE_BENCH_ANALYZE=0` skips step 2, to see what statistics are worth;
//! - `IPE_BENCH_PLAN_CACHE_MODE=force_custom_plan` (or `force_generic_plan`,
//!   `auto`) sets PostgreSQL's `plan_cache_mode` on the bench database
//!   before the server connects (the server prepares its statements, and
//!   PostgreSQL may switch a prepared statement to a generic plan after
//!   five executions);
//! - `IPE_BENCH_SQL='CREATE INDEX …; …'` runs these statements on the bench
//!   database after the load (before step 2), to try an index or a schema
//!   change before proposing it;
//! - `IPE_BENCH_KEEP=1` keeps the database and prints its URL, to run
//!   `EXPLAIN ANALYZE` on it afterwards (`benches/postgres.sh` keeps its
//!   cluster too);
//! - `RUST_LOG` sends the server's logs to stderr with that filter
//!   (`RUST_LOG=sqlx::query=debug` prints every statement and its time;
//!   the logging slows the run, so use it to read SQL, not to time).
//!
//! Clients run in this process, so they share the CPUs with the server and
//! PostgreSQL, as a load generator on the same machine would.

#[allow(dead_code)] // each bench uses part of it
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;
use sqlx::Connection;

use support::{
    admin_url, expect_200, ms, percentile, pg_setting, post_bundles, read_synthea, truncate, validator_warm_up,
    Database, Result, Server, SyntheaBundle, FHIR_JSON,
};

/// (clients, timed requests in total) for each query.
const RUNS: [(usize, usize); 2] = [(1, 200), (8, 800)];
/// Untimed requests per query and client count, after the check.
const WARM_UP: usize = 5;
/// A (query, clients) cell stops after this long, so that one slow query
/// cannot stall the run; the table says when it did.
const CELL_TIME: Duration = Duration::from_secs(30);
/// A Synthea load that takes longer than this fails the run.
const LOAD_TIME: Duration = Duration::from_secs(600);

/// Targets of issue 4 on this machine.
const TYPICAL_P50: Duration = Duration::from_millis(5);
const TOTAL_P50: Duration = Duration::from_millis(50);
const LOAD_TARGET: f64 = 1_500.0;

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
/// Every Synthea Patient keeps its original uuid under this identifier
/// system, which finds it again after the server assigned it a new id.
const SYNTHEA_ID: &str = "https://github.com/synthetichealth/synthea";

fn main() {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("search bench: {e}");
        // Exit at once: the in-process server needs no graceful stop.
        std::process::exit(1);
    }
}

/// Logs as the server does in production (one line per request, at info)
/// into a sink, so formatting is measured but the terminal is not; with
/// `RUST_LOG`, to stderr with that filter instead.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    match std::env::var("RUST_LOG") {
        Ok(filter) => tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init(),
        Err(_) => tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("info"))
            .with_writer(std::io::sink)
            .init(),
    }
}

async fn run() -> Result<()> {
    let admin = admin_url("benches/postgres.sh --bench search")?;
    let bundles = read_synthea()?;
    if bundles.len() != 78 {
        return Err(format!("expected 78 Synthea Bundles, found {}", bundles.len()));
    }
    let picks = Picks::from_bundles(&bundles)?;
    print_header(&admin, &bundles).await?;
    let warm_up = validator_warm_up();

    let db = Database::create(&admin).await?;
    set_plan_cache_mode(&admin, &db.name).await?;
    let server = Server::start(&db.url, warm_up).await?;
    let clients = env_number("IPE_BENCH_LOAD_CLIENTS", 1)?;
    let load = load(&server, &bundles, clients).await?;
    load.print();
    if let Ok(sql) = std::env::var("IPE_BENCH_SQL") {
        run_sql(&db.url, "IPE_BENCH_SQL", &sql).await?;
    }
    if std::env::var("IPE_BENCH_ANALYZE").as_deref() == Ok("0") {
        println!("VACUUM ANALYZE skipped (IPE_BENCH_ANALYZE=0)");
    } else {
        run_sql(&db.url, "VACUUM ANALYZE", "VACUUM ANALYZE").await?;
    }

    let patient_id = server.patient_id(&picks.patient_uuid).await?;
    let queries = selected(queries(&picks, &patient_id))?;
    let mut rows = Vec::new();
    for query in &queries {
        rows.push(measure(&server, query).await?);
    }
    print_table(&rows);
    print_legend(&rows);
    print_targets(&load, &rows);
    println!("\nload average at the end: {}", load_average());

    if std::env::var("IPE_BENCH_KEEP").as_deref() == Ok("1") {
        println!("kept the database: {}", db.url);
    } else {
        db.drop(&admin).await;
    }
    Ok(())
}

fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|_| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

async fn print_header(admin: &str, bundles: &[SyntheaBundle]) -> Result<()> {
    let setting = |name| pg_setting(admin, name);
    let (version, fsync, sync_commit) = (
        setting("server_version").await?,
        setting("fsync").await?,
        setting("synchronous_commit").await?,
    );
    println!(
        "Ipê search benchmark: {} CPUs, PostgreSQL {version} (fsync={fsync}, synchronous_commit={sync_commit}), {} build",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "Synthea: {} transaction Bundles, {} resources; load average at the start: {}\n",
        bundles.len(),
        bundles.iter().map(|b| b.resources).sum::<usize>(),
        load_average()
    );
    Ok(())
}

/// The 1-, 5- and 15-minute load averages: how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// --- the Synthea data --------------------------------------------------------

/// Real values for the queries, taken from the Bundles before they are
/// loaded, with the counts that some queries must return.
struct Picks {
    /// The Patient with the most Observations: its Synthea uuid, family
    /// name and number of Observations.
    patient_uuid: String,
    family: String,
    patient_observations: u64,
    /// That Patient's most frequent Observation code, and a three-year
    /// range (`ge` first year, `lt` last) around the median date of those
    /// Observations.
    patient_code: String,
    years: (i32, i32),
    observations: u64,
    /// The most frequent Observation code and how many Observations have it.
    top_code: (String, u64),
    /// The 50 least frequent Observation codes and how many Observations
    /// have one of them.
    rare_codes: (Vec<String>, u64),
    /// The most frequent Condition code and how many Conditions have it.
    condition_code: (String, u64),
    /// The most frequent Organization name.
    organization: String,
}

/// One Patient's Bundle, as far as the picks need it.
#[derive(Default)]
struct PatientTally {
    uuid: String,
    family: String,
    observations: u64,
    /// LOINC code → effective dates of the Patient's Observations with it.
    dates: BTreeMap<String, Vec<String>>,
}

#[derive(Default)]
struct Tally {
    observations: u64,
    observation_codes: BTreeMap<String, u64>,
    /// Observation code sets, to count the matches of an OR list.
    observation_code_sets: Vec<BTreeSet<String>>,
    condition_codes: BTreeMap<String, u64>,
    organizations: BTreeMap<String, u64>,
    busiest: Option<PatientTally>,
}

impl Picks {
    fn from_bundles(bundles: &[SyntheaBundle]) -> Result<Picks> {
        let mut tally = Tally::default();
        for b in bundles {
            let bundle: Value = serde_json::from_slice(&b.body).map_err(|e| format!("{}: {e}", b.name))?;
            tally.add_bundle(&bundle);
        }
        let patient = tally.busiest.take().ok_or("no Patient in the Bundles")?;
        let (patient_code, _) = most_common(patient.dates.iter().map(|(code, dates)| (code, dates.len() as u64)))
            .ok_or("the busiest Patient has no LOINC-coded Observation")?;
        let mut dates = patient.dates[&patient_code].clone();
        dates.sort();
        let median = &dates[dates.len() / 2];
        let year: i32 = median
            .get(..4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| format!("Observation date {median:?} has no year"))?;
        let rare = rarest(&tally.observation_codes, 50);
        let rare_matches = tally
            .observation_code_sets
            .iter()
            .filter(|codes| rare.iter().any(|c| codes.contains(c)))
            .count() as u64;
        let top_code = most_common(tally.observation_codes.iter().map(|(k, v)| (k, *v)));
        let condition_code = most_common(tally.condition_codes.iter().map(|(k, v)| (k, *v)));
        let organization = most_common(tally.organizations.iter().map(|(k, v)| (k, *v)));
        Ok(Picks {
            patient_uuid: patient.uuid,
            family: patient.family,
            patient_observations: patient.observations,
            patient_code,
            years: (year - 1, year + 2),
            observations: tally.observations,
            top_code: top_code.ok_or("no LOINC-coded Observation")?,
            rare_codes: (rare, rare_matches),
            condition_code: condition_code.ok_or("no SNOMED-coded Condition")?,
            organization: organization.ok_or("no named Organization")?.0,
        })
    }
}

impl Tally {
    fn add_bundle(&mut self, bundle: &Value) {
        let mut patient = PatientTally::default();
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            let resource = &entry["resource"];
            match resource["resourceType"].as_str() {
                Some("Patient") => {
                    patient.uuid = synthea_uuid(resource).unwrap_or_default();
                    patient.family = resource["name"][0]["family"].as_str().unwrap_or_default().into();
                }
                Some("Observation") => self.add_observation(resource, &mut patient),
                Some("Condition") => {
                    for code in codes(resource, SNOMED) {
                        *self.condition_codes.entry(code).or_default() += 1;
                    }
                }
                Some("Organization") => {
                    if let Some(name) = resource["name"].as_str() {
                        *self.organizations.entry(name.into()).or_default() += 1;
                    }
                }
                _ => {}
            }
        }
        let busier = self
            .busiest
            .as_ref()
            .is_none_or(|b| patient.observations > b.observations);
        if !patient.uuid.is_empty() && !patient.family.is_empty() && busier {
            self.busiest = Some(patient);
        }
    }

    fn add_observation(&mut self, resource: &Value, patient: &mut PatientTally) {
        let codes = codes(resource, LOINC);
        let date = resource["effectiveDateTime"].as_str().unwrap_or_default();
        for code in &codes {
            *self.observation_codes.entry(code.clone()).or_default() += 1;
            if !date.is_empty() {
                patient.dates.entry(code.clone()).or_default().push(date.into());
            }
        }
        self.observations += 1;
        patient.observations += 1;
        self.observation_code_sets.push(codes);
    }
}

fn synthea_uuid(patient: &Value) -> Option<String> {
    patient["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == SYNTHEA_ID)
        .and_then(|i| i["value"].as_str())
        .map(String::from)
}

/// The codes of `resource.code` in `system`.
fn codes(resource: &Value, system: &str) -> BTreeSet<String> {
    resource["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["system"] == system)
        .filter_map(|c| c["code"].as_str().map(String::from))
        .collect()
}

/// The key with the highest count; ties go to the smallest key, so the
/// picks are the same on every run.
fn most_common<'a>(counts: impl Iterator<Item = (&'a String, u64)>) -> Option<(String, u64)> {
    counts
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, n)| (k.clone(), n))
}

/// The `n` keys with the lowest counts (ties by key).
fn rarest(counts: &BTreeMap<String, u64>, n: usize) -> Vec<String> {
    let mut keys: Vec<_> = counts.iter().collect();
    keys.sort_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)));
    keys.into_iter().take(n).map(|(k, _)| k.clone()).collect()
}

// --- the queries -------------------------------------------------------------

struct Query {
    /// Short name, the table's first column and `IPE_BENCH_ONLY`'s values.
    key: &'static str,
    resource_type: &'static str,
    params: Vec<(String, String)>,
    expect: Expect,
    target: Duration,
}

/// What the check of a query requires of its first answer.
enum Expect {
    /// At least one match.
    Some,
    /// Exactly this `Bundle.total`.
    Total(u64),
    /// At least one match and one included resource.
    Included,
}

impl Query {
    fn new(key: &'static str, resource_type: &'static str, params: &[(&str, &str)], expect: Expect) -> Query {
        Query {
            key,
            resource_type,
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            expect,
            target: TYPICAL_P50,
        }
    }

    /// As a person would write it (not percent-encoded).
    fn display(&self) -> String {
        let params: Vec<_> = self.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.resource_type, params.join("&"))
    }

    fn url(&self, base: &str) -> Url {
        let mut url = Url::parse(&format!("{base}/{}", self.resource_type)).expect("base URL");
        url.query_pairs_mut().extend_pairs(&self.params);
        url
    }
}

/// The queries of issue 4 ("must show" 3) and a few more, with real values.
fn queries(p: &Picks, patient: &str) -> Vec<Query> {
    let loinc = |code: &str| format!("{LOINC}|{code}");
    let reference = format!("Patient/{patient}");
    let (top, top_n) = (&loinc(&p.top_code.0), p.top_code.1);
    let patient_code = loinc(&p.patient_code);
    let (from, to) = (format!("ge{}-01-01", p.years.0), format!("lt{}-01-01", p.years.1));
    let condition = format!("{SNOMED}|{}", p.condition_code.0);
    let rare: Vec<_> = p.rare_codes.0.iter().map(|c| loinc(c)).collect();
    let mut total_all = Query::new(
        "total-all",
        "Observation",
        &[("_total", "accurate"), ("_count", "1")],
        Expect::Total(p.observations),
    );
    total_all.target = TOTAL_P50;
    vec![
        Query::new("patient-name", "Patient", &[("name", &p.family)], Expect::Some),
        Query::new(
            "obs-patient-code-date",
            "Observation",
            &[
                ("subject", &reference),
                ("code", &patient_code),
                ("date", &from),
                ("date", &to),
            ],
            Expect::Some,
        ),
        Query::new(
            "obs-patient-sort",
            "Observation",
            &[("patient", patient), ("_sort", "-date"), ("_count", "20")],
            Expect::Total(p.patient_observations),
        ),
        Query::new(
            "obs-code-sort",
            "Observation",
            &[("code", top), ("_sort", "-date"), ("_count", "20")],
            Expect::Total(top_n),
        ),
        Query::new("encounter-patient", "Encounter", &[("patient", patient)], Expect::Some),
        Query::new(
            "condition-code",
            "Condition",
            &[("code", &condition)],
            Expect::Total(p.condition_code.1),
        ),
        Query::new(
            "chain",
            "Observation",
            &[("subject:Patient.name", &p.family)],
            Expect::Some,
        ),
        Query::new(
            "chain-2",
            "Observation",
            &[("encounter.service-provider.name", &p.organization), ("_count", "20")],
            Expect::Some,
        ),
        Query::new(
            "include",
            "Observation",
            &[("code", top), ("_include", "Observation:subject"), ("_count", "20")],
            Expect::Included,
        ),
        Query::new(
            "revinclude",
            "Patient",
            &[("_id", patient), ("_revinclude", "Encounter:patient")],
            Expect::Included,
        ),
        Query::new(
            "has",
            "Patient",
            &[("_has:Observation:subject:code", top)],
            Expect::Some,
        ),
        Query::new(
            "or-50",
            "Observation",
            &[("code", &rare.join(","))],
            Expect::Total(p.rare_codes.1),
        ),
        Query::new(
            "not-patient",
            "Observation",
            &[("patient", patient), ("category:not", "laboratory")],
            Expect::Some,
        ),
        Query::new(
            "not-all",
            "Observation",
            &[("code:not", top), ("_count", "20")],
            Expect::Total(p.observations - top_n),
        ),
        total_all,
        Query::new(
            "total-code",
            "Observation",
            &[("code", top), ("_total", "accurate"), ("_count", "1")],
            Expect::Total(top_n),
        ),
        Query::new(
            "summary-count",
            "Observation",
            &[("patient", patient), ("_summary", "count")],
            Expect::Total(p.patient_observations),
        ),
    ]
}

/// The queries `IPE_BENCH_ONLY` names, or all of them.
fn selected(queries: Vec<Query>) -> Result<Vec<Query>> {
    let Ok(only) = std::env::var("IPE_BENCH_ONLY") else {
        return Ok(queries);
    };
    let wanted: Vec<_> = only.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted.iter().find(|w| !queries.iter().any(|q| q.key == **w)) {
        let keys: Vec<_> = queries.iter().map(|q| q.key).collect();
        return Err(format!(
            "IPE_BENCH_ONLY: no query {unknown:?} (there are {})",
            keys.join(", ")
        ));
    }
    Ok(queries.into_iter().filter(|q| wanted.contains(&q.key)).collect())
}

// --- measuring ---------------------------------------------------------------

/// What a searchset Bundle held.
struct Found {
    total: Option<u64>,
    matches: usize,
    included: usize,
}

impl Found {
    fn read(body: &[u8]) -> Result<Found> {
        let bundle: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        if bundle["resourceType"] != "Bundle" || bundle["type"] != "searchset" {
            return Err("not a searchset Bundle".into());
        }
        let mut found = Found {
            total: bundle["total"].as_u64(),
            matches: 0,
            included: 0,
        };
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            match entry["search"]["mode"].as_str() {
                Some("match") => found.matches += 1,
                Some("include") => found.included += 1,
                // A warning (say, includes cut short) would change what is measured.
                _ => return Err(format!("unexpected entry: {}", truncate(&entry.to_string()))),
            }
        }
        Ok(found)
    }

    fn check(&self, expect: &Expect) -> Result<()> {
        let some = self.total.unwrap_or(self.matches as u64) > 0 && self.matches > 0;
        let ok = match expect {
            Expect::Some => some,
            Expect::Total(n) => self.total == Some(*n),
            Expect::Included => some && self.included > 0,
        };
        let wanted = match expect {
            Expect::Some => "some matches".to_string(),
            Expect::Total(n) => format!("total {n}"),
            Expect::Included => "matches and included resources".to_string(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {wanted}, got total {:?}, {} matches, {} included",
                self.total, self.matches, self.included
            ))
        }
    }
}

struct Row {
    key: &'static str,
    query: String,
    found: Found,
    target: Duration,
    /// One timing per entry of `RUNS`.
    timings: Vec<Timing>,
}

struct Timing {
    clients: usize,
    /// Sorted.
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// Fewer requests than planned: the cell hit `CELL_TIME`.
    cut_short: bool,
}

/// Checks `query`, warms it up, and times it at each client count.
async fn measure(server: &Server, query: &Query) -> Result<Row> {
    let url = query.url(&server.base);
    let fail = |e: String| format!("query {} ({}): {e}", query.key, query.display());
    let found = Found::read(&server.search(&url).await.map_err(fail)?).map_err(fail)?;
    found.check(&query.expect).map_err(fail)?;
    let mut timings = Vec::new();
    for (clients, requests) in RUNS {
        time(server, &url, clients, WARM_UP).await.map_err(fail)?;
        timings.push(time(server, &url, clients, requests).await.map_err(fail)?);
    }
    Ok(Row {
        key: query.key,
        query: query.display(),
        found,
        target: query.target,
        timings,
    })
}

/// `requests` searches by `clients` concurrent clients taking turns from
/// one counter, each request's latency taken on the client side.
async fn time(server: &Server, url: &Url, clients: usize, requests: usize) -> Result<Timing> {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (server, url, counter) = (server.clone(), url.clone(), counter.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while counter.fetch_add(1, Ordering::Relaxed) < requests && started.elapsed() < CELL_TIME {
                    let t = Instant::now();
                    server.search(&url).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| format!("client task: {e}"))??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Timing {
        clients,
        cut_short: latencies.len() < requests,
        latencies,
        elapsed,
    })
}

struct Load {
    clients: usize,
    resources: usize,
    elapsed: Duration,
    /// Per Bundle, sorted.
    latencies: Vec<Duration>,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.resources as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        println!(
            "Synthea load with search indexing: {} Bundles, {} resources in {:.2} s by {} client(s): \
             {:.0} resources/s (per Bundle: p50 {:.1} ms, p99 {:.1} ms)",
            self.latencies.len(),
            self.resources,
            self.elapsed.as_secs_f64(),
            self.clients,
            self.per_second(),
            ms(percentile(&self.latencies, 0.50)),
            ms(percentile(&self.latencies, 0.99)),
        );
    }
}

/// POSTs every Bundle to the base, `clients` at a time from a shared queue.
/// Unlike benches/rest.rs there is no warm-up Bundle: the data must be
/// loaded exactly once, so that the counts the checks expect hold.
async fn load(server: &Server, bundles: &[SyntheaBundle], clients: usize) -> Result<Load> {
    let posted = post_bundles(server, bundles, clients, LOAD_TIME).await?;
    if !posted.complete {
        return Err(format!("the Synthea load took more than {} s", LOAD_TIME.as_secs()));
    }
    Ok(Load {
        clients: clients.max(1),
        resources: posted.resources,
        elapsed: posted.elapsed,
        latencies: posted.latencies,
    })
}

/// Runs `sql` (one or more statements, none in a transaction block, so
/// `VACUUM` may be one) on the database at `url`, and says how long it took.
async fn run_sql(url: &str, what: &str, sql: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("connect to {url}: {e}"))?;
    let t = Instant::now();
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    println!("{what}: {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `IPE_BENCH_PLAN_CACHE_MODE`: PostgreSQL's `plan_cache_mode` for every
/// connection to the bench database (set before the server opens any).
async fn set_plan_cache_mode(admin: &str, database: &str) -> Result<()> {
    let Ok(mode) = std::env::var("IPE_BENCH_PLAN_CACHE_MODE") else {
        return Ok(());
    };
    if !["auto", "force_custom_plan", "force_generic_plan"].contains(&mode.as_str()) {
        return Err(format!("IPE_BENCH_PLAN_CACHE_MODE={mode}: not a plan_cache_mode"));
    }
    let sql = format!("ALTER DATABASE {database} SET plan_cache_mode = {mode}");
    run_sql(admin, &format!("plan_cache_mode = {mode}"), &sql).await
}

// --- the server ------------------------------------------------------------

impl Server {
    /// GETs a search and returns the body of its 200 answer.
    async fn search(&self, url: &Url) -> Result<Vec<u8>> {
        let res = self
            .client
            .get(url.clone())
            .header("Accept", FHIR_JSON)
            .header("Prefer", "handling=strict")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        expect_200(res).await
    }

    /// The server's id of the Patient with this Synthea uuid.
    async fn patient_id(&self, uuid: &str) -> Result<String> {
        let mut url = Url::parse(&format!("{}/Patient", self.base)).expect("base URL");
        url.query_pairs_mut()
            .append_pair("identifier", &format!("{SYNTHEA_ID}|{uuid}"));
        let body = self.search(&url).await?;
        let bundle: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        match bundle["entry"].as_array().map(Vec::as_slice) {
            Some([entry]) => entry["resource"]["id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| "the Patient has no id".into()),
            _ => Err(format!("Patient?identifier={SYNTHEA_ID}|{uuid}: not exactly one match")),
        }
    }
}

// --- output ------------------------------------------------------------------

fn print_table(rows: &[Row]) {
    let mut header = format!("\n{:<22} {:>6} {:>8}", "query", "total", "entries");
    for (clients, _) in RUNS {
        header += &format!(" | {clients} cl. p50 ms  p99 ms    mean");
        if clients > 1 {
            header += "   req/s";
        }
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len() - 1));
    for row in rows {
        let total = row.found.total.map_or_else(|| "-".into(), |t| t.to_string());
        let entries = match row.found.included {
            0 => row.found.matches.to_string(),
            n => format!("{}+{n}", row.found.matches),
        };
        let mut line = format!("{:<22} {total:>6} {entries:>8}", row.key);
        let mut notes = Vec::new();
        for t in &row.timings {
            line += &cell(t);
            if t.cut_short {
                notes.push(format!(
                    "{} cl. stopped after {} s, {} requests",
                    t.clients,
                    CELL_TIME.as_secs(),
                    t.latencies.len()
                ));
            }
        }
        if !notes.is_empty() {
            line += &format!("  ({})", notes.join("; "));
        }
        println!("{line}");
    }
}

/// One client count's columns: p50, p99, mean, and req/s when concurrent.
fn cell(t: &Timing) -> String {
    let mean = t.latencies.iter().sum::<Duration>() / t.latencies.len().max(1) as u32;
    let mut text = format!(
        " | {:>13.2} {:>7.2} {:>7.2}",
        ms(percentile(&t.latencies, 0.50)),
        ms(percentile(&t.latencies, 0.99)),
        ms(mean)
    );
    if t.clients > 1 {
        text += &format!(" {:>7.0}", t.latencies.len() as f64 / t.elapsed.as_secs_f64());
    }
    text
}

fn print_legend(rows: &[Row]) {
    println!("\nQueries (total: Bundle.total; entries: matches on the first page + included):");
    for row in rows {
        let mut query = row.query.clone();
        if query.len() > 160 {
            let cut = query.char_indices().nth(150).map_or(query.len(), |(i, _)| i);
            query = format!("{}… ({} characters)", &query[..cut], row.query.len());
        }
        println!("  {:<22} {query}", row.key);
    }
}

fn print_targets(load: &Load, rows: &[Row]) {
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\nTargets (issue 4), p50 at 1 client:");
    println!(
        "  Synthea load with indexing ≥ {LOAD_TARGET:.0} resources/s: {:.0}, {}",
        load.per_second(),
        met(load.per_second() >= LOAD_TARGET)
    );
    for target in [TYPICAL_P50, TOTAL_P50] {
        let group: Vec<_> = rows.iter().filter(|r| r.target == target).collect();
        if group.is_empty() {
            continue;
        }
        let missed: Vec<_> = group
            .iter()
            .map(|r| (r.key, percentile(&r.timings[0].latencies, 0.50)))
            .filter(|(_, p50)| *p50 > target)
            .map(|(key, p50)| format!("{key} {:.2} ms", ms(p50)))
            .collect();
        println!(
            "  p50 ≤ {} ms: {} of {} queries within it, {}{}",
            target.as_millis(),
            group.len() - missed.len(),
            group.len(),
            met(missed.is_empty()),
            if missed.is_empty() {
                String::new()
            } else {
                format!(" (over: {})", missed.join(", "))
            }
        );
    }
}
