//! Narrative content (txt-1, txt-2): one `div` in the XHTML namespace,
//! holding only the basic HTML formatting elements and attributes FHIR
//! allows — no `<script>`, no event handler attributes — and some text.
//! The rules themselves live with the XML code in `ipe_xml`.

use super::walk::Walker;
use crate::outcome::IssueType;

impl Walker<'_, '_> {
    pub(super) fn narrative(&mut self, div: &str, path: &str) {
        for problem in ipe_xml::narrative_problems(div) {
            self.error(IssueType::Value, path, format!("Narrative: {problem}"));
        }
    }
}
