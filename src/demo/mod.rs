//! The demo world of `snapsync demo`: specs, a CRM store and a vdir target
//! that has drifted from it, built in one folder from text embedded in the
//! binary and the seeded generator ([`crate::generate`]).
//!
//! Words used here:
//! - **demo folder**: the folder the world is built in (`.snapsync/demo` by
//!   default). It is rebuilt from scratch on every run, so [`build`] only
//!   uses a folder that is missing, empty, or marked as made by an earlier
//!   demo (the file [`MARKER`] at its top, with [`MARKER_TEXT`] in it), and
//!   even then deletes only the entries a demo makes ([`is_demo_entry`]).
//! - **drift**: what happened behind snapsync's back after a first full
//!   send of every link: items edited, deleted and added at the target, and
//!   items added and deleted in the CRM. The demo's plan shows each of
//!   them as an operation (update, restore, orphan kept, create, delete).
//!
//! Building writes the world, and applies the first full send through
//! [`crate::plan::compile`] and [`crate::apply::execute`], the code path of
//! `snapsync apply`; it never prints.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::apply::{self, ApplyError, ApplyOptions};
use crate::endpoint::crm::CrmStore;
use crate::endpoint::{Collection, EndpointError, StoreEndpoints};
use crate::generate::{self, Rng};
use crate::item::{Item, ItemType, parse_any};
use crate::plan::{self, PlanError};
use crate::spec::model::{Catalog, TargetLocation};
use crate::spec::types::{Direction, LinkFlag};
use crate::sqlite::StoreError;
use crate::state::{StateError, StateStore};

/// The file that marks a folder as made by `snapsync demo`.
pub const MARKER: &str = ".snapsync-demo";

/// What the marker file holds; a file of that name with other content does
/// not mark a demo folder.
pub const MARKER_TEXT: &str = "This folder was made by `snapsync demo`, which deletes and \
rebuilds it on every run. Do not keep anything of yours here.\n";

/// The folder of the specs, inside the demo folder.
pub const SPECS_DIR: &str = "snapshots.d";

/// The snapshot the demo plans and applies: a full send of every link.
pub const MAIN_SNAPSHOT: &str = "send-all";

/// The spec files, by name, as embedded in the binary.
pub const SPECS: &[(&str, &str)] = &[
    ("00-world.yaml", include_str!("specs/00-world.yaml")),
    ("10-send-all.yaml", include_str!("specs/10-send-all.yaml")),
    (
        "20-send-upcoming.yaml",
        include_str!("specs/20-send-upcoming.yaml"),
    ),
    ("30-get-jdoe.yaml", include_str!("specs/30-get-jdoe.yaml")),
    (
        "40-send-contacts.yaml",
        include_str!("specs/40-send-contacts.yaml"),
    ),
];

/// The top-level entries a demo makes (besides the SQLite files, see
/// [`is_demo_entry`]).
const DEMO_ENTRIES: &[&str] = &[MARKER, SPECS_DIR, "vdir"];

/// The SQLite files of the demo's stores, and what SQLite and the state
/// store's locks put beside them.
const STORE_FILES: &[&str] = &["crm.sqlite", "state.sqlite"];
const STORE_SUFFIXES: &[&str] = &["", "-wal", "-shm", "-journal", ".locks"];

/// What the summaries of edited items get, so a plan shows who wins.
const EDIT_SUFFIX: &str = " (edited at the target)";

/// How the world is built.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// Generated items per CRM user.
    pub items_per_user: u64,
    /// The seed of the generator (each user gets a stream of its own).
    pub seed: u64,
    /// The run's clock: relative bounds and the orphans' dates use it.
    pub now: DateTime<Utc>,
}

/// What happened behind snapsync's back after the first full send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Items added to the CRM since (the plan creates them).
    pub crm_added: u64,
    /// Items deleted from the CRM since (the plan deletes them).
    pub crm_deleted: u64,
    /// Items edited at the target (the plan updates them: the CRM wins).
    pub target_edited: u64,
    /// Items deleted at the target (the plan restores them).
    pub target_deleted: u64,
    /// Items added at the target only, never synced (orphans, kept).
    pub target_added: u64,
}

/// A built world.
#[derive(Debug, Clone)]
pub struct World {
    /// The demo folder.
    pub dir: PathBuf,
    /// The specs folder inside it.
    pub specs: PathBuf,
    /// Whether an earlier demo world was deleted first.
    pub replaced: bool,
    /// The snapshots the specs define, by name.
    pub snapshots: Vec<String>,
    /// The CRM users, with the number of items each has before the drift.
    pub users: Vec<(String, u64)>,
    /// Items the first full send wrote to the target.
    pub first_send: u64,
    /// What changed since.
    pub drift: Drift,
}

/// What stops the world from being built.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The folder exists and is not a demo folder: nothing was deleted.
    #[error(
        "{} is not a demo folder: {reason}. `snapsync demo` deletes and rebuilds its folder, so it \
         only uses one that is missing, empty, or made by an earlier demo (with the file {MARKER} \
         in it); nothing was deleted. Choose another folder with --dir",
        dir.display()
    )]
    NotDemoFolder {
        /// The folder.
        dir: PathBuf,
        /// Why it is not one.
        reason: String,
    },
    /// A file or folder cannot be read, written or deleted.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `delete`, …).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The embedded specs or the generated items are not what the demo
    /// expects: a bug in this build.
    #[error("the demo world is broken, which is a bug in this build: {0}")]
    Broken(String),
    /// The CRM store cannot be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state store cannot be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// The first full send cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The first full send cannot be applied.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A collection cannot be read or written while drifting.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DemoError {
    let path = path.to_owned();
    move |source| DemoError::Io {
        action,
        path,
        source,
    }
}

/// Builds the demo world in `dir`: clears it (see the module docs for when
/// that is refused), writes the specs and the CRM store, applies a first
/// full send of every link to the vdir target, then drifts both sides.
/// `step` is told what is being done, for progress lines.
///
/// # Errors
/// The folder is not a demo folder, a file cannot be written, or a store
/// fails. A folder that was refused is left untouched.
pub fn build(
    dir: &Path,
    options: &WorldOptions,
    step: &mut dyn FnMut(&str),
) -> Result<World, DemoError> {
    step("clearing the demo folder");
    let replaced = clear(dir)?;
    fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    // The marker goes first: a run that stops half-way leaves a folder the
    // next run may clear.
    let marker = dir.join(MARKER);
    fs::write(&marker, MARKER_TEXT).map_err(io_error("write", &marker))?;
    let specs = dir.join(SPECS_DIR);
    fs::create_dir_all(&specs).map_err(io_error("create", &specs))?;
    for (name, text) in SPECS {
        let path = specs.join(name);
        fs::write(&path, text).map_err(io_error("write", &path))?;
    }
    let catalog = catalog(&specs, options.now)?;

    step("generating the CRM store");
    let crm = CrmStore::open(&catalog.stores.crm)?;
    let mut users = Vec::new();
    for (index, user) in (0u64..).zip(crm_users(&catalog)) {
        let seed = user_seed(options.seed, index);
        let items = parsed(&generate::items(
            seed,
            0,
            options.items_per_user,
            options.now,
        ))?;
        crm.store_items(&user, &items)?;
        users.push((user, options.items_per_user));
    }
    for target in &catalog.targets {
        if let TargetLocation::Vdir { path } = &target.location {
            fs::create_dir_all(path).map_err(io_error("create", path))?;
        }
    }

    step("applying a first full send to the target");
    let first_send = first_send(&catalog, &crm)?;

    step("changing both sides behind snapsync's back");
    let drift = drift(&catalog, &crm, options)?;
    Ok(World {
        dir: dir.to_owned(),
        specs,
        replaced,
        snapshots: catalog.snapshots.iter().map(|s| s.name.clone()).collect(),
        users,
        first_send,
        drift,
    })
}

/// Whether a top-level entry of a demo folder is one a demo makes.
#[must_use]
pub fn is_demo_entry(name: &str) -> bool {
    DEMO_ENTRIES.contains(&name)
        || STORE_FILES
            .iter()
            .any(|file| STORE_SUFFIXES.iter().any(|s| name == format!("{file}{s}")))
}

/// Empties `dir` when it is a demo folder; returns whether there was a
/// world to delete. Refuses, deleting nothing, when `dir` is something
/// else: a file, a symbolic link, or a folder with entries and no marker or
/// with entries a demo does not make.
fn clear(dir: &Path) -> Result<bool, DemoError> {
    let refuse = |reason: String| DemoError::NotDemoFolder {
        dir: dir.to_owned(),
        reason,
    };
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_error("read", dir)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".to_owned()));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a folder".to_owned()));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("read", dir))? {
        let entry = entry.map_err(io_error("read", dir))?;
        names.push(entry.file_name());
    }
    if names.is_empty() {
        return Ok(false);
    }
    let marker_file = dir.join(MARKER);
    let marked = fs::symlink_metadata(&marker_file).is_ok_and(|m| m.is_file())
        && fs::read_to_string(&marker_file).is_ok_and(|text| text == MARKER_TEXT);
    if !marked {
        return Err(refuse(format!("it is not empty and has no {MARKER} file")));
    }
    let mut foreign: Vec<String> = names
        .iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !is_demo_entry(n))
        .collect();
    if !foreign.is_empty() {
        foreign.sort();
        return Err(refuse(format!(
            "it holds {}, which a demo does not make",
            foreign.join(", ")
        )));
    }
    // The marker goes last, so a folder cleared half-way is still marked.
    names.sort_by_key(|n| n == MARKER);
    for name in names {
        let path = dir.join(&name);
        // Never follows a symbolic link: a link is removed, not its target.
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let removed = if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(io_error("delete", &path))?;
    }
    Ok(true)
}

/// The embedded specs, validated.
fn catalog(specs: &Path, now: DateTime<Utc>) -> Result<Catalog, DemoError> {
    let validation = crate::spec::validate(&[specs.to_owned()], now)
        .map_err(|e| DemoError::Broken(e.to_string()))?;
    if validation.has_errors() {
        let messages: Vec<String> = validation
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect();
        return Err(DemoError::Broken(format!(
            "the embedded specs are invalid: {}",
            messages.join("; ")
        )));
    }
    validation
        .catalog
        .ok_or_else(|| DemoError::Broken("the embedded specs hold no resources".to_owned()))
}

/// Every CRM user the targets' links name, once, in declaration order.
fn crm_users(catalog: &Catalog) -> Vec<String> {
    let mut seen = HashSet::new();
    catalog
        .targets
        .iter()
        .flat_map(|t| &t.links)
        .filter(|l| seen.insert(l.user.clone()))
        .map(|l| l.user.clone())
        .collect()
}

/// Each user gets a stream of its own.
fn user_seed(seed: u64, index: u64) -> u64 {
    seed.wrapping_add(index)
}

fn parsed(generated: &[generate::Generated]) -> Result<Vec<Item>, DemoError> {
    let mut items = Vec::with_capacity(generated.len());
    for g in generated {
        let mut parsed = parse_any(&g.text);
        if !parsed.errors.is_empty() || parsed.items.len() != 1 {
            return Err(DemoError::Broken(format!(
                "the generated item {} does not parse to one item",
                g.uid
            )));
        }
        items.append(&mut parsed.items);
    }
    Ok(items)
}

/// Plans and applies the main snapshot, as `snapsync apply` would, without
/// flushing each file (the world is rebuilt on every run anyway).
fn first_send(catalog: &Catalog, crm: &CrmStore) -> Result<u64, DemoError> {
    let snapshot = catalog
        .snapshots
        .iter()
        .find(|s| s.name == MAIN_SNAPSHOT)
        .ok_or_else(|| DemoError::Broken(format!("no snapshot {MAIN_SNAPSHOT} in the specs")))?;
    let mut state = StateStore::open(&catalog.stores.state)?;
    let endpoints = StoreEndpoints::new(crm.clone()).with_fsync(false);
    let plan = plan::compile(catalog, &[snapshot], &endpoints, &state, Utc::now())?;
    if plan.has_errors() {
        return Err(DemoError::Broken(
            "the first full send has errors in its plan".to_owned(),
        ));
    }
    let options = ApplyOptions {
        actor: "snapsync demo".to_owned(),
        ..ApplyOptions::default()
    };
    let report = apply::execute(
        &plan,
        catalog,
        &endpoints,
        &mut state,
        &options,
        &mut |_| {},
    )?;
    if let Some(unapplied) = report.unapplied().next() {
        return Err(DemoError::Broken(format!(
            "the first full send did not apply: {unapplied}"
        )));
    }
    Ok(report.applied().writes())
}

/// How many items of each type are edited and deleted at the target, per
/// link.
fn target_changes(item_type: ItemType) -> (usize, usize) {
    match item_type {
        ItemType::ScheduleItems => (2, 1),
        ItemType::Tasks | ItemType::Contacts => (1, 1),
    }
}

/// Changes both sides of the main snapshot's links: at the target, edits,
/// deletes and (on links no get snapshot reads back) orphans; in the CRM,
/// an added event and contact and a deleted event. The two sides never
/// touch the same item, so each change gives one operation.
fn drift(catalog: &Catalog, crm: &CrmStore, options: &WorldOptions) -> Result<Drift, DemoError> {
    let mut rng = Rng::new(options.seed ^ 0xD31F_7D31_F7D3_1F7D);
    let mut drift = Drift::default();
    let got: HashSet<(&str, &str)> = catalog
        .snapshots
        .iter()
        .filter(|s| s.direction == Direction::Get)
        .filter_map(|s| catalog.target(&s.target).map(|t| (s, t)))
        .flat_map(|(s, t)| {
            t.links
                .iter()
                .filter(move |l| s.links.as_ref().is_none_or(|names| names.contains(&l.name)))
                .map(move |l| (t.name.as_str(), l.name.as_str()))
        })
        .collect();
    let users = crm_users(catalog);
    for target in &catalog.targets {
        let TargetLocation::Vdir { path: root } = &target.location else {
            continue;
        };
        for link in &target.links {
            if link.outbound == LinkFlag::Disabled {
                continue;
            }
            let mut touched = HashSet::new();
            for (item_type, collection) in &link.collections {
                let folder = root.join(collection);
                let (edits, deletes) = target_changes(*item_type);
                let files = item_files(&folder, *item_type)?;
                let picked = pick(&mut rng, files.len(), edits + deletes);
                for (n, index) in picked.into_iter().enumerate() {
                    let file = &files[index];
                    if let Some(stem) = file.file_stem() {
                        touched.insert(stem.to_string_lossy().into_owned());
                    }
                    if n < edits {
                        edit(file, *item_type, options.now)?;
                        drift.target_edited += 1;
                    } else {
                        fs::remove_file(file).map_err(io_error("delete", file))?;
                        drift.target_deleted += 1;
                    }
                }
                if !got.contains(&(target.name.as_str(), link.name.as_str()))
                    && let Some((uid, text)) = orphan(*item_type, &link.name, options.now)
                {
                    // Named as snapsync would name it, so nothing else differs.
                    let file = folder.join(format!("{uid}.{}", item_type.file_extension()));
                    fs::write(&file, text).map_err(io_error("write", &file))?;
                    drift.target_added += 1;
                }
            }
            let index = users.iter().position(|u| *u == link.user).unwrap_or(0) as u64;
            let seed = user_seed(options.seed, index);
            drift_crm(
                crm, &link.user, seed, options, &touched, &mut rng, &mut drift,
            )?;
        }
    }
    Ok(drift)
}

/// Adds an event and a contact to `user`'s CRM items (the next ones of the
/// user's stream) and deletes one event the target side left alone.
fn drift_crm(
    crm: &CrmStore,
    user: &str,
    seed: u64,
    options: &WorldOptions,
    touched: &HashSet<String>,
    rng: &mut Rng,
    drift: &mut Drift,
) -> Result<(), DemoError> {
    // Every 100 items of a stream hold events and contacts.
    let added: Vec<generate::Generated> = [ItemType::ScheduleItems, ItemType::Contacts]
        .into_iter()
        .filter_map(|wanted| {
            (options.items_per_user..)
                .take(100)
                .map(|n| generate::item(seed, n, options.now))
                .find(|g| g.item_type == wanted)
        })
        .collect();
    let items = parsed(&added)?;
    crm.store_items(user, &items)?;
    drift.crm_added += items.len() as u64;

    let events = crm.collection(user, ItemType::ScheduleItems);
    let listing: Vec<_> = events
        .list()?
        .into_iter()
        .filter(|l| !touched.contains(&l.href.0) && !added.iter().any(|a| a.uid == l.href.0))
        .collect();
    if let Some(index) = pick(rng, listing.len(), 1).first() {
        let entry = &listing[*index];
        events.delete(&entry.href, &entry.version)?;
        drift.crm_deleted += 1;
    }
    Ok(())
}

/// The item files of a vdir collection, sorted by name.
fn item_files(folder: &Path, item_type: ItemType) -> Result<Vec<PathBuf>, DemoError> {
    let mut files = Vec::new();
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(io_error("read", folder)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io_error("read", folder))?.path();
        if path
            .extension()
            .is_some_and(|e| e == item_type.file_extension())
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Up to `count` distinct indices below `len`, in the order picked.
fn pick(rng: &mut Rng, len: usize, count: usize) -> Vec<usize> {
    let mut picked = Vec::with_capacity(count);
    let len_u64 = len as u64;
    while picked.len() < count.min(len) {
        let index = usize::try_from(rng.below(len_u64)).unwrap_or(0);
        if !picked.contains(&index) {
            picked.push(index);
        }
    }
    picked
}

/// Rewrites an item's file as another program would after a user renamed
/// it: the summary (a contact's name) gets [`EDIT_SUFFIX`], and the time
/// of the last change (`LAST-MODIFIED`, a contact's `REV`) becomes `now`, so
/// a `modified` filter finds what was edited, and only that.
fn edit(file: &Path, item_type: ItemType, now: DateTime<Utc>) -> Result<(), DemoError> {
    let text = fs::read_to_string(file).map_err(io_error("read", file))?;
    let key = match item_type {
        ItemType::Contacts => "FN",
        ItemType::ScheduleItems | ItemType::Tasks => "SUMMARY",
    };
    let changed_key = match item_type {
        ItemType::Contacts => "REV:",
        ItemType::ScheduleItems | ItemType::Tasks => "LAST-MODIFIED:",
    };
    let changed_line = format!("{changed_key}{}\r\n", now.format("%Y%m%dT%H%M%SZ"));
    let mut out = String::with_capacity(text.len() + EDIT_SUFFIX.len());
    let mut edited = false;
    let mut in_edited_line = false;
    for line in text.split_inclusive('\n') {
        // The folded rest of the edited line goes with it.
        if in_edited_line && line.starts_with([' ', '\t']) {
            continue;
        }
        in_edited_line = false;
        if line.starts_with(changed_key) {
            out.push_str(&changed_line);
            continue;
        }
        let value = line
            .strip_prefix(key)
            .filter(|rest| rest.starts_with([':', ';']));
        if let Some(rest) = value.filter(|_| !edited) {
            out.push_str(key);
            out.push_str(rest.trim_end_matches(['\r', '\n']));
            out.push_str(EDIT_SUFFIX);
            out.push_str("\r\n");
            edited = true;
            in_edited_line = true;
        } else {
            out.push_str(line);
        }
    }
    if !edited {
        return Err(DemoError::Broken(format!(
            "{} has no {key} line to edit",
            file.display()
        )));
    }
    fs::write(file, out).map_err(io_error("write", file))
}

/// An item added at the target only, as a phone would add it: an event a
/// week from `now`, a task due in three days. None for contacts (the
/// contacts snapshot deletes orphans, and the demo shows them kept).
/// Returns its UID and its text.
fn orphan(item_type: ItemType, link: &str, now: DateTime<Utc>) -> Option<(String, String)> {
    let day = |days: i64| (now + Duration::days(days)).format("%Y%m%d").to_string();
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let uid = format!("demo-orphan-{link}-{item_type}@snapsync.invalid");
    let body = match item_type {
        ItemType::ScheduleItems => format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{stamp}\r\nDTSTART:{}T090000Z\r\n\
             DTEND:{}T100000Z\r\nSUMMARY:Dentist (added on the phone)\r\nEND:VEVENT\r\n",
            day(7),
            day(7)
        ),
        ItemType::Tasks => format!(
            "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:{stamp}\r\nDUE;VALUE=DATE:{}\r\n\
             SUMMARY:Buy a birthday present (added on the phone)\r\nSTATUS:NEEDS-ACTION\r\n\
             END:VTODO\r\n",
            day(3)
        ),
        ItemType::Contacts => return None,
    };
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//phone//EN\r\n{body}END:VCALENDAR\r\n"
    );
    Some((uid, text))
}

#[cfg(test)]
mod tests;
