//! `ValueSet.compose.include.filter` on an indexed code system.
//!
//! Properties: `concept` (or `code`) is the code itself and the hierarchy;
//! `display`; `parent` / `child` (the hierarchy's direct links); any other
//! name is a concept property. Operators: `=`, `is-a`, `descendent-of`,
//! `is-not-a`, `regex` (the whole value must match), `in`, `not-in`,
//! `generalizes`, `exists`. Hierarchy operators on a property other than the
//! concept are refused as not supported.

use std::collections::HashSet;

use regex::Regex;
use serde_json::Value;

use super::codesystem::{CodeSystemIndex, Concept};

/// A filter ready to test concepts.
enum Test {
    /// Concepts chosen by the hierarchy (precomputed set).
    Set(HashSet<u32>, bool),
    Regex(String, Regex),
    Equals(String, String),
    In(String, Vec<String>, bool),
    Exists(String, bool),
}

/// The indices of concepts that pass every filter, in code system order.
pub fn select(cs: &CodeSystemIndex, filters: &[Value]) -> Result<Vec<u32>, String> {
    let tests = filters.iter().map(|f| compile(cs, f)).collect::<Result<Vec<_>, _>>()?;
    Ok((0..cs.len() as u32)
        .filter(|&i| tests.iter().all(|t| passes(cs, i, t)))
        .collect())
}

fn compile(cs: &CodeSystemIndex, filter: &Value) -> Result<Test, String> {
    let field = |k: &str| filter.get(k).and_then(Value::as_str).unwrap_or_default();
    let (property, op, value) = (field("property"), field("op"), field("value"));
    let on_concept = matches!(property, "concept" | "code");
    let hierarchy = |v: &str, include_self: bool, up: bool| -> HashSet<u32> {
        let Some(i) = cs.find_index(v) else {
            return HashSet::new();
        };
        let mut set: HashSet<u32> = if up { cs.ancestors(i) } else { cs.descendants(i) }
            .into_iter()
            .collect();
        if include_self {
            set.insert(i);
        }
        set
    };
    Ok(match op {
        "is-a" | "descendent-of" | "is-not-a" | "generalizes" if !on_concept => {
            return Err(format!(
                "filter '{property} {op}' is not supported: hierarchy filters apply to 'concept'"
            ))
        }
        "is-a" => Test::Set(hierarchy(value, true, false), true),
        "descendent-of" => Test::Set(hierarchy(value, false, false), true),
        "is-not-a" => Test::Set(hierarchy(value, true, false), false),
        "generalizes" => Test::Set(hierarchy(value, true, true), true),
        "=" => Test::Equals(property.to_owned(), value.to_owned()),
        "in" | "not-in" => Test::In(property.to_owned(), split_list(value), op == "in"),
        "exists" => Test::Exists(property.to_owned(), value != "false"),
        "regex" => {
            let re =
                Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("filter regex '{value}' is invalid: {e}"))?;
            Test::Regex(property.to_owned(), re)
        }
        other => return Err(format!("filter operator '{other}' is not supported")),
    })
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn passes(cs: &CodeSystemIndex, i: u32, test: &Test) -> bool {
    let c = cs.concept(i);
    match test {
        Test::Set(set, member) => set.contains(&i) == *member,
        Test::Equals(p, v) => values(cs, i, c, p).iter().any(|x| same(cs, p, x, v)),
        Test::In(p, list, member) => {
            values(cs, i, c, p)
                .iter()
                .any(|x| list.iter().any(|v| same(cs, p, x, v)))
                == *member
        }
        Test::Exists(p, wanted) => values(cs, i, c, p).is_empty() != *wanted,
        Test::Regex(p, re) => values(cs, i, c, p).iter().any(|x| re.is_match(x)),
    }
}

/// Codes compare per the system's case sensitivity; other values exactly.
fn same(cs: &CodeSystemIndex, property: &str, a: &str, b: &str) -> bool {
    a == b || (!cs.case_sensitive && matches!(property, "concept" | "code") && a.eq_ignore_ascii_case(b))
}

fn values<'a>(cs: &'a CodeSystemIndex, i: u32, c: &'a Concept, property: &'a str) -> Vec<&'a str> {
    match property {
        "concept" | "code" => vec![&*c.code],
        "display" => c.display.as_deref().into_iter().collect(),
        "parent" if !c.properties.iter().any(|p| &*p.code == "parent") => {
            cs.parents(i).iter().map(|p| &*cs.concept(*p).code).collect()
        }
        "child" if !c.properties.iter().any(|p| &*p.code == "child") => {
            cs.children(i).iter().map(|p| &*cs.concept(*p).code).collect()
        }
        "inactive" if !c.properties.iter().any(|p| &*p.code == "inactive") => {
            vec![if c.inactive { "true" } else { "false" }]
        }
        _ => c.property_texts(property).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminology::codesystem::tests::animals;
    use serde_json::json;

    fn codes(filters: Value) -> Vec<String> {
        let cs = CodeSystemIndex::from_json(&animals());
        let filters = filters.as_array().cloned().unwrap();
        let mut out: Vec<String> = select(&cs, &filters)
            .unwrap()
            .into_iter()
            .map(|i| cs.concept(i).code.to_string())
            .collect();
        out.sort();
        out
    }

    fn f(property: &str, op: &str, value: &str) -> Value {
        json!([{"property": property, "op": op, "value": value}])
    }

    #[test]
    fn is_a_includes_the_concept_and_descendent_of_does_not() {
        assert_eq!(codes(f("concept", "is-a", "mammal")), ["cat", "dog", "mammal"]);
        assert_eq!(codes(f("concept", "descendent-of", "mammal")), ["cat", "dog"]);
    }

    #[test]
    fn is_a_follows_parent_properties_too() {
        assert_eq!(codes(f("concept", "is-a", "bird")), ["bird", "dodo", "parrot"]);
    }

    #[test]
    fn is_not_a_is_everything_outside_the_subtree() {
        assert_eq!(codes(f("concept", "is-not-a", "animal")), Vec::<String>::new());
        assert_eq!(
            codes(f("concept", "is-not-a", "bird")),
            ["animal", "cat", "dog", "mammal"]
        );
    }

    #[test]
    fn generalizes_is_the_concept_and_its_ancestors() {
        assert_eq!(
            codes(f("concept", "generalizes", "parrot")),
            ["animal", "bird", "parrot"]
        );
    }

    #[test]
    fn equals_in_and_not_in_on_codes_and_properties() {
        assert_eq!(codes(f("legs", "=", "2")), ["bird", "parrot"]);
        assert_eq!(codes(f("concept", "in", "dog, cat,zebra")), ["cat", "dog"]);
        assert_eq!(
            codes(f("legs", "not-in", "4")),
            ["animal", "bird", "dodo", "mammal", "parrot"]
        );
        assert_eq!(codes(f("parent", "=", "mammal")), ["cat", "dog"]);
    }

    #[test]
    fn regex_must_match_the_whole_value() {
        assert_eq!(codes(f("concept", "regex", "d.*")), ["dodo", "dog"]);
        assert_eq!(codes(f("concept", "regex", "o")), Vec::<String>::new());
        assert_eq!(
            codes(f("display", "regex", ".*a.*")),
            ["animal", "cat", "mammal", "parrot"]
        );
    }

    #[test]
    fn exists_tests_for_a_property() {
        assert_eq!(codes(f("legs", "exists", "false")), ["animal", "dodo", "mammal"]);
    }

    #[test]
    fn filters_are_anded() {
        let both = json!([{"property": "concept", "op": "is-a", "value": "animal"},
                          {"property": "legs", "op": "=", "value": "4"}]);
        assert_eq!(codes(both), ["cat", "dog"]);
    }

    #[test]
    fn unknown_operators_and_hierarchy_on_properties_are_refused() {
        let cs = CodeSystemIndex::from_json(&animals());
        assert!(select(&cs, f("concept", "near", "x").as_array().unwrap()).is_err());
        assert!(select(&cs, f("legs", "is-a", "4").as_array().unwrap()).is_err());
    }
}
