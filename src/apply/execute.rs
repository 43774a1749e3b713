//! The executor: one snapshot at a time. Each section's keeps are recorded
//! and its collections opened; then the writes of every section run on one
//! pool of threads (`pool`), and this thread records the results as they
//! arrive (`journal`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;

use super::journal::{self, RECORDS_PER_COMMIT};
use super::pool::{self, Done, SectionContext, Work};
use super::{ApplyError, ApplyOptions, NotApplied, Report, SnapshotReport, check_safety};
use crate::endpoint::{Collection, Endpoints, Href, Version};
use crate::plan::{Action, LinkPlan, Operation, Plan, Section, SnapshotPlan, SourceCache};
use crate::spec::model::{Catalog, Snapshot, Target};
use crate::spec::types::{Direction, LinkFlag};
use crate::state::{LinkLock, LockError, RunEnd, RunId, RunStart, StateStore};

/// How far an apply has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Operations done (applied, stale or failed).
    pub done: u64,
    /// Operations in the plan that write or record.
    pub total: u64,
}

/// Carries out `plan`: checks the safety valves, locks every link it
/// covers, then applies each snapshot, recording every operation in the
/// journal and every synced item in the state store.
///
/// # Errors
/// A refusal, a held lock, or a failing state store. Failures of single
/// operations are in the report instead.
pub fn execute(
    plan: &Plan,
    catalog: &Catalog,
    endpoints: &dyn Endpoints,
    state: &mut StateStore,
    options: &ApplyOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ApplyError> {
    execute_holding(
        plan,
        catalog,
        endpoints,
        state,
        options,
        progress,
        Vec::new(),
    )
}

/// [`execute`], by a caller that already holds `held` (the locks it took
/// before it planned, see [`lock_covered_links`]): the plan's links not
/// among them are locked here, the others are not locked twice.
///
/// # Errors
/// As [`execute`].
pub fn execute_holding(
    plan: &Plan,
    catalog: &Catalog,
    endpoints: &dyn Endpoints,
    state: &mut StateStore,
    options: &ApplyOptions,
    progress: &mut dyn FnMut(Progress),
    held: Vec<LinkLock>,
) -> Result<Report, ApplyError> {
    check_safety(plan, options)?;
    let mut resolved = Vec::with_capacity(plan.snapshots.len());
    for snapshot in &plan.snapshots {
        let target = catalog
            .target(&snapshot.target)
            .ok_or_else(|| ApplyError::Unknown {
                what: format!("target {}", snapshot.target),
            })?;
        for link in &snapshot.links {
            if target.link(&link.link).is_none() {
                return Err(ApplyError::Unknown {
                    what: format!("link {} of target {}", link.link, target.name),
                });
            }
        }
        resolved.push((snapshot, target));
    }
    let mut locks = held;
    let more = lock_links(plan, state, options, &locks)?;
    locks.extend(more);
    let total = plan
        .snapshots
        .iter()
        .flat_map(SnapshotPlan::sections)
        .flat_map(|(_, s)| &s.operations)
        .filter(|op| op.action.writes() || op.action == Action::Keep)
        .count() as u64;
    let mut run = Runner {
        endpoints,
        options,
        progress,
        done: 0,
        total,
    };
    let mut report = Report::default();
    for (snapshot, target) in resolved {
        report
            .snapshots
            .push(run.snapshot(snapshot, target, state)?);
    }
    drop(locks);
    Ok(report)
}

/// Locks every link that `snapshots` of `catalog` may cover (the links
/// they name, or every link of their target), in a fixed order, waiting up
/// to the options' lock timeout. An apply that makes its own plan takes
/// these before it plans, so that what it plans is what it finds when it
/// writes (another apply may have run while it waited).
///
/// # Errors
/// A link is still held by another apply after the timeout.
pub fn lock_covered_links(
    catalog: &Catalog,
    snapshots: &[&Snapshot],
    state: &StateStore,
    options: &ApplyOptions,
) -> Result<Vec<LinkLock>, LockError> {
    let mut links: Vec<(&str, &str, &str)> = Vec::new();
    for snapshot in snapshots {
        let Some(target) = catalog.target(&snapshot.target) else {
            continue;
        };
        for link in &target.links {
            let named = snapshot
                .links
                .as_ref()
                .is_none_or(|names| names.contains(&link.name));
            if named {
                links.push((&target.name, &link.name, &snapshot.name));
            }
        }
    }
    lock_in_order(links, state, options, &[])
}

/// Takes the lock of every link of `plan` not already in `held`.
fn lock_links(
    plan: &Plan,
    state: &StateStore,
    options: &ApplyOptions,
    held: &[LinkLock],
) -> Result<Vec<LinkLock>, LockError> {
    let links: Vec<(&str, &str, &str)> = plan
        .snapshots
        .iter()
        .flat_map(|s| {
            s.links
                .iter()
                .map(move |l| (s.target.as_str(), l.link.as_str(), s.snapshot.as_str()))
        })
        .collect();
    lock_in_order(links, state, options, held)
}

/// Takes every link's lock, in a fixed order so two applies never wait for
/// each other in a circle; skips the links in `held`.
fn lock_in_order(
    mut links: Vec<(&str, &str, &str)>,
    state: &StateStore,
    options: &ApplyOptions,
    held: &[LinkLock],
) -> Result<Vec<LinkLock>, LockError> {
    links.sort_unstable();
    links.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    links
        .into_iter()
        .filter(|(target, link, _)| {
            !held
                .iter()
                .any(|h| h.target() == *target && h.link() == *link)
        })
        .map(|(target, link, snapshot)| {
            let holder = format!("apply of {snapshot} by {}", options.actor);
            state.lock_link(target, link, &holder, options.lock_timeout)
        })
        .collect()
}

struct Runner<'a> {
    endpoints: &'a dyn Endpoints,
    options: &'a ApplyOptions,
    progress: &'a mut dyn FnMut(Progress),
    done: u64,
    total: u64,
}

impl Runner<'_> {
    fn tick(&mut self) {
        self.done += 1;
        (self.progress)(Progress {
            done: self.done,
            total: self.total,
        });
    }

    fn snapshot(
        &mut self,
        snapshot: &SnapshotPlan,
        target: &Target,
        state: &mut StateStore,
    ) -> Result<SnapshotReport, ApplyError> {
        let now = Utc::now();
        // The flags are recorded for every link of the target as it declares
        // them now, including links this snapshot skips because their flag
        // is off: that is how a later re-enable is seen (DESIGN 2.4).
        for link in &target.links {
            state.record_link_flags(
                &target.name,
                &link.name,
                link.inbound == LinkFlag::Enabled,
                link.outbound == LinkFlag::Enabled,
                now,
            )?;
        }
        let run_id = state.begin_run(&RunStart {
            snapshot: snapshot.snapshot.clone(),
            direction: snapshot.direction,
            target: target.name.clone(),
            actor: self.options.actor.clone(),
            plan_digest: self.options.plan_digest.clone(),
            started: now,
        })?;
        let mut report = SnapshotReport {
            snapshot: snapshot.snapshot.clone(),
            run_id: run_id.0,
            ..SnapshotReport::default()
        };
        let mut seq = 0u32;
        // Every section's writes are gathered, then carried out together on
        // one pool of threads: a thousand links of a hundred items (three
        // thousand sections) run as fast as one link of a hundred thousand.
        let mut works = Vec::new();
        for link_plan in &snapshot.links {
            let Some(link) = target.link(&link_plan.link) else {
                continue;
            };
            let ctx = SectionContext {
                snapshot,
                target,
                link,
                run_id,
            };
            for section in &link_plan.sections {
                if let Some(work) = self.section(ctx, section, state, &mut seq, &mut report)? {
                    works.push(work);
                }
            }
        }
        self.run_works(&works, state, &mut report)?;
        drop(works);
        let failed: HashSet<&str> = report.unapplied.iter().map(|u| u.link.as_str()).collect();
        for link_plan in &snapshot.links {
            if target.link(&link_plan.link).is_none() {
                continue;
            }
            let clean = !failed.contains(link_plan.link.as_str())
                && link_plan.sections.iter().all(|s| {
                    s.notices
                        .iter()
                        .all(|n| n.level != crate::plan::Level::Error)
                });
            Self::finish_link(snapshot, link_plan, state, run_id, clean)?;
        }
        let end = if report.unapplied.is_empty() {
            RunEnd::Succeeded
        } else {
            RunEnd::Failed
        };
        state.finish_run(run_id, Utc::now(), end)?;
        Ok(report)
    }

    fn finish_link(
        snapshot: &SnapshotPlan,
        link: &LinkPlan,
        state: &StateStore,
        run_id: RunId,
        clean: bool,
    ) -> Result<(), ApplyError> {
        state.record_link_run(&snapshot.target, &link.link, snapshot.direction, run_id)?;
        // A send snapshot covering the link, applied without failures,
        // resumes a pending outbound (DESIGN 2.4).
        if clean && snapshot.direction == Direction::Send {
            let pending = state
                .link(&snapshot.target, &link.link)?
                .is_some_and(|l| l.outbound_pending);
            if pending {
                state.clear_outbound_pending(&snapshot.target, &link.link, run_id)?;
            }
        }
        Ok(())
    }

    /// Records the section's keeps and opens its collections; returns its
    /// writes, if any, to be carried out.
    fn section<'w>(
        &mut self,
        ctx: SectionContext<'w>,
        section: &'w Section,
        state: &mut StateStore,
        seq: &mut u32,
        report: &mut SnapshotReport,
    ) -> Result<Option<Work<'w>>, ApplyError> {
        let writes: Vec<&Operation> = section
            .operations
            .iter()
            .filter(|op| op.action.writes())
            .collect();
        let keeps: Vec<&Operation> = section
            .operations
            .iter()
            .filter(|op| op.action == Action::Keep)
            .collect();
        if writes.is_empty() && keeps.is_empty() {
            return Ok(None);
        }
        let writes = self.valid_uids(&ctx, section, writes, state, seq, report)?;
        let keeps = self.valid_uids(&ctx, section, keeps, state, seq, report)?;
        let crm = self.endpoints.crm(&ctx.link.user, section.item_type);
        let on_target = self
            .endpoints
            .target(ctx.target, ctx.link, section.item_type);
        let (source, destination) = match (ctx.snapshot.direction, on_target) {
            (Direction::Send, Ok(t)) => (crm, t),
            (Direction::Get, Ok(t)) => (t, crm),
            (_, Err(e)) => {
                for op in writes {
                    journal::record_unapplied(
                        &ctx,
                        section,
                        op,
                        NotApplied::Failed,
                        &e.message,
                        state,
                        seq,
                        report,
                    )?;
                    self.tick();
                }
                return Ok(None);
            }
        };

        self.record_keeps(&ctx, section, &keeps, state)?;

        if writes.is_empty() {
            return Ok(None);
        }
        let cached = self.cached_source(&ctx, section, source.as_ref());
        tracing::info!(
            snapshot = %ctx.snapshot.snapshot,
            link = %ctx.link.name,
            item_type = %section.item_type,
            writes = writes.len(),
            "applying to {}",
            destination.describe()
        );
        let first_seq = *seq;
        *seq += u32::try_from(writes.len()).unwrap_or(u32::MAX);
        Ok(Some(Work {
            ctx,
            section,
            source,
            destination,
            writes,
            first_seq,
            cached,
        }))
    }

    /// The operations whose UID the state store and the journal can hold
    /// as it is; any other fails, and only that one (a plan file is input).
    fn valid_uids<'w>(
        &mut self,
        ctx: &SectionContext<'w>,
        section: &Section,
        ops: Vec<&'w Operation>,
        state: &StateStore,
        seq: &mut u32,
        report: &mut SnapshotReport,
    ) -> Result<Vec<&'w Operation>, ApplyError> {
        let mut kept = Vec::with_capacity(ops.len());
        for op in ops {
            if let Some(problem) = uid_problem(&op.uid) {
                let message = format!(
                    "the plan's UID {:?} {problem}: not applied; plan again",
                    op.uid
                );
                journal::record_unapplied(
                    ctx,
                    section,
                    op,
                    NotApplied::Failed,
                    &message,
                    state,
                    seq,
                    report,
                )?;
                self.tick();
            } else {
                kept.push(op);
            }
        }
        Ok(kept)
    }

    /// Records the section's keeps as synced.
    fn record_keeps(
        &mut self,
        ctx: &SectionContext<'_>,
        section: &Section,
        keeps: &[&Operation],
        state: &mut StateStore,
    ) -> Result<(), ApplyError> {
        // Items a plan kept are recorded as synced, so a later delete at the
        // source is seen as one (and not as an orphan).
        // (No transaction when there is nothing to record: a re-apply of
        // a thousand links would open three thousand empty ones.)
        if keeps.iter().any(|op| !op.in_sync) {
            let batch = state.batch()?;
            for op in keeps.iter().filter(|op| !op.in_sync) {
                if let Some(record) = journal::synced_record(ctx, section, op, None) {
                    batch.record_synced(&record)?;
                }
            }
            batch.commit()?;
        }
        for _ in keeps {
            self.tick();
        }
        Ok(())
    }

    /// The items the plan read of this section, if it was made here, with
    /// the source's versions from one fresh listing: an item still at the
    /// version the plan read is not read again.
    fn cached_source(
        &self,
        ctx: &SectionContext<'_>,
        section: &Section,
        source: &dyn Collection,
    ) -> Option<(Arc<SourceCache>, HashMap<Href, Version>)> {
        self.options
            .source_cache
            .as_ref()
            .filter(|cache| {
                cache
                    .items(&ctx.snapshot.snapshot, &ctx.link.name, section.item_type)
                    .is_some()
            })
            .and_then(|cache| {
                let current = source.list().ok()?;
                let versions = current.into_iter().map(|l| (l.href, l.version)).collect();
                Some((Arc::clone(cache), versions))
            })
    }

    /// Carries out the sections' writes on the worker pool, recording the
    /// results on this thread as they arrive, [`RECORDS_PER_COMMIT`] per
    /// transaction.
    fn run_works(
        &mut self,
        works: &[Work<'_>],
        state: &mut StateStore,
        report: &mut SnapshotReport,
    ) -> Result<(), ApplyError> {
        let mut pending = Vec::with_capacity(RECORDS_PER_COMMIT + pool::UNIT);
        let options = self.options;
        pool::run(works, options, |work, done| {
            pending.extend(done.into_iter().map(|d| (&work.ctx, work.section, d)));
            if pending.len() >= RECORDS_PER_COMMIT {
                self.record(&mut pending, state, report)?;
            }
            Ok(())
        })?;
        self.record(&mut pending, state, report)
    }

    /// Records finished writes in one transaction, and counts them done.
    #[allow(clippy::type_complexity)]
    fn record(
        &mut self,
        pending: &mut Vec<(&SectionContext<'_>, &Section, Done<'_>)>,
        state: &mut StateStore,
        report: &mut SnapshotReport,
    ) -> Result<(), ApplyError> {
        let recorded = journal::record(pending, state, report)?;
        for _ in 0..recorded {
            self.tick();
        }
        Ok(())
    }
}

/// What is wrong with a UID a plan names, if anything: none is empty, and
/// none holds control characters (line breaks would forge journal lines).
/// Path separators and `..` are harmless here: a file name is never made of
/// a UID as it is (see [`crate::endpoint::file_name_for_uid`]), and a
/// create writes under the UID of the item it read.
fn uid_problem(uid: &str) -> Option<&'static str> {
    if uid.is_empty() {
        Some("is empty")
    } else if uid.chars().any(char::is_control) {
        Some("holds control characters")
    } else {
        None
    }
}
