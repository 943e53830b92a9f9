//! Wiring: everything the server needs is built here, once
//! (`Application::build` binds the listener, so tests can ask for port 0).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use thiserror::Error;

use crate::clock::{instant, Clock, IdGenerator, SystemClock, UuidIds};
use crate::config::Config;
use crate::http::{request_log, routes, AppState};
use crate::index::LiveRegistry;
use crate::packages::{CanonicalRegistry, Loader, PackageCache};
use crate::rest::Context;
use crate::store::{Store, StoreError};
use crate::validation::{ProfileValidator, SchemaLoadError, StructuralValidator};

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("cannot open the database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error("cannot migrate the database: {0}")]
    Migrate(StoreError),
    #[error("cannot load the R4 schema: {0}")]
    Schema(#[from] SchemaLoadError),
    #[error("cannot load the stored SearchParameters: {0}")]
    SearchParameters(crate::error::FhirError),
    #[error("cannot load the stored conformance resources: {0}")]
    Conformance(crate::error::FhirError),
    #[error("cannot load the stored subscriptions: {0}")]
    Subscriptions(crate::error::FhirError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot load packages: {0}")]
    Packages(#[from] crate::packages::loader::LoadError),
    #[error("cannot load a code system: {0}")]
    CodeSystem(#[from] crate::terminology::loaders::LoadError),
    #[error("the enforced profile {profile} (for {rtype}) is not known: load the package that defines it")]
    EnforcedProfile { rtype: String, profile: String },
}

/// A bound, ready-to-run server, and the subscription engine's tasks.
pub struct Application {
    port: u16,
    server: Server,
    engine: crate::subscriptions::Engine,
}

impl Application {
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        Self::build_with(config, Arc::new(SystemClock), Arc::new(UuidIds)).await
    }

    /// [`build`](Self::build) with an injected clock and id generator.
    pub async fn build_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Result<Self, StartupError> {
        let store = open_store(config).await?;
        store.migrate().await.map_err(StartupError::Migrate)?;
        let canonicals = Arc::new(load_canonicals(config).await?);
        let validator = Arc::new(StructuralValidator::new()?);
        // Compile every type's schema validator off the request path.
        let warm = validator.clone();
        std::thread::spawn(move || warm.warm_up());
        check_enforced_profiles(config, &canonicals)?;
        let terminology = load_code_systems(
            config,
            Arc::new(crate::terminology::TerminologyService::new(canonicals.clone())),
        )?;
        let ctx = Context {
            store,
            validator,
            clock: clock.clone(),
            ids,
            update_create: config.update_create,
            conditional_delete: config.conditional_delete,
            registry: Arc::new(LiveRegistry::default()),
            profiles: Arc::new(ProfileValidator::new(terminology.clone())),
            terminology,
            canonicals,
            write_policy: Arc::new(config.validation.clone()),
            subscriptions: Arc::new(crate::subscriptions::Hub::new(config.subscriptions.clone())),
            transaction_topics: Arc::default(),
        };
        tracing::info!(validation = config.validation.mode.as_str(), "validation on write");
        // The SearchParameters stored on the server, and their unfinished
        // reindex jobs, before the first request.
        crate::reindex::resume(&ctx)
            .await
            .map_err(StartupError::SearchParameters)?;
        crate::reindex::spawn_refresher(&ctx);
        let stored = crate::rest::canonicals::load_stored(&ctx)
            .await
            .map_err(StartupError::Conformance)?;
        tracing::info!(stored, "conformance resources stored on the server are in the registry");
        crate::subscriptions::load(&ctx)
            .await
            .map_err(StartupError::Subscriptions)?;
        let engine_ctx = ctx.clone();
        let state = web::Data::new(AppState {
            started_at: instant(clock.now_micros()),
            ctx,
            base_url: config.base_url.clone(),
            max_body_bytes: config.max_body_bytes,
        });
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: addr.clone(),
                source,
            })?
            .port();
        let engine = crate::subscriptions::Engine::start(&engine_ctx, notification_base(config, port));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(middleware::from_fn(request_log))
                .wrap(middleware::Compress::default())
                .configure(routes)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .run();
        Ok(Application { port, server, engine })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM drain
    /// in-flight requests first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.engine.stop().await;
        served
    }

    /// Stops the server from inside the process (tests): `stop(true)` drains
    /// requests, then [`Self::run_until_stopped`] stops the subscription
    /// engine and returns.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The base URL in notifications: the configured one, else this listener's
/// address (`localhost` for a wildcard host).
fn notification_base(config: &Config, port: u16) -> String {
    if let Some(base) = &config.base_url {
        return base.clone();
    }
    let host = match config.host.as_str() {
        "0.0.0.0" | "::" | "" => "localhost",
        h => h,
    };
    format!("http://{host}:{port}")
}

/// Opens the database and applies migrations (`ipe migrate`).
pub async fn migrate(config: &Config) -> Result<(), StartupError> {
    open_store(config).await?.migrate().await.map_err(StartupError::Migrate)
}

async fn open_store(config: &Config) -> Result<Store, StartupError> {
    Store::connect(config.database_url.expose(), config.database_max_connections)
        .await
        .map_err(|source| StartupError::Database {
            url: config.database_url.to_string(),
            source,
        })
}

/// The canonical registry: the base R4 definitions plus the configured
/// packages and their dependencies.
pub async fn load_canonicals(config: &Config) -> Result<CanonicalRegistry, StartupError> {
    let registry = crate::packages::base::registry();
    let specs = crate::packages::sets::expand(&config.packages);
    if specs.is_empty() {
        return Ok(registry);
    }
    let loader = Loader {
        cache: PackageCache::new(&config.package_cache),
        registry_url: config.package_registry.clone(),
    };
    let (report, _) = loader.load(&specs, &registry).await?;
    for (wanted, used) in &report.substituted {
        tracing::warn!(%wanted, %used, "package dependency met by another version");
    }
    for (missing, needed_by) in &report.missing {
        tracing::warn!(%missing, %needed_by, "package dependency not available");
    }
    // Packages that ship differentials only (BR Core) get their snapshots now.
    let snapshots = crate::packages::snapshot::fill_missing(&registry);
    for error in &snapshots.failed {
        tracing::warn!(%error, "no snapshot for a package profile");
    }
    tracing::info!(
        generated = snapshots.generated.len(),
        failed = snapshots.failed.len(),
        "snapshots generated"
    );
    Ok(registry)
}

/// Every profile the write policy enforces is in the registry: a typo or a
/// missing package must stop the start, not refuse every write.
fn check_enforced_profiles(config: &Config, canonicals: &CanonicalRegistry) -> Result<(), StartupError> {
    if config.validation.mode != crate::validation::ValidationMode::Enforced {
        return Ok(());
    }
    for (rtype, profiles) in &config.validation.enforced {
        for profile in profiles {
            if canonicals.structure_definition(profile).is_none() {
                return Err(StartupError::EnforcedProfile {
                    rtype: rtype.clone(),
                    profile: profile.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The terminology service, with the LOINC and SNOMED CT releases the
/// configuration names loaded into it.
pub(crate) fn load_code_systems(
    config: &Config,
    service: Arc<crate::terminology::TerminologyService>,
) -> Result<Arc<crate::terminology::TerminologyService>, StartupError> {
    use crate::terminology::loaders::{loinc, snomed};
    if let Some(path) = &config.loinc {
        let started = std::time::Instant::now();
        let cs = loinc::load(path, None)?;
        tracing::info!(
            concepts = cs.len(),
            millis = started.elapsed().as_millis() as u64,
            "LOINC loaded"
        );
        service.add_code_system(cs);
    }
    if let Some(dir) = &config.snomed {
        let started = std::time::Instant::now();
        let cs = snomed::load(dir)?;
        tracing::info!(
            concepts = cs.len(),
            millis = started.elapsed().as_millis() as u64,
            "SNOMED CT loaded"
        );
        service.add_code_system(cs);
    }
    Ok(service)
}
