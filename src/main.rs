//! The `ipe` command: `serve` (default), `migrate`, `packages` and
//! `validate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ipe::config::{Config, LogFormat, Overrides};
use ipe::packages::{Loader, PackageCache};
use ipe::startup::{migrate, Application};

#[derive(Parser)]
#[command(name = "ipe", version, about = "Ipê, a FHIR R4 server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Overrides,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the FHIR API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage the FHIR package cache.
    #[command(subcommand)]
    Packages(PackagesCommand),
    /// Validate resource files (JSON or XML) offline: structure, base
    /// definition, `meta.profile` and each `--profile`, with the packages
    /// of `--package`. Exit code 0: no errors; 1: errors; 2: a file, a
    /// package or a profile could not be used.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A profile (canonical URL) every file must conform to; repeatable.
        #[arg(long = "profile")]
        profiles: Vec<String>,
    },
}

#[derive(Subcommand)]
enum PackagesCommand {
    /// Install packages (and their dependencies) into the package cache:
    /// `name@version`, a `.tgz` file or a package folder.
    Install {
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// List the cached packages with their resources by type.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ipe: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // A report on stdout must not be mixed with logs: for `validate` they
    // go to stderr, warnings and errors only.
    let validating = matches!(cli.command, Some(Command::Validate { .. }));
    init_logging(config.log_format, validating);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipe: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => migrate(&config).await.map_err(|e| e.to_string()),
            Command::Serve => serve(&config).await,
            Command::Packages(PackagesCommand::Install { packages }) => install_packages(&config, &packages).await,
            Command::Packages(PackagesCommand::List) => {
                ipe::packages::cli::list(&PackageCache::new(&config.package_cache)).map(|out| print!("{out}"))
            }
            Command::Validate { files, profiles } => {
                return validate(&config, &files, &profiles).await;
            }
        }
        .map(|()| ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ipe: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let app = Application::build(config).await.map_err(|e| e.to_string())?;
    tracing::info!(port = app.port(), database = %config.database_url, "Ipê is serving FHIR R4");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn install_packages(config: &Config, packages: &[String]) -> Result<(), String> {
    let loader = Loader {
        cache: PackageCache::new(&config.package_cache),
        registry_url: config.package_registry.clone(),
    };
    let specs = ipe::packages::sets::expand(packages);
    let out = ipe::packages::cli::install(&loader, &specs).await?;
    print!("{out}");
    Ok(())
}

/// `ipe validate`: the exit code is the result (see `validation::cli`).
async fn validate(config: &Config, files: &[PathBuf], profiles: &[String]) -> Result<ExitCode, String> {
    match ipe::validation::cli::run(config, files, profiles, |report| print!("{report}")).await {
        Ok(summary) => {
            println!(
                "{} file(s): {} invalid, {} unreadable",
                summary.files, summary.invalid, summary.unreadable
            );
            Ok(ExitCode::from(summary.exit_code()))
        }
        Err(e) => {
            eprintln!("ipe validate: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Logs to stdout at `info` for the server; to stderr at `warn` for a
/// command whose stdout is its output (`IPE_LOG` overrides the level).
fn init_logging(format: LogFormat, to_stderr: bool) {
    let default = if to_stderr { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("IPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match (format, to_stderr) {
        (LogFormat::Json, false) => builder.json().init(),
        (LogFormat::Json, true) => builder.json().with_writer(std::io::stderr).init(),
        (LogFormat::Text, false) => builder.init(),
        (LogFormat::Text, true) => builder.with_writer(std::io::stderr).init(),
    }
}
