//! The YAML resources as Rust types: what a spec file may say.
//!
//! These are the *raw* resources, as written. Their doc comments become the
//! JSON Schema's descriptions, which editors show while a spec is written, so
//! they speak to the person writing YAML. Values that need a closer look than
//! a schema can give (dates, time zones, durations, URLs) stay strings here and
//! are checked, with their location, by [`super::validate`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::item::ItemType;

/// One resource of a spec file: a document with `apiVersion`, `kind`,
/// `metadata` and `spec`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind")]
pub enum Resource {
    /// A groupware server or folder that snapshots read from and write to,
    /// and the links that bind CRM users to its collections.
    Target(TargetResource),
    /// A snapshot: which items to move between the CRM and a target, and in
    /// which direction.
    Snapshot(SnapshotResource),
    /// Where the CRM store and the state store live.
    Stores(StoresResource),
}

/// The version of the spec language. Always `snapsync/v1` for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ApiVersion {
    /// The first version of the spec language.
    #[serde(rename = "snapsync/v1")]
    V1,
}

/// Names and labels every resource carries.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The resource's name, unique among resources of the same kind:
    /// letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"))]
    pub name: String,
    /// Free-form key/value pairs for people and pipelines (a ticket, a team).
    /// They have no effect on what a snapshot does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What this resource is for, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A `kind: Target` document.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetResource {
    /// The spec language version: `snapsync/v1`.
    pub api_version: ApiVersion,
    /// The target's name (what snapshots refer to) and labels.
    pub metadata: Metadata,
    /// Where the target is, how to reach it, and its links.
    pub spec: TargetSpec,
}

/// A `kind: Snapshot` document.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotResource {
    /// The spec language version: `snapsync/v1`.
    pub api_version: ApiVersion,
    /// The snapshot's name and labels.
    pub metadata: Metadata,
    /// What the snapshot moves, and where.
    pub spec: SnapshotSpec,
}

/// A `kind: Stores` document.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StoresResource {
    /// The spec language version: `snapsync/v1`.
    pub api_version: ApiVersion,
    /// A name for this store configuration.
    pub metadata: Metadata,
    /// Where the CRM store and the state store live.
    pub spec: StoresSpec,
}

// ---------------------------------------------------------------- Target --

/// The kind of server or folder a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// A local folder with one `.ics`/`.vcf` file per item (the format of
    /// vdirsyncer, khal, todoman and khard). Needs `path`.
    Vdir,
    /// A CalDAV/CardDAV server (Nextcloud, `SOGo`, Radicale, Fastmail, iCloud,
    /// Exchange through `DavMail`). Needs `url`.
    Caldav,
}

/// Where a target is and how snapsync reaches it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetSpec {
    /// `vdir` (a local folder) or `caldav` (a CalDAV/CardDAV server).
    #[serde(rename = "type")]
    pub target_type: TargetType,
    /// For `vdir`: the folder that holds the collections. A relative path is
    /// read from the folder of this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `caldav`: the server's base URL (`https://dav.example.com/`).
    /// Link collections are paths below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `caldav`: how to log in. Credentials are given by reference only
    /// (an environment variable or a file), never written in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// For `caldav`: how to check the server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// For `caldav`: how long to wait for the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// How many writes snapsync sends to this target at once. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: Option<u32>,
    /// The links: each binds one CRM user to that user's collections on this
    /// target (a calendar, a task list, an address book).
    pub links: Vec<Link>,
}

/// Credentials, by reference. Give `passwordEnv` or `passwordFile` (HTTP basic
/// authentication, with `username`), or `tokenEnv` (a bearer token).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Auth {
    /// The user name for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The environment variable that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub password_env: Option<String>,
    /// A file whose content (trailing newline removed) is the password, such as
    /// a mounted Kubernetes secret. A relative path is read from the folder of
    /// this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// The environment variable that holds a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub token_env: Option<String>,
}

/// How snapsync checks the server's TLS certificate.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tls {
    /// A PEM file with an extra certificate authority to trust, beside the
    /// system's. A relative path is read from the folder of this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Do not verify the server's certificate at all. Only for test servers:
    /// anyone on the network path can then read and change the data. Every
    /// plan and apply warns while this is set.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Time limits for talking to the server, as durations (`10s`, `2m`, `500ms`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Timeouts {
    /// How long to wait for a connection. Default `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// How long to wait for a whole request. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// Whether a link's synchronization in one direction is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkFlag {
    /// Snapshots in this direction process the link.
    #[default]
    Enabled,
    /// Snapshots in this direction skip the link (and a spec that names it is
    /// refused).
    Disabled,
}

/// One CRM user bound to their collections on the target.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Link {
    /// The link's name, unique within the target; snapshots select links by it.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"))]
    pub name: String,
    /// The CRM user whose items this link moves.
    #[schemars(length(min = 1))]
    pub user: String,
    /// The collection for schedule items (a calendar): for `vdir` a folder
    /// below the target's path, for `caldav` a path below the target's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub schedule_items: Option<String>,
    /// The collection for tasks (a task list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub tasks: Option<String>,
    /// The collection for contacts (an address book).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub contacts: Option<String>,
    /// Whether get snapshots (target → CRM) process this link. Default `enabled`.
    #[serde(default)]
    pub inbound: LinkFlag,
    /// Whether send snapshots (CRM → target) process this link. Default
    /// `enabled`. After it is enabled again, a send snapshot that covers the
    /// link must be applied before outbound changes flow again.
    #[serde(default)]
    pub outbound: LinkFlag,
}

// -------------------------------------------------------------- Snapshot --

/// Which way a snapshot moves items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Inbound: the target is the source and the CRM the destination.
    Get,
    /// Outbound: the CRM is the source and the target the destination.
    Send,
}

/// What a snapshot does with items found only at the destination that
/// snapsync never synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrphanPolicy {
    /// Leave them alone (the default).
    #[default]
    Keep,
    /// Delete them, so the destination holds exactly what the source holds.
    Delete,
}

/// What a snapshot moves, and where.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// `send` (CRM → target, outbound) or `get` (target → CRM, inbound).
    pub direction: Direction,
    /// The name of the Target resource.
    #[schemars(length(min = 1))]
    pub target: String,
    /// The links to process, by name. Omit it for every link of the target
    /// (links disabled for this direction are then skipped with a notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<String>>,
    /// The IANA time zone in which the filters' dates, floating times and
    /// all-day items are read (`Europe/Berlin`). Default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Narrows a full snapshot to these item types. Default: all three.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_types: Option<Vec<ItemType>>,
    /// Makes this a filtered snapshot: only the item types that have a filter
    /// are processed, and only the items it matches. Omit for a full snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
    /// What to do with destination items that snapsync never synced and the
    /// source does not have: `keep` (default) or `delete`.
    #[serde(default)]
    pub orphans: OrphanPolicy,
    /// Refuse to apply when the plan would delete more items than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deletes: Option<u32>,
}

/// The filters of a filtered snapshot, per item type.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Filters {
    /// Which schedule items (events) to process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_items: Option<ScheduleItemFilter>,
    /// Which tasks to process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskFilter>,
    /// Which contacts to process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<ContactFilter>,
}

/// The date a schedule item filter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleDateOption {
    /// The item's last modification (LAST-MODIFIED).
    Modified,
    /// The item's start; for a recurring item, its whole recurrence range.
    Start,
}

/// Which items to process by their recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RecurrenceOption {
    /// Only recurring items.
    Recurring,
    /// Only items that happen once.
    NonRecurring,
    /// Both (the default).
    #[default]
    Both,
}

/// A filter on schedule items.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleItemFilter {
    /// The date the range is checked against: `start` or `modified`. With
    /// `start`, a recurring item matches when its recurrence range (first
    /// start to the start of its last occurrence) overlaps the range.
    pub date_option: ScheduleDateOption,
    /// The dates to match.
    pub range: DateRange,
    /// `recurring`, `nonRecurring` or `both` (default).
    #[serde(default)]
    pub recurrence: RecurrenceOption,
}

/// The date a task filter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskDateOption {
    /// The task's last modification (LAST-MODIFIED).
    Modified,
    /// The task's start (DTSTART).
    Start,
    /// The task's due date (DUE).
    Due,
}

/// A filter on tasks.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskFilter {
    /// The date the range is checked against: `due`, `start` or `modified`.
    pub date_option: TaskDateOption,
    /// The dates to match.
    pub range: DateRange,
    /// Also process tasks that have no value for `dateOption` (no start, or
    /// no due date). Default `false`.
    #[serde(default)]
    pub include_undated: bool,
}

/// A filter on contacts, by their last modification (REV).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactFilter {
    /// The last-modified dates to match.
    pub range: DateRange,
}

/// A range of dates, read in the snapshot's `timezone`. Each bound is a date
/// (`2026-10-01`: `from` starts at 00:00 that day, `to` includes the whole
/// day), a date-time with an offset (`2026-10-01T09:00:00+02:00`: `from`
/// inclusive, `to` exclusive), or relative to the run's clock: `now`, `today`,
/// `-30d`, `+12w` (units `h`, `d`, `w`, `mo`, `y`; days and longer mean whole
/// days). A missing bound is open.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1))]
pub struct DateRange {
    /// The beginning of the range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The end of the range (a date includes the whole day; a date-time is
    /// exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

// ---------------------------------------------------------------- Stores --

/// Where the CRM store and the state store live.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StoresSpec {
    /// The CRM store: the home system's users, schedule items, tasks and
    /// contacts. Default: `sqlite: .snapsync/crm.sqlite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<StoreLocation>,
    /// The state store: links, synced items, runs and the journal. Default:
    /// `sqlite: .snapsync/state.sqlite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StoreLocation>,
}

/// Where one store lives.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StoreLocation {
    /// The path of an `SQLite` database file (created if missing). A relative
    /// path is read from the folder of this file.
    #[schemars(length(min = 1))]
    pub sqlite: String,
}
