//! Delivery survives `kill -9` (issue 7): the real `ipe` binary sends 1,000
//! notifications to a slow webhook receiver, is killed with SIGKILL while
//! sending, and restarted (or, with two nodes on one PostgreSQL, the other
//! node takes over once the dead node's leases expire). The receiver must
//! end with every event number, in order, duplicates only of what was in
//! flight at the kill; with two live nodes every notification arrives
//! exactly once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::Value;

use crate::durability::{free_port, start_with, Running};
use crate::helpers::{fresh_database, Backend, TestApp};
use crate::subscriptions::{encounter, encounter_topic, param, topic_subscription, wait_status};

/// How long the receiver takes to answer each notification.
const SLOW: Duration = Duration::from_millis(20);
/// Short sends and leases, so a dead node's claims expire within seconds.
const SETTINGS: &[&str] = &[
    "--subscription-poll-ms",
    "50",
    "--subscription-timeout-ms",
    "2000",
    "--subscription-lease-ms",
    "1000",
    "--subscription-retry-base-ms",
    "50",
    "--subscription-retry-max-ms",
    "400",
    "--subscription-max-attempts",
    "1000",
];

/// The event numbers each endpoint (`/hook/{n}`) received, in order of
/// arrival; handshakes and heartbeats (no event number) left out.
type Log = Arc<Mutex<BTreeMap<String, Vec<u64>>>>;

struct SlowReceiver {
    base: String,
    log: Log,
    handle: actix_web::dev::ServerHandle,
}

fn event_number(body: &[u8]) -> Option<u64> {
    let bundle: Value = serde_json::from_slice(body).ok()?;
    let event = param(&bundle["entry"][0]["resource"], "notification-event");
    event["part"].as_array()?.iter().find(|p| p["name"] == "event-number")?["valueString"]
        .as_str()?
        .parse()
        .ok()
}

async fn record(path: web::Path<String>, body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    tokio::time::sleep(SLOW).await;
    if let Some(n) = event_number(&body) {
        log.lock().expect("log").entry(path.into_inner()).or_default().push(n);
    }
    HttpResponse::Ok().finish()
}

impl SlowReceiver {
    async fn start() -> SlowReceiver {
        let log: Log = Arc::default();
        let data = web::Data::new(log.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook/{n}", web::post().to(record))
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .expect("bind receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        SlowReceiver {
            base: format!("http://127.0.0.1:{port}/hook"),
            log,
            handle,
        }
    }

    fn endpoint(&self, n: usize) -> String {
        format!("{}/{n}", self.base)
    }

    fn snapshot(&self) -> BTreeMap<String, Vec<u64>> {
        self.log.lock().expect("log").clone()
    }

    fn received(&self) -> usize {
        self.log.lock().expect("log").values().map(Vec::len).sum()
    }

    /// Waits until each of `hooks` endpoints has every event 1..=`events`.
    async fn wait_complete(&self, hooks: usize, events: u64, within: Duration) -> BTreeMap<String, Vec<u64>> {
        let deadline = Instant::now() + within;
        loop {
            let log = self.snapshot();
            let complete = (0..hooks).all(|n| {
                let got: std::collections::BTreeSet<u64> =
                    log.get(&n.to_string()).into_iter().flatten().copied().collect();
                (1..=events).all(|e| got.contains(&e))
            });
            if complete {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "not every event arrived: {:?}",
                log.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Checks one endpoint's arrivals: every event 1..=`events`, first
/// arrivals in order, and returns how many arrivals were repeats. A repeat
/// must be of an event that had already arrived (a send whose outcome the
/// kill kept from being recorded), never out of place.
fn check_arrivals(hook: &str, got: &[u64], events: u64) -> usize {
    let mut next = 1;
    let mut repeats = 0;
    for &n in got {
        if n == next {
            next += 1;
        } else {
            assert!(
                n < next,
                "endpoint {hook}: event {n} arrived before {next} (a gap): {got:?}"
            );
            repeats += 1;
        }
    }
    assert_eq!(next, events + 1, "endpoint {hook}: events after {} missing", next - 1);
    repeats
}

/// Creates the topic and `hooks` subscriptions through `app`, each to its
/// own endpoint, and waits until they are active.
async fn subscribe(app: &TestApp, receiver: &SlowReceiver, hooks: usize) {
    app.create(&encounter_topic()).await;
    let mut ids = Vec::new();
    for n in 0..hooks {
        ids.push(
            app.create(&topic_subscription(&receiver.endpoint(n), "empty", None))
                .await,
        );
    }
    for id in &ids {
        wait_status(app, id, "active").await;
    }
}

/// `count` Encounter writes, 8 at a time, spread over the nodes.
async fn write(apps: &[&TestApp], count: usize) {
    let mut done = 0;
    while done < count {
        let body = encounter("p1", "planned");
        let batch = (done..count.min(done + 8)).map(|i| apps[i % apps.len()].create(&body));
        futures_util::future::join_all(batch).await;
        done = count.min(done + 8);
    }
}

async fn wait_received(receiver: &SlowReceiver, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received() < at_least {
        assert!(
            Instant::now() < deadline,
            "only {} notifications arrived",
            receiver.received()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn start(database_url: &str) -> (Running, TestApp) {
    start_with(database_url, free_port(), SETTINGS).await
}

async fn pending_notifications_survive_kill_9(backend: Backend) {
    const EVENTS: u64 = 1000;
    let database_url = fresh_database(backend).await;
    let receiver = SlowReceiver::start().await;
    let (mut node, app) = start(&database_url).await;
    subscribe(&app, &receiver, 1).await;
    write(&[&app], EVENTS as usize).await;
    // Mid-delivery: some sent, most pending, one in flight.
    wait_received(&receiver, 200).await;
    node.crash();
    let before = receiver.received();
    assert!(before < EVENTS as usize, "the kill came too late to prove anything");

    let (_node, _app) = start(&database_url).await;
    receiver.wait_complete(1, EVENTS, Duration::from_secs(90)).await;
    // A repeat would arrive in the next moment: give it the chance.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = receiver.snapshot();
    let repeats = check_arrivals("0", &log["0"], EVENTS);
    eprintln!("{backend:?}: killed after {before} of {EVENTS} notifications; {repeats} delivered twice");
    assert!(
        repeats <= 1,
        "only the notification in flight at the kill may repeat, got {repeats}"
    );
    receiver.handle.stop(false).await;
}

async fn two_nodes_share_delivery_and_take_over_from_a_killed_one(backend: Backend) {
    const HOOKS: usize = 4;
    let database_url = fresh_database(backend).await;
    let receiver = SlowReceiver::start().await;
    let (mut a, app_a) = start(&database_url).await;
    let (_b, app_b) = start(&database_url).await;
    subscribe(&app_a, &receiver, HOOKS).await;

    // Normal operation: every notification exactly once across both nodes.
    const FIRST: u64 = 100;
    write(&[&app_a, &app_b], FIRST as usize).await;
    receiver.wait_complete(HOOKS, FIRST, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (hook, got) in receiver.snapshot() {
        let expected: Vec<u64> = (1..=FIRST).collect();
        assert_eq!(got, expected, "endpoint {hook}: each event exactly once, in order");
    }

    // Kill one node mid-delivery; the other takes its claims over.
    const TOTAL: u64 = 350;
    write(&[&app_a, &app_b], (TOTAL - FIRST) as usize).await;
    wait_received(&receiver, HOOKS * (FIRST as usize + 60)).await;
    a.crash();
    let before = receiver.received();
    assert!(
        before < HOOKS * TOTAL as usize,
        "the kill came too late to prove anything"
    );
    receiver.wait_complete(HOOKS, TOTAL, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut repeats = 0;
    for (hook, got) in receiver.snapshot() {
        repeats += check_arrivals(&hook, &got, TOTAL);
    }
    eprintln!(
        "{backend:?}: node killed after {before} of {} notifications; {repeats} delivered twice",
        HOOKS as u64 * TOTAL
    );
    assert!(
        repeats <= HOOKS,
        "only the notifications in flight at the kill (one per subscription) may repeat, got {repeats}"
    );
    receiver.handle.stop(false).await;
}

crate::on_both_backends!(pending_notifications_survive_kill_9);

mod two_nodes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::two_nodes_share_delivery_and_take_over_from_a_killed_one(crate::helpers::Backend::Postgres).await
    }
}
