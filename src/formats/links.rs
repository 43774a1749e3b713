//! `snapsync links --format json` and `snapsync targets --format json`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::ByItemType;
use crate::item::ItemType;
use crate::outputs::{FormatVersion, JsonOutput};
use crate::spec::types::{LinkFlag, TargetType};
use crate::state::{RunId, RunStatus};

/// What `snapsync links --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinksJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::Links.format_version() }>,
    /// The state store read.
    pub state_store: &'a Path,
    /// Every link the specs declare (of `--target`, if given), in the
    /// order of the specs.
    pub links: Vec<LinkJson>,
    /// Links the state store records that the specs no longer declare.
    pub undeclared_links: Vec<UndeclaredLinkJson>,
}

/// One declared link and what the state store knows of it.
// The shape is the published format's: its flags are JSON booleans.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkJson {
    /// The target's name.
    pub target: String,
    /// The link's name.
    pub link: String,
    /// The CRM user.
    pub user: String,
    /// The collection of each item type the link carries.
    #[schemars(schema_with = "crate::outputs::map_schema::<ItemType, String>")]
    pub collections: BTreeMap<ItemType, String>,
    /// Inbound as the next apply records it (the specs' flag).
    pub inbound: bool,
    /// Outbound as the next apply records it (the specs' flag).
    pub outbound: bool,
    /// Whether outbound is pending: recorded so, or made so by the next
    /// apply (enabled again after items were synced).
    pub outbound_pending: bool,
    /// Whether the pending outbound is recorded in the state store (false:
    /// it follows from the specs, and the next apply records it).
    pub pending_recorded: bool,
    /// Since when outbound is recorded as pending.
    pub pending_since: Option<DateTime<Utc>>,
    /// The flags the specs declare otherwise than the store last recorded.
    pub flag_changes: Vec<FlagChangeJson>,
    /// What the state store last recorded of the link; null if never.
    pub recorded: Option<RecordedFlagsJson>,
    /// The link's last get run.
    pub last_get: Option<RunRefJson>,
    /// The link's last send run.
    pub last_send: Option<RunRefJson>,
    /// Items recorded as synced, by type.
    pub synced: ByItemType<u64>,
    /// Items recorded as synced, across types.
    pub synced_total: u64,
    /// What the text output says under the table about the link.
    pub notes: Vec<String>,
}

/// A sync flag of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// Target → CRM.
    Inbound,
    /// CRM → target.
    Outbound,
}

impl Flag {
    /// The flag's name (`inbound`, `outbound`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Inbound => "inbound",
            Flag::Outbound => "outbound",
        }
    }
}

/// A flag the specs declare otherwise than the state store last recorded.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagChangeJson {
    /// Which flag.
    pub flag: Flag,
    /// As the store recorded it.
    pub recorded: LinkFlag,
    /// As the specs declare it.
    pub declared: LinkFlag,
    /// What the next apply of a snapshot of the target makes of it.
    pub next_apply: String,
}

/// A link's flags as the state store last recorded them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedFlagsJson {
    /// Inbound.
    pub inbound: bool,
    /// Outbound.
    pub outbound: bool,
    /// Whether outbound was pending.
    pub outbound_pending: bool,
    /// Since when.
    pub pending_since: Option<DateTime<Utc>>,
}

/// A run of the journal, as a link refers to it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRefJson {
    /// The run (`snapsync runs show ID`).
    pub id: RunId,
    /// The snapshot it applied.
    pub snapshot: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished: Option<DateTime<Utc>>,
}

/// A link the state store records but the specs no longer declare.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UndeclaredLinkJson {
    /// The target's name.
    pub target: String,
    /// The link's name.
    pub link: String,
    /// Items recorded as synced on it.
    pub synced_total: u64,
}

/// What `snapsync targets --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetsJson {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::Targets.format_version() }>,
    /// Every target the specs declare.
    pub targets: Vec<TargetJson>,
}

/// One declared target.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetJson {
    /// Its name.
    pub name: String,
    /// `vdir` or `caldav`.
    #[serde(rename = "type")]
    pub target_type: TargetType,
    /// A vdir's folder, or a server's URL without credentials.
    pub location: String,
    /// How many links it declares.
    pub links: usize,
    /// How many of them have outbound pending.
    pub pending_links: usize,
}
