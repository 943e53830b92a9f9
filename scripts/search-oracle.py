#!/usr/bin/env python3
"""An independent, brute-force FHIR R4 search evaluator: the oracle of
Ipê's differential search check (tests/api/search/oracle.rs).

It answers search queries over a list of resources without any index: for
each query it evaluates the SearchParameter's FHIRPath expression with
fhirpathpy (not Ipê's FHIRPath engine) on every resource of the searched
type and applies the matching rules of https://hl7.org/fhir/R4/search.html
itself. Where the spec leaves a choice, it takes the reading that
docs/search.md documents (said where it happens). Nothing here is
translated from Ipê's Rust code: a bug there must not be repeated here.

    search-oracle.py --resources resources.json --queries queries.json \\
        --search-parameters conformance/r4-search-parameters.json \\
        --base http://127.0.0.1:8080

- resources.json: a JSON array of the resources as the server stores them.
- queries.json: a JSON array of queries, each `Type?name=value&...` with
  the value URL-encoded as it is sent.
- Output (stdout): {"fhirpathpy": version, "results": [one per query:
  {"query", "matches": ["Type/id", ...], "sort_groups": [[...], ...] or
  null, "included": ["Type/id", ...]}]}. With `_sort`, sort_groups lists
  the matches in order, resources whose sort keys tie sharing a group.

Standard library and fhirpathpy only (pinned in
scripts/test-requirements.txt).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import re
import sys
import unicodedata
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote_plus

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

R4_MODEL = models["r4"]
UCUM = "http://unitsofmeasure.org"
INFINITY = float("inf")

# Result parameters: they shape the answer, they do not filter.
RESULT_PARAMETERS = {"_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements"}


class QueryError(Exception):
    """A query this oracle cannot evaluate (so the check cannot pass)."""


# --- the resources -----------------------------------------------------------


class Corpus:
    """The resources, by type and by `Type/id`."""

    def __init__(self, resources: list[dict], base: str):
        self.base = base.rstrip("/")
        self.by_type: dict[str, list[dict]] = {}
        self.by_ref: dict[str, dict] = {}
        for resource in resources:
            self.by_type.setdefault(resource["resourceType"], []).append(resource)
            self.by_ref[ref_of(resource)] = resource

    def of_type(self, rtype: str) -> list[dict]:
        return self.by_type.get(rtype, [])

    def local(self, reference: str) -> str | None:
        """The `Type/id` of a local reference: relative, or absolute under
        the base (search.html#reference). Contained (`#x`) references and
        other servers' are not local."""
        if reference.startswith(self.base + "/"):
            reference = reference[len(self.base) + 1 :]
        parts = reference.split("/")
        if len(parts) == 4 and parts[2] == "_history":
            parts = parts[:2]
        if len(parts) != 2 or ":" in parts[0] or reference.startswith("#"):
            return None
        return "/".join(parts)

    def local_target(self, reference: str) -> str | None:
        """The existing resource a local reference points to."""
        target = self.local(reference)
        return target if target in self.by_ref else None


def ref_of(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


# --- SearchParameters and their values ----------------------------------------


def resolve_stub(inputs):
    """`resolve()` for `where(resolve() is Patient)`: a stand-in resource of
    the type the reference names, which is all `is` needs."""
    out = []
    for item in inputs:
        reference = item.get("reference") if isinstance(item, dict) else None
        if isinstance(reference, str) and "/" in reference:
            segments = reference.split("/")
            rtype = segments[-4] if len(segments) >= 4 and segments[-2] == "_history" else segments[-2]
            out.append(ResourceNode.create_node({"resourceType": rtype}))
    return out


FHIRPATH_OPTIONS = {
    "userInvocationTable": {"resolve": {"fn": resolve_stub, "arity": {0: []}}},
    # Nodes keep their FHIR type (Period, CodeableConcept...), which decides
    # how a value is matched.
    "returnRawData": True,
}


def split_top_level(expression: str, separator: str = "|") -> list[str]:
    """Splits a FHIRPath union at the top level (outside parentheses and
    string literals)."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in expression:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == separator:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def expression_for(parameter: dict, rtype: str) -> str:
    """The part of a (multi-type) parameter's expression that applies to
    `rtype`. fhirpathpy does not take `Resource.x` / `DomainResource.x` on
    a Patient, so those are written with the concrete type."""
    kept = []
    for part in split_top_level(parameter["expression"]):
        head = part.lstrip("(")
        for generic in ("Resource", "DomainResource"):
            if head.startswith(generic + "."):
                part = part.replace(generic + ".", rtype + ".", 1)
                head = part.lstrip("(")
        if head == rtype or head.startswith(rtype + ".") or head.startswith(rtype + " "):
            kept.append(part)
    return " | ".join(kept)


def as_to_of_type(part: str) -> str:
    """`(path as Type)` written as `path.ofType(Type)`."""
    m = re.fullmatch(r"\((.+) as (\w+)\)", part.strip())
    if not m:
        raise QueryError(f"cannot read {part!r}")
    return f"{m[1]}.ofType({m[2]})"


class Registry:
    """The base R4 SearchParameters, by (type, code) and by url."""

    def __init__(self, parameters: list[dict]):
        self.by_url = {p["url"]: p for p in parameters}
        self.by_code: dict[tuple[str, str], dict] = {}
        for p in parameters:
            # The spec's example parameters redefine real ones
            # (example-reference is a second Condition `subject`).
            if p["url"].startswith("http://hl7.org/fhir/SearchParameter/example"):
                continue
            for base in p.get("base", []):
                self.by_code[(base, p["code"])] = p
        self._compiled: dict[str, object] = {}

    def find(self, rtype: str, code: str) -> dict | None:
        for base in (rtype, "DomainResource", "Resource"):
            if (base, code) in self.by_code:
                return self.by_code[(base, code)]
        return None

    def get(self, rtype: str, code: str) -> dict:
        parameter = self.find(rtype, code)
        if parameter is None or not parameter.get("expression"):
            raise QueryError(f"{rtype} has no search parameter {code!r}")
        return parameter

    def compiled(self, expression: str):
        if expression not in self._compiled:
            self._compiled[expression] = fhirpathpy.compile(expression, R4_MODEL, FHIRPATH_OPTIONS)
        return self._compiled[expression]

    def reference_codes(self, rtype: str) -> list[str]:
        """Every reference parameter of `rtype` (for `_include=Type:*`)."""
        return sorted(
            code
            for (base, code), p in self.by_code.items()
            if base == rtype and p["type"] == "reference" and p.get("expression")
        )


class Node:
    """One value a parameter's expression selects, with its FHIR type and
    the fhirpathpy node it came from (to evaluate a composite's components
    on it)."""

    __slots__ = ("fhir_type", "data", "source")

    def __init__(self, fhir_type: str, data, source=None):
        self.fhir_type = fhir_type
        self.data = data
        self.source = source


def guess_type(data) -> str:
    """The FHIR type of a value whose node does not say it, from its shape."""
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, (int, Decimal, float)):
        return "decimal"
    if isinstance(data, str):
        return "dateTime" if re.match(r"^\d{4}(-\d{2}(-\d{2})?)?(T|$)", data) else "string"
    if isinstance(data, dict):
        if "coding" in data or set(data) == {"text"}:
            return "CodeableConcept"
        if "start" in data or "end" in data:
            return "Period"
        if "reference" in data or ("identifier" in data and "value" not in data):
            return "Reference"
        if "value" in data and ("unit" in data or "code" in data or "comparator" in data):
            return "Quantity"
        if "family" in data or "given" in data:
            return "HumanName"
        if "city" in data or "line" in data or "postalCode" in data:
            return "Address"
        if "code" in data:
            return "Coding"
        if "value" in data:
            return "Identifier"
    return "unknown"


def to_node(item) -> Node:
    if not isinstance(item, ResourceNode):
        return Node(guess_type(item), item)
    fhir_type = item.path
    if fhir_type and "." in fhir_type:
        fhir_type = R4_MODEL["path2Type"].get(fhir_type)
    if not fhir_type or fhir_type in ("BackboneElement", "Element"):
        fhir_type = guess_type(item.data)
    return Node(fhir_type, item.data, item)


class Values:
    """The values of each parameter on each resource, computed once."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._cache: dict[tuple[str, str], list[Node]] = {}

    def of(self, resource: dict, parameter: dict) -> list[Node]:
        key = (ref_of(resource), parameter["url"])
        if key not in self._cache:
            self._cache[key] = self.evaluate(resource, expression_for(parameter, resource["resourceType"]))
        return self._cache[key]

    def evaluate(self, resource: dict, expression: str) -> list[Node]:
        """Each part of a union on its own: fhirpathpy's union drops the
        type of what it joins (the `as Quantity` of value-quantity)."""
        if not expression:
            return []
        return [to_node(item) for part in split_top_level(expression) for item in self.evaluate_part(resource, part)]

    def evaluate_part(self, resource: dict, part: str) -> list:
        try:
            return self.registry.compiled(part)(resource)
        except ValueError as e:
            # R4 writes `(Observation.component.value as Quantity)` for a
            # collection; FHIRPath's `as` wants one item. Read it as
            # `ofType`, which is what the parameter means.
            if "singleton on left side of 'as'" not in str(e):
                raise
            return self.registry.compiled(as_to_of_type(part))(resource)

    def relative(self, node: Node, expression: str) -> list[Node]:
        """A composite's component expression, evaluated on one node of the
        composite's base (an Observation, an Observation.component)."""
        if node.source is None:
            return []
        return [to_node(item) for item in self.registry.compiled(expression)(node.source)]


# --- parsing a query ----------------------------------------------------------


def split_escaped(text: str, separator: str) -> list[str]:
    """Splits at `separator` unless it is escaped with `\\`
    (search.html#escaping); the escapes stay for the next split."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class Param:
    """`code[:modifier]=v1,v2`: one criterion on the resource itself."""

    def __init__(self, code: str, modifier: str | None):
        self.code, self.modifier = code, modifier


class Chain:
    """`link[:Type].rest`: the resource refers (through `link`) to one
    that matches `rest`."""

    def __init__(self, link: str, target_type: str | None, rest):
        self.link, self.target_type, self.rest = link, target_type, rest


class Has:
    """`_has:Type:link:rest`: some resource of `Type` refers to this one
    through `link` and matches `rest` (search.html#has)."""

    def __init__(self, source_type: str, link: str, rest):
        self.source_type, self.link, self.rest = source_type, link, rest


def parse_name(name: str):
    """A parameter name with its modifier, chain or `_has` prefix."""
    if name.startswith("_has:"):
        parts = name.split(":", 3)
        if len(parts) != 4:
            raise QueryError(f"malformed _has: {name}")
        return Has(parts[1], parts[2], parse_name(parts[3]))
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    if dot:
        return Chain(code, modifier or None, parse_name(rest))
    return Param(code, modifier or None)


class Query:
    """`Type?params`: its criteria (ANDed), `_sort` keys, includes."""

    def __init__(self, text: str):
        self.text = text
        self.rtype, _, query = text.partition("?")
        self.criteria: list[tuple[object, list[str]]] = []
        self.sort: list[tuple[str, bool]] = []
        self.includes: list[tuple[str, str, str | None, bool]] = []
        self.revincludes: list[tuple[str, str, str | None, bool]] = []
        for pair in filter(None, query.split("&")):
            raw_name, _, raw_value = pair.partition("=")
            self.add(unquote_plus(raw_name), unquote_plus(raw_value))

    def add(self, name: str, value: str):
        base_name = name.split(":")[0]
        if base_name == "_sort":
            self.sort = [(key.lstrip("-"), key.startswith("-")) for key in value.split(",")]
        elif base_name in ("_include", "_revinclude"):
            iterate = name.endswith(":iterate") or name.endswith(":recurse")
            target = self.includes if base_name == "_include" else self.revincludes
            target.append(parse_include(value, iterate))
        elif base_name in RESULT_PARAMETERS:
            pass
        else:
            self.criteria.append((parse_name(name), split_escaped(value, ",")))


def parse_include(value: str, iterate: bool):
    """`Type:param[:Target]`, `Type:*` or `*`."""
    if value == "*":
        return ("*", "*", None, iterate)
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise QueryError(f"malformed include {value}")
    return (parts[0], parts[1], parts[2] if len(parts) == 3 else None, iterate)


# --- text --------------------------------------------------------------------


def fold(text: str) -> str:
    """Case- and accent-insensitive form (search.html#string: "after both
    have been normalized by case and accent")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def string_parts(node: Node) -> list[str]:
    """The strings a string parameter searches in a value: every part of a
    HumanName or an Address (search.html#string)."""
    data = node.data
    if isinstance(data, str):
        return [data]
    if not isinstance(data, dict):
        return []
    if node.fhir_type == "HumanName":
        keys = ("family", "given", "prefix", "suffix", "text")
    elif node.fhir_type == "Address":
        keys = ("line", "city", "district", "state", "postalCode", "country", "text")
    else:
        return []
    parts = []
    for key in keys:
        value = data.get(key)
        parts.extend(value if isinstance(value, list) else [value] if value is not None else [])
    return [p for p in parts if isinstance(p, str)]


def match_string(nodes: list[Node], value: str, modifier: str | None) -> bool:
    value = unescape(value)
    texts = [t for n in nodes for t in string_parts(n)]
    if modifier == "exact":
        return value in texts
    if modifier == "contains":
        return any(fold(value) in fold(t) for t in texts)
    if modifier is None:
        return any(fold(t).startswith(fold(value)) for t in texts)
    raise QueryError(f"string modifier :{modifier}")


# --- tokens ------------------------------------------------------------------


def tokens(node: Node) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a value (search.html#token): Coding and
    CodeableConcept codings, Identifier system|value, ContactPoint value,
    and simple values (code, boolean, string, uri, id) without a system."""
    data, kind = node.data, node.fhir_type
    if isinstance(data, bool):
        return [(None, "true" if data else "false")]
    if isinstance(data, (str, int, Decimal)):
        return [(None, str(data))]
    if not isinstance(data, dict):
        return []
    if kind == "CodeableConcept":
        return [(c.get("system"), c.get("code")) for c in data.get("coding", []) if c.get("code") is not None]
    if kind == "Coding":
        return [(data.get("system"), data["code"])] if data.get("code") is not None else []
    if kind == "ContactPoint":
        return [(None, data["value"])] if data.get("value") is not None else []
    if kind == "Identifier":
        return [(data.get("system"), data["value"])] if data.get("value") is not None else []
    return []


def token_texts(node: Node) -> list[str]:
    """The text a `:text` search reads: CodeableConcept.text, Coding.display,
    Identifier.type.text (search.html#modifiers)."""
    data = node.data
    if not isinstance(data, dict):
        return []
    if node.fhir_type == "CodeableConcept":
        texts = [data.get("text")] + [c.get("display") for c in data.get("coding", [])]
    elif node.fhir_type == "Coding":
        texts = [data.get("display")]
    elif node.fhir_type == "Identifier":
        texts = [data.get("type", {}).get("text")]
    else:
        texts = []
    return [t for t in texts if isinstance(t, str)]


def token_matches(pairs: list[tuple[str | None, str]], value: str) -> bool:
    parts = split_escaped(value, "|")
    if len(parts) == 1:
        code = unescape(parts[0])
        return any(c == code for _, c in pairs)
    if len(parts) != 2:
        raise QueryError(f"token {value!r}")
    system, code = unescape(parts[0]), unescape(parts[1])
    if system == "":
        return any(s is None and c == code for s, c in pairs)
    if code == "":
        return any(s == system for s, _ in pairs)
    return any(s == system and c == code for s, c in pairs)


def match_token(nodes: list[Node], value: str, modifier: str | None) -> bool:
    if modifier == "text":
        return any(fold(t).startswith(fold(unescape(value))) for n in nodes for t in token_texts(n))
    if modifier is None:
        return token_matches([p for n in nodes for p in tokens(n)], value)
    raise QueryError(f"token modifier :{modifier}")


# --- dates -------------------------------------------------------------------

DATE_RE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def micros(moment: dt.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def date_range(text: str) -> tuple[int, int]:
    """The half-open range [low, high) in microseconds since 1970 that a
    date, dateTime or instant covers at its precision
    (search.html#date: "2013-01-14" is the whole day). Without a zone,
    times are UTC (docs/search.md)."""
    m = DATE_RE.match(text)
    if not m:
        raise QueryError(f"not a date: {text!r}")
    year = int(m["y"])
    if m["m"] is None:
        start = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
        return micros(start), micros(start.replace(year=year + 1))
    month = int(m["m"])
    if m["d"] is None:
        start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
        end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.timezone.utc)
        return micros(start), micros(end)
    day = dt.datetime(year, month, int(m["d"]), tzinfo=dt.timezone.utc)
    if m["H"] is None:
        return micros(day), micros(day + dt.timedelta(days=1))
    offset = dt.timedelta(0)
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        offset = sign * dt.timedelta(hours=int(m["tz"][1:3]), minutes=int(m["tz"][4:6]))
    start = day.replace(hour=int(m["H"]), minute=int(m["M"])) - offset
    if m["S"] is None:
        return micros(start), micros(start + dt.timedelta(minutes=1))
    start = start.replace(second=int(m["S"]))
    if m["f"] is None:
        return micros(start), micros(start) + 1_000_000
    # Fractions of a second: below a microsecond, the range is one
    # microsecond wide (no stored value is more precise).
    digits = m["f"][:6]
    low = micros(start) + int(digits.ljust(6, "0"))
    return low, low + 10 ** (6 - len(digits))


def value_ranges(node: Node) -> list[tuple[float, float]]:
    """The ranges a date value covers: a Period runs from its start's low
    to its end's high, open where a bound is missing; a Timing is its
    events."""
    data = node.data
    if isinstance(data, str):
        return [date_range(data)] if DATE_RE.match(data) else []
    if isinstance(data, dict) and node.fhir_type == "Period":
        low = date_range(data["start"])[0] if "start" in data else -INFINITY
        high = date_range(data["end"])[1] if "end" in data else INFINITY
        return [(low, high)]
    if isinstance(data, dict) and node.fhir_type == "Timing":
        return [date_range(e) for e in data.get("event", [])]
    return []


def split_prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"):
        return value[:2], value[2:]
    return "eq", value


def ap_widened(low: float, high: float) -> tuple[float, float]:
    """`ap` on dates: the search range widened on each side by 10 % of its
    distance from now (search.html#prefix; the amount is the server's
    choice, docs/search.md gives Ipê's)."""
    now = micros(dt.datetime.now(dt.timezone.utc))
    return low - abs(now - low) / 10, high + abs(now - high) / 10


def range_matches(prefix: str, search: tuple[float, float], target: tuple[float, float]) -> bool:
    """The prefix table of search.html#prefix for ranges: `search` is the
    range of the parameter value, `target` the resource value's."""
    s_low, s_high = search
    t_low, t_high = target
    contained = s_low <= t_low and t_high <= s_high
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return not contained
    if prefix == "gt":
        return t_high > s_high
    if prefix == "lt":
        return t_low < s_low
    if prefix == "ge":
        return t_high > s_high or contained
    if prefix == "le":
        return t_low < s_low or contained
    if prefix == "sa":
        return t_low >= s_high
    if prefix == "eb":
        return t_high <= s_low
    if prefix == "ap":
        w_low, w_high = ap_widened(s_low, s_high)
        return t_low < w_high and w_low < t_high
    raise QueryError(f"prefix {prefix}")


def match_date(nodes: list[Node], value: str, modifier: str | None) -> bool:
    if modifier is not None:
        raise QueryError(f"date modifier :{modifier}")
    prefix, text = split_prefix(value)
    search = date_range(text)
    return any(range_matches(prefix, search, target) for n in nodes for target in value_ranges(n))


# --- numbers and quantities ---------------------------------------------------


def parse_number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as e:
        raise QueryError(f"not a number: {text!r}") from e


def precision_range(number: Decimal) -> tuple[Decimal, Decimal]:
    """[low, high): half a unit of the last digit written on each side
    (search.html#number: 100 is 99.5 to 100.5)."""
    half = Decimal(5).scaleb(number.as_tuple().exponent - 1)
    return number - half, number + half


def number_matches(prefix: str, number: Decimal, target: Decimal, scale: Decimal = Decimal(1)) -> bool:
    """search.html#number: `eq` / `ne` use the precision range of the
    value as written; `gt`, `lt`, `ge`, `le` compare with the exact value;
    `sa` / `eb` lie above / below the whole range; `ap` is within 10 % (or
    the precision range, if wider). `scale` converts the search value to
    the unit the target is compared in."""
    low, high = (b * scale for b in precision_range(number))
    exact = number * scale
    if prefix == "eq":
        return low <= target < high
    if prefix == "ne":
        return not low <= target < high
    if prefix == "gt":
        return target > exact
    if prefix == "lt":
        return target < exact
    if prefix == "ge":
        return target >= exact
    if prefix == "le":
        return target <= exact
    if prefix == "sa":
        return target >= high
    if prefix == "eb":
        return target < low
    if prefix == "ap":
        margin = max(abs(exact) / 10, (high - low) / 2)
        return exact - margin <= target <= exact + margin
    raise QueryError(f"prefix {prefix}")


def numbers(node: Node) -> list[Decimal]:
    data = node.data
    if isinstance(data, bool):
        return []
    if isinstance(data, (int, Decimal)):
        return [Decimal(data)]
    if isinstance(data, float):
        return [Decimal(repr(data))]
    return []


def match_number(nodes: list[Node], value: str, modifier: str | None) -> bool:
    if modifier is not None:
        raise QueryError(f"number modifier :{modifier}")
    prefix, text = split_prefix(value)
    number = parse_number(text)
    return any(number_matches(prefix, number, t) for n in nodes for t in numbers(n))


# UCUM, only as much as canonical matching of the quantities in the test
# data needs (https://ucum.org/ucum: prefixes, base units, and the derived
# units' definitions). A unit outside it is matched by its code only.
UCUM_PREFIXES = {
    "da": 1, "h": 2, "k": 3, "M": 6, "G": 9, "T": 12,
    "d": -1, "c": -2, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18,
}
# atom: (factor, dimensions, takes prefixes). mol is a number of particles
# (dimensionless, 6.0221367e23 in UCUM); L is dm3; U is umol/min; m[Hg] is
# 133.3220 kPa, a kPa being 1e6 g.m-1.s-2; an arbitrary unit ([iU]) has a
# dimension of its own.
UCUM_ATOMS = {
    "m": (Decimal(1), {"L": 1}, True),
    "g": (Decimal(1), {"M": 1}, True),
    "s": (Decimal(1), {"T": 1}, True),
    "min": (Decimal(60), {"T": 1}, False),
    "h": (Decimal(3600), {"T": 1}, False),
    "d": (Decimal(86400), {"T": 1}, False),
    "L": (Decimal("0.001"), {"L": 3}, True),
    "l": (Decimal("0.001"), {"L": 3}, True),
    "mol": (Decimal("6.0221367E23"), {}, True),
    "U": (Decimal("6.0221367E17") / 60, {"T": -1}, True),
    "%": (Decimal("0.01"), {}, False),
    "m[Hg]": (Decimal("133.3220") * 1000 * 1000, {"M": 1, "L": -1, "T": -2}, True),
    "[iU]": (Decimal(1), {"[iU]": 1}, True),
    "[IU]": (Decimal(1), {"[iU]": 1}, True),
}
UCUM_COMPONENT = re.compile(r"^(?P<unit>[^{}]*?)(?P<exp>[+-]?\d+)?(?P<ann>\{[^{}]*\})?$")


def ucum_simple(unit: str) -> tuple[Decimal, dict]:
    if unit in ("10*", "10^"):
        return Decimal(10), {}
    if unit in UCUM_ATOMS:
        factor, dims, _ = UCUM_ATOMS[unit]
        return factor, dims
    for prefix in sorted(UCUM_PREFIXES, key=len, reverse=True):
        atom = UCUM_ATOMS.get(unit[len(prefix) :]) if unit.startswith(prefix) else None
        if atom and atom[2]:
            return atom[0] * Decimal(10) ** UCUM_PREFIXES[prefix], atom[1]
    raise ValueError(unit)


def ucum_component(text: str) -> tuple[Decimal, dict]:
    m = UCUM_COMPONENT.match(text)
    if not m:
        raise ValueError(text)
    unit, exponent = m["unit"], int(m["exp"]) if m["exp"] else 1
    if unit == "":
        if m["exp"] and not m["ann"] and m["exp"].isdigit():
            return Decimal(m["exp"]), {}
        if m["ann"] and not m["exp"]:
            return Decimal(1), {}  # an annotation alone is the unity
        raise ValueError(text)
    factor, dims = ucum_simple(unit)
    return factor**exponent, {k: v * exponent for k, v in dims.items()}


@functools.lru_cache(maxsize=None)
def ucum_canonical(code: str) -> tuple[Decimal, tuple] | None:
    """(factor to canonical, dimensions) of a UCUM unit code, or None when
    this subset cannot read it."""
    try:
        pieces = re.split(r"([./])", code)
        factor, dims, operator = Decimal(1), {}, "."
        for i, piece in enumerate(pieces):
            if i % 2 == 1:
                operator = piece
                continue
            if piece == "" and i == 0:
                continue
            f, d = ucum_component(piece)
            sign = -1 if operator == "/" else 1
            factor = factor / f if sign < 0 else factor * f
            for k, v in d.items():
                dims[k] = dims.get(k, 0) + sign * v
        return factor, tuple(sorted((k, v) for k, v in dims.items() if v))
    except (ValueError, InvalidOperation):
        return None


def quantities(node: Node) -> list[dict]:
    data = node.data
    if isinstance(data, dict) and "value" in data and node.fhir_type not in ("Identifier", "ContactPoint"):
        return [data]
    return []


def quantity_matches(prefix: str, number: Decimal, system: str, code: str, q: dict) -> bool:
    """search.html#quantity: `n|system|code` matches that system and code,
    and (as UCUM allows, docs/search.md) any UCUM quantity of the same
    canonical unit, compared in canonical units; `n||code` the code or
    the unit in any system; `n` any units."""
    target = numbers(Node("decimal", q.get("value")))
    if not target:
        return False
    value = target[0]
    if system == "" and code == "":
        return number_matches(prefix, number, value)
    if system == "":
        return code in (q.get("code"), q.get("unit")) and number_matches(prefix, number, value)
    if q.get("system") == system and q.get("code") == code:
        return number_matches(prefix, number, value)
    if system == UCUM and q.get("system") == UCUM and q.get("code"):
        wanted, found = ucum_canonical(code), ucum_canonical(q["code"])
        if wanted and found and wanted[1] == found[1]:
            return number_matches(prefix, number, value * found[0], scale=wanted[0])
    return False


def parse_quantity(value: str) -> tuple[str, Decimal, str, str]:
    parts = [unescape(p) for p in split_escaped(value, "|")]
    if len(parts) not in (1, 3):
        raise QueryError(f"quantity {value!r}")
    prefix, text = split_prefix(parts[0])
    system, code = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
    return prefix, parse_number(text), system, code


def match_quantity(nodes: list[Node], value: str, modifier: str | None) -> bool:
    if modifier is not None:
        raise QueryError(f"quantity modifier :{modifier}")
    prefix, number, system, code = parse_quantity(value)
    return any(quantity_matches(prefix, number, system, code, q) for n in nodes for q in quantities(n))


# --- references and uris ------------------------------------------------------


def reference_strings(node: Node) -> list[str]:
    data = node.data
    if isinstance(data, str):
        return [data]  # canonical, uri
    if isinstance(data, dict) and isinstance(data.get("reference"), str):
        return [data["reference"]]
    return []


class ReferenceMatcher:
    """search.html#reference: `id`, `Type/id` and URLs under the base match
    local references (so `http://other/fhir/Patient/1` is not
    `Patient/1`); any other URL matches as written; `:Type` fixes the type;
    `:identifier` searches Reference.identifier as a token."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus

    def matches(self, nodes: list[Node], value: str, modifier: str | None) -> bool:
        if modifier == "identifier":
            identifiers = [Node("Identifier", n.data["identifier"]) for n in nodes
                           if isinstance(n.data, dict) and isinstance(n.data.get("identifier"), dict)]
            return token_matches([p for n in identifiers for p in tokens(n)], value)
        value = unescape(value)
        refs = [r for n in nodes for r in reference_strings(n)]
        if modifier is not None:
            value = f"{modifier}/{value}"
        if value.startswith(self.corpus.base + "/"):
            value = value[len(self.corpus.base) + 1 :]
        if "://" in value or value.startswith("urn:"):
            return value in refs
        locals_ = [self.corpus.local(r) for r in refs]
        if "/" in value:
            return value in locals_
        return any(loc is not None and loc.split("/")[1] == value for loc in locals_)


def match_uri(nodes: list[Node], value: str, modifier: str | None) -> bool:
    """search.html#uri: the whole URI, case-sensitive; `:below` is a URI
    the value is a prefix of, `:above` one that is a prefix of the value."""
    value = unescape(value)
    uris = [n.data for n in nodes if isinstance(n.data, str)]
    if modifier is None:
        return value in uris
    if modifier == "below":
        return any(u.startswith(value) for u in uris)
    if modifier == "above":
        return any(value.startswith(u) for u in uris)
    if modifier == "contains":
        return any(value in u for u in uris)
    raise QueryError(f"uri modifier :{modifier}")


# --- the evaluator ------------------------------------------------------------


class Oracle:
    def __init__(self, corpus: Corpus, registry: Registry):
        self.corpus = corpus
        self.registry = registry
        self.values = Values(registry)
        self.references = ReferenceMatcher(corpus)

    # criteria

    def matching(self, rtype: str, criterion, values: list[str]) -> set[str]:
        """`Type/id` of the resources of `rtype` that meet one criterion."""
        if isinstance(criterion, Has):
            return self.matching_has(rtype, criterion, values)
        if isinstance(criterion, Chain):
            return self.matching_chain(rtype, criterion, values)
        parameter = self.registry.get(rtype, criterion.code)
        return {
            ref_of(r)
            for r in self.corpus.of_type(rtype)
            if self.param_matches(r, parameter, criterion.modifier, values)
        }

    def matching_chain(self, rtype: str, chain: Chain, values: list[str]) -> set[str]:
        """Resources whose `link` points to a local resource that matches the
        rest of the chain; an untyped link follows every target type that
        has the next parameter (docs/search.md)."""
        link = self.registry.get(rtype, chain.link)
        if link["type"] != "reference":
            raise QueryError(f"{chain.link} is not a reference")
        targets_by_type: dict[str, set[str]] = {}
        found = set()
        for resource in self.corpus.of_type(rtype):
            for target in self.link_targets(resource, link):
                ttype = target.split("/")[0]
                if chain.target_type and ttype != chain.target_type:
                    continue
                if ttype not in targets_by_type:
                    targets_by_type[ttype] = self.chain_rest(ttype, chain.rest, values)
                if target in targets_by_type[ttype]:
                    found.add(ref_of(resource))
                    break
        return found

    def chain_rest(self, ttype: str, rest, values: list[str]) -> set[str]:
        code = rest.link if isinstance(rest, Chain) else rest.code if isinstance(rest, Param) else None
        if code is not None and self.registry.find(ttype, code) is None:
            return set()
        return self.matching(ttype, rest, values)

    def matching_has(self, rtype: str, has: Has, values: list[str]) -> set[str]:
        link = self.registry.get(has.source_type, has.link)
        sources = self.matching(has.source_type, has.rest, values)
        found = set()
        for source in sources:
            for target in self.link_targets(self.corpus.by_ref[source], link):
                if target.startswith(rtype + "/"):
                    found.add(target)
        return found

    def link_targets(self, resource: dict, link: dict) -> list[str]:
        """The existing local resources one reference parameter points to."""
        out = []
        for node in self.values.of(resource, link):
            for reference in reference_strings(node):
                target = self.corpus.local_target(reference)
                if target:
                    out.append(target)
        return out

    def param_matches(self, resource: dict, parameter: dict, modifier: str | None, values: list[str]) -> bool:
        nodes = self.values.of(resource, parameter)
        if modifier == "missing":
            return any((v == "true") == (not nodes) for v in values)
        if parameter["type"] == "token" and modifier == "not":
            # search.html#modifiers: :not matches resources with no value
            # that matches, those without a value included.
            return not any(match_token(nodes, v, None) for v in values)
        return any(self.value_matches(parameter, nodes, v, modifier) for v in values)

    def value_matches(self, parameter: dict, nodes: list[Node], value: str, modifier: str | None) -> bool:
        kind = parameter["type"]
        if kind == "string":
            return match_string(nodes, value, modifier)
        if kind == "token":
            return match_token(nodes, value, modifier)
        if kind == "date":
            return match_date(nodes, value, modifier)
        if kind == "number":
            return match_number(nodes, value, modifier)
        if kind == "quantity":
            return match_quantity(nodes, value, modifier)
        if kind == "reference":
            return self.references.matches(nodes, value, modifier)
        if kind == "uri":
            return match_uri(nodes, value, modifier)
        if kind == "composite":
            return self.composite_matches(parameter, nodes, value, modifier)
        raise QueryError(f"{kind} parameters are not evaluated")

    def composite_matches(self, parameter: dict, nodes: list[Node], value: str, modifier: str | None) -> bool:
        """search.html#composite: each `$`-separated part matches its
        component within one and the same node of the base expression."""
        if modifier is not None:
            raise QueryError(f"composite modifier :{modifier}")
        components = parameter["component"]
        parts = split_escaped(value, "$")
        if len(parts) != len(components):
            raise QueryError(f"{parameter['code']} takes {len(components)} components")
        for node in nodes:
            if all(
                self.value_matches(
                    self.registry.by_url[c["definition"]],
                    self.values.relative(node, c["expression"]),
                    part,
                    None,
                )
                for c, part in zip(components, parts)
            ):
                return True
        return False

    # whole queries

    def search(self, query: Query) -> list[dict]:
        candidates = {ref_of(r) for r in self.corpus.of_type(query.rtype)}
        for criterion, values in query.criteria:
            candidates &= self.matching(query.rtype, criterion, values)
        return [r for r in self.corpus.of_type(query.rtype) if ref_of(r) in candidates]

    def included(self, query: Query, matches: list[dict]) -> set[str]:
        """search.html#include: `_include` adds what the matches point to,
        `_revinclude` what points to them; `:iterate` ones apply again to
        what was added, until nothing new comes. Matches are not includes."""
        seen = {ref_of(r) for r in matches}
        added: set[str] = set()
        frontier = list(matches)
        first = True
        while frontier:
            found = set()
            for spec in query.includes:
                if first or spec[3]:
                    found |= self.include_round(spec, frontier)
            for spec in query.revincludes:
                if first or spec[3]:
                    found |= self.revinclude_round(spec, frontier)
            new = found - seen - added
            added |= new
            frontier = [self.corpus.by_ref[r] for r in sorted(new)]
            first = False
        return added

    def include_round(self, spec, resources: list[dict]) -> set[str]:
        source_type, code, target_type, _ = spec
        out = set()
        for resource in resources:
            rtype = resource["resourceType"]
            if source_type not in ("*", rtype):
                continue
            codes = self.registry.reference_codes(rtype) if code == "*" else [code]
            for c in codes:
                for target in self.link_targets(resource, self.registry.get(rtype, c)):
                    if target_type is None or target.startswith(target_type + "/"):
                        out.add(target)
        return out

    def revinclude_round(self, spec, resources: list[dict]) -> set[str]:
        source_type, code, target_type, _ = spec
        wanted = {ref_of(r) for r in resources if target_type in (None, r["resourceType"])}
        out = set()
        for source in self.corpus.of_type(source_type):
            codes = self.registry.reference_codes(source_type) if code == "*" else [code]
            for c in codes:
                if wanted.intersection(self.link_targets(source, self.registry.get(source_type, c))):
                    out.add(ref_of(source))
        return out

    # sorting

    def sort_key(self, resource: dict, code: str, descending: bool):
        """The value a resource sorts by on one parameter (docs/search.md):
        its lowest value ascending, its highest descending (dates: the
        earliest start, the latest end); strings folded, tokens by code,
        references as written. None when it has no value."""
        parameter = self.registry.get(resource["resourceType"], code)
        nodes = self.values.of(resource, parameter)
        keys = [k for n in nodes for k in self.sortable(parameter["type"], n, descending)]
        if not keys:
            return None
        return max(keys) if descending else min(keys)

    def sortable(self, kind: str, node: Node, descending: bool) -> list:
        if kind == "string":
            return [fold(t) for t in string_parts(node)]
        if kind == "token":
            return [code for _, code in tokens(node)]
        if kind == "date":
            return [high if descending else low for low, high in value_ranges(node)]
        if kind == "number":
            return numbers(node)
        if kind == "quantity":
            return [v for q in quantities(node) for v in numbers(Node("decimal", q.get("value")))]
        if kind in ("reference", "uri"):
            return reference_strings(node)
        raise QueryError(f"cannot sort on a {kind} parameter")

    def sort_groups(self, query: Query, matches: list[dict]) -> list[list[str]]:
        """The matches in `_sort` order, resources whose keys all tie in
        one group (their order among themselves is the server's)."""
        keyed = [([self.sort_key(r, code, desc) for code, desc in query.sort], ref_of(r)) for r in matches]
        directions = [desc for _, desc in query.sort]

        def compare(a, b):
            for x, y, desc in zip(a[0], b[0], directions):
                if x == y:
                    continue
                if x is None or y is None:
                    return 1 if x is None else -1  # no value: last, both ways
                return (-1 if x < y else 1) * (-1 if desc else 1)
            return 0

        keyed.sort(key=functools.cmp_to_key(compare))
        groups: list[list[str]] = []
        previous = None
        for keys, ref in keyed:
            if previous is not None and keys == previous:
                groups[-1].append(ref)
            else:
                groups.append([ref])
            previous = keys
        return groups

    def answer(self, text: str) -> dict:
        query = Query(text)
        matches = self.search(query)
        return {
            "query": text,
            "matches": [ref_of(r) for r in matches],
            "sort_groups": self.sort_groups(query, matches) if query.sort else None,
            "included": sorted(self.included(query, matches)),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--search-parameters", required=True)
    parser.add_argument("--base", default="http://localhost")
    args = parser.parse_args()
    with open(args.resources, encoding="utf-8") as f:
        # Decimals keep their digits: 1.50 is not a float.
        resources = json.load(f, parse_float=Decimal)
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    with open(args.search_parameters, encoding="utf-8") as f:
        registry = Registry(json.load(f))
    oracle = Oracle(Corpus(resources, args.base), registry)
    results = []
    for text in queries:
        try:
            results.append(oracle.answer(text))
        except QueryError as e:
            results.append({"query": text, "error": str(e)})
    json.dump({"fhirpathpy": fhirpathpy.__version__, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
