//! Compiling snapshots into a plan: the three-way comparison of DESIGN 2.3
//! (source, destination, and the state store's record of earlier syncs),
//! the filters of DESIGN 2.2 and the link flags of DESIGN 2.4.
//!
//! Compiling reads the endpoints and the state store and writes nothing.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{
    Action, DecidingDate, FilterSummary, ItemState, LinkFlags, LinkPlan, Notice, Operation,
    PLAN_FORMAT_VERSION, Plan, Section, SnapshotPlan, Totals,
};
use crate::endpoint::{Collection, EndpointError, Endpoints, Href, Listing};
use crate::filter::range::RangeError;
use crate::filter::{ActiveFilters, TypeFilter, Verdict};
use crate::item::{ItemMeta, ItemType};
use crate::spec::model::{Catalog, LinkSpec, Scope, Snapshot, Target};
use crate::spec::types::{Direction, LinkFlag, OrphanPolicy};
use crate::state::{StateError, StateStore, SyncedItem};

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
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        now,
        snapshots: Vec::with_capacity(snapshots.len()),
    };
    for snapshot in snapshots {
        let target = catalog
            .target(&snapshot.target)
            .ok_or_else(|| PlanError::UnknownTarget {
                snapshot: snapshot.name.clone(),
                target: snapshot.target.clone(),
            })?;
        plan.snapshots
            .push(compile_snapshot(snapshot, target, endpoints, state, now)?);
    }
    Ok(plan)
}

fn compile_snapshot(
    snapshot: &Snapshot,
    target: &Target,
    endpoints: &dyn Endpoints,
    state: &StateStore,
    now: DateTime<Utc>,
) -> Result<SnapshotPlan, PlanError> {
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
        for &item_type in &item_types {
            if !link.collections.contains_key(&item_type) {
                link_plan.notices.push(Notice::notice(format!(
                    "no {item_type} collection on this link: {item_type} skipped"
                )));
                continue;
            }
            let section = Section::compile(&SectionInput {
                snapshot,
                target,
                link,
                item_type,
                filter: filters.as_ref().and_then(|f| f.for_type(item_type)),
                endpoints,
                synced: state.synced(&target.name, &link.name, item_type)?,
            });
            link_plan.sections.push(section);
        }
        out.links.push(link_plan);
    }
    Ok(out)
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

struct SectionInput<'a> {
    snapshot: &'a Snapshot,
    target: &'a Target,
    link: &'a LinkSpec,
    item_type: ItemType,
    filter: Option<&'a TypeFilter>,
    endpoints: &'a dyn Endpoints,
    synced: HashMap<String, SyncedItem>,
}

/// One side's items of the section's type, by UID.
struct Side {
    items: BTreeMap<String, (ItemState, ItemMeta)>,
    /// UIDs whose metadata is only what the state store remembers (UID and
    /// hash of an unchanged file): no summary, no dates.
    partial: HashSet<String>,
}

impl Section {
    fn compile(input: &SectionInput<'_>) -> Section {
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
        let (source_collection, destination_collection) = match (source, destination) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => {
                section.notices.push(Notice::error(e.message));
                return section;
            }
        };
        // A target's files unchanged since the last sync (same version)
        // need not be read again to know their UID and hash.
        let known: HashMap<&Href, &SyncedItem> =
            input.synced.values().map(|s| (&s.target_href, s)).collect();
        let (source_known, destination_known) = match input.snapshot.direction {
            Direction::Send => (None, Some(&known)),
            Direction::Get => (Some(&known), None),
        };
        let notices = &mut section.notices;
        let Some(mut source) = read_side(
            source_collection.as_ref(),
            input.item_type,
            source_known,
            notices,
        ) else {
            return section;
        };
        let Some(mut destination) = read_side(
            destination_collection.as_ref(),
            input.item_type,
            destination_known,
            notices,
        ) else {
            return section;
        };
        // What the plan shows or judges needs the whole item: every source
        // item a filter judges or that will be written, and every item only
        // at the destination (a delete is judged on it).
        let filtered = input.filter.is_some();
        let source_needs: Vec<String> = source
            .partial
            .iter()
            .filter(|uid| {
                let hash = source.items.get(*uid).map(|(s, _)| s.hash);
                filtered
                    || destination
                        .items
                        .get(*uid)
                        .is_none_or(|(d, _)| Some(d.hash) != hash)
            })
            .cloned()
            .collect();
        let destination_needs: Vec<String> = destination
            .partial
            .iter()
            .filter(|uid| !source.items.contains_key(*uid))
            .cloned()
            .collect();
        let completed = complete(
            source_collection.as_ref(),
            &mut source,
            &source_needs,
            input.item_type,
            notices,
        )
        .and_then(|()| {
            complete(
                destination_collection.as_ref(),
                &mut destination,
                &destination_needs,
                input.item_type,
                notices,
            )
        });
        if completed.is_none() {
            return section;
        }
        section.source_items = source.items.len() as u64;
        section.destination_items = destination.items.len() as u64;
        section.operations = diff(input, source, destination);
        for op in &section.operations {
            section.totals.add(op.action, 1);
        }
        if section.source_items == 0 && !input.synced.is_empty() {
            section.notices.push(Notice::warning(format!(
                "the source lists no {} but {} were synced before: an apply refuses to run \
                 (a broken server or a wrong path looks exactly like \"delete everything\")",
                input.item_type,
                input.synced.len()
            )));
        }
        section
    }
}

/// Lists a collection and reads what the listing does not say. `None` when
/// the collection cannot be listed (the notice says why). With `known`, an
/// entry whose version is the one the state store recorded is taken from
/// the record (UID and hash) without reading it: a partial entry.
fn read_side(
    collection: &dyn Collection,
    item_type: ItemType,
    known: Option<&HashMap<&Href, &SyncedItem>>,
    notices: &mut Vec<Notice>,
) -> Option<Side> {
    let listing = match collection.list() {
        Ok(listing) => listing,
        Err(e) => {
            notices.push(Notice::error(e.message));
            return None;
        }
    };
    let mut found: Vec<(ItemState, ItemMeta, bool)> = Vec::with_capacity(listing.len());
    let mut to_fetch: Vec<Href> = Vec::new();
    // The listing is consumed as it is read: at a million items, a copy
    // of it is hundreds of megabytes.
    for entry in listing {
        let Listing {
            href,
            version,
            meta,
        } = entry;
        if let Some(meta) = meta {
            found.push((
                ItemState {
                    href,
                    version,
                    hash: meta.hash,
                },
                meta,
                false,
            ));
        } else if let Some(record) = known
            .and_then(|k| k.get(&href))
            .filter(|r| r.target_version == version)
        {
            let meta = ItemMeta {
                item_type,
                uid: record.uid.clone(),
                hash: record.target_hash,
                label: None,
                dates: crate::item::ItemDates::default(),
            };
            found.push((
                ItemState {
                    href,
                    version,
                    hash: meta.hash,
                },
                meta,
                true,
            ));
        } else {
            to_fetch.push(href);
        }
    }
    let mut fetched = Vec::new();
    fetch_metas(collection, &to_fetch, &mut fetched, notices)?;
    found.extend(
        fetched
            .into_iter()
            .map(|(state, meta)| (state, meta, false)),
    );
    let mut side = Side {
        items: BTreeMap::new(),
        partial: HashSet::new(),
    };
    found.sort_by(|a, b| a.0.href.cmp(&b.0.href));
    for (state, meta, partial) in found {
        side.insert(collection, item_type, state, meta, partial, notices);
    }
    Some(side)
}

impl Side {
    fn insert(
        &mut self,
        collection: &dyn Collection,
        item_type: ItemType,
        state: ItemState,
        meta: ItemMeta,
        partial: bool,
        notices: &mut Vec<Notice>,
    ) {
        // A collection shared by events and tasks holds both; each section
        // sees its own type only.
        if meta.item_type != item_type {
            return;
        }
        if let Some((first, _)) = self.items.get(&meta.uid) {
            notices.push(Notice::warning(format!(
                "{}: UID {} is held by both {} and {}; {} is left out of this plan",
                collection.describe(),
                meta.uid,
                first.href,
                state.href,
                state.href
            )));
            return;
        }
        if partial {
            self.partial.insert(meta.uid.clone());
        }
        self.items.insert(meta.uid.clone(), (state, meta));
    }
}

/// Fetches `hrefs` in batches and reads their metadata; unreadable items
/// are warnings. `None` when the collection cannot be read at all.
fn fetch_metas(
    collection: &dyn Collection,
    hrefs: &[Href],
    out: &mut Vec<(ItemState, ItemMeta)>,
    notices: &mut Vec<Notice>,
) -> Option<()> {
    for batch in hrefs.chunks(FETCH_BATCH) {
        let fetched = match collection.fetch(batch) {
            Ok(fetched) => fetched,
            Err(e) => {
                notices.push(Notice::error(e.message));
                return None;
            }
        };
        for result in fetched {
            match result {
                Ok(f) => {
                    let meta = ItemMeta::of(&f.item);
                    out.push((state_of(&f.href, &f.version, &meta), meta));
                }
                Err(e) => notices.push(Notice::warning(format!(
                    "{}; the item is left out of this plan",
                    e.message
                ))),
            }
        }
    }
    Some(())
}

/// Reads the whole item of the partial entries `uids`.
fn complete(
    collection: &dyn Collection,
    side: &mut Side,
    uids: &[String],
    item_type: ItemType,
    notices: &mut Vec<Notice>,
) -> Option<()> {
    if uids.is_empty() {
        return Some(());
    }
    let mut hrefs = Vec::with_capacity(uids.len());
    for uid in uids {
        side.partial.remove(uid);
        if let Some((state, _)) = side.items.remove(uid) {
            hrefs.push(state.href);
        }
    }
    let mut fetched = Vec::new();
    fetch_metas(collection, &hrefs, &mut fetched, notices)?;
    for (state, meta) in fetched {
        side.insert(collection, item_type, state, meta, false, notices);
    }
    Some(())
}

fn state_of(href: &Href, version: &crate::endpoint::Version, meta: &ItemMeta) -> ItemState {
    ItemState {
        href: href.clone(),
        version: version.clone(),
        hash: meta.hash,
    }
}

/// Whether an item is in scope: a full snapshot takes everything.
fn verdict(filter: Option<&TypeFilter>, meta: &ItemMeta) -> Verdict {
    match filter {
        Some(filter) => filter.check(&meta.dates),
        None => Verdict {
            matched: true,
            reason: "full snapshot".to_owned(),
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

/// DESIGN 2.3's table, row by row. Consumes both sides: their states move
/// into the operations rather than being copied.
fn diff(input: &SectionInput<'_>, source: Side, mut destination: Side) -> Vec<Operation> {
    let mut ops = Vec::with_capacity(source.items.len());
    for (uid, (src, meta)) in source.items {
        let verdict = verdict(input.filter, &meta);
        let dest_entry = destination.items.remove(&uid);
        let dest = dest_entry.as_ref().map(|(state, _)| state);
        let action = if verdict.matched {
            match dest {
                None if input.synced.contains_key(&uid) => Action::Restore,
                None => Action::Create,
                Some(d) if d.hash == src.hash => Action::Keep,
                Some(_) => Action::Update,
            }
        } else {
            Action::NotMatched
        };
        let in_sync =
            action == Action::Keep && dest.is_some_and(|d| recorded_as(input, &uid, &src, d));
        let (destination_state, destination_label) = match dest_entry {
            Some((state, meta)) => (Some(state), meta.label),
            None => (None, None),
        };
        ops.push(Operation {
            action,
            reason: reason(
                input.filter.is_some(),
                &verdict,
                action,
                input.snapshot.orphans,
            ),
            dates: dates(&verdict),
            uid,
            // A file unchanged since the last sync was not read: its
            // summary comes from the other side.
            summary: meta.label.or(destination_label),
            source: Some(src),
            destination: destination_state,
            in_sync,
        });
    }
    // What is left at the destination is not at the source.
    for (uid, (dest, meta)) in destination.items {
        // For a delete, "in scope" is judged on the destination item.
        let verdict = verdict(input.filter, &meta);
        if !verdict.matched {
            continue;
        }
        let action = if input.synced.contains_key(&uid) {
            Action::Delete
        } else {
            match input.snapshot.orphans {
                OrphanPolicy::Keep => Action::OrphanKept,
                OrphanPolicy::Delete => Action::OrphanDeleted,
            }
        };
        ops.push(Operation {
            action,
            reason: reason(
                input.filter.is_some(),
                &verdict,
                action,
                input.snapshot.orphans,
            ),
            dates: dates(&verdict),
            uid,
            summary: meta.label,
            source: None,
            destination: Some(dest),
            in_sync: false,
        });
    }
    ops.sort_by(|a, b| {
        order(a.action)
            .cmp(&order(b.action))
            .then_with(|| a.uid.cmp(&b.uid))
    });
    ops
}

/// Why an item gets `action`: the filter's verdict, then the row of DESIGN
/// 2.3. A full snapshot's reasons are fixed texts (no allocation per item).
fn reason(
    filtered: bool,
    verdict: &Verdict,
    action: Action,
    orphans: OrphanPolicy,
) -> Cow<'static, str> {
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
        && record.crm_hash == crm.hash
        && record.target_href == target.href
        && record.target_version == target.version
        && record.target_hash == target.hash
}

/// Plans list writes first, in the order of [`Action::ALL`].
fn order(action: Action) -> usize {
    Action::ALL
        .iter()
        .position(|a| *a == action)
        .unwrap_or(usize::MAX)
}
