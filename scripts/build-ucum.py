#!/usr/bin/env python3
r"""Build conformance/ucum-units.tsv, the UCUM table Ipê's `ucum` module embeds.

Fetches two packages from the npm registry with `npm pack` (exact versions,
integrity checked by npm) and writes one line per UCUM prefix and atom:

  ucum@0.0.7              package/vendor/ucum-essence.xml: the official UCUM
                          essence file, version 1.9 (revision 16410,
                          2013-10-21), unmodified. This is the main source.
  @lhncbc/ucum-lhc@7.1.9  package/data/ucumDefs.min.json: the NLM's table,
                          generated from the essence of UCUM 2.x. Used only
                          for what changed after 1.9 (see below), and each use
                          is checked, so a different upstream fails loudly.

Changes after 1.9 that are applied:

- `[h]` (Planck constant): 1.9 prints 6.6260755e-24 J.s, a typo that UCUM 2.0
  corrected to 6.6260755e-34. The script checks the NLM table agrees.
- Atoms added after 1.9 (`Torr`, `[IR]`, `[degRe]`, `[m/s2/Hz^(1/2)]`) are
  taken from the NLM table (its rows whose source is UCUM, not LOINC).

Nothing else from outside the repository is read. Run from anywhere:

    python3 scripts/build-ucum.py

The output is deterministic: running the script twice gives identical files.

# Format

Tab-separated, `#` starts a comment line:

    kind  code  metric  value  unit  function

- kind: `prefix`, `base` (one of the 7 base units), `ratio` (value times
  unit), `arbitrary` (an arbitrary unit: commensurable only with itself and
  the arbitrary units defined from it), `special` (a non-ratio unit whose
  conversion is `function`, applied to value times unit)
- metric: `y` or `n` (whether the atom takes prefixes); `-` for prefixes
- value: a decimal number, possibly in e-notation, at most 28 significant
  digits (rounded half-even; only pi has more)
- unit: the defining UCUM expression (case-sensitive form); `-` for prefixes
  and base units
- function: for `special`, the essence's function name (`Cel`, `degF`,
  `pH`...); for `base`, the dimension letter of the essence (L T M A C Q F);
  `-` otherwise
"""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

PACKAGES = {
    "essence": "ucum@0.0.7",
    "lhc": "@lhncbc/ucum-lhc@7.1.9",
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "conformance", "ucum-units.tsv")
# rust_decimal holds 28 significant digits (96-bit mantissa) for certain.
MAX_DIGITS = 28
# UCUM 1.9 errata fixed in 2.0: code -> (value, unit) of the corrected definition.
ERRATA = {"[h]": ("6.6260755e-34", "J.s")}
# Atoms of UCUM 2.x that the 1.9 essence lacks; each must be in the NLM table.
ADDED_AFTER_1_9 = ["Torr", "[IR]", "[degRe]", "[m/s2/Hz^(1/2)]"]
# The base units in the order of `ucum::Canonical::dimensions`.
BASE_ORDER = ["m", "s", "g", "rad", "K", "C", "cd"]


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


def number(text: str) -> str:
    """Validate a number and round it to MAX_DIGITS significant digits."""
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise SystemExit(f"not a number: {text!r}")
    if not value.is_finite() or value <= 0:
        raise SystemExit(f"unit values must be positive: {text!r}")
    digits = value.as_tuple().digits
    if len(digits) <= MAX_DIGITS:
        return text.strip()
    ctx = decimal.Context(prec=MAX_DIGITS, rounding=decimal.ROUND_HALF_EVEN)
    return str(ctx.plus(value))


def field(text: str | None) -> str:
    """A TSV field: never empty, never containing a tab or newline."""
    text = (text or "").strip()
    if not text:
        return "-"
    if any(c in text for c in "\t\r\n"):
        raise SystemExit(f"field with a tab or newline: {text!r}")
    return text


def essence_rows(path: str) -> tuple[list[list[str]], str]:
    """Rows for every prefix, base unit and unit of the essence, in file order."""
    root = ET.parse(path).getroot()
    # Subversion keywords: "$Revision: 16410 $", "$Date: 2013-10-21 21:24:43 -0700 (...) $".
    revision = root.get("revision", "").strip("$ ").removeprefix("Revision: ")
    date = root.get("revision-date", "").strip("$ ").removeprefix("Date: ")[:10]
    version = f"{root.get('version')} (revision {revision}, {date})"
    rows = []
    for el in root:
        # The essence puts its elements in no namespace (xmlns="").
        tag = el.tag
        code = el.get("Code")
        if tag == "prefix":
            rows.append(["prefix", code, "-", number(el.find("value").get("value")), "-", "-"])
        elif tag == "base-unit":
            rows.append(["base", code, "y", "1", "-", el.get("dim")])
        elif tag == "unit":
            rows.append(unit_row(el))
    return rows, version


def unit_row(el: ET.Element) -> list[str]:
    code = el.get("Code")
    metric = "y" if el.get("isMetric") == "yes" else "n"
    value = el.find("value")
    function = value.find("function")
    if el.get("isSpecial") == "yes":
        if function is None or el.get("isArbitrary") == "yes":
            raise SystemExit(f"special unit {code} without a function, or arbitrary too")
        return ["special", code, metric, number(function.get("value")), field(function.get("Unit")), function.get("name")]
    kind = "arbitrary" if el.get("isArbitrary") == "yes" else "ratio"
    if code in ERRATA:
        return [kind, code, metric, *ERRATA[code], "-"]
    return [kind, code, metric, number(value.get("value")), field(value.get("Unit")), "-"]


def lhc_units(path: str) -> dict[str, dict]:
    """The NLM table's UCUM atoms (not its LOINC combinations), by code."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["units"]
    names = [c if isinstance(c, str) else c[0] for c in data["config"]]
    units = {}
    for row in data["data"]:
        unit = dict(zip(names, row))
        if unit["source_"] == "UCUM":
            units[unit["csCode_"]] = unit
    return units


def lhc_row(unit: dict) -> list[str]:
    code = unit["csCode_"]
    metric = "y" if unit["isMetric_"] else "n"
    if unit["isSpecial_"]:
        # The NLM table folds the function's value into magnitude_ (5 K/4 -> 1.25 K).
        return ["special", code, metric, number(repr(unit["magnitude_"])), field(unit["csUnitString_"]), unit["cnv_"]]
    kind = "arbitrary" if unit["isArbitrary_"] else "ratio"
    return [kind, code, metric, number(unit["baseFactorStr_"]), field(unit["csUnitString_"]), "-"]


def check_errata(lhc: dict[str, dict]) -> None:
    for code, (value, unit) in ERRATA.items():
        got = (lhc[code]["baseFactorStr_"], lhc[code]["csUnitString_"])
        if got != (value, unit):
            raise SystemExit(f"erratum for {code} not confirmed by the NLM table: {got}")


def build(essence_xml: str, lhc_json: str) -> tuple[list[list[str]], str]:
    rows, version = essence_rows(essence_xml)
    lhc = lhc_units(lhc_json)
    check_errata(lhc)
    codes = {r[1] for r in rows if r[0] != "prefix"}
    if [r[1] for r in rows if r[0] == "base"] != BASE_ORDER:
        raise SystemExit("base units not in the expected order")
    missing = sorted(set(lhc) - codes)
    if missing != sorted(ADDED_AFTER_1_9):
        raise SystemExit(f"atoms added after 1.9 differ from the expected list: {missing}")
    rows.extend(lhc_row(lhc[code]) for code in ADDED_AFTER_1_9)
    return rows, version


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        essence_dir = extract(npm_pack(PACKAGES["essence"], tmp), os.path.join(tmp, "essence"))
        lhc_dir = extract(npm_pack(PACKAGES["lhc"], tmp), os.path.join(tmp, "lhc"))
        rows, version = build(
            os.path.join(essence_dir, "vendor", "ucum-essence.xml"),
            os.path.join(lhc_dir, "data", "ucumDefs.min.json"),
        )
    header = [
        f"# Generated by scripts/build-ucum.py. Do not edit. Source: the UCUM essence {version}",
        f"# from npm {PACKAGES['essence']} (vendor/ucum-essence.xml), with the UCUM 2.x erratum for [h]",
        f"# and the atoms added after 1.9 from npm {PACKAGES['lhc']} (data/ucumDefs.min.json).",
        "# UCUM is copyright (c) 1999-2013 Regenstrief Institute, Inc. and The UCUM Organization,",
        "# Indianapolis, IN. All rights reserved. Used and redistributed under the UCUM Terms of Use",
        "# (https://ucum.org/license), which permit free use and redistribution with this notice.",
        "# kind\tcode\tmetric\tvalue\tunit\tfunction",
    ]
    with open(OUT, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
