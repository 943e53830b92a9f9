//! history — `GET [base]/[type]/[id]/_history`, `GET [base]/[type]/_history`,
//! `GET [base]/_history` (<https://hl7.org/fhir/R4/http.html#history>).

use serde_json::{json, Map};

use super::{BundleWriter, Context};
use crate::clock::instant;
use crate::error::FhirError;
use crate::model::datetime::parse_range;
use crate::outcome::IssueType;
use crate::store::{HistoryQuery, HistoryScope, Method};

const DEFAULT_COUNT: i64 = 50;
const MAX_COUNT: i64 = 1000;

/// Query parameters of a history request, checked.
fn parse_query(params: &[(String, String)], now: i64) -> Result<HistoryQuery, FhirError> {
    let mut q = HistoryQuery {
        count: DEFAULT_COUNT,
        ..Default::default()
    };
    for (name, value) in params {
        let bad = |what: &str| FhirError::invalid(IssueType::Value, format!("{name}: '{value}' is not {what}"), None);
        match name.as_str() {
            "_count" => {
                q.count = value
                    .parse::<i64>()
                    .ok()
                    .filter(|c| *c >= 0)
                    .ok_or_else(|| bad("a count"))?
                    .min(MAX_COUNT)
            }
            "_since" => q.since = Some(parse_range(value).ok_or_else(|| bad("an instant"))?.0),
            "_at" => q.at = Some(parse_range(value).ok_or_else(|| bad("a date/time"))?),
            "_offset" => {
                q.offset = value
                    .parse::<i64>()
                    .ok()
                    .filter(|o| *o >= 0)
                    .ok_or_else(|| bad("an offset"))?
            }
            "_before" => q.before = Some(parse_range(value).ok_or_else(|| bad("an instant"))?.0),
            _ => {}
        }
    }
    // Pin the page set to what existed when the first page was asked for.
    q.before.get_or_insert(now);
    Ok(q)
}

/// A `history` Bundle page. `base` is the server base URL and `path` the
/// request path relative to it (used in paging links).
#[tracing::instrument(name = "fhir.history", skip(ctx, params, base))]
pub async fn history(
    ctx: &Context,
    scope: HistoryScope<'_>,
    params: &[(String, String)],
    base: &str,
    path: &str,
) -> Result<Vec<u8>, FhirError> {
    let now = ctx.clock.now_micros();
    let q = parse_query(params, now)?;
    let page = ctx.store.history(scope, &q).await?;

    let link = |offset: i64| {
        let mut url = format!("{base}/{path}?_count={}&_offset={offset}", q.count);
        if let Some(b) = q.before {
            url.push_str(&format!("&_before={}", encode(&instant(b))));
        }
        if let Some(s) = q.since {
            url.push_str(&format!("&_since={}", encode(&instant(s))));
        }
        if let Some((start, _)) = q.at {
            url.push_str(&format!("&_at={}", encode(&instant(start))));
        }
        url
    };
    let mut links = vec![("self", link(q.offset))];
    if q.offset + q.count < page.total {
        links.push(("next", link(q.offset + q.count)));
    }
    if q.offset > 0 {
        links.push(("previous", link((q.offset - q.count).max(0))));
    }

    let mut bundle = BundleWriter::new("history", &ctx.ids.new_id(), &instant(now), Some(page.total), &links);
    for v in &page.versions {
        let reference = format!("{}/{}", v.resource_type, v.id);
        let url = match v.method {
            Method::Post => v.resource_type.clone(),
            _ => reference.clone(),
        };
        let status = match (v.method, v.version) {
            (Method::Delete, _) => "204 No Content".to_string(),
            (Method::Post, _) | (_, 1) => "201 Created".to_string(),
            _ => "200 OK".to_string(),
        };
        let mut parts = Map::new();
        parts.insert("request".into(), json!({ "method": v.method.as_str(), "url": url }));
        parts.insert(
            "response".into(),
            json!({ "status": status, "etag": format!("W/\"{}\"", v.version), "lastModified": instant(v.last_updated) }),
        );
        bundle.entry(Some(&format!("{base}/{reference}")), v.body.as_deref(), parts);
    }
    Ok(bundle.finish())
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn count_is_capped_and_before_is_pinned_to_now_for_stable_paging() {
        let q = parse_query(&pairs(&[("_count", "5000")]), 42).map_err(|e| e.to_string());
        assert_eq!(q.as_ref().map(|q| (q.count, q.before)), Ok((MAX_COUNT, Some(42))));
    }

    #[test]
    fn bad_since_is_a_client_error() {
        let e = parse_query(&pairs(&[("_since", "yesterday")]), 0)
            .err()
            .map(|e| e.status());
        assert_eq!(e, Some(400));
    }
}
