//! The rules of FHIR's JSON format that the R4 JSON Schema does not express,
//! checked in one walk over the resource guided by the schema's type model:
//!
//! - no `null`, except inside a repeating primitive paired with its `_x`
//!   array, to keep positions aligned (`"given": ["a", null], "_given": [null, {…}]`);
//! - mandatory choice elements (`medication[x]`) present in one of their types;
//! - no empty objects `{}`, empty arrays `[]`, empty or whitespace-only strings;
//! - narrative (`xhtml`) is one well-formed XHTML `div` (no HTML entities
//!   such as `&nbsp;`), so every stored resource can be served as XML;
//! - `x` and `_x` arrays of the same length, never both `null` at one position
//!   (a lone `_x` for a single value is legal: an extension with no value);
//! - `integer`, `positiveInt`, `unsignedInt`: the schema's patterns apply only
//!   to strings, so JSON numbers are checked here for integer form and range;
//! - nested resources (`contained`, `Bundle.entry.resource`,
//!   `Parameters.parameter.resource`, …) are validated against their own type.
//!
//! Where the JSON kind of a value does not fit its property (an object for a
//! string…), the walk does not descend: the schema reports the mismatch.

use serde_json::{Map, Value};

use super::findings::{child, Finding, Pointer, Segment, MAX_FINDINGS};
use super::schema_model::{DefId, Kind, Primitive, Property};
use super::structural::StructuralValidator;
use crate::outcome::IssueType;

/// Deeper than this, the resource is refused without further checks: it keeps
/// recursion (here and in the schema validator) bounded for any input. Real
/// resources stay far below (serde_json's own parser stops at 128).
pub(crate) const MAX_DEPTH: usize = 100;

/// Whether a walk got through the whole resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    Complete,
    /// Too deep; only a finding saying so was recorded.
    Abandoned,
}

/// One step of the walk's current location, borrowed from the resource so
/// that walking a valid resource allocates nothing.
#[derive(Debug, Clone, Copy)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

pub(crate) struct Walker<'a, 'v> {
    validator: &'a StructuralValidator,
    findings: &'a mut Vec<Finding>,
    /// Where the walked resource sits (empty at the top level).
    prefix: &'a [Segment],
    /// Where the walk is, below `prefix`.
    path: Vec<Step<'v>>,
    abandoned: bool,
}

impl<'a, 'v> Walker<'a, 'v> {
    pub fn new(validator: &'a StructuralValidator, findings: &'a mut Vec<Finding>, prefix: &'a [Segment]) -> Self {
        Walker {
            validator,
            findings,
            prefix,
            path: Vec::new(),
            abandoned: false,
        }
    }

    /// Walks one resource whose type definition is `def`; `depth` counts the
    /// JSON levels above it.
    pub fn resource(mut self, object: &'v Map<String, Value>, def: DefId, depth: usize) -> Walk {
        self.object(object, def, depth);
        if self.abandoned {
            Walk::Abandoned
        } else {
            Walk::Complete
        }
    }

    /// The current location as an owned pointer, built only when needed.
    fn here(&self) -> Pointer {
        let mut pointer = Vec::with_capacity(self.prefix.len() + self.path.len());
        pointer.extend_from_slice(self.prefix);
        pointer.extend(self.path.iter().map(|step| match *step {
            Step::Key(key) => Segment::Key(key.to_owned()),
            Step::Index(index) => Segment::Index(index),
        }));
        pointer
    }

    fn report(&mut self, code: IssueType, message: impl Into<String>) {
        let finding = Finding::new(self.here(), code, message);
        self.findings.push(finding);
    }

    fn full(&self) -> bool {
        self.abandoned || self.findings.len() >= MAX_FINDINGS
    }

    fn object(&mut self, object: &'v Map<String, Value>, def: DefId, depth: usize) {
        if depth > MAX_DEPTH {
            self.report(
                IssueType::Structure,
                format!("nested more than {MAX_DEPTH} levels deep; not checked further"),
            );
            self.abandoned = true;
            return;
        }
        let model = self.validator.model();
        self.required_choices(object, def);
        for (key, value) in object {
            if self.full() {
                return;
            }
            // Unknown keys are the schema's to report.
            let Some(&property) = model.def(def).properties.get(key) else {
                continue;
            };
            self.path.push(Step::Key(key));
            self.property(object, key, value, property, depth);
            self.path.pop();
        }
    }

    /// Mandatory choices (`medication[x]`): one of the typed names must be
    /// there, or its `_x` extension part for a primitive choice.
    fn required_choices(&mut self, object: &Map<String, Value>, def: DefId) {
        let model = self.validator.model();
        for (base, names) in &model.def(def).required_choices {
            let present = names
                .iter()
                .any(|name| object.contains_key(name) || object.contains_key(&format!("_{name}")));
            if !present {
                let pointer = child(&self.here(), Segment::Key(base.clone()));
                self.findings.push(Finding::new(
                    pointer,
                    IssueType::Required,
                    format!("missing required element '{base}[x]' (one of {})", names.join(", ")),
                ));
            }
        }
    }

    fn property(
        &mut self,
        parent: &'v Map<String, Value>,
        key: &str,
        value: &'v Value,
        property: Property,
        depth: usize,
    ) {
        match value {
            Value::Null => self.report(
                IssueType::Structure,
                format!("'{key}' is null; leave the element out instead"),
            ),
            Value::Array(items) if property.array => self.array(parent, key, items, property, depth),
            // A single value where the definition wants one.
            _ if !property.array && !value.is_array() => self.one(value, property.kind, depth),
            // Array where a single value is wanted, or the reverse: the schema says so.
            _ => {}
        }
    }

    fn array(
        &mut self,
        parent: &'v Map<String, Value>,
        key: &str,
        items: &'v [Value],
        property: Property,
        depth: usize,
    ) {
        if items.is_empty() {
            self.report(
                IssueType::Structure,
                format!("'{key}' is an empty array; leave the element out instead"),
            );
            return;
        }
        // Pairing matters only for nulls, and for the length check done from
        // the `_x` side; most arrays have neither, so it is looked up lazily.
        let mut pairing = None;
        if key.starts_with('_') {
            let found = pairing_of(parent, key, items.len(), property);
            if let Pairing::Mismatched { partner_key, len } = &found {
                self.report(
                    IssueType::Structure,
                    format!(
                        "'{key}' has {} but '{partner_key}' has {}; they must be the same \
                         length, with null where one side has nothing",
                        entries(items.len()),
                        entries(*len),
                    ),
                );
            }
            pairing = Some(found);
        }
        for (index, item) in items.iter().enumerate() {
            if self.full() {
                return;
            }
            self.path.push(Step::Index(index));
            match item {
                Value::Null => {
                    let pairing = pairing.get_or_insert_with(|| pairing_of(parent, key, items.len(), property));
                    self.null_item(key, index, pairing);
                }
                _ => self.one(item, property.kind, depth + 1),
            }
            self.path.pop();
        }
    }

    /// Checks one non-null value of a property (one array item, or the value).
    fn one(&mut self, value: &'v Value, kind: Kind, depth: usize) {
        match (kind, value) {
            (Kind::Complex(def), Value::Object(object)) => {
                if object.is_empty() {
                    self.report(
                        IssueType::Structure,
                        "empty object; an element must have a value, children or extensions",
                    );
                } else {
                    self.object(object, def, depth + 1);
                }
            }
            (Kind::Resource, _) => {
                let here = self.here();
                if self
                    .validator
                    .check_resource(value, &here, self.findings, depth + 1)
                    .is_abandoned()
                {
                    self.abandoned = true;
                }
            }
            (Kind::Primitive(Primitive::Xhtml), Value::String(div)) => {
                if let Err(e) = ipe_xml::check_narrative(div) {
                    self.report(IssueType::Value, format!("the narrative is not valid XHTML: {e}"));
                }
            }
            (Kind::Primitive(Primitive::Text), Value::String(text)) => {
                if text.is_empty() {
                    self.report(IssueType::Value, "empty string; leave the element out instead");
                } else if text.chars().all(is_fhir_whitespace) {
                    self.report(
                        IssueType::Value,
                        "string of only whitespace; a value needs at least one other character",
                    );
                }
            }
            (
                Kind::Primitive(kind @ (Primitive::Integer | Primitive::PositiveInt | Primitive::UnsignedInt)),
                Value::Number(number),
            ) => {
                if let Some(message) = integer_problem(kind, &number.to_string()) {
                    self.report(IssueType::Value, message);
                }
            }
            // Kind mismatches are the schema's to report; nothing else to check.
            _ => {}
        }
    }

    fn null_item(&mut self, key: &str, index: usize, pairing: &Pairing<'_>) {
        match pairing {
            Pairing::NotAllowed => self.report(
                IssueType::Structure,
                format!(
                    "null in '{key}'; null is only allowed in a repeating primitive, \
                     to align it with its extensions"
                ),
            ),
            Pairing::Alone { partner_key } => self.report(
                IssueType::Structure,
                format!("null in '{key}' without a matching entry in '{partner_key}'"),
            ),
            Pairing::With {
                partner_key,
                partner,
                is_extension_side,
            } => {
                // Both null: nothing at this position. Reported once, from the value side.
                if partner.get(index).is_some_and(Value::is_null) && !is_extension_side {
                    self.report(
                        IssueType::Structure,
                        format!(
                            "'{key}' and '{partner_key}' are both null at position {index}; \
                             each position needs a value or an extension"
                        ),
                    );
                }
            }
            // The length mismatch is reported once, for the whole array.
            Pairing::Mismatched { .. } => {}
        }
    }
}

fn entries(count: usize) -> String {
    if count == 1 {
        "1 entry".to_owned()
    } else {
        format!("{count} entries")
    }
}

/// How nulls in the array `key` of `parent` are to be judged.
fn pairing_of<'v>(parent: &'v Map<String, Value>, key: &str, len: usize, property: Property) -> Pairing<'v> {
    let (partner_key, is_extension_side) = match key.strip_prefix('_') {
        Some(base) => (base.to_owned(), true),
        None => (format!("_{key}"), false),
    };
    // The schema defines `_x` only next to a primitive `x`, so a known `_x`
    // property is always the extension side of a pair.
    let pairable = match property.kind {
        Kind::Primitive(_) => !is_extension_side,
        Kind::Complex(_) => is_extension_side,
        _ => false,
    };
    if !pairable {
        return Pairing::NotAllowed;
    }
    match parent.get(&partner_key) {
        Some(Value::Array(partner)) if partner.len() == len => Pairing::With {
            partner_key,
            partner,
            is_extension_side,
        },
        Some(Value::Array(partner)) => Pairing::Mismatched {
            partner_key,
            len: partner.len(),
        },
        _ => Pairing::Alone { partner_key },
    }
}

/// How a null in an array is judged.
enum Pairing<'v> {
    /// Not a primitive array or its `_x`: null never allowed.
    NotAllowed,
    /// A primitive array with no partner array: a null marks nothing.
    Alone { partner_key: String },
    /// Partner array of the same length.
    With {
        partner_key: String,
        partner: &'v [Value],
        is_extension_side: bool,
    },
    /// Partner array of another length (`len`).
    Mismatched { partner_key: String, len: usize },
}

/// Whitespace as FHIR's patterns mean it (from XML Schema): a no-break space
/// is content, not whitespace.
fn is_fhir_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// What is wrong with the JSON number `text` as a value of `kind`, if anything.
/// FHIR integers are 32-bit and written without fraction or exponent.
pub(crate) fn integer_problem(kind: Primitive, text: &str) -> Option<String> {
    let (type_name, min) = match kind {
        Primitive::Integer => ("integer", i64::from(i32::MIN)),
        Primitive::PositiveInt => ("positiveInt", 1),
        Primitive::UnsignedInt => ("unsignedInt", 0),
        _ => return None,
    };
    let max = i64::from(i32::MAX);
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "{type_name} must be a whole number without fraction or exponent, found {text}"
        ));
    }
    match text.parse::<i64>() {
        Ok(value) if (min..=max).contains(&value) => None,
        _ => Some(format!("{type_name} must be between {min} and {max}, found {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_checked_for_form_because_the_schema_patterns_skip_numbers() {
        assert_eq!(integer_problem(Primitive::Integer, "42"), None);
        assert_eq!(integer_problem(Primitive::Integer, "-2147483648"), None);
        assert!(integer_problem(Primitive::Integer, "1.5").is_some());
        assert!(integer_problem(Primitive::Integer, "1.0").is_some());
        assert!(integer_problem(Primitive::Integer, "1e3").is_some());
        assert!(integer_problem(Primitive::Integer, "2147483648").is_some());
        assert!(integer_problem(Primitive::Integer, "99999999999999999999999").is_some());
    }

    #[test]
    fn positive_and_unsigned_ints_have_their_own_lower_bounds() {
        assert!(integer_problem(Primitive::PositiveInt, "0").is_some());
        assert_eq!(integer_problem(Primitive::PositiveInt, "1"), None);
        assert_eq!(integer_problem(Primitive::UnsignedInt, "0"), None);
        assert!(integer_problem(Primitive::UnsignedInt, "-1").is_some());
        // decimals are any JSON number: nothing to add
        assert_eq!(integer_problem(Primitive::Number, "1e400"), None);
    }
}
