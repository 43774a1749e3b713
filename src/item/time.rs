//! Date/time values as items carry them, and the time zones they name.
//!
//! Words used here:
//! - **nature**: how a value was written, which decides how to read it. A
//!   *UTC* time (`…Z`) is an instant; a *zoned* time (`TZID=…`) is a wall-clock
//!   time in a named zone; a *floating* time has no zone and means "that wall
//!   clock time wherever you are"; an *all-day date* (`VALUE=DATE`) is a day.
//!   Filters read floating times and dates in the spec's time zone.
//! - **TZID**: the zone name a value refers to. It may be an IANA name
//!   (`Europe/Berlin`), a Windows name written by Outlook/Exchange
//!   (`W. Europe Standard Time`), or a name defined only by a `VTIMEZONE` in
//!   the same file; all three are resolved to an IANA zone where possible.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use calcard::common::PartialDateTime;
use calcard::icalendar::ICalendarComponent;
use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// A date/time value of an item, keeping the nature it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemTime {
    /// An instant written in UTC (`20200113T064500Z`), or with an explicit
    /// UTC offset (converted to UTC).
    Utc(DateTime<Utc>),
    /// A wall-clock time in a named zone (`TZID=Europe/Berlin:20200113T074500`).
    Zoned(Zoned),
    /// A wall-clock time without a zone; read in the spec's time zone.
    Floating(NaiveDateTime),
    /// An all-day date; read as its midnight in the spec's time zone.
    Date(NaiveDate),
}

/// A time in a named zone, kept as its instant and its zone: 16 bytes where
/// a `DateTime<Tz>` takes 40 (it caches the offset and its name), which
/// counts at a million items. Lossless: the instant seen in the zone gives
/// back the same wall-clock time and offset, a repeated hour included.
/// Equal, like `DateTime`, when the instants are.
#[derive(Debug, Clone, Copy)]
pub struct Zoned {
    at: DateTime<Utc>,
    tz: Tz,
}

impl Zoned {
    /// The time in its zone.
    #[must_use]
    pub fn get(&self) -> DateTime<Tz> {
        self.at.with_timezone(&self.tz)
    }

    /// Its zone.
    #[must_use]
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Its instant.
    #[must_use]
    pub fn instant(&self) -> DateTime<Utc> {
        self.at
    }
}

impl From<DateTime<Tz>> for Zoned {
    fn from(t: DateTime<Tz>) -> Self {
        Zoned {
            at: t.with_timezone(&Utc),
            tz: t.timezone(),
        }
    }
}

impl PartialEq for Zoned {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Zoned {}

impl std::hash::Hash for Zoned {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.at.hash(state);
    }
}

impl ItemTime {
    /// A zoned time.
    #[must_use]
    pub fn zoned(t: DateTime<Tz>) -> ItemTime {
        ItemTime::Zoned(t.into())
    }

    /// The instant this value stands for, reading floating times and dates in
    /// `tz` (the spec's time zone). A date stands for its midnight.
    #[must_use]
    pub fn instant_in(&self, tz: Tz) -> DateTime<Utc> {
        match self {
            ItemTime::Utc(t) => *t,
            ItemTime::Zoned(t) => t.instant(),
            ItemTime::Floating(naive) => local_to_zoned(tz, *naive).with_timezone(&Utc),
            ItemTime::Date(date) => {
                local_to_zoned(tz, date.and_time(NaiveTime::MIN)).with_timezone(&Utc)
            }
        }
    }

    /// Whether this is an all-day date rather than a time.
    #[must_use]
    pub fn is_date(&self) -> bool {
        matches!(self, ItemTime::Date(_))
    }

    /// Whether this value needs the spec's time zone to become an instant.
    #[must_use]
    pub fn is_floating_or_date(&self) -> bool {
        matches!(self, ItemTime::Floating(_) | ItemTime::Date(_))
    }

    /// The wall-clock time as written (midnight for a date; UTC clock for UTC).
    #[must_use]
    pub fn naive_local(&self) -> NaiveDateTime {
        match self {
            ItemTime::Utc(t) => t.naive_utc(),
            ItemTime::Zoned(t) => t.get().naive_local(),
            ItemTime::Floating(t) => *t,
            ItemTime::Date(d) => d.and_time(NaiveTime::MIN),
        }
    }

    /// The same nature with another wall-clock time (for a date, only the day
    /// of `local` is kept).
    #[must_use]
    pub(crate) fn with_local(&self, local: NaiveDateTime) -> ItemTime {
        match self {
            ItemTime::Utc(_) => ItemTime::Utc(local.and_utc()),
            ItemTime::Zoned(t) => ItemTime::zoned(local_to_zoned(t.timezone(), local)),
            ItemTime::Floating(_) => ItemTime::Floating(local),
            ItemTime::Date(_) => ItemTime::Date(local.date()),
        }
    }

    /// Adds a duration the way RFC 5545 does: weeks and days move the wall
    /// clock (a day stays a day across a DST change), hours and smaller are
    /// exact.
    #[must_use]
    pub(crate) fn add(&self, days: i64, seconds: i64) -> ItemTime {
        let by_days = self.with_local(self.naive_local() + Duration::days(days));
        if seconds == 0 {
            return by_days;
        }
        match by_days {
            ItemTime::Utc(t) => ItemTime::Utc(t + Duration::seconds(seconds)),
            ItemTime::Zoned(t) => ItemTime::zoned(t.get() + Duration::seconds(seconds)),
            ItemTime::Floating(t) => ItemTime::Floating(t + Duration::seconds(seconds)),
            // A date plus a time part is no longer a date; keep it floating.
            ItemTime::Date(d) => {
                ItemTime::Floating(d.and_time(NaiveTime::MIN) + Duration::seconds(seconds))
            }
        }
    }

    /// Builds a value from a parsed iCalendar/vCard date or date-time and its
    /// TZID parameter. `None` when the value is not a complete date.
    pub(crate) fn from_partial(
        value: &PartialDateTime,
        tzid: Option<&str>,
        zones: &ZoneResolver,
    ) -> Option<ItemTime> {
        let date = NaiveDate::from_ymd_opt(
            i32::from(value.year?),
            u32::from(value.month?),
            u32::from(value.day?),
        )?;
        let Some(hour) = value.hour else {
            return Some(ItemTime::Date(date));
        };
        let time = NaiveTime::from_hms_opt(
            u32::from(hour),
            u32::from(value.minute.unwrap_or(0)),
            // A leap second (60) is clamped: chrono has no such wall-clock time.
            u32::from(value.second.unwrap_or(0).min(59)),
        )?;
        let naive = date.and_time(time);
        if let Some(tz_hour) = value.tz_hour {
            let secs = i32::from(tz_hour) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
            let offset = FixedOffset::east_opt(if value.tz_minus { -secs } else { secs })?;
            let instant = offset.from_local_datetime(&naive).single()?;
            return Some(ItemTime::Utc(instant.with_timezone(&Utc)));
        }
        // An unknown TZID cannot be placed on the time line; reading it as
        // floating (the spec's zone) is the least surprising fallback.
        match tzid.and_then(|name| zones.resolve(name)) {
            Some(tz) => Some(ItemTime::zoned(local_to_zoned(tz, naive))),
            None => Some(ItemTime::Floating(naive)),
        }
    }
}

impl fmt::Display for ItemTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemTime::Utc(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
            ItemTime::Zoned(t) => {
                write!(
                    f,
                    "{} {}",
                    t.get().format("%Y-%m-%dT%H:%M:%S"),
                    t.timezone().name()
                )
            }
            ItemTime::Floating(t) => write!(f, "{} (floating)", t.format("%Y-%m-%dT%H:%M:%S")),
            ItemTime::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl ItemTime {
    /// The value in the stable text form stores and plan files keep:
    /// `2026-11-03T10:00:00Z` (UTC), `2026-11-03T10:00:00[Europe/Berlin]`
    /// (zoned, RFC 9557 style), `2026-11-03T10:00:00` (floating),
    /// `2026-11-03` (date). [`ItemTime::decode`] reads it back.
    #[must_use]
    pub fn encode(&self) -> String {
        match self {
            ItemTime::Utc(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ItemTime::Zoned(t) => {
                format!(
                    "{}[{}]",
                    t.get().format("%Y-%m-%dT%H:%M:%S"),
                    t.timezone().name()
                )
            }
            ItemTime::Floating(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ItemTime::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// Reads the form [`ItemTime::encode`] writes. (chrono's `FromStr`
    /// reads these ISO 8601 forms several times faster than a format
    /// string does, which a listing of a million items feels.)
    #[must_use]
    pub fn decode(text: &str) -> Option<ItemTime> {
        if let Some(utc) = text.strip_suffix('Z') {
            let naive: NaiveDateTime = utc.parse().ok()?;
            return Some(ItemTime::Utc(naive.and_utc()));
        }
        if let Some((local, zone)) = text.strip_suffix(']').and_then(|t| t.split_once('[')) {
            let naive: NaiveDateTime = local.parse().ok()?;
            let tz = Tz::from_str(zone).ok()?;
            return Some(ItemTime::zoned(local_to_zoned(tz, naive)));
        }
        if text.len() == 10 {
            return text.parse().ok().map(ItemTime::Date);
        }
        text.parse().ok().map(ItemTime::Floating)
    }

    /// Seconds since the epoch, reading floating times and dates as UTC: an
    /// index key that is within 14 hours of the instant in any time zone.
    #[must_use]
    pub fn approximate_timestamp(&self) -> i64 {
        match self {
            ItemTime::Utc(t) => t.timestamp(),
            ItemTime::Zoned(t) => t.instant().timestamp(),
            ItemTime::Floating(_) | ItemTime::Date(_) => self.naive_local().and_utc().timestamp(),
        }
    }
}

impl serde::Serialize for ItemTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> serde::Deserialize<'de> for ItemTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ItemTime::decode(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a date or time: {text:?}")))
    }
}

/// Places a wall-clock time in a zone the way RFC 5545 (3.3.5) says: a time
/// that occurs twice (DST ends) means the first one; a time that does not
/// exist (DST starts) is moved forward by the length of the gap.
#[must_use]
pub fn local_to_zoned(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
        LocalResult::None => {
            // Read the time with the UTC offset in force before the gap, which
            // moves it forward by the gap's length (02:30 in a one-hour gap is
            // 03:30). Gaps last at most a day; look back until the clock exists.
            for hours in 1..=25 {
                if let LocalResult::Single(before) | LocalResult::Ambiguous(before, _) =
                    tz.from_local_datetime(&(local - Duration::hours(hours)))
                {
                    let offset = i64::from(before.offset().fix().local_minus_utc());
                    return tz.from_utc_datetime(&(local - Duration::seconds(offset)));
                }
            }
            tz.from_utc_datetime(&local)
        }
    }
}

/// Resolves a zone name as a TZID may spell it: an IANA name, a Windows name
/// (`Eastern Standard Time`), or a legacy prefixed form
/// (`/softwarestudio.org/…/Europe/Berlin`). `None` when the name is unknown.
#[must_use]
pub fn resolve_zone_name(name: &str) -> Option<Tz> {
    let trimmed = name.trim().trim_end_matches(':').trim();
    if let Ok(tz) = Tz::from_str(trimmed) {
        return Some(tz);
    }
    // calcard knows the Windows and Outlook display names and their IANA zone.
    match calcard::common::timezone::Tz::from_str(trimmed) {
        Ok(calcard::common::timezone::Tz::Tz(tz)) => Some(tz),
        Ok(calcard::common::timezone::Tz::Fixed(offset)) => fixed_offset_zone(offset),
        _ => None,
    }
}

/// The `Etc/GMT±h` zone for a whole-hour offset (POSIX signs are inverted).
fn fixed_offset_zone(offset: FixedOffset) -> Option<Tz> {
    let secs = offset.local_minus_utc();
    if secs == 0 {
        return Some(Tz::UTC);
    }
    if secs % 3600 != 0 {
        return None;
    }
    let hours = -secs / 3600;
    Tz::from_str(&format!("Etc/GMT{hours:+}")).ok()
}

/// Resolves the TZIDs of one calendar file: by name first, then through the
/// file's `VTIMEZONE` definitions (their `X-LIC-LOCATION` or
/// `X-MICROSOFT-CDO-TZID` hints).
#[derive(Debug, Clone, Default)]
pub(crate) struct ZoneResolver {
    defined: HashMap<String, Tz>,
}

impl ZoneResolver {
    /// A resolver for a file with these `VTIMEZONE` components.
    pub(crate) fn new<'a>(vtimezones: impl Iterator<Item = &'a ICalendarComponent>) -> Self {
        let mut defined = HashMap::new();
        for component in vtimezones {
            if let Some((name, calcard::common::timezone::Tz::Tz(tz))) = component.timezone() {
                defined.insert(zone_key(name), tz);
            }
        }
        ZoneResolver { defined }
    }

    /// The IANA zone a TZID stands for, if known.
    pub(crate) fn resolve(&self, tzid: &str) -> Option<Tz> {
        resolve_zone_name(tzid).or_else(|| self.defined.get(&zone_key(tzid)).copied())
    }
}

/// How TZIDs are compared: some writers add stray spaces or a trailing colon.
pub(crate) fn zone_key(name: &str) -> String {
    name.trim()
        .trim_end_matches(':')
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn every_nature_round_trips_through_its_text_form() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 02:30 on 2026-10-25 happens twice in Berlin; the first is meant.
        let repeated = local_to_zoned(berlin, dt(2026, 10, 25, 2, 30));
        let values = [
            ItemTime::Utc(dt(2026, 11, 3, 10, 0).and_utc()),
            ItemTime::zoned(local_to_zoned(berlin, dt(2026, 3, 28, 12, 0))),
            ItemTime::zoned(repeated),
            ItemTime::Floating(dt(2026, 11, 3, 10, 0)),
            ItemTime::Date(NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()),
        ];
        for value in values {
            let text = value.encode();
            let back = ItemTime::decode(&text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(back, value, "{text}");
            assert_eq!(back.naive_local(), value.naive_local(), "{text}");
            assert_eq!(back.to_string(), value.to_string(), "{text}");
        }
        let ItemTime::Zoned(kept) = ItemTime::zoned(repeated) else {
            panic!("zoned")
        };
        assert_eq!(kept.get(), repeated);
        assert_eq!(
            kept.get().offset().to_string(),
            repeated.offset().to_string()
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-11-03T25:00:00Z",
            "2026-11-03T10:00:00[Mars/Base]",
            "x",
        ] {
            assert_eq!(ItemTime::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn windows_names_map_to_iana() {
        assert_eq!(
            resolve_zone_name("W. Europe Standard Time"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            resolve_zone_name("Eastern Standard Time"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(
            resolve_zone_name("Pacific Standard Time"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            resolve_zone_name("Europe/Paris"),
            Some(chrono_tz::Europe::Paris)
        );
        assert_eq!(resolve_zone_name("No Such Zone"), None);
    }

    #[test]
    fn floating_and_dates_are_read_in_the_given_zone() {
        let floating = ItemTime::Floating(dt(2026, 10, 1, 9, 0));
        assert_eq!(
            floating.instant_in(chrono_tz::America::Toronto),
            Utc.with_ymd_and_hms(2026, 10, 1, 13, 0, 0).unwrap()
        );
        let date = ItemTime::Date(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert_eq!(
            date.instant_in(chrono_tz::Europe::Berlin),
            Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap()
        );
        let utc = ItemTime::Utc(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(
            utc.instant_in(chrono_tz::Asia::Tokyo),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_the_first() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29 02:30 does not exist in Berlin: RFC 5545 (3.3.5) reads it
        // with the offset before the gap (UTC+1), which is 03:30 CEST.
        let gap = local_to_zoned(berlin, dt(2026, 3, 29, 2, 30));
        assert_eq!(gap.naive_local(), dt(2026, 3, 29, 3, 30));
        assert_eq!(
            gap.with_timezone(&Utc),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()
        );
        let gap = local_to_zoned(berlin, dt(2026, 3, 29, 2, 45));
        assert_eq!(gap.naive_local(), dt(2026, 3, 29, 3, 45));
        // RFC 5545's own example.
        let new_york = chrono_tz::America::New_York;
        let gap = local_to_zoned(new_york, dt(2007, 3, 11, 2, 30));
        assert_eq!(gap.naive_local(), dt(2007, 3, 11, 3, 30));
        // A 30-minute gap (Lord Howe Island) moves a time by 30 minutes.
        let lord_howe = chrono_tz::Australia::Lord_Howe;
        let gap = local_to_zoned(lord_howe, dt(2026, 10, 4, 2, 15));
        assert_eq!(gap.naive_local(), dt(2026, 10, 4, 2, 45));
        // 2026-10-25 02:30 happens twice; the first is still CEST (UTC+2).
        let twice = local_to_zoned(berlin, dt(2026, 10, 25, 2, 30));
        assert_eq!(
            twice.with_timezone(&Utc),
            Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap()
        );
    }

    #[test]
    fn days_are_nominal_and_hours_exact() {
        let berlin = chrono_tz::Europe::Berlin;
        let start = ItemTime::zoned(local_to_zoned(berlin, dt(2026, 3, 28, 12, 0)));
        let next_day = start.add(1, 0);
        assert_eq!(next_day.naive_local(), dt(2026, 3, 29, 12, 0));
        let plus_24h = start.add(0, 24 * 3600);
        assert_eq!(plus_24h.naive_local(), dt(2026, 3, 29, 13, 0));
    }
}
