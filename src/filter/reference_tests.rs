//! The recurrence filter against a reference that knows nothing of last
//! starts: random series are written as iCalendar, read through the codec
//! and [`ItemMeta::of`], and checked by [`TypeFilter::check`]; the reference
//! builds the same series with the `rrule` crate directly, expands every
//! occurrence (up to 2100 for a rule without end), and says the series
//! overlaps a range when its earliest start (`DTSTART` or what the rule
//! yields) is before the range's end and its latest start (of those and the
//! `RDATE`s, which extend the recurrence range but do not move its start) at
//! or after the range's start.
//!
//! Start times are kept between 09:00 and 20:59, and `UNTIL` and `RDATE` times after
//! 04:00, so no value falls in a DST change of the zones used here; the unit
//! tests cover those. A UTC `UNTIL` (which may be any hour) on a floating or
//! all-day series is an instant: the reference expands the series in the
//! spec's zone and keeps the starts at or before it.

use std::fmt::Write as _;

use chrono::{
    DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::ActiveFilters;
use super::range::{Bound, RangeSpec};
use crate::item::{ItemMeta, ItemType, parse_calendar};
use crate::spec::model::{FilterSet, ScheduleItemFilter};
use crate::spec::types::{RecurrenceOption, ScheduleDateOption};

/// Zones whose clocks change, if at all, between 00:00 and 04:00 (and never
/// at midnight), in both hemispheres and at a half-hour offset.
const ZONES: [Tz; 7] = [
    Tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::Toronto,
    chrono_tz::America::Los_Angeles,
    chrono_tz::Australia::Sydney,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Tokyo,
];

#[derive(Debug, Clone, Copy)]
enum Nature {
    Utc,
    Zoned(Tz),
    Floating,
    Date,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Count(u32),
    /// Days after the first start (possibly negative), and the hour.
    Until(i64, u32),
    /// The same, as a UTC `UNTIL` (Outlook's form) whatever the start's
    /// nature: on a floating or all-day series it keeps the occurrences
    /// whose start, read in the spec's zone, is at or before it.
    UntilUtc(i64, u32),
    Never,
}

#[derive(Debug, Clone)]
struct Series {
    freq: rrule::Frequency,
    interval: u16,
    by_day: Vec<Weekday>,
    end: End,
    nature: Nature,
    start: NaiveDateTime,
    /// Extra starts, as wall-clock times of their nature (mostly the
    /// series' own, sometimes another one).
    rdates: Vec<(NaiveDateTime, Nature)>,
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn day_stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%d").to_string()
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

impl Series {
    fn until_local(&self) -> Option<NaiveDateTime> {
        match self.end {
            End::Until(days, hour) | End::UntilUtc(days, hour) => Some(
                (self.start.date() + Duration::days(days))
                    .and_hms_opt(hour, 0, 0)
                    .expect("hour"),
            ),
            _ => None,
        }
    }

    /// The value of a time property in a nature, from `;` on.
    fn value(nature: Nature, t: NaiveDateTime) -> String {
        match nature {
            Nature::Utc => format!(":{}Z", stamp(t)),
            Nature::Zoned(tz) => format!(";TZID={}:{}", tz.name(), stamp(t)),
            Nature::Floating => format!(":{}", stamp(t)),
            Nature::Date => format!(";VALUE=DATE:{}", day_stamp(t)),
        }
    }

    fn to_ics(&self) -> String {
        let freq = match self.freq {
            rrule::Frequency::Daily => "DAILY",
            rrule::Frequency::Weekly => "WEEKLY",
            rrule::Frequency::Monthly => "MONTHLY",
            _ => "YEARLY",
        };
        let mut rule = format!("FREQ={freq};INTERVAL={}", self.interval);
        if !self.by_day.is_empty() {
            let days: Vec<_> = self.by_day.iter().map(|d| weekday_code(*d)).collect();
            let _ = write!(rule, ";BYDAY={}", days.join(","));
        }
        match (self.end, self.until_local()) {
            (End::Count(n), _) => {
                let _ = write!(rule, ";COUNT={n}");
            }
            (End::Until(..), Some(until)) => {
                // UNTIL is in UTC for UTC and zoned starts (RFC 5545), of the
                // start's nature otherwise.
                let until = match self.nature {
                    Nature::Utc => format!("{}Z", stamp(until)),
                    Nature::Zoned(tz) => format!("{}Z", stamp(in_zone(tz, until).naive_utc())),
                    Nature::Floating => stamp(until),
                    Nature::Date => day_stamp(until),
                };
                let _ = write!(rule, ";UNTIL={until}");
            }
            (End::UntilUtc(..), Some(until)) => {
                let _ = write!(rule, ";UNTIL={}Z", stamp(until));
            }
            _ => {}
        }
        let mut text = format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//snapsync//tests//EN\nBEGIN:VEVENT\n\
             UID:reference@example.com\nDTSTAMP:20250101T000000Z\nDTSTART{}\nRRULE:{rule}\n",
            Self::value(self.nature, self.start)
        );
        for (rdate, nature) in &self.rdates {
            let _ = writeln!(text, "RDATE{}", Self::value(*nature, *rdate));
        }
        text.push_str("END:VEVENT\nEND:VCALENDAR\n");
        text
    }

    /// The zone the reference reads a nature in: floating times and dates
    /// are wall-clock times of the spec's zone.
    fn zone(nature: Nature, spec_zone: Tz) -> Tz {
        match nature {
            Nature::Utc => Tz::UTC,
            Nature::Zoned(tz) => tz,
            Nature::Floating | Nature::Date => spec_zone,
        }
    }

    fn local(nature: Nature, t: NaiveDateTime) -> NaiveDateTime {
        match nature {
            Nature::Date => t.date().and_time(NaiveTime::MIN),
            _ => t,
        }
    }

    /// Every start (up to 2100 for a rule without end): `DTSTART` and what
    /// the rule yields, then the RDATEs.
    fn occurrences(&self, spec_zone: Tz) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
        let zone = Self::zone(self.nature, spec_zone);
        let first = in_zone(zone, Self::local(self.nature, self.start));
        let mut starts = vec![first.with_timezone(&Utc)];
        let mut rule = rrule::RRule::new(self.freq)
            .interval(self.interval)
            .by_weekday(
                self.by_day
                    .iter()
                    .map(|d| rrule::NWeekday::Every(*d))
                    .collect(),
            );
        let mut yields = true;
        match (self.end, self.until_local()) {
            (End::Count(n), _) => rule = rule.count(n),
            (End::Until(..), Some(until)) => {
                let until = in_zone(zone, Self::local(self.nature, until));
                // A rule that ends before it starts yields nothing.
                yields = until >= first;
                rule = rule.until(until.with_timezone(&rrule::Tz::UTC));
            }
            (End::UntilUtc(..), Some(until)) => {
                // An instant: each start, read in its zone, is compared with it.
                let until = until.and_utc();
                yields = until >= first;
                rule = rule.until(until.with_timezone(&rrule::Tz::UTC));
            }
            _ => {}
        }
        if yields {
            // COUNT and UNTIL end by themselves (at the latest in 2180);
            // a rule without end is expanded up to 2100.
            let horizon_year = if matches!(self.end, End::Never) {
                2100
            } else {
                2200
            };
            let horizon = Utc
                .with_ymd_and_hms(horizon_year, 1, 1, 0, 0, 0)
                .single()
                .expect("horizon");
            let set = rule
                .build(first.with_timezone(&rrule::Tz::Tz(zone)))
                .expect("a valid rule");
            starts.extend(
                set.into_iter()
                    .map(|t| t.with_timezone(&Utc))
                    .take_while(|t| *t < horizon),
            );
        }
        let rdates = self
            .rdates
            .iter()
            .map(|(rdate, nature)| {
                let zone = Self::zone(*nature, spec_zone);
                in_zone(zone, Self::local(*nature, *rdate)).with_timezone(&Utc)
            })
            .collect();
        (starts, rdates)
    }
}

fn in_zone(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    tz.from_local_datetime(&local)
        .single()
        .unwrap_or_else(|| panic!("{local} is not a single time in {tz}"))
}

fn nature() -> impl Strategy<Value = Nature> {
    prop_oneof![
        Just(Nature::Utc),
        (0..ZONES.len()).prop_map(|i| Nature::Zoned(ZONES[i])),
        Just(Nature::Floating),
        Just(Nature::Date),
    ]
}

fn series_strategy() -> impl Strategy<Value = Series> {
    let freq = prop_oneof![
        Just(rrule::Frequency::Daily),
        Just(rrule::Frequency::Weekly),
        Just(rrule::Frequency::Monthly),
        Just(rrule::Frequency::Yearly),
    ];
    let end = prop_oneof![
        (1u32..=50).prop_map(End::Count),
        (-5i64..=3 * 365, 4u32..=23).prop_map(|(days, hour)| End::Until(days, hour)),
        (-5i64..=3 * 365, 0u32..=23).prop_map(|(days, hour)| End::UntilUtc(days, hour)),
        Just(End::Never),
    ];
    // An RDATE of another nature than DTSTART, one time in four.
    let rdate_nature = prop_oneof![3 => Just(None), 1 => nature().prop_map(Some)];
    (
        freq,
        1u16..=3,
        proptest::collection::vec(0usize..7, 0..=3),
        end,
        nature(),
        (0i64..=3650, 9u32..=20, 0u32..4),
        // Near the first start (where natures compete for the last start,
        // and before it), or anywhere later.
        proptest::collection::vec(
            (prop_oneof![-1i64..=1, 1i64..=2000], 4u32..=23, rdate_nature),
            0..=3,
        ),
    )
        .prop_map(
            |(freq, interval, by_day, end, nature, (day, hour, quarter), rdates)| {
                let origin = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
                let start = (origin + Duration::days(day))
                    .and_hms_opt(hour, quarter * 15, 0)
                    .expect("time");
                let mut by_day: Vec<Weekday> = if freq == rrule::Frequency::Weekly {
                    by_day.into_iter().map(|i| WEEKDAYS[i]).collect()
                } else {
                    Vec::new()
                };
                by_day.sort_by_key(Weekday::num_days_from_monday);
                by_day.dedup();
                let rdates = rdates
                    .into_iter()
                    .map(|(days, hour, other)| {
                        let at = (start.date() + Duration::days(days))
                            .and_hms_opt(hour, 0, 0)
                            .expect("time");
                        (at, other.unwrap_or(nature))
                    })
                    .collect();
                Series {
                    freq,
                    interval,
                    by_day,
                    end,
                    nature,
                    start,
                    rdates,
                }
            },
        )
}

/// Where a range bound comes from: an offset in minutes from the series'
/// first start, or (to probe the exact edges) a few seconds from the
/// reference's earliest or latest start.
#[derive(Debug, Clone, Copy)]
enum BoundAt {
    Minutes(i64),
    FromEarliest(i64),
    FromLatest(i64),
}

fn bound_strategy() -> impl Strategy<Value = Option<BoundAt>> {
    prop_oneof![
        1 => Just(None),
        4 => (-400i64 * 1440..=3000 * 1440).prop_map(|m| Some(BoundAt::Minutes(m))),
        1 => (-1i64..=1).prop_map(|s| Some(BoundAt::FromEarliest(s))),
        1 => (-1i64..=1).prop_map(|s| Some(BoundAt::FromLatest(s))),
    ]
}

fn instant(
    at: BoundAt,
    first: DateTime<Utc>,
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
) -> DateTime<Utc> {
    match at {
        BoundAt::Minutes(m) => first + Duration::minutes(m),
        BoundAt::FromEarliest(s) => earliest + Duration::seconds(s),
        BoundAt::FromLatest(s) => latest + Duration::seconds(s),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_recurrence_filter_agrees_with_expanding_every_occurrence(
        mut series in series_strategy(),
        spec_zone in (0..ZONES.len()).prop_map(|i| ZONES[i]),
        near_the_end in proptest::option::of((-14i64 * 60..=14 * 60, nature())),
        from in bound_strategy(),
        to in bound_strategy(),
    ) {
        // One more RDATE within 14 hours of the last start, where a UTC or
        // zoned value and a floating one or a date are later or earlier
        // depending on the spec's zone.
        if let (Some((minutes, nature)), false) = (near_the_end, matches!(series.end, End::Never)) {
            let (starts, rdates) = series.occurrences(spec_zone);
            let latest = *starts.iter().chain(&rdates).max().expect("DTSTART");
            let zone = Series::zone(nature, spec_zone);
            let wall_clock = Series::local(
                nature,
                (latest + Duration::minutes(minutes)).with_timezone(&zone).naive_local(),
            );
            // Not in a DST change, like every other value here.
            if (matches!(nature, Nature::Date) || wall_clock.hour() >= 4)
                && zone.from_local_datetime(&wall_clock).single().is_some() {
                series.rdates.push((wall_clock, nature));
            }
        }
        let text = series.to_ics();
        let parsed = parse_calendar(&text);
        prop_assert!(parsed.errors.is_empty(), "{:?}\n{}", parsed.errors, text);
        prop_assert_eq!(parsed.items.len(), 1);
        let dates = ItemMeta::of(&parsed.items[0]).dates;
        prop_assert!(dates.recurrence.is_some(), "{}", text);

        let (starts, rdates) = series.occurrences(spec_zone);
        let earliest = *starts.iter().min().expect("DTSTART");
        let latest = *starts.iter().chain(&rdates).max().expect("DTSTART");
        let first = starts[0];
        // A series without end has no latest start to probe (the horizon is
        // not one): its bounds stay near its start, far before 2100.
        let unbounded = matches!(series.end, End::Never);
        let probe = if unbounded { earliest } else { latest };
        let mut start = from.map(|b| instant(b, first, earliest, probe));
        let mut end = to.map(|b| instant(b, first, earliest, probe));
        // Validation refuses empty ranges: put the bounds in order.
        if let (Some(s), Some(e)) = (start, end) {
            start = Some(s.min(e));
            end = Some(s.max(e).max(s.min(e) + Duration::seconds(1)));
        }

        let exact = |t: DateTime<Utc>| Bound::Instant(t.fixed_offset());
        let set = FilterSet {
            schedule_items: Some(ScheduleItemFilter {
                date_option: ScheduleDateOption::Start,
                range: RangeSpec { from: start.map(exact), to: end.map(exact) },
                recurrence: RecurrenceOption::Both,
            }),
            ..FilterSet::default()
        };
        let filters = ActiveFilters::resolve(&set, first, spec_zone).expect("resolves");
        let filter = filters.for_type(ItemType::ScheduleItems).expect("filter");
        let verdict = filter.check(&dates);

        // The verdict names the recurrence range it decided on: exactly the
        // reference's, whatever the range.
        let mut range_of_series = vec![("recurrenceStart", first)];
        if !unbounded {
            range_of_series.push(("recurrenceEnd", latest));
        }
        prop_assert_eq!(
            &verdict.decided_by,
            &range_of_series,
            "{}\nspec zone {}\nrecurrence: {:?}",
            text,
            spec_zone,
            dates.recurrence,
        );

        let expected = end.is_none_or(|e| earliest < e) && start.is_none_or(|s| latest >= s);
        prop_assert_eq!(
            verdict.matched,
            expected,
            "{}\nspec zone {}, range {:?} → {:?}\nreference: {} → {}\nverdict: {:?}\nrecurrence: {:?}",
            text, spec_zone, start, end, earliest, latest, verdict, dates.recurrence,
        );
    }
}
