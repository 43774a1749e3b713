//! Saved plans: what a plan records so that it can be applied on its own,
//! exactly where it was planned, and only as it was saved (DESIGN 2.5).
//!
//! Words used here:
//! - **recorded location**: where a plan was made against: each target's
//!   type and canonical location (an absolute, canonicalized vdir folder;
//!   a CalDAV URL), each link's collections, and the canonical paths of
//!   the CRM store and the state store. An apply of a saved plan writes
//!   there and nowhere else, and refuses when the specs or the command line
//!   now resolve to another location.
//! - **secret reference**: how to find a secret (`passwordEnv`,
//!   `passwordFile`, `tokenEnv`): a plan records these, never a secret.
//! - **checksum**: the BLAKE3 hash of the canonical serialization of
//!   everything an apply acts on (the records, the snapshots, their
//!   sections and operations). A plan whose checksum does not match was
//!   edited since it was saved, and is refused, as is a plan without one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Plan, SnapshotPlan};
use crate::item::ItemType;
use crate::spec::model::{
    CaldavLocation, Catalog, Credentials, LinkSpec, Origin, SecretSource, Stores, Target,
    TargetLocation,
};
use crate::spec::types::{Direction, LinkFlag, TargetType};

/// The prefix of a plan's checksum: the hash function that made it.
const CHECKSUM_PREFIX: &str = "blake3:";

/// The canonical paths of the stores a plan read, and that its apply writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStores {
    /// The CRM store's `SQLite` file.
    pub crm: PathBuf,
    /// The state store's `SQLite` file.
    pub state: PathBuf,
}

impl PlanStores {
    /// The canonical form of `stores` (see [`canonical_path`]).
    #[must_use]
    pub fn of(stores: &Stores) -> PlanStores {
        PlanStores {
            crm: canonical_path(&stores.crm),
            state: canonical_path(&stores.state),
        }
    }
}

/// How a target's secret is found, as the spec says it: a reference, never
/// the secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanAuth {
    /// The user name of basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The environment variable that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The file that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The environment variable that holds the bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The file that holds the bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

impl PlanAuth {
    fn of(credentials: &Credentials) -> PlanAuth {
        let mut auth = PlanAuth::default();
        match credentials {
            Credentials::Basic { username, password } => {
                auth.username = Some(username.clone());
                match password {
                    SecretSource::Env(name) => auth.password_env = Some(name.clone()),
                    SecretSource::File(path) => auth.password_file = Some(canonical_path(path)),
                }
            }
            Credentials::Bearer { token } => match token {
                SecretSource::Env(name) => auth.token_env = Some(name.clone()),
                SecretSource::File(path) => auth.token_file = Some(canonical_path(path)),
            },
        }
        auth
    }

    fn credentials(&self, target: &str) -> Result<Credentials, SavedPlanError> {
        let secret = |env: &Option<String>, file: &Option<PathBuf>| match (env, file) {
            (Some(name), None) => Some(SecretSource::Env(name.clone())),
            (None, Some(path)) => Some(SecretSource::File(path.clone())),
            _ => None,
        };
        let invalid = || SavedPlanError::Invalid {
            reason: format!("target {target}: the recorded auth names no single secret"),
        };
        match &self.username {
            Some(username) if self.token_env.is_none() && self.token_file.is_none() => {
                Ok(Credentials::Basic {
                    username: username.clone(),
                    password: secret(&self.password_env, &self.password_file)
                        .ok_or_else(invalid)?,
                })
            }
            None if self.password_env.is_none() && self.password_file.is_none() => {
                Ok(Credentials::Bearer {
                    token: secret(&self.token_env, &self.token_file).ok_or_else(invalid)?,
                })
            }
            _ => Err(invalid()),
        }
    }
}

/// A link of a recorded target: its user, its collections and its flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanLink {
    /// Its name.
    pub name: String,
    /// The CRM user.
    pub user: String,
    /// The collection of each item type it carries.
    #[schemars(schema_with = "crate::outputs::map_schema::<ItemType, String>")]
    pub collections: BTreeMap<ItemType, String>,
    /// Its inbound flag.
    pub inbound: LinkFlag,
    /// Its outbound flag.
    pub outbound: LinkFlag,
    /// For a vdir target, the canonical folder of each collection when the
    /// plan was made (as far as it existed then): an apply refuses when a
    /// collection now resolves elsewhere, as when a folder was replaced by
    /// a symbolic link. Empty for CalDAV (and in plans saved before it was
    /// recorded: then a collection must be the plain folder below the
    /// target's location).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::outputs::map_schema::<ItemType, PathBuf>")]
    pub folders: BTreeMap<ItemType, PathBuf>,
}

/// A target as the plan was made against it: everything an apply needs to
/// reach it, and no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanTarget {
    /// Its name.
    pub name: String,
    /// `vdir` or `caldav`.
    #[serde(rename = "type")]
    pub target_type: TargetType,
    /// Its canonical location: the absolute, canonicalized folder of a vdir
    /// target, the URL of a CalDAV target.
    pub location: String,
    /// How many writes go out at once.
    pub concurrency: u32,
    /// How to log in (references to secrets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<PlanAuth>,
    /// An extra CA certificate to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Whether certificate checks are off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// The connection timeout, in milliseconds (CalDAV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// The request timeout, in milliseconds (CalDAV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Where the target was declared (`file:line`), for messages.
    pub origin: String,
    /// Every link of the target.
    pub links: Vec<PlanLink>,
}

impl PlanTarget {
    /// The record of `target`.
    #[must_use]
    pub fn of(target: &Target) -> PlanTarget {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let location = location_of(target);
        let folders = |collections: &BTreeMap<ItemType, String>| match &target.location {
            TargetLocation::Vdir { .. } => collections
                .iter()
                .map(|(t, c)| (*t, canonical_path(&Path::new(&location).join(c))))
                .collect(),
            TargetLocation::Caldav(_) => BTreeMap::new(),
        };
        let mut record = PlanTarget {
            name: target.name.clone(),
            target_type: target.target_type(),
            location: location.clone(),
            concurrency: target.concurrency,
            auth: None,
            ca_file: None,
            insecure_skip_verify: false,
            connect_timeout_ms: None,
            request_timeout_ms: None,
            origin: target.origin.to_string(),
            links: target
                .links
                .iter()
                .map(|l| PlanLink {
                    name: l.name.clone(),
                    user: l.user.clone(),
                    collections: l.collections.clone(),
                    inbound: l.inbound,
                    outbound: l.outbound,
                    folders: folders(&l.collections),
                })
                .collect(),
        };
        if let TargetLocation::Caldav(dav) = &target.location {
            record.auth = dav.credentials.as_ref().map(PlanAuth::of);
            record.ca_file = dav.ca_file.as_deref().map(canonical_path);
            record.insecure_skip_verify = dav.insecure_skip_verify;
            record.connect_timeout_ms = Some(millis(dav.connect_timeout));
            record.request_timeout_ms = Some(millis(dav.request_timeout));
        }
        record
    }

    /// The target this record describes, as an apply opens it.
    ///
    /// # Errors
    /// The record is incomplete (a CalDAV target without timeouts, auth
    /// without a secret reference).
    pub fn target(&self) -> Result<Target, SavedPlanError> {
        let location = match self.target_type {
            TargetType::Vdir => TargetLocation::Vdir {
                path: PathBuf::from(&self.location),
            },
            TargetType::Caldav => {
                let (Some(connect), Some(request)) =
                    (self.connect_timeout_ms, self.request_timeout_ms)
                else {
                    return Err(SavedPlanError::Invalid {
                        reason: format!("target {}: the recorded timeouts are missing", self.name),
                    });
                };
                TargetLocation::Caldav(CaldavLocation {
                    url: self.location.clone(),
                    credentials: self
                        .auth
                        .as_ref()
                        .map(|a| a.credentials(&self.name))
                        .transpose()?,
                    ca_file: self.ca_file.clone(),
                    insecure_skip_verify: self.insecure_skip_verify,
                    connect_timeout: Duration::from_millis(connect),
                    request_timeout: Duration::from_millis(request),
                })
            }
        };
        // `file:line` back into its parts (a file name may hold a colon).
        let origin = match self.origin.rsplit_once(':') {
            Some((file, line)) if line.parse::<usize>().is_ok() => Origin {
                file: PathBuf::from(file),
                line: line.parse().unwrap_or(0),
            },
            _ => Origin {
                file: PathBuf::from(&self.origin),
                line: 0,
            },
        };
        Ok(Target {
            name: self.name.clone(),
            labels: BTreeMap::new(),
            location,
            concurrency: self.concurrency,
            links: self
                .links
                .iter()
                .map(|l| LinkSpec {
                    name: l.name.clone(),
                    user: l.user.clone(),
                    collections: l.collections.clone(),
                    inbound: l.inbound,
                    outbound: l.outbound,
                })
                .collect(),
            origin,
        })
    }
}

/// The canonical location of a target: its vdir folder made absolute and
/// canonical, or its CalDAV URL.
#[must_use]
pub fn location_of(target: &Target) -> String {
    match &target.location {
        TargetLocation::Vdir { path } => canonical_path(path).display().to_string(),
        TargetLocation::Caldav(dav) => dav.url.clone(),
    }
}

/// `path` absolute, with symbolic links, `.` and `..` resolved as far as it
/// exists (a folder or store not made yet keeps the rest of its name).
#[must_use]
pub fn canonical_path(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    // Component by component: what exists is canonicalized (symbolic links
    // and `..` as the file system sees them), the rest is taken lexically.
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match std::fs::canonicalize(out.join("..")) {
                Ok(canonical) => out = canonical,
                Err(_) => {
                    out.pop();
                }
            },
            other => {
                out.push(other);
                if let Ok(canonical) = std::fs::canonicalize(&out) {
                    out = canonical;
                }
            }
        }
    }
    out
}

/// Why a saved plan cannot be applied. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedPlanError {
    /// The checksum does not match the plan's content.
    #[error(
        "the plan was edited since it was saved (its checksum does not match its content); plan \
         again with `snapsync plan --out FILE`"
    )]
    Edited,
    /// The plan has no checksum, so nothing shows it is as it was saved.
    #[error(
        "the plan has no checksum, so nothing shows that it is as it was saved; plan again with \
         `snapsync plan --out FILE`"
    )]
    Unsealed,
    /// The plan lacks what a saved plan records.
    #[error(
        "the plan is incomplete or corrupt: {reason}; plan again with `snapsync plan --out FILE`"
    )]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// Something now resolves to another location than the one planned
    /// against.
    #[error(
        "the plan was made against other locations than the ones that apply now:\n{}\n\
         Nothing was applied. Plan again with the current specs, or apply where the plan was made.",
        .mismatches.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n")
    )]
    Moved {
        /// One line per location: what, planned, now.
        mismatches: Vec<String>,
    },
}

/// Feeds what serde writes into a hash.
struct HashWriter(blake3::Hasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything of a plan its checksum covers: all but the checksum.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sealed<'a> {
    format_version: super::PlanFormatVersion,
    now: &'a DateTime<Utc>,
    stores: &'a Option<PlanStores>,
    targets: &'a [PlanTarget],
    snapshots: &'a [SnapshotPlan],
}

impl Plan {
    /// Records where the plan is made: the targets its snapshots name and
    /// the stores; then seals it with its checksum.
    pub fn record(&mut self, catalog: &Catalog, stores: &Stores) {
        let mut targets: Vec<PlanTarget> = Vec::new();
        for snapshot in &self.snapshots {
            if targets.iter().any(|t| t.name == snapshot.target) {
                continue;
            }
            if let Some(target) = catalog.target(&snapshot.target) {
                targets.push(PlanTarget::of(target));
            }
        }
        self.targets = targets;
        self.stores = Some(PlanStores::of(stores));
        self.seal();
    }

    /// The checksum of the plan's content as it is now.
    #[must_use]
    pub fn content_checksum(&self) -> String {
        let sealed = Sealed {
            format_version: self.format_version,
            now: &self.now,
            stores: &self.stores,
            targets: &self.targets,
            snapshots: &self.snapshots,
        };
        let mut writer = HashWriter(blake3::Hasher::new());
        // Writing into a hash cannot fail, and the types serialize.
        let _ = serde_json::to_writer(&mut writer, &sealed);
        let mut out = String::from(CHECKSUM_PREFIX);
        for byte in writer.0.finalize().as_bytes() {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    /// Sets the checksum to the plan's content.
    pub fn seal(&mut self) {
        self.checksum = Some(self.content_checksum());
    }

    /// Checks that a saved plan is whole and unedited: its checksum matches
    /// its content, and it records its stores and every target it names.
    ///
    /// # Errors
    /// [`SavedPlanError::Unsealed`], [`SavedPlanError::Edited`] or
    /// [`SavedPlanError::Invalid`].
    pub fn check_saved(&self) -> Result<(), SavedPlanError> {
        match self.checksum.as_deref() {
            None => return Err(SavedPlanError::Unsealed),
            Some(checksum) if checksum != self.content_checksum() => {
                return Err(SavedPlanError::Edited);
            }
            Some(_) => {}
        }
        if self.stores.is_none() {
            return Err(SavedPlanError::Invalid {
                reason: "it records no stores".to_owned(),
            });
        }
        for snapshot in &self.snapshots {
            let Some(target) = self.targets.iter().find(|t| t.name == snapshot.target) else {
                return Err(SavedPlanError::Invalid {
                    reason: format!(
                        "snapshot {} names target {}, which the plan does not record",
                        snapshot.snapshot, snapshot.target
                    ),
                });
            };
            for link in &snapshot.links {
                let Some(recorded) = target.links.iter().find(|l| l.name == link.link) else {
                    return Err(SavedPlanError::Invalid {
                        reason: format!(
                            "snapshot {} names link {} of target {}, which the plan does not record",
                            snapshot.snapshot, link.link, target.name
                        ),
                    });
                };
                if recorded.user != link.user {
                    return Err(SavedPlanError::Invalid {
                        reason: format!(
                            "link {} of target {} is recorded for user {}, but planned for {}",
                            link.link, target.name, recorded.user, link.user
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The catalog a saved plan is applied with: its recorded targets and
    /// stores, nothing read from specs.
    ///
    /// # Errors
    /// [`SavedPlanError::Invalid`] when a record is incomplete.
    pub fn recorded_catalog(&self) -> Result<Catalog, SavedPlanError> {
        let stores = self
            .stores
            .as_ref()
            .ok_or_else(|| SavedPlanError::Invalid {
                reason: "it records no stores".to_owned(),
            })?;
        Ok(Catalog {
            targets: self
                .targets
                .iter()
                .map(PlanTarget::target)
                .collect::<Result<_, _>>()?,
            snapshots: Vec::new(),
            stores: Stores {
                crm: stores.crm.clone(),
                state: stores.state.clone(),
            },
        })
    }

    /// Every section the plan holds for `target`, with its link.
    fn sections_of<'p>(
        &'p self,
        target: &'p str,
    ) -> impl Iterator<Item = (&'p super::LinkPlan, &'p super::Section)> {
        self.snapshots
            .iter()
            .filter(move |s| s.target == target)
            .flat_map(SnapshotPlan::sections)
    }

    /// What in `catalog` (the specs as they are now) resolves to another
    /// location than the plan recorded, for the targets, links and
    /// collections the plan writes: one line each, planned and now.
    #[must_use]
    pub fn moved_targets(&self, catalog: &Catalog) -> Vec<String> {
        let mut mismatches = Vec::new();
        for recorded in &self.targets {
            let Some(now) = catalog.target(&recorded.name) else {
                mismatches.push(format!(
                    "target {}: planned against {} {}, but the specs no longer define it",
                    recorded.name,
                    type_name(recorded.target_type),
                    recorded.location
                ));
                continue;
            };
            let location = location_of(now);
            if now.target_type() != recorded.target_type || location != recorded.location {
                mismatches.push(format!(
                    "target {}: planned against {} {}, but the specs now say {} {location}",
                    recorded.name,
                    type_name(recorded.target_type),
                    recorded.location,
                    type_name(now.target_type()),
                ));
                continue;
            }
            for snapshot in self.snapshots.iter().filter(|s| s.target == recorded.name) {
                let send = snapshot.direction == Direction::Send;
                for link_plan in &snapshot.links {
                    let Some(planned) = recorded.links.iter().find(|l| l.name == link_plan.link)
                    else {
                        continue;
                    };
                    let Some(current) = now.link(&link_plan.link) else {
                        continue;
                    };
                    let (was, is) = if send {
                        (planned.outbound, current.outbound)
                    } else {
                        (planned.inbound, current.inbound)
                    };
                    let disabled = format!(
                        "target {}, link {}: planned with {} enabled, but the specs now disable \
                         it; plan again",
                        recorded.name,
                        link_plan.link,
                        direction_flag(snapshot.direction)
                    );
                    if was == LinkFlag::Enabled
                        && is == LinkFlag::Disabled
                        && !mismatches.contains(&disabled)
                    {
                        mismatches.push(disabled);
                    }
                }
            }
            let planned_links = self.sections_of(&recorded.name);
            for (link_plan, section) in planned_links {
                let planned = recorded
                    .links
                    .iter()
                    .find(|l| l.name == link_plan.link)
                    .and_then(|l| l.collections.get(&section.item_type).map(|c| (l, c)));
                let Some((planned_link, planned_collection)) = planned else {
                    continue;
                };
                let current = now.link(&link_plan.link);
                let line = match current {
                    None => Some(format!(
                        "target {}, link {}: the specs no longer define it",
                        recorded.name, link_plan.link
                    )),
                    Some(link) if link.user != planned_link.user => Some(format!(
                        "target {}, link {}: planned for CRM user {}, but the specs now say {}",
                        recorded.name, link_plan.link, planned_link.user, link.user
                    )),
                    Some(link) => match link.collections.get(&section.item_type) {
                        Some(c) if c == planned_collection => None,
                        other => Some(format!(
                            "target {}, link {}, {}: planned against collection {}, but the specs now say {}",
                            recorded.name,
                            link_plan.link,
                            section.item_type,
                            planned_collection,
                            other.map_or("none", String::as_str)
                        )),
                    },
                };
                if let Some(line) = line
                    && !mismatches.contains(&line)
                {
                    mismatches.push(line);
                }
            }
        }
        mismatches
    }

    /// The vdir folders the plan reads or writes that now resolve elsewhere
    /// than when it was planned (a folder replaced by a symbolic link, or a
    /// link pointed elsewhere): each target's location, then each planned
    /// collection's folder, canonicalized now and compared with the
    /// record. One line each, planned and now. Checked by every apply of a
    /// saved plan, with or without specs nearby.
    #[must_use]
    pub fn moved_folders(&self) -> Vec<String> {
        let mut mismatches = Vec::new();
        for recorded in &self.targets {
            if recorded.target_type != TargetType::Vdir {
                continue;
            }
            let location = Path::new(&recorded.location);
            let now = canonical_path(location);
            if now != location {
                mismatches.push(format!(
                    "target {}: planned against vdir {}, but that folder now resolves to {}",
                    recorded.name,
                    recorded.location,
                    now.display()
                ));
                continue;
            }
            let planned_links = self.sections_of(&recorded.name);
            for (link_plan, section) in planned_links {
                let Some(link) = recorded.links.iter().find(|l| l.name == link_plan.link) else {
                    continue;
                };
                let Some(collection) = link.collections.get(&section.item_type) else {
                    continue;
                };
                let plain = location.join(collection);
                let planned = link.folders.get(&section.item_type).unwrap_or(&plain);
                let now = canonical_path(&plain);
                let moved = format!(
                    "target {}, link {}, {}: planned against folder {}, but {collection} now \
                     resolves to {}",
                    recorded.name,
                    link.name,
                    section.item_type,
                    planned.display(),
                    now.display()
                );
                if now != *planned && !mismatches.contains(&moved) {
                    mismatches.push(moved);
                }
            }
        }
        mismatches
    }

    /// Whether a store path given now (a flag, or the specs' `Stores`)
    /// resolves where the plan recorded it; `what` names it in the line.
    #[must_use]
    pub fn moved_store(&self, what: &str, crm: bool, now: &Path) -> Option<String> {
        let stores = self.stores.as_ref()?;
        let planned = if crm { &stores.crm } else { &stores.state };
        let now = canonical_path(now);
        (now != *planned).then(|| {
            format!(
                "{what}: planned against {}, but it is now {}",
                planned.display(),
                now.display()
            )
        })
    }
}

/// The name of a link's flag for a snapshot's direction.
fn direction_flag(direction: Direction) -> &'static str {
    match direction {
        Direction::Send => "outbound",
        Direction::Get => "inbound",
    }
}

fn type_name(target_type: TargetType) -> &'static str {
    match target_type {
        TargetType::Vdir => "vdir",
        TargetType::Caldav => "caldav",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LinkFlags, LinkPlan, Section, Totals};
    use crate::spec::types::OrphanPolicy;

    fn target(path: &Path, calendar: &str, user: &str) -> Target {
        Target {
            name: "office".into(),
            labels: BTreeMap::new(),
            location: TargetLocation::Vdir {
                path: path.to_owned(),
            },
            concurrency: 4,
            links: vec![LinkSpec {
                name: "jdoe".into(),
                user: user.into(),
                collections: [(ItemType::ScheduleItems, calendar.to_owned())].into(),
                inbound: LinkFlag::Enabled,
                outbound: LinkFlag::Enabled,
            }],
            origin: Origin {
                file: "specs.yaml".into(),
                line: 3,
            },
        }
    }

    fn catalog(target: Target) -> Catalog {
        Catalog {
            targets: vec![target],
            snapshots: Vec::new(),
            stores: Stores::default(),
        }
    }

    fn plan(catalog: &Catalog) -> Plan {
        let mut plan = Plan::new(DateTime::<Utc>::UNIX_EPOCH);
        plan.snapshots.push(SnapshotPlan {
            snapshot: "send-all".into(),
            direction: Direction::Send,
            target: "office".into(),
            timezone: "UTC".into(),
            filtered: false,
            filters: Vec::new(),
            orphans: OrphanPolicy::Keep,
            max_deletes: None,
            origin: "specs.yaml:9".into(),
            notices: Vec::new(),
            links: vec![LinkPlan {
                link: "jdoe".into(),
                user: "jdoe".into(),
                flags: LinkFlags {
                    inbound: true,
                    outbound: true,
                    outbound_pending: false,
                    pending_since: None,
                },
                clears_outbound_pending: false,
                notices: Vec::new(),
                sections: vec![Section {
                    item_type: ItemType::ScheduleItems,
                    source: "crm".into(),
                    destination: "vdir".into(),
                    source_items: 0,
                    destination_items: 0,
                    synced_items: 0,
                    notices: Vec::new(),
                    totals: Totals::default(),
                    operations: Vec::new(),
                }],
            }],
        });
        plan.record(catalog, &catalog.stores);
        plan
    }

    #[test]
    fn a_saved_plan_round_trips_with_its_checksum_and_rebuilds_its_targets() {
        let dir = tempfile::tempdir().unwrap();
        let planned = catalog(target(dir.path(), "jdoe/calendar", "jdoe"));
        let plan = plan(&planned);
        let read: Plan = serde_json::from_slice(&serde_json::to_vec(&plan).unwrap()).unwrap();
        assert_eq!(read.check_saved(), Ok(()));
        let rebuilt = read.recorded_catalog().unwrap();
        let office = rebuilt.target("office").unwrap();
        assert_eq!(office.links, planned.targets[0].links);
        assert_eq!(office.origin.to_string(), "specs.yaml:3");
        assert!(
            matches!(&office.location, TargetLocation::Vdir { path } if *path == canonical_path(dir.path()))
        );
        assert!(read.moved_targets(&planned).is_empty());
    }

    #[test]
    fn any_edit_breaks_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = plan(&catalog(target(dir.path(), "jdoe/calendar", "jdoe")));
        plan.targets[0].location = "/elsewhere".into();
        assert_eq!(plan.check_saved(), Err(SavedPlanError::Edited));
        plan.checksum = None;
        assert_eq!(plan.check_saved(), Err(SavedPlanError::Unsealed));
    }

    #[test]
    fn a_changed_collection_user_or_folder_is_named_with_planned_and_now() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(&catalog(target(dir.path(), "jdoe/calendar", "jdoe")));
        let moved = plan.moved_targets(&catalog(target(dir.path(), "jdoe/other", "jdoe")));
        assert_eq!(
            moved,
            [
                "target office, link jdoe, scheduleItems: planned against collection \
              jdoe/calendar, but the specs now say jdoe/other"
            ]
        );
        let moved = plan.moved_targets(&catalog(target(dir.path(), "jdoe/calendar", "jdoee")));
        assert_eq!(
            moved,
            ["target office, link jdoe: planned for CRM user jdoe, but the specs now say jdoee"]
        );
        let other = dir.path().join("other");
        let moved = plan.moved_targets(&catalog(target(&other, "jdoe/calendar", "jdoe")));
        assert_eq!(
            moved,
            [format!(
                "target office: planned against vdir {}, but the specs now say vdir {}",
                canonical_path(dir.path()).display(),
                canonical_path(&other).display()
            )]
        );
    }

    #[test]
    fn a_link_disabled_in_the_snapshots_direction_since_the_plan_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(&catalog(target(dir.path(), "jdoe/calendar", "jdoe")));
        let mut now = target(dir.path(), "jdoe/calendar", "jdoe");
        now.links[0].inbound = LinkFlag::Disabled;
        assert!(plan.moved_targets(&catalog(now.clone())).is_empty());
        now.links[0].outbound = LinkFlag::Disabled;
        assert_eq!(
            plan.moved_targets(&catalog(now)),
            [
                "target office, link jdoe: planned with outbound enabled, but the specs now \
              disable it; plan again"
            ]
        );
    }

    #[test]
    fn a_collection_folder_replaced_by_a_symlink_is_named_with_planned_and_now() {
        let dir = tempfile::tempdir().unwrap();
        let base = canonical_path(dir.path());
        let plan = plan(&catalog(target(dir.path(), "jdoe/calendar", "jdoe")));
        assert!(plan.moved_folders().is_empty());
        std::fs::create_dir_all(dir.path().join("evil/jdoe")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("evil/jdoe"), dir.path().join("jdoe")).unwrap();
        assert_eq!(
            plan.moved_folders(),
            [format!(
                "target office, link jdoe, scheduleItems: planned against folder {}, but \
                 jdoe/calendar now resolves to {}",
                base.join("jdoe/calendar").display(),
                base.join("evil/jdoe/calendar").display()
            )]
        );
    }

    #[test]
    fn a_path_that_does_not_exist_yet_is_made_canonical_as_far_as_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let base = canonical_path(dir.path());
        std::fs::create_dir(dir.path().join("a")).unwrap();
        assert_eq!(
            canonical_path(&dir.path().join("a/../b/c.sqlite")),
            base.join("b/c.sqlite")
        );
        assert_eq!(canonical_path(&dir.path().join("a/./")), base.join("a"));
        assert_eq!(
            canonical_path(&dir.path().join("missing/../b/./c")),
            base.join("b/c")
        );
    }
}
