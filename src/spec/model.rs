//! Validated specs: what the rest of snapsync works from.
//!
//! [`super::validate`] turns raw resources into these types only when every
//! check passed: names are bound, paths are absolute or relative to the
//! working folder, time zones and range bounds are parsed. Secrets are held as
//! references ([`SecretSource`]), never as values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use super::types::{
    Direction, LinkFlag, OrphanPolicy, RecurrenceOption, ScheduleDateOption, TargetType,
    TaskDateOption,
};
use crate::filter::range::RangeSpec;
use crate::item::ItemType;

/// Where a resource was declared, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line of the document's first key.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Every resource of a validated set of spec files.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The targets, in the order they were read.
    pub targets: Vec<Target>,
    /// The snapshots, in the order they were read.
    pub snapshots: Vec<Snapshot>,
    /// Where the stores live.
    pub stores: Stores,
}

impl Catalog {
    /// The target with this name.
    #[must_use]
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// Where the CRM store and the state store live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stores {
    /// The CRM store's `SQLite` file.
    pub crm: PathBuf,
    /// The state store's `SQLite` file.
    pub state: PathBuf,
}

impl Default for Stores {
    fn default() -> Self {
        Stores {
            crm: PathBuf::from(".snapsync/crm.sqlite"),
            state: PathBuf::from(".snapsync/state.sqlite"),
        }
    }
}

/// A validated target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Where it is and how to reach it.
    pub location: TargetLocation,
    /// How many writes to send at once.
    pub concurrency: u32,
    /// Its links, in declaration order.
    pub links: Vec<LinkSpec>,
    /// Where it was declared.
    pub origin: Origin,
}

impl Target {
    /// The link with this name.
    #[must_use]
    pub fn link(&self, name: &str) -> Option<&LinkSpec> {
        self.links.iter().find(|l| l.name == name)
    }

    /// `vdir` or `caldav`.
    #[must_use]
    pub fn target_type(&self) -> TargetType {
        match self.location {
            TargetLocation::Vdir { .. } => TargetType::Vdir,
            TargetLocation::Caldav(_) => TargetType::Caldav,
        }
    }
}

/// Where a target is.
#[derive(Debug, Clone)]
pub enum TargetLocation {
    /// A local folder.
    Vdir {
        /// The folder that holds the collections.
        path: PathBuf,
    },
    /// A CalDAV/CardDAV server.
    Caldav(CaldavLocation),
}

/// How to reach a CalDAV/CardDAV server.
#[derive(Debug, Clone)]
pub struct CaldavLocation {
    /// The base URL; collections are below it.
    pub url: String,
    /// How to log in, if at all.
    pub credentials: Option<Credentials>,
    /// An extra CA certificate to trust.
    pub ca_file: Option<PathBuf>,
    /// Whether certificate checks are off (loudly).
    pub insecure_skip_verify: bool,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for a request.
    pub request_timeout: Duration,
}

/// How to log in to a server. Holds references to secrets, never secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// Where the password is.
        password: SecretSource,
    },
    /// A bearer token.
    Bearer {
        /// Where the token is.
        token: SecretSource,
    },
}

/// Where a secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable, by name.
    Env(String),
    /// A file, by path.
    File(PathBuf),
}

/// A validated link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    /// Its name, unique within the target.
    pub name: String,
    /// The CRM user.
    pub user: String,
    /// The collection for each item type the link carries.
    pub collections: BTreeMap<ItemType, String>,
    /// Whether get snapshots process it.
    pub inbound: LinkFlag,
    /// Whether send snapshots process it.
    pub outbound: LinkFlag,
}

impl LinkSpec {
    /// The flag that governs a direction: inbound for get, outbound for send.
    #[must_use]
    pub fn flag(&self, direction: Direction) -> LinkFlag {
        match direction {
            Direction::Get => self.inbound,
            Direction::Send => self.outbound,
        }
    }
}

/// A validated snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Send or get.
    pub direction: Direction,
    /// The target's name (it exists in the catalog).
    pub target: String,
    /// The links it names, or `None` for every link of the target.
    pub links: Option<Vec<String>>,
    /// The zone dates are read in.
    pub timezone: Tz,
    /// Full or filtered, and for which item types.
    pub scope: Scope,
    /// What to do with orphans.
    pub orphans: OrphanPolicy,
    /// The most deletes an apply may carry out.
    pub max_deletes: Option<u32>,
    /// Where it was declared.
    pub origin: Origin,
}

/// What a snapshot processes.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every item of these types.
    Full(Vec<ItemType>),
    /// The items the filters match; only the item types with a filter.
    Filtered(FilterSet),
}

impl Scope {
    /// The item types processed, in plan order.
    #[must_use]
    pub fn item_types(&self) -> Vec<ItemType> {
        match self {
            Scope::Full(types) => types.clone(),
            Scope::Filtered(filters) => ItemType::ALL
                .into_iter()
                .filter(|t| filters.has(*t))
                .collect(),
        }
    }
}

/// The filters of a filtered snapshot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterSet {
    /// The schedule item filter.
    pub schedule_items: Option<ScheduleItemFilter>,
    /// The task filter.
    pub tasks: Option<TaskFilter>,
    /// The contact filter.
    pub contacts: Option<ContactFilter>,
}

impl FilterSet {
    /// Whether there is a filter for this item type.
    #[must_use]
    pub fn has(&self, item_type: ItemType) -> bool {
        match item_type {
            ItemType::ScheduleItems => self.schedule_items.is_some(),
            ItemType::Tasks => self.tasks.is_some(),
            ItemType::Contacts => self.contacts.is_some(),
        }
    }
}

/// A validated schedule item filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleItemFilter {
    /// Start or modified.
    pub date_option: ScheduleDateOption,
    /// The range.
    pub range: RangeSpec,
    /// Which recurrence kinds.
    pub recurrence: RecurrenceOption,
}

/// A validated task filter.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFilter {
    /// Start, due or modified.
    pub date_option: TaskDateOption,
    /// The range.
    pub range: RangeSpec,
    /// Whether tasks without the date match too.
    pub include_undated: bool,
}

/// A validated contact filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactFilter {
    /// The range of last-modified dates.
    pub range: RangeSpec,
}
