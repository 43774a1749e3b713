//! What an apply records: each operation's line in the runs journal, the
//! state store's record of each synced item, and the report's entry for
//! each operation not applied. Only the executor's own thread writes them.

use chrono::Utc;

use super::pool::{Done, SectionContext};
use super::{ApplyError, NotApplied, SnapshotReport, Unapplied};
use crate::endpoint::{ErrorKind, Written};
use crate::plan::{Operation, Section};
use crate::spec::types::Direction;
use crate::state::{JournalEntry, Outcome, StateStore, SyncedItem};

/// State records committed together: a crash loses at most this many
/// records of writes that did happen, which the next plan sees as kept.
pub(super) const RECORDS_PER_COMMIT: usize = 256;

/// Records finished writes in one transaction: synced items, journal;
/// returns how many were recorded.
#[allow(clippy::type_complexity)]
pub(super) fn record(
    pending: &mut Vec<(&SectionContext<'_>, &Section, Done<'_>)>,
    state: &mut StateStore,
    report: &mut SnapshotReport,
) -> Result<usize, ApplyError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let batch = state.batch()?;
    let mut recorded = 0;
    for (ctx, section, done) in pending.drain(..) {
        // A delete that did its work, or found its item already gone (it
        // did nothing, but the item is on neither side now: a record kept
        // would make a new item of that UID look like a restore), drops
        // the item's synced record.
        let gone = done.op.action.deletes()
            && done
                .result
                .as_ref()
                .map_or_else(|e| e.kind == ErrorKind::DoesNotExist, |_| true);
        if gone {
            batch.forget_synced(
                &ctx.target.name,
                &ctx.link.name,
                section.item_type,
                &done.op.uid,
            )?;
        }
        let (outcome, message) = match &done.result {
            Ok(written) => {
                if !done.op.action.deletes()
                    && let Some(record) = synced_record(ctx, section, done.op, written.as_ref())
                {
                    batch.record_synced(&record)?;
                }
                report.applied.add(done.op.action, 1);
                (Outcome::Applied, None)
            }
            Err(e) => {
                let outcome = NotApplied::for_error(e.kind);
                report
                    .unapplied
                    .push(unapplied(ctx, section, done.op, outcome, &e.message));
                (outcome.into(), Some(e.message.clone()))
            }
        };
        if let Some(entry) = journal(ctx, section, done.op, done.seq, outcome, message) {
            batch.record_operation(ctx.run_id, &entry)?;
        }
        recorded += 1;
    }
    batch.commit()?;
    Ok(recorded)
}

/// Reports an operation not tried, and journals it under the next
/// sequence number if it writes (a keep is reported only: the journal
/// holds writes).
#[allow(clippy::too_many_arguments)]
pub(super) fn record_unapplied(
    ctx: &SectionContext<'_>,
    section: &Section,
    op: &Operation,
    outcome: NotApplied,
    message: &str,
    state: &StateStore,
    seq: &mut u32,
    report: &mut SnapshotReport,
) -> Result<(), ApplyError> {
    report
        .unapplied
        .push(unapplied(ctx, section, op, outcome, message));
    if let Some(entry) = journal(
        ctx,
        section,
        op,
        *seq + 1,
        outcome.into(),
        Some(message.to_owned()),
    ) {
        *seq += 1;
        state.record_operation(ctx.run_id, &entry)?;
    }
    Ok(())
}

/// The report's entry for an operation not applied.
fn unapplied(
    ctx: &SectionContext<'_>,
    section: &Section,
    op: &Operation,
    outcome: NotApplied,
    message: &str,
) -> Unapplied {
    Unapplied {
        snapshot: ctx.snapshot.snapshot.clone(),
        target: ctx.target.name.clone(),
        link: ctx.link.name.clone(),
        item_type: section.item_type,
        uid: op.uid.clone(),
        action: op.action,
        outcome,
        message: message.to_owned(),
    }
}

/// The journal's record of an operation; `None` for one that writes
/// nothing (a keep), which the journal does not hold.
fn journal(
    ctx: &SectionContext<'_>,
    section: &Section,
    op: &Operation,
    seq: u32,
    outcome: Outcome,
    message: Option<String>,
) -> Option<JournalEntry> {
    Some(JournalEntry {
        seq,
        action: op.action.effect()?,
        link: ctx.link.name.clone(),
        item_type: section.item_type,
        uid: op.uid.clone(),
        label: op.summary.clone(),
        outcome,
        message,
    })
}

/// The state store's record of an item once the operation is done: for a
/// write, what was written where; for a keep, both sides as planned.
pub(super) fn synced_record(
    ctx: &SectionContext<'_>,
    section: &Section,
    op: &Operation,
    written: Option<&Written>,
) -> Option<SyncedItem> {
    let source = op.source.as_ref()?;
    let source_hash = source.hash?;
    let (dest_href, dest_version, dest_hash) = if let Some(w) = written {
        (w.href.clone(), w.version.clone(), source_hash)
    } else {
        let d = op.destination.as_ref()?;
        (d.href.clone(), d.version.clone(), d.hash?)
    };
    let (crm_href, crm_hash, target_href, target_hash, target_version) =
        match ctx.snapshot.direction {
            Direction::Send => (
                source.href.clone(),
                source_hash,
                dest_href,
                dest_hash,
                dest_version,
            ),
            Direction::Get => (
                dest_href,
                dest_hash,
                source.href.clone(),
                source_hash,
                source.version.clone(),
            ),
        };
    Some(SyncedItem {
        target: ctx.target.name.clone(),
        link: ctx.link.name.clone(),
        item_type: section.item_type,
        uid: op.uid.clone(),
        crm_href,
        crm_hash,
        target_href,
        target_hash,
        target_version,
        synced_at: Utc::now(),
        run_id: ctx.run_id,
    })
}
