//! Compiling snapshots into a plan: the three-way comparison of DESIGN 2.3
//! (source, destination, and the state store's record of earlier syncs),
//! the filters of DESIGN 2.2 and the link flags of DESIGN 2.4.
//!
//! Compiling reads the endpoints and the state store and writes nothing.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::cache::{SlotKey, SourceCache};
use super::{
    Action, DecidingDate, FilterSummary, ItemState, LinkFlags, LinkPlan, Notice, Operation, Plan,
    Section, SnapshotPlan, Totals,
};
use crate::endpoint::{Collection, EndpointError, Endpoints, ErrorKind, Href, Listing, Version};
use crate::filter::range::RangeError;
use crate::filter::{ActiveFilters, TypeFilter, Verdict};
use crate::item::{Item, ItemDates, ItemMeta, ItemType};
use crate::spec::model::{Catalog, LinkSpec, Scope, Snapshot, Target};
use crate::spec::types::{Direction, LinkFlag, OrphanPolicy};
use crate::state::{StateError, StateStore, SyncedRecord, SyncedSet};

/// Items fetched per call when a listing lacks metadata: large enough to
/// keep round trips few, small enough to stay under servers' limits.
const FETCH_BATCH: usize = 200;

/// What stops a whole plan (problems with single items or collections are
/// notices in the plan instead).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The state store cannot be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// A snapshot names a target the catalog does not hold.
    #[error("snapshot {snapshot}: target {target} is not defined")]
    UnknownTarget {
        /// The snapshot.
        snapshot: String,
        /// The target it names.
        target: String,
    },
    /// A range bound cannot be placed on the time line with this clock.
    #[error("snapshot {snapshot}: {source}")]
    Range {
        /// The snapshot.
        snapshot: String,
        /// Why.
        source: RangeError,
    },
}

/// Compiles `snapshots` (from `catalog`) into one plan, reading the
/// endpoints and the state store, with `now` as the run's clock.
///
/// # Errors
/// The state store cannot be read, or a snapshot cannot be resolved.
pub fn compile(
    catalog: &Catalog,
    snapshots: &[&Snapshot],
    endpoints: &dyn Endpoints,
    state: &StateStore,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    compile_into(catalog, snapshots, endpoints, state, now, None)
}

/// [`compile`], keeping in `cache` the source items the plan reads in full,
/// for an apply in the same process (see [`SourceCache`]).
///
/// # Errors
/// As [`compile`].
pub fn compile_keeping(
    catalog: &Catalog,
    snapshots: &[&Snapshot],
    endpoints: &dyn Endpoints,
    state: &StateStore,
    now: DateTime<Utc>,
    cache: &mut SourceCache,
) -> Result<Plan, PlanError> {
    compile_into(catalog, snapshots, endpoints, state, now, Some(cache))
}

fn compile_into(
    catalog: &Catalog,
    snapshots: &[&Snapshot],
    endpoints: &dyn Endpoints,
    state: &StateStore,
    now: DateTime<Utc>,
    mut cache: Option<&mut SourceCache>,
) -> Result<Plan, PlanError> {
    let mut plan = Plan::new(now);
    plan.snapshots.reserve(snapshots.len());
    // Targets that cannot be used at all, each reported by the first of
    // its snapshots only.
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    // Read once: every link of every snapshot checks its user against it.
    let crm_users = endpoints.crm_users();
    let mut targets = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let target = catalog
            .target(&snapshot.target)
            .ok_or_else(|| PlanError::UnknownTarget {
                snapshot: snapshot.name.clone(),
                target: snapshot.target.clone(),
            })?;
        let unusable = endpoints
            .check_target(target)
            .err()
            .map(|error| unusable_target(target, error, &mut reported));
        let reads = Reads {
            endpoints,
            crm_users: &crm_users,
            state,
            now,
        };
        plan.snapshots.push(compile_snapshot(
            snapshot,
            target,
            reads,
            cache.as_deref_mut(),
            unusable,
        )?);
        targets.push(target);
    }
    warn_overlaps(&mut plan.snapshots, &targets);
    Ok(plan)
}

/// What a snapshot whose target cannot be used says: one error per target
/// (not one per link and item type), to which the target's later snapshots
/// point back.
fn unusable_target<'c>(
    target: &'c Target,
    error: EndpointError,
    reported: &mut BTreeSet<&'c str>,
) -> Notice {
    if reported.insert(&target.name) {
        Notice::error(error.message)
    } else {
        Notice::notice(format!(
            "skipped: target {} cannot be used (the error is shown above)",
            target.name
        ))
    }
}

/// The collection a section of a snapshot writes: for a send, a target's
/// collection; for a get, a CRM user's items of one type.
fn destination_key(
    snapshot: &SnapshotPlan,
    target: &Target,
    link: &LinkPlan,
    item_type: ItemType,
) -> Option<(Direction, String, String)> {
    match snapshot.direction {
        Direction::Send => {
            let collection = target.link(&link.link)?.collections.get(&item_type)?;
            Some((Direction::Send, target.name.clone(), collection.clone()))
        }
        Direction::Get => Some((Direction::Get, link.user.clone(), item_type.to_string())),
    }
}

/// Warns about two snapshots of one plan that write the same collection
/// (one of them with writes planned there): both were planned against the
/// same contents, so the later one's operations may turn out stale, or
/// undo what the earlier one wrote.
fn warn_overlaps(snapshots: &mut [SnapshotPlan], targets: &[&Target]) {
    // The first snapshot to plan each collection, and whether it writes there.
    let mut first: HashMap<(Direction, String, String), (usize, bool)> = HashMap::new();
    let mut warnings: Vec<(usize, String)> = Vec::new();
    for (index, (snapshot, target)) in snapshots.iter().zip(targets).enumerate() {
        for (link, section) in snapshot.sections() {
            let Some(key) = destination_key(snapshot, target, link, section.item_type) else {
                continue;
            };
            let writes = section.totals.writes() > 0;
            match first.get(&key) {
                Some((earlier, _)) if *earlier == index => {}
                // Neither writes: nothing can go stale or be undone.
                Some((earlier, earlier_writes)) if *earlier_writes || writes => warnings.push((
                    index,
                    format!(
                        "snapshots {} and {} both write {}: each was planned against the same \
                         contents, so {}'s operations may be stale or undo {}'s; apply them \
                         separately, or narrow one of them",
                        snapshots[*earlier].snapshot,
                        snapshot.snapshot,
                        section.destination,
                        snapshot.snapshot,
                        snapshots[*earlier].snapshot,
                    ),
                )),
                Some(_) => {}
                None => {
                    first.insert(key, (index, writes));
                }
            }
        }
    }
    for (index, message) in warnings {
        snapshots[index].notices.push(Notice::warning(message));
    }
}

/// What a plan reads, the same for every snapshot of it.
#[derive(Clone, Copy)]
struct Reads<'a> {
    endpoints: &'a dyn Endpoints,
    /// The CRM store's users, read once per plan.
    crm_users: &'a Result<Vec<String>, EndpointError>,
    state: &'a StateStore,
    now: DateTime<Utc>,
}

fn compile_snapshot(
    snapshot: &Snapshot,
    target: &Target,
    reads: Reads<'_>,
    mut cache: Option<&mut SourceCache>,
    unusable: Option<Notice>,
) -> Result<SnapshotPlan, PlanError> {
    let Reads {
        endpoints,
        crm_users,
        state,
        now,
    } = reads;
    let filters = match &snapshot.scope {
        Scope::Full(_) => None,
        Scope::Filtered(set) => Some(ActiveFilters::resolve(set, now, snapshot.timezone).map_err(
            |source| PlanError::Range {
                snapshot: snapshot.name.clone(),
                source,
            },
        )?),
    };
    let item_types = snapshot.scope.item_types();
    let mut out = SnapshotPlan {
        snapshot: snapshot.name.clone(),
        direction: snapshot.direction,
        target: target.name.clone(),
        timezone: snapshot.timezone.name().to_owned(),
        filtered: filters.is_some(),
        filters: filters
            .iter()
            .flat_map(|f| item_types.iter().filter_map(|t| f.for_type(*t)))
            .map(|f| FilterSummary {
                item_type: f.item_type(),
                description: f.describe(),
                from: f.range().start,
                to: f.range().end,
            })
            .collect(),
        orphans: snapshot.orphans,
        max_deletes: snapshot.max_deletes,
        origin: snapshot.origin.to_string(),
        notices: Vec::new(),
        links: Vec::new(),
    };
    if let Some(notice) = unusable {
        out.notices.push(notice);
        return Ok(out);
    }
    let flag_name = match snapshot.direction {
        Direction::Get => "inbound",
        Direction::Send => "outbound",
    };
    let links: Vec<&LinkSpec> = match &snapshot.links {
        None => target.links.iter().collect(),
        Some(names) => names.iter().filter_map(|n| target.link(n)).collect(),
    };
    for link in links {
        if link.flag(snapshot.direction) == LinkFlag::Disabled {
            out.notices.push(Notice::notice(format!(
                "link {} skipped: {flag_name} is disabled in target {}",
                link.name, target.name
            )));
            continue;
        }
        let mut link_plan = link_plan(snapshot, target, link, state, now, filters.is_some())?;
        if !check_user(snapshot, target, link, crm_users, &mut link_plan.notices) {
            out.links.push(link_plan);
            continue;
        }
        for &item_type in &item_types {
            if !link.collections.contains_key(&item_type) {
                link_plan.notices.push(Notice::notice(format!(
                    "no {item_type} collection on this link: {item_type} skipped"
                )));
                continue;
            }
            let mut keeper = cache.as_deref_mut().map(|cache| Keeper {
                cache,
                slot: SlotKey(&snapshot.name, &link.name, item_type),
            });
            let section = Section::compile(
                &SectionInput {
                    snapshot,
                    target,
                    link,
                    item_type,
                    filter: filters.as_ref().and_then(|f| f.for_type(item_type)),
                    endpoints,
                    synced: state.synced_set(&target.name, &link.name, item_type)?,
                },
                keeper.as_mut(),
            );
            link_plan.sections.push(section);
        }
        out.links.push(link_plan);
    }
    let deletes = out.totals().deletes();
    if let Some(limit) = snapshot.max_deletes.filter(|l| deletes > u64::from(*l)) {
        // Said at plan time, so a reviewer is not surprised by the refusal.
        out.notices.push(Notice::warning(format!(
            "this snapshot would delete {}, more than its spec.maxDeletes ({limit}): an apply \
             refuses it; check the deletes, then raise the limit if they are intended",
            crate::plural::count(deletes, "item", "items")
        )));
    }
    Ok(out)
}

/// Checks the link's CRM user against the CRM store's users. A send for a
/// user the store does not hold would read an empty source (a mistyped
/// `user:` looks exactly like "delete everything"): an error for the link,
/// which is then not planned (returns false). A store with no user at all
/// has nothing to send yet: a notice, and the link is not planned either.
/// A get creates a new user: the plan says so.
fn check_user(
    snapshot: &Snapshot,
    target: &Target,
    link: &LinkSpec,
    crm_users: &Result<Vec<String>, EndpointError>,
    notices: &mut Vec<Notice>,
) -> bool {
    let users = match crm_users {
        Ok(users) => users,
        Err(e) if snapshot.direction == Direction::Send => {
            notices.push(Notice::error(format!(
                "cannot check that CRM user {} exists: {}; nothing is planned for this link",
                link.user, e.message
            )));
            return false;
        }
        // A get reads the target; its writes to the CRM store fail on their own.
        Err(_) => return true,
    };
    if users.contains(&link.user) {
        return true;
    }
    if users.is_empty() && snapshot.direction == Direction::Send {
        // A store with no user at all (a fresh clone, before any import) is
        // not a typo: there is nothing to send yet, and nothing is planned.
        notices.push(Notice::notice(format!(
            "the CRM store holds no users yet: nothing to send for CRM user `{}`; import \
             items first (`snapsync crm import --user {} FILE…`)",
            link.user, link.user
        )));
        return false;
    }
    let near = near_names(&link.user, users);
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            near.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    };
    match snapshot.direction {
        Direction::Send => {
            notices.push(Notice::error(format!(
                "CRM user `{}` does not exist in the CRM store{hint}: a send would read an empty \
                 source and could delete everything at the destination, so nothing is planned for \
                 this link; fix `user:` of link {} in target {} ({}), or import the user's items \
                 first",
                link.user, link.name, target.name, target.origin
            )));
            false
        }
        Direction::Get => {
            notices.push(Notice::notice(format!(
                "CRM user `{}` is new in the CRM store: this get creates it{hint}",
                link.user
            )));
            true
        }
    }
}

/// Up to three names close to `name` (a mistyped user), closest first.
fn near_names<'a>(name: &str, names: &'a [String]) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .iter()
        .map(|n| (strsim::jaro_winkler(&lower, &n.to_lowercase()), n.as_str()))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// The link's flags as the target declares them now, the pending outbound
/// they would leave in the state store, and what the plan says about it.
fn link_plan(
    snapshot: &Snapshot,
    target: &Target,
    link: &LinkSpec,
    state: &StateStore,
    now: DateTime<Utc>,
    filtered: bool,
) -> Result<LinkPlan, PlanError> {
    let inbound = link.inbound == LinkFlag::Enabled;
    let outbound = link.outbound == LinkFlag::Enabled;
    let seen = state.preview_link_flags(&target.name, &link.name, inbound, outbound, now)?;
    let mut notices = Vec::new();
    let clears = seen.outbound_pending && snapshot.direction == Direction::Send;
    if seen.outbound_pending {
        // Only a pending state already recorded has a date; a re-enable the
        // next apply will record has none yet.
        let since = state
            .link(&target.name, &link.name)?
            .filter(|l| l.outbound_pending)
            .and_then(|l| l.pending_since)
            .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        if snapshot.direction == Direction::Send {
            notices.push(Notice::notice(format!(
                "outbound is pending{since} (re-enabled after items were synced): \
                 applying this send snapshot without failures resumes it"
            )));
            if filtered {
                notices.push(Notice::warning(
                    "this send snapshot is filtered: changes made outside its filters while \
                     outbound was disabled will not be sent; apply a full send snapshot to send them",
                ));
            }
        } else {
            notices.push(Notice::notice(format!(
                "outbound is pending{since}: a send snapshot covering this link must be applied \
                 before outbound changes flow again"
            )));
        }
    }
    Ok(LinkPlan {
        link: link.name.clone(),
        user: link.user.clone(),
        flags: LinkFlags {
            inbound,
            outbound,
            outbound_pending: seen.outbound_pending,
            pending_since: seen.pending_since,
        },
        clears_outbound_pending: clears,
        notices,
        sections: Vec::new(),
    })
}

/// Where a section's source items go when an apply will want them.
struct Keeper<'a> {
    cache: &'a mut SourceCache,
    slot: SlotKey<'a>,
}

impl Keeper<'_> {
    fn keep(&mut self, href: &Href, version: &crate::endpoint::Version, item: Item) {
        self.cache
            .keep(&self.slot, href.clone(), version.clone(), item);
    }
}

struct SectionInput<'a> {
    snapshot: &'a Snapshot,
    target: &'a Target,
    link: &'a LinkSpec,
    item_type: ItemType,
    filter: Option<&'a TypeFilter>,
    endpoints: &'a dyn Endpoints,
    synced: SyncedSet,
}

/// One item of a side.
struct Entry {
    uid: String,
    state: ItemState,
    /// Its summary or name.
    label: Option<String>,
    /// The dates the filters read.
    dates: ItemDates,
    /// Only what the state store remembers (UID and hash of a file
    /// unchanged since the last sync): no summary, no dates.
    partial: bool,
}

impl Entry {
    /// The entry of an item, if it is of the section's type: a collection
    /// shared by events and tasks holds both, and each section sees its own.
    fn of(item_type: ItemType, state: ItemState, meta: ItemMeta, partial: bool) -> Option<Entry> {
        (meta.item_type == item_type).then_some(Entry {
            uid: meta.uid,
            state,
            label: meta.label,
            dates: meta.dates,
            partial,
        })
    }
}

/// One side's items of the section's type, sorted by UID, one per UID. A
/// sorted vector rather than a map: at a million items, a map's nodes and
/// a second copy of every UID as its key cost hundreds of megabytes.
#[derive(Default)]
struct Side {
    items: Vec<Entry>,
    /// Items listed but not readable: left out of the plan, unless an
    /// unreadable destination item's UID is known (then it is replaced).
    unreadable: Vec<Unreadable>,
}

/// An item listed but not readable.
struct Unreadable {
    href: Href,
    /// Its version in the listing (an update replaces it at this version).
    version: Version,
    /// Why it cannot be read.
    message: String,
}

/// What the comparison needs besides the two sides (DESIGN 2.5: an
/// unreadable item never causes a delete).
#[derive(Default)]
struct Guards {
    /// Synced items whose source copy cannot be read: their destination
    /// copies get no operation.
    protected: HashSet<String>,
    /// Unreadable destination items whose UID is known, by UID: the
    /// source's copy replaces each at its version.
    repairs: HashMap<String, ItemState>,
    /// Source items that cannot be read: while there are any, orphans are
    /// kept even under `orphans: delete`.
    unreadable_sources: usize,
}

/// A section's source and destination collections, opened.
type Opened = (Box<dyn Collection>, Box<dyn Collection>);

impl Section {
    fn compile(input: &SectionInput<'_>, mut keeper: Option<&mut Keeper<'_>>) -> Section {
        let (mut section, collections) = Section::open(input);
        let Some((source_collection, destination_collection)) = collections else {
            return section;
        };
        // A target's files unchanged since the last sync (same version)
        // need not be read again to know their UID and hash.
        let known: HashMap<&Href, &SyncedRecord> =
            input.synced.iter().map(|s| (&s.target_href, s)).collect();
        let (source_known, destination_known) = match input.snapshot.direction {
            Direction::Send => (None, Some(&known)),
            Direction::Get => (Some(&known), None),
        };
        let target_is_source = input.snapshot.direction == Direction::Get;
        let source_owner = Owner {
            synced: &input.synced,
            target: target_is_source,
        };
        let destination_owner = Owner {
            synced: &input.synced,
            target: !target_is_source,
        };
        let notices = &mut section.notices;
        let Some(mut source) = read_side(
            source_collection.as_ref(),
            source_owner,
            input.item_type,
            source_known,
            notices,
            keeper.as_deref_mut(),
        ) else {
            return section;
        };
        let Some(mut destination) = read_side(
            destination_collection.as_ref(),
            destination_owner,
            input.item_type,
            destination_known,
            notices,
            None,
        ) else {
            left_out(&source.unreadable, notices);
            return section;
        };
        // What the plan shows or judges needs the whole item: every source
        // item a filter judges or that will be written, and every item only
        // at the destination (a delete is judged on it).
        let filtered = input.filter.is_some();
        let completed = complete(
            source_collection.as_ref(),
            source_owner,
            &mut source,
            |e| {
                filtered
                    || destination
                        .get(&e.uid)
                        .is_none_or(|d| d.state.hash != e.state.hash)
            },
            input.item_type,
            notices,
            keeper,
        )
        .and_then(|()| {
            complete(
                destination_collection.as_ref(),
                destination_owner,
                &mut destination,
                |e| source.get(&e.uid).is_none(),
                input.item_type,
                notices,
                None,
            )
        });
        if completed.is_none() {
            left_out(&source.unreadable, notices);
            left_out(&destination.unreadable, notices);
            return section;
        }
        let guards = guards(
            input,
            &source,
            &destination,
            destination_collection.as_ref(),
            notices,
        );
        section.source_items = source.items.len() as u64;
        section.destination_items = destination.items.len() as u64;
        section.operations = diff(input, source, destination, &guards);
        for op in &section.operations {
            section.totals.add(op.action, 1);
        }
        section.safety_notices(input);
        section
    }

    /// The section without operations yet, and its source and destination
    /// opened; `None` (with the error as a notice) when one cannot be.
    fn open(input: &SectionInput<'_>) -> (Section, Option<Opened>) {
        let crm = input.endpoints.crm(&input.link.user, input.item_type);
        let target = input
            .endpoints
            .target(input.target, input.link, input.item_type);
        let (source, destination): (Result<Box<dyn Collection>, EndpointError>, _) =
            match input.snapshot.direction {
                Direction::Send => (Ok(crm), target),
                Direction::Get => (target, Ok(crm)),
            };
        let describe = |c: &Result<Box<dyn Collection>, EndpointError>| match c {
            Ok(c) => c.describe(),
            Err(_) => format!("target {}", input.target.name),
        };
        let mut section = Section {
            item_type: input.item_type,
            source: describe(&source),
            destination: describe(&destination),
            source_items: 0,
            destination_items: 0,
            synced_items: input.synced.len() as u64,
            notices: Vec::new(),
            totals: Totals::default(),
            operations: Vec::new(),
        };
        match (source, destination) {
            (Ok(s), Ok(d)) => (section, Some((s, d))),
            (Err(e), _) | (_, Err(e)) => {
                section.notices.push(Notice::error(e.message));
                (section, None)
            }
        }
    }

    /// Warns of what a safety valve refuses at apply: a source that lists
    /// nothing after items were synced, or deleting every destination item.
    fn safety_notices(&mut self, input: &SectionInput<'_>) {
        let deletes = self.totals.deletes();
        if self.source_items == 0 && !input.synced.is_empty() {
            self.notices.push(Notice::warning(format!(
                "the source lists no {} but {} were synced before: an apply refuses to run \
                 (a broken server or a wrong path looks exactly like \"delete everything\")",
                input.item_type,
                input.synced.len()
            )));
        } else if deletes > 0 && deletes == self.destination_items {
            self.notices.push(Notice::warning(format!(
                "this would delete every item of {} ({deletes}): an apply refuses to run unless \
                 --allow-empty-source is given (a wrong path or a mistyped user looks exactly \
                 like \"delete everything\")",
                self.destination
            )));
        }
    }
}

/// Warns of each unreadable item that it is left out of the plan.
fn left_out(unreadable: &[Unreadable], notices: &mut Vec<Notice>) {
    for item in unreadable {
        notices.push(Notice::warning(format!(
            "{}; the item is left out of this plan",
            item.message
        )));
    }
}

/// What DESIGN 2.5 asks of unreadable items, worked out on both sides, with
/// a notice for each unreadable item saying what the plan does with it.
fn guards(
    input: &SectionInput<'_>,
    source: &Side,
    destination: &Side,
    destination_collection: &dyn Collection,
    notices: &mut Vec<Notice>,
) -> Guards {
    left_out(&source.unreadable, notices);
    let protected = protected_uids(input, source, notices);
    let repairs = repairs(input, source, destination, destination_collection, notices);
    let unreadable_sources = source.unreadable.len();
    if unreadable_sources > 0 && input.snapshot.orphans == OrphanPolicy::Delete {
        notices.push(Notice::warning(format!(
            "{} at the source cannot be read: orphan deletion in {} is suspended, and its \
             orphans are kept until every source item is readable (an item that cannot be read \
             would make its copy look like an orphan)",
            crate::plural::count(unreadable_sources, "item", "items"),
            destination_collection.describe()
        )));
    }
    Guards {
        protected,
        repairs,
        unreadable_sources,
    }
}

/// The unreadable destination items that the source's copy replaces: those
/// whose UID is known (the state store's record of their href, or the
/// href a new item of a source UID would take), whose source item is in
/// scope and which no readable destination item already holds. Every other
/// unreadable destination item is left out of the plan.
fn repairs(
    input: &SectionInput<'_>,
    source: &Side,
    destination: &Side,
    destination_collection: &dyn Collection,
    notices: &mut Vec<Notice>,
) -> HashMap<String, ItemState> {
    let mut repairs = HashMap::new();
    if destination.unreadable.is_empty() {
        return repairs;
    }
    let recorded: HashMap<&Href, &str> = input
        .synced
        .iter()
        .map(|record| {
            let href = match input.snapshot.direction {
                Direction::Send => &record.target_href,
                Direction::Get => &record.crm_href,
            };
            (href, record.uid.as_str())
        })
        .collect();
    // Only source items missing at the destination can be what an
    // unreadable item holds.
    let by_name: HashMap<Href, &str> = source
        .items
        .iter()
        .filter(|e| destination.get(&e.uid).is_none())
        .filter_map(|e| {
            destination_collection
                .href_of_new(&e.uid)
                .map(|href| (href, e.uid.as_str()))
        })
        .collect();
    for item in &destination.unreadable {
        let known = recorded
            .get(&item.href)
            .map(|uid| (*uid, "the state store's record"))
            .or_else(|| {
                by_name
                    .get(&item.href)
                    .map(|uid| (*uid, "the name of its file"))
            });
        let replaced = known.filter(|(uid, _)| {
            !repairs.contains_key(*uid)
                && destination.get(uid).is_none()
                && source
                    .get(uid)
                    .is_some_and(|src| verdict(input.filter, &src.dates).matched)
        });
        let Some((uid, how)) = replaced else {
            left_out(std::slice::from_ref(item), notices);
            continue;
        };
        notices.push(Notice::warning(format!(
            "{}; {} holds UID {uid} (by {how}): the source's copy replaces it",
            item.message, item.href
        )));
        repairs.insert(
            uid.to_owned(),
            ItemState {
                href: item.href.clone(),
                version: item.version.clone(),
                hash: None,
            },
        );
    }
    repairs
}

/// Lists a collection and reads what the listing does not say. `None` when
/// the collection cannot be listed (the notice says why). With `known`, an
/// entry whose version is the one the state store recorded is taken from
/// the record (UID and hash) without reading it: a partial entry.
fn read_side(
    collection: &dyn Collection,
    owner: Owner<'_>,
    item_type: ItemType,
    known: Option<&HashMap<&Href, &SyncedRecord>>,
    notices: &mut Vec<Notice>,
    keeper: Option<&mut Keeper<'_>>,
) -> Option<Side> {
    let listing = match collection.list() {
        Ok(listing) => listing,
        Err(e) => {
            notices.push(Notice::error(e.message));
            return None;
        }
    };
    let mut to_fetch: Vec<(Href, Version)> = Vec::new();
    // The listing becomes the side's entries as it is read. An entry and a
    // listing entry are the same size, so `collect` reuses the listing's
    // buffer instead of a second one (at a million items, 200 MB of fresh
    // memory the kernel must zero).
    let items = listing
        .into_iter()
        .filter_map(|entry| {
            let Listing {
                href,
                version,
                meta,
            } = entry;
            if let Some(meta) = meta {
                let state = ItemState {
                    href,
                    version,
                    hash: Some(meta.hash),
                };
                Entry::of(item_type, state, meta, false)
            } else if let Some(record) = known
                .and_then(|k| k.get(&href))
                .filter(|r| r.target_version == version)
            {
                let meta = ItemMeta {
                    item_type,
                    uid: record.uid.clone(),
                    hash: record.target_hash,
                    label: None,
                    dates: ItemDates::default(),
                };
                let state = ItemState {
                    href,
                    version,
                    hash: Some(meta.hash),
                };
                Entry::of(item_type, state, meta, true)
            } else {
                to_fetch.push((href, version));
                None
            }
        })
        .collect();
    let mut side = Side {
        items,
        unreadable: Vec::new(),
    };
    fetch_metas(collection, &to_fetch, item_type, &mut side, notices, keeper)?;
    side.settle(collection, owner, notices);
    Some(side)
}

impl Side {
    /// The item with this UID.
    fn get(&self, uid: &str) -> Option<&Entry> {
        self.items
            .binary_search_by(|e| e.uid.as_str().cmp(uid))
            .ok()
            .map(|i| &self.items[i])
    }

    /// Adds an item of the section's type (see [`Entry::of`]).
    fn push(&mut self, item_type: ItemType, state: ItemState, meta: ItemMeta, partial: bool) {
        self.items
            .extend(Entry::of(item_type, state, meta, partial));
    }

    /// Sorts the items by UID; of items sharing a UID one stays (see
    /// [`Owner::keeper`]) and the others are left out with a warning.
    fn settle(&mut self, collection: &dyn Collection, owner: Owner<'_>, notices: &mut Vec<Notice>) {
        self.items.sort_unstable_by(|a, b| {
            a.uid
                .cmp(&b.uid)
                .then_with(|| a.state.href.cmp(&b.state.href))
        });
        // Duplicates are rare: the choice moves the kept entry of each run
        // of one UID to its front, and `dedup_by` keeps the front one.
        let mut why: HashMap<String, &'static str> = HashMap::new();
        let mut start = 0;
        while start < self.items.len() {
            let uid = &self.items[start].uid;
            let end = start
                + self.items[start..]
                    .iter()
                    .take_while(|e| &e.uid == uid)
                    .count();
            if end - start > 1 {
                let run = &mut self.items[start..end];
                let (index, reason) = owner.keeper(collection, run);
                run[..=index].rotate_right(1);
                why.insert(run[0].uid.clone(), reason);
            }
            start = end;
        }
        self.items.dedup_by(|later, kept| {
            if later.uid != kept.uid {
                return false;
            }
            let reason = why.get(&kept.uid).copied().unwrap_or(KEPT_FIRST);
            notices.push(Notice::warning(format!(
                "{}: UID {} is held by both {} and {}; {} is kept ({reason}), \
                 {} is left out of this plan",
                collection.describe(),
                later.uid,
                kept.state.href,
                later.state.href,
                kept.state.href,
                later.state.href
            )));
            true
        });
    }
}

/// Why the first of several entries of one UID is kept.
const KEPT_FIRST: &str = "the first by name";

/// Which side of the state store's records a side is, to choose among
/// entries that share a UID.
#[derive(Clone, Copy)]
struct Owner<'a> {
    synced: &'a SyncedSet,
    /// Whether the side is the target (its records' `target_href`), else
    /// the CRM store (`crm_href`).
    target: bool,
}

impl Owner<'_> {
    /// Of entries sharing one UID (sorted by href), the index of the one
    /// that stays and why: the one at the href the state store recorded
    /// for the UID (where snapsync wrote or read it last), else the one at
    /// the href snapsync gives a new item of that UID, else the first by
    /// href. (Keeping a stray copy instead would update it and leave
    /// snapsync's own file out of date for ever.)
    fn keeper(self, collection: &dyn Collection, run: &[Entry]) -> (usize, &'static str) {
        let uid = run[0].uid.as_str();
        let at = |href: &Href| run.iter().position(|e| &e.state.href == href);
        let recorded = self.synced.get(uid).map(|record| {
            if self.target {
                &record.target_href
            } else {
                &record.crm_href
            }
        });
        if let Some(index) = recorded.and_then(at) {
            return (index, "where the state store recorded it");
        }
        if let Some(index) = collection.href_of_new(uid).as_ref().and_then(at) {
            return (index, "the name snapsync gives this UID");
        }
        (0, KEPT_FIRST)
    }
}

/// Fetches `hrefs` (at the versions listed) in batches and adds them to
/// `side`; unreadable items are remembered in `side.unreadable` (their
/// warnings are given once the plan knows what it does with them, see
/// [`unreadable_notices`]). `None` when the collection cannot be read at all.
fn fetch_metas(
    collection: &dyn Collection,
    hrefs: &[(Href, Version)],
    item_type: ItemType,
    side: &mut Side,
    notices: &mut Vec<Notice>,
    mut keeper: Option<&mut Keeper<'_>>,
) -> Option<()> {
    for batch in hrefs.chunks(FETCH_BATCH) {
        let names: Vec<Href> = batch.iter().map(|(href, _)| href.clone()).collect();
        let fetched = match collection.fetch(&names) {
            Ok(fetched) => fetched,
            Err(e) => {
                notices.push(Notice::error(e.message));
                return None;
            }
        };
        for ((href, version), result) in batch.iter().zip(fetched) {
            match result {
                Ok(f) => {
                    // What the item says that could not be read as written
                    // (an RRULE without FREQ): it is planned as read.
                    for problem in f.item.problems() {
                        notices.push(Notice::warning(format!(
                            "{}: {} (UID {}): {problem}",
                            collection.describe(),
                            f.href,
                            f.item.uid()
                        )));
                    }
                    let meta = ItemMeta::of(&f.item);
                    if let Some(keeper) = keeper.as_deref_mut() {
                        keeper.keep(&f.href, &f.version, f.item);
                    }
                    let state = ItemState {
                        href: f.href,
                        version: f.version,
                        hash: Some(meta.hash),
                    };
                    side.push(item_type, state, meta, false);
                }
                // Gone since it was listed is not unreadable.
                Err(e) if e.kind == ErrorKind::DoesNotExist => {
                    notices.push(Notice::warning(format!(
                        "{}; the item is left out of this plan",
                        e.message
                    )));
                }
                Err(e) => side.unreadable.push(Unreadable {
                    href: href.clone(),
                    version: version.clone(),
                    message: e.message,
                }),
            }
        }
    }
    Some(())
}

/// Reads the whole item of the partial entries that `needs` picks.
fn complete(
    collection: &dyn Collection,
    owner: Owner<'_>,
    side: &mut Side,
    needs: impl Fn(&Entry) -> bool,
    item_type: ItemType,
    notices: &mut Vec<Notice>,
    keeper: Option<&mut Keeper<'_>>,
) -> Option<()> {
    let mut hrefs = Vec::new();
    side.items.retain(|e| {
        let fetch = e.partial && needs(e);
        if fetch {
            hrefs.push((e.state.href.clone(), e.state.version.clone()));
        }
        !fetch
    });
    if hrefs.is_empty() {
        return Some(());
    }
    fetch_metas(collection, &hrefs, item_type, side, notices, keeper)?;
    side.settle(collection, owner, notices);
    Some(())
}

/// The UIDs of synced items whose source file is listed but cannot be read:
/// their copies at the destination must not look deleted at the source (a
/// file broken by hand would otherwise delete its counterpart).
fn protected_uids(
    input: &SectionInput<'_>,
    source: &Side,
    notices: &mut Vec<Notice>,
) -> HashSet<String> {
    if source.unreadable.is_empty() {
        return HashSet::new();
    }
    let unreadable: HashSet<&Href> = source.unreadable.iter().map(|u| &u.href).collect();
    let mut found: Vec<(&str, &Href)> = input
        .synced
        .iter()
        .filter_map(|record| {
            let href = match input.snapshot.direction {
                Direction::Send => &record.crm_href,
                Direction::Get => &record.target_href,
            };
            unreadable
                .contains(href)
                .then_some((record.uid.as_str(), href))
        })
        .collect();
    found.sort_unstable();
    for (uid, href) in &found {
        notices.push(Notice::warning(format!(
            "{href} (UID {uid}) was synced before and cannot be read now: \
             its copy at the destination is left as it is"
        )));
    }
    found.into_iter().map(|(uid, _)| uid.to_owned()).collect()
}

/// Whether an item is in scope: a full snapshot takes everything.
fn verdict(filter: Option<&TypeFilter>, dates: &ItemDates) -> Verdict {
    match filter {
        Some(filter) => filter.check(dates),
        // The reason is not read for a full snapshot (see [`reason`]): no
        // string is allocated per item.
        None => Verdict {
            matched: true,
            reason: String::new(),
            decided_by: Vec::new(),
        },
    }
}

fn dates(verdict: &Verdict) -> Vec<DecidingDate> {
    verdict
        .decided_by
        .iter()
        .map(|(name, at)| DecidingDate {
            name: Cow::Borrowed(*name),
            at: *at,
        })
        .collect()
}

/// DESIGN 2.3's table, row by row: a merge of the two sides, both sorted
/// by UID. Consumes both sides: their states move into the operations
/// rather than being copied. `guards` keeps unreadable items from causing
/// deletes (DESIGN 2.5).
fn diff(
    input: &SectionInput<'_>,
    source: Side,
    destination: Side,
    guards: &Guards,
) -> Vec<Operation> {
    let mut ops = Vec::with_capacity(source.items.len());
    let mut destination = destination.items.into_iter().peekable();
    for src in source.items {
        while let Some(dest) = destination.next_if(|d| d.uid < src.uid) {
            ops.extend(only_at_destination(input, dest, guards));
        }
        let dest = destination.next_if(|d| d.uid == src.uid);
        ops.push(at_source(input, src, dest, guards));
    }
    for dest in destination {
        ops.extend(only_at_destination(input, dest, guards));
    }
    // Unique UIDs: an unstable sort is deterministic, and needs no buffer.
    ops.sort_unstable_by(|a, b| {
        order(a.action)
            .cmp(&order(b.action))
            .then_with(|| a.uid.cmp(&b.uid))
    });
    ops
}

/// The operation of an item at the source, and at the destination or not
/// (or there but unreadable: then the source's copy replaces it).
fn at_source(
    input: &SectionInput<'_>,
    src: Entry,
    dest: Option<Entry>,
    guards: &Guards,
) -> Operation {
    let verdict = verdict(input.filter, &src.dates);
    let repair = dest
        .is_none()
        .then(|| guards.repairs.get(&src.uid))
        .flatten()
        .filter(|_| verdict.matched);
    let action = if verdict.matched {
        match &dest {
            None if repair.is_some() => Action::Update,
            None if input.synced.contains(&src.uid) => Action::Restore,
            None => Action::Create,
            Some(d) if d.state.hash == src.state.hash => Action::Keep,
            Some(_) => Action::Update,
        }
    } else {
        Action::NotMatched
    };
    let in_sync = action == Action::Keep
        && dest
            .as_ref()
            .is_some_and(|d| recorded_as(input, &src.uid, &src.state, &d.state));
    let (destination_state, destination_label) = match dest {
        Some(d) => (Some(d.state), d.label),
        None => (repair.cloned(), None),
    };
    let reason = if repair.is_some() {
        repaired_reason(input, &verdict)
    } else {
        reason(input, &verdict, action)
    };
    Operation {
        action,
        reason,
        dates: dates(&verdict),
        uid: src.uid,
        // A file unchanged since the last sync was not read: its summary
        // comes from the other side.
        summary: src.label.or(destination_label),
        source: Some(src.state),
        destination: destination_state,
        in_sync,
    }
}

/// The operation of an item only at the destination, if any: none when a
/// filter leaves it out (for a delete, "in scope" is judged on the
/// destination item) or its source copy cannot be read. An orphan is kept
/// while source items cannot be read, whatever the orphan policy.
fn only_at_destination(
    input: &SectionInput<'_>,
    dest: Entry,
    guards: &Guards,
) -> Option<Operation> {
    let verdict = verdict(input.filter, &dest.dates);
    if !verdict.matched || guards.protected.contains(&dest.uid) {
        return None;
    }
    let suspended = input.snapshot.orphans == OrphanPolicy::Delete && guards.unreadable_sources > 0;
    let action = if input.synced.contains(&dest.uid) {
        Action::Delete
    } else if suspended {
        Action::OrphanKept
    } else {
        match input.snapshot.orphans {
            OrphanPolicy::Keep => Action::OrphanKept,
            OrphanPolicy::Delete => Action::OrphanDeleted,
        }
    };
    let reason = if action == Action::OrphanKept && suspended {
        suspended_reason(input, &verdict, guards.unreadable_sources)
    } else {
        reason(input, &verdict, action)
    };
    Some(Operation {
        action,
        reason,
        dates: dates(&verdict),
        uid: dest.uid,
        summary: dest.label,
        source: None,
        destination: Some(dest.state),
        in_sync: false,
    })
}

/// Why an item gets `action`: the filter's verdict, then the row of DESIGN
/// 2.3. A full snapshot's reasons are fixed texts (no allocation per item).
fn reason(input: &SectionInput<'_>, verdict: &Verdict, action: Action) -> Cow<'static, str> {
    let (filtered, orphans) = (input.filter.is_some(), input.snapshot.orphans);
    let (full, why) = match action {
        Action::Restore => (
            "full snapshot; deleted at the destination since the last sync: restored",
            "deleted at the destination since the last sync: restored",
        ),
        Action::Create => (
            "full snapshot; not at the destination",
            "not at the destination",
        ),
        Action::Keep => ("full snapshot; same content", "same content"),
        Action::Update => (
            "full snapshot; content differs at the destination: the source wins",
            "content differs at the destination: the source wins",
        ),
        Action::NotMatched => ("full snapshot; not touched", "not touched"),
        // Items only at the destination: a full snapshot says why alone.
        Action::Delete => (
            "deleted at the source since the last sync",
            "deleted at the source since the last sync",
        ),
        Action::OrphanKept | Action::OrphanDeleted => match orphans {
            OrphanPolicy::Keep => (
                "only at the destination, never synced: kept (orphans: keep)",
                "only at the destination, never synced: kept (orphans: keep)",
            ),
            OrphanPolicy::Delete => (
                "only at the destination, never synced: deleted (orphans: delete)",
                "only at the destination, never synced: deleted (orphans: delete)",
            ),
        },
    };
    if filtered {
        Cow::Owned(format!("{}; {why}", verdict.reason))
    } else {
        Cow::Borrowed(full)
    }
}

/// Why an unreadable destination item is replaced.
fn repaired_reason(input: &SectionInput<'_>, verdict: &Verdict) -> Cow<'static, str> {
    const WHY: &str = "unreadable at the destination: replaced";
    if input.filter.is_some() {
        Cow::Owned(format!("{}; {WHY}", verdict.reason))
    } else {
        Cow::Owned(format!("full snapshot; {WHY}"))
    }
}

/// Why an orphan is kept under `orphans: delete`.
fn suspended_reason(
    input: &SectionInput<'_>,
    verdict: &Verdict,
    unreadable: usize,
) -> Cow<'static, str> {
    let why = format!(
        "only at the destination, never synced: kept (orphans: delete is suspended while {} at \
         the source cannot be read)",
        if unreadable == 1 {
            "1 item".to_owned()
        } else {
            format!("{unreadable} items")
        }
    );
    if input.filter.is_some() {
        Cow::Owned(format!("{}; {why}", verdict.reason))
    } else {
        Cow::Owned(why)
    }
}

/// Whether the state store already records this pair exactly as it is now
/// (then a keep needs no new record).
fn recorded_as(
    input: &SectionInput<'_>,
    uid: &str,
    source: &ItemState,
    destination: &ItemState,
) -> bool {
    let Some(record) = input.synced.get(uid) else {
        return false;
    };
    let (crm, target) = match input.snapshot.direction {
        Direction::Send => (source, destination),
        Direction::Get => (destination, source),
    };
    record.crm_href == crm.href
        && Some(record.crm_hash) == crm.hash
        && record.target_href == target.href
        && record.target_version == target.version
        && Some(record.target_hash) == target.hash
}

/// Plans list writes first, in the order of [`Action::ALL`].
fn order(action: Action) -> usize {
    Action::ALL
        .iter()
        .position(|a| *a == action)
        .unwrap_or(usize::MAX)
}
