//! The printed report: a table of every run, the agreement figures, the
//! skipped runs by reason, and the disagreements grouped by kind with both
//! sides' errors, so an engineer can go from a line here to the case.

use std::collections::BTreeMap;

use ipe::outcome::Issue;

use super::case::{Expected, Run, Skip};
use super::compare::{is_error, location_difference, Verdict};

/// One compared run.
pub struct Row {
    pub run: Run,
    pub verdict: Verdict,
    pub ours: Vec<Issue>,
    pub notes: Vec<String>,
}

/// The figures asserted on.
pub struct Totals {
    pub ran: usize,
    pub error_agrees: usize,
    pub count_agrees: usize,
    pub exact: usize,
}

pub fn totals(rows: &[Row]) -> Totals {
    Totals {
        ran: rows.len(),
        error_agrees: rows.iter().filter(|r| r.verdict.error_agrees()).count(),
        count_agrees: rows.iter().filter(|r| r.verdict.count_agrees()).count(),
        exact: rows.iter().filter(|r| r.verdict == Verdict::Agree).count(),
    }
}

pub fn print(rows: &[Row], skipped: &[Skip], cases: usize) {
    println!("\n=== FHIR validator cases (fhir-test-cases, R4) against the Java validator ===");
    println!(
        "{cases} cases → {} runs (a case with a profile step runs twice): {} ran, {} skipped\n",
        rows.len() + skipped.len(),
        rows.len(),
        skipped.len()
    );
    print_table(rows);
    print_skipped(skipped);
    print_totals(rows);
    print_disagreements(rows);
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<46} {:<7} {:<10} {:>5} {:>5}  verdict",
        "case", "variant", "module", "java", "ipê"
    );
    println!("{}", "-".repeat(96));
    for r in rows {
        println!(
            "{:<46} {:<7} {:<10} {:>5} {:>5}  {}",
            truncate(&r.run.case, 46),
            r.run.variant.name(),
            r.run.module,
            r.run.expected.error_count(),
            r.ours.iter().filter(|i| is_error(i)).count(),
            r.verdict.label()
        );
    }
}

fn print_skipped(skipped: &[Skip]) {
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in skipped {
        by_reason
            .entry(s.reason)
            .or_default()
            .push(format!("{} [{}] ({})", s.case, s.variant.name(), s.detail));
    }
    println!("\n--- skipped: {} runs ---", skipped.len());
    for (reason, runs) in by_reason {
        println!("{:>3}  {reason}:", runs.len());
        for run in runs {
            println!("       {run}");
        }
    }
}

fn print_totals(rows: &[Row]) {
    let t = totals(rows);
    let pct = |n: usize| 100.0 * n as f64 / t.ran.max(1) as f64;
    println!("\n--- agreement over {} runs ---", t.ran);
    println!(
        "error / no error : {:>4} ({:.1}%)   ← issue 6 target ≥ 85%",
        t.error_agrees,
        pct(t.error_agrees)
    );
    println!("same error count : {:>4} ({:.1}%)", t.count_agrees, pct(t.count_agrees));
    println!(
        "same errors      : {:>4} ({:.1}%)   (count, and locations where Java gives them)",
        t.exact,
        pct(t.exact)
    );
    let mut kinds: BTreeMap<Verdict, usize> = BTreeMap::new();
    for r in rows {
        *kinds.entry(r.verdict).or_default() += 1;
    }
    for (verdict, n) in kinds {
        println!("  {:<17} {n:>4}", verdict.label());
    }
}

fn print_disagreements(rows: &[Row]) {
    for kind in [
        Verdict::Panicked,
        Verdict::WeMissError,
        Verdict::WeFalseError,
        Verdict::CountDiffers,
        Verdict::LocationsDiffer,
    ] {
        let these: Vec<&Row> = rows.iter().filter(|r| r.verdict == kind).collect();
        if these.is_empty() {
            continue;
        }
        println!("\n--- {}: {} runs ---", kind.label(), these.len());
        for r in these {
            print_disagreement(r);
        }
    }
}

fn print_disagreement(r: &Row) {
    println!(
        "\n* {} [{}] ({}) — {}",
        r.run.case,
        r.run.variant.name(),
        r.run.module,
        r.run.input.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
    );
    if let Expected::Outcome(errors) = &r.run.expected {
        let (only_java, only_ours) = location_difference(errors, &r.ours);
        if !only_java.is_empty() || !only_ours.is_empty() {
            println!("    only java at: {only_java:?}");
            println!("    only ipê at:  {only_ours:?}");
        }
        for e in errors {
            println!("    java: {} — {}", e.location, truncate(&e.message, 160));
        }
    } else {
        println!("    java: {} errors (count only)", r.run.expected.error_count());
    }
    for i in r.ours.iter().filter(|i| is_error(i)) {
        println!(
            "    ipê:  {} — {}",
            i.expression.as_deref().unwrap_or(""),
            truncate(&i.diagnostics, 160)
        );
    }
    for note in &r.notes {
        println!("    note: {note}");
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
