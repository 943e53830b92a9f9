//! The `_page` cursor: where a page starts, and the point in time the whole
//! page set is pinned to. Pages are keyset pages — "the rows after (or
//! before) this row in the search's order" — so writes between two pages
//! never repeat or skip a resource that did not change; and the cursor
//! carries the highest resource key that existed when the first page was
//! computed, so resources created later never appear on later pages.
//!
//! The cursor is opaque to clients: URL-safe base64 of a small JSON array,
//! `[1, pin, direction, rkey, [key…]]`, each key `null`, `{"s": text}`,
//! `{"i": integer}` or `{"f": "double"}`. A cursor is checked against the
//! search's sort keys before use; it is not a secret (every value in it is
//! bound as a parameter, never spliced into SQL).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::SearchError;
use crate::store::{FoundRow, KeyKind, KeyValue};

const FORMAT: i64 = 1;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    /// The highest resource key when the first page was computed.
    pub(crate) pin: i64,
    /// `true`: the page is the rows before the anchor (a `previous` link).
    pub(crate) backward: bool,
    /// The anchor row: its sort keys and resource key.
    pub(crate) keys: Vec<KeyValue>,
    pub(crate) rkey: i64,
}

impl Cursor {
    /// The page after `row`.
    pub(crate) fn after(pin: i64, row: &FoundRow) -> Cursor {
        Cursor {
            pin,
            backward: false,
            keys: row.keys.clone(),
            rkey: row.rkey,
        }
    }

    /// The page before `row`.
    pub(crate) fn before(pin: i64, row: &FoundRow) -> Cursor {
        Cursor {
            backward: true,
            ..Cursor::after(pin, row)
        }
    }

    pub(crate) fn encode(&self) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|key| match key {
                KeyValue::Null => Value::Null,
                KeyValue::Text(text) => json!({ "s": text }),
                KeyValue::Int(int) => json!({ "i": int }),
                // As text: a double survives it exactly, whatever the JSON
                // number handling.
                KeyValue::Real(real) => json!({ "f": real.to_string() }),
            })
            .collect();
        let direction = if self.backward { "b" } else { "a" };
        let text = json!([FORMAT, self.pin, direction, self.rkey, keys]).to_string();
        URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads a cursor and checks it fits sort keys of `kinds`.
    pub(crate) fn decode(text: &str, kinds: &[KeyKind]) -> Result<Cursor, SearchError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| SearchError::BadPage("not a cursor"))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| SearchError::BadPage("not a cursor"))?;
        let malformed = || SearchError::BadPage("not a cursor");
        let Some([format, pin, direction, rkey, Value::Array(keys)]) = value.as_array().map(Vec::as_slice) else {
            return Err(malformed());
        };
        if format.as_i64() != Some(FORMAT) {
            return Err(SearchError::BadPage("written by another version"));
        }
        let backward = match direction.as_str() {
            Some("a") => false,
            Some("b") => true,
            _ => return Err(malformed()),
        };
        if keys.len() != kinds.len() {
            return Err(SearchError::BadPage("written for another _sort"));
        }
        let keys = keys
            .iter()
            .zip(kinds)
            .map(|(key, kind)| read_key(key, *kind))
            .collect::<Option<Vec<_>>>()
            .ok_or(SearchError::BadPage("written for another _sort"))?;
        Ok(Cursor {
            pin: pin.as_i64().ok_or_else(malformed)?,
            backward,
            keys,
            rkey: rkey.as_i64().ok_or_else(malformed)?,
        })
    }
}

fn read_key(key: &Value, kind: KeyKind) -> Option<KeyValue> {
    if key.is_null() {
        return Some(KeyValue::Null);
    }
    let object = key.as_object()?;
    match kind {
        KeyKind::Text => object.get("s")?.as_str().map(|s| KeyValue::Text(s.to_owned())),
        KeyKind::Int => object.get("i")?.as_i64().map(KeyValue::Int),
        KeyKind::Real => object.get("f")?.as_str()?.parse().ok().map(KeyValue::Real),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            pin: 42,
            backward: true,
            keys: vec![
                KeyValue::Text("josé|,$".into()),
                KeyValue::Null,
                KeyValue::Int(i64::MIN),
                KeyValue::Real(0.1 + 0.2),
            ],
            rkey: 7,
        }
    }

    const KINDS: [KeyKind; 4] = [KeyKind::Text, KeyKind::Real, KeyKind::Int, KeyKind::Real];

    /// Paging depends on keys coming back bit for bit, doubles included.
    #[test]
    fn a_cursor_reads_back_as_itself() {
        let c = cursor();
        assert_eq!(Cursor::decode(&c.encode(), &KINDS), Ok(c));
    }

    #[test]
    fn a_cursor_is_url_safe() {
        assert!(cursor()
            .encode()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn a_cursor_for_another_sort_or_garbage_is_refused() {
        let text = cursor().encode();
        assert_eq!(
            Cursor::decode(&text, &KINDS[..3]),
            Err(SearchError::BadPage("written for another _sort"))
        );
        let kinds = [KeyKind::Int, KeyKind::Real, KeyKind::Int, KeyKind::Real];
        assert!(Cursor::decode(&text, &kinds).is_err());
        assert!(Cursor::decode("not base64!", &KINDS).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("[2,1,\"a\",1,[]]"), &[]).is_err());
    }
}
