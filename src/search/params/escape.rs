//! The spec's escaping inside search values
//! (<https://hl7.org/fhir/R4/search.html#escaping>): `\,` `\$` `\|` and `\\`
//! stand for the character itself, so a value can contain the characters that
//! separate OR values (`,`), composite components (`$`) and token or quantity
//! parts (`|`).

/// The characters with a meaning inside a value, which a literal one must escape.
const SPECIAL: [char; 4] = ['\\', ',', '$', '|'];

/// Splits `text` at every `separator` that is not escaped. The parts keep
/// their escapes, so they can be split again at another separator.
pub(crate) fn split(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Removes the escapes. A backslash before any other character is not an
/// escape and stays, so Windows paths and regular expressions survive.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(next)) if SPECIAL.contains(next) => {
                out.push(*next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The escaped form of a literal value part, the inverse of [`unescape`].
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a\,b,c` is two OR values, the first containing a comma.
    #[test]
    fn an_escaped_separator_does_not_split() {
        assert_eq!(split(r"a\,b,c", ','), [r"a\,b", "c"]);
        assert_eq!(split(r"x\|y|z", '|'), [r"x\|y", "z"]);
        assert_eq!(split(r"1\$2$3", '$'), [r"1\$2", "3"]);
    }

    /// `a\\,b` is an escaped backslash followed by a real separator.
    #[test]
    fn an_escaped_backslash_does_not_escape_the_separator() {
        assert_eq!(split(r"a\\,b", ','), [r"a\\", "b"]);
        assert_eq!(unescape(r"a\\"), r"a\");
    }

    #[test]
    fn empty_parts_are_kept_so_callers_can_reject_them() {
        assert_eq!(split(",a,", ','), ["", "a", ""]);
        assert_eq!(split("", ','), [""]);
    }

    #[test]
    fn unescape_removes_only_the_four_escapes() {
        assert_eq!(unescape(r"\,\$\|\\"), r",$|\");
        assert_eq!(unescape(r"C:\dir\n"), r"C:\dir\n");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }

    #[test]
    fn escape_is_undone_by_unescape() {
        for text in [r"a,b$c|d\e", "plain", "", r"\\,", "José"] {
            assert_eq!(unescape(&escape(text)), text);
            assert_eq!(split(&escape(text), ',').len(), 1, "{text}");
        }
    }
}
