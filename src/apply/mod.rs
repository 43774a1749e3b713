//! Applying a plan: carrying out its operations, exactly, with their
//! preconditions, and recording each in the state store as it succeeds.
//!
//! Words used here:
//! - **stale**: an operation whose precondition no longer holds (the source
//!   item's content hash, or the destination item's version, changed since
//!   the plan was made). It is not applied, and is reported.
//! - **failed**: an operation that was tried and refused (a 412 is stale, a
//!   permission error failed), after retries for temporary failures.
//! - **refusal**: a safety valve (DESIGN 2.5) that stops an apply before any
//!   write: more deletes than `maxDeletes`, a source that had synced items
//!   and now lists none, or deletes (orphans included) of every item of a
//!   destination collection.
//!
//! The executor never decides what to do: it carries out the plan it is
//! given. Writes run on a bounded pool of threads (the target's
//! `concurrency`); the state store is written by this thread alone, as
//! results come in, so a crash at any moment loses at most the records of
//! writes in flight, and a re-run converges: identity is the UID, so the
//! next plan sees those items as kept, never as new.

mod execute;
mod journal;
mod pool;
mod retry;

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

pub use execute::{Progress, execute, execute_holding, lock_covered_links};

use crate::endpoint::ErrorKind;
use crate::item::ItemType;
use crate::plan::{Action, Plan};
use crate::state::{LockError, Outcome, StateError};

/// What stops an apply as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A safety valve; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Another apply holds a link.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The plan names a target or link the specs do not define.
    #[error(
        "the plan names {what}, which the specs do not define; plan again with the current specs"
    )]
    Unknown {
        /// What is missing (`target office`, `link jdoe of target office`).
        what: String,
    },
}

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The delete limit from the command line, on top of each spec's.
    pub max_deletes: Option<u32>,
    /// How long to wait for another apply's lock on a link.
    pub lock_timeout: Duration,
    /// Who runs it (for the journal).
    pub actor: String,
    /// The digest of the saved plan applied, if one was.
    pub plan_digest: Option<String>,
    /// Attempts for an operation that fails with a temporary error.
    pub attempts: u32,
    /// The first wait between attempts (doubled each time, unless the
    /// endpoint says how long to wait).
    pub backoff: Duration,
    /// Apply even where a source that had synced items now lists none, or
    /// where a section deletes every item of its destination collection.
    pub allow_empty_source: bool,
    /// The source items the plan read, when the apply made its own plan:
    /// taken from here instead of read again when their version has not
    /// moved (see [`crate::plan::SourceCache`]).
    pub source_cache: Option<std::sync::Arc<crate::plan::SourceCache>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            max_deletes: None,
            lock_timeout: Duration::from_secs(0),
            actor: String::from("unknown"),
            plan_digest: None,
            attempts: 4,
            backoff: Duration::from_millis(200),
            allow_empty_source: false,
            source_cache: None,
        }
    }
}

/// Why an apply refused to start. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More deletes than a limit allows.
    #[error(
        "snapshot {snapshot} would delete {}, more than {limit} ({source_of_limit}); \
         check the plan, then raise the limit (spec.maxDeletes or --max-deletes) if the deletes are intended",
        crate::plural::count(*.deletes, "item", "items")
    )]
    TooManyDeletes {
        /// The snapshot.
        snapshot: String,
        /// How many deletes its plan holds.
        deletes: u64,
        /// The limit.
        limit: u32,
        /// Which limit (`spec.maxDeletes` or `--max-deletes`).
        source_of_limit: &'static str,
    },
    /// A source that had synced items now lists none.
    #[error(
        "snapshot {snapshot}, link {link}: the source lists no {item_type}, but {synced} were synced before; \
         a broken server or a wrong path looks exactly like \"delete everything\", so nothing was applied. \
         Check {collection}; if it really is empty now, apply again with --allow-empty-source"
    )]
    EmptySource {
        /// The snapshot.
        snapshot: String,
        /// The link.
        link: String,
        /// The item type.
        item_type: ItemType,
        /// How many items were synced before.
        synced: u64,
        /// The source collection, described.
        collection: String,
    },
    /// A section would delete every item of its destination collection
    /// (deletes at the source and orphans deleted alike).
    #[error(
        "snapshot {snapshot}, link {link}: the plan would delete every item of {collection} \
         ({deletes} {item_type}, orphans included); a wrong path or a mistyped user looks exactly like \"delete everything\", \
         so nothing was applied. Check the plan; if every item really must go, apply again with \
         --allow-empty-source"
    )]
    DeletesEverything {
        /// The snapshot.
        snapshot: String,
        /// The link.
        link: String,
        /// The item type.
        item_type: ItemType,
        /// How many deletes (every item of the destination).
        deletes: u64,
        /// The destination collection, described.
        collection: String,
    },
}

/// Checks the safety valves of DESIGN 2.5 before any write.
///
/// # Errors
/// The first refusal found.
pub fn check_safety(plan: &Plan, options: &ApplyOptions) -> Result<(), Refusal> {
    let max_deletes_flag = options.max_deletes;
    for snapshot in &plan.snapshots {
        let deletes = snapshot.totals().deletes();
        for (limit, source_of_limit) in [
            (snapshot.max_deletes, "spec.maxDeletes"),
            (max_deletes_flag, "--max-deletes"),
        ] {
            if let Some(limit) = limit.filter(|l| deletes > u64::from(*l)) {
                return Err(Refusal::TooManyDeletes {
                    snapshot: snapshot.snapshot.clone(),
                    deletes,
                    limit,
                    source_of_limit,
                });
            }
        }
        for (link, section) in snapshot.sections() {
            // Both sides empty: nothing to guard, and no alarm.
            if !options.allow_empty_source
                && section.source_items == 0
                && section.synced_items > 0
                && section.destination_items > 0
            {
                return Err(Refusal::EmptySource {
                    snapshot: snapshot.snapshot.clone(),
                    link: link.link.clone(),
                    item_type: section.item_type,
                    synced: section.synced_items,
                    collection: section.source.clone(),
                });
            }
            // Whether the deletes come from the three-way rules or from
            // `orphans: delete`: emptying a collection needs the flag.
            let deletes = section.totals.deletes();
            if !options.allow_empty_source
                && section.destination_items > 0
                && deletes >= section.destination_items
            {
                return Err(Refusal::DeletesEverything {
                    snapshot: snapshot.snapshot.clone(),
                    link: link.link.clone(),
                    item_type: section.item_type,
                    deletes,
                    collection: section.destination.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Why an operation was not applied: the two ways an operation that was
/// not carried out ends. (An applied operation is counted in its
/// snapshot's `applied`, never listed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotApplied {
    /// Its precondition no longer held; not applied.
    Stale,
    /// Tried and refused.
    Failed,
}

impl NotApplied {
    /// How a write that met `kind` ends: a precondition that no longer holds
    /// (the item changed, appeared or went away) is stale, anything else
    /// failed. Every kind is listed, so a new one must choose.
    #[must_use]
    pub fn for_error(kind: ErrorKind) -> NotApplied {
        match kind {
            ErrorKind::PreconditionFailed | ErrorKind::Exists | ErrorKind::DoesNotExist => {
                NotApplied::Stale
            }
            ErrorKind::Invalid | ErrorKind::Transient | ErrorKind::Other => NotApplied::Failed,
        }
    }

    /// The word reports show (`stale`, `failed`), the journal's too.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        Outcome::from(self).as_str()
    }
}

impl From<NotApplied> for Outcome {
    fn from(not_applied: NotApplied) -> Outcome {
        match not_applied {
            NotApplied::Stale => Outcome::Stale,
            NotApplied::Failed => Outcome::Failed,
        }
    }
}

impl std::fmt::Display for NotApplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation that was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unapplied {
    /// The snapshot.
    pub snapshot: String,
    /// The target.
    pub target: String,
    /// The link.
    pub link: String,
    /// The item type.
    pub item_type: ItemType,
    /// The item's UID.
    pub uid: String,
    /// What was to be done.
    pub action: Action,
    /// Stale or failed.
    pub outcome: NotApplied,
    /// Why.
    pub message: String,
}

impl std::fmt::Display for Unapplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A UID from a plan file is input: a line break in it must not
        // make a line of its own.
        let uid: String = self
            .uid
            .chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        write!(
            f,
            "{}: {} {} · target {} · link {} · {} {uid}: {}",
            self.outcome,
            self.snapshot,
            self.action,
            self.target,
            self.link,
            self.item_type,
            self.message
        )
    }
}

/// What one snapshot's apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotReport {
    /// The snapshot.
    pub snapshot: String,
    /// Its run in the journal.
    pub run_id: i64,
    /// Operations applied, by action.
    pub applied: crate::plan::Totals,
    /// Operations not applied.
    pub unapplied: Vec<Unapplied>,
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One per snapshot of the plan.
    pub snapshots: Vec<SnapshotReport>,
}

impl Report {
    /// Every operation not applied.
    pub fn unapplied(&self) -> impl Iterator<Item = &Unapplied> {
        self.snapshots.iter().flat_map(|s| &s.unapplied)
    }

    /// Applied operations, by action, across snapshots.
    #[must_use]
    pub fn applied(&self) -> crate::plan::Totals {
        let mut totals = crate::plan::Totals::default();
        for s in &self.snapshots {
            totals.merge(&s.applied);
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_applied_is_stale_or_failed_in_the_journal_s_words_and_in_json() {
        for (not_applied, outcome, word) in [
            (NotApplied::Stale, Outcome::Stale, "stale"),
            (NotApplied::Failed, Outcome::Failed, "failed"),
        ] {
            assert_eq!(Outcome::from(not_applied), outcome);
            assert_eq!(not_applied.to_string(), word);
            assert_eq!(outcome.as_str(), word);
            assert_eq!(
                serde_json::to_value(not_applied).unwrap(),
                serde_json::json!(word)
            );
        }
    }

    #[test]
    fn a_write_is_stale_where_its_precondition_broke_and_failed_otherwise() {
        for (kind, expected) in [
            (ErrorKind::PreconditionFailed, NotApplied::Stale),
            (ErrorKind::Exists, NotApplied::Stale),
            (ErrorKind::DoesNotExist, NotApplied::Stale),
            (ErrorKind::Invalid, NotApplied::Failed),
            (ErrorKind::Transient, NotApplied::Failed),
            (ErrorKind::Other, NotApplied::Failed),
        ] {
            assert_eq!(NotApplied::for_error(kind), expected, "{kind:?}");
        }
    }

    #[test]
    fn an_unapplied_line_starts_with_its_outcome() {
        let mut unapplied = Unapplied {
            snapshot: "send-all".into(),
            target: "office".into(),
            link: "jdoe".into(),
            item_type: ItemType::Tasks,
            uid: "a\nb".into(),
            action: Action::Update,
            outcome: NotApplied::Stale,
            message: "HTTP 412".into(),
        };
        assert_eq!(
            unapplied.to_string(),
            "stale: send-all update · target office · link jdoe · tasks a\\nb: HTTP 412"
        );
        unapplied.outcome = NotApplied::Failed;
        assert!(unapplied.to_string().starts_with("failed: send-all update"));
    }
}
