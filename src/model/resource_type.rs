//! The resource types of FHIR R4 (4.0.1), as a validated newtype.

use std::fmt;

/// Every resource type of FHIR R4 4.0.1, sorted. The list lives in
/// `ipe-xml`, which needs it too and checks it against the R4 package.
pub const ALL: [&str; 146] = ipe_xml::R4_RESOURCE_TYPES;

/// A resource type name known to be one of the 146 of R4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType(&'static str);

impl ResourceType {
    /// Accepts exactly the R4 names (case-sensitive, as the spec requires).
    pub fn parse(name: &str) -> Option<Self> {
        ALL.binary_search(&name).ok().map(|i| ResourceType(ALL[i]))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    pub fn all() -> impl Iterator<Item = ResourceType> {
        ALL.iter().map(|n| ResourceType(n))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_so_binary_search_is_valid() {
        assert!(ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parses_known_and_rejects_unknown_or_miscased() {
        assert_eq!(ResourceType::parse("Patient").map(|t| t.as_str()), Some("Patient"));
        assert!(ResourceType::parse("patient").is_none());
        assert!(ResourceType::parse("Foo").is_none());
    }
}
