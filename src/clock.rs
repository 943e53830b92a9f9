//! Injected time and id generation, so tests can pin both.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

pub trait Clock: Send + Sync {
    /// Now, in microseconds since the Unix epoch.
    fn now_micros(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        Utc::now().timestamp_micros()
    }
}

pub trait IdGenerator: Send + Sync {
    fn new_id(&self) -> String;
}

/// Random UUIDs: unguessable and unique across nodes without coordination.
pub struct UuidIds;

impl IdGenerator for UuidIds {
    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// A FHIR `instant` (`2026-11-22T10:00:00.123456Z`) for microseconds since the epoch.
pub fn instant(micros: i64) -> String {
    to_datetime(micros).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An HTTP-date (`Sun, 22 Nov 2026 10:00:00 GMT`) for `Last-Modified`.
pub fn http_date(micros: i64) -> String {
    to_datetime(micros).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP-date (`If-Modified-Since`).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let dt = DateTime::parse_from_rfc2822(s.trim()).ok()?;
    Some(dt.with_timezone(&Utc).timestamp_micros())
}

fn to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_has_microseconds_and_z_so_versions_order_by_lastupdated() {
        assert_eq!(instant(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn http_date_round_trips_at_second_precision() {
        let s = http_date(1_700_000_000_123_456);
        assert_eq!(s, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(parse_http_date(&s), Some(1_700_000_000_000_000));
    }
}
