//! Schedule items: calendar events (`VEVENT`), which may recur.
//!
//! A schedule item is a **series**: the master `VEVENT` (with its `RRULE`,
//! `RDATE`s and `EXDATE`s) plus every overridden instance (a `VEVENT` with
//! the same UID and a `RECURRENCE-ID`). Its canonical fields are read from
//! the master; a file that holds only overrides (the master lives elsewhere)
//! still gives an item, read from its first override.

use calcard::icalendar::{
    ICalendarComponent, ICalendarParameterName, ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::component::{self, Participant};
use super::error::ItemError;
use super::hash::ContentHash;
use super::object::CalendarObject;
use super::recurrence::{LastStart, OverriddenInstance, Recurrence, RecurrenceRule};
use super::time::ItemTime;

/// The series' `RRULE`s. One that cannot be read is a problem to report:
/// with a valid frequency it is kept as never ending, without one it is
/// dropped.
fn rules(
    master: &ICalendarComponent,
    start: &ItemTime,
    problems: &mut Vec<String>,
) -> Vec<RecurrenceRule> {
    let mut rules = Vec::new();
    for entry in master
        .entries
        .iter()
        .filter(|e| e.name == ICalendarProperty::Rrule)
    {
        match entry.values.first() {
            Some(ICalendarValue::RecurrenceRule(rule)) => {
                rules.push(RecurrenceRule::new(Some((**rule).clone()), start));
            }
            // calcard keeps a rule it cannot parse as text.
            value => {
                let text = match value {
                    Some(ICalendarValue::Text(text)) => text.trim().to_owned(),
                    _ => String::new(),
                };
                if has_valid_freq(&text) {
                    // A rule that recurs in a way snapsync cannot
                    // read: never ending, on the safe side.
                    rules.push(RecurrenceRule::new(None, start));
                    problems.push(format!(
                        "RRULE {text:?} cannot be read: the series is taken as never ending"
                    ));
                } else {
                    // No frequency, no recurrence: the event is its
                    // own start only, as other iCalendar readers
                    // take it (an empty `RRULE:` would otherwise
                    // match every later range).
                    problems.push(format!(
                        "RRULE {text:?} has no valid FREQ: the event is read as not recurring"
                    ));
                }
            }
        }
    }
    rules
}

/// Whether an unparsed `RRULE` value names a frequency RFC 5545 knows.
fn has_valid_freq(rule: &str) -> bool {
    const FREQUENCIES: [&str; 7] = [
        "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY",
    ];
    rule.split(';').any(|part| {
        part.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("FREQ")
                && FREQUENCIES
                    .iter()
                    .any(|f| value.trim().eq_ignore_ascii_case(f))
        })
    })
}

/// A calendar event with its recurrence and overridden instances.
#[derive(Debug, Clone)]
pub struct ScheduleItem {
    object: CalendarObject,
    hash: ContentHash,
    summary: Option<String>,
    description: Option<String>,
    location: Option<String>,
    start: ItemTime,
    end: Option<ItemTime>,
    status: Option<String>,
    categories: Vec<String>,
    organizer: Option<Participant>,
    attendees: Vec<Participant>,
    last_modified: Option<DateTime<Utc>>,
    dtstamp: Option<DateTime<Utc>>,
    recurrence: Recurrence,
    has_master: bool,
    problems: Vec<String>,
}

impl ScheduleItem {
    /// Reads the canonical fields of a calendar object holding `VEVENT`s.
    pub(crate) fn from_object(object: CalendarObject) -> Result<Self, ItemError> {
        let main = object.main().ok_or_else(|| object.missing("VEVENT"))?;
        let has_master = object.master().is_some();
        let zones = &object.zones;
        let start = match component::time(main, &ICalendarProperty::Dtstart, zones)
            .map_err(|bad| object.invalid(bad))?
        {
            Some(start) => start,
            // An override without DTSTART starts at its RECURRENCE-ID.
            None if !has_master => component::time(main, &ICalendarProperty::RecurrenceId, zones)
                .map_err(|bad| object.invalid(bad))?
                .ok_or_else(|| object.missing("DTSTART"))?,
            None => return Err(object.missing("DTSTART")),
        };
        let end = match component::time(main, &ICalendarProperty::Dtend, zones)
            .map_err(|bad| object.invalid(bad))?
        {
            Some(end) => Some(end),
            None => component::duration(main).map(|(days, secs)| start.add(days, secs)),
        };

        let mut recurrence = Recurrence::default();
        let mut problems = Vec::new();
        if let Some(master) = object.master() {
            recurrence.rules = rules(master, &start, &mut problems);
            recurrence.rdates = component::time_list(master, &ICalendarProperty::Rdate, zones);
            recurrence.exdates = component::time_list(master, &ICalendarProperty::Exdate, zones);
        }
        for instance in object.components().filter(|c| {
            c.entries
                .iter()
                .any(|e| e.name == ICalendarProperty::RecurrenceId)
        }) {
            let Some(rid_entry) = component::first(instance, &ICalendarProperty::RecurrenceId)
            else {
                continue;
            };
            let Some(recurrence_id) =
                component::entry_time(rid_entry, zones).map_err(|bad| object.invalid(bad))?
            else {
                continue;
            };
            recurrence.overrides.push(OverriddenInstance {
                recurrence_id,
                start: component::time(instance, &ICalendarProperty::Dtstart, zones)
                    .ok()
                    .flatten(),
                this_and_future: rid_entry.has_parameter(&ICalendarParameterName::Range),
            });
        }

        let latest = |property: &ICalendarProperty| {
            object
                .components()
                .filter_map(|c| component::stamp(c, property))
                .max()
        };
        let last_modified = latest(&ICalendarProperty::LastModified);
        let dtstamp = latest(&ICalendarProperty::Dtstamp);
        let hash = object.content_hash();
        Ok(ScheduleItem {
            summary: component::text(main, &ICalendarProperty::Summary),
            description: component::text(main, &ICalendarProperty::Description),
            location: component::text(main, &ICalendarProperty::Location),
            status: component::status(main),
            categories: component::text_list(main, &ICalendarProperty::Categories),
            organizer: component::participants(main, &ICalendarProperty::Organizer)
                .into_iter()
                .next(),
            attendees: component::participants(main, &ICalendarProperty::Attendee),
            start,
            end,
            last_modified,
            dtstamp,
            recurrence,
            has_master,
            problems,
            hash,
            object,
        })
    }

    /// What could not be read as written, each a sentence naming the
    /// property and what snapsync made of it (an `RRULE` without a valid
    /// `FREQ` is read as no rule). The item is still synced as it is.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The UID.
    #[must_use]
    pub fn uid(&self) -> &str {
        &self.object.uid
    }

    /// Whether the UID was derived by snapsync (the source had none).
    #[must_use]
    pub fn uid_is_derived(&self) -> bool {
        self.object.uid_derived
    }

    /// The title (`SUMMARY`).
    #[must_use]
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// The notes (`DESCRIPTION`).
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Where (`LOCATION`).
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The start (`DTSTART`); for a series, its first start.
    #[must_use]
    pub fn start(&self) -> &ItemTime {
        &self.start
    }

    /// The end (`DTEND`, or `DTSTART` + `DURATION`), if given. For an all-day
    /// event it is the day after the last day (exclusive), as written.
    #[must_use]
    pub fn end(&self) -> Option<&ItemTime> {
        self.end.as_ref()
    }

    /// Whether the event covers whole days (`DTSTART;VALUE=DATE`).
    #[must_use]
    pub fn is_all_day(&self) -> bool {
        self.start.is_date()
    }

    /// The IANA zone of the start, when it is zoned.
    #[must_use]
    pub fn time_zone(&self) -> Option<Tz> {
        match self.start {
            ItemTime::Zoned(t) => Some(t.timezone()),
            _ => None,
        }
    }

    /// The `STATUS` (`CONFIRMED`, `TENTATIVE`, `CANCELLED`), upper case.
    #[must_use]
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The `CATEGORIES`, every value of every line.
    #[must_use]
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The `ORGANIZER`.
    #[must_use]
    pub fn organizer(&self) -> Option<&Participant> {
        self.organizer.as_ref()
    }

    /// The `ATTENDEE`s (of the master).
    #[must_use]
    pub fn attendees(&self) -> &[Participant] {
        &self.attendees
    }

    /// `LAST-MODIFIED`, the latest over the master and its overrides.
    #[must_use]
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified
    }

    /// `DTSTAMP`, the latest over the master and its overrides.
    #[must_use]
    pub fn dtstamp(&self) -> Option<DateTime<Utc>> {
        self.dtstamp
    }

    /// When the item was last changed: `LAST-MODIFIED`, else `DTSTAMP`.
    #[must_use]
    pub fn modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified.or(self.dtstamp)
    }

    /// Whether the item recurs (`RRULE` or `RDATE`). A file holding only
    /// overrides of a series counts as recurring too.
    #[must_use]
    pub fn is_recurring(&self) -> bool {
        self.recurrence.is_recurring() || !self.has_master
    }

    /// Whether the master component is present (not only overrides).
    #[must_use]
    pub fn has_master(&self) -> bool {
        self.has_master
    }

    /// The recurrence data: rules, RDATEs, EXDATEs, overrides.
    #[must_use]
    pub fn recurrence(&self) -> &Recurrence {
        &self.recurrence
    }

    /// The start of the last occurrence; see [`LastStart`].
    #[must_use]
    pub fn last_start(&self) -> LastStart {
        self.recurrence.last_start(&self.start)
    }

    /// The content hash.
    #[must_use]
    pub fn content_hash(&self) -> ContentHash {
        self.hash
    }

    /// The canonical text the hash is computed from.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        self.object.canonical_text()
    }

    /// The complete `.ics` text of this item.
    #[must_use]
    pub fn to_ics(&self) -> String {
        self.object.to_ics()
    }
}
