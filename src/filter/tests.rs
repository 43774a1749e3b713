//! The rules of DESIGN 2.2, one test per rule. Most build the dates
//! directly; the `event`, `todo` and `card` helpers go the whole way from
//! iCalendar or vCard text through [`ItemMeta::of`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::range::{Bound, RangeSpec};
use super::{ActiveFilters, TypeFilter, Verdict};
use crate::item::{
    Candidate, Item, ItemDates, ItemMeta, ItemTime, ItemType, RecurrenceEnd, local_to_zoned,
    parse_calendar, parse_vcards,
};
use crate::spec::model::{ContactFilter, FilterSet, ScheduleItemFilter, TaskFilter};
use crate::spec::types::{RecurrenceOption, ScheduleDateOption, TaskDateOption};

pub(super) const NOW: &str = "2026-11-25T15:30:00Z";

// ---- building filters ------------------------------------------------------

pub(super) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("instant")
        .with_timezone(&Utc)
}

pub(super) fn range(from: Option<&str>, to: Option<&str>) -> RangeSpec {
    RangeSpec {
        from: from.map(|t| Bound::parse(t).expect("bound")),
        to: to.map(|t| Bound::parse(t).expect("bound")),
    }
}

fn resolve(set: &FilterSet, tz: Tz, item_type: ItemType) -> TypeFilter {
    ActiveFilters::resolve(set, utc(NOW), tz)
        .expect("resolves")
        .for_type(item_type)
        .expect("a filter for the type")
        .clone()
}

fn schedule_filter(
    date_option: ScheduleDateOption,
    recurrence: RecurrenceOption,
    from: Option<&str>,
    to: Option<&str>,
    tz: Tz,
) -> TypeFilter {
    let set = FilterSet {
        schedule_items: Some(ScheduleItemFilter {
            date_option,
            range: range(from, to),
            recurrence,
        }),
        ..FilterSet::default()
    };
    resolve(&set, tz, ItemType::ScheduleItems)
}

/// Schedule items by start, recurring or not.
fn by_start(from: Option<&str>, to: Option<&str>, tz: Tz) -> TypeFilter {
    schedule_filter(
        ScheduleDateOption::Start,
        RecurrenceOption::Both,
        from,
        to,
        tz,
    )
}

fn task_filter(
    date_option: TaskDateOption,
    include_undated: bool,
    from: Option<&str>,
    to: Option<&str>,
) -> TypeFilter {
    let set = FilterSet {
        tasks: Some(TaskFilter {
            date_option,
            range: range(from, to),
            include_undated,
        }),
        ..FilterSet::default()
    };
    resolve(&set, Tz::UTC, ItemType::Tasks)
}

fn contact_filter(from: Option<&str>, to: Option<&str>) -> TypeFilter {
    let set = FilterSet {
        contacts: Some(ContactFilter {
            range: range(from, to),
        }),
        ..FilterSet::default()
    };
    resolve(&set, Tz::UTC, ItemType::Contacts)
}

// ---- building dates ----------------------------------------------------------

fn at(text: &str) -> ItemTime {
    ItemTime::Utc(utc(text))
}

fn naive(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").expect("local time")
}

fn floating(text: &str) -> ItemTime {
    ItemTime::Floating(naive(text))
}

fn zoned(tz: Tz, text: &str) -> ItemTime {
    ItemTime::zoned(local_to_zoned(tz, naive(text)))
}

fn day(text: &str) -> ItemTime {
    ItemTime::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date"))
}

fn one_off(start: ItemTime) -> ItemDates {
    ItemDates {
        start: Some(start),
        ..ItemDates::default()
    }
}

fn series(first: ItemTime, end: RecurrenceEnd) -> ItemDates {
    ItemDates {
        start: Some(first),
        recurrence: Some(end),
        ..ItemDates::default()
    }
}

fn task(start: Option<ItemTime>, due: Option<ItemTime>, modified: Option<&str>) -> ItemDates {
    ItemDates {
        modified: modified.map(utc),
        start,
        due,
        recurrence: None,
    }
}

fn only(text: &str, parsed: crate::item::Parsed) -> Item {
    assert!(parsed.errors.is_empty(), "{text}: {:?}", parsed.errors);
    assert_eq!(parsed.items.len(), 1, "{text}");
    parsed.items.into_iter().next().expect("one item")
}

/// The dates of a `VEVENT` with these properties (besides UID and DTSTAMP).
fn event(properties: &str) -> ItemDates {
    let text = format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//snapsync//tests//EN\nBEGIN:VEVENT\n\
         UID:filter-test@example.com\nDTSTAMP:20250101T000000Z\n{properties}END:VEVENT\n\
         END:VCALENDAR\n"
    );
    let item = only(&text, parse_calendar(&text));
    assert_eq!(item.item_type(), ItemType::ScheduleItems);
    ItemMeta::of(&item).dates
}

/// The dates of a `VTODO` with these properties (besides UID).
fn todo(properties: &str) -> ItemDates {
    let text = format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//snapsync//tests//EN\nBEGIN:VTODO\n\
         UID:filter-task@example.com\n{properties}END:VTODO\nEND:VCALENDAR\n"
    );
    let item = only(&text, parse_calendar(&text));
    assert_eq!(item.item_type(), ItemType::Tasks);
    ItemMeta::of(&item).dates
}

/// The dates of a vCard 4.0 with these properties (besides UID and FN).
fn card(properties: &str) -> ItemDates {
    let text = format!(
        "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:filter-card\nFN:Jane Doe\n{properties}END:VCARD\n"
    );
    let item = only(&text, parse_vcards(&text));
    ItemMeta::of(&item).dates
}

fn assert_verdict(verdict: &Verdict, matched: bool, reason: &str) {
    assert_eq!(
        (verdict.matched, verdict.reason.as_str()),
        (matched, reason),
        "{verdict:?}"
    );
}

// ---- recurring schedule items -----------------------------------------------

#[test]
fn a_weekly_series_started_before_the_range_without_end_matches() {
    let dates = event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO\n");
    assert_eq!(dates.recurrence, Some(RecurrenceEnd::Unbounded));
    let filter = by_start(Some("2026-10-01"), Some("2026-12-31"), Tz::UTC);
    let verdict = filter.check(&dates);
    assert_verdict(
        &verdict,
        true,
        "recurrence 2026-01-05 10:00 → unbounded overlaps range",
    );
    assert_eq!(
        verdict.decided_by,
        vec![("recurrenceStart", utc("2026-01-05T10:00:00Z"))]
    );
}

#[test]
fn a_series_that_ended_with_count_before_the_range_does_not_match() {
    // Ten Mondays from 5 January: the last is 9 March.
    let dates = event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=10\n");
    let filter = by_start(Some("2026-10-01"), Some("2026-12-31"), Tz::UTC);
    let verdict = filter.check(&dates);
    assert_verdict(
        &verdict,
        false,
        "recurrence 2026-01-05 10:00 → 2026-03-09 10:00 ends before range",
    );
    assert_eq!(
        verdict.decided_by,
        vec![
            ("recurrenceStart", utc("2026-01-05T10:00:00Z")),
            ("recurrenceEnd", utc("2026-03-09T10:00:00Z")),
        ]
    );
}

#[test]
fn a_series_that_starts_after_the_range_does_not_match() {
    let dates = event("DTSTART:20270105T100000Z\nRRULE:FREQ=WEEKLY\n");
    let filter = by_start(Some("2026-10-01"), Some("2026-12-31"), Tz::UTC);
    assert_verdict(
        &filter.check(&dates),
        false,
        "recurrence 2027-01-05 10:00 → unbounded starts after range",
    );
}

#[test]
fn a_yearly_series_that_skips_the_range_still_overlaps_it() {
    // Every 5 January from 2026 to 2030: no occurrence falls in March 2027,
    // but the recurrence range covers it (the seed's rule, not CalDAV's).
    let dates = event("DTSTART;VALUE=DATE:20260105\nRRULE:FREQ=YEARLY;COUNT=5\n");
    let march = by_start(Some("2027-03-01"), Some("2027-03-31"), Tz::UTC);
    assert_verdict(
        &march.check(&dates),
        true,
        "recurrence 2026-01-05 → 2030-01-05 overlaps range",
    );
    let after_the_last = by_start(Some("2030-01-06"), None, Tz::UTC);
    assert_verdict(
        &after_the_last.check(&dates),
        false,
        "recurrence 2026-01-05 → 2030-01-05 ends before range",
    );
}

#[test]
fn a_count_end_exactly_at_the_range_start_matches_and_one_second_earlier_does_not() {
    // The tenth and last Monday is 2026-03-09 10:00 UTC.
    let dates = event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=10\n");
    let at_start = by_start(Some("2026-03-09T10:00:00Z"), None, Tz::UTC);
    assert!(at_start.check(&dates).matched);
    let a_second_later = by_start(Some("2026-03-09T10:00:01Z"), None, Tz::UTC);
    assert_verdict(
        &a_second_later.check(&dates),
        false,
        "recurrence 2026-01-05 10:00 → 2026-03-09 10:00 ends before range",
    );
    // The same with whole days: the last day is in, the day after is not.
    assert!(
        by_start(Some("2026-03-09"), None, Tz::UTC)
            .check(&dates)
            .matched
    );
    assert!(
        !by_start(Some("2026-03-10"), None, Tz::UTC)
            .check(&dates)
            .matched
    );
    // One occurrence more ends exactly on the next Monday.
    let eleven = event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=11\n");
    assert!(
        by_start(Some("2026-03-16T10:00:00Z"), None, Tz::UTC)
            .check(&eleven)
            .matched
    );
}

#[test]
fn until_is_inclusive_on_both_sides_of_the_range_start() {
    // UNTIL exactly at an occurrence: that occurrence is the last start.
    let until_on = event("DTSTART:20260301T100000Z\nRRULE:FREQ=DAILY;UNTIL=20260310T100000Z\n");
    assert_eq!(
        until_on.recurrence,
        Some(RecurrenceEnd::LastStart(at("2026-03-10T10:00:00Z")))
    );
    let from_the_last = by_start(Some("2026-03-10T10:00:00Z"), None, Tz::UTC);
    assert_verdict(
        &from_the_last.check(&until_on),
        true,
        "recurrence 2026-03-01 10:00 → 2026-03-10 10:00 overlaps range",
    );
    // UNTIL one second before that occurrence cuts it off: the last start is
    // the day before, which is before the range.
    let until_before = event("DTSTART:20260301T100000Z\nRRULE:FREQ=DAILY;UNTIL=20260310T095959Z\n");
    assert_verdict(
        &from_the_last.check(&until_before),
        false,
        "recurrence 2026-03-01 10:00 → 2026-03-09 10:00 ends before range",
    );
    let from_the_day_before = by_start(Some("2026-03-09T10:00:00Z"), None, Tz::UTC);
    assert!(from_the_day_before.check(&until_before).matched);
}

#[test]
fn an_all_day_series_until_a_date_ends_on_that_day() {
    let berlin = chrono_tz::Europe::Berlin;
    let dates = event("DTSTART;VALUE=DATE:20260301\nRRULE:FREQ=DAILY;UNTIL=20260310\n");
    assert_eq!(
        dates.recurrence,
        Some(RecurrenceEnd::LastStart(day("2026-03-10")))
    );
    assert_verdict(
        &by_start(Some("2026-03-10"), None, berlin).check(&dates),
        true,
        "recurrence 2026-03-01 → 2026-03-10 overlaps range",
    );
    assert_verdict(
        &by_start(Some("2026-03-11"), None, berlin).check(&dates),
        false,
        "recurrence 2026-03-01 → 2026-03-10 ends before range",
    );
}

#[test]
fn a_zoned_series_counts_its_occurrences_on_its_own_clock() {
    // Thursdays at 09:00 Berlin time; the fifth falls after the switch to
    // summer time, at 07:00 UTC instead of 08:00.
    let dates = event("DTSTART;TZID=Europe/Berlin:20260305T090000\nRRULE:FREQ=WEEKLY;COUNT=5\n");
    let at_the_fifth = by_start(Some("2026-04-02T07:00:00Z"), None, Tz::UTC);
    assert_verdict(
        &at_the_fifth.check(&dates),
        true,
        "recurrence 2026-03-05 08:00 → 2026-04-02 07:00 overlaps range",
    );
    let a_second_later = by_start(Some("2026-04-02T07:00:01Z"), None, Tz::UTC);
    assert!(!a_second_later.check(&dates).matched);
}

#[test]
fn an_rdate_extends_the_recurrence_range_past_the_rule() {
    // Three Mondays in January, then once more on 1 June.
    let may = by_start(Some("2026-05-01"), Some("2026-05-31"), Tz::UTC);
    let rule_only = event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3\n");
    assert_verdict(
        &may.check(&rule_only),
        false,
        "recurrence 2026-01-05 10:00 → 2026-01-19 10:00 ends before range",
    );
    let with_rdate =
        event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3\nRDATE:20260601T100000Z\n");
    assert_verdict(
        &may.check(&with_rdate),
        true,
        "recurrence 2026-01-05 10:00 → 2026-06-01 10:00 overlaps range",
    );
    // RDATEs alone make a series too.
    let rdates_only = event("DTSTART:20260105T100000Z\nRDATE:20260601T100000Z\n");
    assert!(rdates_only.recurrence.is_some());
    assert!(may.check(&rdates_only).matched);
}

#[test]
fn an_exdate_of_the_last_occurrence_does_not_shorten_the_range() {
    // The third and last Monday, 19 January, is excluded, yet the recurrence
    // range still ends then.
    let dates =
        event("DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3\nEXDATE:20260119T100000Z\n");
    let from_the_19th = by_start(Some("2026-01-19"), None, Tz::UTC);
    assert_verdict(
        &from_the_19th.check(&dates),
        true,
        "recurrence 2026-01-05 10:00 → 2026-01-19 10:00 overlaps range",
    );
}

#[test]
fn a_moved_instance_extends_the_recurrence_range() {
    let text = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//snapsync//tests//EN\n\
        BEGIN:VEVENT\nUID:moved@example.com\nDTSTAMP:20250101T000000Z\n\
        DTSTART:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3\nEND:VEVENT\n\
        BEGIN:VEVENT\nUID:moved@example.com\nDTSTAMP:20250101T000000Z\n\
        RECURRENCE-ID:20260119T100000Z\nDTSTART:20260202T100000Z\nEND:VEVENT\n\
        END:VCALENDAR\n";
    let dates = ItemMeta::of(&only(text, parse_calendar(text))).dates;
    let from_february = by_start(Some("2026-02-01"), None, Tz::UTC);
    assert_verdict(
        &from_february.check(&dates),
        true,
        "recurrence 2026-01-05 10:00 → 2026-02-02 10:00 overlaps range",
    );
}

// ---- bounds ------------------------------------------------------------------

#[test]
fn a_first_start_at_the_range_end_does_not_match_and_at_the_range_start_does() {
    let october = by_start(
        Some("2026-10-01T00:00:00Z"),
        Some("2026-11-01T00:00:00Z"),
        Tz::UTC,
    );
    // One-off items.
    assert_verdict(
        &october.check(&one_off(at("2026-10-01T00:00:00Z"))),
        true,
        "start 2026-10-01 00:00 in range",
    );
    assert_verdict(
        &october.check(&one_off(at("2026-10-31T23:59:59Z"))),
        true,
        "start 2026-10-31 23:59:59 in range",
    );
    assert_verdict(
        &october.check(&one_off(at("2026-11-01T00:00:00Z"))),
        false,
        "start 2026-11-01 00:00 after range",
    );
    assert_verdict(
        &october.check(&one_off(at("2026-09-30T23:59:59Z"))),
        false,
        "start 2026-09-30 23:59:59 before range",
    );
    // Series: the first start against the end, the last start against the start.
    let unbounded = |first| series(at(first), RecurrenceEnd::Unbounded);
    assert!(october.check(&unbounded("2026-10-31T23:59:59Z")).matched);
    assert_verdict(
        &october.check(&unbounded("2026-11-01T00:00:00Z")),
        false,
        "recurrence 2026-11-01 00:00 → unbounded starts after range",
    );
    let ending = |last| {
        series(
            at("2026-01-01T00:00:00Z"),
            RecurrenceEnd::LastStart(at(last)),
        )
    };
    assert!(october.check(&ending("2026-10-01T00:00:00Z")).matched);
    assert!(!october.check(&ending("2026-09-30T23:59:59Z")).matched);
}

#[test]
fn open_bounds_let_everything_through_on_their_side() {
    let until_2027 = by_start(None, Some("2026-12-31"), Tz::UTC);
    assert!(
        until_2027
            .check(&series(
                at("1990-01-01T00:00:00Z"),
                RecurrenceEnd::Unbounded
            ))
            .matched
    );
    assert!(
        until_2027
            .check(&one_off(at("1900-01-01T00:00:00Z")))
            .matched
    );
    let from_2026 = by_start(Some("2026-01-01"), None, Tz::UTC);
    assert!(
        from_2026
            .check(&series(
                at("2099-01-01T00:00:00Z"),
                RecurrenceEnd::Unbounded
            ))
            .matched
    );
}

#[test]
fn an_all_day_item_on_a_boundary_day() {
    let toronto = chrono_tz::America::Toronto;
    let q4 = by_start(Some("2026-10-01"), Some("2026-12-31"), toronto);
    assert_verdict(
        &q4.check(&one_off(day("2026-12-31"))),
        true,
        "start 2026-12-31 in range",
    );
    assert_verdict(
        &q4.check(&one_off(day("2027-01-01"))),
        false,
        "start 2027-01-01 after range",
    );
    assert_verdict(
        &q4.check(&one_off(day("2026-10-01"))),
        true,
        "start 2026-10-01 in range",
    );
    assert_verdict(
        &q4.check(&one_off(day("2026-09-30"))),
        false,
        "start 2026-09-30 before range",
    );
    // A day stands for its midnight in the spec's zone.
    assert_eq!(
        q4.check(&one_off(day("2026-12-31"))).decided_by,
        vec![("start", utc("2026-12-31T05:00:00Z"))]
    );
}

#[test]
fn floating_times_are_read_in_the_spec_zone() {
    let toronto = chrono_tz::America::Toronto;
    let new_years_eve = one_off(floating("2026-12-31T23:30"));
    // In Toronto, 23:30 on 31 December is inside a range that ends with that day.
    let december = by_start(Some("2026-12-01"), Some("2026-12-31"), toronto);
    let verdict = december.check(&new_years_eve);
    assert_verdict(&verdict, true, "start 2026-12-31 23:30 in range");
    assert_eq!(
        verdict.decided_by,
        vec![("start", utc("2027-01-01T04:30:00Z"))]
    );
    // Against an exact bound, the zone decides: in Toronto it is already
    // 2027 in UTC; read in UTC, it is not.
    let from_2027_utc = |tz| by_start(Some("2027-01-01T00:00:00Z"), None, tz);
    assert!(from_2027_utc(toronto).check(&new_years_eve).matched);
    assert_verdict(
        &from_2027_utc(Tz::UTC).check(&new_years_eve),
        false,
        "start 2026-12-31 23:30 before range",
    );
    // A UTC value with the same digits is the instant it names, in any zone.
    assert_verdict(
        &from_2027_utc(toronto).check(&one_off(at("2026-12-31T23:30:00Z"))),
        false,
        "start 2026-12-31 18:30 before range",
    );
}

#[test]
fn zoned_times_are_shown_in_the_spec_zone() {
    let toronto = chrono_tz::America::Toronto;
    let berlin = chrono_tz::Europe::Berlin;
    let november = by_start(Some("2026-11-01"), Some("2026-11-30"), toronto);
    assert_verdict(
        &november.check(&one_off(zoned(berlin, "2026-11-03T16:00"))),
        true,
        "start 2026-11-03 10:00 in range",
    );
}

#[test]
fn a_dst_gap_in_the_spec_zone() {
    let berlin = chrono_tz::Europe::Berlin;
    // On 2026-03-29 Berlin's clocks jump from 02:00 to 03:00; the day itself
    // starts at 00:00 CET.
    let from_the_29th = by_start(Some("2026-03-29"), None, berlin);
    let verdict = from_the_29th.check(&one_off(day("2026-03-29")));
    assert_verdict(&verdict, true, "start 2026-03-29 in range");
    assert_eq!(
        verdict.decided_by,
        vec![("start", utc("2026-03-28T23:00:00Z"))]
    );
    assert!(!from_the_29th.check(&one_off(day("2026-03-28"))).matched);
    // A floating 02:30 does not exist that day: it is read with the offset
    // before the gap (RFC 5545), so it is 03:30 CEST.
    let in_the_gap = one_off(floating("2026-03-29T02:30"));
    let verdict = from_the_29th.check(&in_the_gap);
    assert_verdict(&verdict, true, "start 2026-03-29 03:30 in range");
    assert_eq!(
        verdict.decided_by,
        vec![("start", utc("2026-03-29T01:30:00Z"))]
    );
    let before_half_past_three = by_start(None, Some("2026-03-29T03:30"), berlin);
    assert!(!before_half_past_three.check(&in_the_gap).matched);
    let from_half_past_three = by_start(Some("2026-03-29T03:30"), None, berlin);
    assert!(from_half_past_three.check(&in_the_gap).matched);
    // A series ending in the gap ends at that instant too.
    let ends_in_the_gap = series(
        floating("2026-03-01T02:30"),
        RecurrenceEnd::LastStart(floating("2026-03-29T02:30")),
    );
    assert_verdict(
        &from_half_past_three.check(&ends_in_the_gap),
        true,
        "recurrence 2026-03-01 02:30 → 2026-03-29 03:30 overlaps range",
    );
}

#[test]
fn an_ambiguous_time_in_the_spec_zone_is_the_first_and_shows_its_offset() {
    let berlin = chrono_tz::Europe::Berlin;
    // On 2026-10-25 Berlin's clocks go from 03:00 back to 02:00: 02:30
    // happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    let twice = one_off(floating("2026-10-25T02:30"));
    let between = by_start(Some("2026-10-25T00:45:00Z"), None, berlin);
    let verdict = between.check(&twice);
    assert_verdict(
        &verdict,
        false,
        "start 2026-10-25 02:30 (+02:00) before range",
    );
    assert_eq!(
        verdict.decided_by,
        vec![("start", utc("2026-10-25T00:30:00Z"))]
    );
    assert!(
        by_start(None, Some("2026-10-25T00:45:00Z"), berlin)
            .check(&twice)
            .matched
    );
    // The second 02:30, written in UTC, shows its own offset.
    assert_verdict(
        &between.check(&one_off(at("2026-10-25T01:30:00Z"))),
        true,
        "start 2026-10-25 02:30 (+01:00) in range",
    );
}

#[test]
fn an_empty_range_matches_nothing() {
    // Validation refuses empty ranges; a filter still never matches one.
    let empty = by_start(Some("2026-10-01T10:00"), Some("2026-10-01T10:00"), Tz::UTC);
    assert!(!empty.check(&one_off(at("2026-10-01T10:00:00Z"))).matched);
    assert_verdict(
        &empty.check(&series(
            at("2026-01-01T00:00:00Z"),
            RecurrenceEnd::Unbounded,
        )),
        false,
        "recurrence 2026-01-01 00:00 → unbounded misses the empty range",
    );
}

// ---- options -----------------------------------------------------------------

#[test]
fn the_recurrence_option_keeps_recurring_non_recurring_or_both() {
    let once = one_off(at("2026-11-03T10:00:00Z"));
    let weekly = event("DTSTART:20261103T100000Z\nRRULE:FREQ=WEEKLY;COUNT=4\n");
    let filter = |recurrence| {
        schedule_filter(
            ScheduleDateOption::Start,
            recurrence,
            Some("2026-11-01"),
            Some("2026-11-30"),
            Tz::UTC,
        )
    };
    let recurring = filter(RecurrenceOption::Recurring);
    assert!(recurring.check(&weekly).matched);
    assert_verdict(
        &recurring.check(&once),
        false,
        "not recurring; the filter takes recurring items only",
    );
    assert!(recurring.check(&once).decided_by.is_empty());
    let non_recurring = filter(RecurrenceOption::NonRecurring);
    assert_verdict(
        &non_recurring.check(&once),
        true,
        "start 2026-11-03 10:00 in range",
    );
    assert_verdict(
        &non_recurring.check(&weekly),
        false,
        "recurring; the filter takes non-recurring items only",
    );
    let both = filter(RecurrenceOption::Both);
    assert!(both.check(&once).matched);
    assert!(both.check(&weekly).matched);
}

#[test]
fn the_recurrence_option_applies_with_modified_too() {
    let modified = |recurrence| {
        schedule_filter(
            ScheduleDateOption::Modified,
            recurrence,
            Some("2026-11-01"),
            None,
            Tz::UTC,
        )
    };
    let weekly =
        event("DTSTART:20200106T100000Z\nRRULE:FREQ=WEEKLY\nLAST-MODIFIED:20261102T080000Z\n");
    assert_verdict(
        &modified(RecurrenceOption::Recurring).check(&weekly),
        true,
        "modified 2026-11-02 08:00 in range",
    );
    assert_verdict(
        &modified(RecurrenceOption::NonRecurring).check(&weekly),
        false,
        "recurring; the filter takes non-recurring items only",
    );
}

#[test]
fn the_modified_option_ignores_the_start() {
    let modified = schedule_filter(
        ScheduleDateOption::Modified,
        RecurrenceOption::Both,
        Some("2026-11-03"),
        Some("2026-11-30"),
        Tz::UTC,
    );
    // Starts in the range, modified before it.
    let old_edit = event("DTSTART:20261110T100000Z\nLAST-MODIFIED:20261102T080000Z\n");
    let verdict = modified.check(&old_edit);
    assert_verdict(&verdict, false, "modified 2026-11-02 08:00 before range");
    assert_eq!(
        verdict.decided_by,
        vec![("modified", utc("2026-11-02T08:00:00Z"))]
    );
    // Starts long before the range, modified in it.
    let new_edit = event("DTSTART:20200101T100000Z\nLAST-MODIFIED:20261104T080000Z\n");
    assert!(modified.check(&new_edit).matched);
    // A series that never ends is judged by its modification only.
    let endless =
        event("DTSTART:20200101T100000Z\nRRULE:FREQ=DAILY\nLAST-MODIFIED:20200101T000000Z\n");
    assert!(!modified.check(&endless).matched);
    // Without LAST-MODIFIED, DTSTAMP is the modification time.
    assert_verdict(
        &modified.check(&event("DTSTART:20261110T100000Z\n")),
        false,
        "modified 2025-01-01 00:00 before range",
    );
    // Without either, the item does not match.
    let undated = one_off(at("2026-11-10T10:00:00Z"));
    assert_verdict(
        &modified.check(&undated),
        false,
        "no modified date: excluded",
    );
}

// ---- tasks -------------------------------------------------------------------

#[test]
fn a_task_with_only_a_due_date_filtered_by_start_is_undated() {
    let due_only = todo("DTSTAMP:20260101T000000Z\nDUE:20261110T170000Z\n");
    assert_eq!(due_only.start, None);
    let strict = task_filter(TaskDateOption::Start, false, Some("2026-11-01"), None);
    let verdict = strict.check(&due_only);
    assert_verdict(
        &verdict,
        false,
        "no start date: excluded (includeUndated is off)",
    );
    assert!(verdict.decided_by.is_empty());
    let lenient = task_filter(TaskDateOption::Start, true, Some("2026-11-01"), None);
    assert_verdict(
        &lenient.check(&due_only),
        true,
        "no start date: included (includeUndated)",
    );
}

#[test]
fn tasks_by_start() {
    let november = task_filter(
        TaskDateOption::Start,
        false,
        Some("2026-11-01"),
        Some("2026-11-30"),
    );
    let dates = task(Some(day("2026-11-30")), Some(day("2027-02-01")), None);
    assert_verdict(&november.check(&dates), true, "start 2026-11-30 in range");
}

#[test]
fn tasks_by_due_date_with_and_without_include_undated() {
    let by_due = |include_undated| {
        task_filter(
            TaskDateOption::Due,
            include_undated,
            Some("2026-11-01"),
            Some("2026-11-30"),
        )
    };
    let due_in = task(
        Some(at("2026-01-01T09:00:00Z")),
        Some(at("2026-11-10T17:00:00Z")),
        None,
    );
    let due_after = task(None, Some(at("2026-12-01T00:00:00Z")), None);
    let undated = task(Some(at("2026-11-10T09:00:00Z")), None, None);
    for include_undated in [false, true] {
        let filter = by_due(include_undated);
        // The start is never read, whether in the range or not.
        assert_verdict(
            &filter.check(&due_in),
            true,
            "due 2026-11-10 17:00 in range",
        );
        assert_verdict(
            &filter.check(&due_after),
            false,
            "due 2026-12-01 00:00 after range",
        );
    }
    assert_verdict(
        &by_due(false).check(&undated),
        false,
        "no due date: excluded (includeUndated is off)",
    );
    assert_verdict(
        &by_due(true).check(&undated),
        true,
        "no due date: included (includeUndated)",
    );
    // Through the codec: an all-day due date.
    let parsed = todo("DTSTAMP:20260101T000000Z\nDUE;VALUE=DATE:20261130\n");
    assert_verdict(
        &by_due(false).check(&parsed),
        true,
        "due 2026-11-30 in range",
    );
}

#[test]
fn tasks_by_modified() {
    let by_modified = |include_undated| {
        task_filter(
            TaskDateOption::Modified,
            include_undated,
            Some("2026-11-01"),
            None,
        )
    };
    let parsed =
        todo("DTSTAMP:20260101T000000Z\nLAST-MODIFIED:20261102T080000Z\nDUE:20250101T000000Z\n");
    assert_verdict(
        &by_modified(false).check(&parsed),
        true,
        "modified 2026-11-02 08:00 in range",
    );
    let stale = task(
        None,
        Some(at("2026-11-10T00:00:00Z")),
        Some("2026-10-31T23:59:59Z"),
    );
    assert_verdict(
        &by_modified(true).check(&stale),
        false,
        "modified 2026-10-31 23:59:59 before range",
    );
    // A task without any modification time (no LAST-MODIFIED, no DTSTAMP)
    // does not match: includeUndated has no effect with `modified`.
    let never = task(None, None, None);
    for include_undated in [false, true] {
        assert_verdict(
            &by_modified(include_undated).check(&never),
            false,
            "no modified date: excluded",
        );
    }
}

#[test]
fn a_modified_task_filter_says_nothing_of_undated_tasks() {
    for include_undated in [false, true] {
        assert_eq!(
            task_filter(
                TaskDateOption::Modified,
                include_undated,
                Some("2026-10-01"),
                None
            )
            .describe(),
            "modified from 2026-10-01 00:00 (UTC)"
        );
    }
}

// ---- contacts ----------------------------------------------------------------

#[test]
fn contacts_by_rev() {
    let since_november = contact_filter(Some("2026-11-01"), None);
    let recent = card("REV:20261102T080000Z\n");
    let verdict = since_november.check(&recent);
    assert_verdict(&verdict, true, "modified 2026-11-02 08:00 in range");
    assert_eq!(
        verdict.decided_by,
        vec![("modified", utc("2026-11-02T08:00:00Z"))]
    );
    assert_verdict(
        &since_november.check(&card("REV:20261031T235959Z\n")),
        false,
        "modified 2026-10-31 23:59:59 before range",
    );
}

#[test]
fn a_contact_without_rev_does_not_match() {
    let any_time = contact_filter(Some("1900-01-01"), None);
    let verdict = any_time.check(&card(""));
    assert_verdict(&verdict, false, "no modified date (REV): excluded");
    assert!(verdict.decided_by.is_empty());
}

// ---- the set of filters --------------------------------------------------------

#[test]
fn a_type_without_a_filter_has_none_and_relative_bounds_are_fixed_once() {
    let set = FilterSet {
        tasks: Some(TaskFilter {
            date_option: TaskDateOption::Due,
            range: range(Some("-30d"), Some("now")),
            include_undated: false,
        }),
        ..FilterSet::default()
    };
    let filters = ActiveFilters::resolve(&set, utc(NOW), Tz::UTC).expect("resolves");
    assert!(filters.for_type(ItemType::ScheduleItems).is_none());
    assert!(filters.for_type(ItemType::Contacts).is_none());
    let tasks = filters.for_type(ItemType::Tasks).expect("tasks");
    assert_eq!(tasks.item_type(), ItemType::Tasks);
    assert_eq!(tasks.range().start, Some(utc("2026-10-26T00:00:00Z")));
    assert_eq!(tasks.range().end, Some(utc(NOW)));
    assert_eq!(
        filters
            .iter()
            .map(TypeFilter::item_type)
            .collect::<Vec<_>>(),
        vec![ItemType::Tasks]
    );
}

#[test]
fn describe_says_what_is_read_where_and_in_which_zone() {
    let toronto = chrono_tz::America::Toronto;
    assert_eq!(
        by_start(Some("2026-10-01"), Some("2026-12-31"), toronto).describe(),
        "start in 2026-10-01 00:00 → 2027-01-01 00:00 (America/Toronto), recurring and non-recurring"
    );
    assert_eq!(
        schedule_filter(
            ScheduleDateOption::Modified,
            RecurrenceOption::Recurring,
            Some("2026-10-01"),
            None,
            Tz::UTC
        )
        .describe(),
        "modified from 2026-10-01 00:00 (UTC), recurring only"
    );
    assert_eq!(
        schedule_filter(
            ScheduleDateOption::Start,
            RecurrenceOption::NonRecurring,
            None,
            Some("2026-10-01T09:30:15Z"),
            Tz::UTC
        )
        .describe(),
        "start before 2026-10-01 09:30:15 (UTC), non-recurring only"
    );
    assert_eq!(
        task_filter(TaskDateOption::Due, true, Some("2026-10-01"), None).describe(),
        "due from 2026-10-01 00:00 (UTC), undated included"
    );
    assert_eq!(
        task_filter(TaskDateOption::Start, false, None, Some("2026-10-01")).describe(),
        "start before 2026-10-02 00:00 (UTC), undated excluded"
    );
    assert_eq!(
        contact_filter(Some("2026-10-01"), Some("2026-10-31")).describe(),
        "modified in 2026-10-01 00:00 → 2026-11-01 00:00 (UTC)"
    );
}

#[test]
fn a_verdict_in_json_names_the_deciding_instants() {
    let verdict = by_start(Some("2026-10-01"), None, Tz::UTC).check(&series(
        at("2026-01-05T10:00:00Z"),
        RecurrenceEnd::LastStart(at("2026-12-28T10:00:00Z")),
    ));
    assert_eq!(
        serde_json::to_string(&verdict).expect("json"),
        r#"{"matched":true,"reason":"recurrence 2026-01-05 10:00 → 2026-12-28 10:00 overlaps range","decidedBy":{"recurrenceStart":"2026-01-05T10:00:00Z","recurrenceEnd":"2026-12-28T10:00:00Z"}}"#
    );
}

#[test]
fn a_series_mixing_floating_and_utc_starts_ends_at_the_later_in_the_spec_zone() {
    // Daily at 10:00 floating, 1–3 May, plus an RDATE at 05:00 UTC on 3 May.
    let dates =
        event("DTSTART:20260501T100000\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:20260503T050000Z\n");
    // In Tokyo the RDATE (14:00 local) is the last start: it is in a range
    // from 12:00 local, though the floating 10:00 is not.
    let tokyo = chrono_tz::Asia::Tokyo;
    assert_verdict(
        &by_start(Some("2026-05-03T12:00"), None, tokyo).check(&dates),
        true,
        "recurrence 2026-05-01 10:00 → 2026-05-03 14:00 overlaps range",
    );
    // In Los Angeles the floating 10:00 (17:00 UTC) is later than the RDATE
    // (22:00 the day before, local).
    let los_angeles = chrono_tz::America::Los_Angeles;
    assert_verdict(
        &by_start(Some("2026-05-03T10:00"), None, los_angeles).check(&dates),
        true,
        "recurrence 2026-05-01 10:00 → 2026-05-03 10:00 overlaps range",
    );
    assert!(
        !by_start(Some("2026-05-03T10:01"), None, los_angeles)
            .check(&dates)
            .matched
    );
}

// ---- a UTC UNTIL on an all-day or floating series (issue 13, defect 17) ------

/// Whether a range from `from` (a date or local time in `tz`) matches the
/// series, and the last start its reason shows.
fn last_day_check(dates: &ItemDates, from: &str, tz: Tz) -> Verdict {
    by_start(Some(from), None, tz).check(dates)
}

#[test]
fn outlooks_all_day_series_until_midnight_in_london_keeps_its_last_day_east_of_utc() {
    // Outlook writes "every day until 17 September" (all day, London) with
    // UNTIL at midnight in London on the 17th, in UTC.
    let dates = event("DTSTART;VALUE=DATE:20200910\nRRULE:FREQ=DAILY;UNTIL=20200916T230000Z\n");
    // Where midnight on the 17th is at or before that instant, the 17th is
    // the last day, and a range from the 17th matches.
    for tz in [
        chrono_tz::Europe::London,
        chrono_tz::Europe::Berlin,
        chrono_tz::Asia::Tokyo,
    ] {
        assert_verdict(
            &last_day_check(&dates, "2020-09-17", tz),
            true,
            "recurrence 2020-09-10 → 2020-09-17 overlaps range",
        );
    }
    // In UTC and west of it, midnight on the 17th comes after UNTIL: the
    // series ends on the 16th.
    for tz in [Tz::UTC, chrono_tz::America::New_York] {
        assert_verdict(
            &last_day_check(&dates, "2020-09-17", tz),
            false,
            "recurrence 2020-09-10 → 2020-09-16 ends before range",
        );
        assert!(last_day_check(&dates, "2020-09-16", tz).matched);
    }
}

#[test]
fn an_all_day_series_until_an_early_utc_time_ends_a_day_sooner_west_of_utc() {
    let dates = event("DTSTART;VALUE=DATE:20200910\nRRULE:FREQ=DAILY;UNTIL=20200917T030000Z\n");
    // Midnight on the 17th is 00:00 UTC: before UNTIL.
    assert_verdict(
        &last_day_check(&dates, "2020-09-17", Tz::UTC),
        true,
        "recurrence 2020-09-10 → 2020-09-17 overlaps range",
    );
    // In New York it is 04:00 UTC: after UNTIL.
    assert_verdict(
        &last_day_check(&dates, "2020-09-17", chrono_tz::America::New_York),
        false,
        "recurrence 2020-09-10 → 2020-09-16 ends before range",
    );
}

#[test]
fn a_floating_series_until_a_utc_time_compares_each_start_in_the_spec_zone() {
    // Daily at 09:00 wall-clock time, until 05:00 UTC on the 17th.
    let dates = event("DTSTART:20200910T090000\nRRULE:FREQ=DAILY;UNTIL=20200917T050000Z\n");
    // 09:00 in Tokyo on the 17th is 00:00 UTC: in the series.
    let tokyo = chrono_tz::Asia::Tokyo;
    assert_verdict(
        &last_day_check(&dates, "2020-09-17T09:00", tokyo),
        true,
        "recurrence 2020-09-10 09:00 → 2020-09-17 09:00 overlaps range",
    );
    // 09:00 in Berlin, UTC or New York on the 17th is after 05:00 UTC.
    for tz in [
        chrono_tz::Europe::Berlin,
        Tz::UTC,
        chrono_tz::America::New_York,
    ] {
        assert_verdict(
            &last_day_check(&dates, "2020-09-17T09:00", tz),
            false,
            "recurrence 2020-09-10 09:00 → 2020-09-16 09:00 ends before range",
        );
    }

    // Daily at 20:00 until 23:00 UTC on the 17th: in UTC (and east of it)
    // the 17th is in; in New York, 20:00 on the 17th is 00:00 UTC the next
    // day, so the 16th is the last.
    let evening = event("DTSTART:20200910T200000\nRRULE:FREQ=DAILY;UNTIL=20200917T230000Z\n");
    for tz in [Tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Asia::Tokyo] {
        assert_verdict(
            &last_day_check(&evening, "2020-09-17T20:00", tz),
            true,
            "recurrence 2020-09-10 20:00 → 2020-09-17 20:00 overlaps range",
        );
    }
    assert_verdict(
        &last_day_check(&evening, "2020-09-17T20:00", chrono_tz::America::New_York),
        false,
        "recurrence 2020-09-10 20:00 → 2020-09-16 20:00 ends before range",
    );
}

#[test]
fn the_candidates_of_a_utc_until_survive_the_stored_form() {
    let dates = event("DTSTART;VALUE=DATE:20200910\nRRULE:FREQ=DAILY;UNTIL=20200916T230000Z\n");
    let end = dates.recurrence.clone().expect("recurring");
    let RecurrenceEnd::Capped(candidates) = &end else {
        panic!("{end:?}");
    };
    // The 16th is in the series in every zone (its midnight is at most 12
    // hours after 00:00 UTC); whether the 17th is depends on the zone.
    assert_eq!(
        candidates,
        &[
            Candidate::sure(day("2020-09-16")),
            Candidate {
                start: day("2020-09-17"),
                until: Some(utc("2020-09-16T23:00:00Z")),
            },
        ]
    );
    assert_eq!(end.encode(), "2020-09-16 2020-09-17@2020-09-16T23:00:00Z");
    assert_eq!(RecurrenceEnd::decode(&end.encode()), Some(end.clone()));
    let json = serde_json::to_string(&end).expect("json");
    assert_eq!(
        serde_json::from_str::<RecurrenceEnd>(&json).expect("back"),
        end
    );
}

// ---- an RRULE without a valid FREQ (issue 13, defect 18) ---------------------

#[test]
fn an_empty_or_frequency_less_rrule_is_not_a_series() {
    let from_2021 = by_start(Some("2021-01-01"), None, Tz::UTC);
    for rule in ["RRULE:\n", "RRULE:COUNT=3\n", "RRULE:FREQ=FORTNIGHTLY\n"] {
        let dates = event(&format!("DTSTART:20200910T090000Z\n{rule}"));
        assert_eq!(dates.recurrence, None, "{rule}");
        // Its own start only: not in every later range.
        assert_verdict(
            &from_2021.check(&dates),
            false,
            "start 2020-09-10 09:00 before range",
        );
        assert_verdict(
            &schedule_filter(
                ScheduleDateOption::Start,
                RecurrenceOption::Recurring,
                None,
                None,
                Tz::UTC,
            )
            .check(&dates),
            false,
            "not recurring; the filter takes recurring items only",
        );
    }
}
