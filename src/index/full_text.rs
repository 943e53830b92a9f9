//! The words of a resource for `_text` and `_content`
//! (<https://hl7.org/fhir/R4/search.html#text>): its narrative, and the text
//! of its data.
//!
//! Words are ours, not a database's: every text is folded like string search
//! values ([`normalize_string`]: case, accents and punctuation), and a word is
//! what lies between two spaces of the folded text. The store keeps the
//! folded text and both databases only look words up in it (PostgreSQL
//! builds its `tsvector` from these words without its text-search parser,
//! SQLite's FTS5 splits them with its `ascii` tokenizer, which cuts only at
//! the spaces and `|` written here), so a search finds the same resources on
//! either.
//!
//! What goes in, decided by the R4 element types (`conformance/r4-elements.tsv`):
//!
//! - **narrative**: the text a reader sees in the resource's own `text.div`
//!   (tags removed, references decoded: [`ipe_xml::narrative_text`]).
//! - **data**: every `string`, `markdown` and `code` value anywhere in the
//!   resource — names, addresses, displays, `CodeableConcept.text`,
//!   identifier values, codes, notes, extension values of those types — and
//!   the text of any other narrative in it (a `Composition.section.text`, an
//!   entry's narrative in a Bundle), contained resources included.
//!   Left out: `id`s, `meta`, `Reference.reference` (a pointer, not text),
//!   and every other type (URIs, dates, numbers, booleans, base64 data).
//!
//! In `data`, values are separated by ` | ` (`|` is never a word: folding
//! removes it from search values), so a quoted phrase matches within one
//! value and never across two; a value seen before is not repeated.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::normalize_string;
use crate::model::definitions::{self, Definitions, Kind, TypeDef};

/// The longest word indexed, in bytes. Longer runs of letters and digits
/// are hashes or encoded data, not words; leaving them out also keeps every
/// word far below PostgreSQL's 2 KB limit on a `tsvector` lexeme.
pub const MAX_WORD_BYTES: usize = 128;

/// The most folded text kept per column, in bytes: text past it is not
/// searchable. It bounds the write cost of a huge resource and keeps a
/// `tsvector` well under PostgreSQL's 1 MB limit.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// What separates two values in [`FullText::data`].
pub const VALUE_SEPARATOR: &str = " | ";

/// The folded words of one resource, each column a single string of words
/// separated by one space (and values by [`VALUE_SEPARATOR`] in `data`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FullText {
    /// What `_text` searches.
    pub narrative: String,
    /// What `_content` searches besides the narrative.
    pub data: String,
}

impl FullText {
    pub fn is_empty(&self) -> bool {
        self.narrative.is_empty() && self.data.is_empty()
    }
}

/// The folded words of `text`, as a search value is read: the same folding
/// and splitting as the indexed text, long words included (they then match
/// nothing, since none are indexed).
pub fn words(text: &str) -> Vec<String> {
    normalize_string(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The narrative and data words of a resource; empty for JSON that is not a
/// resource of a known type.
pub fn full_text(resource: &Value) -> FullText {
    let Some(object) = resource.as_object() else {
        return FullText::default();
    };
    let mut narrative = Column::default();
    if let Some(div) = object
        .get("text")
        .and_then(|text| text.get("div"))
        .and_then(Value::as_str)
    {
        narrative.push_narrative(div);
    }
    let mut walker = Walker {
        defs: definitions::r4(),
        data: Column::default(),
    };
    walker.resource(object, true);
    FullText {
        narrative: narrative.text,
        data: walker.data.text,
    }
}

/// One column being written.
#[derive(Default)]
struct Column {
    text: String,
    /// Folded values already written, so repeats (a display in every
    /// Coding of a Claim) cost nothing.
    seen: HashSet<String>,
    full: bool,
}

impl Column {
    /// Adds one value's words, unless the value was seen or the column is full.
    fn push(&mut self, value: &str) {
        if self.full {
            return;
        }
        let folded = normalize_string(value);
        if folded.is_empty() || self.seen.contains(&folded) {
            return;
        }
        let mut words = folded.split(' ').filter(|word| word.len() <= MAX_WORD_BYTES).peekable();
        if words.peek().is_none() {
            return;
        }
        let start = self.text.len();
        if start > 0 {
            self.text.push_str(VALUE_SEPARATOR);
        }
        let mut first = true;
        for word in words {
            // Stop at a whole word: never index half of one.
            if self.text.len() + word.len() + 1 > MAX_TEXT_BYTES {
                self.full = true;
                if first {
                    self.text.truncate(start);
                }
                return;
            }
            if !first {
                self.text.push(' ');
            }
            self.text.push_str(word);
            first = false;
        }
        self.seen.insert(folded);
    }

    /// Adds the text of a narrative `div`. Markup that is not well-formed
    /// adds nothing: the write path has checked every narrative already, so
    /// this only happens to resources stored before that check existed.
    fn push_narrative(&mut self, div: &str) {
        if let Ok(text) = ipe_xml::narrative_text(div) {
            self.push(&text);
        }
    }
}

/// Walks a resource with the R4 definitions, collecting data words.
struct Walker {
    defs: &'static Definitions,
    data: Column,
}

impl Walker {
    /// `top`: the searched resource itself, whose narrative is a column of
    /// its own; the narrative of a resource inside it is data.
    fn resource(&mut self, object: &Map<String, Value>, top: bool) {
        let def = object
            .get("resourceType")
            .and_then(Value::as_str)
            .and_then(|name| self.defs.get(name))
            .filter(|def| def.kind == Kind::Resource);
        let Some(def) = def else { return };
        for (key, value) in object {
            // A full column takes nothing more: stop walking (a Bundle of
            // thousands of resources would otherwise be walked to its end).
            if self.data.full {
                return;
            }
            if matches!(key.as_str(), "meta" | "_meta") || (top && matches!(key.as_str(), "text" | "_text")) {
                continue;
            }
            self.element(def, "", key, value);
        }
    }

    /// The members of an object of type `def` (under the backbone path `parent`).
    fn object(&mut self, def: &'static TypeDef, parent: &str, object: &Map<String, Value>) {
        for (key, value) in object {
            if self.data.full {
                return;
            }
            // A Reference's `reference` is where it points, not what it says.
            if def.name == "Reference" && key == "reference" {
                continue;
            }
            self.element(def, parent, key, value);
        }
    }

    /// One member `key` of an object of type `def`, with its value(s).
    fn element(&mut self, def: &'static TypeDef, parent: &str, key: &str, value: &Value) {
        let name = key.strip_prefix('_').unwrap_or(key);
        if name == "id" || name == "resourceType" {
            return;
        }
        if key.starts_with('_') {
            // `_given`: the extensions of a primitive value.
            if let Some(element) = self.defs.get("Element") {
                self.each_object(value, |walker, object| walker.object(element, "", object));
            }
            return;
        }
        let Some(element) = def.child(parent, key) else {
            return;
        };
        if let Some(children) = element.children {
            self.each_object(value, |walker, object| walker.object(def, children, object));
            return;
        }
        let type_code = match element.choice {
            true => element.choice_type(key),
            false => Some(element.type_code()),
        };
        match type_code {
            Some("string" | "markdown" | "code") => each(value, |item| {
                if let Some(text) = item.as_str() {
                    self.data.push(text);
                }
            }),
            Some("Narrative") => each(value, |item| {
                if let Some(div) = item.get("div").and_then(Value::as_str) {
                    self.data.push_narrative(div);
                }
            }),
            Some("Resource") => self.each_object(value, |walker, object| walker.resource(object, false)),
            Some(other) => {
                if let Some(complex) = self.defs.get(other).filter(|t| t.kind == Kind::ComplexType) {
                    self.each_object(value, |walker, object| walker.object(complex, "", object));
                }
            }
            None => {}
        }
    }

    fn each_object(&mut self, value: &Value, mut visit: impl FnMut(&mut Self, &Map<String, Value>)) {
        each(value, |item| {
            if let Value::Object(object) = item {
                visit(self, object);
            }
        });
    }
}

/// `value` itself, or each item of an array (a repeating element).
fn each<'v>(value: &'v Value, mut visit: impl FnMut(&'v Value)) {
    match value {
        Value::Array(items) => items.iter().for_each(visit),
        other => visit(other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patient() -> Value {
        json!({
            "resourceType": "Patient", "id": "secret-id",
            "meta": {"versionId": "1", "tag": [{"code": "metatag", "display": "Meta Tag"}]},
            "text": {"status": "generated",
                     "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>José <b>Sil</b>va</p><p>Diabetic</p></div>"},
            "identifier": [{"system": "http://hospital.example/mrn", "value": "MRN-77"}],
            "name": [{"family": "Silva", "given": ["José", "Maria"], "_given": [null, {"extension": [
                {"url": "http://example.org/ext", "valueString": "Nickname Mazé"}]}]}],
            "gender": "male",
            "birthDate": "1980-05-17",
            "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                          "code": "M", "display": "Married"}], "text": "Married"},
            "generalPractitioner": [{"reference": "Practitioner/dr-who", "display": "Dr. Hibbert"}],
            "contact": [{"name": {"text": "Ana Souza"}, "telecom": [{"system": "phone", "value": "555-0100"}]}],
            "photo": [{"contentType": "image/png", "data": "aGVsbG8gd29ybGQ="}],
            "contained": [{"resourceType": "Organization", "id": "org", "name": "Clínica Ipê"}]
        })
    }

    fn data_words(resource: &Value) -> Vec<String> {
        full_text(resource).data.split(' ').map(str::to_owned).collect()
    }

    /// The narrative column holds what a reader of `text.div` sees, folded.
    #[test]
    fn the_narrative_is_its_folded_text() {
        assert_eq!(full_text(&patient()).narrative, "jose silva diabetic");
    }

    /// Strings, codes and displays are data, wherever they are: backbone
    /// elements, datatypes, primitive extensions, contained resources.
    #[test]
    fn data_holds_every_string_and_code() {
        let words = data_words(&patient());
        for word in [
            "mrn", "77", "silva", "jose", "maria", "nickname", "maze", "male", "m", "married", "dr", "hibbert", "ana",
            "souza", "555", "0100", "phone", "image", "png", "clinica", "ipe",
        ] {
            assert!(words.iter().any(|w| w == word), "{word} missing from {words:?}");
        }
    }

    /// Ids, meta, references, URIs, dates, base64 data and the narrative
    /// itself are not data words.
    #[test]
    fn data_leaves_out_ids_meta_references_uris_dates_and_binary() {
        let words = data_words(&patient());
        for word in [
            "secret",
            "metatag",
            "meta",
            "practitioner",
            "who",
            "http",
            "hospital",
            "1980",
            "05",
            "agvsbg8gd29ybgq",
            "diabetic",
            "generated",
        ] {
            assert!(!words.iter().any(|w| w == word), "{word} in {words:?}");
        }
    }

    /// A phrase must not match across two values, and a repeated value
    /// is written once ("Married" is both display and text).
    #[test]
    fn values_are_separated_and_written_once() {
        let data = full_text(&patient()).data;
        assert!(data.contains("jose | maria"), "{data}");
        assert_eq!(data.matches("married").count(), 1, "{data}");
        assert!(!data.starts_with('|') && !data.ends_with(' '), "{data}");
    }

    /// Narratives other than the resource's own (a Composition section,
    /// a Bundle entry) are data of the resource that holds them.
    #[test]
    fn inner_narratives_are_data() {
        let composition = json!({"resourceType": "Composition", "status": "final", "title": "Discharge",
            "section": [{"title": "Plan", "text": {"status": "generated",
                "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rest &amp; fluids</div>"}}]});
        let bundle = json!({"resourceType": "Bundle", "type": "document", "entry": [{"resource": composition}]});
        let text = full_text(&bundle);
        assert_eq!(text.narrative, "");
        assert!(text.data.contains("rest fluids"), "{}", text.data);
        assert!(text.data.contains("discharge"), "{}", text.data);
    }

    /// Long runs of letters (hashes, encoded data) are not words, and a
    /// column stops growing at its limit without cutting a word.
    #[test]
    fn long_words_and_long_texts_are_bounded() {
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        let resource = json!({"resourceType": "Basic", "code": {"text": format!("short {long} end")}});
        assert_eq!(full_text(&resource).data, "short end");
        let notes: Vec<Value> = (0..40_000)
            .map(|i| json!({"text": format!("note number {i}")}))
            .collect();
        let big = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "note": notes});
        let data = full_text(&big).data;
        assert!(data.len() <= MAX_TEXT_BYTES, "{}", data.len());
        assert!(data.len() > MAX_TEXT_BYTES - 64, "{}", data.len());
        let last = data.rsplit(' ').next().unwrap_or_default();
        assert!(
            last == "note" || last == "number" || last.parse::<u32>().is_ok(),
            "cut inside a word: {last}"
        );
    }

    /// Not a resource, or a type Ipê does not know: nothing, and no panic.
    #[test]
    fn anything_else_has_no_words() {
        assert!(full_text(&json!("text")).is_empty());
        assert!(full_text(&json!({"resourceType": "Spaceship", "name": "x"})).is_empty());
        assert!(full_text(&json!({"resourceType": "Patient", "name": "not a list", "text": {"div": "<p"}})).is_empty());
    }

    #[test]
    fn search_words_fold_like_the_index() {
        assert_eq!(words("  JOSÉ da-Silva "), ["jose", "da", "silva"]);
        assert!(words("--").is_empty());
    }
}
