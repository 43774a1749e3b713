//! Tasks (`VTODO`).
//!
//! A task's dates are all optional: a task may have a start (`DTSTART`), a
//! due date (`DUE`, or `DTSTART` + `DURATION`), both, or neither. The task
//! filters' `includeUndated` decides what a missing date means.

use calcard::icalendar::ICalendarProperty;
use chrono::{DateTime, Utc};

use super::component;
use super::error::ItemError;
use super::hash::ContentHash;
use super::object::CalendarObject;
use super::time::ItemTime;

/// A task.
#[derive(Debug, Clone)]
pub struct Task {
    object: CalendarObject,
    hash: ContentHash,
    summary: Option<String>,
    description: Option<String>,
    start: Option<ItemTime>,
    due: Option<ItemTime>,
    completed: Option<DateTime<Utc>>,
    status: Option<String>,
    priority: Option<u8>,
    percent_complete: Option<u8>,
    last_modified: Option<DateTime<Utc>>,
    dtstamp: Option<DateTime<Utc>>,
}

impl Task {
    /// Reads the canonical fields of a calendar object holding `VTODO`s.
    pub(crate) fn from_object(object: CalendarObject) -> Result<Self, ItemError> {
        let main = object.main().ok_or_else(|| object.missing("VTODO"))?;
        let zones = &object.zones;
        let start = component::time(main, &ICalendarProperty::Dtstart, zones)
            .map_err(|bad| object.invalid(bad))?;
        let due = match component::time(main, &ICalendarProperty::Due, zones)
            .map_err(|bad| object.invalid(bad))?
        {
            Some(due) => Some(due),
            None => start
                .zip(component::duration(main))
                .map(|(start, (days, secs))| start.add(days, secs)),
        };
        // Out-of-range numbers are ignored rather than fatal: they still
        // round-trip, they just do not show in the model.
        let small = |property: &ICalendarProperty, max: i64| {
            component::integer(main, property)
                .filter(|v| (0..=max).contains(v))
                .and_then(|v| u8::try_from(v).ok())
        };
        let latest = |property: &ICalendarProperty| {
            object
                .components()
                .filter_map(|c| component::stamp(c, property))
                .max()
        };
        Ok(Task {
            summary: component::text(main, &ICalendarProperty::Summary),
            description: component::text(main, &ICalendarProperty::Description),
            completed: component::stamp(main, &ICalendarProperty::Completed),
            status: component::status(main),
            priority: small(&ICalendarProperty::Priority, 9),
            percent_complete: small(&ICalendarProperty::PercentComplete, 100),
            last_modified: latest(&ICalendarProperty::LastModified),
            dtstamp: latest(&ICalendarProperty::Dtstamp),
            start,
            due,
            hash: object.content_hash(),
            object,
        })
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

    /// The start (`DTSTART`), if any.
    #[must_use]
    pub fn start(&self) -> Option<&ItemTime> {
        self.start.as_ref()
    }

    /// The due date (`DUE`, or `DTSTART` + `DURATION`), if any.
    #[must_use]
    pub fn due(&self) -> Option<&ItemTime> {
        self.due.as_ref()
    }

    /// When it was completed (`COMPLETED`).
    #[must_use]
    pub fn completed(&self) -> Option<DateTime<Utc>> {
        self.completed
    }

    /// The `STATUS` (`NEEDS-ACTION`, `IN-PROCESS`, `COMPLETED`, `CANCELLED`).
    #[must_use]
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The `PRIORITY`, 0 (undefined) to 9 (lowest); 1 is the highest.
    #[must_use]
    pub fn priority(&self) -> Option<u8> {
        self.priority
    }

    /// The `PERCENT-COMPLETE`, 0 to 100.
    #[must_use]
    pub fn percent_complete(&self) -> Option<u8> {
        self.percent_complete
    }

    /// `LAST-MODIFIED`.
    #[must_use]
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified
    }

    /// When the task was last changed: `LAST-MODIFIED`, else `DTSTAMP`.
    #[must_use]
    pub fn modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified.or(self.dtstamp)
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

    /// The complete `.ics` text of this task.
    #[must_use]
    pub fn to_ics(&self) -> String {
        self.object.to_ics()
    }
}
