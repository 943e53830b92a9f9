//! Date parameters (search.html "date"): every value is the range of time it
//! covers at its precision (`2019-03` is all of March), so searches compare
//! ranges. Period gives its own range (open ends unbounded) and Timing its
//! outer limits: "the specified scheduling details are ignored and only the
//! outer limits matter".

use serde_json::Value;

use super::{member, IndexValue};
use crate::fhirpath::temporal::DateTime;
use crate::fhirpath::Item;

pub(super) fn values(item: &Item<'_>, out: &mut Vec<IndexValue>) {
    let range = match item {
        Item::Node(node) => match (node.type_name(), node.json()) {
            (Some("Period"), Some(period)) => period_range(period),
            (Some("Timing"), Some(timing)) => timing_range(timing),
            (_, Some(Value::String(text))) => text_range(text),
            _ => None,
        },
        Item::Date(date) => date.to_datetime().range_micros(),
        Item::DateTime(date_time) => date_time.range_micros(),
        Item::String(text) => text_range(text),
        _ => None,
    };
    if let Some((low, high)) = range {
        out.push(IndexValue::Date { low, high });
    }
}

/// A `date`, `dateTime` or `instant` (or a string holding one).
fn text_range(text: &str) -> Option<(i64, i64)> {
    DateTime::parse(text)?.range_micros()
}

/// From the start of `start` to the end of `end`; a missing end is open.
/// A Period with neither is no date at all.
fn period_range(period: &Value) -> Option<(i64, i64)> {
    let start = member(period, "start").and_then(text_range);
    let end = member(period, "end").and_then(text_range);
    if start.is_none() && end.is_none() {
        return None;
    }
    Some((
        start.map_or(i64::MIN, |(low, _)| low),
        end.map_or(i64::MAX, |(_, high)| high),
    ))
}

/// The union of Timing.event and Timing.repeat.boundsPeriod. Durations and
/// ranges as bounds have no place in time, so they add nothing.
fn timing_range(timing: &Value) -> Option<(i64, i64)> {
    let events = timing
        .get("event")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(text_range);
    let bounds = timing
        .get("repeat")
        .and_then(|repeat| repeat.get("boundsPeriod"))
        .and_then(period_range);
    events
        .chain(bounds)
        .reduce(|(low, high), (l, h)| (low.min(l), high.max(h)))
}
