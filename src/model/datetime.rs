//! FHIR `date` / `dateTime` / `instant` values as time ranges.
//!
//! A FHIR date-time has an implied precision: `2026` means the whole year.
//! [`parse_range`] returns the half-open range [start, end) it covers, in
//! microseconds since the Unix epoch (UTC; a value without a time zone is read
//! as UTC, the server's zone).

use chrono::{Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// The [start, end) range covered by `s`, or `None` if `s` is not a valid
/// FHIR date, dateTime or instant.
pub fn parse_range(s: &str) -> Option<(i64, i64)> {
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    match time_part {
        None => date_range(date_part),
        Some(t) => time_range(date_part, t),
    }
}

fn micros(dt: NaiveDateTime) -> i64 {
    Utc.from_utc_datetime(&dt).timestamp_micros()
}

fn date_range(d: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = d.split('-').collect();
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let start =
        |y: u32, m: u32, day: u32| NaiveDate::from_ymd_opt(y as i32, m, day).map(|x| x.and_time(NaiveTime::MIN));
    match parts.as_slice() {
        [y] => {
            let y = num(y, 4)?;
            Some((micros(start(y, 1, 1)?), micros(start(y + 1, 1, 1)?)))
        }
        [y, m] => {
            let (y, m) = (num(y, 4)?, num(m, 2)?);
            let next = if m == 12 {
                start(y + 1, 1, 1)?
            } else {
                start(y, m + 1, 1)?
            };
            Some((micros(start(y, m, 1)?), micros(next)))
        }
        [y, m, day] => {
            let s = start(num(y, 4)?, num(m, 2)?, num(day, 2)?)?;
            Some((micros(s), micros(s + Duration::days(1))))
        }
        _ => None,
    }
}

fn time_range(d: &str, t: &str) -> Option<(i64, i64)> {
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    // The zone is mandatory when a time is given (FHIR dateTime rule).
    let (clock, offset) = split_zone(t)?;
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (h, Some(f)),
        Some(_) => return None,
        None => (clock, None),
    };
    let time = NaiveTime::parse_from_str(hms, "%H:%M:%S").ok()?;
    let local = date.and_time(time);
    let start = offset.from_local_datetime(&local).single()?.timestamp_micros();
    let (start, width) = match frac {
        None => (start, 1_000_000),
        Some(f) => {
            let digits = f.len().min(6) as u32;
            let value: i64 = f[..digits as usize].parse().ok()?;
            let unit = 10_i64.pow(6 - digits);
            (start + value * unit, unit)
        }
    };
    Some((start, start + width))
}

fn split_zone(t: &str) -> Option<(&str, FixedOffset)> {
    if let Some(clock) = t.strip_suffix('Z') {
        return Some((clock, FixedOffset::east_opt(0)?));
    }
    let at = t.rfind(['+', '-'])?;
    let (clock, zone) = t.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone[1..].split_once(':')?;
    let secs = sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60);
    Some((clock, FixedOffset::east_opt(secs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_micros())
            .unwrap_or(i64::MIN)
    }

    #[test]
    fn a_year_covers_the_whole_year_because_precision_implies_a_range() {
        assert_eq!(
            parse_range("2024"),
            Some((at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z")))
        );
    }

    #[test]
    fn december_ends_at_next_new_year() {
        assert_eq!(
            parse_range("2024-12"),
            Some((at("2024-12-01T00:00:00Z"), at("2025-01-01T00:00:00Z")))
        );
    }

    #[test]
    fn instants_honour_offsets_and_fractions() {
        let (s, e) = parse_range("2024-03-01T10:00:00.5+02:00").unwrap_or_default();
        assert_eq!(s, at("2024-03-01T08:00:00.5Z"));
        assert_eq!(e - s, 100_000);
    }

    #[test]
    fn rejects_what_fhir_rejects() {
        for bad in [
            "24",
            "2024-1",
            "2024-02-30",
            "2024-01-01T10:00:00",
            "2024-01-01T25:00:00Z",
            "x",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
