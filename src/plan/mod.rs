//! Plans: what a snapshot would do, item by item, with the reason for each
//! operation and the preconditions an apply checks before it writes.
//!
//! Words used here:
//! - **section**: one link and one item type of a snapshot: a source
//!   collection, a destination collection and the operations between them.
//! - **operation**: what happens to one item (by UID): see [`Action`] for
//!   the rows of DESIGN 2.3's table.
//! - **precondition**: what must still hold when an operation is applied:
//!   the destination's version (or its absence, for a create) and the
//!   source's content hash. A saved plan whose preconditions no longer hold
//!   is stale there, never forced.
//!
//! [`compile`] builds a plan from the endpoints and the state store and
//! writes nothing; [`render`] shows it as text, JSON or Markdown;
//! [`saved`] records where a plan was made against (targets, collections,
//! stores, references to secrets) and seals it with a checksum, so that a
//! saved plan is applied on its own, there, and only as it was saved.

pub mod cache;
pub mod compile;
pub mod render;
pub mod saved;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cache::SourceCache;
pub use compile::{PlanError, compile, compile_keeping};
pub use saved::{PlanStores, PlanTarget, SavedPlanError};

use crate::endpoint::{Href, Version};
use crate::item::{ContentHash, ItemType};
use crate::outputs::{FormatVersion, JsonOutput};
use crate::spec::types::{Direction, OrphanPolicy};

/// The `formatVersion` of a plan (`--format json`, `--out FILE`): see
/// [`JsonOutput::Plan`].
pub type PlanFormatVersion = FormatVersion<{ JsonOutput::Plan.format_version() }>;

/// What happens to one item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// In scope at the source, absent at the destination, never synced.
    Create,
    /// In scope at the source, absent at the destination, synced before: it
    /// was deleted at the destination and comes back.
    Restore,
    /// In scope at the source and at the destination with other content:
    /// the source wins.
    Update,
    /// In scope at the source and at the destination with the same content.
    Keep,
    /// Absent at the source, in scope at the destination, synced before: it
    /// was deleted at the source since.
    Delete,
    /// Only at the destination, never synced, kept (`orphans: keep`).
    OrphanKept,
    /// Only at the destination, never synced, deleted (`orphans: delete`).
    OrphanDeleted,
    /// At the source, but the filter does not match it: not touched.
    NotMatched,
}

impl Action {
    /// Every action, in the order totals list them.
    pub const ALL: [Action; 8] = [
        Action::Create,
        Action::Restore,
        Action::Update,
        Action::Delete,
        Action::OrphanDeleted,
        Action::OrphanKept,
        Action::Keep,
        Action::NotMatched,
    ];

    /// What applying it does to the destination's item, in the journal's
    /// words; `None` for an action that writes nothing (and is not
    /// journalled). Every variant is listed, so a new action must say what
    /// it writes: [`Action::writes`] and [`Action::deletes`] follow from it.
    #[must_use]
    pub fn effect(self) -> Option<crate::state::Action> {
        use crate::state::Action as Journal;
        match self {
            Action::Create => Some(Journal::Create),
            Action::Restore => Some(Journal::Restore),
            Action::Update => Some(Journal::Update),
            Action::Delete | Action::OrphanDeleted => Some(Journal::Delete),
            Action::Keep | Action::OrphanKept | Action::NotMatched => None,
        }
    }

    /// Whether applying it writes to the destination.
    #[must_use]
    pub fn writes(self) -> bool {
        self.effect().is_some()
    }

    /// Whether it removes an item from the destination.
    #[must_use]
    pub fn deletes(self) -> bool {
        self.effect() == Some(crate::state::Action::Delete)
    }

    /// The word plans show (`create`, `orphan kept`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Restore => "restore",
            Action::Update => "update",
            Action::Keep => "keep",
            Action::Delete => "delete",
            Action::OrphanKept => "orphan kept",
            Action::OrphanDeleted => "orphan deleted",
            Action::NotMatched => "not matched",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side's view of an item when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemState {
    /// Where it is.
    pub href: Href,
    /// Its version then.
    pub version: Version,
    /// Its content hash then. Absent only for a destination item that
    /// could not be read: an update replaces it at its version, whatever
    /// it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<ContentHash>,
}

/// An instant that decided whether an item is in scope, for JSON readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecidingDate {
    /// Which date (`start`, `due`, `modified`, `recurrenceStart`, `recurrenceEnd`).
    pub name: Cow<'static, str>,
    /// Its instant.
    pub at: DateTime<Utc>,
}

/// What happens to one item, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// What happens.
    pub action: Action,
    /// The item's UID.
    pub uid: String,
    /// Its summary or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why, in words a user can check against the item.
    pub reason: Cow<'static, str>,
    /// The dates that decided the filter, when a filter decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<DecidingDate>,
    /// The item at the source (the content an apply must still find there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ItemState>,
    /// The item at the destination (the version an update or delete must
    /// still find there; absent for a create, which must find nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<ItemState>,
    /// For a keep: the state store already records both sides exactly so,
    /// and an apply has nothing to record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_sync: bool,
}

/// Counts of operations by action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Totals(
    #[schemars(schema_with = "crate::outputs::map_schema::<Action, u64>")]
    pub  std::collections::BTreeMap<Action, u64>,
);

impl Totals {
    /// How many operations of this action.
    #[must_use]
    pub fn get(&self, action: Action) -> u64 {
        self.0.get(&action).copied().unwrap_or(0)
    }

    /// Counts one more.
    pub fn add(&mut self, action: Action, n: u64) {
        *self.0.entry(action).or_default() += n;
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &Totals) {
        for (action, n) in &other.0 {
            self.add(*action, *n);
        }
    }

    /// How many operations write.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.0
            .iter()
            .filter(|(a, _)| a.writes())
            .map(|(_, n)| n)
            .sum()
    }

    /// How many operations delete.
    #[must_use]
    pub fn deletes(&self) -> u64 {
        self.0
            .iter()
            .filter(|(a, _)| a.deletes())
            .map(|(_, n)| n)
            .sum()
    }
}

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// Worth knowing.
    Notice,
    /// Worth checking before applying.
    Warning,
    /// Something could not be planned.
    Error,
}

/// A sentence about a snapshot, link or section that is not an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// How serious.
    pub level: Level,
    /// What to say.
    pub message: String,
}

impl Notice {
    /// A notice.
    #[must_use]
    #[allow(clippy::self_named_constructors)]
    pub fn notice(message: impl Into<String>) -> Notice {
        Notice {
            level: Level::Notice,
            message: message.into(),
        }
    }

    /// A warning.
    #[must_use]
    pub fn warning(message: impl Into<String>) -> Notice {
        Notice {
            level: Level::Warning,
            message: message.into(),
        }
    }

    /// An error.
    #[must_use]
    pub fn error(message: impl Into<String>) -> Notice {
        Notice {
            level: Level::Error,
            message: message.into(),
        }
    }
}

/// One link and one item type of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    /// The item type.
    pub item_type: ItemType,
    /// The source collection, described.
    pub source: String,
    /// The destination collection, described.
    pub destination: String,
    /// Items listed at the source (of this type).
    pub source_items: u64,
    /// Items listed at the destination (of this type).
    pub destination_items: u64,
    /// Items the state store records as synced on this link and type.
    pub synced_items: u64,
    /// Problems and remarks (unreadable items, duplicate UIDs…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// Counts by action.
    pub totals: Totals,
    /// The operations, writes first, then keeps and items not matched.
    pub operations: Vec<Operation>,
}

/// The link's sync flags as this plan sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkFlags {
    /// Inbound as the target declares it.
    pub inbound: bool,
    /// Outbound as the target declares it.
    pub outbound: bool,
    /// Outbound was re-enabled after items were synced, and no send
    /// snapshot covering the link has been applied since.
    pub outbound_pending: bool,
    /// Since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<DateTime<Utc>>,
}

/// One link of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkPlan {
    /// The link's name.
    pub link: String,
    /// The CRM user.
    pub user: String,
    /// Its flags.
    pub flags: LinkFlags,
    /// Whether applying this plan without failures clears a pending
    /// outbound (a send snapshot covering the link).
    pub clears_outbound_pending: bool,
    /// Remarks about the link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// One section per item type.
    pub sections: Vec<Section>,
}

/// A filter of the snapshot, resolved for this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterSummary {
    /// Its item type.
    pub item_type: ItemType,
    /// What it takes, in words, with the resolved range.
    pub description: String,
    /// The first instant of the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// The first instant after the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotPlan {
    /// The snapshot's name.
    pub snapshot: String,
    /// Get or send.
    pub direction: Direction,
    /// The target's name.
    pub target: String,
    /// The spec's time zone.
    pub timezone: String,
    /// Whether the snapshot has filters.
    pub filtered: bool,
    /// The filters, resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterSummary>,
    /// What to do with orphans.
    pub orphans: OrphanPolicy,
    /// The spec's delete limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_deletes: Option<u32>,
    /// Where the spec was declared (`file:line`).
    pub origin: String,
    /// Remarks about the snapshot (skipped links…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// The links it covers.
    pub links: Vec<LinkPlan>,
}

impl SnapshotPlan {
    /// Counts across links and sections.
    #[must_use]
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for section in self.links.iter().flat_map(|l| &l.sections) {
            totals.merge(&section.totals);
        }
        totals
    }

    /// Every section, with its link.
    pub fn sections(&self) -> impl Iterator<Item = (&LinkPlan, &Section)> {
        self.links
            .iter()
            .flat_map(|l| l.sections.iter().map(move |s| (l, s)))
    }
}

/// A compiled plan: every snapshot given, in order.
///
/// A plan made for saving (`plan --out FILE`) also records where it was
/// made against (its targets and stores) and carries a checksum of all
/// that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The plan format's version; `apply --plan` reads only its own.
    pub format_version: PlanFormatVersion,
    /// The run's clock: relative bounds were resolved against it.
    pub now: DateTime<Utc>,
    /// The canonical paths of the stores the plan read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores: Option<PlanStores>,
    /// The targets the snapshots name, as planned against: locations,
    /// links and their collections, references to secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<PlanTarget>,
    /// The snapshots.
    pub snapshots: Vec<SnapshotPlan>,
    /// The checksum of everything above (`blake3:` and 64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl Plan {
    /// An empty plan made at `now`, recording nothing yet.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Plan {
        Plan {
            format_version: FormatVersion,
            now,
            stores: None,
            targets: Vec::new(),
            snapshots: Vec::new(),
            checksum: None,
        }
    }

    /// Counts across snapshots.
    #[must_use]
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for snapshot in &self.snapshots {
            totals.merge(&snapshot.totals());
        }
        totals
    }

    /// Whether applying it would write anything.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.totals().writes() > 0
    }

    /// Whether something could not be planned.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// Whether any section holds an operation (a write, a keep to record,
    /// or an item left as it is): a plan of errors alone has none.
    #[must_use]
    pub fn has_operations(&self) -> bool {
        self.snapshots
            .iter()
            .flat_map(SnapshotPlan::sections)
            .any(|(_, section)| !section.operations.is_empty())
    }

    /// How many things could not be planned (error notices). A part of a
    /// plan with an error has no operations.
    #[must_use]
    pub fn errors(&self) -> usize {
        self.snapshots
            .iter()
            .map(|s| {
                s.notices
                    .iter()
                    .chain(s.links.iter().flat_map(|l| &l.notices))
                    .chain(s.sections().flat_map(|(_, sec)| &sec.notices))
                    .filter(|n| n.level == Level::Error)
                    .count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests;
