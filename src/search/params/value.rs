//! Search values by parameter type (<https://hl7.org/fhir/R4/search.html#ptypes>):
//! each parsed from one escaped OR item and rendered back to it.

use std::str::FromStr;

use rust_decimal::Decimal;
use thiserror::Error;

use super::escape::{escape, split, unescape};
use crate::fhirpath::temporal::DateTime;
use crate::index::normalize_string;
use crate::model::{Id, ResourceType};

/// Why a value cannot be used; the message follows the quoted value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("is empty")]
    Empty,
    #[error("is not a number")]
    NotANumber,
    #[error("is not a date, dateTime or instant")]
    NotADate,
    #[error("is not a quantity ([prefix]number, number||code or number|system|code)")]
    NotAQuantity,
    #[error("is not a token (code, system|code, |code or system|)")]
    NotAToken,
    #[error("is not system|code|value with all three parts")]
    NotOfType,
    #[error("is not latitude|longitude[|distance[|units]] (degrees, a distance ≥ 0, a UCUM length unit)")]
    NotNear,
    #[error("is not a reference (id, Type/id or an absolute URL)")]
    NotAReference,
    #[error("names '{0}', which is not a resource type")]
    UnknownType(String),
    #[error("refers to {0}, which this parameter cannot refer to")]
    NotATarget(ResourceType),
    #[error("refers to {found}, but the modifier asks for {wanted}")]
    TypeMismatch { wanted: ResourceType, found: ResourceType },
    #[error("is a URL; the type modifier needs an id")]
    UrlWithType,
    #[error("has a version, which only a canonical URL can have")]
    VersionWithoutUrl,
    #[error("has {found} components separated by '$' where this parameter has {expected}")]
    ComponentCount { expected: usize, found: usize },
    #[error("uses the prefix '{0}', which this parameter does not support")]
    PrefixNotAllowed(&'static str),
    #[error("is not true or false")]
    NotABoolean,
    #[error("is not a resource id")]
    NotAnId,
    #[error("is a list, but this parameter takes a single value")]
    NotASingleValue,
    #[error("is not a non-negative integer")]
    NotACount,
    #[error("is not one of {0}")]
    NotOneOf(&'static str),
    #[error("is not an element name")]
    NotAnElement,
    #[error("is not a parameter name, optionally preceded by '-'")]
    NotASortKey,
    #[error("is not Type:parameter[:TargetType] or *")]
    NotAnInclude,
    /// A `_text` / `_content` value that is not a text query.
    #[error("{0}")]
    NotATextQuery(super::TextQueryError),
}

/// The comparison prefix of number, date and quantity values
/// (<https://hl7.org/fhir/R4/search.html#prefix>); `eq` when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// Starts after the value's range.
    Sa,
    /// Ends before the value's range.
    Eb,
    /// Approximately equal, the server decides how near.
    Ap,
}

impl Prefix {
    const ALL: [Prefix; 9] = [
        Prefix::Eq,
        Prefix::Ne,
        Prefix::Gt,
        Prefix::Lt,
        Prefix::Ge,
        Prefix::Le,
        Prefix::Sa,
        Prefix::Eb,
        Prefix::Ap,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }

    /// Splits a leading prefix off `item`. Numbers and dates start with a
    /// digit or `-`, so two leading letters are never part of the value.
    fn split(item: &str) -> (Prefix, &str) {
        let found = item
            .get(..2)
            .and_then(|head| Prefix::ALL.into_iter().find(|p| p.code() == head));
        match found {
            Some(prefix) => (prefix, &item[2..]),
            None => (Prefix::Eq, item),
        }
    }

    /// The prefix as written in a value: nothing for the default `eq`.
    fn query_text(self) -> &'static str {
        match self {
            Prefix::Eq => "",
            other => other.code(),
        }
    }
}

/// A number with its implied precision: `100` is [99.5, 100.5), `100.00` is
/// [99.995, 100.005) and `1e2` is [50, 150) — half a unit of the last digit
/// written. (The R4 table gives [95, 105) for `1e2`, which contradicts its own
/// "1 significant figure"; R5 corrected it to [50, 150).)
#[derive(Debug, Clone, PartialEq)]
pub struct NumberValue {
    pub prefix: Prefix,
    pub value: Decimal,
    /// The range the value stands for, [low, high).
    pub low: Decimal,
    pub high: Decimal,
    /// As written, without the prefix: the precision lives in it.
    pub text: String,
}

/// A date, dateTime or instant with the [low, high) range its precision
/// covers, in microseconds since the Unix epoch (UTC; a time without an
/// offset is read as UTC, the server's zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateValue {
    pub prefix: Prefix,
    pub low: i64,
    pub high: i64,
    /// As written, without the prefix.
    pub text: String,
}

/// `[prefix]number|system|code`. `None` system or code match any: `5.4||mg`
/// is 5.4 in any system whose code (or unit) is `mg`; `5.4` has no units.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue {
    pub number: NumberValue,
    pub system: Option<String>,
    pub code: Option<String>,
}

/// The four forms of a token value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenValue {
    /// `code`: the code in any system, or in none.
    Code(String),
    /// `system|code`.
    SystemCode { system: String, code: String },
    /// `|code`: the code with no system.
    CodeWithoutSystem(String),
    /// `system|`: any code of the system.
    System(String),
}

/// A reference value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceValue {
    /// `id` or `Type/id` (or `id` with a `:Type` modifier). Without a type
    /// the id may be of any type the parameter refers to.
    Local {
        resource_type: Option<ResourceType>,
        id: Id,
    },
    /// An absolute URL; a canonical may carry `|version`.
    Url { url: String, version: Option<String> },
}

/// A string value, and its form folded like the index (case and accents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringValue {
    pub text: String,
    pub normalized: String,
}

/// The `:of-type` value `system|code|value`: an identifier whose type has the
/// coding `system|code` and whose value is `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfTypeValue {
    pub system: String,
    pub code: String,
    pub value: String,
}

/// A `near` value (Location.position): `latitude|longitude|distance|units`,
/// the distance in metres (default 10 km when left out, as the spec leaves
/// it to the server).
#[derive(Debug, Clone, PartialEq)]
pub struct NearValue {
    pub latitude: f64,
    pub longitude: f64,
    pub metres: f64,
    /// As written, for the `self` link.
    pub raw: String,
}

/// The distance `near` uses when the client gives none.
pub const NEAR_DEFAULT_METRES: f64 = 10_000.0;

/// One component of a composite value: the plain (unmodified) value of the
/// component's parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(NumberValue),
    Date(DateValue),
    Quantity(QuantityValue),
    String(StringValue),
    Token(TokenValue),
    Reference(ReferenceValue),
    Uri(String),
}

pub(crate) fn number(item: &str) -> Result<NumberValue, ValueError> {
    let (prefix, text) = Prefix::split(item);
    let text = unescape(text);
    let (value, half) = decimal_with_precision(&text).ok_or(ValueError::NotANumber)?;
    let (low, high) = value
        .checked_sub(half)
        .zip(value.checked_add(half))
        .ok_or(ValueError::NotANumber)?;
    Ok(NumberValue {
        prefix,
        value,
        low,
        high,
        text,
    })
}

pub(crate) fn date(item: &str) -> Result<DateValue, ValueError> {
    let (prefix, text) = Prefix::split(item);
    let text = unescape(text);
    // The FHIRPath parser also takes a literal's bare `2015T`, which no FHIR
    // date type allows.
    let parsed = DateTime::parse(&text).filter(|_| !text.ends_with('T'));
    let (low, high) = parsed.and_then(|d| d.range_micros()).ok_or(ValueError::NotADate)?;
    Ok(DateValue {
        prefix,
        low,
        high,
        text,
    })
}

pub(crate) fn quantity(item: &str) -> Result<QuantityValue, ValueError> {
    let parts = split(item, '|');
    let (number_part, system, code) = match parts.as_slice() {
        [number] => (*number, None, None),
        [number, system, code] => (*number, non_empty(system), non_empty(code)),
        _ => return Err(ValueError::NotAQuantity),
    };
    let number = number(number_part).map_err(|_| ValueError::NotAQuantity)?;
    Ok(QuantityValue { number, system, code })
}

pub(crate) fn token(item: &str) -> Result<TokenValue, ValueError> {
    match split(item, '|').as_slice() {
        [code] => Ok(TokenValue::Code(unescape(code))),
        [system, code] => match (non_empty(system), non_empty(code)) {
            (Some(system), Some(code)) => Ok(TokenValue::SystemCode { system, code }),
            (None, Some(code)) => Ok(TokenValue::CodeWithoutSystem(code)),
            (Some(system), None) => Ok(TokenValue::System(system)),
            (None, None) => Err(ValueError::NotAToken),
        },
        _ => Err(ValueError::NotAToken),
    }
}

pub(crate) fn of_type(item: &str) -> Result<OfTypeValue, ValueError> {
    match split(item, '|').as_slice() {
        [system, code, value] => match (non_empty(system), non_empty(code), non_empty(value)) {
            (Some(system), Some(code), Some(value)) => Ok(OfTypeValue { system, code, value }),
            _ => Err(ValueError::NotOfType),
        },
        _ => Err(ValueError::NotOfType),
    }
}

pub(crate) fn near(item: &str) -> Result<NearValue, ValueError> {
    let parts: Vec<String> = split(item, '|').iter().map(|p| unescape(p)).collect();
    let number = |text: &str| text.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let (latitude, longitude) = match parts.as_slice() {
        [lat, long, ..] if parts.len() <= 4 => (number(lat), number(long)),
        _ => return Err(ValueError::NotNear),
    };
    let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
        return Err(ValueError::NotNear);
    };
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(ValueError::NotNear);
    }
    let distance = parts.get(2).map(|d| d.trim()).filter(|d| !d.is_empty());
    let metres = match distance {
        None => NEAR_DEFAULT_METRES,
        Some(d) => {
            let d = Decimal::from_str(d).map_err(|_| ValueError::NotNear)?;
            let unit = parts.get(3).map(|u| u.trim()).filter(|u| !u.is_empty()).unwrap_or("km");
            let (value, canonical) = crate::ucum::to_canonical(d, unit).map_err(|_| ValueError::NotNear)?;
            let metres: f64 = value.try_into().map_err(|_| ValueError::NotNear)?;
            if canonical != "m" || metres < 0.0 {
                return Err(ValueError::NotNear);
            }
            metres
        }
    };
    Ok(NearValue {
        latitude,
        longitude,
        metres,
        raw: item.to_owned(),
    })
}

pub(crate) fn reference(item: &str) -> Result<ReferenceValue, ValueError> {
    let parts = split(item, '|');
    let (target, version) = match parts.as_slice() {
        [target] => (unescape(target), None),
        [target, version] => (unescape(target), non_empty(version)),
        _ => return Err(ValueError::NotAReference),
    };
    if is_absolute_url(&target) {
        return Ok(ReferenceValue::Url { url: target, version });
    }
    if version.is_some() {
        return Err(ValueError::VersionWithoutUrl);
    }
    let (resource_type, id) = match target.split_once('/') {
        Some((type_name, id)) => {
            let resource_type =
                ResourceType::parse(type_name).ok_or_else(|| ValueError::UnknownType(type_name.to_owned()))?;
            (Some(resource_type), id)
        }
        None => (None, target.as_str()),
    };
    let id = Id::parse(id).ok_or(ValueError::NotAReference)?;
    Ok(ReferenceValue::Local { resource_type, id })
}

pub(crate) fn string(item: &str) -> StringValue {
    let text = unescape(item);
    let normalized = normalize_string(&text);
    StringValue { text, normalized }
}

pub(crate) fn uri(item: &str) -> String {
    unescape(item)
}

impl NumberValue {
    pub(crate) fn query_text(&self) -> String {
        format!("{}{}", self.prefix.query_text(), escape(&self.text))
    }
}

impl DateValue {
    pub(crate) fn query_text(&self) -> String {
        format!("{}{}", self.prefix.query_text(), escape(&self.text))
    }
}

impl QuantityValue {
    pub(crate) fn query_text(&self) -> String {
        let number = self.number.query_text();
        if self.system.is_none() && self.code.is_none() {
            return number;
        }
        let part = |p: &Option<String>| p.as_deref().map(escape).unwrap_or_default();
        format!("{number}|{}|{}", part(&self.system), part(&self.code))
    }
}

impl TokenValue {
    pub(crate) fn query_text(&self) -> String {
        match self {
            TokenValue::Code(code) => escape(code),
            TokenValue::SystemCode { system, code } => format!("{}|{}", escape(system), escape(code)),
            TokenValue::CodeWithoutSystem(code) => format!("|{}", escape(code)),
            TokenValue::System(system) => format!("{}|", escape(system)),
        }
    }
}

impl ReferenceValue {
    pub(crate) fn query_text(&self) -> String {
        match self {
            ReferenceValue::Local {
                resource_type: Some(t),
                id,
            } => format!("{t}/{id}"),
            ReferenceValue::Local {
                resource_type: None,
                id,
            } => id.to_string(),
            ReferenceValue::Url { url, version: None } => escape(url),
            ReferenceValue::Url {
                url,
                version: Some(version),
            } => format!("{}|{}", escape(url), escape(version)),
        }
    }
}

impl OfTypeValue {
    pub(crate) fn query_text(&self) -> String {
        format!(
            "{}|{}|{}",
            escape(&self.system),
            escape(&self.code),
            escape(&self.value)
        )
    }
}

impl Value {
    pub(crate) fn query_text(&self) -> String {
        match self {
            Value::Number(v) => v.query_text(),
            Value::Date(v) => v.query_text(),
            Value::Quantity(v) => v.query_text(),
            Value::String(v) => escape(&v.text),
            Value::Token(v) => v.query_text(),
            Value::Reference(v) => v.query_text(),
            Value::Uri(v) => escape(v),
        }
    }
}

fn non_empty(escaped: &str) -> Option<String> {
    (!escaped.is_empty()).then(|| unescape(escaped))
}

/// `scheme:rest` (RFC 3986): `http://…`, `urn:uuid:…`. An id has no colon,
/// so nothing else can be mistaken for one.
fn is_absolute_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

/// A FHIR decimal (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) and half
/// a unit of its last written digit.
fn decimal_with_precision(text: &str) -> Option<(Decimal, Decimal)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    if !is_plain_decimal(mantissa) {
        return None;
    }
    let exponent = match exponent {
        Some(e) => parse_exponent(e)?,
        None => 0,
    };
    let fraction_digits = mantissa.split_once('.').map_or(0, |(_, f)| f.len());
    let scale = i32::try_from(fraction_digits).ok()?;
    let value = Decimal::from_str(mantissa).ok()?.checked_mul(power_of_ten(exponent)?)?;
    let half = Decimal::from(5).checked_mul(power_of_ten(exponent.checked_sub(scale)?.checked_sub(1)?)?)?;
    Some((value, half))
}

fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(integer) && (integer == "0" || !integer.starts_with('0')) && fraction.is_none_or(digits)
}

fn parse_exponent(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// 10^exponent, if a `Decimal` can hold it (|exponent| ≤ 28).
fn power_of_ten(exponent: i32) -> Option<Decimal> {
    let magnitude = exponent.unsigned_abs();
    if magnitude > 28 {
        return None;
    }
    if exponent >= 0 {
        Decimal::try_from_i128_with_scale(10_i128.checked_pow(magnitude)?, 0).ok()
    } else {
        Some(Decimal::new(1, magnitude))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or(Decimal::MAX)
    }

    fn micros(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .map(|d| d.timestamp_micros())
            .unwrap_or(i64::MIN)
    }

    /// Every prefix is recognised on numbers, dates and quantities, and a
    /// value without one means `eq`.
    #[test]
    fn every_prefix_is_read_on_number_date_and_quantity() {
        for prefix in Prefix::ALL {
            let code = prefix.code();
            assert_eq!(number(&format!("{code}5")).map(|n| n.prefix), Ok(prefix));
            assert_eq!(date(&format!("{code}2024")).map(|d| d.prefix), Ok(prefix));
            assert_eq!(quantity(&format!("{code}5||mg")).map(|q| q.number.prefix), Ok(prefix));
        }
        assert_eq!(number("5").map(|n| n.prefix), Ok(Prefix::Eq));
        assert_eq!(date("2024").map(|d| d.prefix), Ok(Prefix::Eq));
    }

    #[test]
    fn an_unknown_prefix_is_not_a_number() {
        assert_eq!(number("xx5"), Err(ValueError::NotANumber));
        assert_eq!(number("gt"), Err(ValueError::NotANumber));
        assert_eq!(date("on2024"), Err(ValueError::NotADate));
    }

    /// search.html#number: the precision of the value written is the range searched.
    #[test]
    fn a_number_covers_half_a_unit_of_its_last_digit() {
        for (text, low, high) in [
            ("100", "99.5", "100.5"),
            ("100.00", "99.995", "100.005"),
            ("1e2", "50", "150"),
            ("1.5E-3", "0.00145", "0.00155"),
            ("-2.0", "-2.05", "-1.95"),
            ("0", "-0.5", "0.5"),
        ] {
            let n = number(text).map(|n| (n.low, n.high));
            assert_eq!(n, Ok((dec(low), dec(high))), "{text}");
        }
        assert_eq!(number("1e2").map(|n| n.value), Ok(dec("100")));
    }

    #[test]
    fn numbers_follow_the_fhir_decimal_syntax() {
        for bad in ["", "abc", "1.", ".5", "01", "1e", "1e1234", "+1", "1,5", "NaN", "1e40"] {
            assert_eq!(number(bad), Err(ValueError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn a_date_covers_its_precision() {
        let day = date("2024-03-01").map(|d| (d.low, d.high));
        assert_eq!(
            day,
            Ok((micros("2024-03-01T00:00:00Z"), micros("2024-03-02T00:00:00Z")))
        );
        let minute = date("ge2024-03-01T10:30").map(|d| (d.low, d.high));
        assert_eq!(
            minute,
            Ok((micros("2024-03-01T10:30:00Z"), micros("2024-03-01T10:31:00Z")))
        );
        let offset = date("2024-03-01T10:30:00+02:00").map(|d| d.low);
        assert_eq!(offset, Ok(micros("2024-03-01T08:30:00Z")));
    }

    #[test]
    fn a_date_that_is_not_one_is_rejected() {
        for bad in ["2024-13", "2024-02-30", "yesterday", "2024T", "2024-03-01T25:00", ""] {
            assert_eq!(date(bad), Err(ValueError::NotADate), "{bad}");
        }
    }

    /// search.html#quantity: number alone, `||code` and `|system|code`.
    #[test]
    fn quantity_forms() {
        let plain = quantity("5.4").map(|q| (q.system, q.code));
        assert_eq!(plain, Ok((None, None)));
        let code_only = quantity("5.4||mg").map(|q| (q.system, q.code));
        assert_eq!(code_only, Ok((None, Some("mg".to_owned()))));
        let full = quantity("lt5.4|http://unitsofmeasure.org|mg").map(|q| (q.number.prefix, q.system, q.code));
        assert_eq!(
            full,
            Ok((
                Prefix::Lt,
                Some("http://unitsofmeasure.org".to_owned()),
                Some("mg".to_owned())
            ))
        );
        for bad in ["5.4|mg", "5.4|a|b|c", "mg", "|x|mg"] {
            assert_eq!(quantity(bad), Err(ValueError::NotAQuantity), "{bad}");
        }
    }

    /// search.html#token: `code`, `system|code`, `|code`, `system|`.
    #[test]
    fn token_forms() {
        assert_eq!(token("abc"), Ok(TokenValue::Code("abc".into())));
        assert_eq!(
            token("http://loinc.org|1234-5"),
            Ok(TokenValue::SystemCode {
                system: "http://loinc.org".into(),
                code: "1234-5".into()
            })
        );
        assert_eq!(token("|abc"), Ok(TokenValue::CodeWithoutSystem("abc".into())));
        assert_eq!(token("http://x|"), Ok(TokenValue::System("http://x".into())));
        assert_eq!(token("|"), Err(ValueError::NotAToken));
        assert_eq!(token("a|b|c"), Err(ValueError::NotAToken));
    }

    #[test]
    fn an_escaped_bar_belongs_to_the_code() {
        assert_eq!(
            token(r"s|a\|b"),
            Ok(TokenValue::SystemCode {
                system: "s".into(),
                code: "a|b".into()
            })
        );
    }

    #[test]
    fn of_type_needs_all_three_parts() {
        assert_eq!(
            of_type("http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053"),
            Ok(OfTypeValue {
                system: "http://terminology.hl7.org/CodeSystem/v2-0203".into(),
                code: "MR".into(),
                value: "446053".into()
            })
        );
        for bad in ["MR|446053", "|MR|446053", "s||v", "s|c|", "a|b|c|d"] {
            assert_eq!(of_type(bad), Err(ValueError::NotOfType), "{bad}");
        }
    }

    /// search.html#reference: id, Type/id, absolute URL and canonical url|version.
    #[test]
    fn reference_forms() {
        let local = |t: Option<&str>, id: &str| ReferenceValue::Local {
            resource_type: t.and_then(ResourceType::parse),
            id: Id::parse(id).unwrap_or_else(|| panic!("{id}")),
        };
        assert_eq!(reference("123"), Ok(local(None, "123")));
        assert_eq!(reference("Patient/123"), Ok(local(Some("Patient"), "123")));
        assert_eq!(
            reference("http://example.org/fhir/Patient/123"),
            Ok(ReferenceValue::Url {
                url: "http://example.org/fhir/Patient/123".into(),
                version: None
            })
        );
        assert_eq!(
            reference("http://example.org/ValueSet/x|1.2"),
            Ok(ReferenceValue::Url {
                url: "http://example.org/ValueSet/x".into(),
                version: Some("1.2".into())
            })
        );
        assert!(matches!(reference("urn:uuid:1f0e"), Ok(ReferenceValue::Url { .. })));
    }

    #[test]
    fn a_reference_that_is_not_one_is_rejected() {
        assert_eq!(
            reference("Spaceship/1"),
            Err(ValueError::UnknownType("Spaceship".into()))
        );
        assert_eq!(reference("Patient/1/_history/2"), Err(ValueError::NotAReference));
        assert_eq!(reference("a b"), Err(ValueError::NotAReference));
        assert_eq!(reference("Patient/1|2"), Err(ValueError::VersionWithoutUrl));
    }

    /// Strings are matched in the index's folded form ("José" finds "jose").
    #[test]
    fn a_string_carries_its_normalized_form() {
        let s = string(r"Jos\,é");
        assert_eq!(s.text, "Jos,é");
        assert_eq!(s.normalized, normalize_string("Jos,é"));
        assert_eq!(string("José").normalized, "jose");
    }

    /// The self link writes values back; reading them again must give the same value.
    #[test]
    fn rendered_values_parse_back_to_themselves() {
        for item in ["gt1.50", "1e2", "-3"] {
            let n = number(item);
            assert_eq!(n.clone().map(|n| n.query_text()), Ok(item.to_owned()));
            assert_eq!(n.clone().and_then(|n| number(&n.query_text())), n);
        }
        for item in ["ap5.4|http://unitsofmeasure.org|mg", "5.4||mg", "5.4"] {
            assert_eq!(quantity(item).map(|q| q.query_text()), Ok(item.to_owned()));
        }
        for item in [r"s\|x|c\,d", "|c", "s|", "c"] {
            assert_eq!(token(item).map(|t| t.query_text()), Ok(item.to_owned()));
        }
        for item in ["Patient/1", "1", "http://x/y|2", r"http://x/a\,b"] {
            assert_eq!(reference(item).map(|r| r.query_text()), Ok(item.to_owned()));
        }
        assert_eq!(
            date("sa2024-01-01T10:00:00+02:00").map(|d| d.query_text()),
            Ok("sa2024-01-01T10:00:00+02:00".to_owned())
        );
    }
}
