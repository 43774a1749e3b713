//! Runs and their journal.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    RunId, StateError, StateStore, corrupt, direction_str, lock, parse_direction, parse_item_type,
    parse_time, sql_error, time_text,
};
use crate::item::ItemType;
use crate::spec::types::Direction;

/// What [`StateStore::begin_run`] records of a run as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The snapshot's name.
    pub snapshot: String,
    /// Get or send.
    pub direction: Direction,
    /// The target's name.
    pub target: String,
    /// Who started it (see [`actor_from_env`]).
    pub actor: String,
    /// The digest of the saved plan it applies, if it applies one.
    pub plan_digest: Option<String>,
    /// When it started.
    pub started: DateTime<Utc>,
}

/// Declares a closed set of words stored as text: `as_str`, `parse`,
/// `Display`.
macro_rules! stored_words {
    ($type:ident, $what:literal { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in the order reports list them.
            pub const ALL: &'static [$type] = &[$($type::$variant),+];

            /// The word stored in the journal and shown in reports.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $word),+
                }
            }

            // Not every kind of word is read back from the store.
            #[allow(dead_code)]
            fn parse(path: &Path, text: &str) -> Result<$type, StateError> {
                $type::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| {
                        corrupt(path, format!(concat!("unknown ", $what, " {:?}"), text))
                    })
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// What an operation did to its item at the destination.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Wrote an item the destination did not have.
    Create,
    /// Wrote again an item that was synced before and then deleted at the
    /// destination.
    Restore,
    /// Replaced an item whose content differed from the source's.
    Update,
    /// Deleted an item: deleted at the source since the last sync, or an
    /// orphan under `orphans: delete`.
    Delete,
}

stored_words!(Action, "action" {
    Create => "create",
    Restore => "restore",
    Update => "update",
    Delete => "delete",
});

/// How one operation ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Carried out.
    Applied,
    /// Tried, and refused or broken (the message says why).
    Failed,
    /// Not tried: its precondition no longer held (the item changed since
    /// the plan was made).
    Stale,
    /// Not tried, for another reason (the message says which).
    Skipped,
}

stored_words!(Outcome, "outcome" {
    Applied => "applied",
    Failed => "failed",
    Stale => "stale",
    Skipped => "skipped",
});

/// One operation a run tried, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The operation's position in the plan; unique within a run.
    pub seq: u32,
    /// What it did.
    pub action: Action,
    /// The link's name (the run's target is the link's target).
    pub link: String,
    /// The item's type.
    pub item_type: ItemType,
    /// The item's UID.
    pub uid: String,
    /// What people know the item by (a summary, a contact's name).
    pub label: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, was stale or was skipped.
    pub message: Option<String>,
}

/// How a run ended, as [`StateStore::finish_run`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunEnd {
    /// Every operation was applied (or there was nothing to do).
    Succeeded,
    /// It went through the plan, and some operations failed or were stale.
    Failed,
    /// It stopped before the end of the plan: a refusal (`maxDeletes`, a
    /// source that lists nothing) or an error that stopped everything.
    Aborted,
}

stored_words!(RunEnd, "run status" {
    Succeeded => "succeeded",
    Failed => "failed",
    Aborted => "aborted",
});

/// Where a run stands, as reports show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Not finished, and its process is still alive.
    Running,
    /// Not finished, and its process is gone (killed, or crashed): some of
    /// its operations may have been carried out without being journaled.
    /// Re-running the snapshot converges.
    Interrupted,
    /// Finished: every operation was applied, or there was nothing to do.
    Succeeded,
    /// Finished: it went through the plan, and some operations failed or
    /// were stale.
    Failed,
    /// Finished: it stopped before the end of the plan, at a refusal or an
    /// error that stopped everything.
    Aborted,
}

stored_words!(RunStatus, "run status" {
    Running => "running",
    Interrupted => "interrupted",
    Succeeded => "succeeded",
    Failed => "failed",
    Aborted => "aborted",
});

impl From<RunEnd> for RunStatus {
    fn from(end: RunEnd) -> Self {
        match end {
            RunEnd::Succeeded => RunStatus::Succeeded,
            RunEnd::Failed => RunStatus::Failed,
            RunEnd::Aborted => RunStatus::Aborted,
        }
    }
}

/// How many operations of one action ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCounts {
    /// Carried out.
    pub applied: u64,
    /// Tried and failed.
    pub failed: u64,
    /// Not tried: their preconditions no longer held.
    pub stale: u64,
    /// Not tried, for another reason.
    pub skipped: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: Outcome, count: u64) {
        let slot = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::Failed => &mut self.failed,
            Outcome::Stale => &mut self.stale,
            Outcome::Skipped => &mut self.skipped,
        };
        *slot += count;
    }

    /// Every operation counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.applied + self.failed + self.stale + self.skipped
    }
}

/// One run, as `snapsync runs` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The run.
    pub id: RunId,
    /// The snapshot it applied.
    pub snapshot: String,
    /// Get or send.
    pub direction: Direction,
    /// The target's name.
    pub target: String,
    /// Who started it.
    pub actor: String,
    /// The digest of the saved plan it applied, if it applied one.
    pub plan_digest: Option<String>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: RunStatus,
    /// Its journal counted by action and outcome (actions it never tried
    /// are absent).
    #[schemars(schema_with = "crate::outputs::map_schema::<Action, OutcomeCounts>")]
    pub counts: BTreeMap<Action, OutcomeCounts>,
    /// Operations that failed or were stale: those a report lists, and the
    /// reason for exit code 3.
    pub failures: u64,
    /// For a run that has not finished (running or interrupted): the items
    /// the state store records as last synced by it (their records carry
    /// its id) that its journal does not list. A killed run's journal can
    /// lack what it did; its records show it. They are items it wrote, or
    /// found already in sync. Always 0 for a finished run.
    pub synced_without_journal: u64,
}

impl RunSummary {
    /// How long it ran, if it finished.
    #[must_use]
    pub fn duration(&self) -> Option<TimeDelta> {
        self.finished.map(|finished| finished - self.started)
    }
}

/// Who starts a run, from the process's environment and account: see
/// [`actor_from`].
#[must_use]
pub fn actor_from_env() -> String {
    actor_from(|name| std::env::var(name).ok(), ProcessAccount::current)
}

/// The account a process runs as, for when no variable names a person: its
/// uid, and its login name if the system's user file has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessAccount {
    /// The user id, if known.
    pub uid: Option<u32>,
    /// The login name of that uid in `/etc/passwd`, if it is there.
    pub login: Option<String>,
}

impl ProcessAccount {
    /// This process's account: the owner of `/proc/self` (the effective
    /// uid, on Linux) and that uid's line in `/etc/passwd`. Cheap, and
    /// without running a program; a uid that only a directory service knows
    /// has no login here. Empty where neither file exists.
    #[must_use]
    pub fn current() -> ProcessAccount {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let uid = std::fs::metadata("/proc/self").ok().map(|m| m.uid());
            let login = uid.and_then(|uid| {
                let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
                login_of(&passwd, uid)
            });
            ProcessAccount { uid, login }
        }
        #[cfg(not(unix))]
        {
            ProcessAccount::default()
        }
    }
}

/// The login name of `uid` in the text of an `/etc/passwd` file
/// (`name:password:uid:gid:gecos:home:shell` per line).
fn login_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?.trim();
        let line_uid: u32 = fields.nth(1)?.trim().parse().ok()?;
        (line_uid == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_owned())
    })
}

/// Who starts a run, from environment variables as `var` reads them and,
/// failing those, the process's account as `account` reads it (only called
/// when needed). In a pipeline, `ci:` and the person or job the CI system
/// names:
///
/// - GitHub Actions: `$GITHUB_ACTOR`;
/// - GitLab CI: `$GITLAB_USER_LOGIN`;
/// - Jenkins: `$BUILD_USER_ID` (the build-user-vars plugin), else, with
///   `$JENKINS_URL` set, the job's `$BUILD_TAG` (`jenkins-JOB-NUMBER`);
/// - Buildkite: `$BUILDKITE_BUILD_CREATOR_EMAIL`, else
///   `$BUILDKITE_BUILD_CREATOR`, else `buildkite-PIPELINE-NUMBER`;
/// - another CI (`$CI` set, and not `false` or `0`): the user, as below.
///
/// Elsewhere, the user: `$USER`, `$USERNAME`, `$LOGNAME`, else the login
/// name of the process's uid, else `uid N`; `unknown` only when none of
/// these exists. Empty values count as unset.
#[must_use]
pub fn actor_from(
    var: impl Fn(&str) -> Option<String>,
    account: impl FnOnce() -> ProcessAccount,
) -> String {
    let get = |name: &str| {
        var(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let jenkins =
        || get("BUILD_USER_ID").or_else(|| get("JENKINS_URL").and_then(|_| get("BUILD_TAG")));
    let buildkite = || {
        get("BUILDKITE_BUILD_CREATOR_EMAIL")
            .or_else(|| get("BUILDKITE_BUILD_CREATOR"))
            .or_else(|| {
                let pipeline = get("BUILDKITE_PIPELINE_SLUG")?;
                let number = get("BUILDKITE_BUILD_NUMBER")?;
                Some(format!("buildkite-{pipeline}-{number}"))
            })
    };
    let named_by_ci = get("GITHUB_ACTOR")
        .or_else(|| get("GITLAB_USER_LOGIN"))
        .or_else(jenkins)
        .or_else(buildkite);
    if let Some(name) = named_by_ci {
        return format!("ci:{name}");
    }
    let user = get("USER")
        .or_else(|| get("USERNAME"))
        .or_else(|| get("LOGNAME"))
        .or_else(|| {
            let account = account();
            account
                .login
                .map(|login| login.trim().to_owned())
                .filter(|login| !login.is_empty())
                .or_else(|| account.uid.map(|uid| format!("uid {uid}")))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // `CI=false` is how some tools say "not in CI".
    if get("CI").is_some_and(|ci| !ci.eq_ignore_ascii_case("false") && ci != "0") {
        format!("ci:{user}")
    } else {
        user
    }
}

const INSERT_JOURNAL: &str = "
INSERT INTO journal (run_id, seq, action, link, item_type, uid, label, outcome, message)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

pub(super) fn insert_journal(
    conn: &Connection,
    path: &Path,
    run_id: RunId,
    entry: &JournalEntry,
) -> Result<(), StateError> {
    conn.prepare_cached(INSERT_JOURNAL)
        .and_then(|mut stmt| {
            stmt.execute(params![
                run_id.0,
                entry.seq,
                entry.action.as_str(),
                entry.link,
                entry.item_type.as_str(),
                entry.uid,
                entry.label,
                entry.outcome.as_str(),
                entry.message,
            ])
        })
        .map_err(sql_error(path))?;
    Ok(())
}

/// A run's journal: served by a prefix of the journal's primary key.
pub(super) const SELECT_JOURNAL: &str = "
SELECT seq, action, link, item_type, uid, label, outcome, message
FROM journal WHERE run_id = ?1 ORDER BY seq";

/// The items whose record names the run `?1` as the last to sync them and
/// that its journal does not list (a scan of the records: only asked for
/// runs that never finished).
const COUNT_SYNCED_WITHOUT_JOURNAL: &str = "
SELECT count(*) FROM (
    SELECT link, item_type, uid FROM synced WHERE run_id = ?1
    EXCEPT
    SELECT link, item_type, uid FROM journal WHERE run_id = ?1
)";

/// The journal counts of a range of runs: served by a prefix of the
/// journal's primary key.
pub(super) const COUNT_JOURNAL: &str = "
SELECT run_id, action, outcome, count(*) FROM journal
WHERE run_id BETWEEN ?1 AND ?2
GROUP BY run_id, action, outcome";

pub(super) const SELECT_RUNS: &str = "
SELECT id, snapshot, direction, target, actor, plan_digest, started, finished, status
FROM runs";

/// A run's row, before its words and times are read.
struct RunRow {
    id: i64,
    snapshot: String,
    direction: String,
    target: String,
    actor: String,
    plan_digest: Option<String>,
    started: String,
    finished: Option<String>,
    status: Option<String>,
}

impl RunRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
        Ok(RunRow {
            id: row.get(0)?,
            snapshot: row.get(1)?,
            direction: row.get(2)?,
            target: row.get(3)?,
            actor: row.get(4)?,
            plan_digest: row.get(5)?,
            started: row.get(6)?,
            finished: row.get(7)?,
            status: row.get(8)?,
        })
    }
}

/// A journal entry's row, before its words are read.
struct JournalRow {
    seq: i64,
    action: String,
    link: String,
    item_type: String,
    uid: String,
    label: Option<String>,
    outcome: String,
    message: Option<String>,
}

impl JournalRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<JournalRow> {
        Ok(JournalRow {
            seq: row.get(0)?,
            action: row.get(1)?,
            link: row.get(2)?,
            item_type: row.get(3)?,
            uid: row.get(4)?,
            label: row.get(5)?,
            outcome: row.get(6)?,
            message: row.get(7)?,
        })
    }

    fn into_entry(self, path: &Path) -> Result<JournalEntry, StateError> {
        let seq = self.seq;
        Ok(JournalEntry {
            seq: u32::try_from(seq)
                .map_err(|_| corrupt(path, format!("journal.seq {seq} is out of range")))?,
            action: Action::parse(path, &self.action)?,
            link: self.link,
            item_type: parse_item_type(path, &self.item_type)?,
            uid: self.uid,
            label: self.label,
            outcome: Outcome::parse(path, &self.outcome)?,
            message: self.message,
        })
    }
}

impl StateStore {
    /// Records that a run starts, and returns its id. Until
    /// [`StateStore::finish_run`], the run shows as running to every
    /// process, as long as this store is open in this process; after that,
    /// as interrupted.
    ///
    /// # Errors
    /// The store cannot be written, or the run's lock file cannot be made.
    pub fn begin_run(&self, start: &RunStart) -> Result<RunId, StateError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(self.sql())?;
        tx.execute(
            "INSERT INTO runs (snapshot, direction, target, actor, plan_digest, started)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                start.snapshot,
                direction_str(start.direction),
                start.target,
                start.actor,
                start.plan_digest,
                time_text(start.started),
            ],
        )
        .map_err(self.sql())?;
        let id = RunId(tx.last_insert_rowid());
        // Locked before the row commits, so no reader ever sees the run
        // without its lock and takes it for interrupted.
        let lock_path = lock::run_lock_path(&self.path, id);
        let holder = format!(
            "{} of {} by {}",
            direction_str(start.direction),
            start.snapshot,
            start.actor
        );
        let file =
            lock::hold_run_lock(&lock_path, &holder).map_err(|source| StateError::RunLock {
                path: self.path.clone(),
                lock: lock_path.clone(),
                source,
            })?;
        if let Err(e) = tx.commit() {
            drop(file);
            let _ = std::fs::remove_file(&lock_path);
            return Err(sql_error(&self.path)(e));
        }
        self.run_locks.borrow_mut().insert(id, file);
        Ok(id)
    }

    /// Journals one operation of a run, in its own transaction
    /// ([`crate::state::Batch::record_operation`] groups many).
    ///
    /// # Errors
    /// The store cannot be written, the run does not exist, or it already
    /// has an entry with this `seq`.
    pub fn record_operation(&self, run_id: RunId, entry: &JournalEntry) -> Result<(), StateError> {
        insert_journal(&self.conn, &self.path, run_id, entry)
    }

    /// Records that a run ended, and how; returns its summary, counted from
    /// its journal.
    ///
    /// # Errors
    /// The run does not exist or has already finished, or the store cannot
    /// be written.
    pub fn finish_run(
        &self,
        run_id: RunId,
        finished: DateTime<Utc>,
        end: RunEnd,
    ) -> Result<RunSummary, StateError> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET finished = ?2, status = ?3 WHERE id = ?1 AND finished IS NULL",
                params![run_id.0, time_text(finished), end.as_str()],
            )
            .map_err(self.sql())?;
        if changed == 0 {
            let exists = self
                .conn
                .query_row(
                    "SELECT 1 FROM runs WHERE id = ?1",
                    params![run_id.0],
                    |_| Ok(()),
                )
                .optional()
                .map_err(self.sql())?
                .is_some();
            let path = self.path.clone();
            return Err(if exists {
                StateError::RunFinished { path, run_id }
            } else {
                StateError::UnknownRun { path, run_id }
            });
        }
        if let Some(file) = self.run_locks.borrow_mut().remove(&run_id) {
            drop(file);
            // Only a tidy-up: a leftover file of a finished run is never read.
            let _ = std::fs::remove_file(lock::run_lock_path(&self.path, run_id));
        }
        self.summaries("WHERE id = ?1", run_id.0)?
            .pop()
            .ok_or(StateError::UnknownRun {
                path: self.path.clone(),
                run_id,
            })
    }

    /// The last `limit` runs, newest first.
    ///
    /// # Errors
    /// The store cannot be read, or holds a value it cannot read back.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.summaries("ORDER BY id DESC LIMIT ?1", limit)
    }

    /// One run and its journal, in plan order.
    ///
    /// # Errors
    /// The store cannot be read, or holds a value it cannot read back.
    pub fn run(&self, id: RunId) -> Result<Option<(RunSummary, Vec<JournalEntry>)>, StateError> {
        let Some(summary) = self.summaries("WHERE id = ?1", id.0)?.pop() else {
            return Ok(None);
        };
        let rows: Vec<JournalRow> = self
            .conn
            .prepare_cached(SELECT_JOURNAL)
            .and_then(|mut stmt| stmt.query_map(params![id.0], JournalRow::read)?.collect())
            .map_err(self.sql())?;
        let entries = rows
            .into_iter()
            .map(|row| row.into_entry(&self.path))
            .collect::<Result<_, _>>()?;
        Ok(Some((summary, entries)))
    }

    /// One run's summary, without its journal (for a link's last runs).
    ///
    /// # Errors
    /// The store cannot be read, or holds a value it cannot read back.
    pub fn run_summary(&self, id: RunId) -> Result<Option<RunSummary>, StateError> {
        Ok(self.summaries("WHERE id = ?1", id.0)?.pop())
    }

    /// The runs that `clause` (with its one parameter) selects, with their
    /// counts, in the clause's order.
    fn summaries(&self, clause: &str, param: i64) -> Result<Vec<RunSummary>, StateError> {
        let rows: Vec<RunRow> = self
            .conn
            .prepare_cached(&format!("{SELECT_RUNS}\n{clause}"))
            .and_then(|mut stmt| stmt.query_map(params![param], RunRow::read)?.collect())
            .map_err(self.sql())?;
        let (Some(low), Some(high)) = (
            rows.iter().map(|r| r.id).min(),
            rows.iter().map(|r| r.id).max(),
        ) else {
            return Ok(Vec::new());
        };
        let mut counts = self.counts(low, high)?;
        rows.into_iter()
            .map(|row| {
                let counts = counts.remove(&row.id).unwrap_or_default();
                self.summary(row, counts)
            })
            .collect()
    }

    /// The journal counts of the runs whose ids are between `low` and
    /// `high`, in one query over the journal's primary key.
    fn counts(
        &self,
        low: i64,
        high: i64,
    ) -> Result<HashMap<i64, BTreeMap<Action, OutcomeCounts>>, StateError> {
        let rows: Vec<(i64, String, String, i64)> = self
            .conn
            .prepare_cached(COUNT_JOURNAL)
            .and_then(|mut stmt| {
                stmt.query_map(params![low, high], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
            })
            .map_err(self.sql())?;
        let mut counts: HashMap<i64, BTreeMap<Action, OutcomeCounts>> = HashMap::new();
        for (run, action, outcome, count) in rows {
            counts
                .entry(run)
                .or_default()
                .entry(Action::parse(&self.path, &action)?)
                .or_default()
                .add(
                    Outcome::parse(&self.path, &outcome)?,
                    u64::try_from(count).unwrap_or_default(),
                );
        }
        Ok(counts)
    }

    fn summary(
        &self,
        row: RunRow,
        counts: BTreeMap<Action, OutcomeCounts>,
    ) -> Result<RunSummary, StateError> {
        let path = &self.path;
        let id = RunId(row.id);
        let status = match &row.status {
            Some(status) => RunEnd::parse(path, status)?.into(),
            None if self.run_locks.borrow().contains_key(&id)
                || lock::is_held(&lock::run_lock_path(path, id)) =>
            {
                RunStatus::Running
            }
            None => RunStatus::Interrupted,
        };
        let failures = counts.values().map(|c| c.failed + c.stale).sum();
        let synced_without_journal = if row.status.is_none() {
            let count: i64 = self
                .conn
                .prepare_cached(COUNT_SYNCED_WITHOUT_JOURNAL)
                .and_then(|mut stmt| stmt.query_row(params![row.id], |r| r.get(0)))
                .map_err(self.sql())?;
            u64::try_from(count).unwrap_or_default()
        } else {
            0
        };
        Ok(RunSummary {
            id,
            direction: parse_direction(path, &row.direction)?,
            started: parse_time(path, "runs.started", &row.started)?,
            finished: row
                .finished
                .map(|f| parse_time(path, "runs.finished", &f))
                .transpose()?,
            snapshot: row.snapshot,
            target: row.target,
            actor: row.actor,
            plan_digest: row.plan_digest,
            status,
            counts,
            failures,
            synced_without_journal,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{store, t};
    use super::*;

    /// The start of a run of the snapshot `nightly` on `target`.
    pub(crate) fn run_start(target: &str, direction: Direction) -> RunStart {
        RunStart {
            snapshot: "nightly".into(),
            direction,
            target: target.into(),
            actor: "ci:alice".into(),
            plan_digest: None,
            started: t(0),
        }
    }

    /// An operation on the schedule item `uid-<seq>` of link `jdoe`.
    pub(crate) fn entry(seq: u32, action: Action, outcome: Outcome) -> JournalEntry {
        JournalEntry {
            seq,
            action,
            link: "jdoe".into(),
            item_type: ItemType::ScheduleItems,
            uid: format!("uid-{seq}"),
            label: Some(format!("Meeting {seq}")),
            outcome,
            message: (outcome != Outcome::Applied).then(|| "HTTP 412".to_owned()),
        }
    }

    #[test]
    fn a_run_is_journaled_and_counted() {
        let (_dir, store) = store();
        let start = RunStart {
            plan_digest: Some("blake3:abc".into()),
            ..run_start("office", Direction::Send)
        };
        let run = store.begin_run(&start).unwrap();
        let entries = [
            entry(1, Action::Create, Outcome::Applied),
            entry(2, Action::Create, Outcome::Applied),
            entry(3, Action::Update, Outcome::Stale),
            entry(4, Action::Delete, Outcome::Failed),
            entry(5, Action::Restore, Outcome::Applied),
            JournalEntry {
                label: None,
                message: None,
                item_type: ItemType::Contacts,
                ..entry(6, Action::Update, Outcome::Skipped)
            },
        ];
        for e in &entries {
            store.record_operation(run, e).unwrap();
        }
        let summary = store.finish_run(run, t(3), RunEnd::Failed).unwrap();
        let counts = |applied, failed, stale, skipped| OutcomeCounts {
            applied,
            failed,
            stale,
            skipped,
        };
        let expected = RunSummary {
            id: run,
            snapshot: "nightly".into(),
            direction: Direction::Send,
            target: "office".into(),
            actor: "ci:alice".into(),
            plan_digest: Some("blake3:abc".into()),
            started: t(0),
            finished: Some(t(3)),
            status: RunStatus::Failed,
            counts: BTreeMap::from([
                (Action::Create, counts(2, 0, 0, 0)),
                (Action::Restore, counts(1, 0, 0, 0)),
                (Action::Update, counts(0, 0, 1, 1)),
                (Action::Delete, counts(0, 1, 0, 0)),
            ]),
            failures: 2,
            synced_without_journal: 0,
        };
        assert_eq!(summary, expected);
        assert_eq!(summary.duration(), Some(TimeDelta::minutes(3)));
        let (again, journal) = store.run(run).unwrap().unwrap();
        assert_eq!(again, expected);
        assert_eq!(journal, entries);
        assert_eq!(store.run(RunId(run.0 + 1)).unwrap(), None);
        assert_eq!(store.run_summary(run).unwrap(), Some(expected));
        assert_eq!(store.run_summary(RunId(run.0 + 1)).unwrap(), None);
    }

    #[test]
    fn runs_list_newest_first_with_their_own_counts() {
        let (_dir, store) = store();
        let mut ids = Vec::new();
        for (i, end) in [RunEnd::Succeeded, RunEnd::Aborted, RunEnd::Succeeded]
            .into_iter()
            .enumerate()
        {
            let run = store
                .begin_run(&run_start("office", Direction::Get))
                .unwrap();
            for seq in 0..=u32::try_from(i).unwrap() {
                store
                    .record_operation(run, &entry(seq, Action::Create, Outcome::Applied))
                    .unwrap();
            }
            store.finish_run(run, t(1), end).unwrap();
            ids.push(run);
        }
        let runs = store.runs(2).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
        assert_eq!(runs[0].counts[&Action::Create].applied, 3);
        assert_eq!(runs[1].counts[&Action::Create].applied, 2);
        assert_eq!(runs[1].status, RunStatus::Aborted);
        assert_eq!(store.runs(10).unwrap().len(), 3);
        assert!(store.runs(0).unwrap().is_empty());
    }

    #[test]
    fn a_run_with_no_operations_has_no_counts() {
        let (_dir, store) = store();
        let run = store
            .begin_run(&run_start("office", Direction::Get))
            .unwrap();
        let summary = store.finish_run(run, t(0), RunEnd::Succeeded).unwrap();
        assert!(summary.counts.is_empty());
        assert_eq!(
            (summary.failures, summary.duration()),
            (0, Some(TimeDelta::zero()))
        );
    }

    #[test]
    fn an_unfinished_run_is_running_then_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let store = StateStore::open(&path).unwrap();
        let run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        store
            .record_operation(run, &entry(1, Action::Create, Outcome::Applied))
            .unwrap();

        let status = |store: &StateStore| store.runs(1).unwrap()[0].status;
        assert_eq!(status(&store), RunStatus::Running);
        // Another process (here, another store) sees it running too.
        let other = StateStore::open_read_only(&path).unwrap();
        assert_eq!(status(&other), RunStatus::Running);
        let summary = other.run(run).unwrap().unwrap().0;
        assert_eq!((summary.finished, summary.duration()), (None, None));

        // The process ends without finishing the run.
        drop(store);
        assert_eq!(status(&other), RunStatus::Interrupted);
        let reopened = StateStore::open(&path).unwrap();
        assert_eq!(status(&reopened), RunStatus::Interrupted);
        assert_eq!(reopened.run(run).unwrap().unwrap().1.len(), 1);
    }

    #[test]
    fn an_interrupted_run_counts_what_its_records_show_it_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let mut store = StateStore::open(&path).unwrap();
        let earlier = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        let run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        // Five items recorded as synced by the run, one of them journaled;
        // one more recorded by an earlier run.
        let batch = store.batch().unwrap();
        for seq in 1..=5 {
            batch
                .record_synced(&crate::state::synced::tests::item(
                    "office",
                    "jdoe",
                    &format!("uid-{seq}"),
                    run,
                ))
                .unwrap();
        }
        batch
            .record_synced(&crate::state::synced::tests::item(
                "office", "jdoe", "uid-9", earlier,
            ))
            .unwrap();
        batch
            .record_operation(run, &entry(1, Action::Create, Outcome::Applied))
            .unwrap();
        batch.commit().unwrap();
        store.finish_run(earlier, t(1), RunEnd::Succeeded).unwrap();

        assert_eq!(
            store.run_summary(run).unwrap().unwrap().status,
            RunStatus::Running
        );
        drop(store);
        let reader = StateStore::open_read_only(&path).unwrap();
        let summary = reader.run_summary(run).unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Interrupted);
        assert_eq!(summary.counts[&Action::Create].applied, 1);
        assert_eq!(summary.synced_without_journal, 4);
        // A finished run's records are all journaled or kept: not counted.
        assert_eq!(
            reader
                .run_summary(earlier)
                .unwrap()
                .unwrap()
                .synced_without_journal,
            0
        );
        assert_eq!(
            serde_json::to_value(&summary).unwrap()["syncedWithoutJournal"],
            4
        );
    }

    #[test]
    fn a_run_finishes_once() {
        let (_dir, store) = store();
        let run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        let lock = lock::run_lock_path(store.path(), run);
        assert!(lock.exists());
        store.finish_run(run, t(1), RunEnd::Succeeded).unwrap();
        assert!(!lock.exists());
        let err = store.finish_run(run, t(2), RunEnd::Failed).unwrap_err();
        assert!(matches!(err, StateError::RunFinished { .. }), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("state.sqlite: run 1 has already finished"),
            "{err}"
        );
        assert_eq!(store.run(run).unwrap().unwrap().0.finished, Some(t(1)));
    }

    #[test]
    fn a_journal_entry_needs_its_run_and_a_new_seq() {
        let (_dir, store) = store();
        let err = store
            .record_operation(RunId(5), &entry(1, Action::Create, Outcome::Applied))
            .unwrap_err();
        assert!(err.to_string().contains("state.sqlite"), "{err}");
        let run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        store
            .record_operation(run, &entry(1, Action::Create, Outcome::Applied))
            .unwrap();
        let err = store
            .record_operation(run, &entry(1, Action::Update, Outcome::Applied))
            .unwrap_err();
        assert!(err.to_string().contains("state.sqlite"), "{err}");
    }

    #[test]
    fn an_unknown_word_in_the_journal_is_reported() {
        let (_dir, store) = store();
        let run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        store
            .record_operation(run, &entry(1, Action::Create, Outcome::Applied))
            .unwrap();
        store
            .conn
            .execute("UPDATE journal SET action = 'merge'", [])
            .unwrap();
        let err = store.run(run).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("state.sqlite: unknown action \"merge\""),
            "{err}"
        );
    }

    #[test]
    fn words_serialize_in_camel_case() {
        let entry = entry(1, Action::Restore, Outcome::Stale);
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["action"], "restore");
        assert_eq!(json["outcome"], "stale");
        assert_eq!(json["itemType"], "scheduleItems");
        let back: JournalEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
        for status in RunStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        for action in Action::ALL {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
    }

    /// The actor for these variables, with no account to fall back on.
    fn actor(vars: &[(&str, &str)]) -> String {
        actor_with(vars, ProcessAccount::default())
    }

    fn actor_with(vars: &[(&str, &str)], account: ProcessAccount) -> String {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        actor_from(|name| vars.get(name).cloned(), || account)
    }

    #[test]
    fn the_actor_in_github_actions_is_the_github_actor() {
        assert_eq!(
            actor(&[
                ("CI", "true"),
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_ACTOR", "octocat"),
                ("USER", "runner")
            ]),
            "ci:octocat"
        );
        assert_eq!(
            actor(&[("GITHUB_ACTOR", " "), ("USER", "jdoe")]),
            "jdoe",
            "a blank value counts as unset"
        );
    }

    #[test]
    fn the_actor_in_gitlab_ci_is_the_gitlab_login() {
        assert_eq!(
            actor(&[
                ("CI", "true"),
                ("GITLAB_CI", "true"),
                ("GITLAB_USER_LOGIN", "jdoe"),
                ("USER", "root")
            ]),
            "ci:jdoe"
        );
    }

    #[test]
    fn the_actor_in_jenkins_is_the_build_user_or_else_the_build_tag() {
        assert_eq!(
            actor(&[
                ("JENKINS_URL", "https://ci.example.com/"),
                ("BUILD_TAG", "jenkins-sync-42"),
                ("BUILD_USER_ID", "asmith"),
                ("USER", "jenkins")
            ]),
            "ci:asmith"
        );
        assert_eq!(
            actor(&[
                ("JENKINS_URL", "https://ci.example.com/"),
                ("BUILD_TAG", "jenkins-sync-42"),
                ("USER", "jenkins")
            ]),
            "ci:jenkins-sync-42"
        );
        // BUILD_TAG alone is too common a name to mean Jenkins.
        assert_eq!(actor(&[("BUILD_TAG", "v1"), ("USER", "me")]), "me");
    }

    #[test]
    fn the_actor_in_buildkite_is_the_build_creator_or_else_the_build() {
        let build = [
            ("CI", "true"),
            ("BUILDKITE", "true"),
            ("BUILDKITE_PIPELINE_SLUG", "sync"),
            ("BUILDKITE_BUILD_NUMBER", "7"),
            ("USER", "buildkite-agent"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let vars: Vec<(&str, &str)> = build.iter().chain(extra).copied().collect();
            actor(&vars)
        };
        assert_eq!(
            with(&[
                ("BUILDKITE_BUILD_CREATOR", "Jane Doe"),
                ("BUILDKITE_BUILD_CREATOR_EMAIL", "jane@example.com")
            ]),
            "ci:jane@example.com"
        );
        assert_eq!(
            with(&[("BUILDKITE_BUILD_CREATOR", "Jane Doe")]),
            "ci:Jane Doe"
        );
        assert_eq!(with(&[]), "ci:buildkite-sync-7");
    }

    #[test]
    fn another_ci_names_the_user_it_runs_as() {
        assert_eq!(actor(&[("CI", "true"), ("USER", "builder")]), "ci:builder");
        assert_eq!(actor(&[("CI", "false"), ("USER", "jdoe")]), "jdoe");
        assert_eq!(actor(&[("CI", "0"), ("USER", "jdoe")]), "jdoe");
        let container = ProcessAccount {
            uid: Some(1001),
            login: None,
        };
        assert_eq!(actor_with(&[("CI", "1")], container), "ci:uid 1001");
    }

    #[test]
    fn the_actor_is_the_user_then_the_account_and_unknown_only_without_either() {
        assert_eq!(actor(&[("USER", "jdoe"), ("USERNAME", "x")]), "jdoe");
        assert_eq!(actor(&[("USERNAME", "JDoe")]), "JDoe");
        assert_eq!(actor(&[("USER", ""), ("USERNAME", "win")]), "win");
        assert_eq!(actor(&[("LOGNAME", "jdoe")]), "jdoe");
        let account = ProcessAccount {
            uid: Some(1000),
            login: Some("jdoe".into()),
        };
        assert_eq!(actor_with(&[], account.clone()), "jdoe");
        assert_eq!(actor_with(&[("USER", "me")], account), "me");
        let nameless = ProcessAccount {
            uid: Some(1001),
            login: None,
        };
        assert_eq!(actor_with(&[], nameless), "uid 1001");
        assert_eq!(actor(&[]), "unknown");
        assert!(!actor_from_env().is_empty());
    }

    #[test]
    fn a_login_is_found_by_its_uid_in_a_passwd_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # a comment\n\
                      bad line\n\
                      jdoe:x:1000:1000:J Doe,,,:/home/jdoe:/bin/bash\n";
        assert_eq!(login_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(login_of(passwd, 1000).as_deref(), Some("jdoe"));
        assert_eq!(login_of(passwd, 1001), None);
        assert_eq!(login_of("", 0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_an_account() {
        assert!(ProcessAccount::current().uid.is_some());
    }
}
