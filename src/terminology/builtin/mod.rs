//! Code systems defined by a grammar rather than a list of codes: UCUM units,
//! BCP-47 language tags, MIME types. They validate any code but cannot be
//! enumerated, so a value set including one of them whole can be checked
//! against but not expanded.

mod bcp47;
mod mime;

pub const UCUM: &str = "http://unitsofmeasure.org";
pub const BCP47: &str = "urn:ietf:bcp:47";
pub const MIME: &str = "urn:ietf:bcp:13";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Ucum,
    Bcp47,
    Mime,
}

impl Builtin {
    pub fn for_system(system: &str) -> Option<Self> {
        match system {
            UCUM => Some(Builtin::Ucum),
            BCP47 => Some(Builtin::Bcp47),
            MIME => Some(Builtin::Mime),
            _ => None,
        }
    }

    pub fn url(self) -> &'static str {
        match self {
            Builtin::Ucum => UCUM,
            Builtin::Bcp47 => BCP47,
            Builtin::Mime => MIME,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Ucum => "UCUM",
            Builtin::Bcp47 => "BCP-47 language tags",
            Builtin::Mime => "MIME types",
        }
    }

    /// Checks a code; `Ok` carries its display where the system gives one
    /// (a UCUM unit displays as itself; `pt-BR` as "Portuguese (Brazil)").
    pub fn check(self, code: &str) -> Result<Option<String>, String> {
        match self {
            Builtin::Ucum => {
                if crate::ucum::is_valid(code) {
                    Ok(Some(code.to_owned()))
                } else {
                    Err(format!("'{code}' is not a valid UCUM unit"))
                }
            }
            Builtin::Bcp47 => bcp47::check(code).map(Some),
            Builtin::Mime => mime::check(code).map(|()| None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucum_units_are_checked_by_the_ucum_grammar() {
        assert!(Builtin::Ucum.check("mg/dL").is_ok());
        assert!(Builtin::Ucum.check("Cel").is_ok());
        assert!(Builtin::Ucum.check("mg/").is_err());
        assert!(Builtin::Ucum.check("furlong").is_err());
    }
}
