//! Reading an operation's input `Parameters` and writing its output.
//!
//! GET query parameters and POST bodies both arrive here as a `Parameters`
//! resource: the HTTP layer turns `?code=x&system=y` into
//! `{"parameter": [{"name": "code", "valueString": "x"}, …]}` (any `value[x]`
//! key is accepted for simple values, since query strings carry no type).

use serde_json::{json, Map, Value};

use super::error::TerminologyError;

/// The input `Parameters` of one operation call.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    list: &'a [Value],
}

impl<'a> Params<'a> {
    /// Accepts a `Parameters` resource; anything else counts as no parameters
    /// (an empty GET).
    pub fn new(parameters: &'a Value) -> Self {
        let list = parameters
            .get("parameter")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Params { list }
    }

    fn all(&self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.list
            .iter()
            .filter(move |p| p.get("name").and_then(Value::as_str) == Some(name))
    }

    fn one(&self, name: &'static str) -> Result<Option<&'a Value>, TerminologyError> {
        let mut it = self.all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(TerminologyError::param(name, "may appear only once"));
        }
        Ok(first)
    }

    /// The `value[x]` of a parameter, whatever its type.
    fn value_of(p: &Value) -> Option<&Value> {
        p.as_object()?
            .iter()
            .find(|(k, _)| k.starts_with("value"))
            .map(|(_, v)| v)
    }

    /// A simple value as text (`valueString`, `valueCode`, `valueUri`, …).
    pub fn string(&self, name: &'static str) -> Result<Option<&'a str>, TerminologyError> {
        let Some(p) = self.one(name)? else { return Ok(None) };
        match Self::value_of(p) {
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            _ => Err(TerminologyError::param(name, "expected a text value")),
        }
    }

    /// Every value of a repeating simple parameter.
    pub fn strings(&self, name: &'static str) -> Vec<&'a str> {
        self.all(name)
            .filter_map(Self::value_of)
            .filter_map(Value::as_str)
            .collect()
    }

    pub fn boolean(&self, name: &'static str) -> Result<Option<bool>, TerminologyError> {
        let Some(p) = self.one(name)? else { return Ok(None) };
        match Self::value_of(p) {
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            _ => Err(TerminologyError::param(name, "expected true or false")),
        }
    }

    pub fn integer(&self, name: &'static str) -> Result<Option<usize>, TerminologyError> {
        let Some(p) = self.one(name)? else { return Ok(None) };
        let parsed = match Self::value_of(p) {
            Some(Value::Number(n)) => n.to_string().parse::<usize>().ok(),
            Some(Value::String(s)) => s.trim().parse::<usize>().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| TerminologyError::param(name, "expected a non-negative integer"))
    }

    /// A complex value (`valueCoding`, `valueCodeableConcept`) or a resource.
    pub fn complex(&self, name: &'static str) -> Result<Option<&'a Value>, TerminologyError> {
        let Some(p) = self.one(name)? else { return Ok(None) };
        match p.get("resource").or_else(|| Self::value_of(p)) {
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            _ => Err(TerminologyError::param(name, "expected a complex value or a resource")),
        }
    }
}

/// Builds an output `Parameters` resource.
#[derive(Debug, Default)]
pub struct Output {
    parameters: Vec<Value>,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `{"name": name, key: value}`, e.g. `("result", "valueBoolean", true)`.
    pub fn add(&mut self, name: &str, key: &str, value: impl Into<Value>) -> &mut Self {
        let mut p = Map::new();
        p.insert("name".into(), name.into());
        p.insert(key.into(), value.into());
        self.parameters.push(Value::Object(p));
        self
    }

    pub fn string(&mut self, name: &str, value: &str) -> &mut Self {
        self.add(name, "valueString", value)
    }

    /// Adds a parameter made of parts (`designation`, `property`, `match`).
    pub fn parts(&mut self, name: &str, parts: Vec<Value>) -> &mut Self {
        self.parameters.push(json!({"name": name, "part": parts}));
        self
    }

    pub fn build(self) -> Value {
        json!({"resourceType": "Parameters", "parameter": self.parameters})
    }
}

/// One part of a multi-part parameter.
pub fn part(name: &str, key: &str, value: impl Into<Value>) -> Value {
    let mut p = Map::new();
    p.insert("name".into(), name.into());
    p.insert(key.into(), value.into());
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_and_query_string_values_alike() {
        let p = json!({"resourceType": "Parameters", "parameter": [
            {"name": "count", "valueString": "10"},
            {"name": "offset", "valueInteger": 5},
            {"name": "activeOnly", "valueString": "true"},
            {"name": "code", "valueCode": "x"}
        ]});
        let params = Params::new(&p);
        assert_eq!(params.integer("count").unwrap(), Some(10));
        assert_eq!(params.integer("offset").unwrap(), Some(5));
        assert_eq!(params.boolean("activeOnly").unwrap(), Some(true));
        assert_eq!(params.string("code").unwrap(), Some("x"));
        assert_eq!(params.string("system").unwrap(), None);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let p = json!({"parameter": [{"name": "count", "valueString": "ten"},
            {"name": "url", "valueUri": "a"}, {"name": "url", "valueUri": "b"}]});
        let params = Params::new(&p);
        assert!(matches!(
            params.integer("count"),
            Err(TerminologyError::InvalidParameter { name: "count", .. })
        ));
        assert!(matches!(
            params.string("url"),
            Err(TerminologyError::InvalidParameter { name: "url", .. })
        ));
    }
}
