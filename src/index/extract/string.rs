//! String parameters (search.html "string"): string and markdown values, and
//! the parts of HumanName and Address, each indexed on its own.

use serde_json::Value;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::IndexValue;
use crate::fhirpath::Item;

/// The parts of a HumanName searched by a string parameter.
const HUMAN_NAME_PARTS: [&str; 5] = ["family", "given", "prefix", "suffix", "text"];
/// The parts of an Address searched by a string parameter.
const ADDRESS_PARTS: [&str; 7] = ["line", "city", "district", "state", "postalCode", "country", "text"];

pub(super) fn values(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    match item {
        Item::Node(node) => match (node.type_name(), node.json()) {
            (Some("HumanName"), Some(name)) => parts(name, &HUMAN_NAME_PARTS, out),
            (Some("Address"), Some(address)) => parts(address, &ADDRESS_PARTS, out),
            (_, Some(Value::String(text))) => push(text, out),
            _ => {}
        },
        Item::String(text) => push(text, out),
        _ => {}
    }
}

/// Each listed member of `object`, a string or a list of strings (`given`, `line`).
fn parts(object: &Value, names: &[&str], out: &mut Vec<IndexValue>) {
    for name in names {
        match object.get(*name) {
            Some(Value::String(text)) => push(text, out),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).for_each(|text| push(text, out)),
            _ => {}
        }
    }
}

fn push(text: &str, out: &mut Vec<IndexValue>) {
    let normalized = normalize_string(text);
    if normalized.is_empty() && text.trim().is_empty() {
        return;
    }
    out.push(IndexValue::String {
        normalized,
        exact: text.to_owned(),
    });
}

/// The string normalisation used for both indexing and search values:
/// compatibility-decomposed (NFKD) with accents dropped, lower-cased, a few
/// letters without decomposition spelled out (`ß` → `ss`, `ø` → `o`),
/// apostrophes removed (`O'Brien` → `obrien`, as people search for it), every
/// other run of punctuation or white space one space, trimmed:
/// "José  da-Silva" → "jose da silva", so `jose` finds it by prefix.
pub fn normalize_string(s: &str) -> String {
    let mut folder = Folder {
        out: String::with_capacity(s.len()),
        space_pending: false,
    };
    if s.is_ascii() {
        // No decomposition to do: most names and codes take this path.
        s.chars().for_each(|c| folder.push(c));
    } else {
        s.nfkd().filter(|c| !is_combining_mark(*c)).for_each(|c| folder.push(c));
    }
    folder.out
}

struct Folder {
    out: String,
    /// A separator was seen since the last letter; written only before the
    /// next letter, so there is no leading, trailing or double space.
    space_pending: bool,
}

impl Folder {
    fn push(&mut self, c: char) {
        if c.is_alphanumeric() {
            if self.space_pending && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.space_pending = false;
            if c.is_ascii() {
                self.out.push(c.to_ascii_lowercase());
            } else {
                c.to_lowercase().for_each(|lower| self.push_letter(lower));
            }
        } else if !is_apostrophe(c) {
            self.space_pending = true;
        }
    }

    fn push_letter(&mut self, c: char) {
        match c {
            'ß' => self.out.push_str("ss"),
            'æ' => self.out.push_str("ae"),
            'œ' => self.out.push_str("oe"),
            'ø' => self.out.push('o'),
            'ł' => self.out.push('l'),
            'đ' => self.out.push('d'),
            'ı' => self.out.push('i'),
            other => self.out.push(other),
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the API contract, and what makes prefix search on
    /// accented names work.
    #[test]
    fn folds_case_accents_punctuation_and_spaces() {
        assert_eq!(normalize_string("José  da-Silva"), "jose da silva");
        assert_eq!(normalize_string("  ÁLVARES, Conceição "), "alvares conceicao");
        assert_eq!(normalize_string("Straße Øster"), "strasse oster");
        assert_eq!(normalize_string("O'Brien"), "obrien");
        assert_eq!(normalize_string("D’Ávila"), "davila");
    }

    /// NFKD also folds compatibility forms people paste from documents.
    #[test]
    fn folds_ligatures_and_full_width_letters() {
        assert_eq!(normalize_string("ﬁnn"), "finn");
        assert_eq!(normalize_string("ＡＢＣ"), "abc");
    }

    /// Marks are dropped in every script (й → и, as ё → е), the same way on
    /// both sides of a search; letters and digits stay.
    #[test]
    fn keeps_letters_of_other_scripts_and_digits() {
        assert_eq!(normalize_string("Дмитрий 12"), "дмитрии 12");
        assert_eq!(normalize_string("山田 太郎"), "山田 太郎");
        assert_eq!(normalize_string("--"), "");
    }
}
