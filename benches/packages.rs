//! Loading implementation-guide packages: time and peak memory to load the
//! base R4 definitions plus US Core 6.1.0 (with its dependency THO 7.0.1),
//! BR Core and RNDS, as `ipe serve --package …` does at start (issue 5,
//! must-show 4; targets ≤ 5 s and ≤ 300 MB).
//!
//! ```sh
//! cargo bench --bench packages
//! ```
//!
//! The packages are read from `$IPE_TEST_DATA/packages` (default
//! `../shared/fhir`), installed into a temporary package cache first (not
//! timed), then loaded offline from that cache by a fresh process (this
//! program again, with `IPE_BENCH_PACKAGE_CACHE` set), so that process's peak
//! resident size (VmHWM) is the load's own; later loads give the time spread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod support;

use ipe::packages::{base, CanonicalRegistry, Loader, PackageCache};

const RUNS: usize = 5;

fn main() {
    if let Err(e) = run() {
        eprintln!("packages bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if let Some(cache) = std::env::var_os("IPE_BENCH_PACKAGE_CACHE") {
        return measure(&runtime, PathBuf::from(cache));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cache_dir = std::env::temp_dir().join(format!("ipe-bench-packages-{}", std::process::id()));
    let loader = Loader {
        cache: PackageCache::new(&cache_dir),
        registry_url: None,
    };
    support::install_ig_packages(&runtime, &loader)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(exe)
        .env("IPE_BENCH_PACKAGE_CACHE", &cache_dir)
        .status()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&cache_dir);
    match status? {
        s if s.success() => Ok(()),
        s => Err(format!("the measuring process failed: {s}")),
    }
}

/// The measurement proper, in a process that has done nothing else.
fn measure(runtime: &tokio::runtime::Runtime, cache_dir: PathBuf) -> Result<(), String> {
    let loader = Loader {
        cache: PackageCache::new(&cache_dir),
        registry_url: None,
    };
    let specs = support::ig_package_specs();
    let before = peak_rss_mb();
    let mut times = Vec::new();
    let mut peak_after_first = 0.0;
    let mut summary = String::new();
    for run in 0..RUNS {
        let started = Instant::now();
        let registry = base::registry();
        let (report, _) = runtime
            .block_on(loader.load(&specs, &registry))
            .map_err(|e| e.to_string())?;
        // As `ipe serve` does: BR Core ships differentials only.
        let snapshots = ipe::packages::snapshot::fill_missing(&registry);
        times.push(started.elapsed());
        if run == 0 {
            peak_after_first = peak_rss_mb();
            summary = describe(&registry, &report);
            summary.push_str(&format!(
                "\n  snapshots generated at load: {}, failed: {}",
                snapshots.generated.len(),
                snapshots.failed.len()
            ));
        }
    }
    times.sort();
    println!("Ipê package load benchmark: {} CPUs, release build", num_cpus());
    println!("{summary}");
    println!("load time (base + US Core 6.1.0 + THO 7.0.1 + BR Core + RNDS, snapshots included), {RUNS} runs:");
    println!(
        "  first {:>8.1} ms   p50 {:>8.1} ms   max {:>8.1} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
    println!("peak resident memory: {before:.0} MB before, {peak_after_first:.0} MB after the first load");
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: load ≤ 5 s: {}; ≤ 300 MB: {}",
        met(times[RUNS / 2] <= Duration::from_secs(5)),
        met(peak_after_first <= 300.0)
    );
    // Bodies are parsed on first use; the worst case is a process that
    // uses every StructureDefinition.
    let registry = base::registry();
    runtime
        .block_on(loader.load(&specs, &registry))
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let parsed = registry
        .entries("StructureDefinition")
        .iter()
        .filter(|e| e.resource().is_some())
        .count();
    println!(
        "parsing all {parsed} StructureDefinitions afterwards: {:.0} ms, peak {:.0} MB",
        ms(started.elapsed()),
        peak_rss_mb()
    );
    Ok(())
}

fn describe(registry: &CanonicalRegistry, report: &ipe::packages::LoadReport) -> String {
    let mut lines: Vec<String> = report
        .loaded
        .iter()
        .map(|l| {
            format!(
                "  {:<48} {:>5} conformance resources  {:>6} ms",
                l.id, l.registered, l.millis
            )
        })
        .collect();
    let total: usize = registry.counts().values().sum();
    lines.push(format!("  registry: {total} resources in all (base R4 included)"));
    lines.join("\n")
}

/// The process's peak resident set size (Linux VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
