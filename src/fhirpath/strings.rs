//! String functions (<https://hl7.org/fhirpath/N1/#string-manipulation>) and
//! the additional ones FHIR uses (`trim`, `split`, `join`, `encode`…).
//! Positions and lengths count characters, not bytes.

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use regex::Regex;

use super::eval::Collection;
use super::functions::Func;
use super::value::Item;
use super::EvalError;

/// Runs a string function on one item; `None` if `func` is not one.
pub(super) fn call<'a>(
    func: Func,
    item: &Item<'a>,
    args: &[Collection<'a>],
) -> Result<Option<Collection<'a>>, EvalError> {
    use Func::*;
    if !matches!(
        func,
        IndexOf
            | Substring
            | StartsWith
            | EndsWith
            | ContainsText
            | Upper
            | Lower
            | Replace
            | Matches
            | MatchesFull
            | ReplaceMatches
            | Length
            | ToChars
            | Trim
            | Split
            | Join
            | Encode
            | Decode
            | Escape
            | Unescape
    ) {
        return Ok(None);
    }
    if func == Join {
        return Ok(Some(Vec::new()));
    }
    let s = item
        .as_str()
        .ok_or_else(|| EvalError::new(format!("{}() needs a string, found {}", func.name(), item.type_label())))?;
    // An empty argument makes the result empty.
    let mut texts = Vec::with_capacity(args.len());
    for arg in args {
        match arg.as_slice() {
            [] => return Ok(Some(Vec::new())),
            [value] => texts.push(value.clone()),
            _ => {
                return Err(EvalError::new(format!(
                    "{}() arguments must be single items",
                    func.name()
                )))
            }
        }
    }
    let text = |i: usize| -> Result<Cow<'a, str>, EvalError> {
        texts
            .get(i)
            .and_then(Item::as_str)
            .ok_or_else(|| EvalError::new(format!("{}() needs string arguments", func.name())))
    };
    let string = |s: String| Ok(Some(vec![Item::String(Cow::Owned(s))]));
    let boolean = |b: bool| Ok(Some(vec![Item::Boolean(b)]));
    match func {
        IndexOf => {
            let needle = text(0)?;
            let index = s.find(needle.as_ref()).map_or(-1, |at| char_count(&s[..at]));
            Ok(Some(vec![Item::Integer(index)]))
        }
        Substring => substring(&s, &texts),
        StartsWith => boolean(s.starts_with(text(0)?.as_ref())),
        EndsWith => boolean(s.ends_with(text(0)?.as_ref())),
        ContainsText => boolean(s.contains(text(0)?.as_ref())),
        Upper => string(s.to_uppercase()),
        Lower => string(s.to_lowercase()),
        Replace => {
            let (pattern, substitution) = (text(0)?, text(1)?);
            if pattern.is_empty() {
                // The spec: an empty pattern inserts the substitution around every character.
                let mut out = substitution.to_string();
                for c in s.chars() {
                    out.push(c);
                    out.push_str(&substitution);
                }
                return string(out);
            }
            string(s.replace(pattern.as_ref(), &substitution))
        }
        Matches => boolean(regex(&text(0)?, false)?.is_match(&s)),
        MatchesFull => boolean(regex(&text(0)?, true)?.is_match(&s)),
        ReplaceMatches => {
            let pattern = text(0)?;
            // An empty pattern matches nowhere in particular: the input comes back unchanged.
            if pattern.is_empty() {
                return string(s.into_owned());
            }
            let re = regex(&pattern, false)?;
            let substitution = text(1)?;
            string(re.replace_all(&s, substitution.as_ref()).into_owned())
        }
        Length => Ok(Some(vec![Item::Integer(char_count(&s))])),
        ToChars => Ok(Some(
            s.chars().map(|c| Item::String(Cow::Owned(c.to_string()))).collect(),
        )),
        Trim => string(s.trim().to_owned()),
        Split => {
            let separator = text(0)?;
            Ok(Some(
                s.split(separator.as_ref())
                    .map(|part| Item::String(Cow::Owned(part.to_owned())))
                    .collect(),
            ))
        }
        Encode => string(encode(&s, &text(0)?)?),
        Decode => Ok(Some(
            decode(&s, &text(0)?)?
                .map(|d| Item::String(Cow::Owned(d)))
                .into_iter()
                .collect(),
        )),
        Escape => string(escape(&s, &text(0)?)?),
        Unescape => string(unescape(&s, &text(0)?)?),
        _ => Ok(None),
    }
}

/// `join(separator)` works on the whole collection, not one item.
pub(super) fn join<'a>(input: &[Item<'a>], separator: Option<&str>) -> Result<Collection<'a>, EvalError> {
    let mut parts = Vec::with_capacity(input.len());
    for item in input {
        parts.push(item.as_str().ok_or_else(|| EvalError::new("join() needs strings"))?);
    }
    Ok(vec![Item::String(Cow::Owned(parts.join(separator.unwrap_or(""))))])
}

fn char_count(s: &str) -> i64 {
    i64::try_from(s.chars().count()).unwrap_or(i64::MAX)
}

fn substring<'a>(s: &str, args: &[Item<'a>]) -> Result<Option<Collection<'a>>, EvalError> {
    let int = |item: &Item| match item.system() {
        Some(Item::Integer(i)) => Ok(i),
        _ => Err(EvalError::new("substring() needs integer arguments")),
    };
    let start = int(&args[0])?;
    let length = args.get(1).map(int).transpose()?;
    let count = char_count(s);
    if start < 0 || start >= count {
        return Ok(Some(Vec::new()));
    }
    let take = length.unwrap_or(count).max(0);
    let out: String = s
        .chars()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .collect();
    Ok(Some(vec![Item::String(Cow::Owned(out))]))
}

/// Compiled regexes, cached: expressions reuse a handful of patterns on
/// every resource. `(?s)` because FHIRPath's `.` matches newlines.
fn regex(pattern: &str, full: bool) -> Result<Regex, EvalError> {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<(String, bool), Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (pattern.to_owned(), full);
    if let Ok(cache) = cache.lock() {
        if let Some(re) = cache.get(&key) {
            return Ok(re.clone());
        }
    }
    let source = if full {
        format!("(?s)^(?:{pattern})$")
    } else {
        format!("(?s){pattern}")
    };
    let re = Regex::new(&source).map_err(|e| EvalError::new(format!("invalid regular expression '{pattern}': {e}")))?;
    if let Ok(mut cache) = cache.lock() {
        // Bounded, so user-supplied patterns cannot grow it without limit.
        if cache.len() < 1_000 {
            cache.insert(key, re.clone());
        }
    }
    Ok(re)
}

fn encode(s: &str, format: &str) -> Result<String, EvalError> {
    Ok(match format {
        "hex" => s.bytes().map(|b| format!("{b:02x}")).collect(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(s),
        "urlbase64" => base64::engine::general_purpose::URL_SAFE.encode(s),
        other => return Err(EvalError::new(format!("unknown encoding '{other}'"))),
    })
}

/// Empty (`None`) when the text is not valid in that encoding or not UTF-8.
fn decode(s: &str, format: &str) -> Result<Option<String>, EvalError> {
    let bytes = match format {
        "hex" => (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect::<Option<Vec<u8>>>(),
        "base64" => base64::engine::general_purpose::STANDARD.decode(s).ok(),
        "urlbase64" => base64::engine::general_purpose::URL_SAFE.decode(s).ok(),
        other => return Err(EvalError::new(format!("unknown encoding '{other}'"))),
    };
    Ok(bytes.and_then(|b| String::from_utf8(b).ok()))
}

fn escape(s: &str, target: &str) -> Result<String, EvalError> {
    match target {
        "html" => Ok(s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")),
        "json" => {
            let quoted = serde_json::to_string(s).map_err(|e| EvalError::new(e.to_string()))?;
            Ok(quoted[1..quoted.len() - 1].to_owned())
        }
        other => Err(EvalError::new(format!("unknown escape target '{other}'"))),
    }
}

fn unescape(s: &str, target: &str) -> Result<String, EvalError> {
    match target {
        "html" => Ok(s
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")),
        "json" => Ok(unescape_json(s)),
        other => Err(EvalError::new(format!("unknown escape target '{other}'"))),
    }
}

/// Undoes JSON string escapes (`\"`, `\n`, `\u00e9`…); anything else stays as written.
fn unescape_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
