//! Writes Bundle JSON as text, splicing stored resource JSON in as it is, so
//! resources are not parsed and re-serialised just to be wrapped.

use serde_json::{json, Map, Value};

pub struct BundleWriter {
    buf: Vec<u8>,
    entries: usize,
}

impl BundleWriter {
    /// Starts a Bundle of `bundle_type` with `total` and `link`s (relation, url).
    pub fn new(bundle_type: &str, id: &str, timestamp: &str, total: Option<i64>, links: &[(&str, String)]) -> Self {
        let mut head = Map::new();
        head.insert("resourceType".into(), json!("Bundle"));
        head.insert("id".into(), json!(id));
        head.insert("meta".into(), json!({ "lastUpdated": timestamp }));
        head.insert("type".into(), json!(bundle_type));
        if let Some(t) = total {
            head.insert("total".into(), json!(t));
        }
        if !links.is_empty() {
            let links: Vec<Value> = links
                .iter()
                .map(|(rel, url)| json!({"relation": rel, "url": url}))
                .collect();
            head.insert("link".into(), Value::Array(links));
        }
        let mut buf = Value::Object(head).to_string().into_bytes();
        // Reopen the object to append `entry`.
        buf.pop();
        BundleWriter { buf, entries: 0 }
    }

    /// Appends an entry. `resource` is resource JSON text spliced in as is;
    /// `parts` holds the other entry elements (`search`, `request`, `response`).
    pub fn entry(&mut self, full_url: Option<&str>, resource: Option<&[u8]>, parts: Map<String, Value>) {
        self.buf
            .extend_from_slice(if self.entries == 0 { b",\"entry\":[{" } else { b",{" });
        self.entries += 1;
        let mut first = true;
        let mut field = |buf: &mut Vec<u8>, name: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(format!("\"{name}\":").as_bytes());
        };
        if let Some(url) = full_url {
            field(&mut self.buf, "fullUrl");
            self.buf
                .extend_from_slice(Value::String(url.to_string()).to_string().as_bytes());
        }
        if let Some(r) = resource {
            field(&mut self.buf, "resource");
            self.buf.extend_from_slice(r);
        }
        for (name, value) in parts {
            field(&mut self.buf, &name);
            self.buf.extend_from_slice(value.to_string().as_bytes());
        }
        self.buf.push(b'}');
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.entries > 0 {
            self.buf.push(b']');
        }
        self.buf.push(b'}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produces_valid_json_with_spliced_resources() {
        let mut w = BundleWriter::new(
            "history",
            "b1",
            "2026-01-01T00:00:00Z",
            Some(2),
            &[("self", "http://x/_history".into())],
        );
        let mut parts = Map::new();
        parts.insert("request".into(), json!({"method": "PUT", "url": "Patient/1"}));
        w.entry(
            Some("http://x/Patient/1"),
            Some(br#"{"resourceType":"Patient","id":"1"}"#),
            parts,
        );
        w.entry(None, None, Map::new());
        let v: Value = serde_json::from_slice(&w.finish()).unwrap_or_default();
        assert_eq!(v["entry"][0]["resource"]["id"], "1");
        assert_eq!(v["entry"][0]["request"]["method"], "PUT");
        assert_eq!(v["total"], 2);
        assert_eq!(v["entry"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn empty_bundle_has_no_entry_array() {
        let v: Value =
            serde_json::from_slice(&BundleWriter::new("history", "b", "t", Some(0), &[]).finish()).unwrap_or_default();
        assert_eq!(v["type"], "history");
        assert!(v.get("entry").is_none());
    }
}
