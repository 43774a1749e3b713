//! Endpoints: the two sides of a snapshot, and the one place that knows a
//! protocol or a storage format.
//!
//! Words used here:
//! - **endpoint**: the CRM store, or a target (a vdir folder, a CalDAV
//!   server). Everything above this module speaks canonical items.
//! - **collection**: one folder of items of one type for one user: a CRM
//!   user's schedule items, a vdir folder, a CalDAV calendar. A snapshot reads
//!   and writes collections through [`Collection`].
//! - **href**: how a collection names one of its items (a file name, a URL
//!   path, the CRM's UID). It is stable until the item is deleted.
//! - **version**: an opaque token that changes on every write of an item (an
//!   HTTP ETag, a file's modification stamp, the CRM's revision number).
//!   Updates and deletes state the version they expect, so a change made
//!   since the plan was read is never overwritten.
//!
//! The trait is synchronous: the SQLite store and vdir folders are local and
//! blocking by nature, and the executor runs operations on a bounded pool of
//! threads. A network endpoint (CalDAV) uses a blocking HTTP client, whose
//! pooled connections those threads share.

pub mod caldav;
pub mod crm;
mod naming;
mod open;
pub mod vdir;

pub use naming::file_name_for_uid;
pub use open::{Endpoints, StoreEndpoints};

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::item::{Item, ItemMeta, ItemType, parse_calendar, parse_vcards};

/// How a collection names one item (file name, URL path, CRM UID).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct Href(pub String);

impl fmt::Display for Href {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An opaque token that changes on every write of an item (an ETag).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Version(pub String);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of a collection listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// Where the item is.
    pub href: Href,
    /// Its current version.
    pub version: Version,
    /// What filters and plans need to know of it, when the endpoint can say
    /// without fetching the item (the CRM store keeps it in indexed columns;
    /// a vdir folder or a server needs the item itself).
    pub meta: Option<ItemMeta>,
}

/// An item read from a collection.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it was read.
    pub href: Href,
    /// Its version when it was read.
    pub version: Version,
    /// The item, parsed.
    pub item: Item,
}

/// What a successful write left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Where the item now is.
    pub href: Href,
    /// Its new version.
    pub version: Version,
}

/// What went wrong, as callers branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The item (or the collection) is not there.
    DoesNotExist,
    /// The item changed since its version was read (an HTTP 412): a conflict
    /// to report, never to force.
    PreconditionFailed,
    /// A create-only write met an item that is already there.
    Exists,
    /// The item or the request is not acceptable (unparsable data, an item
    /// of another type, a refused value).
    Invalid,
    /// Worth retrying later: a timeout, a 5xx, a busy database.
    Transient,
    /// Anything else: permissions, a full disk, a refused login.
    Other,
}

impl ErrorKind {
    /// The word used in messages and in the journal.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::DoesNotExist => "does not exist",
            ErrorKind::PreconditionFailed => "changed since it was read",
            ErrorKind::Exists => "already exists",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Transient => "temporary failure",
            ErrorKind::Other => "failed",
        }
    }
}

/// An endpoint's error: a kind to branch on and a message for people that
/// names the collection and the item. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EndpointError {
    /// What went wrong, as callers branch on it.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
    /// For a transient error, how long the endpoint asked us to wait.
    pub retry_after: Option<std::time::Duration>,
}

impl EndpointError {
    /// An error of `kind` with `message`.
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EndpointError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// The result of fetching one href.
pub type FetchResult = Result<Fetched, EndpointError>;

/// One collection of one item type, as both sides of a snapshot see it.
///
/// Writes are conditional, always: [`Collection::create`] never replaces an
/// item, [`Collection::update`] and [`Collection::delete`] act only at the
/// version the caller read. Implementations are `Sync`: the executor calls
/// them from several threads.
pub trait Collection: Send + Sync {
    /// The type of items this collection holds for the snapshot. Items of
    /// another type found in it (a task in a calendar that also holds
    /// events) are left out of listings when the endpoint can tell without
    /// reading them (the CRM store); an endpoint that cannot (a vdir folder,
    /// where both are `.ics` files) lists them, and [`Collection::fetch`]
    /// returns them as they are: callers check [`Item::item_type`].
    fn item_type(&self) -> ItemType;

    /// Names the collection in messages (`vdir office: calendars/jdoe`).
    fn describe(&self) -> String;

    /// The href a create of an item with this UID would take, when the
    /// endpoint names new items after their UID (a vdir file name, a CalDAV
    /// resource, the CRM's UID); `None` when it cannot say. A plan uses it to
    /// know which UID an unreadable item at that href holds.
    fn href_of_new(&self, _uid: &str) -> Option<Href> {
        None
    }

    /// Every item of the collection, cheaply: href and version, and the
    /// item's metadata when the endpoint has it without reading the item.
    ///
    /// # Errors
    /// The collection cannot be read (missing, unreachable, refused).
    fn list(&self) -> Result<Vec<Listing>, EndpointError>;

    /// Reads many items in one call. The result has one entry per href, in
    /// the same order; an unreadable or unparsable item is an `Err` for that
    /// href only (kind `Invalid` with the reason, or `DoesNotExist`).
    ///
    /// # Errors
    /// The whole call failed (the collection is unreachable).
    fn fetch(&self, hrefs: &[Href]) -> Result<Vec<FetchResult>, EndpointError>;

    /// Writes a new item; fails with `Exists` if an item is already at the
    /// href this item would take.
    ///
    /// # Errors
    /// As the kinds of [`ErrorKind`] say.
    fn create(&self, item: &Item) -> Result<Written, EndpointError>;

    /// Writes several new items, as [`Collection::create`] does each; one
    /// result per item, in order. Endpoints that can share work between
    /// the writes (one flush to the disk for many files) override it.
    fn create_all(&self, items: &[&Item]) -> Vec<Result<Written, EndpointError>> {
        items.iter().map(|item| self.create(item)).collect()
    }

    /// Replaces the item at `href` if it is still at `version`; fails with
    /// `PreconditionFailed` if it changed, `DoesNotExist` if it is gone.
    ///
    /// # Errors
    /// As the kinds of [`ErrorKind`] say.
    fn update(&self, href: &Href, version: &Version, item: &Item)
    -> Result<Written, EndpointError>;

    /// Deletes the item at `href` if it is still at `version`.
    ///
    /// # Errors
    /// As the kinds of [`ErrorKind`] say.
    fn delete(&self, href: &Href, version: &Version) -> Result<(), EndpointError>;
}

/// Reads the one item of `item_type` that a stored resource holds (a vdir
/// file, a CalDAV/CardDAV resource). The error is the reason, for the
/// caller to wrap with the resource's name; `resource` names what should
/// hold one item (`a vdir file`).
pub(crate) fn parse_one(text: &str, item_type: ItemType, resource: &str) -> Result<Item, String> {
    let parsed = match item_type {
        ItemType::Contacts => parse_vcards(text),
        ItemType::ScheduleItems | ItemType::Tasks => parse_calendar(text),
    };
    if !parsed.errors.is_empty() {
        let reasons: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        return Err(reasons.join("; "));
    }
    let mut items = parsed.items;
    match items.len() {
        1 => Ok(items.remove(0)),
        0 => {
            let mut reason = String::from("holds no event, task or contact");
            for skipped in &parsed.skipped {
                reason.push_str(" (");
                reason.push_str(&skipped.to_string());
                reason.push(')');
            }
            Err(reason)
        }
        count => {
            let uids: Vec<&str> = items.iter().map(Item::uid).collect();
            Err(format!(
                "holds {count} items (UIDs {}), but {resource} holds one",
                uids.join(", ")
            ))
        }
    }
}

/// Refuses an item a collection of `item_type`, named `label`, must not hold.
pub(crate) fn check_item_type(
    label: &str,
    item_type: ItemType,
    item: &Item,
) -> Result<(), EndpointError> {
    if item.item_type() == item_type {
        Ok(())
    } else {
        Err(EndpointError::new(
            ErrorKind::Invalid,
            format!(
                "{label}: item {} is one of {}, but this collection holds {item_type}",
                item.uid(),
                item.item_type(),
            ),
        ))
    }
}
