//! `spawn_app`: the real server on a random port against a fresh database,
//! SQLite or PostgreSQL, and a small HTTP client for FHIR.

use std::path::PathBuf;

use ipe::config::{Config, Overrides};
use ipe::startup::Application;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::name` and `postgres::name` for each async test
/// function `name(backend)`, so every store test runs on both databases.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Postgres).await } )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub database_url: String,
}

/// Where the outside test data is (`IPE_TEST_DATA`, default `../shared/fhir`).
/// Missing data fails the test: it must never pass by not running.
pub fn test_data() -> PathBuf {
    let dir = std::env::var("IPE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir"));
    assert!(
        dir.join("README.md").is_file(),
        "outside FHIR test data not found at {} (set IPE_TEST_DATA)",
        dir.display()
    );
    dir
}

/// A fresh, empty database URL for `backend`.
pub async fn fresh_database(backend: Backend) -> String {
    let name = format!("ipe_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("ipe-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite:{}", dir.join(format!("{name}.db")).display())
        }
        Backend::Postgres => {
            let admin = std::env::var("IPE_TEST_POSTGRES_URL")
                .expect("IPE_TEST_POSTGRES_URL is not set: run scripts/test.sh, which starts a private PostgreSQL");
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let (server, _) = admin.rsplit_once('/').expect("URL has a database");
            format!("{server}/{name}")
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// `spawn_app` with settings changed by `tweak`.
pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Overrides)) -> TestApp {
    let database_url = fresh_database(backend).await;
    let mut o = Overrides {
        host: Some("127.0.0.1".into()),
        port: Some(0),
        database_url: Some(database_url.clone()),
        database_max_connections: Some(5),
        ..Default::default()
    };
    tweak(&mut o);
    let config = Config::load(&o).expect("config");
    let app = Application::build(&config).await.expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        database_url,
    }
}

pub const FHIR_JSON: &str = "application/fhir+json";

/// A response, read whole.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The first issue of an OperationOutcome body.
    pub fn issue(&self) -> Value {
        let oo = self.json();
        assert_eq!(oo["resourceType"], "OperationOutcome", "{}", self.text);
        oo["issue"][0].clone()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        Resp { status, headers, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .post(self.url(path))
                .header(CONTENT_TYPE, FHIR_JSON)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .put(self.url(path))
                .header(CONTENT_TYPE, FHIR_JSON)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.client.delete(self.url(path))).await
    }

    /// Creates `resource` and returns its id.
    pub async fn create(&self, resource: &Value) -> String {
        let t = resource["resourceType"].as_str().expect("resourceType");
        let r = self.post(t, resource).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_str().expect("id").to_string()
    }
}
