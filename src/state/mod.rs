//! The state store: what the runner remembers between runs.
//!
//! Words used here:
//! - **target**: a Target's `metadata.name`; **link**: a link's name within
//!   its target. Together they name one link everywhere in the store.
//! - **link state** ([`LinkState`]): the sync flags the Target YAML declared
//!   when they were last recorded, whether outbound is **pending**, and the
//!   link's last get and send runs. Outbound is pending when it was enabled
//!   again after items had been synced: changes made in the CRM while it was
//!   off were never sent, so it stays pending until a send snapshot that
//!   covers the link has been applied without failures (DESIGN 2.4).
//! - **synced item** ([`SyncedItem`]): an item snapsync has written or read
//!   on both sides of a link, keyed by target, link, item type and UID, with
//!   its href and content hash in the CRM and at the target, and the target's
//!   version after that write or read. This is the "recorded in M" of DESIGN
//!   2.3: an item absent at the source that was synced before is deleted at
//!   the destination; one that never was is an orphan.
//! - **run**: one apply of one snapshot, from [`StateStore::begin_run`] to
//!   [`StateStore::finish_run`]. Its **journal** lists every operation it
//!   tried, with the outcome. A run that never finished shows as
//!   [`RunStatus::Running`] while its process lives and as
//!   [`RunStatus::Interrupted`] once that process is gone.
//! - **lock** ([`LinkLock`]): an advisory lock on one file per link, held
//!   while an apply writes to the link, so that two applies on the same link
//!   never run at once (DESIGN 2.5). The operating system releases it when
//!   the process ends, however it ends.
//!
//! Storage: one SQLite file (by default [`DEFAULT_PATH`]) and, beside it, a
//! folder of lock files (`<file>.locks/`). Times are kept as RFC 3339 text in
//! UTC, to the nanosecond, so they sort as text and read well in `sqlite3`.
//!
//! Reads never write: a plan opens the store with
//! [`StateStore::open_read_only`], and asks what recording a link's flags
//! would change ([`StateStore::preview_link_flags`]) without recording it.
//!
//! No secrets: the store holds names (of targets, links, snapshots, actors),
//! hrefs, content hashes and versions, and a short label per journal entry;
//! never a credential.

mod links;
mod lock;
mod runs;
mod synced;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::item::ItemType;
use crate::spec::types::Direction;
use crate::sqlite::{StoreError, StoreKind};

pub use links::{LinkState, RunRef};
pub use lock::{LinkLock, LockError};
pub use runs::{
    Action, JournalEntry, Outcome, OutcomeCounts, ProcessAccount, RunEnd, RunStart, RunStatus,
    RunSummary, actor_from, actor_from_env,
};
pub use synced::{Batch, SyncedCounts, SyncedItem, SyncedRecord, SyncedSet};

/// Where the state store lives unless `--state` says otherwise.
pub const DEFAULT_PATH: &str = ".snapsync/state.sqlite";

/// The schema, one batch per release that changed it. Only ever appended to:
/// a released batch never changes (see [`crate::sqlite`]).
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1];

/// The first schema. Every lookup the store makes is served by a primary
/// key: a collection's synced items and `has_synced` by a prefix of
/// `synced`'s, a run's journal by a prefix of `journal`'s.
const SCHEMA_V1: &str = r"
-- One apply of one snapshot. `finished` and `status` stay NULL until the run
-- ends; a run whose process died before that shows as interrupted.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    snapshot    TEXT NOT NULL,      -- the Snapshot's metadata.name
    direction   TEXT NOT NULL CHECK (direction IN ('get', 'send')),
    target      TEXT NOT NULL,      -- the Target's metadata.name
    actor       TEXT NOT NULL,      -- who started it: ci:<name>, or a user name
    plan_digest TEXT,               -- the digest of the plan it applied, if saved
    started     TEXT NOT NULL,      -- RFC 3339, UTC
    finished    TEXT,
    status      TEXT                -- succeeded | failed | aborted
);

-- Every operation a run tried, in plan order.
CREATE TABLE journal (
    run_id    INTEGER NOT NULL REFERENCES runs (id),
    seq       INTEGER NOT NULL,     -- the operation's position in the plan
    action    TEXT NOT NULL,        -- create | restore | update | delete
    link      TEXT NOT NULL,
    item_type TEXT NOT NULL,        -- scheduleItems | tasks | contacts
    uid       TEXT NOT NULL,
    label     TEXT,                 -- what people know the item by (a summary, a name)
    outcome   TEXT NOT NULL,        -- applied | failed | stale | skipped
    message   TEXT,                 -- why it failed, was stale or was skipped
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Each link's flags as its Target YAML last declared them, and what follows.
CREATE TABLE links (
    target           TEXT NOT NULL,
    link             TEXT NOT NULL,
    inbound          INTEGER NOT NULL CHECK (inbound IN (0, 1)),
    outbound         INTEGER NOT NULL CHECK (outbound IN (0, 1)),
    -- outbound enabled again after items were synced, and no send since
    outbound_pending INTEGER NOT NULL CHECK (outbound_pending IN (0, 1)),
    pending_since    TEXT,
    last_get_run     INTEGER REFERENCES runs (id),
    last_send_run    INTEGER REFERENCES runs (id),
    PRIMARY KEY (target, link)
) WITHOUT ROWID;

-- The items synced on each link: DESIGN 2.3's 'recorded in M'.
CREATE TABLE synced (
    target         TEXT NOT NULL,
    link           TEXT NOT NULL,
    item_type      TEXT NOT NULL,   -- scheduleItems | tasks | contacts
    uid            TEXT NOT NULL,
    crm_href       TEXT NOT NULL,
    crm_hash       TEXT NOT NULL,   -- content hash, 64 hex digits
    target_href    TEXT NOT NULL,
    target_hash    TEXT NOT NULL,
    target_version TEXT NOT NULL,   -- the target's version after our last write or read
    synced_at      TEXT NOT NULL,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    PRIMARY KEY (target, link, item_type, uid)
) WITHOUT ROWID;
";

/// Identifies a run in the store (and in `snapsync runs`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What went wrong with the state store. Every message names the store's
/// file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file cannot be opened, migrated or queried.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value cannot be read back (the file was edited by hand, or
    /// written by a newer snapsync that added a value this one does not know).
    #[error("{}: {what}", path.display())]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// The value and where it was found.
        what: String,
    },
    /// A run id that the store does not hold.
    #[error("{}: there is no run {run_id}", path.display())]
    UnknownRun {
        /// The store's file.
        path: PathBuf,
        /// The id asked for.
        run_id: RunId,
    },
    /// A run was finished a second time.
    #[error("{}: run {run_id} has already finished", path.display())]
    RunFinished {
        /// The store's file.
        path: PathBuf,
        /// The run.
        run_id: RunId,
    },
    /// A run was recorded against a link it did not cover: another target,
    /// or another direction than the one stated.
    #[error(
        "{}: run {run_id} is a {run_direction} snapshot of target {run_target}, \
         not a {direction} snapshot of target {target}",
        path.display(),
        run_direction = direction_str(*run_direction),
        direction = direction_str(*direction)
    )]
    RunMismatch {
        /// The store's file.
        path: PathBuf,
        /// The run.
        run_id: RunId,
        /// The run's direction.
        run_direction: Direction,
        /// The run's target.
        run_target: String,
        /// The direction the caller stated.
        direction: Direction,
        /// The target the caller stated.
        target: String,
    },
    /// A link whose flags were never recorded.
    #[error(
        "{}: link {link} of target {target} is unknown (its flags were never recorded)",
        path.display()
    )]
    UnknownLink {
        /// The store's file.
        path: PathBuf,
        /// The target's name.
        target: String,
        /// The link's name.
        link: String,
    },
    /// The lock file that shows a run is alive cannot be made.
    #[error("{}: cannot lock {}: {source}", path.display(), lock.display())]
    RunLock {
        /// The store's file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The state store: one SQLite file and its lock files.
///
/// Holds a single connection, so it is `Send` but not `Sync`: a process that
/// records from several threads shares it behind a mutex, or funnels its
/// writes through one thread.
#[derive(Debug)]
pub struct StateStore {
    conn: Connection,
    path: PathBuf,
    /// The lock of each run this store began and has not finished: holding it
    /// is what makes the run show as running to other processes.
    run_locks: RefCell<HashMap<RunId, File>>,
}

impl StateStore {
    /// Opens the store at `path` for reading and writing, creating it (and
    /// its folder) if needed and bringing its schema up to date.
    ///
    /// # Errors
    /// The file cannot be created or opened, is not a SQLite database, or was
    /// written by a newer snapsync.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let conn = crate::sqlite::open(StoreKind::State, path, MIGRATIONS)?;
        Ok(StateStore::with(conn, path))
    }

    /// Opens the store at `path` for reading only, as a dry run must: nothing
    /// is created or changed, and every write fails. A store that does not
    /// exist yet reads as empty.
    ///
    /// # Errors
    /// The file cannot be opened, is not a SQLite database, or its schema is
    /// not this release's (older ones are upgraded by a command that writes).
    pub fn open_read_only(path: &Path) -> Result<StateStore, StateError> {
        let conn = crate::sqlite::open_read_only_or_empty(StoreKind::State, path, MIGRATIONS)?;
        Ok(StateStore::with(conn, path))
    }

    fn with(conn: Connection, path: &Path) -> StateStore {
        StateStore {
            conn,
            path: path.to_owned(),
            run_locks: RefCell::new(HashMap::new()),
        }
    }

    /// The store's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl FnOnce(rusqlite::Error) -> StateError + '_ {
        sql_error(&self.path)
    }
}

/// Wraps a SQLite error of the store at `path`.
fn sql_error(path: &Path) -> impl FnOnce(rusqlite::Error) -> StateError + '_ {
    move |cause| StateError::Store(StoreError::sql(StoreKind::State, path)(cause))
}

fn corrupt(path: &Path, what: impl Into<String>) -> StateError {
    StateError::Corrupt {
        path: path.to_owned(),
        what: what.into(),
    }
}

/// How times are stored: fixed width, so that they sort as text.
fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_time(path: &Path, column: &str, text: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            corrupt(
                path,
                format!("{column} {text:?} is not an RFC 3339 time: {e}"),
            )
        })
}

fn parse_item_type(path: &Path, text: &str) -> Result<ItemType, StateError> {
    ItemType::ALL
        .into_iter()
        .find(|t| t.as_str() == text)
        .ok_or_else(|| corrupt(path, format!("unknown item type {text:?}")))
}

/// The word stored and shown for a direction.
fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Get => "get",
        Direction::Send => "send",
    }
}

fn parse_direction(path: &Path, text: &str) -> Result<Direction, StateError> {
    match text {
        "get" => Ok(Direction::Get),
        "send" => Ok(Direction::Send),
        _ => Err(corrupt(path, format!("unknown direction {text:?}"))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed clock: `t(n)` is `n` minutes after a fixed instant.
    pub(crate) fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::TimeDelta::minutes(minutes)
    }

    /// A fresh store in a temporary folder (kept alive by the returned guard).
    pub(crate) fn store() -> (tempfile::TempDir, StateStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.sqlite")).unwrap();
        (dir, store)
    }

    #[test]
    fn times_round_trip_to_the_nanosecond_and_sort_as_text() {
        let path = Path::new("state.sqlite");
        let precise = t(0) + chrono::TimeDelta::nanoseconds(123_456_789);
        assert_eq!(parse_time(path, "x", &time_text(precise)).unwrap(), precise);
        assert!(time_text(t(0)) < time_text(precise));
        assert_eq!(time_text(t(0)), "2026-05-01T10:00:00.000000000Z");
        let err = parse_time(path, "started", "yesterday").unwrap_err();
        assert!(
            err.to_string().starts_with("state.sqlite: started"),
            "{err}"
        );
    }

    #[test]
    fn stored_words_read_back() {
        let path = Path::new("state.sqlite");
        for item_type in ItemType::ALL {
            assert_eq!(
                parse_item_type(path, item_type.as_str()).unwrap(),
                item_type
            );
        }
        for direction in [Direction::Get, Direction::Send] {
            assert_eq!(
                parse_direction(path, direction_str(direction)).unwrap(),
                direction
            );
        }
        assert!(parse_item_type(path, "notes").is_err());
        assert!(parse_direction(path, "sideways").is_err());
    }

    #[test]
    fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/state.sqlite");
        let store = StateStore::open(&path).unwrap();
        let run = store
            .begin_run(&runs::tests::run_start("office", Direction::Send))
            .unwrap();
        store
            .record_link_flags("office", "jdoe", true, true, t(0))
            .unwrap();
        store
            .record_synced(&synced::tests::item("office", "jdoe", "a", run))
            .unwrap();
        store
            .record_operation(
                run,
                &runs::tests::entry(1, Action::Create, Outcome::Applied),
            )
            .unwrap();
        store
            .record_link_run("office", "jdoe", Direction::Send, run)
            .unwrap();
        store.finish_run(run, t(1), RunEnd::Succeeded).unwrap();
        let links = store.links(None).unwrap();
        let synced = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        let runs = store.run(run).unwrap().unwrap();
        drop(store);

        for reopened in [
            StateStore::open(&path).unwrap(),
            StateStore::open_read_only(&path).unwrap(),
        ] {
            assert_eq!(reopened.links(None).unwrap(), links);
            assert_eq!(
                reopened
                    .synced("office", "jdoe", ItemType::ScheduleItems)
                    .unwrap(),
                synced
            );
            assert_eq!(reopened.run(run).unwrap().unwrap(), runs);
            assert_eq!(runs.0.status, RunStatus::Succeeded);
            assert_eq!(reopened.path(), path);
        }
    }

    #[test]
    fn a_read_only_store_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");

        // Missing: reads as empty, and leaves no file behind.
        let store = StateStore::open_read_only(&path).unwrap();
        assert!(store.links(None).unwrap().is_empty());
        assert!(store.runs(10).unwrap().is_empty());
        assert!(!store.has_synced("office", "jdoe").unwrap());
        let err = store
            .record_link_flags("office", "jdoe", true, true, t(0))
            .unwrap_err();
        assert!(err.to_string().contains("state.sqlite"), "{err}");
        drop(store);
        assert!(!path.exists());

        // Present: reads it, refuses writes.
        drop(StateStore::open(&path).unwrap());
        let store = StateStore::open_read_only(&path).unwrap();
        let err = store
            .begin_run(&runs::tests::run_start("office", Direction::Get))
            .unwrap_err();
        assert!(err.to_string().contains("state.sqlite"), "{err}");
        assert!(store.runs(10).unwrap().is_empty());
    }

    #[test]
    fn every_lookup_is_served_by_an_index() {
        let (_dir, store) = store();
        let explain = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let values = ["office", "jdoe", "tasks", "uid"];
            let values = &values[..stmt.parameter_count()];
            stmt.query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n")
        };
        for (sql, table) in [
            (synced::SELECT_SYNCED, "synced"),
            (synced::DELETE_SYNCED, "synced"),
            (links::HAS_SYNCED, "synced"),
            (synced::COUNT_SYNCED_OF_TARGET, "synced"),
            (runs::SELECT_JOURNAL, "journal"),
            (runs::COUNT_JOURNAL, "journal"),
            (&format!("{}\nWHERE id = ?1", runs::SELECT_RUNS), "runs"),
            (
                &format!("{}\nORDER BY id DESC LIMIT ?1", runs::SELECT_RUNS),
                "runs",
            ),
            (
                &format!(
                    "{}\nWHERE l.target = ?1 AND l.link = ?2",
                    links::SELECT_LINKS
                ),
                "l", // the links table, as the query names it
            ),
        ] {
            let plan = explain(sql);
            let searched = plan.contains(&format!("SEARCH {table} USING PRIMARY KEY"))
                || plan.contains(&format!("SEARCH {table} USING INTEGER PRIMARY KEY"));
            // Newest first walks the rowids backwards and stops at the limit.
            let newest_first = sql.contains("ORDER BY id DESC LIMIT")
                && plan.lines().any(|line| line == format!("SCAN {table}"));
            assert!(searched || newest_first, "{sql}\n{plan}");
            // Grouping a run's entries by action and outcome sorts them; the
            // rest come out of the index in order.
            if !sql.contains("GROUP BY") {
                assert!(!plan.contains("USE TEMP B-TREE"), "{sql}\n{plan}");
            }
        }
    }

    #[test]
    fn errors_name_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        std::fs::write(&path, "not a database, and long enough to look like one to SQLite; not a database, and long enough").unwrap();
        let err = StateStore::open(&path).unwrap_err();
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        let err = StateStore::open_read_only(&path).unwrap_err();
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");

        let (_dir, store) = store();
        let err = store
            .finish_run(RunId(42), t(0), RunEnd::Failed)
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("state.sqlite: there is no run 42"),
            "{err}"
        );
    }
}
