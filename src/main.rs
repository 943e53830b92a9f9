//! The `ipe` command: `serve` (default), `migrate` and `packages`.

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
    init_logging(config.log_format);
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
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
