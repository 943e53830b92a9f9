//! MIME types (`urn:ietf:bcp:13`): `type/subtype` per RFC 6838 with one of
//! the registered top-level types, optionally followed by `; name=value`
//! parameters (FHIR's `Attachment.contentType` carries `charset`).

const TOP_LEVEL: &[&str] = &[
    "application",
    "audio",
    "example",
    "font",
    "haptics",
    "image",
    "message",
    "model",
    "multipart",
    "text",
    "video",
];

pub fn check(code: &str) -> Result<(), String> {
    let mut pieces = code.split(';');
    let media = pieces.next().unwrap_or_default().trim();
    let (top, sub) = media
        .split_once('/')
        .ok_or_else(|| format!("'{code}' is not a MIME type: expected type/subtype"))?;
    if !TOP_LEVEL.contains(&top.to_ascii_lowercase().as_str()) {
        return Err(format!("'{top}' is not a registered top-level MIME type"));
    }
    if !is_restricted_name(sub) {
        return Err(format!("'{sub}' is not a valid MIME subtype"));
    }
    for parameter in pieces {
        let ok = parameter
            .split_once('=')
            .is_some_and(|(n, v)| is_restricted_name(n.trim()) && !v.trim().is_empty());
        if !ok {
            return Err(format!("'{}' is not a valid MIME parameter", parameter.trim()));
        }
    }
    Ok(())
}

/// RFC 6838 `restricted-name`: 1–127 characters, starting alphanumeric.
fn is_restricted_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.len() <= 127
        && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_registered_types_with_parameters() {
        for ok in [
            "application/fhir+json",
            "text/plain; charset=UTF-8",
            "image/svg+xml",
            "application/vnd.ms-excel",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_unknown_top_level_types_and_bad_syntax() {
        for bad in ["pdf", "document/pdf", "text/", "text/pl ain", "text/plain; charset"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
