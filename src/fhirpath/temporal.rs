//! FHIRPath `Date`, `DateTime` and `Time` values (<https://hl7.org/fhirpath/N1/>):
//! parsing, `toString()`, equality (`=`, `~`), comparison and date/time arithmetic.
//!
//! Which parser for which text:
//!
//! | text | parser |
//! | --- | --- |
//! | lexer `Date` token (`@2015`, `@2015-02`, `@2015-02-04`, text after `@`) | [`Date::parse`] |
//! | lexer `DateTime` token (`@2015T`, `@2015-02-04T14:34+01:00`, text after `@`) | [`DateTime::parse`] |
//! | lexer `Time` token (`@T14`, `@T14:34:28.123`, text after `@T`) | [`Time::parse`] |
//! | FHIR `date` | [`Date::parse`] |
//! | FHIR `dateTime`, `instant` | [`DateTime::parse`] |
//! | FHIR `time` | [`Time::parse`] |
//! | `toDate()` / `toDateTime()` / `toTime()` on a String | the same three |
//!
//! The N1 grammar already tells a Date literal (no `T`) from a DateTime literal
//! (with `T`), and so does the lexer, so no combined literal parser is needed.
//! A `Date` meeting a `DateTime` in `=`, `~` or a comparison is first converted
//! with [`Date::to_datetime`] (FHIRPath's implicit Date → DateTime conversion).
//!
//! Comparison model: every value covers an interval of time at its precision
//! (`@2012` is all of 2012). Values whose intervals do not overlap are ordered;
//! identical intervals are equal; overlapping ones ("equal up to the coarser
//! precision") give an empty result. Seconds and fractions count as one
//! precision compared as a decimal, so a value with seconds is a single instant
//! (`10:30:00` = `10:30:00.000`, `10:30:00` < `10:30:00.5`). Offsets are
//! normalised to UTC. Two values without offset are compared as written. When
//! only one side has an offset, the other is widened by the largest offset
//! (±14:00): that is the only way to give the suite's empty result for
//! `@2012-04-15T15:00:00Z = @2012-04-15T10:00:00` while still ordering
//! `now() > @1974-12-25`.
//!
//! Everything is total: parsers return `None` on bad text, arithmetic returns
//! `None` where the spec raises an error or the result leaves 0001..=9999.

use std::cmp::Ordering;
use std::fmt;

const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_SECOND: i128 = 1_000 * NANOS_PER_MILLI;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i128 = 24 * NANOS_PER_HOUR;
const NANOS_PER_MICRO: i128 = 1_000;

/// FHIR allows offsets up to ±14:00; also the uncertainty of a value without offset.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;
const MIN_YEAR: i128 = 1;
const MAX_YEAR: i128 = 9999;
/// Day number (days since 0001-01-01) of 1970-01-01.
const UNIX_EPOCH_DAY: i128 = 719_162;
/// Most fraction digits kept (nanoseconds); FHIR allows more, the rest are dropped.
const MAX_FRACTION_DIGITS: u8 = 9;

/// How far a value is specified. Seconds and milliseconds are distinct here
/// (`precision()` of `10:30:00` is `Second`), but compare as one precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// Any fraction of a second, whatever its number of digits.
    Millisecond,
}

impl Precision {
    /// The calendar unit a quantity is converted to before being added at this precision.
    fn unit(self) -> CalendarUnit {
        match self {
            Precision::Year => CalendarUnit::Year,
            Precision::Month => CalendarUnit::Month,
            Precision::Day => CalendarUnit::Day,
            Precision::Hour => CalendarUnit::Hour,
            Precision::Minute => CalendarUnit::Minute,
            Precision::Second => CalendarUnit::Second,
            Precision::Millisecond => CalendarUnit::Millisecond,
        }
    }
}

/// A time-valued quantity's unit, as usable in date/time arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl CalendarUnit {
    /// FHIRPath calendar duration keywords, singular or plural (`year`, `months`, …).
    pub fn parse_keyword(s: &str) -> Option<Self> {
        let unit = match s {
            "year" | "years" => CalendarUnit::Year,
            "month" | "months" => CalendarUnit::Month,
            "week" | "weeks" => CalendarUnit::Week,
            "day" | "days" => CalendarUnit::Day,
            "hour" | "hours" => CalendarUnit::Hour,
            "minute" | "minutes" => CalendarUnit::Minute,
            "second" | "seconds" => CalendarUnit::Second,
            "millisecond" | "milliseconds" => CalendarUnit::Millisecond,
            _ => return None,
        };
        Some(unit)
    }

    /// A quoted quantity unit usable in date arithmetic: the UCUM codes `'wk'`,
    /// `'d'`, `'h'`, `'min'`, `'s'`, `'ms'`, and a calendar keyword written in
    /// quotes (the suite's testMinus5 expects `@1974-12-25 - 1 'month'` to work).
    ///
    /// `'a'` and `'mo'` give `None`: they are UCUM's definite durations (mean
    /// Julian year and month), and adding a definite duration above weeks to a
    /// date is an error (CQL, which FHIRPath follows; suite testPlusDate14, 16, 17).
    pub fn parse_ucum(s: &str) -> Option<Self> {
        match s {
            "wk" => Some(CalendarUnit::Week),
            "d" => Some(CalendarUnit::Day),
            "h" => Some(CalendarUnit::Hour),
            "min" => Some(CalendarUnit::Minute),
            "s" => Some(CalendarUnit::Second),
            "ms" => Some(CalendarUnit::Millisecond),
            "a" | "mo" => None,
            other => Self::parse_keyword(other),
        }
    }

    /// Position from coarsest to finest; a week sits between month and day.
    fn rank(self) -> u8 {
        match self {
            CalendarUnit::Year => 0,
            CalendarUnit::Month => 1,
            CalendarUnit::Week => 2,
            CalendarUnit::Day => 3,
            CalendarUnit::Hour => 4,
            CalendarUnit::Minute => 5,
            CalendarUnit::Second => 6,
            CalendarUnit::Millisecond => 7,
        }
    }

    /// Length in nanoseconds. Month and year have no fixed length: 30 and 365
    /// days are the spec's durations "where no anchor to a calendar is
    /// available", used only to express a finer quantity in months or years.
    fn nominal_nanos(self) -> i128 {
        match self {
            CalendarUnit::Year => 365 * NANOS_PER_DAY,
            CalendarUnit::Month => 30 * NANOS_PER_DAY,
            CalendarUnit::Week => 7 * NANOS_PER_DAY,
            CalendarUnit::Day => NANOS_PER_DAY,
            CalendarUnit::Hour => NANOS_PER_HOUR,
            CalendarUnit::Minute => NANOS_PER_MINUTE,
            CalendarUnit::Second => NANOS_PER_SECOND,
            CalendarUnit::Millisecond => NANOS_PER_MILLI,
        }
    }
}

/// Re-expresses `amount` `unit`s at `precision` when the unit is finer than the
/// value (spec: "converting the time-valued quantity to the highest precision
/// in the partial (removing any decimal value off)", so `@2014 + 24 months` is
/// `@2016` and `@2014 + 11 months` is `@2014`). Coarser units stay as they are.
fn scale_to_precision(amount: i64, unit: CalendarUnit, precision: Precision) -> (i128, CalendarUnit) {
    let target = precision.unit();
    let amount = i128::from(amount);
    if unit.rank() <= target.rank() {
        return (amount, unit);
    }
    // Months to years is exact; anything else goes through nominal lengths.
    // Integer division truncates toward zero, as the spec's truncation wants
    // for subtraction (negative amounts) too.
    let scaled = if unit == CalendarUnit::Month && target == CalendarUnit::Year {
        amount / 12
    } else {
        amount * unit.nominal_nanos() / target.nominal_nanos()
    };
    (scaled, target)
}

/// A FHIRPath Date: a year, optionally a month, optionally a day (only with a month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

/// A FHIRPath Time: an hour, then optionally minute, second and a fraction of
/// a second, each only if the previous one is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    hour: u8,
    minute: Option<u8>,
    second: Option<u8>,
    /// Fraction of the second in nanoseconds; 0 when `fraction_digits` is 0.
    nanos: u32,
    /// Digits written after the `.` (at most 9), kept so `toString()` gives
    /// back `28.1` as `28.1` and `28.100` as `28.100`; 0 means no fraction.
    fraction_digits: u8,
}

/// A FHIRPath DateTime: a date, a time only when the date has a day, and a UTC
/// offset in minutes (`Z` is 0) only when there is a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    time: Option<Time>,
    offset_minutes: Option<i32>,
}

impl Date {
    /// FHIR `date` text (`yyyy`, `yyyy-mm`, `yyyy-mm-dd`) and the text of a
    /// Date literal after `@`, strictly validated (year 0001-9999, month 1-12,
    /// a day that exists in that month).
    pub fn parse(s: &str) -> Option<Date> {
        let mut cursor = Cursor::new(s);
        let date = parse_date(&mut cursor)?;
        cursor.is_empty().then_some(date)
    }

    pub fn year(&self) -> i32 {
        i32::from(self.year)
    }

    pub fn month(&self) -> Option<u32> {
        self.month.map(u32::from)
    }

    pub fn day(&self) -> Option<u32> {
        self.day.map(u32::from)
    }

    pub fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (None, _) => Precision::Year,
            (Some(_), None) => Precision::Month,
            (Some(_), Some(_)) => Precision::Day,
        }
    }

    /// FHIRPath ordering; `None` when the values agree up to the coarser
    /// precision and only one goes further (`@2018-03` vs `@2018-03-01`).
    pub fn partial_cmp_fhirpath(&self, other: &Date) -> Option<Ordering> {
        compare_spans(self.span(), other.span(), false)
    }

    /// FHIRPath `=`: `None` (empty) when the precisions differ where it matters.
    pub fn equals(&self, other: &Date) -> Option<bool> {
        ordering_to_equality(self.partial_cmp_fhirpath(other))
    }

    /// FHIRPath `~`: like `=`, but differing precisions give `false`.
    pub fn equivalent(&self, other: &Date) -> bool {
        self.equals(other) == Some(true)
    }

    /// `self + amount unit`; subtract with a negative amount. The spec allows
    /// years, months, weeks and days on a Date: finer units give `None` (an
    /// error), as does a result outside 0001..=9999. Months and years keep the
    /// day where it exists and clamp it to the month's end otherwise
    /// (`@2019-03-31 + 1 month` is `@2019-04-30`); units finer than the value
    /// are converted to its precision and truncated (`@2014 + 24 months` is
    /// `@2016`). A decimal amount (`7.7 days`) is for the caller to truncate.
    pub fn add(&self, amount: i64, unit: CalendarUnit) -> Option<Date> {
        if unit.rank() > CalendarUnit::Day.rank() {
            return None;
        }
        self.to_datetime().add(amount, unit).map(|value| value.date)
    }

    /// The DateTime with this date and no time (FHIRPath implicit conversion).
    pub fn to_datetime(&self) -> DateTime {
        DateTime {
            date: *self,
            time: None,
            offset_minutes: None,
        }
    }

    /// Builds a date from a year that may be out of range, clamping the day to
    /// the month's length (month and year arithmetic).
    fn clamped(year: i128, month: Option<u8>, day: Option<u8>) -> Option<Date> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        let year = u16::try_from(year).ok()?;
        let day = match (month, day) {
            (Some(month), Some(day)) => Some(day.min(days_in_month(year, month))),
            _ => None,
        };
        Some(Date { year, month, day })
    }

    fn add_years(&self, years: i128) -> Option<Date> {
        Date::clamped(i128::from(self.year).checked_add(years)?, self.month, self.day)
    }

    /// Only reached at month precision or finer: coarser values get years.
    fn add_months(&self, months: i128) -> Option<Date> {
        let month = self.month?;
        let index = (i128::from(self.year) * 12 + i128::from(month) - 1).checked_add(months)?;
        let month = u8::try_from(index.rem_euclid(12) + 1).ok()?;
        Date::clamped(index.div_euclid(12), Some(month), self.day)
    }

    /// Only reached at day precision: coarser values get months or years.
    fn add_days(&self, days: i128) -> Option<Date> {
        self.day?;
        date_from_day_number(self.first_day_number().checked_add(days)?)
    }

    /// Day number (days since 0001-01-01) of the first day the value covers.
    fn first_day_number(&self) -> i128 {
        day_number(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// Day number just past the last day the value covers.
    fn end_day_number(&self) -> i128 {
        match (self.month, self.day) {
            (None, _) => day_number(self.year + 1, 1, 1),
            (Some(month), None) => self.first_day_number() + i128::from(days_in_month(self.year, month)),
            (Some(_), Some(_)) => self.first_day_number() + 1,
        }
    }

    /// The nanoseconds (since 0001-01-01T00:00, no offset) the value covers.
    fn span(&self) -> Span {
        Span {
            start: self.first_day_number() * NANOS_PER_DAY,
            end: self.end_day_number() * NANOS_PER_DAY,
        }
    }
}

impl Time {
    /// FHIR `time` text (`hh:mm:ss` with an optional fraction of any length)
    /// and the text of a Time literal after `@T`, which may stop after the hour
    /// or the minute. No offset: FHIRPath times have none (suite
    /// testLiteralTimeUTC). Hours 00-23, minutes and seconds 00-59.
    pub fn parse(s: &str) -> Option<Time> {
        let mut cursor = Cursor::new(s);
        let time = parse_time(&mut cursor)?;
        cursor.is_empty().then_some(time)
    }

    pub fn hour(&self) -> u32 {
        u32::from(self.hour)
    }

    pub fn minute(&self) -> Option<u32> {
        self.minute.map(u32::from)
    }

    pub fn second(&self) -> Option<u32> {
        self.second.map(u32::from)
    }

    /// Whole milliseconds of the fraction, `None` without a fraction.
    pub fn millisecond(&self) -> Option<u32> {
        (self.fraction_digits > 0).then_some(self.nanos / 1_000_000)
    }

    pub fn precision(&self) -> Precision {
        match (self.minute, self.second, self.fraction_digits) {
            (None, _, _) => Precision::Hour,
            (Some(_), None, _) => Precision::Minute,
            (Some(_), Some(_), 0) => Precision::Second,
            (Some(_), Some(_), _) => Precision::Millisecond,
        }
    }

    /// FHIRPath ordering; `None` when the values agree up to the coarser
    /// precision and only one goes further (`@T10:30` vs `@T10:30:00`).
    pub fn partial_cmp_fhirpath(&self, other: &Time) -> Option<Ordering> {
        compare_spans(self.span(true), other.span(true), false)
    }

    /// FHIRPath `=`: `None` (empty) when the precisions differ where it matters.
    pub fn equals(&self, other: &Time) -> Option<bool> {
        ordering_to_equality(self.partial_cmp_fhirpath(other))
    }

    /// FHIRPath `~`: like `=`, but differing precisions give `false`.
    pub fn equivalent(&self, other: &Time) -> bool {
        self.equals(other) == Some(true)
    }

    /// `self + amount unit`; subtract with a negative amount. Only hours,
    /// minutes, seconds and milliseconds apply to a Time (others give `None`,
    /// an error per spec). The result wraps around midnight. Units finer than
    /// the value are converted to its precision and truncated (`@T10 + 90
    /// minutes` is `@T11`). For a fractional number of seconds, pass
    /// milliseconds.
    pub fn add(&self, amount: i64, unit: CalendarUnit) -> Option<Time> {
        if unit.rank() < CalendarUnit::Hour.rank() {
            return None;
        }
        let (amount, unit) = scale_to_precision(amount, unit, self.precision());
        let delta = amount.checked_mul(unit.nominal_nanos())?;
        let nanos = (self.nanos_of_day() + delta.rem_euclid(NANOS_PER_DAY)).rem_euclid(NANOS_PER_DAY);
        Some(self.with_nanos_of_day(nanos))
    }

    /// Nanoseconds since midnight of the start of the value.
    fn nanos_of_day(&self) -> i128 {
        i128::from(self.hour) * NANOS_PER_HOUR
            + i128::from(self.minute.unwrap_or(0)) * NANOS_PER_MINUTE
            + i128::from(self.second.unwrap_or(0)) * NANOS_PER_SECOND
            + i128::from(self.nanos)
    }

    /// Width of the interval the value covers. With `seconds_as_instant`, a
    /// value with seconds is a single instant (comparison, where seconds and
    /// fractions are one decimal); otherwise it covers its last digit (search).
    fn width(&self, seconds_as_instant: bool) -> i128 {
        match self.precision() {
            Precision::Hour => NANOS_PER_HOUR,
            Precision::Minute => NANOS_PER_MINUTE,
            _ if seconds_as_instant => 1,
            _ => 10_i128.pow(u32::from(MAX_FRACTION_DIGITS - self.fraction_digits)),
        }
    }

    fn span(&self, seconds_as_instant: bool) -> Span {
        let start = self.nanos_of_day();
        Span {
            start,
            end: start + self.width(seconds_as_instant),
        }
    }

    /// The same precision at another time of day. Callers only move by whole
    /// units of the precision, so nothing below it is lost; a fraction may
    /// need more digits than it had (`.0 + 10 ms` is `.01`).
    fn with_nanos_of_day(&self, nanos_of_day: i128) -> Time {
        let component = |unit: i128, modulus: i128| u8::try_from(nanos_of_day / unit % modulus).unwrap_or(0);
        let nanos = u32::try_from(nanos_of_day % NANOS_PER_SECOND).unwrap_or(0);
        let has_fraction = self.fraction_digits > 0;
        Time {
            hour: component(NANOS_PER_HOUR, 24),
            minute: self.minute.map(|_| component(NANOS_PER_MINUTE, 60)),
            second: self.second.map(|_| component(NANOS_PER_SECOND, 60)),
            nanos: if has_fraction { nanos } else { 0 },
            fraction_digits: if has_fraction {
                self.fraction_digits.max(significant_fraction_digits(nanos))
            } else {
                0
            },
        }
    }
}

impl DateTime {
    /// FHIR `dateTime` / `instant` text, and the text of a DateTime literal
    /// after `@`, which may also be `2015T`, `2015-02T`, `2015-02-04T`, or have
    /// a partial time (`2015-02-04T14`, `2015-02-04T14:34`), with an optional
    /// offset (`Z`, `±hh:mm` up to ±14:00) after a time. A time needs a full
    /// date (`2015T14` is `None`); seconds stop at 59 (no leap seconds).
    pub fn parse(s: &str) -> Option<DateTime> {
        let mut cursor = Cursor::new(s);
        let date = parse_date(&mut cursor)?;
        let value = DateTime {
            date,
            time: None,
            offset_minutes: None,
        };
        if cursor.is_empty() {
            return Some(value);
        }
        if !cursor.eat(b'T') {
            return None;
        }
        if cursor.is_empty() {
            return Some(value);
        }
        if date.precision() != Precision::Day {
            return None;
        }
        let time = parse_time(&mut cursor)?;
        let offset_minutes = if cursor.is_empty() {
            None
        } else {
            Some(parse_offset(&mut cursor)?)
        };
        cursor.is_empty().then_some(DateTime {
            date,
            time: Some(time),
            offset_minutes,
        })
    }

    /// `now()`: the instant `micros` after the Unix epoch, written in the given
    /// UTC offset, at millisecond precision (FHIRPath's DateTime step). `None`
    /// for an offset beyond ±14:00 or a date outside 0001..=9999.
    pub fn from_unix_micros(micros: i64, offset_minutes: i32) -> Option<DateTime> {
        if offset_minutes.unsigned_abs() > MAX_OFFSET_MINUTES.unsigned_abs() {
            return None;
        }
        let local = i128::from(micros) * NANOS_PER_MICRO + i128::from(offset_minutes) * NANOS_PER_MINUTE;
        let date = date_from_day_number(local.div_euclid(NANOS_PER_DAY) + UNIX_EPOCH_DAY)?;
        let nanos_of_day = local.rem_euclid(NANOS_PER_DAY);
        let millisecond_precision = Time {
            hour: 0,
            minute: Some(0),
            second: Some(0),
            nanos: 0,
            fraction_digits: 3,
        };
        let time = millisecond_precision.with_nanos_of_day(nanos_of_day - nanos_of_day % NANOS_PER_MILLI);
        Some(DateTime {
            date,
            time: Some(time),
            offset_minutes: Some(offset_minutes),
        })
    }

    /// The date part, at its own precision.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The time part, if the value has one.
    pub fn time(&self) -> Option<Time> {
        self.time
    }

    /// The UTC offset in minutes (`Z` is 0), if the value has one.
    pub fn offset_minutes(&self) -> Option<i32> {
        self.offset_minutes
    }

    pub fn precision(&self) -> Precision {
        self.time.map_or_else(|| self.date.precision(), |time| time.precision())
    }

    /// FHIRPath ordering, offsets normalised to UTC; `None` when the values
    /// agree up to the coarser precision and only one goes further, or when
    /// only one has an offset and the other could be on either side of it.
    pub fn partial_cmp_fhirpath(&self, other: &DateTime) -> Option<Ordering> {
        let mut left = self.span(true);
        let mut right = other.span(true);
        let uncertain = self.offset_minutes.is_some() != other.offset_minutes.is_some();
        if uncertain {
            // The value without offset could be anywhere between -14:00 and +14:00.
            let floating = if self.offset_minutes.is_none() {
                &mut left
            } else {
                &mut right
            };
            let slack = i128::from(MAX_OFFSET_MINUTES) * NANOS_PER_MINUTE;
            floating.start -= slack;
            floating.end += slack;
        }
        compare_spans(left, right, uncertain)
    }

    /// FHIRPath `=`: `None` (empty) when the precisions differ where it
    /// matters, or when only one value has an offset and that decides.
    pub fn equals(&self, other: &DateTime) -> Option<bool> {
        ordering_to_equality(self.partial_cmp_fhirpath(other))
    }

    /// FHIRPath `~`: like `=`, but an undecided result is `false`.
    pub fn equivalent(&self, other: &DateTime) -> bool {
        self.equals(other) == Some(true)
    }

    /// `self + amount unit`; subtract with a negative amount. Years and months
    /// follow the calendar, clamping the day to the month's end (`+ 1 month`
    /// on Mar 31 is Apr 30); weeks are 7 days; hours and finer move the clock
    /// in the value's own offset, which is kept. Units finer than the value are
    /// converted to its precision and truncated (`@2014T + 24 months` is
    /// `@2016T`, `@2014-01-01T + 25 hours` is `@2014-01-02T`; for that
    /// conversion a month is 30 days and a year 365). `None` if the result
    /// leaves 0001..=9999.
    ///
    /// Fractional amounts are the caller's: the suite truncates them for every
    /// unit, `'s'` included (testPlusDate19: `+ 0.1 's'` adds nothing), so pass
    /// the truncated amount; to honour fractional seconds instead, pass them as
    /// milliseconds.
    pub fn add(&self, amount: i64, unit: CalendarUnit) -> Option<DateTime> {
        let (amount, unit) = scale_to_precision(amount, unit, self.precision());
        let date = match unit {
            CalendarUnit::Year => self.date.add_years(amount)?,
            CalendarUnit::Month => self.date.add_months(amount)?,
            CalendarUnit::Week => self.date.add_days(amount.checked_mul(7)?)?,
            CalendarUnit::Day => self.date.add_days(amount)?,
            _ => return self.add_nanos(amount.checked_mul(unit.nominal_nanos())?),
        };
        Some(DateTime { date, ..*self })
    }

    /// `[start, end)` in microseconds since the Unix epoch covered by the value
    /// at its precision, read in UTC when it has no offset: `2015` is the whole
    /// year, `10:00:00` one second, `10:00:00.1` a tenth of a second (a fraction
    /// covers its last digit, at least one microsecond).
    pub fn range_micros(&self) -> Option<(i64, i64)> {
        let span = self.span(false);
        let epoch = UNIX_EPOCH_DAY * NANOS_PER_DAY;
        let start = (span.start - epoch).div_euclid(NANOS_PER_MICRO);
        let end = (span.end - epoch + NANOS_PER_MICRO - 1).div_euclid(NANOS_PER_MICRO);
        Some((i64::try_from(start).ok()?, i64::try_from(end).ok()?))
    }

    /// Moves the clock; only reached with a time (coarser values get days).
    fn add_nanos(&self, delta: i128) -> Option<DateTime> {
        let time = self.time?;
        let total = (self.date.first_day_number() * NANOS_PER_DAY + time.nanos_of_day()).checked_add(delta)?;
        Some(DateTime {
            date: date_from_day_number(total.div_euclid(NANOS_PER_DAY))?,
            time: Some(time.with_nanos_of_day(total.rem_euclid(NANOS_PER_DAY))),
            offset_minutes: self.offset_minutes,
        })
    }

    /// Nanoseconds since 0001-01-01T00:00Z covered by the value (see [`Time::width`]).
    fn span(&self, seconds_as_instant: bool) -> Span {
        let Some(time) = self.time else {
            return self.date.span();
        };
        let offset = i128::from(self.offset_minutes.unwrap_or(0)) * NANOS_PER_MINUTE;
        let start = self.date.first_day_number() * NANOS_PER_DAY + time.nanos_of_day() - offset;
        Span {
            start,
            end: start + time.width(seconds_as_instant),
        }
    }
}

impl fmt::Display for Date {
    /// `toString()`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Time {
    /// `toString()`: `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f…` (no `T`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.hour)?;
        if let Some(minute) = self.minute {
            write!(f, ":{minute:02}")?;
        }
        if let Some(second) = self.second {
            write!(f, ":{second:02}")?;
        }
        if self.fraction_digits > 0 {
            let digits = format!("{:09}", self.nanos);
            let shown = digits.get(..usize::from(self.fraction_digits)).unwrap_or(&digits);
            write!(f, ".{shown}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DateTime {
    /// `toString()`: the date, then `T`, the time and the offset if there is a
    /// time (`2015-02-04T14:34:28.123+09:00`); an offset of zero shows as `Z`.
    /// `@2015T` shows as `2015`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)?;
        let Some(time) = self.time else {
            return Ok(());
        };
        write!(f, "T{time}")?;
        match self.offset_minutes {
            None => Ok(()),
            Some(0) => write!(f, "Z"),
            Some(offset) => {
                let sign = if offset < 0 { '-' } else { '+' };
                let offset = offset.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", offset / 60, offset % 60)
            }
        }
    }
}

/// The half-open interval `[start, end)` of nanoseconds a value covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: i128,
    end: i128,
}

/// Disjoint intervals are ordered; identical ones are equal unless one side
/// was widened for a missing offset; anything else is undecided.
fn compare_spans(left: Span, right: Span, uncertain: bool) -> Option<Ordering> {
    if left.end <= right.start {
        Some(Ordering::Less)
    } else if right.end <= left.start {
        Some(Ordering::Greater)
    } else if left == right && !uncertain {
        Some(Ordering::Equal)
    } else {
        None
    }
}

fn ordering_to_equality(ordering: Option<Ordering>) -> Option<bool> {
    ordering.map(|ordering| ordering == Ordering::Equal)
}

fn is_leap_year(year: u16) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in a month (1-12) of the proleptic Gregorian calendar; 0 for a bad month.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 0001-01-01 (day 0) of a valid date, or of 10000-01-01 (the end
/// of year 9999). Counting from year 1 keeps every number non-negative.
fn day_number(year: u16, month: u8, day: u8) -> i128 {
    let past_years = i128::from(year) - 1;
    let days_before_year = past_years * 365 + past_years / 4 - past_years / 100 + past_years / 400;
    let days_before_month: i128 = (1..month).map(|m| i128::from(days_in_month(year, m))).sum();
    days_before_year + days_before_month + i128::from(day) - 1
}

/// The date of a day number, `None` outside 0001-01-01..=9999-12-31.
fn date_from_day_number(number: i128) -> Option<Date> {
    const DAYS_PER_400_YEARS: i128 = 146_097;
    const DAYS_PER_100_YEARS: i128 = 36_524;
    const DAYS_PER_4_YEARS: i128 = 1_461;
    if !(0..day_number(10000, 1, 1)).contains(&number) {
        return None;
    }
    // Peel off whole Gregorian cycles; the last century of a 400-year cycle and
    // the last year of a 4-year cycle are a day longer, hence the `min(3)`s.
    let mut rest = number % DAYS_PER_400_YEARS;
    let centuries = (rest / DAYS_PER_100_YEARS).min(3);
    rest -= centuries * DAYS_PER_100_YEARS;
    let quadrennia = rest / DAYS_PER_4_YEARS;
    rest -= quadrennia * DAYS_PER_4_YEARS;
    let years = (rest / 365).min(3);
    rest -= years * 365;
    let year = 1 + number / DAYS_PER_400_YEARS * 400 + centuries * 100 + quadrennia * 4 + years;
    let year = u16::try_from(year).ok()?;
    let mut month = 1;
    while rest >= i128::from(days_in_month(year, month)) && month < 12 {
        rest -= i128::from(days_in_month(year, month));
        month += 1;
    }
    let day = u8::try_from(rest + 1).ok()?;
    Some(Date {
        year,
        month: Some(month),
        day: Some(day),
    })
}

/// Fraction digits needed to show `nanos` without losing a non-zero digit.
fn significant_fraction_digits(nanos: u32) -> u8 {
    let mut digits = MAX_FRACTION_DIGITS;
    let mut rest = nanos;
    while digits > 1 && rest % 10 == 0 {
        rest /= 10;
        digits -= 1;
    }
    digits
}

/// Reads ASCII fields off the front of the text; every step either consumes
/// what it matched or fails, so any input (non-ASCII included) is safe.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { rest: text.as_bytes() }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn eat(&mut self, byte: u8) -> bool {
        match self.rest.split_first() {
            Some((&first, tail)) if first == byte => {
                self.rest = tail;
                true
            }
            _ => false,
        }
    }

    /// Exactly `width` (at most 9) decimal digits.
    fn number(&mut self, width: usize) -> Option<u32> {
        let digits = self.rest.get(..width)?;
        let value = digits.iter().try_fold(0_u32, |value, &byte| {
            byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0'))
        })?;
        self.rest = self.rest.get(width..)?;
        Some(value)
    }

    /// One or more digits after a `.`: (nanoseconds, digits kept).
    fn fraction(&mut self) -> Option<(u32, u8)> {
        let count = self.rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        let kept = count.min(usize::from(MAX_FRACTION_DIGITS));
        let value = self.number(kept)?;
        self.rest = self.rest.get(count - kept..)?;
        let kept = u8::try_from(kept).ok()?;
        let scale = 10_u32.pow(u32::from(MAX_FRACTION_DIGITS - kept));
        Some((value * scale, kept))
    }
}

/// `YYYY(-MM(-DD)?)?` with a real month and day.
fn parse_date(cursor: &mut Cursor<'_>) -> Option<Date> {
    let year = u16::try_from(cursor.number(4)?).ok()?;
    if year == 0 {
        return None;
    }
    let mut date = Date {
        year,
        month: None,
        day: None,
    };
    if !cursor.eat(b'-') {
        return Some(date);
    }
    let month = u8::try_from(cursor.number(2)?).ok()?;
    if !(1..=12).contains(&month) {
        return None;
    }
    date.month = Some(month);
    if !cursor.eat(b'-') {
        return Some(date);
    }
    let day = u8::try_from(cursor.number(2)?).ok()?;
    if !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    date.day = Some(day);
    Some(date)
}

/// `hh(:mm(:ss(.f+)?)?)?`, each field in range.
fn parse_time(cursor: &mut Cursor<'_>) -> Option<Time> {
    let field = |cursor: &mut Cursor<'_>, max: u32| cursor.number(2).filter(|value| *value <= max);
    let mut time = Time {
        hour: u8::try_from(field(cursor, 23)?).ok()?,
        minute: None,
        second: None,
        nanos: 0,
        fraction_digits: 0,
    };
    if !cursor.eat(b':') {
        return Some(time);
    }
    time.minute = Some(u8::try_from(field(cursor, 59)?).ok()?);
    if !cursor.eat(b':') {
        return Some(time);
    }
    time.second = Some(u8::try_from(field(cursor, 59)?).ok()?);
    if !cursor.eat(b'.') {
        return Some(time);
    }
    let (nanos, digits) = cursor.fraction()?;
    time.nanos = nanos;
    time.fraction_digits = digits;
    Some(time)
}

/// `Z` or `±hh:mm` within ±14:00, in minutes.
fn parse_offset(cursor: &mut Cursor<'_>) -> Option<i32> {
    if cursor.eat(b'Z') {
        return Some(0);
    }
    let sign = if cursor.eat(b'+') {
        1
    } else if cursor.eat(b'-') {
        -1
    } else {
        return None;
    };
    let hours = i32::try_from(cursor.number(2)?).ok()?;
    if !cursor.eat(b':') {
        return None;
    }
    let minutes = i32::try_from(cursor.number(2)?).ok()?;
    let total = hours * 60 + minutes;
    (minutes <= 59 && total <= MAX_OFFSET_MINUTES).then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FHIRPath date/time literal, typed the way the lexer types it.
    #[derive(Debug, Clone, Copy)]
    enum Value {
        Date(Date),
        DateTime(DateTime),
        Time(Time),
    }

    fn literal(text: &str) -> Value {
        let body = text.strip_prefix('@').expect("literal starts with @");
        if let Some(time) = body.strip_prefix('T') {
            Value::Time(Time::parse(time).unwrap_or_else(|| panic!("bad time literal {text}")))
        } else if body.contains('T') {
            Value::DateTime(DateTime::parse(body).unwrap_or_else(|| panic!("bad dateTime literal {text}")))
        } else {
            Value::Date(Date::parse(body).unwrap_or_else(|| panic!("bad date literal {text}")))
        }
    }

    /// What the evaluator is expected to do: same types directly, a Date
    /// meeting a DateTime converted first.
    fn compare(left: Value, right: Value) -> Option<Ordering> {
        match (left, right) {
            (Value::Date(l), Value::Date(r)) => l.partial_cmp_fhirpath(&r),
            (Value::Time(l), Value::Time(r)) => l.partial_cmp_fhirpath(&r),
            (Value::DateTime(l), Value::DateTime(r)) => l.partial_cmp_fhirpath(&r),
            (Value::Date(l), Value::DateTime(r)) => l.to_datetime().partial_cmp_fhirpath(&r),
            (Value::DateTime(l), Value::Date(r)) => l.partial_cmp_fhirpath(&r.to_datetime()),
            other => panic!("not comparable: {other:?}"),
        }
    }

    fn equals(left: Value, right: Value) -> Option<bool> {
        match (left, right) {
            (Value::Date(l), Value::Date(r)) => l.equals(&r),
            (Value::Time(l), Value::Time(r)) => l.equals(&r),
            (Value::DateTime(l), Value::DateTime(r)) => l.equals(&r),
            (Value::Date(l), Value::DateTime(r)) => l.to_datetime().equals(&r),
            (Value::DateTime(l), Value::Date(r)) => l.equals(&r.to_datetime()),
            other => panic!("not comparable: {other:?}"),
        }
    }

    fn equivalent(left: Value, right: Value) -> bool {
        match (left, right) {
            (Value::Date(l), Value::Date(r)) => l.equivalent(&r),
            (Value::Time(l), Value::Time(r)) => l.equivalent(&r),
            (Value::DateTime(l), Value::DateTime(r)) => l.equivalent(&r),
            (Value::Date(l), Value::DateTime(r)) => l.to_datetime().equivalent(&r),
            (Value::DateTime(l), Value::Date(r)) => l.equivalent(&r.to_datetime()),
            other => panic!("not comparable: {other:?}"),
        }
    }

    /// Evaluates `<literal> <op> <literal>`; `None` is the empty result.
    fn eval(expression: &str) -> Option<bool> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        let [left, op, right] = parts[..] else {
            panic!("expected `left op right`: {expression}");
        };
        let (left, right) = (literal(left), literal(right));
        let ordering = || compare(left, right);
        match op {
            "=" => equals(left, right),
            "!=" => equals(left, right).map(|equal| !equal),
            "~" => Some(equivalent(left, right)),
            "!~" => Some(!equivalent(left, right)),
            "<" => ordering().map(|o| o == Ordering::Less),
            "<=" => ordering().map(|o| o != Ordering::Greater),
            ">" => ordering().map(|o| o == Ordering::Greater),
            ">=" => ordering().map(|o| o != Ordering::Less),
            _ => panic!("unknown operator {op}"),
        }
    }

    fn check_all(cases: &[(&str, Option<bool>)]) {
        for (expression, expected) in cases {
            assert_eq!(eval(expression), *expected, "{expression}");
        }
    }

    /// Evaluates `<literal> (+|-) <amount> <unit>` the way the evaluator is
    /// expected to: decimal amounts truncated, quoted units through
    /// `parse_ucum`, bare ones through `parse_keyword`. Returns `toString()`.
    fn arithmetic(expression: &str) -> Option<String> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        let [value, op, amount, unit] = parts[..] else {
            panic!("expected `value op amount unit`: {expression}");
        };
        let whole = amount.split('.').next().expect("amount");
        let mut amount: i64 = whole.parse().expect("integer part");
        if op == "-" {
            amount = -amount;
        }
        let unit = match unit.strip_prefix('\'').and_then(|u| u.strip_suffix('\'')) {
            Some(quoted) => CalendarUnit::parse_ucum(quoted),
            None => CalendarUnit::parse_keyword(unit),
        }?;
        match literal(value) {
            Value::Date(d) => d.add(amount, unit).map(|r| r.to_string()),
            Value::DateTime(d) => d.add(amount, unit).map(|r| r.to_string()),
            Value::Time(t) => t.add(amount, unit).map(|r| r.to_string()),
        }
    }

    fn check_arithmetic(cases: &[(&str, Option<&str>)]) {
        for (expression, expected) in cases {
            assert_eq!(arithmetic(expression).as_deref(), *expected, "{expression}");
        }
    }

    fn datetime(text: &str) -> DateTime {
        DateTime::parse(text).unwrap_or_else(|| panic!("bad dateTime {text}"))
    }

    // --- Parsing and toString() ---

    /// Suite testLiteralDate*: `@2015`, `@2015-02`, `@2015-02-04` are Dates of
    /// growing precision, and print back as written (testToString5).
    #[test]
    fn date_literals_parse_with_their_precision() {
        for (text, precision) in [
            ("2015", Precision::Year),
            ("2015-02", Precision::Month),
            ("2015-02-04", Precision::Day),
            ("2014-12-14", Precision::Day),
        ] {
            let date = Date::parse(text).expect(text);
            assert_eq!(date.precision(), precision, "{text}");
            assert_eq!(date.to_string(), text);
        }
        let date = Date::parse("2015-02-04").expect("date");
        assert_eq!((date.year(), date.month(), date.day()), (2015, Some(2), Some(4)));
    }

    /// Suite testLiteralDateTime*: every partial form of the N1 DATETIME token,
    /// with its precision and toString() (`@2015T` prints as `2015`).
    #[test]
    fn datetime_literals_parse_with_their_precision() {
        for (text, precision, shown) in [
            ("2015T", Precision::Year, "2015"),
            ("2015-02T", Precision::Month, "2015-02"),
            ("2015-02-04T", Precision::Day, "2015-02-04"),
            ("2015-02-04T14", Precision::Hour, "2015-02-04T14"),
            ("2015-02-04T14:34", Precision::Minute, "2015-02-04T14:34"),
            ("2015-02-04T14:34:28", Precision::Second, "2015-02-04T14:34:28"),
            (
                "2015-02-04T14:34:28.123",
                Precision::Millisecond,
                "2015-02-04T14:34:28.123",
            ),
            ("2015-02-04T14:34:28Z", Precision::Second, "2015-02-04T14:34:28Z"),
            (
                "2015-02-04T14:34:28+10:00",
                Precision::Second,
                "2015-02-04T14:34:28+10:00",
            ),
            ("2015-02-04T14+10:00", Precision::Hour, "2015-02-04T14+10:00"),
        ] {
            let value = DateTime::parse(text).expect(text);
            assert_eq!(value.precision(), precision, "{text}");
            assert_eq!(value.to_string(), shown, "{text}");
        }
    }

    /// Suite testLiteralTime*: `@T14` … `@T14:34:28.123` are Times; an offset
    /// on a Time is an error (testLiteralTimeUTC, testLiteralTimeTimezoneOffset).
    #[test]
    fn time_literals_parse_with_their_precision_and_reject_offsets() {
        for (text, precision) in [
            ("14", Precision::Hour),
            ("14:34", Precision::Minute),
            ("14:34:28", Precision::Second),
            ("14:34:28.123", Precision::Millisecond),
        ] {
            let time = Time::parse(text).expect(text);
            assert_eq!(time.precision(), precision, "{text}");
            assert_eq!(time.to_string(), text);
        }
        assert_eq!(Time::parse("14:34:28Z"), None);
        assert_eq!(Time::parse("14:34:28+10:00"), None);
        let time = Time::parse("14:34:28.123").expect("time");
        assert_eq!(
            (time.hour(), time.minute(), time.second(), time.millisecond()),
            (14, Some(34), Some(28), Some(123))
        );
        assert_eq!(Time::parse("14:34").expect("time").millisecond(), None);
    }

    /// FHIR dateTime/instant/time text (and the suite's convertsToDateTime /
    /// convertsToTime strings) must parse, and toString() must give the text
    /// back, fraction digits included.
    #[test]
    fn fhir_text_round_trips() {
        for text in [
            "2015-02-04T14:34:28.123",
            "2015-02-07T13:28:17-05:00",
            "2015-02-07T13:28:17.239+02:00",
            "2017-01-01T00:00:00.123456789Z",
            "2017-01-01T00:00:00.1Z",
            "2017-01-01T00:00:00.100Z",
            "2015-02-07T13:28:17+14:00",
            "2015-02-07T13:28:17-14:00",
            "2015-02-07T13:28:17+05:30",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(datetime(text).to_string(), text);
        }
        assert_eq!(
            Time::parse("14:34:28.123").map(|t| t.to_string()).as_deref(),
            Some("14:34:28.123")
        );
        assert_eq!(
            Date::parse("1974-12-25").map(|d| d.to_string()).as_deref(),
            Some("1974-12-25")
        );
    }

    /// Offsets are minutes with Z = 0, so `+00:00` and `-00:00` print as `Z`;
    /// fractions beyond nanoseconds are dropped rather than rejected (FHIR
    /// allows any number of digits).
    #[test]
    fn offsets_and_long_fractions_are_normalised() {
        assert_eq!(
            datetime("2015-02-07T13:28:17+00:00").to_string(),
            "2015-02-07T13:28:17Z"
        );
        assert_eq!(
            datetime("2015-02-07T13:28:17-00:00").to_string(),
            "2015-02-07T13:28:17Z"
        );
        assert_eq!(datetime("2015-02-07T13:28:17-05:30").offset_minutes(), Some(-330));
        assert_eq!(datetime("2015-02-07T13:28:17").offset_minutes(), None);
        assert_eq!(
            datetime("2015-02-07T13:28:17.123456789123Z").to_string(),
            "2015-02-07T13:28:17.123456789Z"
        );
    }

    /// Dates are strictly validated: real months, real days (leap years
    /// included), years 0001-9999; times in range, no leap seconds.
    #[test]
    fn invalid_dates_and_times_are_rejected() {
        for text in [
            "2015-13",
            "2015-00",
            "2015-02-30",
            "2015-02-29",
            "1900-02-29",
            "2015-04-31",
            "0000",
            "2015-1",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
            assert_eq!(DateTime::parse(text), None, "{text}");
        }
        for text in ["2016-02-29", "2000-02-29", "2015-12-31", "0001-01-01", "9999-12-31"] {
            assert!(Date::parse(text).is_some(), "{text}");
        }
        for text in [
            "25:00",
            "24:00",
            "23:60",
            "23:59:60",
            "1:00",
            "01:0",
            "14:",
            "14:34:28.",
            "14:34:",
            "T14",
        ] {
            assert_eq!(Time::parse(text), None, "{text}");
        }
        assert!(Time::parse("23:59:59.999").is_some());
        assert!(Time::parse("00:00").is_some());
    }

    /// A time needs a full date, an offset needs a time, offsets stop at
    /// ±14:00, and a bare `T14:34` is a Time, not a DateTime.
    #[test]
    fn malformed_datetimes_are_rejected() {
        for text in [
            "2015T14",
            "2015-02T14:00",
            "2015-02-04T+10:00",
            "2015-02-04TZ",
            "2015-02-04T14:00+10",
            "2015-02-04T14:00+1000",
            "2015-02-04T14:00+14:01",
            "2015-02-04T14:00+15:00",
            "2015-02-04T14:00+13:60",
            "2015-02-04 14:00",
            "2015-02-04TT",
            "2015-02-04x",
            "2015-02-04T14:00Zx",
            "T14:34",
            "2015-02-04T25:00",
        ] {
            assert_eq!(DateTime::parse(text), None, "{text}");
        }
    }

    /// No input may panic: odd strings through every parser, and everything
    /// that parses through every operation, with extreme amounts.
    #[test]
    fn odd_input_never_panics() {
        let long_digits = "9".repeat(1000);
        let long_fraction = format!("2015-02-04T14:34:28.{long_digits}Z");
        let inputs = [
            "",
            "T",
            "@",
            "-",
            ":",
            ".",
            "Z",
            "99999",
            "65536",
            "+2015",
            "-2015",
            "２０１５",
            "é",
            "2015-é",
            "20🎉15",
            "2015-02-04T14:34:28.123🎉",
            "2015-02-04T14:34:28.",
            "T25:00",
            "T14:34",
            "14:34:28.",
            "9999-12-31T23:59:59.999999999+14:00",
            "0001-01-01T00:00:00-14:00",
            "0001-01-01T00:00:00.000000001+14:00",
            "9999",
            "0001",
            long_digits.as_str(),
            long_fraction.as_str(),
        ];
        let units = [
            CalendarUnit::Year,
            CalendarUnit::Month,
            CalendarUnit::Week,
            CalendarUnit::Day,
            CalendarUnit::Hour,
            CalendarUnit::Minute,
            CalendarUnit::Second,
            CalendarUnit::Millisecond,
        ];
        let amounts = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX];
        for input in inputs {
            if let Some(date) = Date::parse(input) {
                let _ = (
                    date.to_string(),
                    date.precision(),
                    date.equals(&date),
                    date.to_datetime(),
                );
                for (unit, amount) in units.iter().flat_map(|u| amounts.iter().map(move |a| (*u, *a))) {
                    let _ = date.add(amount, unit);
                }
            }
            if let Some(time) = Time::parse(input) {
                let _ = (time.to_string(), time.precision(), time.equals(&time));
                for (unit, amount) in units.iter().flat_map(|u| amounts.iter().map(move |a| (*u, *a))) {
                    let _ = time.add(amount, unit);
                }
            }
            if let Some(value) = DateTime::parse(input) {
                let _ = (
                    value.to_string(),
                    value.precision(),
                    value.equals(&value),
                    value.range_micros(),
                );
                for (unit, amount) in units.iter().flat_map(|u| amounts.iter().map(move |a| (*u, *a))) {
                    let _ = value.add(amount, unit);
                }
            }
        }
        for (micros, offset) in [
            (i64::MIN, 0),
            (i64::MAX, 0),
            (0, i32::MIN),
            (0, i32::MAX),
            (0, 841),
            (0, -841),
        ] {
            assert_eq!(DateTime::from_unix_micros(micros, offset), None, "{micros} {offset}");
        }
    }

    // --- Equality ---

    /// Suite testEquality17-24, testNEquality11-18 and the spec's examples:
    /// differing precision gives empty, seconds equal their `.0` form,
    /// offsets are normalised, and one side without offset is undecided.
    #[test]
    fn equality_follows_the_suite_and_spec() {
        check_all(&[
            ("@2012-04-15 = @2012-04-15", Some(true)),
            ("@2012-04-15 = @2012-04-16", Some(false)),
            ("@2012-04-15 = @2012-04-15T10:00:00", None),
            ("@2012-04-15T15:00:00 = @2012-04-15T10:00:00", Some(false)),
            ("@2012-04-15T15:30:31 = @2012-04-15T15:30:31.0", Some(true)),
            ("@2012-04-15T15:30:31 = @2012-04-15T15:30:31.1", Some(false)),
            ("@2012-04-15T15:00:00Z = @2012-04-15T10:00:00", None),
            ("@2012-04-15T15:00:00+02:00 = @2012-04-15T16:00:00+03:00", Some(true)),
            ("@2012-04-15 != @2012-04-15", Some(false)),
            ("@2012-04-15 != @2012-04-16", Some(true)),
            ("@2012-04-15 != @2012-04-15T10:00:00", None),
            ("@2012-04-15T15:00:00 != @2012-04-15T10:00:00", Some(true)),
            ("@2012-04-15T15:30:31 != @2012-04-15T15:30:31.0", Some(false)),
            ("@2012-04-15T15:30:31 != @2012-04-15T15:30:31.1", Some(true)),
            ("@2012-04-15T15:00:00Z != @2012-04-15T10:00:00", None),
            ("@2012-04-15T15:00:00+02:00 != @2012-04-15T16:00:00+03:00", Some(false)),
            // Spec §6.1.1 examples.
            ("@2012 = @2012", Some(true)),
            ("@2012 = @2013", Some(false)),
            ("@2012-01 = @2012", None),
            ("@2012-01-01T10:30 = @2012-01-01T10:30", Some(true)),
            ("@2012-01-01T10:30 = @2012-01-01T10:31", Some(false)),
            ("@2012-01-01T10:30:31 = @2012-01-01T10:30", None),
            ("@2012-01-01T10:30:31.0 = @2012-01-01T10:30:31", Some(true)),
            ("@2012-01-01T10:30:31.1 = @2012-01-01T10:30:31", Some(false)),
            // Different at a precision both have: false, not empty.
            ("@2012-01 = @2013", Some(false)),
            ("@2012-01-01T10 = @2012-01-01T11:30", Some(false)),
        ]);
    }

    /// Suite testEquivalent14-18, testNotEquivalent14-18 and the spec: `~` is
    /// `=` with differing precision (or an undecided offset) giving false.
    #[test]
    fn equivalence_follows_the_suite_and_spec() {
        check_all(&[
            ("@2012-04-15 ~ @2012-04-15", Some(true)),
            ("@2012-04-15 ~ @2012-04-16", Some(false)),
            ("@2012-04-15 ~ @2012-04-15T10:00:00", Some(false)),
            ("@2012-04-15T15:30:31 ~ @2012-04-15T15:30:31.0", Some(true)),
            ("@2012-04-15T15:30:31 ~ @2012-04-15T15:30:31.1", Some(false)),
            ("@2012-04-15 !~ @2012-04-15", Some(false)),
            ("@2012-04-15 !~ @2012-04-16", Some(true)),
            ("@2012-04-15 !~ @2012-04-15T10:00:00", Some(true)),
            ("@2012-04-15T15:30:31 !~ @2012-04-15T15:30:31.0", Some(false)),
            ("@2012-04-15T15:30:31 !~ @2012-04-15T15:30:31.1", Some(true)),
            ("@2012 ~ @2012", Some(true)),
            ("@2012 ~ @2013", Some(false)),
            ("@2012-01 ~ @2012", Some(false)),
            ("@2018-03-01 ~ @2018-03-01T10:30:00", Some(false)),
            ("@2012-04-15T15:00:00Z ~ @2012-04-15T15:00:00", Some(false)),
            ("@T10:30:00 ~ @T10:30:00.000", Some(true)),
            ("@T10:30 ~ @T10:30:00", Some(false)),
        ]);
    }

    /// Times: seconds and milliseconds are one precision (`10:30:00` equals
    /// `10:30:00.000`), minutes against seconds is empty.
    #[test]
    fn time_equality_treats_seconds_and_milliseconds_as_one_precision() {
        check_all(&[
            ("@T10:30:00.000 = @T10:30:00", Some(true)),
            ("@T10:30:00.5 = @T10:30:00", Some(false)),
            ("@T10:30 = @T10:30:00", None),
            ("@T10 = @T10", Some(true)),
            ("@T10 = @T11:30", Some(false)),
        ]);
    }

    /// Suite testDateNotEqual*: a Date (Patient.birthDate) against a DateTime
    /// on the same day is empty whatever the DateTime's offset.
    #[test]
    fn date_against_datetime_on_the_same_day_is_empty() {
        check_all(&[
            ("@1974-12-25 = @1974-12-25", Some(true)),
            ("@1974-12-25 != @1974-12-25T12:34:00", None),
            ("@1974-12-25 != @1974-12-25T12:34:00-10:00", None),
            ("@1974-12-25 != @1974-12-25T12:34:00+10:00", None),
            ("@1974-12-25 != @1974-12-25T12:34:00Z", None),
        ]);
    }

    /// Suite testLiteralDateTimeTZ* (also the spec's examples): offsets are
    /// normalised before comparing.
    #[test]
    fn offsets_are_normalised_for_comparison() {
        check_all(&[
            (
                "@2017-11-05T01:30:00.0-04:00 > @2017-11-05T01:15:00.0-05:00",
                Some(false),
            ),
            (
                "@2017-11-05T01:30:00.0-04:00 < @2017-11-05T01:15:00.0-05:00",
                Some(true),
            ),
            (
                "@2017-11-05T01:30:00.0-04:00 = @2017-11-05T01:15:00.0-05:00",
                Some(false),
            ),
            (
                "@2017-11-05T01:30:00.0-04:00 = @2017-11-05T00:30:00.0-05:00",
                Some(true),
            ),
            ("@2017-11-05T23:00:00Z = @2017-11-06T09:00:00+10:00", Some(true)),
        ]);
    }

    /// A value without offset could be anywhere within ±14:00: ordered only
    /// when that cannot change the answer, never equal to one with an offset.
    #[test]
    fn one_missing_offset_is_decided_only_beyond_fourteen_hours() {
        check_all(&[
            ("@2012-04-15T10:00:00Z < @2012-04-17T10:00:00", Some(true)),
            ("@2012-04-17T10:00:00 > @2012-04-15T10:00:00Z", Some(true)),
            ("@2012-04-15T10:00:00Z < @2012-04-15T20:00:00", None),
            ("@2012-04-16 > @2012-04-15T23:00:00+10:00", None),
            ("@2012-04-15T10:00:00Z = @2012-04-15T10:00:00", None),
            ("@2012-04-15T10:00:00Z = @2012-04-17T10:00:00", Some(false)),
        ]);
    }

    // --- Comparison ---

    /// Suite testLessThan5-27 for Date, DateTime and Time.
    #[test]
    fn less_than_follows_the_suite() {
        check_all(&[
            ("@2014-12-12 < @2014-12-13", Some(true)),
            ("@2014-12-13T12:00:00 < @2014-12-13T12:00:01", Some(true)),
            ("@T12:00:00 < @T14:00:00", Some(true)),
            ("@2014-12-12 < @2014-12-12", Some(false)),
            ("@2014-12-13T12:00:00 < @2014-12-13T12:00:00", Some(false)),
            ("@T12:00:00 < @T12:00:00", Some(false)),
            ("@2014-12-13 < @2014-12-12", Some(false)),
            ("@2014-12-13T12:00:01 < @2014-12-13T12:00:00", Some(false)),
            ("@T12:00:01 < @T12:00:00", Some(false)),
            ("@2018-03 < @2018-03-01", None),
            ("@2018-03-01T10:30 < @2018-03-01T10:30:00", None),
            ("@T10:30 < @T10:30:00", None),
            ("@2018-03-01T10:30:00 < @2018-03-01T10:30:00.0", Some(false)),
            ("@T10:30:00 < @T10:30:00.0", Some(false)),
        ]);
    }

    /// Suite testLessOrEqual5-27.
    #[test]
    fn less_or_equal_follows_the_suite() {
        check_all(&[
            ("@2014-12-12 <= @2014-12-13", Some(true)),
            ("@2014-12-13T12:00:00 <= @2014-12-13T12:00:01", Some(true)),
            ("@T12:00:00 <= @T14:00:00", Some(true)),
            ("@2014-12-12 <= @2014-12-12", Some(true)),
            ("@2014-12-13T12:00:00 <= @2014-12-13T12:00:00", Some(true)),
            ("@T12:00:00 <= @T12:00:00", Some(true)),
            ("@2014-12-13 <= @2014-12-12", Some(false)),
            ("@2014-12-13T12:00:01 <= @2014-12-13T12:00:00", Some(false)),
            ("@T12:00:01 <= @T12:00:00", Some(false)),
            ("@2018-03 <= @2018-03-01", None),
            ("@2018-03-01T10:30 <= @2018-03-01T10:30:00", None),
            ("@T10:30 <= @T10:30:00", None),
            ("@2018-03-01T10:30:00 <= @2018-03-01T10:30:00.0", Some(true)),
            ("@T10:30:00 <= @T10:30:00.0", Some(true)),
        ]);
    }

    /// Suite testGreatorOrEqual5-27.
    #[test]
    fn greater_or_equal_follows_the_suite() {
        check_all(&[
            ("@2014-12-12 >= @2014-12-13", Some(false)),
            ("@2014-12-13T12:00:00 >= @2014-12-13T12:00:01", Some(false)),
            ("@T12:00:00 >= @T14:00:00", Some(false)),
            ("@2014-12-12 >= @2014-12-12", Some(true)),
            ("@2014-12-13T12:00:00 >= @2014-12-13T12:00:00", Some(true)),
            ("@T12:00:00 >= @T12:00:00", Some(true)),
            ("@2014-12-13 >= @2014-12-12", Some(true)),
            ("@2014-12-13T12:00:01 >= @2014-12-13T12:00:00", Some(true)),
            ("@T12:00:01 >= @T12:00:00", Some(true)),
            ("@2018-03 >= @2018-03-01", None),
            ("@2018-03-01T10:30 >= @2018-03-01T10:30:00", None),
            ("@T10:30 >= @T10:30:00", None),
            ("@2018-03-01T10:30:00 >= @2018-03-01T10:30:00.0", Some(true)),
            ("@T10:30:00 >= @T10:30:00.0", Some(true)),
        ]);
    }

    /// Suite testGreaterThan5-27.
    #[test]
    fn greater_than_follows_the_suite() {
        check_all(&[
            ("@2014-12-12 > @2014-12-13", Some(false)),
            ("@2014-12-13T12:00:00 > @2014-12-13T12:00:01", Some(false)),
            ("@T12:00:00 > @T14:00:00", Some(false)),
            ("@2014-12-12 > @2014-12-12", Some(false)),
            ("@2014-12-13T12:00:00 > @2014-12-13T12:00:00", Some(false)),
            ("@T12:00:00 > @T12:00:00", Some(false)),
            ("@2014-12-13 > @2014-12-12", Some(true)),
            ("@2014-12-13T12:00:01 > @2014-12-13T12:00:00", Some(true)),
            ("@T12:00:01 > @T12:00:00", Some(true)),
            ("@2018-03 > @2018-03-01", None),
            ("@2018-03-01T10:30 > @2018-03-01T10:30:00", None),
            ("@T10:30 > @T10:30:00", None),
            ("@2018-03-01T10:30:00 > @2018-03-01T10:30:00.0", Some(false)),
            ("@T10:30:00 > @T10:30:00.0", Some(false)),
        ]);
    }

    /// Differing precision is empty only when the values agree up to the
    /// coarser one; a difference at a shared precision decides. Seconds
    /// compare as decimals.
    #[test]
    fn differing_precision_is_decided_by_a_shared_difference() {
        check_all(&[
            ("@2012 < @2013-01-01", Some(true)),
            ("@2012-03 > @2012-02-28", Some(true)),
            ("@2012-01-01T10 < @2012-01-01T11:30", Some(true)),
            ("@2012-01-01 < @2012-01-02T00:00:00", Some(true)),
            ("@2012-01-01 < @2012-01-01T23:59:59", None),
            ("@T10 < @T11:30", Some(true)),
            ("@T10:30:00 < @T10:30:00.5", Some(true)),
            ("@T10:30:00.25 > @T10:30:00.2", Some(true)),
            ("@2012-01-01T10:30:59.999 < @2012-01-01T10:31", Some(true)),
        ]);
    }

    /// Suite testDateNotEqualToday, testDateTimeGreaterThanDate1/2,
    /// testDateGreaterThanDate, testToday1/2, testNow1/2: how `today()` and
    /// `now()` (built with `from_unix_micros`) meet a birth date and each other.
    #[test]
    fn now_and_today_compare_like_the_suite() {
        let birth_date = Date::parse("1974-12-25").expect("date");
        // Instants around day edges, in the extreme offsets and UTC.
        for micros in [0, 1_700_000_000_123_456, 1_699_919_999_999_999, 1_700_006_400_000_000] {
            for offset in [-720, -300, 0, 330, 840] {
                let now = DateTime::from_unix_micros(micros, offset).expect("now");
                let today = now.date();
                assert_eq!(today.to_string().len(), 10);
                assert!(now.to_string().len() > 10);
                assert_eq!(today.precision(), Precision::Day);
                if micros > 0 {
                    assert_eq!(birth_date.partial_cmp_fhirpath(&today), Some(Ordering::Less));
                    assert_eq!(
                        now.partial_cmp_fhirpath(&birth_date.to_datetime()),
                        Some(Ordering::Greater)
                    );
                    assert_eq!(
                        birth_date.to_datetime().partial_cmp_fhirpath(&now),
                        Some(Ordering::Less)
                    );
                }
                assert_eq!(now.partial_cmp_fhirpath(&today.to_datetime()), None, "{now} vs {today}");
            }
        }
    }

    // --- Arithmetic ---

    /// Suite testPlusDate1-22, testMinus5, testMinus6: calendar keywords and
    /// UCUM codes, decimals truncated, `'mo'` / `'a'` / `'cm'` errors.
    #[test]
    fn arithmetic_follows_the_suite() {
        check_arithmetic(&[
            ("@1973-12-25 + 7 days", Some("1974-01-01")),
            ("@1973-12-25 + 7.7 days", Some("1974-01-01")),
            (
                "@1973-12-25T00:00:00.000+10:00 + 7 days",
                Some("1974-01-01T00:00:00.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 7.7 days",
                Some("1974-01-01T00:00:00.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 second",
                Some("1973-12-25T00:00:01.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 10 millisecond",
                Some("1973-12-25T00:00:00.010+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 minute",
                Some("1973-12-25T00:01:00.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 hour",
                Some("1973-12-25T01:00:00.000+10:00"),
            ),
            ("@1973-12-25 + 1 day", Some("1973-12-26")),
            ("@1973-12-25 + 1 month", Some("1974-01-25")),
            ("@1973-12-25 + 1 week", Some("1974-01-01")),
            ("@1973-12-25 + 1 year", Some("1974-12-25")),
            ("@1973-12-25 + 1 'd'", Some("1973-12-26")),
            ("@1973-12-25 + 1 'mo'", None),
            ("@1973-12-25 + 1 'wk'", Some("1974-01-01")),
            ("@1973-12-25 + 1 'a'", None),
            ("@1975-12-25 + 1 'a'", None),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 's'",
                Some("1973-12-25T00:00:01.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 0.1 's'",
                Some("1973-12-25T00:00:00.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 10 'ms'",
                Some("1973-12-25T00:00:00.010+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 'min'",
                Some("1973-12-25T00:01:00.000+10:00"),
            ),
            (
                "@1973-12-25T00:00:00.000+10:00 + 1 'h'",
                Some("1973-12-25T01:00:00.000+10:00"),
            ),
            ("@1974-12-25 - 1 'month'", Some("1974-11-25")),
            ("@1974-12-25 - 1 'cm'", None),
        ]);
    }

    /// Months and years follow the calendar and clamp to the month's end
    /// (spec "respecting variable length periods"); subtraction likewise.
    #[test]
    fn months_and_years_clamp_to_the_end_of_the_month() {
        check_arithmetic(&[
            ("@2014-01-01 + 1 month", Some("2014-02-01")),
            ("@2019-03-31 + 1 month", Some("2019-04-30")),
            ("@2019-01-31 + 1 month", Some("2019-02-28")),
            ("@2020-01-31 + 1 month", Some("2020-02-29")),
            ("@2019-03-31 - 1 month", Some("2019-02-28")),
            ("@2019-12-31 + 14 months", Some("2021-02-28")),
            ("@2019-01-15 - 13 months", Some("2017-12-15")),
            ("@2016-02-29 + 1 year", Some("2017-02-28")),
            ("@2016-02-29 + 4 years", Some("2020-02-29")),
            ("@2016-02-29T10:00:00Z + 1 year", Some("2017-02-28T10:00:00Z")),
            ("@2019-03-31T23:30+05:00 + 1 month", Some("2019-04-30T23:30+05:00")),
            ("@2014-02 + 1 month", Some("2014-03")),
            ("@2014 + 1 year", Some("2015")),
        ]);
    }

    /// Spec: a quantity finer than the value is converted to the value's
    /// precision and truncated (`@2014 + 24 months` is `@2016`); for that a
    /// week is 7 days, a month 30 days, a year 365 days.
    #[test]
    fn finer_units_are_converted_to_the_precision_and_truncated() {
        check_arithmetic(&[
            ("@2014 + 24 months", Some("2016")),
            ("@2014 - 24 months", Some("2012")),
            ("@2014 + 11 months", Some("2014")),
            ("@2014 - 13 months", Some("2013")),
            ("@2014 + 365 days", Some("2015")),
            ("@2014 + 52 weeks", Some("2014")),
            ("@2014-01 + 45 days", Some("2014-02")),
            ("@2014-01 + 29 days", Some("2014-01")),
            ("@2014-01 + 5 weeks", Some("2014-02")),
            ("@2014T + 24 months", Some("2016")),
            ("@2014-01-01T + 25 hours", Some("2014-01-02")),
            ("@2014-01-01T - 25 hours", Some("2013-12-31")),
            ("@2014-01-01T + 23 hours", Some("2014-01-01")),
            ("@2014-01T + 1 week", Some("2014-01")),
            ("@2014-01-01T10 + 90 minutes", Some("2014-01-01T11")),
            ("@2014-01-01T10:00 + 90 seconds", Some("2014-01-01T10:01")),
            ("@2014-01-01T10:00:00 + 1500 'ms'", Some("2014-01-01T10:00:01")),
            ("@2014-01-01T10:00:00 + 10 'ms'", Some("2014-01-01T10:00:00")),
            ("@T10 + 90 minutes", Some("11")),
            ("@T10:00 - 59 seconds", Some("10:00")),
        ]);
    }

    /// Spec: a Date takes years, months, weeks or days only, a Time hours to
    /// milliseconds only; anything else is an error (`None`).
    #[test]
    fn units_outside_the_type_are_errors() {
        check_arithmetic(&[
            ("@2014-01-01 + 25 hours", None),
            ("@2014-01-01 + 1 'h'", None),
            ("@2014-01-01 + 1 millisecond", None),
            ("@T10:00 + 1 day", None),
            ("@T10:00 + 1 'wk'", None),
            ("@T10:00 + 1 month", None),
            ("@T10:00 + 1 year", None),
        ]);
    }

    /// Clock arithmetic crosses days, months and years; a Time wraps around
    /// midnight; a fraction gains digits when it needs them.
    #[test]
    fn clock_arithmetic_carries_and_wraps() {
        check_arithmetic(&[
            (
                "@2014-12-31T23:59:59.999Z + 1 millisecond",
                Some("2015-01-01T00:00:00.000Z"),
            ),
            (
                "@2015-01-01T00:00:00.000Z - 1 millisecond",
                Some("2014-12-31T23:59:59.999Z"),
            ),
            (
                "@2016-02-28T23:00:00+01:00 + 2 hours",
                Some("2016-02-29T01:00:00+01:00"),
            ),
            ("@2014-01-01T10:00:00Z + 1 week", Some("2014-01-08T10:00:00Z")),
            ("@T23:59:59.999 + 1 millisecond", Some("00:00:00.000")),
            ("@T10:00 - 11 hours", Some("23:00")),
            ("@T10:00 + 48 hours", Some("10:00")),
            ("@T10:00:00.0 + 10 milliseconds", Some("10:00:00.01")),
            ("@T10:00:00.0 + 10 'ms'", Some("10:00:00.01")),
            ("@T10:00:00 + 1 second", Some("10:00:01")),
        ]);
    }

    /// Results outside 0001..=9999 and absurd amounts are `None`, not panics.
    #[test]
    fn out_of_range_results_are_none() {
        check_arithmetic(&[
            ("@9999-12-31 + 1 day", None),
            ("@0001-01-01 - 1 day", None),
            ("@9999 + 1 year", None),
            ("@0001-01 - 1 month", None),
            ("@9999-12-31T23:59:59.999Z + 1 millisecond", None),
            ("@0001-01-01T00:00Z - 1 minute", None),
            ("@2014-01-01 + 9223372036854775807 days", None),
            ("@2014-01-01 - 9223372036854775807 years", None),
            ("@2014-01-01T10:00Z + 9223372036854775807 milliseconds", None),
        ]);
        let time = Time::parse("10:00").expect("time");
        assert!(time.add(i64::MAX, CalendarUnit::Hour).is_some());
        assert!(time.add(i64::MIN, CalendarUnit::Millisecond).is_some());
    }

    // --- Units ---

    /// Every calendar keyword, singular and plural; UCUM codes; `'a'`/`'mo'`
    /// refused (suite testPlusDate14/16); quoted keywords accepted (testMinus5).
    #[test]
    fn units_parse() {
        for (keyword, unit) in [
            ("year", CalendarUnit::Year),
            ("month", CalendarUnit::Month),
            ("week", CalendarUnit::Week),
            ("day", CalendarUnit::Day),
            ("hour", CalendarUnit::Hour),
            ("minute", CalendarUnit::Minute),
            ("second", CalendarUnit::Second),
            ("millisecond", CalendarUnit::Millisecond),
        ] {
            assert_eq!(CalendarUnit::parse_keyword(keyword), Some(unit));
            assert_eq!(CalendarUnit::parse_keyword(&format!("{keyword}s")), Some(unit));
            assert_eq!(CalendarUnit::parse_ucum(keyword), Some(unit));
        }
        for (code, unit) in [
            ("wk", CalendarUnit::Week),
            ("d", CalendarUnit::Day),
            ("h", CalendarUnit::Hour),
            ("min", CalendarUnit::Minute),
            ("s", CalendarUnit::Second),
            ("ms", CalendarUnit::Millisecond),
        ] {
            assert_eq!(CalendarUnit::parse_ucum(code), Some(unit));
            assert_eq!(CalendarUnit::parse_keyword(code), None);
        }
        for refused in ["a", "mo", "cm", "Year", "DAYS", "", "yr"] {
            assert_eq!(CalendarUnit::parse_ucum(refused), None, "{refused}");
        }
    }

    // --- now(), ranges, calendar ---

    /// `now()` construction: offset applied to the wall clock, milliseconds kept,
    /// instants before the epoch handled.
    #[test]
    fn from_unix_micros_builds_local_wall_time() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (0, 60, "1970-01-01T01:00:00.000+01:00"),
            (-1, 0, "1969-12-31T23:59:59.999Z"),
            (1_700_000_000_123_456, -300, "2023-11-14T17:13:20.123-05:00"),
            (1_700_000_000_123_456, 840, "2023-11-15T12:13:20.123+14:00"),
        ];
        for (micros, offset, expected) in cases {
            let now = DateTime::from_unix_micros(micros, offset).expect("in range");
            assert_eq!(now.to_string(), expected);
            assert_eq!(now.precision(), Precision::Millisecond);
        }
    }

    /// `range_micros` (for search): the interval a value covers at its
    /// precision, in UTC when it has no offset; fractions cover their last digit.
    #[test]
    fn range_micros_covers_the_precision() {
        const DAY: i64 = 86_400_000_000;
        for (text, expected) in [
            ("1970", (0, 365 * DAY)),
            ("1970-02", (31 * DAY, 59 * DAY)),
            ("1969-12-31", (-DAY, 0)),
            ("2000-02", (949_363_200_000_000, 951_868_800_000_000)),
            ("1970-01-01T10", (36_000_000_000, 39_600_000_000)),
            ("1970-01-01T00:01", (60_000_000, 120_000_000)),
            ("1970-01-01T00:00:00Z", (0, 1_000_000)),
            ("1970-01-01T00:00:00", (0, 1_000_000)),
            ("1970-01-01T01:00:00+01:00", (0, 1_000_000)),
            ("1970-01-01T00:00:00.1Z", (100_000, 200_000)),
            ("1970-01-01T00:00:00.123Z", (123_000, 124_000)),
            ("1970-01-01T00:00:00.123456789Z", (123_456, 123_457)),
        ] {
            assert_eq!(datetime(text).range_micros(), Some(expected), "{text}");
        }
        let now = DateTime::from_unix_micros(1_700_000_000_123_456, 330).expect("now");
        assert_eq!(now.range_micros(), Some((1_700_000_000_123_000, 1_700_000_000_124_000)));
    }

    /// The hand-written calendar against chrono for every day of 0001..=9999,
    /// both directions, plus the epoch constant.
    #[test]
    fn day_numbers_match_chrono() {
        use chrono::Datelike;
        assert_eq!(day_number(1970, 1, 1), UNIX_EPOCH_DAY);
        let end = day_number(10000, 1, 1);
        for number in 0..end {
            let date = date_from_day_number(number).expect("in range");
            let chrono_date = chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(number + 1).expect("fits"))
                .expect("chrono date");
            assert_eq!(
                (date.year(), date.month(), date.day()),
                (chrono_date.year(), Some(chrono_date.month()), Some(chrono_date.day()))
            );
            assert_eq!(date.first_day_number(), number);
        }
        assert_eq!(date_from_day_number(end), None);
        assert_eq!(date_from_day_number(-1), None);
    }
}
