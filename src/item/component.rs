//! Reading canonical fields out of parsed iCalendar components.
//!
//! A **component** is one `BEGIN:…`/`END:…` block (`VEVENT`, `VTODO`,
//! `VALARM`, …); a **property** is one of its lines (`SUMMARY:…`).

use calcard::icalendar::{
    ICalendarComponent, ICalendarEntry, ICalendarParameterName, ICalendarParameterValue,
    ICalendarPeriod, ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, Utc};

use super::time::{ItemTime, ZoneResolver};

/// Why a property's value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadValue {
    /// The property name, as written.
    pub(crate) property: String,
    /// The value, as far as it could be recovered.
    pub(crate) value: String,
}

/// The first entry of a property.
pub(crate) fn first<'a>(
    component: &'a ICalendarComponent,
    property: &ICalendarProperty,
) -> Option<&'a ICalendarEntry> {
    component.entries.iter().find(|e| &e.name == property)
}

/// A text property (`SUMMARY`, `LOCATION`, …); multiple values are joined
/// with commas, as they were written.
pub(crate) fn text(component: &ICalendarComponent, property: &ICalendarProperty) -> Option<String> {
    let entry = first(component, property)?;
    let parts: Vec<&str> = entry
        .values
        .iter()
        .filter_map(ICalendarValue::as_text)
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(","))
    }
}

/// Every value of every entry of a list property (`CATEGORIES`).
pub(crate) fn text_list(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
) -> Vec<String> {
    component
        .entries
        .iter()
        .filter(|e| &e.name == property)
        .flat_map(|e| e.values.iter().filter_map(ICalendarValue::as_text))
        .map(str::to_string)
        .collect()
}

/// An integer property (`PRIORITY`, `PERCENT-COMPLETE`).
pub(crate) fn integer(component: &ICalendarComponent, property: &ICalendarProperty) -> Option<i64> {
    first(component, property)?
        .values
        .first()
        .and_then(ICalendarValue::as_integer)
}

/// The text of an entry's value, for error messages.
fn shown(entry: &ICalendarEntry) -> String {
    entry
        .values
        .first()
        .and_then(|v| v.clone().into_text())
        .map(|t| t.chars().take(60).collect())
        .unwrap_or_default()
}

/// The time value of one entry, with its TZID.
pub(crate) fn entry_time(
    entry: &ICalendarEntry,
    zones: &ZoneResolver,
) -> Result<Option<ItemTime>, BadValue> {
    let bad = || BadValue {
        property: entry.name.as_str().to_string(),
        value: shown(entry),
    };
    match entry.values.first() {
        None => Ok(None),
        Some(ICalendarValue::PartialDateTime(dt)) => {
            ItemTime::from_partial(dt, entry.tz_id(), zones)
                .map(Some)
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

/// A date/time property (`DTSTART`, `DUE`, …); `Ok(None)` when absent.
pub(crate) fn time(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
    zones: &ZoneResolver,
) -> Result<Option<ItemTime>, BadValue> {
    match first(component, property) {
        Some(entry) => entry_time(entry, zones),
        None => Ok(None),
    }
}

/// Every time value of every entry of a property (`RDATE`, `EXDATE`); a
/// `PERIOD` counts by its start. Unreadable values are skipped: they cannot
/// move a range, and the raw property still round-trips.
pub(crate) fn time_list(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
    zones: &ZoneResolver,
) -> Vec<ItemTime> {
    let mut out = Vec::new();
    for entry in component.entries.iter().filter(|e| &e.name == property) {
        for value in &entry.values {
            let start = match value {
                ICalendarValue::PartialDateTime(dt) => Some(dt.as_ref()),
                ICalendarValue::Period(
                    ICalendarPeriod::Range { start, .. } | ICalendarPeriod::Duration { start, .. },
                ) => Some(start),
                _ => None,
            };
            if let Some(t) = start.and_then(|dt| ItemTime::from_partial(dt, entry.tz_id(), zones)) {
                out.push(t);
            }
        }
    }
    out
}

/// A UTC stamp (`LAST-MODIFIED`, `DTSTAMP`, `COMPLETED`); a value written
/// without `Z` is read as UTC, which is what writers that omit it mean.
pub(crate) fn stamp(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
) -> Option<DateTime<Utc>> {
    let entry = first(component, property)?;
    entry_time(entry, &ZoneResolver::default())
        .ok()
        .flatten()
        .map(|t| t.instant_in(chrono_tz::UTC))
}

/// A `DURATION` as (days, seconds), signed.
pub(crate) fn duration(component: &ICalendarComponent) -> Option<(i64, i64)> {
    match first(component, &ICalendarProperty::Duration)?
        .values
        .first()?
    {
        ICalendarValue::Duration(d) => {
            let days = i64::from(d.weeks) * 7 + i64::from(d.days);
            let seconds =
                i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds);
            Some(if d.neg {
                (-days, -seconds)
            } else {
                (days, seconds)
            })
        }
        _ => None,
    }
}

/// An organizer or attendee.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Participant {
    /// The calendar user address as written (usually `mailto:…`).
    pub address: String,
    /// The display name (`CN`).
    pub common_name: Option<String>,
    /// The participation status (`PARTSTAT`: `ACCEPTED`, `DECLINED`, …).
    pub status: Option<String>,
    /// The role (`ROLE`: `CHAIR`, `REQ-PARTICIPANT`, …).
    pub role: Option<String>,
}

impl Participant {
    /// The email address, without the `mailto:` scheme.
    #[must_use]
    pub fn email(&self) -> &str {
        calcard::icalendar::utils::strip_mailto_scheme(&self.address)
    }
}

fn param_text(entry: &ICalendarEntry, name: &ICalendarParameterName) -> Option<String> {
    entry
        .parameter(name)
        .and_then(ICalendarParameterValue::as_text)
        .map(str::to_string)
}

/// The participants named by a property (`ORGANIZER`, `ATTENDEE`).
pub(crate) fn participants(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
) -> Vec<Participant> {
    component
        .entries
        .iter()
        .filter(|e| &e.name == property)
        .filter_map(|entry| {
            let address = entry.values.first()?.clone().into_text()?.into_owned();
            Some(Participant {
                address,
                common_name: param_text(entry, &ICalendarParameterName::Cn),
                status: param_text(entry, &ICalendarParameterName::Partstat),
                role: param_text(entry, &ICalendarParameterName::Role),
            })
        })
        .collect()
}

/// The `STATUS`, as written in upper case (`CONFIRMED`, `COMPLETED`, …).
pub(crate) fn status(component: &ICalendarComponent) -> Option<String> {
    text(component, &ICalendarProperty::Status).map(|s| s.to_ascii_uppercase())
}
