//! FHIRPath benchmark: every R4 SearchParameter expression evaluated on every
//! resource of the 78 Synthea Bundles (24,230 resources), through
//!
//! - Ipê's engine (`ipe::fhirpath`),
//! - `rh-fhirpath` (crates.io), and
//! - `fhirpath` (the HL7 JavaScript engine, npm) with its R4 model, run by
//!   `node benches/fhirpath-js/bench.mjs` on a work file this program writes.
//!
//! Which expressions run on which resource is `tests/support/fhirpath_pairs.rs`
//! (shared with `tests/fhirpath_diff.rs`). Each engine compiles every
//! expression once, untimed; an expression an engine cannot compile is
//! counted and listed, and its pairs are skipped for that engine (not timed).
//! Only evaluation is timed, over all resources in one pass. Errors during
//! evaluation are counted, and their time stays in.
//!
//!     cargo bench --bench fhirpath
//!     IPE_BENCH_LIMIT=5 cargo bench --bench fhirpath   # the first 5 Bundles only
//!     IPE_BENCH_ENGINES=ipe cargo bench --bench fhirpath   # one engine (ipe, rh, js)
//!
//! The data comes from `IPE_TEST_DATA` (default `../shared/fhir`). The
//! JavaScript side needs node and npm; it runs `npm ci` in
//! `benches/fhirpath-js/` when `node_modules` is missing, and is skipped, with
//! a message, when node or npm is absent.

#[path = "../tests/support/fhirpath_pairs.rs"]
mod pairs;

use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pairs::{Ipe, Rh, Workload};
use serde_json::{json, Value};

/// How many compile failures or evaluation errors to show per engine.
const EXAMPLES: usize = 8;

/// One engine's run.
struct Row {
    engine: String,
    evaluations: usize,
    seconds: f64,
    /// Items in all result collections: engines doing the same work return
    /// about as many.
    items: usize,
    compile_failures: usize,
    eval_errors: usize,
}

/// Per-SearchParameter evaluation errors: count and the first message.
struct Errors(Vec<(usize, Option<String>)>);

impl Errors {
    fn new(params: usize) -> Errors {
        Errors(vec![(0, None); params])
    }

    fn record(&mut self, param: usize, message: String) {
        let slot = &mut self.0[param];
        slot.0 += 1;
        slot.1.get_or_insert(message);
    }

    fn total(&self) -> usize {
        self.0.iter().map(|e| e.0).sum()
    }

    fn print(&self, engine: &str, workload: &Workload) {
        let failing: Vec<_> = self.0.iter().enumerate().filter(|(_, e)| e.0 > 0).collect();
        if failing.is_empty() {
            return;
        }
        println!(
            "{engine}: {} evaluation errors, in {} SearchParameters:",
            self.total(),
            failing.len()
        );
        for (i, (count, message)) in failing.iter().take(EXAMPLES) {
            let p = &workload.params[*i];
            println!(
                "  {} ({count}×) {}\n    -> {}",
                p.id,
                clipped(&p.expression),
                message.as_deref().map_or(String::new(), clipped)
            );
        }
        if failing.len() > EXAMPLES {
            println!("  … and {} more", failing.len() - EXAMPLES);
        }
    }
}

fn main() {
    let limit = std::env::var("IPE_BENCH_LIMIT").ok().map(|v| {
        v.parse::<usize>().unwrap_or_else(|_| {
            eprintln!("fhirpath bench: IPE_BENCH_LIMIT must be a number of Bundles, not {v:?}");
            std::process::exit(2);
        })
    });
    let workload = Workload::load(limit);
    println!(
        "FHIRPath benchmark: {} resources{}, {} SearchParameters with an expression, {} (resource, parameter) pairs, {} build\n",
        workload.resources.len(),
        limit.map_or(String::new(), |n| format!(" (first {n} Bundles)")),
        workload.params.len(),
        workload.pair_count(),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    // IPE_BENCH_ENGINES=ipe,rh,js (default all): e.g. `ipe` alone under a profiler.
    let engines = std::env::var("IPE_BENCH_ENGINES").unwrap_or_else(|_| "ipe,rh,js".into());
    let wanted = |name: &str| engines.split(',').any(|e| e.trim() == name);
    let mut rows = Vec::new();
    if wanted("ipe") {
        rows.push(run_ipe(&workload));
    }
    if wanted("rh") {
        rows.push(run_rh(&workload));
    }
    if wanted("js") {
        rows.extend(run_js(&workload));
    }
    println!();
    print_table(&rows, workload.resources.len());
}

/// Compiles every parameter's expression; `None` where `compile` failed
/// (listed, with the first few errors).
fn compile_all<C>(engine: &str, workload: &Workload, compile: impl Fn(&str) -> Result<C, String>) -> Vec<Option<C>> {
    let mut failures = Vec::new();
    let compiled = workload
        .params
        .iter()
        .map(|p| {
            compile(&p.expression)
                .map_err(|e| failures.push(format!("{}: {}\n    -> {}", p.id, clipped(&p.expression), clipped(&e))))
                .ok()
        })
        .collect();
    if !failures.is_empty() {
        println!(
            "{engine}: {} expressions do not compile (their pairs are skipped):",
            failures.len()
        );
        print_examples(&failures);
    }
    compiled
}

/// At most 160 characters of `text`: some expressions and messages run to
/// thousands.
fn clipped(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn print_examples(lines: &[String]) {
    for line in lines.iter().take(EXAMPLES) {
        println!("  {line}");
    }
    if lines.len() > EXAMPLES {
        println!("  … and {} more", lines.len() - EXAMPLES);
    }
}

fn run_ipe(workload: &Workload) -> Row {
    let ipe = Ipe::new();
    let compiled = compile_all("Ipê", workload, |e| ipe.compile(e));
    let mut errors = Errors::new(workload.params.len());
    let (mut evaluations, mut items) = (0, 0);
    let start = Instant::now();
    for resource in &workload.resources {
        for &i in workload.params_for(resource) {
            let Some(expression) = &compiled[i] else { continue };
            evaluations += 1;
            match ipe.evaluate(expression, resource, |result| black_box(result).len()) {
                Ok(n) => items += n,
                Err(e) => errors.record(i, e),
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    errors.print("Ipê", workload);
    Row {
        engine: "Ipê".into(),
        evaluations,
        seconds,
        items,
        compile_failures: compiled.iter().filter(|c| c.is_none()).count(),
        eval_errors: errors.total(),
    }
}

fn run_rh(workload: &Workload) -> Row {
    let rh = Rh::new();
    let compiled = compile_all("rh-fhirpath", workload, |e| rh.compile(e));
    let mut errors = Errors::new(workload.params.len());
    let (mut evaluations, mut items) = (0, 0);
    let start = Instant::now();
    for resource in &workload.resources {
        // Timed: its API needs an owned copy of each resource.
        let context = rh.context(resource);
        for &i in workload.params_for(resource) {
            let Some(expression) = &compiled[i] else { continue };
            evaluations += 1;
            match rh.evaluate(expression, &context) {
                Ok(value) => items += pairs::rh_len(black_box(&value)),
                Err(e) => errors.record(i, e),
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    errors.print("rh-fhirpath", workload);
    Row {
        engine: format!("rh-fhirpath {}", rh_version()),
        evaluations,
        seconds,
        items,
        compile_failures: compiled.iter().filter(|c| c.is_none()).count(),
        eval_errors: errors.total(),
    }
}

/// rh-fhirpath's version, from Cargo.lock (the crate does not export it).
fn rh_version() -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap_or_default();
    lock.split("[[package]]")
        .find(|p| p.contains("name = \"rh-fhirpath\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map_or_else(String::new, |v| v.trim_matches('"').to_string())
}

// ---------------------------------------------------------------------------
// fhirpath.js

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fhirpath-js")
}

/// Runs bench.mjs on the workload; `None`, after saying why, when it cannot.
fn run_js(workload: &Workload) -> Option<Row> {
    for tool in ["node", "npm"] {
        if !runs(Command::new(tool).arg("--version")) {
            println!("fhirpath.js: skipped: `{tool}` is not installed (the JavaScript side needs node and npm)");
            return None;
        }
    }
    let dir = js_dir();
    if !dir.join("node_modules").is_dir() {
        println!("fhirpath.js: installing it with `npm ci` in {}", dir.display());
        if !runs(
            Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        ) {
            println!("fhirpath.js: skipped: `npm ci` failed");
            return None;
        }
    }
    let work = std::env::temp_dir().join(format!("ipe-fhirpath-bench-{}.jsonl", std::process::id()));
    if let Err(e) = write_work_file(&work, workload) {
        println!("fhirpath.js: skipped: cannot write {} ({e})", work.display());
        return None;
    }
    let output = Command::new("node")
        .arg(dir.join("bench.mjs"))
        .arg(&work)
        .stderr(Stdio::inherit())
        .output();
    let _ = std::fs::remove_file(&work);
    let report = match output {
        Ok(out) if out.status.success() => last_json_line(&out.stdout),
        Ok(out) => {
            println!("fhirpath.js: skipped: bench.mjs failed ({})", out.status);
            return None;
        }
        Err(e) => {
            println!("fhirpath.js: skipped: cannot run node ({e})");
            return None;
        }
    };
    let Some(report) = report else {
        println!("fhirpath.js: skipped: bench.mjs printed no JSON result");
        return None;
    };
    Some(js_row(&report))
}

fn runs(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The work file bench.mjs reads: a first line with the expressions and
/// which apply to which resource type, then one resource per line.
fn write_work_file(path: &Path, workload: &Workload) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let params: Vec<Value> = workload
        .params
        .iter()
        .map(|p| json!({"id": p.id, "expression": p.expression}))
        .collect();
    let header = json!({"params": params, "byType": workload.params_by_type()});
    writeln!(out, "{header}")?;
    for resource in &workload.resources {
        writeln!(out, "{resource}")?;
    }
    out.flush()
}

fn last_json_line(stdout: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(stdout);
    text.lines().rev().find_map(|l| serde_json::from_str(l).ok())
}

fn js_row(report: &Value) -> Row {
    let count = |key: &str| report[key].as_u64().unwrap_or(0) as usize;
    let list = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        let text = |key: &str| clipped(f[key].as_str().unwrap_or(""));
                        format!("{}: {}\n    -> {}", text("id"), text("expression"), text("error"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let failures = list("compileFailures");
    if !failures.is_empty() {
        println!(
            "fhirpath.js: {} expressions do not compile (their pairs are skipped):",
            failures.len()
        );
        print_examples(&failures);
    }
    let eval_errors = count("evalErrors");
    if eval_errors > 0 {
        println!("fhirpath.js: {eval_errors} evaluation errors; first per SearchParameter:");
        print_examples(&list("evalErrorExamples"));
    }
    Row {
        engine: format!("fhirpath.js {}", report["version"].as_str().unwrap_or("")),
        evaluations: count("evaluations"),
        seconds: report["seconds"].as_f64().unwrap_or(0.0),
        items: count("items"),
        compile_failures: failures.len(),
        eval_errors,
    }
}

// ---------------------------------------------------------------------------
// The table

fn print_table(rows: &[Row], resources: usize) {
    println!(
        "{:<20} {:>12} {:>9} {:>14} {:>13} {:>11} {:>10} {:>11}",
        "engine", "evaluations", "seconds", "evaluations/s", "µs/resource", "items", "uncompiled", "eval errors"
    );
    for r in rows {
        println!(
            "{:<20} {:>12} {:>9.3} {:>14} {:>13.1} {:>11} {:>10} {:>11}",
            r.engine,
            thousands(r.evaluations),
            r.seconds,
            thousands((r.evaluations as f64 / r.seconds) as usize),
            r.seconds * 1e6 / resources as f64,
            thousands(r.items),
            r.compile_failures,
            r.eval_errors
        );
    }
    if let Some(line) = ratio_line(rows) {
        println!("\n{line}");
    }
}

/// Ipê's time per evaluation over the fastest other engine's (per
/// evaluation, as engines that skip expressions evaluate fewer pairs).
fn ratio_line(rows: &[Row]) -> Option<String> {
    let per_eval = |r: &Row| r.seconds / r.evaluations as f64;
    let (ipe, others) = rows.split_first()?;
    let fastest = others
        .iter()
        .filter(|r| r.evaluations > 0)
        .min_by(|a, b| per_eval(a).total_cmp(&per_eval(b)))?;
    Some(format!(
        "Ipê / fastest other ({}): {:.2} (time per evaluation; below 1 is Ipê faster)",
        fastest.engine,
        per_eval(ipe) / per_eval(fastest)
    ))
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
