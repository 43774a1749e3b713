//! What plans and filters need to know of an item without holding it: its
//! identity, content hash, label and the dates the filters read. Stores keep
//! it in columns so a listing does not parse every item again.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Candidate, ContentHash, Item, ItemTime, ItemType, LastStart};

/// The dates the filters read (DESIGN 2.2), each with its nature kept, so
/// floating times and dates can be read in the spec's time zone later.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemDates {
    /// `LAST-MODIFIED` (or `DTSTAMP`), or a contact's `REV`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<DateTime<Utc>>,
    /// A schedule item's first start, a task's `DTSTART`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<ItemTime>,
    /// A task's due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<ItemTime>,
    /// For a recurring schedule item only: the start of its last occurrence,
    /// `None` (in [`RecurrenceEnd::Unbounded`]) when the series never ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<RecurrenceEnd>,
}

/// How a recurring series ends, as the recurrence filter reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecurrenceEnd {
    /// The last occurrence starts then.
    LastStart(ItemTime),
    /// The last occurrence starts at the later of a UTC or zoned time and a
    /// floating time or date, which depends on the spec's time zone (see
    /// [`LastStart::LaterOf`]).
    LaterOf(ItemTime, ItemTime),
    /// The last occurrence starts at the latest of these that belongs to
    /// the series in the spec's time zone (a floating or all-day series
    /// ending at a UTC `UNTIL`; see [`LastStart::Capped`]).
    Capped(Vec<Candidate>),
    /// The series has no end.
    Unbounded,
}

impl From<LastStart> for RecurrenceEnd {
    fn from(last: LastStart) -> Self {
        match last {
            LastStart::At(t) => RecurrenceEnd::LastStart(t),
            LastStart::LaterOf(a, b) => RecurrenceEnd::LaterOf(a, b),
            LastStart::Capped(candidates) => RecurrenceEnd::Capped(candidates),
            LastStart::Unbounded => RecurrenceEnd::Unbounded,
        }
    }
}

impl RecurrenceEnd {
    /// The start of the last occurrence with floating times and dates read
    /// in `tz` (the spec's time zone): the value and the instant it stands
    /// for. `None` when the series has no end.
    #[must_use]
    pub fn last_start_in(&self, tz: Tz) -> Option<(ItemTime, DateTime<Utc>)> {
        match self {
            RecurrenceEnd::LastStart(t) => Some((*t, t.instant_in(tz))),
            RecurrenceEnd::LaterOf(a, b) => {
                let (at_a, at_b) = (a.instant_in(tz), b.instant_in(tz));
                Some(if at_b > at_a { (*b, at_b) } else { (*a, at_a) })
            }
            RecurrenceEnd::Capped(candidates) => candidates
                .iter()
                .filter_map(|c| c.start_in(tz).map(|at| (c.start, at)))
                .max_by_key(|(_, at)| *at),
            RecurrenceEnd::Unbounded => None,
        }
    }

    /// The stable text form: the last start as [`ItemTime::encode`] writes
    /// it, both values separated by a space for [`RecurrenceEnd::LaterOf`],
    /// the candidates separated by spaces for [`RecurrenceEnd::Capped`] (a
    /// capped one as `start@until`, the `UNTIL` in UTC), or `unbounded`.
    #[must_use]
    pub fn encode(&self) -> String {
        match self {
            RecurrenceEnd::LastStart(t) => t.encode(),
            RecurrenceEnd::LaterOf(a, b) => format!("{} {}", a.encode(), b.encode()),
            RecurrenceEnd::Capped(candidates) => candidates
                .iter()
                .map(|c| match c.until {
                    Some(until) => {
                        format!("{}@{}", c.start.encode(), ItemTime::Utc(until).encode())
                    }
                    None => c.start.encode(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            RecurrenceEnd::Unbounded => "unbounded".to_owned(),
        }
    }

    /// Reads the form [`RecurrenceEnd::encode`] writes.
    #[must_use]
    pub fn decode(text: &str) -> Option<RecurrenceEnd> {
        if text == "unbounded" {
            Some(RecurrenceEnd::Unbounded)
        } else if text.contains('@') {
            let mut candidates = Vec::new();
            for part in text.split(' ') {
                candidates.push(match part.split_once('@') {
                    Some((start, until)) => {
                        let ItemTime::Utc(until) = ItemTime::decode(until)? else {
                            return None;
                        };
                        Candidate {
                            start: ItemTime::decode(start)?,
                            until: Some(until),
                        }
                    }
                    None => Candidate::sure(ItemTime::decode(part)?),
                });
            }
            Some(RecurrenceEnd::Capped(candidates))
        } else if let Some((a, b)) = text.split_once(' ') {
            Some(RecurrenceEnd::LaterOf(
                ItemTime::decode(a)?,
                ItemTime::decode(b)?,
            ))
        } else {
            ItemTime::decode(text).map(RecurrenceEnd::LastStart)
        }
    }
}

/// An item's identity, content hash, label and filter dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMeta {
    /// The item's type.
    pub item_type: ItemType,
    /// The UID.
    pub uid: String,
    /// The content hash (DESIGN 2.3's "same content").
    pub hash: ContentHash,
    /// Summary or name, for plans.
    pub label: Option<String>,
    /// The dates the filters read.
    pub dates: ItemDates,
}

impl ItemMeta {
    /// Reads the metadata of an item. For a recurring schedule item this
    /// walks its rules once to find the last start (bounded; see
    /// [`LastStart`]).
    #[must_use]
    pub fn of(item: &Item) -> ItemMeta {
        let dates = match item {
            Item::ScheduleItem(event) => ItemDates {
                modified: event.modified(),
                start: Some(*event.start()),
                due: None,
                recurrence: event
                    .is_recurring()
                    .then(|| RecurrenceEnd::from(event.last_start())),
            },
            Item::Task(task) => ItemDates {
                modified: task.modified(),
                start: task.start().copied(),
                due: task.due().copied(),
                recurrence: None,
            },
            Item::Contact(contact) => ItemDates {
                modified: contact.rev(),
                ..ItemDates::default()
            },
        };
        ItemMeta {
            item_type: item.item_type(),
            uid: item.uid().to_owned(),
            hash: item.content_hash(),
            label: item.label().map(str::to_owned),
            dates,
        }
    }
}
