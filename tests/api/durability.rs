//! An acknowledged write survives a crash: the real `ipe` binary is killed
//! with SIGKILL right after acknowledging writes, restarted on the same
//! database, and every acknowledged version is there, with the change feed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{fresh_database, Backend, TestApp};
use crate::on_both_backends;

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The running binary; killed (and reaped) when dropped, so a failing test
/// leaves no server behind.
pub(crate) struct Running(Child);

impl Running {
    /// SIGKILL: no shutdown, nothing flushed beyond what commits did.
    pub(crate) fn crash(&mut self) {
        self.0.kill().expect("kill");
        self.0.wait().expect("reap");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and waits until it answers `/readyz`.
async fn start(database_url: &str, port: u16) -> (Running, TestApp) {
    start_with(database_url, port, &[]).await
}

/// `start` with more settings (`--name value` pairs).
pub(crate) async fn start_with(database_url: &str, port: u16, settings: &[&str]) -> (Running, TestApp) {
    let child = Command::new(env!("CARGO_BIN_EXE_ipe"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--database-url",
            database_url,
        ])
        .args(settings)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("start ipe");
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        database_url: database_url.to_string(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = app.client.get(app.url("readyz")).send().await {
            if r.status().is_success() {
                return (child, app);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ipe did not become ready");
}

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let port = free_port();
    let (mut child, app) = start(&database_url, port).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            app.create(&json!({"resourceType": "Patient", "birthDate": format!("19{:02}", 50 + i)}))
                .await,
        );
    }
    let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "tx1"}, "request": {"method": "PUT", "url": "Patient/tx1"}},
        {"request": {"method": "DELETE", "url": format!("Patient/{}", ids[0])}},
    ]});
    assert_eq!(app.post("", &b).await.status, 200);
    child.crash();

    let (_server, app) = start(&database_url, free_port()).await;
    assert_eq!(app.get(&format!("Patient/{}", ids[0])).await.status, 410);
    for id in &ids[1..] {
        assert_eq!(
            app.get(&format!("Patient/{id}")).await.status,
            200,
            "{id} was acknowledged"
        );
    }
    assert_eq!(app.get("Patient/tx1").await.status, 200);
    let store = ipe::store::Store::connect(&database_url, 1).await.expect("store");
    let feed = store
        .changes_after(ipe::store::FeedCursor::START, 1000)
        .await
        .expect("feed");
    assert_eq!(feed.len(), 42, "every acknowledged change is in the feed");
}

on_both_backends!(acknowledged_writes_survive_sigkill);
