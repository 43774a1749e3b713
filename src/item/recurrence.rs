//! What the filters need to know about a recurring schedule item, computed
//! without expanding the series into memory.
//!
//! Words used here:
//! - **rule**: an `RRULE`. It ends after `COUNT` occurrences, at `UNTIL`
//!   (inclusive: an occurrence starting exactly at `UNTIL` belongs to the
//!   series), or never.
//! - **RDATE** / **EXDATE**: extra occurrence starts added to, or removed from,
//!   what the rule yields.
//! - **override** (overridden instance): a component with the same UID and a
//!   `RECURRENCE-ID`, replacing one occurrence (its time, title, …).
//! - **last start**: the start of the last occurrence of the series — see
//!   [`LastStart`] for exactly what counts.
//! - **capped start**: an occurrence of a floating or all-day series whose
//!   rule ends at a UTC `UNTIL` (as Outlook writes them:
//!   `UNTIL=20200916T230000Z`), near that `UNTIL`. It belongs to the series
//!   only where its start, read in the spec's zone, is at or before the
//!   `UNTIL` instant, so whether it does depends on the zone
//!   ([`Candidate::until`]).

use calcard::icalendar::{ICalendarFrequency, ICalendarRecurrenceRule, ICalendarWeekday};
use chrono::{DateTime, Month, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::time::ItemTime;

/// Past this many occurrences, `last_start` stops iterating a rule: a
/// secondly rule over a century would otherwise take minutes. What it then
/// answers is documented on [`LastStart`].
const MAX_STEPS: u32 = 1_000_000;

/// Past this many capped starts (a floating rule by the minute ending at a
/// UTC `UNTIL`), a rule's last start is taken as the latest of them in every
/// zone: later than it may be, on the safe side, and the stored form stays
/// small.
const MAX_CAPPED: usize = 48;

/// The start of the last occurrence of a schedule item, as the recurrence
/// filter reads it (DESIGN 2.2).
///
/// It is the latest of: the first start; the last occurrence each rule yields
/// with `COUNT` or `UNTIL`; every `RDATE`; and the start of every overridden
/// instance (a moved instance really happens then). An override with
/// `RANGE=THISANDFUTURE` moves every later occurrence by as much as it moves
/// its own, so the rules' last occurrences and the `RDATE`s from its
/// `RECURRENCE-ID` on count moved by that much too (never earlier than
/// unmoved). `EXDATE`s never shorten it.
///
/// UTC and zoned values are instants; floating times and dates become
/// instants only in the spec's time zone, which an item does not know. When a
/// series mixes both and the zone decides which is later, both are kept
/// ([`LastStart::LaterOf`]). When a floating or all-day series ends at a UTC
/// `UNTIL`, the zone decides which occurrence is last: the occurrences near
/// the `UNTIL` are kept with it ([`LastStart::Capped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastStart {
    /// The series has a last occurrence, starting then.
    At(ItemTime),
    /// The last occurrence starts at the later of a UTC or zoned time (the
    /// first) and a floating time or date (the second), which are less than
    /// 14 hours apart read in UTC: which one is later depends on the zone
    /// the floating one is read in.
    LaterOf(ItemTime, ItemTime),
    /// The last occurrence starts at the latest of these candidates that
    /// belongs to the series in the spec's zone (see [`Candidate`]); at
    /// least one belongs to it in every zone. Answered when a floating or
    /// all-day series has a rule with a UTC `UNTIL` and occurrences less
    /// than 14 hours (read in UTC) from it; past 48 such occurrences, the
    /// latest of them is taken as the rule's last start in every zone
    /// ([`LastStart::At`], the safe side).
    Capped(Vec<Candidate>),
    /// A rule has neither `COUNT` nor `UNTIL`, so the series never ends.
    /// Also answered, on the safe side (the item is kept in scope), for a rule
    /// snapsync cannot evaluate (an invalid rule, a non-Gregorian `RSCALE`) or
    /// one with `COUNT` whose occurrences exceed one million.
    Unbounded,
}

/// A possible last start of a series ([`LastStart::Capped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// When it starts.
    pub start: ItemTime,
    /// `None` when it belongs to the series whatever the zone. For a
    /// floating time or date that a UTC `UNTIL` may cut off: it belongs to
    /// the series only where its start, read in the spec's zone, is at or
    /// before this instant (`UNTIL` is inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl Candidate {
    /// A start that belongs to the series in every zone.
    #[must_use]
    pub fn sure(start: ItemTime) -> Candidate {
        Candidate { start, until: None }
    }

    /// The instant it starts at in `tz` (the spec's zone), if it belongs to
    /// the series there.
    #[must_use]
    pub fn start_in(&self, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        let at = self.start.instant_in(tz);
        self.until.is_none_or(|until| at <= until).then_some(at)
    }
}

/// How a rule ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleEnd {
    /// After this many occurrences (`COUNT`).
    Count(u32),
    /// At this time, inclusive (`UNTIL`), read with the nature of the first
    /// start: a date `UNTIL` on a timed series means the end of that day.
    /// A UTC `UNTIL` on a floating or all-day series stays a UTC instant
    /// ([`ItemTime::Utc`]): the occurrences it keeps are those whose start,
    /// read in the spec's zone, is at or before it.
    Until(ItemTime),
    /// Never.
    Never,
}

/// One `RRULE` of a schedule item.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrenceRule {
    /// `None` when calcard could not parse the rule (it is kept as text in
    /// the item and written back as it was).
    rule: Option<ICalendarRecurrenceRule>,
    end: RuleEnd,
}

impl RecurrenceRule {
    /// Wraps a parsed rule; `first_start` gives `UNTIL` its nature.
    pub(crate) fn new(rule: Option<ICalendarRecurrenceRule>, first_start: &ItemTime) -> Self {
        let end = match rule.as_ref().map(|r| (r.count, r.until.as_ref())) {
            Some((Some(count), _)) => RuleEnd::Count(count),
            Some((None, Some(until))) => {
                until_time(until, first_start).map_or(RuleEnd::Never, RuleEnd::Until)
            }
            _ => RuleEnd::Never,
        };
        RecurrenceRule { rule, end }
    }

    /// How the rule ends.
    #[must_use]
    pub fn end(&self) -> RuleEnd {
        self.end
    }

    /// Whether the rule could be parsed; an unparsable rule never ends.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.rule.is_some()
    }

    /// The rule as written in iCalendar (`FREQ=DAILY;COUNT=10`), if parsed.
    #[must_use]
    pub fn to_ical(&self) -> Option<String> {
        self.rule.as_ref().map(ToString::to_string)
    }

    /// The last occurrence this rule yields from `first_start`, or `None`
    /// when it has no end (or cannot be evaluated).
    fn last_occurrence(&self, first_start: &ItemTime) -> Option<RuleLast> {
        if matches!(self.end, RuleEnd::Never) {
            return None;
        }
        let dt_start = to_rrule_time(first_start);
        let mut rule = build_rule(self.rule.as_ref()?)?;
        // A UTC UNTIL on a floating or all-day series: its occurrences are
        // iterated on the UTC clock up to the UNTIL read in the zone furthest
        // east; those after it read in the zone furthest west may belong to
        // the series or not, depending on the spec's zone.
        let margin = chrono::Duration::hours(MAX_ZONE_OFFSET_HOURS);
        let capped_at = match self.end {
            RuleEnd::Until(ItemTime::Utc(until)) if first_start.is_floating_or_date() => {
                Some(until)
            }
            _ => None,
        };
        if let RuleEnd::Until(until) = self.end {
            let until = match capped_at {
                Some(at) => {
                    rrule::Tz::Tz(chrono_tz::UTC).from_utc_datetime(&(at + margin).naive_utc())
                }
                None => to_rrule_time(&until),
            };
            // An UNTIL before the first start leaves only the first start.
            if until < dt_start {
                return Some(RuleLast::sure(*first_start));
            }
            // The rrule crate wants UNTIL in UTC whatever the start's zone.
            rule = rule.until(until.with_timezone(&rrule::Tz::Tz(chrono_tz::UTC)));
        }
        let set = rule.build(dt_start).ok()?;
        let sure_until = capped_at.map(|at| (at - margin).naive_utc());
        let mut last = None;
        let mut capped = Vec::new();
        let mut steps = 0u32;
        for occurrence in &set {
            match (sure_until, capped_at) {
                (Some(limit), Some(at)) if occurrence.naive_local() > limit => {
                    capped.push(Candidate {
                        start: from_rrule_time(occurrence, first_start),
                        until: Some(at),
                    });
                }
                _ => last = Some(occurrence),
            }
            steps += 1;
            if steps >= MAX_STEPS {
                // UNTIL bounds the series even where we stop counting; COUNT
                // does not tell us where it ends without iterating.
                return match (self.end, capped_at) {
                    (_, Some(at)) => Some(RuleLast::sure(
                        first_start.with_local((at + margin).naive_utc()),
                    )),
                    (RuleEnd::Until(until), None) => Some(RuleLast::sure(until)),
                    _ => None,
                };
            }
        }
        if capped.len() > MAX_CAPPED {
            return capped.pop().map(|latest| RuleLast::sure(latest.start));
        }
        Some(RuleLast {
            sure: last.map_or(*first_start, |t| from_rrule_time(t, first_start)),
            capped,
        })
    }
}

/// The end of one rule: its last occurrence in every zone (`sure`), and the
/// capped starts after it, if its `UNTIL` is a UTC instant on a floating or
/// all-day series.
struct RuleLast {
    sure: ItemTime,
    capped: Vec<Candidate>,
}

impl RuleLast {
    fn sure(sure: ItemTime) -> RuleLast {
        RuleLast {
            sure,
            capped: Vec::new(),
        }
    }
}

/// An overridden instance: a `RECURRENCE-ID` component of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverriddenInstance {
    /// Which occurrence it replaces (the `RECURRENCE-ID`).
    pub recurrence_id: ItemTime,
    /// When that occurrence now starts (its `DTSTART`), if given.
    pub start: Option<ItemTime>,
    /// `RANGE=THISANDFUTURE`: it also changes every later occurrence.
    pub this_and_future: bool,
}

/// The recurrence data of a schedule item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recurrence {
    pub(crate) rules: Vec<RecurrenceRule>,
    pub(crate) rdates: Vec<ItemTime>,
    pub(crate) exdates: Vec<ItemTime>,
    pub(crate) overrides: Vec<OverriddenInstance>,
}

impl Recurrence {
    /// Whether the item recurs (has a rule or extra dates).
    #[must_use]
    pub fn is_recurring(&self) -> bool {
        !self.rules.is_empty() || !self.rdates.is_empty()
    }

    /// The `RRULE`s (RFC 5545 allows one; some writers repeat it).
    #[must_use]
    pub fn rules(&self) -> &[RecurrenceRule] {
        &self.rules
    }

    /// The `RDATE` starts (a `PERIOD` counts by its start).
    #[must_use]
    pub fn rdates(&self) -> &[ItemTime] {
        &self.rdates
    }

    /// The `EXDATE`s.
    #[must_use]
    pub fn exdates(&self) -> &[ItemTime] {
        &self.exdates
    }

    /// The overridden instances, in `RECURRENCE-ID` order.
    #[must_use]
    pub fn overrides(&self) -> &[OverriddenInstance] {
        &self.overrides
    }

    /// The start of the last occurrence; see [`LastStart`].
    #[must_use]
    pub fn last_start(&self, first_start: &ItemTime) -> LastStart {
        let mut latest = Latest::new(*first_start);
        let mut lasts = Vec::with_capacity(self.rules.len() + self.rdates.len());
        let mut capped: Vec<Candidate> = Vec::new();
        for rule in &self.rules {
            match rule.last_occurrence(first_start) {
                Some(last) => {
                    lasts.push(last.sure);
                    capped.extend(last.capped);
                }
                None => return LastStart::Unbounded,
            }
        }
        lasts.extend_from_slice(&self.rdates);
        for last in &lasts {
            latest.consider(*last);
        }
        let mut moved_capped = Vec::new();
        for instance in &self.overrides {
            let Some(start) = instance.start else {
                continue;
            };
            latest.consider(start);
            if instance.this_and_future {
                let shift = shift_between(&instance.recurrence_id, &start);
                let moved = |t: &ItemTime| t.with_local(t.naive_local() + shift);
                for last in lasts
                    .iter()
                    .filter(|t| not_before(t, &instance.recurrence_id))
                {
                    latest.consider(moved(last));
                }
                // A moved capped start belongs to the series where its
                // unmoved one does: its UNTIL moves with it.
                for candidate in capped
                    .iter()
                    .filter(|c| not_before(&c.start, &instance.recurrence_id))
                {
                    moved_capped.push(Candidate {
                        start: moved(&candidate.start),
                        until: candidate.until.map(|until| until + shift),
                    });
                }
            }
        }
        capped.extend(moved_capped);
        let base = latest.finish();
        if capped.is_empty() {
            return base;
        }
        let mut candidates = match base {
            LastStart::At(t) => vec![Candidate::sure(t)],
            LastStart::LaterOf(a, b) => vec![Candidate::sure(a), Candidate::sure(b)],
            LastStart::Capped(candidates) => candidates,
            LastStart::Unbounded => return LastStart::Unbounded,
        };
        candidates.extend(capped);
        LastStart::Capped(candidates)
    }
}

/// How far an override moves its occurrence: on the wall clock when both
/// values are read on the same one (a move by a day stays a day across a DST
/// change), else on the time line.
fn shift_between(from: &ItemTime, to: &ItemTime) -> chrono::Duration {
    match (from, to) {
        (ItemTime::Zoned(a), ItemTime::Zoned(b)) if a.timezone() != b.timezone() => {
            utc_instant(to) - utc_instant(from)
        }
        (ItemTime::Zoned(_), ItemTime::Utc(_)) | (ItemTime::Utc(_), ItemTime::Zoned(_)) => {
            utc_instant(to) - utc_instant(from)
        }
        _ => to.naive_local() - from.naive_local(),
    }
}

/// Whether `t` is at or after `since`; values of different kinds (an
/// instant and a wall-clock time) count as after, which can only make the
/// last start later (the safe side).
fn not_before(t: &ItemTime, since: &ItemTime) -> bool {
    match (t.is_floating_or_date(), since.is_floating_or_date()) {
        (true, true) => t.naive_local() >= since.naive_local(),
        (false, false) => utc_instant(t) >= utc_instant(since),
        _ => true,
    }
}

/// The latest value of each kind: instants (UTC, zoned) are ordered on the
/// time line, floating times and dates by their wall clock, which keeps
/// their order in whatever zone they are later read in.
struct Latest {
    instant: Option<ItemTime>,
    wall_clock: Option<ItemTime>,
}

/// How far a wall-clock time can be from its UTC reading, in any zone.
const MAX_ZONE_OFFSET_HOURS: i64 = 14;

impl Latest {
    fn new(first: ItemTime) -> Self {
        let mut latest = Latest {
            instant: None,
            wall_clock: None,
        };
        latest.consider(first);
        latest
    }

    fn consider(&mut self, candidate: ItemTime) {
        if candidate.is_floating_or_date() {
            if self
                .wall_clock
                .is_none_or(|w| candidate.naive_local() > w.naive_local())
            {
                self.wall_clock = Some(candidate);
            }
        } else if self
            .instant
            .is_none_or(|i| utc_instant(&candidate) > utc_instant(&i))
        {
            self.instant = Some(candidate);
        }
    }

    fn finish(self) -> LastStart {
        match (self.instant, self.wall_clock) {
            (Some(instant), Some(wall_clock)) => {
                let at = utc_instant(&instant);
                let read_in_utc = wall_clock.naive_local().and_utc();
                let margin = chrono::Duration::hours(MAX_ZONE_OFFSET_HOURS);
                if at >= read_in_utc + margin {
                    LastStart::At(instant)
                } else if read_in_utc - margin > at {
                    LastStart::At(wall_clock)
                } else {
                    LastStart::LaterOf(instant, wall_clock)
                }
            }
            (Some(t), None) | (None, Some(t)) => LastStart::At(t),
            // `new` considers the first start, so one side is always set.
            (None, None) => LastStart::Unbounded,
        }
    }
}

/// The instant of a UTC or zoned value (the zone is not needed for them).
fn utc_instant(t: &ItemTime) -> DateTime<Utc> {
    t.instant_in(chrono_tz::UTC)
}

/// Reads a rule's `UNTIL` with the nature of the series' first start.
fn until_time(
    until: &calcard::common::PartialDateTime,
    first_start: &ItemTime,
) -> Option<ItemTime> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(until.year?),
        u32::from(until.month?),
        u32::from(until.day?),
    )?;
    let local = match until.hour {
        None if first_start.is_date() => return Some(ItemTime::Date(date)),
        // A date UNTIL on a timed series: the whole day is included.
        None => date.and_hms_opt(23, 59, 59)?,
        Some(hour) => date.and_hms_opt(
            u32::from(hour),
            u32::from(until.minute.unwrap_or(0)),
            u32::from(until.second.unwrap_or(0).min(59)),
        )?,
    };
    if until.hour.is_some() && until.tz_hour.is_some() {
        // UTC (or an offset): an instant, shown in the first start's nature.
        let secs = i32::from(until.tz_hour.unwrap_or(0)) * 3600
            + i32::from(until.tz_minute.unwrap_or(0)) * 60;
        let secs = if until.tz_minus { -secs } else { secs };
        let instant = local - chrono::Duration::seconds(i64::from(secs));
        let instant = instant.and_utc();
        return Some(match first_start {
            ItemTime::Zoned(t) => ItemTime::zoned(instant.with_timezone(&t.timezone())),
            // Read in the spec's zone, the series' starts are instants too:
            // each is compared with this one ([`Candidate::until`]).
            ItemTime::Floating(_) | ItemTime::Date(_) | ItemTime::Utc(_) => ItemTime::Utc(instant),
        });
    }
    Some(first_start.with_local(local))
}

/// The time the `rrule` crate iterates in: zoned times in their zone, every
/// other nature on a UTC clock (floating times and dates have no DST).
fn to_rrule_time(t: &ItemTime) -> DateTime<rrule::Tz> {
    match t {
        ItemTime::Zoned(z) => z.instant().with_timezone(&rrule::Tz::Tz(z.timezone())),
        ItemTime::Utc(u) => u.with_timezone(&rrule::Tz::Tz(chrono_tz::UTC)),
        ItemTime::Floating(_) | ItemTime::Date(_) => {
            rrule::Tz::Tz(chrono_tz::UTC).from_utc_datetime(&t.naive_local())
        }
    }
}

/// Back from the `rrule` crate's time to the first start's nature.
fn from_rrule_time(t: DateTime<rrule::Tz>, like: &ItemTime) -> ItemTime {
    match like {
        ItemTime::Zoned(z) => ItemTime::zoned(t.with_timezone(&z.timezone())),
        ItemTime::Utc(_) => ItemTime::Utc(t.with_timezone(&Utc)),
        ItemTime::Floating(_) => ItemTime::Floating(t.naive_local()),
        ItemTime::Date(_) => ItemTime::Date(t.date_naive()),
    }
}

/// Translates calcard's parsed rule into the `rrule` crate's, without its end.
fn build_rule(rule: &ICalendarRecurrenceRule) -> Option<rrule::RRule<rrule::Unvalidated>> {
    if rule
        .rscale
        .as_ref()
        .is_some_and(|scale| *scale != calcard::common::CalendarScale::Gregorian)
    {
        return None;
    }
    let freq = match rule.freq {
        ICalendarFrequency::Yearly => rrule::Frequency::Yearly,
        ICalendarFrequency::Monthly => rrule::Frequency::Monthly,
        ICalendarFrequency::Weekly => rrule::Frequency::Weekly,
        ICalendarFrequency::Daily => rrule::Frequency::Daily,
        ICalendarFrequency::Hourly => rrule::Frequency::Hourly,
        ICalendarFrequency::Minutely => rrule::Frequency::Minutely,
        ICalendarFrequency::Secondly => rrule::Frequency::Secondly,
    };
    let mut months = Vec::with_capacity(rule.bymonth.len());
    for month in &rule.bymonth {
        if month.is_leap() {
            return None;
        }
        months.push(Month::try_from(month.month()).ok()?);
    }
    let mut out = rrule::RRule::new(freq)
        .interval(rule.interval.unwrap_or(1).max(1))
        .by_set_pos(rule.bysetpos.clone())
        .by_month(&months)
        .by_month_day(rule.bymonthday.clone())
        .by_year_day(rule.byyearday.clone())
        .by_week_no(rule.byweekno.clone())
        .by_weekday(
            rule.byday
                .iter()
                .map(|day| match day.ordwk {
                    Some(n) => rrule::NWeekday::Nth(n, weekday(day.weekday)),
                    None => rrule::NWeekday::Every(weekday(day.weekday)),
                })
                .collect(),
        )
        .by_hour(rule.byhour.clone())
        .by_minute(rule.byminute.clone())
        .by_second(rule.bysecond.clone());
    if let Some(count) = rule.count {
        out = out.count(count);
    }
    if let Some(wkst) = rule.wkst {
        out = out.week_start(weekday(wkst));
    }
    Some(out)
}

fn weekday(day: ICalendarWeekday) -> Weekday {
    match day {
        ICalendarWeekday::Sunday => Weekday::Sun,
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
    }
}
