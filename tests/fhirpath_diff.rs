//! Differential test of Ipê's FHIRPath engine against `rh-fhirpath`
//! (crates.io): every R4 SearchParameter expression on every resource of the
//! 78 Synthea Bundles (the pairs of `support/fhirpath_pairs.rs`) must give
//! the same normalized result in both, or the difference must be explained
//! in [`EXPLAINED`].
//!
//! A pair differs when the results differ, or when one engine or both fail
//! (to compile or to evaluate). Differences are grouped by SearchParameter,
//! with one example each, and printed with a summary; the test fails on any
//! group whose SearchParameter is not in [`EXPLAINED`].
//!
//! Needs the outside test data (`IPE_TEST_DATA`, default `../shared/fhir`);
//! fails when it is missing. `cargo test --test fhirpath_diff -- --nocapture`
//! shows the report on success too.

#[path = "support/fhirpath_pairs.rs"]
mod pairs;

use std::collections::BTreeMap;

use pairs::{Ipe, Rh, SearchParam, Workload};
use serde_json::{json, Value};

/// SearchParameters (by id) on which Ipê and rh-fhirpath may differ, each
/// with why Ipê's result is right, citing the FHIRPath or FHIR specification.
const EXPLAINED: &[(&str, &str)] = &[
    (
        "Resource-id",
        "`Resource.id` on a Patient: a leading type name selects the context when the context is of \
         that type or a subtype (N1 §4.1, Path selection); rh-fhirpath only matches the exact type and \
         returns nothing on every resource",
    ),
    (
        "Resource-tag",
        "`Resource.meta.tag`: the same type-name prefix rule as Resource-id",
    ),
    (
        "Observation-value-concept",
        "`Observation.value as CodeableConcept` on a valueCodeableConcept: choice elements carry their \
         type (fhir R4 fhirpath.html §2.1.9.1.1, polymorphism), so `as` returns the element; \
         rh-fhirpath returns nothing (fhirpath.js agrees with Ipê)",
    ),
    (
        "Observation-combo-value-concept",
        "the same `as CodeableConcept` on a choice element",
    ),
    (
        "Observation-value-string",
        "the same `as CodeableConcept` on a choice element (its `.text`)",
    ),
    (
        "clinical-code",
        "the same `as CodeableConcept` on `MedicationRequest.medication[x]`",
    ),
    (
        "Observation-value-quantity",
        "`Observation.value as Quantity`: `as` returns the FHIR Quantity element itself, with its \
         `system` and `code` (N1 §6.3 `as`: the input item when of that type) and its decimal as written; \
         rh-fhirpath converts it to a System.Quantity, dropping system and code and passing the value \
         through f64 (167.77334700962666147461277428)",
    ),
    (
        "Observation-combo-value-quantity",
        "the same `as Quantity` conversion as Observation-value-quantity",
    ),
    (
        "Observation-component-value-quantity",
        "`Observation.component.value as Quantity` on the two components of a blood pressure: N1 makes \
         `as` on several items an error, which rh-fhirpath raises; R4's SearchParameters rely on `as` \
         filtering a collection (R5 rewrote them with ofType()), so outside strict mode Ipê filters \
         (docs/fhirpath.md)",
    ),
    (
        "Observation-component-value-concept",
        "the same `as` on a collection as Observation-component-value-quantity",
    ),
    (
        "Encounter-practitioner",
        "uses `resolve()`, which rh-fhirpath does not implement (error: Unknown function: resolve)",
    ),
    (
        "clinical-patient",
        "uses `resolve()`, which rh-fhirpath does not implement; Ipê returns nothing here only because \
         the test evaluates Synthea entries whose references are still `urn:uuid:` into a Bundle that \
         is not the context (the server rewrites them to `Patient/id` before indexing, and then \
         `resolve() is Patient` holds)",
    ),
];

/// How one pair came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Equal,
    ResultsDiffer,
    IpeFailed,
    RhFailed,
    BothFailed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Equal => "equal",
            Outcome::ResultsDiffer => "results differ",
            Outcome::IpeFailed => "only Ipê failed",
            Outcome::RhFailed => "only rh-fhirpath failed",
            Outcome::BothFailed => "both failed",
        }
    }
}

/// The differences on one SearchParameter: how many pairs of each kind, and
/// the first example of each kind.
#[derive(Default)]
struct Group {
    counts: BTreeMap<Outcome, usize>,
    examples: BTreeMap<Outcome, String>,
}

#[derive(Default)]
struct Summary {
    pairs: usize,
    outcomes: BTreeMap<Outcome, usize>,
    ipe_compile_errors: usize,
    rh_compile_errors: usize,
    ipe_eval_errors: usize,
    rh_eval_errors: usize,
}

/// One engine's result for one pair: the normalized collection, or why
/// there is none.
type Evaluated = Result<Vec<Value>, String>;

#[test]
fn ipe_and_rh_fhirpath_agree_on_search_parameter_expressions() {
    let workload = Workload::load(None);
    let ipe = Ipe::new();
    let rh = Rh::new();
    let ipe_compiled: Vec<_> = workload.params.iter().map(|p| ipe.compile(&p.expression)).collect();
    let rh_compiled: Vec<_> = workload.params.iter().map(|p| rh.compile(&p.expression)).collect();

    let mut summary = Summary {
        ipe_compile_errors: ipe_compiled.iter().filter(|c| c.is_err()).count(),
        rh_compile_errors: rh_compiled.iter().filter(|c| c.is_err()).count(),
        ..Summary::default()
    };
    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for resource in &workload.resources {
        let context = rh.context(resource);
        for &i in workload.params_for(resource) {
            let ours: Evaluated = match &ipe_compiled[i] {
                Ok(e) => ipe
                    .evaluate_json(e, resource)
                    .inspect_err(|_| summary.ipe_eval_errors += 1),
                Err(e) => Err(format!("does not compile: {e}")),
            };
            let theirs: Evaluated = match &rh_compiled[i] {
                Ok(e) => rh
                    .evaluate_json(e, &context)
                    .inspect_err(|_| summary.rh_eval_errors += 1),
                Err(e) => Err(format!("does not compile: {e}")),
            };
            let outcome = compare(&ours, &theirs);
            summary.pairs += 1;
            *summary.outcomes.entry(outcome).or_default() += 1;
            if outcome != Outcome::Equal {
                let group = groups.entry(i).or_default();
                *group.counts.entry(outcome).or_default() += 1;
                group
                    .examples
                    .entry(outcome)
                    .or_insert_with(|| example(resource, &ours, &theirs));
            }
        }
    }

    print_summary(&summary);
    print_compile_failures("Ipê", &ipe_compiled, &workload.params);
    print_compile_failures("rh-fhirpath", &rh_compiled, &workload.params);
    print_groups(&groups, &workload.params);
    let unexplained: Vec<&str> = groups
        .keys()
        .map(|&i| workload.params[i].id.as_str())
        .filter(|id| !EXPLAINED.iter().any(|(explained, _)| explained == id))
        .collect();
    assert!(
        unexplained.is_empty(),
        "Ipê and rh-fhirpath differ on {} SearchParameters not in EXPLAINED (report above): {}",
        unexplained.len(),
        unexplained.join(", ")
    );
}

fn compare(ours: &Evaluated, theirs: &Evaluated) -> Outcome {
    match (ours, theirs) {
        (Ok(a), Ok(b)) if pairs::same_results(a, b) => Outcome::Equal,
        (Ok(_), Ok(_)) => Outcome::ResultsDiffer,
        (Err(_), Ok(_)) => Outcome::IpeFailed,
        (Ok(_), Err(_)) => Outcome::RhFailed,
        (Err(_), Err(_)) => Outcome::BothFailed,
    }
}

fn example(resource: &Value, ours: &Evaluated, theirs: &Evaluated) -> String {
    let show = |r: &Evaluated| match r {
        Ok(items) => clipped(&Value::Array(items.clone()).to_string()),
        Err(e) => format!("error: {}", clipped(e)),
    };
    format!(
        "on {}\n        Ipê:         {}\n        rh-fhirpath: {}",
        pairs::resource_ref(resource),
        show(ours),
        show(theirs)
    )
}

/// At most 300 characters of `text`, so that one huge result does not bury
/// the report.
fn clipped(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn print_summary(s: &Summary) {
    println!(
        "FHIRPath differential test, Ipê vs rh-fhirpath: {} pairs evaluated",
        s.pairs
    );
    for (outcome, count) in &s.outcomes {
        println!("  {:<24} {count}", outcome.label());
    }
    println!(
        "  expressions that do not compile: Ipê {}, rh-fhirpath {}",
        s.ipe_compile_errors, s.rh_compile_errors
    );
    println!(
        "  evaluation errors: Ipê {}, rh-fhirpath {}",
        s.ipe_eval_errors, s.rh_eval_errors
    );
}

/// Every expression an engine cannot compile, paired with a Synthea
/// resource or not.
fn print_compile_failures<C>(engine: &str, compiled: &[Result<C, String>], params: &[SearchParam]) {
    for (p, c) in params.iter().zip(compiled) {
        if let Err(e) = c {
            println!("  {engine} does not compile {}: {}\n    -> {e}", p.id, p.expression);
        }
    }
}

fn print_groups(groups: &BTreeMap<usize, Group>, params: &[SearchParam]) {
    if groups.is_empty() {
        return;
    }
    println!("\nDifferences by SearchParameter ({}):", groups.len());
    for (&i, group) in groups {
        let p = &params[i];
        let explained = EXPLAINED.iter().find(|(id, _)| *id == p.id);
        println!(
            "\n{} (code {}){}\n  {}",
            p.id,
            p.code,
            if explained.is_some() { " [explained]" } else { "" },
            p.expression
        );
        for (outcome, count) in &group.counts {
            println!("    {} × {count}: {}", outcome.label(), group.examples[outcome]);
        }
    }
}

#[test]
fn normalized_numbers_compare_by_decimal_value() {
    let n = |s: &str| Value::Number(s.parse().expect("number"));
    let same = |a: Value, b: Value| pairs::same_results(&[a], &[b]);
    assert!(same(n("1.0"), n("1.00")));
    assert!(same(n("1"), n("1.000")));
    assert!(same(n("1.5"), n("15e-1")));
    assert!(same(n("0.0"), n("-0")));
    assert!(same(n("100"), n("1e2")));
    assert!(!same(n("1.5"), n("1.05")));
    assert!(!same(n("-1"), n("1")));
    assert!(!same(n("1"), Value::String("1".into())));
    assert!(same(
        json!({"value": n("2.50"), "unit": "mg"}),
        json!({"unit": "mg", "value": n("2.5")})
    ));
}

#[test]
fn normalized_collections_compare_in_order() {
    assert!(pairs::same_results(&[json!("a"), json!(1)], &[json!("a"), json!(1)]));
    assert!(!pairs::same_results(
        &[json!("a"), json!("b")],
        &[json!("b"), json!("a")]
    ));
    assert!(!pairs::same_results(&[json!("a")], &[json!("a"), json!("a")]));
}
