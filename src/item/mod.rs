//! Canonical items: the schedule items, tasks and contacts a snapshot moves,
//! their iCalendar / vCard codec, and their content hashes.
//!
//! Words used here:
//! - **item**: one thing a snapshot creates, updates or deletes, identified
//!   by its **UID**. A schedule item is a `VEVENT` together with every
//!   overridden instance (a `VEVENT` with the same UID and a
//!   `RECURRENCE-ID`); a task is a `VTODO` (with its overrides, if any); a
//!   contact is a `VCARD`.
//! - **source of truth**: an item keeps its parsed calcard tree, and writing
//!   it back writes that tree, so every property round-trips, including those
//!   the model does not name (X- properties, alarms, attachments, photos).
//!   The canonical fields (summary, start, …) are read from it once, for
//!   filters and plans.
//! - **derived UID**: an item written without a UID gets
//!   `snapsync-<32 hex digits>`, the start of the BLAKE3 hash of its canonical
//!   content (so the same item always gets the same UID, however a server
//!   formats it); the UID is added to the item so that what snapsync writes
//!   is valid.
//! - **content hash**: see [`hash`] for what it ignores and why.
//! - **modified**: when an item was last changed, as the `modified` filters
//!   read it. See [`Item::modified`].

pub mod codec;
mod component;
pub mod contact;
mod error;
pub mod event;
pub mod hash;
pub mod meta;
mod object;
pub mod recurrence;
pub mod task;
pub mod time;

use chrono::{DateTime, Utc};

pub use codec::{
    Parsed, SkipReason, SkippedComponent, parse_any, parse_calendar, parse_vcards, sniff_item_text,
};
pub use component::Participant;
pub use contact::{Address, Contact, ContactEmail, ContactPhone, StructuredName};
pub use error::ItemError;
pub use event::ScheduleItem;
pub use hash::{ContentHash, ContentHashParseError};
pub use meta::{ItemDates, ItemMeta, RecurrenceEnd};
pub use recurrence::{
    Candidate, LastStart, OverriddenInstance, Recurrence, RecurrenceRule, RuleEnd,
};
pub use task::Task;
pub use time::{ItemTime, Zoned, local_to_zoned, resolve_zone_name};

/// The three kinds of item a snapshot can move.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ItemType {
    /// Calendar events (iCalendar VEVENT), which may recur.
    ScheduleItems,
    /// Tasks (iCalendar VTODO).
    Tasks,
    /// Contacts (vCard).
    Contacts,
}
impl ItemType {
    /// Every item type, in the order plans list them.
    pub const ALL: [ItemType; 3] = [ItemType::ScheduleItems, ItemType::Tasks, ItemType::Contacts];
    /// The name used in specs, plans and messages (`scheduleItems`, `tasks`, `contacts`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::ScheduleItems => "scheduleItems",
            ItemType::Tasks => "tasks",
            ItemType::Contacts => "contacts",
        }
    }
}
impl std::fmt::Display for ItemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ItemType {
    /// The file extension items of this type are stored with (`ics`, `vcf`).
    #[must_use]
    pub fn file_extension(self) -> &'static str {
        match self {
            ItemType::ScheduleItems | ItemType::Tasks => "ics",
            ItemType::Contacts => "vcf",
        }
    }

    /// The MIME type of the stored text (`text/calendar`, `text/vcard`).
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            ItemType::ScheduleItems | ItemType::Tasks => "text/calendar",
            ItemType::Contacts => "text/vcard",
        }
    }
}

/// One schedule item, task or contact.
// Items are built once and moved rarely; boxing the larger variants would
// only make matching on them clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Item {
    /// A calendar event, with its overridden instances.
    ScheduleItem(ScheduleItem),
    /// A task.
    Task(Task),
    /// A contact.
    Contact(Contact),
}

impl Item {
    /// Which kind of item this is.
    #[must_use]
    pub fn item_type(&self) -> ItemType {
        match self {
            Item::ScheduleItem(_) => ItemType::ScheduleItems,
            Item::Task(_) => ItemType::Tasks,
            Item::Contact(_) => ItemType::Contacts,
        }
    }

    /// The UID: the item's identity on every side of a sync.
    #[must_use]
    pub fn uid(&self) -> &str {
        match self {
            Item::ScheduleItem(e) => e.uid(),
            Item::Task(t) => t.uid(),
            Item::Contact(c) => c.uid(),
        }
    }

    /// Whether the UID was derived by snapsync (the source had none).
    #[must_use]
    pub fn uid_is_derived(&self) -> bool {
        match self {
            Item::ScheduleItem(e) => e.uid_is_derived(),
            Item::Task(t) => t.uid_is_derived(),
            Item::Contact(c) => c.uid_is_derived(),
        }
    }

    /// The hash of the item's canonical content; equal hashes mean "same
    /// content" (DESIGN 2.3).
    #[must_use]
    pub fn content_hash(&self) -> ContentHash {
        match self {
            Item::ScheduleItem(e) => e.content_hash(),
            Item::Task(t) => t.content_hash(),
            Item::Contact(c) => c.content_hash(),
        }
    }

    /// The normalized text the content hash is computed from; useful to show
    /// why two items differ.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        match self {
            Item::ScheduleItem(e) => e.canonical_text(),
            Item::Task(t) => t.canonical_text(),
            Item::Contact(c) => c.canonical_text(),
        }
    }

    /// When the item was last changed: `LAST-MODIFIED` (the latest over a
    /// series and its overrides), falling back to `DTSTAMP`, which RFC 5545
    /// defines as the last revision of a stored object; for a contact, `REV`.
    /// `None` when the item carries none of them.
    #[must_use]
    pub fn modified(&self) -> Option<DateTime<Utc>> {
        match self {
            Item::ScheduleItem(e) => e.modified(),
            Item::Task(t) => t.modified(),
            Item::Contact(c) => c.rev(),
        }
    }

    /// The item as a complete `.ics` (a `VCALENDAR` with the `VTIMEZONE`s it
    /// uses) or `.vcf` text. Deterministic: the same item always gives the
    /// same bytes.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Item::ScheduleItem(e) => e.to_ics(),
            Item::Task(t) => t.to_ics(),
            Item::Contact(c) => c.to_vcf(),
        }
    }

    /// The file extension of [`Item::to_text`] (`ics` or `vcf`).
    #[must_use]
    pub fn file_extension(&self) -> &'static str {
        self.item_type().file_extension()
    }

    /// What could not be read as written (see
    /// [`ScheduleItem::problems`]); empty for most items. Plans report
    /// them as warnings naming the item.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        match self {
            Item::ScheduleItem(e) => e.problems(),
            Item::Task(_) | Item::Contact(_) => &[],
        }
    }

    /// A short human label for plans and messages (summary or name).
    #[must_use]
    pub fn label(&self) -> Option<&str> {
        match self {
            Item::ScheduleItem(e) => e.summary(),
            Item::Task(t) => t.summary(),
            Item::Contact(c) => c.formatted_name(),
        }
    }
}

#[cfg(test)]
mod tests;
