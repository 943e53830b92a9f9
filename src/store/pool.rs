//! Opening the pools for either database.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use super::{Dialect, Store, StoreError};

pub(super) async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = pool_options(max_connections).connect_with(options(url)?).await?;
        return Ok(Store {
            writer: pool.clone(),
            reader: pool,
            dialect: Dialect::Postgres,
        });
    }
    let Some(path) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    };
    let url = sqlite_url(path)?;
    let writer = sqlite_pool(&url, 1).await?;
    let reader = sqlite_pool(&url, max_connections.max(1)).await?;
    Ok(Store {
        writer,
        reader,
        dialect: Dialect::Sqlite,
    })
}

fn options(url: &str) -> Result<AnyConnectOptions, StoreError> {
    Ok(AnyConnectOptions::from_str(url)?)
}

fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
}

/// `sqlite:` URL that creates the file if missing; the folder is created here
/// because SQLite will not.
fn sqlite_url(path: &str) -> Result<String, StoreError> {
    let file = path.trim_start_matches("//");
    let file = file.split('?').next().unwrap_or(file);
    if let Some(dir) = Path::new(file).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    Ok(if path.contains("mode=") {
        format!("sqlite:{path}")
    } else {
        format!("sqlite:{path}{sep}mode=rwc")
    })
}

async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool, StoreError> {
    let pool = pool_options(max_connections)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; synchronous=FULL makes
                // an acknowledged commit survive power loss, not just a crash.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options(url)?)
        .await?;
    Ok(pool)
}
