//! Date ranges: the bounds a spec writes, and the instants they stand for.
//!
//! A bound is written as a date (`2026-10-01`), a date-time with an offset
//! (`2026-10-01T09:00:00+02:00`), a local date-time read in the spec's time
//! zone (`2026-10-01T09:00`), or relative to the run's clock (`now`, `today`,
//! `-30d`, `+12w`). Dates and day-based relative bounds mean whole days: a
//! `from` starts at 00:00 that day, a `to` includes the whole day. Exact
//! bounds are `from` inclusive, `to` exclusive. A [`ResolvedRange`] is always
//! half-open: `start <= t < end`.

use std::fmt;

use chrono::{
    DateTime, Days, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use serde::Serialize;

/// A unit of a relative bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeUnit {
    /// `h`: exact hours from now.
    Hours,
    /// `d`: whole days from today.
    Days,
    /// `w`: whole weeks from today.
    Weeks,
    /// `mo`: calendar months from today.
    Months,
    /// `y`: calendar years from today.
    Years,
}

/// One bound of a range, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A whole day.
    Date(NaiveDate),
    /// An exact instant, with the offset it was written with.
    Instant(DateTime<FixedOffset>),
    /// A wall-clock time in the spec's time zone.
    Local(NaiveDateTime),
    /// The run's clock.
    Now,
    /// The whole day of the run's clock, in the spec's time zone.
    Today,
    /// An offset from the run's clock (`-30d`, `+12w`, `+6h`).
    Relative(i64, RelativeUnit),
}

/// Why a bound could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BoundError {
    /// What is wrong with the bound.
    pub message: String,
    /// How to write it instead.
    pub hint: String,
}

impl Bound {
    /// Reads a bound as a spec writes it.
    ///
    /// # Errors
    /// When the text is none of the accepted forms, or names a date that does
    /// not exist.
    pub fn parse(text: &str) -> Result<Bound, BoundError> {
        let text = text.trim();
        match text {
            "now" => return Ok(Bound::Now),
            "today" => return Ok(Bound::Today),
            _ => {}
        }
        if let Some(relative) = parse_relative(text) {
            return relative;
        }
        if text.len() == 10 && looks_like_date(text) {
            return parse_date(text).map(Bound::Date);
        }
        if text.len() > 10 && looks_like_date(&text[..10]) {
            parse_date(&text[..10])?;
            if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
                return Ok(Bound::Instant(instant));
            }
            for format in [
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M",
            ] {
                if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
                    return Ok(Bound::Local(local));
                }
            }
            return Err(BoundError {
                message: format!("`{text}` is not a valid date-time"),
                hint: "write `2026-10-01T09:00:00+02:00` (with an offset), `2026-10-01T09:00` \
                       (in the spec's timezone) or a date"
                    .to_owned(),
            });
        }
        Err(BoundError {
            message: format!("`{text}` is not a date, a date-time or a relative bound"),
            hint: "write a date (`2026-10-01`), a date-time (`2026-10-01T09:00:00Z`), `now`, \
                   `today`, or an offset such as `-30d` or `+12w` (units h, d, w, mo, y)"
                .to_owned(),
        })
    }

    /// Whether the bound depends on the run's clock.
    #[must_use]
    pub fn is_relative(&self) -> bool {
        matches!(self, Bound::Now | Bound::Today | Bound::Relative(..))
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Date(d) => write!(f, "{d}"),
            Bound::Instant(i) => write!(f, "{}", i.to_rfc3339()),
            Bound::Local(l) => write!(f, "{}", l.format("%Y-%m-%dT%H:%M:%S")),
            Bound::Now => f.write_str("now"),
            Bound::Today => f.write_str("today"),
            Bound::Relative(n, unit) => {
                let unit = match unit {
                    RelativeUnit::Hours => "h",
                    RelativeUnit::Days => "d",
                    RelativeUnit::Weeks => "w",
                    RelativeUnit::Months => "mo",
                    RelativeUnit::Years => "y",
                };
                write!(f, "{n:+}{unit}")
            }
        }
    }
}

fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn parse_date(text: &str) -> Result<NaiveDate, BoundError> {
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    if !(1..=12).contains(&month) {
        return Err(BoundError {
            message: format!("`{text}` is not a date: there is no month {month}"),
            hint: "dates are written year-month-day (`2026-10-01`)".to_owned(),
        });
    }
    #[allow(clippy::cast_possible_wrap)]
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(|| BoundError {
        message: format!("`{text}` is not a date: month {month} of {year} has no day {day}"),
        hint: "dates are written year-month-day (`2026-10-01`)".to_owned(),
    })
}

fn parse_relative(text: &str) -> Option<Result<Bound, BoundError>> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &text[1..];
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return None;
    }
    let unit = match &rest[digits_end..] {
        "h" => RelativeUnit::Hours,
        "d" => RelativeUnit::Days,
        "w" => RelativeUnit::Weeks,
        "mo" => RelativeUnit::Months,
        "y" => RelativeUnit::Years,
        other => {
            let hint = if other == "m" {
                "`m` could mean minutes or months: write `mo` for months".to_owned()
            } else {
                "the units are h (hours), d (days), w (weeks), mo (months) and y (years)".to_owned()
            };
            return Some(Err(BoundError {
                message: format!("`{text}` has an unknown unit `{other}`"),
                hint,
            }));
        }
    };
    Some(match rest[..digits_end].parse::<i64>() {
        Ok(amount) if amount <= 1_000_000 => Ok(Bound::Relative(sign * amount, unit)),
        _ => Err(BoundError {
            message: format!("`{text}` reaches too far"),
            hint: "relative bounds go at most a million units from now".to_owned(),
        }),
    })
}

/// What a bound resolves to before it becomes an instant.
enum Resolved {
    Day(NaiveDate),
    Exact(DateTime<Utc>),
}

impl Bound {
    fn resolve(self, now: DateTime<Utc>, tz: Tz) -> Option<Resolved> {
        let today = now.with_timezone(&tz).date_naive();
        Some(match self {
            Bound::Date(d) => Resolved::Day(d),
            Bound::Instant(i) => Resolved::Exact(i.with_timezone(&Utc)),
            Bound::Local(l) => Resolved::Exact(local_instant(tz, l)?),
            Bound::Now => Resolved::Exact(now),
            Bound::Today => Resolved::Day(today),
            Bound::Relative(n, RelativeUnit::Hours) => {
                Resolved::Exact(now.checked_add_signed(Duration::try_hours(n)?)?)
            }
            Bound::Relative(n, RelativeUnit::Days) => Resolved::Day(shift_days(today, n)?),
            Bound::Relative(n, RelativeUnit::Weeks) => {
                Resolved::Day(shift_days(today, n.checked_mul(7)?)?)
            }
            Bound::Relative(n, RelativeUnit::Months) => Resolved::Day(shift_months(today, n)?),
            Bound::Relative(n, RelativeUnit::Years) => {
                Resolved::Day(shift_months(today, n.checked_mul(12)?)?)
            }
        })
    }
}

fn shift_days(day: NaiveDate, n: i64) -> Option<NaiveDate> {
    let days = Days::new(n.unsigned_abs());
    if n >= 0 {
        day.checked_add_days(days)
    } else {
        day.checked_sub_days(days)
    }
}

fn shift_months(day: NaiveDate, n: i64) -> Option<NaiveDate> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        day.checked_add_months(months)
    } else {
        day.checked_sub_months(months)
    }
}

/// The instant a wall-clock time stands for in a zone. In a DST gap (the
/// clock jumps over it) the first valid time after it; when a time happens
/// twice, the first.
#[must_use]
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut probe = local;
    // Gaps are at most a few hours; step through them.
    for _ in 0..=16 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return Some(t.with_timezone(&Utc));
        }
        probe = probe.checked_add_signed(Duration::minutes(15))?;
    }
    None
}

/// The instant a day starts in a zone.
#[must_use]
pub fn start_of_day(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    local_instant(tz, day.and_time(NaiveTime::MIN))
}

/// A range of dates as written in a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeSpec {
    /// The beginning (inclusive), if any.
    pub from: Option<Bound>,
    /// The end (a day includes itself; an instant is exclusive), if any.
    pub to: Option<Bound>,
}

/// A range of instants: `start <= t < end`, either side open when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResolvedRange {
    /// The first instant in the range.
    pub start: Option<DateTime<Utc>>,
    /// The first instant after the range.
    pub end: Option<DateTime<Utc>>,
}

/// Why a range cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A bound lies outside the dates snapsync can represent.
    #[error("`{0}` is out of the supported range of dates")]
    OutOfRange(Bound),
}

impl RangeSpec {
    /// The instants this range stands for, with the run's clock and the
    /// spec's time zone.
    ///
    /// # Errors
    /// When a bound resolves outside the representable dates.
    pub fn resolve(&self, now: DateTime<Utc>, tz: Tz) -> Result<ResolvedRange, RangeError> {
        let start = match self.from {
            None => None,
            Some(bound) => Some(
                match bound
                    .resolve(now, tz)
                    .ok_or(RangeError::OutOfRange(bound))?
                {
                    Resolved::Day(day) => start_of_day(tz, day),
                    Resolved::Exact(t) => Some(t),
                }
                .ok_or(RangeError::OutOfRange(bound))?,
            ),
        };
        let end = match self.to {
            None => None,
            Some(bound) => Some(
                match bound
                    .resolve(now, tz)
                    .ok_or(RangeError::OutOfRange(bound))?
                {
                    Resolved::Day(day) => day.succ_opt().and_then(|next| start_of_day(tz, next)),
                    Resolved::Exact(t) => Some(t),
                }
                .ok_or(RangeError::OutOfRange(bound))?,
            ),
        };
        Ok(ResolvedRange { start, end })
    }
}

impl ResolvedRange {
    /// Whether no instant can fall in the range.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        matches!((self.start, self.end), (Some(s), Some(e)) if s >= e)
    }

    /// Whether an instant falls in the range.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }
}

impl fmt::Display for ResolvedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.start {
            Some(s) => write!(f, "[{}", s.to_rfc3339())?,
            None => f.write_str("(open")?,
        }
        f.write_str(", ")?;
        match self.end {
            Some(e) => write!(f, "{})", e.to_rfc3339()),
            None => f.write_str("open)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::tests::{NOW, range, utc};

    #[test]
    fn a_date_range_covers_whole_days_in_the_spec_zone() {
        let r = range(Some("2026-10-01"), Some("2026-12-31"))
            .resolve(utc(NOW), chrono_tz::America::Toronto)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-10-01T04:00:00Z")));
        // 31 December ends at midnight Toronto time (EST, UTC-5).
        assert_eq!(r.end, Some(utc("2027-01-01T05:00:00Z")));
        assert!(r.contains(utc("2027-01-01T04:59:59Z")));
        assert!(!r.contains(utc("2027-01-01T05:00:00Z")));
        assert!(!r.contains(utc("2026-10-01T03:59:59Z")));
    }

    #[test]
    fn date_time_bounds_are_exact_from_inclusive_to_exclusive() {
        let r = range(
            Some("2026-10-01T09:00:00+02:00"),
            Some("2026-10-01T10:00:00+02:00"),
        )
        .resolve(utc(NOW), Tz::UTC)
        .expect("resolves");
        assert!(r.contains(utc("2026-10-01T07:00:00Z")));
        assert!(!r.contains(utc("2026-10-01T08:00:00Z")));
    }

    #[test]
    fn local_date_times_are_read_in_the_spec_zone() {
        let r = range(Some("2026-10-01T09:00"), None)
            .resolve(utc(NOW), chrono_tz::Europe::Berlin)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-10-01T07:00:00Z")));
    }

    #[test]
    fn relative_days_mean_whole_days_and_hours_mean_instants() {
        let tz = chrono_tz::Europe::Berlin;
        let r = range(Some("-30d"), Some("+12w"))
            .resolve(utc(NOW), tz)
            .expect("resolves");
        // Today in Berlin is 2026-11-25; 30 days earlier is 2026-10-26 (CET, UTC+1).
        assert_eq!(r.start, Some(utc("2026-10-25T23:00:00Z")));
        // 12 weeks later is 2027-02-17, included whole.
        assert_eq!(r.end, Some(utc("2027-02-17T23:00:00Z")));
        let r = range(Some("-6h"), Some("now"))
            .resolve(utc(NOW), tz)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-11-25T09:30:00Z")));
        assert_eq!(r.end, Some(utc(NOW)));
        let r = range(Some("today"), Some("today"))
            .resolve(utc(NOW), tz)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-11-24T23:00:00Z")));
        assert_eq!(r.end, Some(utc("2026-11-25T23:00:00Z")));
        let r = range(Some("-1mo"), Some("+1y"))
            .resolve(utc(NOW), Tz::UTC)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-10-25T00:00:00Z")));
        assert_eq!(r.end, Some(utc("2027-11-26T00:00:00Z")));
    }

    #[test]
    fn a_day_that_starts_in_a_dst_gap_starts_when_the_clock_resumes() {
        // Santiago skips from 24:00 to 01:00 on 2026-09-06.
        let tz = chrono_tz::America::Santiago;
        let r = range(Some("2026-09-06"), None)
            .resolve(utc(NOW), tz)
            .expect("resolves");
        assert_eq!(r.start, Some(utc("2026-09-06T04:00:00Z")));
    }

    #[test]
    fn inverted_and_empty_ranges_are_empty() {
        let tz = Tz::UTC;
        assert!(
            range(Some("2026-12-31"), Some("2026-10-01"))
                .resolve(utc(NOW), tz)
                .expect("r")
                .is_empty()
        );
        assert!(
            !range(Some("2026-10-01"), Some("2026-10-01"))
                .resolve(utc(NOW), tz)
                .expect("r")
                .is_empty()
        );
        assert!(
            range(Some("now"), Some("now"))
                .resolve(utc(NOW), tz)
                .expect("r")
                .is_empty()
        );
        assert!(
            range(Some("+1d"), Some("-1d"))
                .resolve(utc(NOW), tz)
                .expect("r")
                .is_empty()
        );
    }

    #[test]
    fn bad_bounds_say_what_is_wrong() {
        let e = Bound::parse("2026-13-01").expect_err("no month 13");
        assert_eq!(
            e.message,
            "`2026-13-01` is not a date: there is no month 13"
        );
        let e = Bound::parse("2026-02-30").expect_err("no 30 February");
        assert_eq!(
            e.message,
            "`2026-02-30` is not a date: month 2 of 2026 has no day 30"
        );
        let e = Bound::parse("-3m").expect_err("ambiguous unit");
        assert!(e.hint.contains("`mo`"), "{e:?}");
        let e = Bound::parse("yesterday").expect_err("unknown word");
        assert!(e.message.contains("not a date"), "{e:?}");
        let e = Bound::parse("2026-10-01T25:00").expect_err("bad time");
        assert_eq!(e.message, "`2026-10-01T25:00` is not a valid date-time");
    }

    #[test]
    fn bounds_print_as_written() {
        for text in [
            "2026-10-01",
            "now",
            "today",
            "-30d",
            "+12w",
            "+6h",
            "-1mo",
            "+2y",
        ] {
            assert_eq!(Bound::parse(text).expect("bound").to_string(), text);
        }
    }
}
