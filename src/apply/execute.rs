//! The executor: one snapshot at a time. Each section's keeps are recorded
//! and its collections opened; then the writes of every section run on one
//! pool of threads, in units of up to [`UNIT`] writes of one section, and
//! this thread records the results as they arrive.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;

use super::{ApplyOptions, NotApplied, Refusal, Report, SnapshotReport, Unapplied, check_safety};
use crate::endpoint::{
    Collection, EndpointError, Endpoints, ErrorKind, FetchResult, Fetched, Href, Version, Written,
};
use crate::item::Item;
use crate::plan::cache::CachedItems;
use crate::plan::{Action, LinkPlan, Operation, Plan, Section, SnapshotPlan, SourceCache};
use crate::spec::model::{Catalog, LinkSpec, Snapshot, Target};
use crate::spec::types::{Direction, LinkFlag};
use crate::state::{
    JournalEntry, LinkLock, LockError, Outcome, RunEnd, RunId, RunStart, StateError, StateStore,
    SyncedItem,
};

/// State records committed together: a crash loses at most this many
/// records of writes that did happen, which the next plan sees as kept.
const RECORDS_PER_COMMIT: usize = 256;

/// Source items fetched per call.
const FETCH_BATCH: usize = 200;

/// The writes a worker takes at once, of one section: one fetch of their
/// source items, and whole batches of new items (each batch is one flush).
const UNIT: usize = 3 * CREATE_BATCH;

/// New items one writer hands to [`Collection::create_all`] at once.
const CREATE_BATCH: usize = 64;

/// How far an apply has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Operations done (applied, stale or failed).
    pub done: u64,
    /// Operations in the plan that write or record.
    pub total: u64,
}

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

/// A section's writes, its collections open.
struct Work<'a> {
    ctx: SectionContext<'a>,
    section: &'a Section,
    source: Box<dyn Collection>,
    destination: Box<dyn Collection>,
    writes: Vec<&'a Operation>,
    /// The sequence number before its first operation's.
    first_seq: u32,
    /// The plan's source items, and the source's versions now.
    cached: Option<(std::sync::Arc<SourceCache>, HashMap<Href, Version>)>,
}

impl Work<'_> {
    /// The plan's items of this section and the source's versions now.
    fn cached(&self) -> Option<(&CachedItems, &HashMap<Href, Version>)> {
        let (cache, versions) = self.cached.as_ref()?;
        let items = cache.items(
            &self.ctx.snapshot.snapshot,
            &self.ctx.link.name,
            self.section.item_type,
        )?;
        Some((items, versions))
    }
}

/// A write to carry out, with the source item it writes.
struct Job<'p> {
    seq: u32,
    op: &'p Operation,
    item: Option<Item>,
}

/// What a worker sends back.
struct Done<'p> {
    seq: u32,
    op: &'p Operation,
    result: Result<Option<Written>, EndpointError>,
}

impl<'p> Done<'p> {
    /// An operation that was not tried: its precondition on the source
    /// failed (stale, as one whose destination changed is), or the plan's
    /// operation does not fit the item (failed).
    fn not_tried(seq: u32, op: &'p Operation, error: EndpointError) -> Self {
        Done {
            seq,
            op,
            result: Err(error),
        }
    }
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
        // A UID the state store and the journal cannot hold as it is (a plan
        // file is input) fails its operation, and only that one.
        let mut checked = |ops: Vec<&'w Operation>| -> Result<Vec<&'w Operation>, ApplyError> {
            let mut kept = Vec::with_capacity(ops.len());
            for op in ops {
                if let Some(problem) = uid_problem(&op.uid) {
                    let message = format!(
                        "the plan's UID {:?} {problem}: not applied; plan again",
                        op.uid
                    );
                    Self::unapplied(
                        &ctx,
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
        };
        let writes = checked(writes)?;
        let keeps = checked(keeps)?;
        let crm = self.endpoints.crm(&ctx.link.user, section.item_type);
        let on_target = self
            .endpoints
            .target(ctx.target, ctx.link, section.item_type);
        let (source, destination) = match (ctx.snapshot.direction, on_target) {
            (Direction::Send, Ok(t)) => (crm, t),
            (Direction::Get, Ok(t)) => (t, crm),
            (_, Err(e)) => {
                for op in writes {
                    Self::unapplied(
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

        // Items a plan kept are recorded as synced, so a later delete at the
        // source is seen as one (and not as an orphan).
        // (No transaction when there is nothing to record: a re-apply of
        // a thousand links would open three thousand empty ones.)
        if keeps.iter().any(|op| !op.in_sync) {
            let batch = state.batch()?;
            for op in keeps.iter().filter(|op| !op.in_sync) {
                if let Some(record) = synced_record(&ctx, section, op, None) {
                    batch.record_synced(&record)?;
                }
            }
            batch.commit()?;
        }
        for _ in &keeps {
            self.tick();
        }

        if writes.is_empty() {
            return Ok(None);
        }
        // The items the plan read, if it was made here: usable where one
        // fresh listing shows them still at the version the plan read.
        let cached = self
            .options
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
                Some((std::sync::Arc::clone(cache), versions))
            });
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

    /// Carries out the sections' writes on a pool of threads (the target's
    /// `concurrency`). A worker takes a unit of up to [`UNIT`] writes of one
    /// section, reads and checks the source items they need, and
    /// writes them (new items [`CREATE_BATCH`] at a time); this thread
    /// records the results as they arrive, [`RECORDS_PER_COMMIT`] per
    /// transaction. Only a few units of items are in memory at once,
    /// whatever the plan's size.
    fn run_works(
        &mut self,
        works: &[Work<'_>],
        state: &mut StateStore,
        report: &mut SnapshotReport,
    ) -> Result<(), ApplyError> {
        // (work, first write, end): every write in exactly one unit.
        let units: Vec<(usize, usize, usize)> = works
            .iter()
            .enumerate()
            .flat_map(|(w, work)| {
                let len = work.writes.len();
                (0..len)
                    .step_by(UNIT)
                    .map(move |start| (w, start, (start + UNIT).min(len)))
            })
            .collect();
        let Some(first) = works.first() else {
            return Ok(());
        };
        let threads = usize::try_from(first.ctx.target.concurrency.max(1))
            .unwrap_or(1)
            .min(units.len());
        let next = AtomicUsize::new(0);
        // A few units per worker wait in the queue; a worker blocks when it
        // is full, which bounds the items held in memory.
        let (sender, receiver) = mpsc::sync_channel::<(usize, Vec<Done<'_>>)>(threads * 2);
        let options = self.options;
        let units = &units;
        std::thread::scope(|scope| -> Result<(), ApplyError> {
            for _ in 0..threads {
                let sender = sender.clone();
                let next = &next;
                scope.spawn(move || {
                    while let Some(&(w, start, end)) =
                        units.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let work = &works[w];
                        let mut seq = work.first_seq + u32::try_from(start).unwrap_or(u32::MAX);
                        let (jobs, stale_ops) = prepare(
                            work.source.as_ref(),
                            &work.writes[start..end],
                            &mut seq,
                            work.cached(),
                        );
                        let mut done: Vec<Done<'_>> = stale_ops
                            .into_iter()
                            .map(|(seq, op, error)| Done::not_tried(seq, op, error))
                            .collect();
                        for batch in batches(jobs) {
                            done.extend(run_batch(work.destination.as_ref(), &batch, options));
                        }
                        if sender.send((w, done)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(sender);
            let mut pending = Vec::with_capacity(RECORDS_PER_COMMIT + UNIT);
            for (w, done) in receiver {
                let work = &works[w];
                pending.extend(done.into_iter().map(|d| (&work.ctx, work.section, d)));
                if pending.len() >= RECORDS_PER_COMMIT {
                    self.record(&mut pending, state, report)?;
                }
            }
            self.record(&mut pending, state, report)
        })
    }

    /// Records finished writes in one transaction: synced items, journal.
    #[allow(clippy::type_complexity)]
    fn record(
        &mut self,
        pending: &mut Vec<(&SectionContext<'_>, &Section, Done<'_>)>,
        state: &mut StateStore,
        report: &mut SnapshotReport,
    ) -> Result<(), ApplyError> {
        if pending.is_empty() {
            return Ok(());
        }
        let batch = state.batch()?;
        let mut ticks = 0;
        for (ctx, section, done) in pending.drain(..) {
            let (outcome, message) = match &done.result {
                Ok(written) => {
                    if done.op.action.deletes() {
                        batch.forget_synced(
                            &ctx.target.name,
                            &ctx.link.name,
                            section.item_type,
                            &done.op.uid,
                        )?;
                    } else if let Some(record) =
                        synced_record(ctx, section, done.op, written.as_ref())
                    {
                        batch.record_synced(&record)?;
                    }
                    report.applied.add(done.op.action, 1);
                    (Outcome::Applied, None)
                }
                Err(e) => {
                    // A delete that found its item already gone did nothing;
                    // the item's synced record is dropped all the same, as
                    // the item is on neither side now (a record kept would
                    // make a new item of that UID look like a restore).
                    if done.op.action.deletes() && e.kind == ErrorKind::DoesNotExist {
                        batch.forget_synced(
                            &ctx.target.name,
                            &ctx.link.name,
                            section.item_type,
                            &done.op.uid,
                        )?;
                    }
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
            ticks += 1;
        }
        batch.commit()?;
        for _ in 0..ticks {
            self.tick();
        }
        Ok(())
    }

    /// Reports an operation not tried, and journals it under the next
    /// sequence number if it writes (a keep is reported only: the journal
    /// holds writes).
    #[allow(clippy::too_many_arguments)]
    fn unapplied(
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
}

/// Reads the source items the writes need and checks each is still the
/// content the plan saw, under the UID the plan names. Returns the jobs,
/// and the operations not to try (with their sequence numbers and why:
/// stale, or failed when the plan's UID is not the item's).
#[allow(clippy::type_complexity)]
fn prepare<'p>(
    source: &dyn Collection,
    writes: &[&'p Operation],
    seq: &mut u32,
    cached: Option<(&CachedItems, &HashMap<Href, Version>)>,
) -> (Vec<Job<'p>>, Vec<(u32, &'p Operation, EndpointError)>) {
    let mut jobs = Vec::with_capacity(writes.len());
    let mut stale = Vec::new();
    let mut fetched: HashMap<Href, FetchResult> = HashMap::with_capacity(writes.len());
    // An item the plan read, at the version the plan read and still at it
    // now, is not read again.
    if let Some((items, now)) = cached {
        for state in writes.iter().filter_map(|op| op.source.as_ref()) {
            if let Some((version, item)) = items.get(&state.href)
                && *version == state.version
                && now.get(&state.href) == Some(version)
            {
                let item = Fetched {
                    href: state.href.clone(),
                    version: version.clone(),
                    item: item.clone(),
                };
                fetched.insert(state.href.clone(), Ok(item));
            }
        }
    }
    let needs_item: Vec<&Operation> = writes
        .iter()
        .copied()
        .filter(|op| {
            op.source
                .as_ref()
                .is_some_and(|s| !fetched.contains_key(&s.href))
        })
        .collect();
    for batch in needs_item.chunks(FETCH_BATCH) {
        let hrefs: Vec<Href> = batch
            .iter()
            .filter_map(|op| op.source.as_ref().map(|s| s.href.clone()))
            .collect();
        match source.fetch(&hrefs) {
            Ok(results) => {
                for (href, result) in hrefs.into_iter().zip(results) {
                    fetched.insert(href, result);
                }
            }
            Err(e) => {
                for href in hrefs {
                    fetched.insert(href, Err(e.clone()));
                }
            }
        }
    }
    for op in writes {
        *seq += 1;
        let Some(expected) = &op.source else {
            jobs.push(Job {
                seq: *seq,
                op,
                item: None,
            });
            continue;
        };
        let stale_because =
            |message: &str| EndpointError::new(ErrorKind::PreconditionFailed, message);
        match fetched.remove(&expected.href) {
            // The journal and the state store record the plan's UID: it must
            // be the item's (a plan file is input).
            Some(Ok(f)) if f.item.uid() != op.uid => stale.push((
                *seq,
                *op,
                EndpointError::new(
                    ErrorKind::Invalid,
                    format!(
                        "the plan names UID {:?}, but the source item at {} has UID {:?}: \
                         the plan does not match the item, so nothing was written; plan again",
                        op.uid,
                        expected.href,
                        f.item.uid()
                    ),
                ),
            )),
            Some(Ok(f)) if Some(f.item.content_hash()) == expected.hash => jobs.push(Job {
                seq: *seq,
                op,
                item: Some(f.item),
            }),
            Some(Ok(_)) => stale.push((
                *seq,
                *op,
                stale_because("the source item changed since the plan was made"),
            )),
            Some(Err(e)) if e.kind == ErrorKind::DoesNotExist => stale.push((
                *seq,
                *op,
                stale_because("the source item was deleted since the plan was made"),
            )),
            Some(Err(e)) => stale.push((*seq, *op, stale_because(&e.message))),
            None => stale.push((*seq, *op, stale_because("the source item was not read"))),
        }
    }
    (jobs, stale)
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

#[derive(Clone, Copy)]
struct SectionContext<'a> {
    snapshot: &'a SnapshotPlan,
    target: &'a Target,
    link: &'a LinkSpec,
    run_id: RunId,
}

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
fn synced_record(
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

/// One write, conditional as the plan says. A delete that finds its item
/// already gone fails with `DoesNotExist` like any other write whose
/// precondition no longer holds: it is stale, never counted as done.
fn write(destination: &dyn Collection, job: &Job<'_>) -> Result<Option<Written>, EndpointError> {
    let op = job.op;
    match (op.action, &job.item, &op.destination) {
        (Action::Create | Action::Restore, Some(item), _) => destination.create(item).map(Some),
        (Action::Update, Some(item), Some(dest)) => destination
            .update(&dest.href, &dest.version, item)
            .map(Some),
        (Action::Delete | Action::OrphanDeleted, _, Some(dest)) => {
            destination.delete(&dest.href, &dest.version).map(|()| None)
        }
        _ => Err(EndpointError::new(
            ErrorKind::Invalid,
            format!(
                "{}: the plan's {} operation is incomplete",
                op.uid, op.action
            ),
        )),
    }
}

/// Splits jobs into the units a writer takes: runs of up to
/// [`CREATE_BATCH`] new items, and every other write alone.
fn batches(jobs: Vec<Job<'_>>) -> Vec<Vec<Job<'_>>> {
    let mut batches: Vec<Vec<Job<'_>>> = Vec::new();
    for job in jobs {
        let creates = is_create(&job);
        match batches.last_mut() {
            Some(last) if creates && last.len() < CREATE_BATCH && last.iter().all(is_create) => {
                last.push(job);
            }
            _ => batches.push(vec![job]),
        }
    }
    batches
}

/// Whether a job writes a new item (and has it).
fn is_create(job: &Job<'_>) -> bool {
    matches!(job.op.action, Action::Create | Action::Restore) && job.item.is_some()
}

/// Carries out one batch of jobs: several new items in one
/// [`Collection::create_all`] (each retried alone if it failed for a
/// passing reason), any other write alone, with retries.
fn run_batch<'p>(
    destination: &dyn Collection,
    batch: &[Job<'p>],
    options: &ApplyOptions,
) -> Vec<Done<'p>> {
    if batch.len() > 1 && batch.iter().all(is_create) {
        let items: Vec<&Item> = batch.iter().filter_map(|job| job.item.as_ref()).collect();
        let results = destination.create_all(&items);
        return batch
            .iter()
            .zip(results)
            .map(|(job, result)| {
                let result = match result {
                    Err(e) if e.kind == ErrorKind::Transient && options.attempts > 1 => {
                        with_retries(options, || write(destination, job), std::thread::sleep)
                    }
                    other => other.map(Some),
                };
                Done {
                    seq: job.seq,
                    op: job.op,
                    result,
                }
            })
            .collect();
    }
    batch
        .iter()
        .map(|job| Done {
            seq: job.seq,
            op: job.op,
            result: with_retries(options, || write(destination, job), std::thread::sleep),
        })
        .collect()
}

/// The longest `Retry-After` wait honoured. A server that asks for more
/// gets a failed item now (the next apply tries it again) rather than an
/// apply that hangs for hours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Retries temporary failures with a doubling wait, or the wait the
/// endpoint asked for (`Retry-After`, up to [`MAX_RETRY_AFTER`]);
/// `sleep` waits.
fn with_retries<T>(
    options: &ApplyOptions,
    mut attempt: impl FnMut() -> Result<T, EndpointError>,
    mut sleep: impl FnMut(Duration),
) -> Result<T, EndpointError> {
    let mut wait = options.backoff;
    let mut tries = 1;
    loop {
        match attempt() {
            Err(mut e) if e.kind == ErrorKind::Transient && tries < options.attempts.max(1) => {
                if let Some(asked) = e.retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
                    e.message = format!(
                        "{} (the server asked to wait {} s before retrying, more than the {} s \
                         snapsync waits: not retried; the next apply tries again)",
                        e.message,
                        asked.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    );
                    return Err(e);
                }
                sleep(e.retry_after.unwrap_or(wait));
                wait = wait.saturating_mul(2).min(Duration::from_secs(60));
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ApplyOptions {
        ApplyOptions {
            attempts: 4,
            backoff: Duration::from_millis(200),
            ..ApplyOptions::default()
        }
    }

    fn transient(retry_after: Option<Duration>) -> EndpointError {
        EndpointError {
            kind: ErrorKind::Transient,
            message: "PUT x: the server answered HTTP 503".into(),
            retry_after,
        }
    }

    #[test]
    fn transient_failures_are_retried_with_a_doubling_wait() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result = with_retries(
            &options(),
            || {
                calls += 1;
                if calls < 4 {
                    Err(transient(None))
                } else {
                    Ok(calls)
                }
            },
            |w| waits.push(w),
        );
        assert_eq!(result.expect("fourth attempt succeeds"), 4);
        assert_eq!(waits, [200, 400, 800].map(Duration::from_millis).to_vec());
    }

    #[test]
    fn retry_after_is_the_wait_when_the_server_gives_one() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result = with_retries(
            &options(),
            || {
                calls += 1;
                if calls == 1 {
                    Err(transient(Some(Duration::from_secs(7))))
                } else {
                    Ok(())
                }
            },
            |w| waits.push(w),
        );
        assert!(result.is_ok());
        assert_eq!(waits, vec![Duration::from_secs(7)]);
    }

    #[test]
    fn attempts_run_out_with_the_last_error_and_other_errors_are_not_retried() {
        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(transient(None))
            },
            |_| {},
        )
        .expect_err("never succeeds");
        assert_eq!(calls, 4);
        assert_eq!(error.kind, ErrorKind::Transient);

        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(EndpointError::new(ErrorKind::PreconditionFailed, "412"))
            },
            |_| panic!("a conflict is not retried"),
        )
        .expect_err("fails");
        assert_eq!(calls, 1);
        assert_eq!(error.kind, ErrorKind::PreconditionFailed);
    }

    #[test]
    fn a_retry_after_beyond_the_limit_fails_the_item_at_once_and_says_why() {
        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(transient(Some(Duration::from_secs(3600))))
            },
            |_| panic!("no hour-long wait"),
        )
        .expect_err("fails");
        assert_eq!(calls, 1);
        assert!(
            error
                .message
                .contains("asked to wait 3600 s before retrying, more than the 120 s"),
            "{}",
            error.message
        );
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::endpoint::vdir::VdirCollection;
    use crate::item::{ItemType, parse_any};
    use crate::plan::ItemState;

    fn event(summary: &str) -> Item {
        parse_any(&format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\n\
             DTSTAMP:20260101T000000Z\r\nDTSTART:20261103T100000Z\r\nSUMMARY:{summary}\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        ))
        .items
        .remove(0)
    }

    fn create(item: &Item, written: &Written) -> Operation {
        Operation {
            action: Action::Create,
            uid: "e1".into(),
            summary: None,
            reason: "test".into(),
            dates: Vec::new(),
            source: Some(ItemState {
                href: written.href.clone(),
                version: written.version.clone(),
                hash: Some(item.content_hash()),
            }),
            destination: None,
            in_sync: false,
        }
    }

    /// A source folder holding one event, its create operation as a plan
    /// made it, and the plan's cache of that event.
    struct Planned {
        dir: tempfile::TempDir,
        source: VdirCollection,
        item: Item,
        written: Written,
        op: Operation,
        items: CachedItems,
    }

    fn planned() -> Planned {
        let dir = tempfile::tempdir().unwrap();
        let source =
            VdirCollection::open(dir.path().join("cal"), ItemType::ScheduleItems, "t".into())
                .with_fsync(false);
        let item = event("As planned");
        let written = source.create(&item).unwrap();
        let op = create(&item, &written);
        let mut items = CachedItems::new();
        items.insert(
            written.href.clone(),
            (written.version.clone(), item.clone()),
        );
        Planned {
            dir,
            source,
            item,
            written,
            op,
            items,
        }
    }

    #[test]
    fn an_item_the_plan_read_is_taken_from_it_while_its_version_holds() {
        let p = planned();
        let now: HashMap<Href, Version> =
            [(p.written.href.clone(), p.written.version.clone())].into();
        // The file is gone: only the plan's copy can give the job its item.
        std::fs::remove_dir_all(p.dir.path().join("cal")).unwrap();
        let (jobs, stale) = prepare(&p.source, &[&p.op], &mut 0, Some((&p.items, &now)));
        assert!(stale.is_empty(), "{stale:?}");
        assert_eq!(
            jobs[0].item.as_ref().map(Item::content_hash),
            Some(p.item.content_hash())
        );
    }

    #[test]
    fn an_item_whose_version_moved_is_read_again_and_checked() {
        let p = planned();
        // Changed at the source since the plan: the listing shows a new version.
        let changed = p
            .source
            .update(&p.written.href, &p.written.version, &event("Changed since"))
            .unwrap();
        let now: HashMap<Href, Version> = [(p.written.href.clone(), changed.version)].into();
        let (jobs, stale) = prepare(&p.source, &[&p.op], &mut 0, Some((&p.items, &now)));
        assert!(jobs.is_empty());
        assert_eq!(stale.len(), 1);
        assert_eq!(
            stale[0].2.message,
            "the source item changed since the plan was made"
        );
    }
}
