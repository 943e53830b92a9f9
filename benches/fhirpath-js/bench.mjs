// fhirpath.js side of benches/fhirpath.rs, which writes the work file and
// runs `node benches/fhirpath-js/bench.mjs <work file>`.
//
// Work file: JSON lines. The first is {"params": [{"id", "expression"}],
// "byType": {"<resource type>": [indexes into params]}}; each further line is
// one resource. Every expression is compiled once with the R4 model,
// untimed; then each resource is evaluated against the expressions of its
// type, and only that loop is timed. Prints one JSON line:
// {"engine", "version", "evaluations", "seconds", "items", "compileFailures":
// [{"id", "expression", "error"}], "evalErrors", "evalErrorExamples": [...]}.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';

const { version } = createRequire(import.meta.url)('fhirpath/package.json');

function readWork(path) {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0]);
  return { ...header, resources: lines.slice(1).map((l) => JSON.parse(l)) };
}

function compileAll(params) {
  const compiled = [];
  const failures = [];
  for (const p of params) {
    try {
      compiled.push(fhirpath.compile(p.expression, r4model));
    } catch (e) {
      compiled.push(null);
      failures.push({ id: p.id, expression: p.expression, error: String(e.message ?? e).split('\n')[0] });
    }
  }
  return { compiled, failures };
}

function run(work, compiled) {
  let evaluations = 0;
  let items = 0;
  let evalErrors = 0;
  // First message per SearchParameter; recorded only on failure.
  const errorExamples = new Map();
  const start = process.hrtime.bigint();
  for (const resource of work.resources) {
    for (const i of work.byType[resource.resourceType] ?? []) {
      const expression = compiled[i];
      if (expression === null) continue;
      evaluations++;
      try {
        items += expression(resource).length;
      } catch (e) {
        evalErrors++;
        if (!errorExamples.has(i)) errorExamples.set(i, String(e.message ?? e).split('\n')[0]);
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const evalErrorExamples = [...errorExamples].map(([i, error]) => ({
    id: work.params[i].id,
    expression: work.params[i].expression,
    error,
  }));
  return { evaluations, seconds, items, evalErrors, evalErrorExamples };
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench.mjs <work file written by benches/fhirpath.rs>');
  process.exit(2);
}
const work = readWork(file);
const { compiled, failures } = compileAll(work.params);
const result = run(work, compiled);
console.log(JSON.stringify({ engine: 'fhirpath.js', version, ...result, compileFailures: failures }));
