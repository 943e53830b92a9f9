//! One typed configuration: defaults, then an optional TOML file
//! (`--config` / `IPE_CONFIG`), then `IPE_*` environment variables and
//! command-line flags (clap reads both). Checked once at start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use thiserror::Error;

use crate::model::ResourceType;
pub use crate::validation::{UnknownProfile, ValidationMode, WritePolicy};

/// Settings as given on the command line or in `IPE_*` variables. Every
/// field is optional so the file and the defaults can fill the rest.
#[derive(Debug, Default, Clone, Args)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, env = "IPE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "IPE_HOST", global = true)]
    pub host: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "IPE_PORT", global = true)]
    pub port: Option<u16>,
    /// `sqlite:<path>` or `postgres://user@host:port/db`.
    #[arg(long, env = "IPE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Maximum database connections.
    #[arg(long, env = "IPE_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,
    /// Public base URL (e.g. `https://fhir.example.org/r4`); by default taken from each request.
    #[arg(long, env = "IPE_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "IPE_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<usize>,
    /// Whether PUT may create a resource with a client-chosen id.
    #[arg(long, env = "IPE_UPDATE_CREATE", global = true)]
    pub update_create: Option<bool>,
    /// Conditional delete: `single` (several matches → 412) or `multiple`
    /// (every match is deleted, up to 1,000).
    #[arg(long, env = "IPE_CONDITIONAL_DELETE", global = true)]
    pub conditional_delete: Option<ConditionalDelete>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "IPE_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Implementation-guide packages to load at start: a `.tgz`, a folder,
    /// `name@version`, or a ready set from `profiles/` by name (`us-core`,
    /// `br-core`, `rnds`, `subscriptions-backport`). Repeatable; in
    /// `IPE_PACKAGES`, comma-separated.
    #[arg(long = "package", env = "IPE_PACKAGES", value_delimiter = ',', global = true)]
    pub packages: Vec<String>,
    /// The FHIR package cache (default `$FHIR_PACKAGE_CACHE` or `~/.fhir/packages`).
    #[arg(long, env = "IPE_PACKAGE_CACHE", global = true)]
    pub package_cache: Option<PathBuf>,
    /// Where missing packages are downloaded from (default
    /// `https://packages.fhir.org`); `none` works offline, from files and the cache.
    #[arg(long, env = "IPE_PACKAGE_REGISTRY", global = true)]
    pub package_registry: Option<String>,
    /// LOINC's `Loinc.csv` (from the LOINC release), loaded at start as the
    /// code system `http://loinc.org`.
    #[arg(long, env = "IPE_LOINC", global = true)]
    pub loinc: Option<PathBuf>,
    /// A SNOMED CT RF2 release folder (its `Snapshot/Terminology` files),
    /// loaded at start as `http://snomed.info/sct`.
    #[arg(long, env = "IPE_SNOMED", global = true)]
    pub snomed: Option<PathBuf>,
    /// Validation on write: `off`, `structural` (the default), `declared`
    /// (also the profiles in `meta.profile`) or `enforced` (also the
    /// profiles of `--enforce-profile`).
    #[arg(long, env = "IPE_VALIDATION", global = true)]
    pub validation: Option<ValidationMode>,
    /// A profile in `meta.profile` the server does not know: `warning` (the
    /// default) or `error`.
    #[arg(long, env = "IPE_UNKNOWN_PROFILE", global = true)]
    pub unknown_profile: Option<UnknownProfile>,
    /// `Type=profile-url`: under `validation = enforced`, every resource of
    /// that type must conform to one of its profiles. Repeatable; in
    /// `IPE_ENFORCE_PROFILES`, comma-separated.
    #[arg(
        long = "enforce-profile",
        env = "IPE_ENFORCE_PROFILES",
        value_delimiter = ',',
        global = true
    )]
    pub enforce_profiles: Vec<String>,
    /// Subscription delivery: first retry delay in milliseconds (doubled per
    /// attempt, with jitter).
    #[arg(long, env = "IPE_SUBSCRIPTION_RETRY_BASE_MS", global = true)]
    pub subscription_retry_base_ms: Option<u64>,
    /// Subscription delivery: longest retry delay in milliseconds.
    #[arg(long, env = "IPE_SUBSCRIPTION_RETRY_MAX_MS", global = true)]
    pub subscription_retry_max_ms: Option<u64>,
    /// Subscription delivery: attempts per notification before it is given up.
    #[arg(long, env = "IPE_SUBSCRIPTION_MAX_ATTEMPTS", global = true)]
    pub subscription_max_attempts: Option<u32>,
    /// Consecutive failed attempts that put a subscription in `error`.
    #[arg(long, env = "IPE_SUBSCRIPTION_ERROR_AFTER", global = true)]
    pub subscription_error_after: Option<u32>,
    /// Default time a rest-hook receiver has to answer, in milliseconds.
    #[arg(long, env = "IPE_SUBSCRIPTION_TIMEOUT_MS", global = true)]
    pub subscription_timeout_ms: Option<u64>,
    /// Key of the `X-Ipe-Signature` HMAC-SHA256 header of rest-hook
    /// notifications (a subscription's own secret extension wins).
    #[arg(long, env = "IPE_SUBSCRIPTION_HMAC_SECRET", global = true, hide_env_values = true)]
    pub subscription_hmac_secret: Option<String>,
    /// How often the change feed is polled for writes of other nodes, in milliseconds.
    #[arg(long, env = "IPE_SUBSCRIPTION_POLL_MS", global = true)]
    pub subscription_poll_ms: Option<u64>,
    /// How long a claimed notification stays with its node beyond the send
    /// timeout, in milliseconds; after that another node takes it over.
    #[arg(long, env = "IPE_SUBSCRIPTION_LEASE_MS", global = true)]
    pub subscription_lease_ms: Option<u64>,
    /// SMTP server of email subscriptions: `smtp://host:port` (STARTTLS when
    /// offered), `smtps://host:port` (TLS), with `user:password@` if needed.
    #[arg(long, env = "IPE_SUBSCRIPTION_SMTP_URL", global = true, hide_env_values = true)]
    pub subscription_smtp_url: Option<String>,
    /// Sender address of email notifications.
    #[arg(long, env = "IPE_SUBSCRIPTION_SMTP_FROM", global = true)]
    pub subscription_smtp_from: Option<String>,
}

/// What a conditional delete does when several resources match
/// (<https://hl7.org/fhir/R4/http.html#cdelete>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ConditionalDelete {
    /// Refuse with 412 Precondition Failed.
    Single,
    /// Delete them all.
    Multiple,
}

impl ConditionalDelete {
    /// The CapabilityStatement code.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionalDelete::Single => "single",
            ConditionalDelete::Multiple => "multiple",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The file layer: same names as the flags, snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    base_url: Option<String>,
    max_body_bytes: Option<usize>,
    update_create: Option<bool>,
    conditional_delete: Option<ConditionalDelete>,
    log_format: Option<LogFormat>,
    packages: Option<Vec<String>>,
    package_cache: Option<PathBuf>,
    package_registry: Option<String>,
    loinc: Option<PathBuf>,
    snomed: Option<PathBuf>,
    validation: Option<ValidationMode>,
    unknown_profile: Option<UnknownProfile>,
    /// `[enforced_profiles]`: `Patient = ["url", …]`.
    enforced_profiles: Option<BTreeMap<String, Vec<String>>>,
    subscription_retry_base_ms: Option<u64>,
    subscription_retry_max_ms: Option<u64>,
    subscription_max_attempts: Option<u32>,
    subscription_error_after: Option<u32>,
    subscription_timeout_ms: Option<u64>,
    subscription_hmac_secret: Option<String>,
    subscription_poll_ms: Option<u64>,
    subscription_lease_ms: Option<u64>,
    subscription_smtp_url: Option<String>,
    subscription_smtp_from: Option<String>,
}

/// The checked configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub database_url: DatabaseUrl,
    pub database_max_connections: u32,
    pub base_url: Option<String>,
    pub max_body_bytes: usize,
    pub update_create: bool,
    pub conditional_delete: ConditionalDelete,
    pub log_format: LogFormat,
    /// Packages to load at start, as given (see [`Overrides::packages`]).
    pub packages: Vec<String>,
    pub package_cache: PathBuf,
    /// `None`: offline.
    pub package_registry: Option<String>,
    /// Release files of large code systems to load at start.
    pub loinc: Option<PathBuf>,
    pub snomed: Option<PathBuf>,
    /// Validation on write (mode, unknown profiles, enforced profiles).
    pub validation: WritePolicy,
    /// Subscription delivery (docs/subscriptions.md).
    pub subscriptions: crate::subscriptions::Settings,
}

/// A database URL; its `Debug`/`Display` hide any password.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if self.0[scheme + 3..at].contains(':') => {
                let user_end = scheme + 3 + self.0[scheme + 3..at].find(':').unwrap_or(0);
                write!(f, "{}:***{}", &self.0[..user_end], &self.0[at..])
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("configuration file {path} is invalid: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
    #[error("database_url '{0}' is not supported: use sqlite:<path> or postgres://…")]
    DatabaseUrl(String),
    #[error("base_url '{0}' must start with http:// or https://")]
    BaseUrl(String),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("enforce-profile '{0}' must be Type=profile-url, with an R4 resource type")]
    EnforceProfile(String),
    #[error(
        "validation = enforced needs at least one enforced profile (enforce-profile Type=url, or [enforced_profiles])"
    )]
    NothingEnforced,
}

impl Config {
    /// Defaults ← file ← environment/flags.
    pub fn load(o: &Overrides) -> Result<Self, ConfigError> {
        let file = match &o.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let subscriptions = subscription_settings(o, &file);
        let database_url = o
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| "sqlite:./data/ipe.db".to_string());
        let config = Config {
            host: o.host.clone().or(file.host).unwrap_or_else(|| "0.0.0.0".into()),
            port: o.port.or(file.port).unwrap_or(8080),
            database_url: DatabaseUrl(database_url),
            database_max_connections: o
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(16),
            base_url: o
                .base_url
                .clone()
                .or(file.base_url)
                .map(|u| u.trim_end_matches('/').to_string()),
            max_body_bytes: o.max_body_bytes.or(file.max_body_bytes).unwrap_or(64 * 1024 * 1024),
            update_create: o.update_create.or(file.update_create).unwrap_or(true),
            conditional_delete: o
                .conditional_delete
                .or(file.conditional_delete)
                .unwrap_or(ConditionalDelete::Multiple),
            log_format: o.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            packages: if o.packages.is_empty() {
                file.packages.unwrap_or_default()
            } else {
                o.packages.clone()
            },
            package_cache: o
                .package_cache
                .clone()
                .or(file.package_cache)
                .unwrap_or_else(crate::packages::PackageCache::default_root),
            package_registry: match o.package_registry.clone().or(file.package_registry) {
                Some(r) if r == "none" || r.is_empty() => None,
                Some(r) => Some(r),
                None => Some(crate::packages::loader::DEFAULT_REGISTRY.to_owned()),
            },
            loinc: o.loinc.clone().or(file.loinc),
            snomed: o.snomed.clone().or(file.snomed),
            validation: WritePolicy {
                mode: o.validation.or(file.validation).unwrap_or_default(),
                unknown_profile: o.unknown_profile.or(file.unknown_profile).unwrap_or_default(),
                enforced: if o.enforce_profiles.is_empty() {
                    file.enforced_profiles.unwrap_or_default()
                } else {
                    enforce_pairs(&o.enforce_profiles)?
                },
            },
            subscriptions,
        };
        config.check()
    }

    fn check(self) -> Result<Self, ConfigError> {
        let url = self.database_url.expose();
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !known.iter().any(|p| url.starts_with(p)) || url == "sqlite:" {
            return Err(ConfigError::DatabaseUrl(self.database_url.to_string()));
        }
        if let Some(base) = &self.base_url {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(ConfigError::BaseUrl(base.clone()));
            }
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Zero("max_body_bytes"));
        }
        if self.subscriptions.max_attempts == 0 {
            return Err(ConfigError::Zero("subscription_max_attempts"));
        }
        if self.subscriptions.error_after == 0 {
            return Err(ConfigError::Zero("subscription_error_after"));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::Zero("database_max_connections"));
        }
        let policy = &self.validation;
        for (rtype, profiles) in &policy.enforced {
            if ResourceType::parse(rtype).is_none() || profiles.iter().any(|p| p.trim().is_empty()) {
                return Err(ConfigError::EnforceProfile(format!("{rtype}={}", profiles.join(","))));
            }
        }
        if policy.mode == ValidationMode::Enforced && policy.enforced.values().all(Vec::is_empty) {
            return Err(ConfigError::NothingEnforced);
        }
        Ok(self)
    }
}

/// `Type=url` pairs (flags, `IPE_ENFORCE_PROFILES`) grouped by type.
fn enforce_pairs(pairs: &[String]) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let mut enforced: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in pairs.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (rtype, url) = pair
            .split_once('=')
            .ok_or_else(|| ConfigError::EnforceProfile(pair.to_owned()))?;
        enforced
            .entry(rtype.trim().to_owned())
            .or_default()
            .push(url.trim().to_owned());
    }
    Ok(enforced)
}

fn subscription_settings(o: &Overrides, file: &FileConfig) -> crate::subscriptions::Settings {
    let d = crate::subscriptions::Settings::default();
    let ms = |flag: Option<u64>, in_file: Option<u64>, default: Duration| {
        flag.or(in_file).map_or(default, Duration::from_millis)
    };
    crate::subscriptions::Settings {
        retry_base: ms(
            o.subscription_retry_base_ms,
            file.subscription_retry_base_ms,
            d.retry_base,
        ),
        retry_max: ms(o.subscription_retry_max_ms, file.subscription_retry_max_ms, d.retry_max),
        max_attempts: o
            .subscription_max_attempts
            .or(file.subscription_max_attempts)
            .unwrap_or(d.max_attempts),
        error_after: o
            .subscription_error_after
            .or(file.subscription_error_after)
            .unwrap_or(d.error_after),
        timeout: ms(o.subscription_timeout_ms, file.subscription_timeout_ms, d.timeout),
        hmac_secret: o
            .subscription_hmac_secret
            .clone()
            .or(file.subscription_hmac_secret.clone())
            .filter(|s| !s.is_empty()),
        poll: ms(o.subscription_poll_ms, file.subscription_poll_ms, d.poll),
        lease: ms(o.subscription_lease_ms, file.subscription_lease_ms, d.lease),
        smtp_url: o
            .subscription_smtp_url
            .clone()
            .or(file.subscription_smtp_url.clone())
            .filter(|s| !s.is_empty()),
        smtp_from: o
            .subscription_smtp_from
            .clone()
            .or(file.subscription_smtp_from.clone())
            .unwrap_or(d.smtp_from),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: shown,
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_port_8080_and_embedded_sqlite() {
        let c = Config::load(&Overrides::default()).map_err(|e| e.to_string());
        let c = c.as_ref().map(|c| (c.port, c.database_url.expose().to_string()));
        assert_eq!(c, Ok((8080, "sqlite:./data/ipe.db".to_string())));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("ipe-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("ipe.toml");
        let _ = std::fs::write(&file, "port = 9000\nupdate_create = false\n");
        let o = Overrides {
            config: Some(file),
            port: Some(9100),
            ..Default::default()
        };
        let c = Config::load(&o).map_err(|e| e.to_string());
        assert_eq!(c.as_ref().map(|c| (c.port, c.update_create)), Ok((9100, false)));
    }

    #[test]
    fn unknown_database_scheme_is_refused_at_start() {
        let o = Overrides {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        };
        assert!(matches!(Config::load(&o), Err(ConfigError::DatabaseUrl(_))));
    }

    #[test]
    fn validation_stays_structural_unless_configured() {
        let c = Config::load(&Overrides::default()).map_err(|e| e.to_string());
        assert_eq!(c.map(|c| c.validation.mode), Ok(ValidationMode::Structural));
    }

    #[test]
    fn enforced_profiles_are_read_as_type_url_pairs() {
        let o = Overrides {
            validation: Some(ValidationMode::Enforced),
            enforce_profiles: vec![
                "Patient=http://a".into(),
                "Patient=http://b".into(),
                "Observation=http://c".into(),
            ],
            ..Default::default()
        };
        let c = Config::load(&o).map_err(|e| e.to_string());
        let patient = c.map(|c| c.validation.enforced.get("Patient").cloned());
        assert_eq!(patient, Ok(Some(vec!["http://a".to_owned(), "http://b".to_owned()])));
    }

    #[test]
    fn enforcing_nothing_or_an_unknown_type_is_refused_at_start() {
        let enforced = |pairs: Vec<String>| Overrides {
            validation: Some(ValidationMode::Enforced),
            enforce_profiles: pairs,
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&enforced(vec![])),
            Err(ConfigError::NothingEnforced)
        ));
        assert!(matches!(
            Config::load(&enforced(vec!["Patiente=http://a".into()])),
            Err(ConfigError::EnforceProfile(_))
        ));
        assert!(matches!(
            Config::load(&enforced(vec!["http://a".into()])),
            Err(ConfigError::EnforceProfile(_))
        ));
    }

    #[test]
    fn the_file_gives_enforced_profiles_as_a_table() {
        let dir = std::env::temp_dir().join(format!("ipe-config-enforced-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("ipe.toml");
        let text =
            "validation = \"enforced\"\nunknown_profile = \"error\"\n[enforced_profiles]\nPatient = [\"http://a\"]\n";
        let _ = std::fs::write(&file, text);
        let o = Overrides {
            config: Some(file),
            ..Default::default()
        };
        let c = Config::load(&o).map_err(|e| e.to_string());
        let got = c.map(|c| (c.validation.unknown_profile, c.validation.enforced.len()));
        assert_eq!(got, Ok((UnknownProfile::Error, 1)));
    }

    #[test]
    fn password_never_prints() {
        let u = DatabaseUrl("postgres://ipe:s3cret@db:5432/ipe".into());
        assert_eq!(u.to_string(), "postgres://ipe:***@db:5432/ipe");
    }
}
