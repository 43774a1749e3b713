//! A calendar item's own calendar object: the `VCALENDAR` wrapper, the
//! `VTIMEZONE`s the item uses and the item's components (master first), as
//! the codec builds it and as schedule items and tasks keep it (it is their
//! source of truth: see the module docs of `item`).

use calcard::icalendar::{ICalendar, ICalendarComponent, ICalendarProperty};

use super::component::BadValue;
use super::error::ItemError;
use super::hash::{self, ContentHash};
use super::time::ZoneResolver;

/// A calendar item's own copy of its components: a `VCALENDAR` wrapper, the
/// `VTIMEZONE`s it uses, then its components (master first).
#[derive(Debug, Clone)]
pub(crate) struct CalendarObject {
    pub(crate) ical: ICalendar,
    pub(crate) zones: ZoneResolver,
    pub(crate) uid: String,
    pub(crate) uid_derived: bool,
    /// Where the item's first component begins in the source text.
    pub(crate) line: usize,
    /// The component ids (in `ical`) of the item's components, master first.
    pub(crate) members: Vec<u32>,
}

impl CalendarObject {
    /// The item's components (master first, then overrides).
    pub(crate) fn components(&self) -> impl Iterator<Item = &ICalendarComponent> {
        self.members
            .iter()
            .filter_map(|id| self.ical.components.get(*id as usize))
    }

    /// The component without `RECURRENCE-ID`, if any.
    pub(crate) fn master(&self) -> Option<&ICalendarComponent> {
        self.components().find(|c| !is_override(c))
    }

    /// The master, or else the first override (a file may hold only
    /// overrides of a series stored elsewhere).
    pub(crate) fn main(&self) -> Option<&ICalendarComponent> {
        self.master().or_else(|| self.components().next())
    }

    /// The canonical text the content hash is computed from.
    pub(crate) fn canonical_text(&self) -> String {
        hash::canonical_calendar(&self.ical, &self.zones)
    }

    /// The content hash.
    pub(crate) fn content_hash(&self) -> ContentHash {
        ContentHash::of(&self.canonical_text())
    }

    /// The complete `.ics` text.
    pub(crate) fn to_ics(&self) -> String {
        self.ical.to_string()
    }

    /// The error for a missing property of the main component.
    pub(crate) fn missing(&self, property: &'static str) -> ItemError {
        ItemError::MissingProperty {
            component: self.kind(),
            uid: self.reported_uid(),
            line: self.line,
            property,
        }
    }

    /// The error for an unreadable value.
    pub(crate) fn invalid(&self, bad: BadValue) -> ItemError {
        ItemError::InvalidValue {
            component: self.kind(),
            uid: self.reported_uid(),
            line: self.line,
            property: bad.property,
            value: bad.value,
        }
    }

    fn kind(&self) -> String {
        self.main()
            .map(|c| c.component_type.as_str().to_string())
            .unwrap_or_default()
    }

    fn reported_uid(&self) -> Option<String> {
        (!self.uid_derived).then(|| self.uid.clone())
    }
}

/// Whether a component is an overridden instance (has a `RECURRENCE-ID`).
pub(super) fn is_override(component: &ICalendarComponent) -> bool {
    component
        .entries
        .iter()
        .any(|e| e.name == ICalendarProperty::RecurrenceId)
}
