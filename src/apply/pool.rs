//! The worker pool: the writes of every section of a snapshot, carried out
//! on a bounded pool of threads, in units of up to [`UNIT`] writes of one
//! section. A worker reads the source items its unit needs, checks each is
//! still what the plan saw, and writes them, new items in batches; it sends
//! the results back to the executor's thread, which records them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use super::retry::with_retries;
use super::{ApplyError, ApplyOptions};
use crate::endpoint::{
    Collection, EndpointError, ErrorKind, FetchResult, Fetched, Href, Version, Written,
};
use crate::item::Item;
use crate::plan::cache::CachedItems;
use crate::plan::{Action, Operation, Section, SnapshotPlan, SourceCache};
use crate::spec::model::{LinkSpec, Target};
use crate::state::RunId;

/// Source items fetched per call.
const FETCH_BATCH: usize = 200;

/// The writes a worker takes at once, of one section: one fetch of their
/// source items, and whole batches of new items (each batch is one flush).
pub(super) const UNIT: usize = 3 * CREATE_BATCH;

/// New items one writer hands to [`Collection::create_all`] at once.
const CREATE_BATCH: usize = 64;

/// The section an operation belongs to, and the run that records it.
#[derive(Clone, Copy)]
pub(super) struct SectionContext<'a> {
    pub(super) snapshot: &'a SnapshotPlan,
    pub(super) target: &'a Target,
    pub(super) link: &'a LinkSpec,
    pub(super) run_id: RunId,
}

/// A section's writes, its collections open.
pub(super) struct Work<'a> {
    pub(super) ctx: SectionContext<'a>,
    pub(super) section: &'a Section,
    pub(super) source: Box<dyn Collection>,
    pub(super) destination: Box<dyn Collection>,
    pub(super) writes: Vec<&'a Operation>,
    /// The sequence number before its first operation's.
    pub(super) first_seq: u32,
    /// The plan's source items, and the source's versions now.
    pub(super) cached: Option<(std::sync::Arc<SourceCache>, HashMap<Href, Version>)>,
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
pub(super) struct Job<'p> {
    seq: u32,
    op: &'p Operation,
    item: Option<Item>,
}

/// What a worker sends back.
pub(super) struct Done<'p> {
    pub(super) seq: u32,
    pub(super) op: &'p Operation,
    pub(super) result: Result<Option<Written>, EndpointError>,
}

impl<'p> Done<'p> {
    /// An operation that was not tried: its precondition on the source
    /// failed (stale, as one whose destination changed is), or the plan's
    /// operation does not fit the item (failed).
    pub(super) fn not_tried(seq: u32, op: &'p Operation, error: EndpointError) -> Self {
        Done {
            seq,
            op,
            result: Err(error),
        }
    }
}

/// Carries out the works' writes on a pool of threads (the target's
/// `concurrency`). A worker takes a unit of up to [`UNIT`] writes of one
/// work, reads and checks the source items they need, and writes them
/// (new items [`CREATE_BATCH`] at a time); `record` gets each unit's
/// results on this thread as they arrive. Only a few units of items are in
/// memory at once, whatever the plan's size.
///
/// # Errors
/// The first error of `record`; the workers stop at their next unit.
pub(super) fn run<'w, 'p>(
    works: &'w [Work<'p>],
    options: &ApplyOptions,
    mut record: impl FnMut(&'w Work<'p>, Vec<Done<'p>>) -> Result<(), ApplyError>,
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
    let units = &units;
    std::thread::scope(|scope| -> Result<(), ApplyError> {
        for _ in 0..threads {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                while let Some(&(w, start, end)) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
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
        for (w, done) in receiver {
            record(&works[w], done)?;
        }
        Ok(())
    })
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

#[cfg(test)]
mod tests {
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
