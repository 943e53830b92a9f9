//! Resource logical ids (`[A-Za-z0-9\-\.]{1,64}`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(String);

impl Id {
    pub fn parse(s: &str) -> Option<Self> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        ok.then(|| Id(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_fhir_ids_and_rejects_the_rest() {
        assert!(Id::parse("a-1.B").is_some());
        assert!(Id::parse(&"x".repeat(64)).is_some());
        for bad in ["", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(Id::parse(bad).is_none(), "{bad}");
        }
    }
}
