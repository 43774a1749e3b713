//! `snapsync links` and `snapsync targets`: the links the specs declare,
//! with what the state store last recorded of them.
//!
//! The flags shown are the ones the specs declare now; what the store
//! recorded is compared with them through
//! [`LinkState::with_declared_flags`], the rule the next apply records by,
//! so a link whose outbound was just enabled again shows as pending before
//! any apply has recorded it.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cli::{LinksArgs, OutputFormat, TargetsArgs};
use crate::exit::Exit;
use crate::output::Output;
use crate::output::table::{Align, local_minute, shown_path, write_table};
use snapsync::formats::ByItemType;
use snapsync::formats::links::{
    Flag, FlagChangeJson, LinkJson, LinksJson, RecordedFlagsJson, RunRefJson, TargetJson,
    TargetsJson, UndeclaredLinkJson,
};
use snapsync::item::ItemType;
use snapsync::outputs::FormatVersion;
use snapsync::plural;
use snapsync::spec::model::{Catalog, LinkSpec, Target, TargetLocation};
use snapsync::spec::types::{LinkFlag, TargetType};
use snapsync::state::{LinkState, RunStatus, RunSummary, StateStore, SyncedCounts};
use snapsync::workspace::{Store, Workspace};

/// Runs `snapsync links`.
pub fn links(output: &Output, args: &LinksArgs) -> anyhow::Result<Exit> {
    let workspace = output.load(&args.paths, Utc::now())?;
    let (catalog, now) = (&workspace.catalog, workspace.now);
    if let Some(name) = &args.target {
        workspace.target(name)?;
    }
    let (state_path, state) = open_state(output, &workspace)?;
    let overview = Overview::read(catalog, &state, args.target.as_deref(), now)?;
    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let value = LinksJson {
                format_version: FormatVersion,
                state_store: &state_path,
                links: overview.links.iter().map(LinkView::json).collect(),
                undeclared_links: overview
                    .undeclared
                    .iter()
                    .map(|(target, link, synced)| UndeclaredLinkJson {
                        target: target.clone(),
                        link: link.clone(),
                        synced_total: *synced,
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_links(&mut out, &overview)?,
    }
    Ok(Exit::Success)
}

/// Runs `snapsync targets`.
pub fn targets(output: &Output, args: &TargetsArgs) -> anyhow::Result<Exit> {
    let workspace = output.load(&args.paths, Utc::now())?;
    let catalog = &workspace.catalog;
    let (_, state) = open_state(output, &workspace)?;
    let overview = Overview::read(catalog, &state, None, workspace.now)?;
    let pending_of = |target: &Target| {
        overview
            .links
            .iter()
            .filter(|v| v.target.name == target.name && v.pending() != Pending::None)
            .count()
    };
    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let targets = catalog
                .targets
                .iter()
                .map(|t| TargetJson {
                    name: t.name.clone(),
                    target_type: t.target_type(),
                    location: location(t),
                    links: t.links.len(),
                    pending_links: pending_of(t),
                })
                .collect();
            let value = TargetsJson {
                format_version: FormatVersion,
                targets,
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            if catalog.targets.is_empty() {
                writeln!(out, "The specs declare no target.")?;
                return Ok(Exit::Success);
            }
            let rows: Vec<Vec<String>> = catalog
                .targets
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        type_word(t.target_type()).to_owned(),
                        location(t),
                        t.links.len().to_string(),
                        pending_of(t).to_string(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &[
                    ("TARGET", Align::Left),
                    ("TYPE", Align::Left),
                    ("LOCATION", Align::Left),
                    ("LINKS", Align::Right),
                    ("PENDING", Align::Right),
                ],
                &rows,
            )?;
            let pending: Vec<(&Target, usize)> = catalog
                .targets
                .iter()
                .map(|t| (t, pending_of(t)))
                .filter(|(_, n)| *n > 0)
                .collect();
            if !pending.is_empty() {
                writeln!(out)?;
            }
            for (target, n) in pending {
                writeln!(
                    out,
                    "{}: {} with outbound pending; `snapsync links --target {}` shows which",
                    target.name,
                    plural::count(n, "link", "links"),
                    target.name
                )?;
            }
        }
    }
    Ok(Exit::Success)
}

/// The state store the specs (or `--state`) name, opened read-only: a
/// missing one reads as empty and is not created.
fn open_state(output: &Output, workspace: &Workspace) -> anyhow::Result<(PathBuf, StateStore)> {
    let path = workspace.stores.state.clone();
    output.announce(Store::State, &path, &workspace.specs);
    Ok((path, workspace.read_state()?))
}

fn type_word(target_type: TargetType) -> &'static str {
    match target_type {
        TargetType::Vdir => "vdir",
        TargetType::Caldav => "caldav",
    }
}

/// Where a target is: a vdir's folder (cleaned, relative to the working
/// folder when inside it: see [`shown_path`]), or a server's URL
/// without any user name or password it might carry.
fn location(target: &Target) -> String {
    match &target.location {
        TargetLocation::Vdir { path } => {
            let cwd = std::env::current_dir().ok();
            shown_path(path, cwd.as_deref()).display().to_string()
        }
        TargetLocation::Caldav(caldav) => match url::Url::parse(&caldav.url) {
            Ok(mut url) => {
                // Both only fail for URLs that cannot carry credentials.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            }
            // Validation checked the URL; never print what it could not parse.
            Err(_) => "(an invalid URL)".to_owned(),
        },
    }
}

/// Every declared link of the chosen targets, and the links the store
/// records that the specs no longer declare.
struct Overview<'a> {
    links: Vec<LinkView<'a>>,
    /// Target, link, and how many items are recorded as synced on it.
    undeclared: Vec<(String, String, u64)>,
}

/// One declared link and what the store knows of it.
struct LinkView<'a> {
    target: &'a Target,
    spec: &'a LinkSpec,
    /// What the store last recorded (`None`: never recorded).
    recorded: Option<LinkState>,
    /// What the next apply that covers the link records.
    next: LinkState,
    /// Items recorded as synced, by type.
    synced: BTreeMap<ItemType, u64>,
    last_get: Option<RunSummary>,
    last_send: Option<RunSummary>,
}

/// A flag the specs declare otherwise than the state store last recorded.
struct FlagChange {
    flag: Flag,
    /// As the store recorded it.
    recorded: bool,
    /// As the specs declare it.
    declared: bool,
    /// What the next apply on the target makes of it.
    next_apply: String,
}

fn flag_word(on: bool) -> &'static str {
    if on { "enabled" } else { "disabled" }
}

fn link_flag(on: bool) -> LinkFlag {
    if on {
        LinkFlag::Enabled
    } else {
        LinkFlag::Disabled
    }
}

/// Whether, and how, outbound is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Not pending.
    None,
    /// Recorded as pending in the state store, since then.
    Recorded(Option<DateTime<Utc>>),
    /// The specs enable outbound again after the store recorded it
    /// disabled with items synced: the next apply records it as pending.
    AfterReEnable,
}

impl<'a> Overview<'a> {
    fn read(
        catalog: &'a Catalog,
        state: &StateStore,
        only: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Overview<'a>> {
        let mut recorded: BTreeMap<(String, String), LinkState> = state
            .links(only)?
            .into_iter()
            .map(|r| ((r.target.clone(), r.link.clone()), r))
            .collect();
        let mut counts: SyncedCounts = state.synced_counts(only)?;
        let mut links = Vec::new();
        for target in catalog
            .targets
            .iter()
            .filter(|t| only.is_none_or(|name| t.name == name))
        {
            for spec in &target.links {
                let key = (target.name.clone(), spec.name.clone());
                let synced = counts.remove(&key).unwrap_or_default();
                let recorded = recorded.remove(&key);
                let inbound = spec.inbound == LinkFlag::Enabled;
                let outbound = spec.outbound == LinkFlag::Enabled;
                let has_synced = synced.values().any(|n| *n > 0);
                let next = match &recorded {
                    None => LinkState::first_seen(&target.name, &spec.name, inbound, outbound),
                    Some(r) => r.with_declared_flags(inbound, outbound, has_synced, now),
                };
                let run = |id| state.run_summary(id);
                let last_get = next.last_get.as_ref().map(|r| run(r.id)).transpose()?;
                let last_send = next.last_send.as_ref().map(|r| run(r.id)).transpose()?;
                links.push(LinkView {
                    target,
                    spec,
                    recorded,
                    next,
                    synced,
                    last_get: last_get.flatten(),
                    last_send: last_send.flatten(),
                });
            }
        }
        // What is left was recorded, but is not declared.
        let mut undeclared: BTreeMap<(String, String), u64> =
            recorded.into_keys().map(|key| (key, 0)).collect();
        // Links with synced items whose flags were never recorded, too.
        for (key, by_type) in counts {
            *undeclared.entry(key).or_default() += by_type.values().sum::<u64>();
        }
        Ok(Overview {
            links,
            undeclared: undeclared
                .into_iter()
                .map(|((target, link), n)| (target, link, n))
                .collect(),
        })
    }
}

impl LinkView<'_> {
    fn pending(&self) -> Pending {
        match &self.recorded {
            Some(r) if r.outbound_pending => Pending::Recorded(r.pending_since),
            _ if self.next.outbound_pending => Pending::AfterReEnable,
            _ => Pending::None,
        }
    }

    fn synced_total(&self) -> u64 {
        self.synced.values().sum()
    }

    fn outbound_word(&self) -> &'static str {
        match (self.next.outbound, self.pending() != Pending::None) {
            (true, false) => "enabled",
            (true, true) => "pending",
            (false, false) => "disabled",
            (false, true) => "disabled, pending",
        }
    }

    /// What to say under the table: pending outbound, and declared flags the
    /// store has not recorded yet.
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        // Pending after a re-enable is said with the flag change that causes
        // it, below.
        if let Pending::Recorded(since) = self.pending() {
            let since = since
                .map(|t| format!(" since {}", local_minute(t)))
                .unwrap_or_default();
            notes.push(if self.next.outbound {
                format!(
                    "outbound pending{since} (enabled again after items were synced); \
                     a send snapshot covering the link clears it"
                )
            } else {
                format!(
                    "outbound pending{since}, and disabled in the specs now; once it is \
                     enabled, a send snapshot covering the link clears it"
                )
            });
        }
        for change in self.flag_changes() {
            notes.push(format!(
                "{}: {} → {} in the specs, not yet recorded by an apply: {}",
                change.flag.as_str(),
                flag_word(change.recorded),
                flag_word(change.declared),
                change.next_apply
            ));
        }
        notes
    }

    /// The flags the specs declare that differ from what the state store
    /// last recorded, and what the next apply on the target makes of each
    /// (the rule of [`LinkState::with_declared_flags`], DESIGN 2.4).
    fn flag_changes(&self) -> Vec<FlagChange> {
        let Some(recorded) = &self.recorded else {
            return Vec::new();
        };
        let records = format!(
            "the next apply of a snapshot of target {} records it",
            self.target.name
        );
        let mut changes = Vec::new();
        if recorded.inbound != self.next.inbound {
            changes.push(FlagChange {
                flag: Flag::Inbound,
                recorded: recorded.inbound,
                declared: self.next.inbound,
                next_apply: if self.next.inbound {
                    format!("{records}; get snapshots process the link again at once")
                } else {
                    format!("{records}; get snapshots skip the link from then on")
                },
            });
        }
        if recorded.outbound != self.next.outbound {
            let synced = self.synced_total() > 0;
            let next_apply = match (self.next.outbound, self.pending()) {
                (false, _) if synced => format!(
                    "{records}; send snapshots skip the link from then on, and enabling it \
                     again after that makes outbound pending until a send snapshot covering the \
                     link is applied (enabled again before any apply, nothing is pending: no \
                     send skipped it)"
                ),
                (false, _) => format!("{records}; send snapshots skip the link from then on"),
                (true, Pending::AfterReEnable) => format!(
                    "{records}, and outbound stays pending until a send snapshot covering the \
                     link is applied without failures: items were synced, and changes made in \
                     the CRM while it was off were not sent"
                ),
                (true, Pending::Recorded(_)) => format!(
                    "{records}; outbound stays pending until a send snapshot covering the link \
                     is applied without failures"
                ),
                (true, Pending::None) => {
                    format!("{records}; nothing is pending, since no item of the link was synced")
                }
            };
            changes.push(FlagChange {
                flag: Flag::Outbound,
                recorded: recorded.outbound,
                declared: self.next.outbound,
                next_apply,
            });
        }
        changes
    }

    fn json(&self) -> LinkJson {
        let pending = self.pending();
        let run = |run: &Option<RunSummary>| {
            run.as_ref().map(|r| RunRefJson {
                id: r.id,
                snapshot: r.snapshot.clone(),
                status: r.status,
                started: r.started,
                finished: r.finished,
            })
        };
        LinkJson {
            target: self.target.name.clone(),
            link: self.spec.name.clone(),
            user: self.spec.user.clone(),
            collections: self.spec.collections.clone(),
            inbound: self.next.inbound,
            outbound: self.next.outbound,
            outbound_pending: pending != Pending::None,
            pending_recorded: matches!(pending, Pending::Recorded(_)),
            pending_since: match pending {
                Pending::Recorded(since) => since,
                _ => None,
            },
            flag_changes: self
                .flag_changes()
                .into_iter()
                .map(|c| FlagChangeJson {
                    flag: c.flag,
                    recorded: link_flag(c.recorded),
                    declared: link_flag(c.declared),
                    next_apply: c.next_apply,
                })
                .collect(),
            recorded: self.recorded.as_ref().map(|r| RecordedFlagsJson {
                inbound: r.inbound,
                outbound: r.outbound,
                outbound_pending: r.outbound_pending,
                pending_since: r.pending_since,
            }),
            last_get: run(&self.last_get),
            last_send: run(&self.last_send),
            synced: ByItemType::from_fn(|t| self.synced.get(&t).copied().unwrap_or(0)),
            synced_total: self.synced_total(),
            notes: self.notes(),
        }
    }
}

/// A link's last get or send: the snapshot, the run, and when it finished
/// (or how it stands, if it did not succeed).
fn run_cell(run: Option<&RunSummary>) -> String {
    let Some(run) = run else {
        return "-".to_owned();
    };
    let when = run
        .finished
        .map(|t| format!(" {}", local_minute(t)))
        .unwrap_or_default();
    let status = match run.status {
        RunStatus::Succeeded => String::new(),
        other => format!(" {other}"),
    };
    format!("{} (run {}){when}{status}", run.snapshot, run.id)
}

fn write_links(out: &mut impl Write, overview: &Overview<'_>) -> io::Result<()> {
    if overview.links.is_empty() {
        writeln!(out, "The specs declare no link.")?;
    } else {
        let collection = |v: &LinkView<'_>, t: ItemType| {
            v.spec
                .collections
                .get(&t)
                .cloned()
                .unwrap_or_else(|| "-".to_owned())
        };
        let flag = |on: bool| if on { "enabled" } else { "disabled" };
        let rows: Vec<Vec<String>> = overview
            .links
            .iter()
            .map(|v| {
                vec![
                    v.target.name.clone(),
                    v.spec.name.clone(),
                    v.spec.user.clone(),
                    flag(v.next.inbound).to_owned(),
                    v.outbound_word().to_owned(),
                    v.synced_total().to_string(),
                    run_cell(v.last_get.as_ref()),
                    run_cell(v.last_send.as_ref()),
                    collection(v, ItemType::ScheduleItems),
                    collection(v, ItemType::Tasks),
                    collection(v, ItemType::Contacts),
                ]
            })
            .collect();
        write_table(
            out,
            &[
                ("TARGET", Align::Left),
                ("LINK", Align::Left),
                ("USER", Align::Left),
                ("INBOUND", Align::Left),
                ("OUTBOUND", Align::Left),
                ("SYNCED", Align::Right),
                ("LAST GET", Align::Left),
                ("LAST SEND", Align::Left),
                ("SCHEDULE ITEMS", Align::Left),
                ("TASKS", Align::Left),
                ("CONTACTS", Align::Left),
            ],
            &rows,
        )?;
    }
    let notes: Vec<(String, String)> = overview
        .links
        .iter()
        .flat_map(|v| {
            let name = format!("{}/{}", v.target.name, v.spec.name);
            v.notes().into_iter().map(move |n| (name.clone(), n))
        })
        .chain(overview.undeclared.iter().map(|(target, link, synced)| {
            (
                format!("{target}/{link}"),
                format!(
                    "recorded in the state store ({} synced) but no longer declared \
                     in the specs",
                    plural::count(*synced, "item", "items")
                ),
            )
        }))
        .collect();
    if !notes.is_empty() {
        writeln!(out)?;
    }
    for (name, note) in notes {
        writeln!(out, "{name}: {note}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn view(
        target: &Target,
        recorded: Option<LinkState>,
        outbound: bool,
        synced: u64,
    ) -> LinkView<'_> {
        let spec = &target.links[0];
        let next = match &recorded {
            None => LinkState::first_seen("office", "jdoe", true, outbound),
            Some(r) => {
                r.with_declared_flags(true, outbound, synced > 0, at("2026-05-02T00:00:00Z"))
            }
        };
        LinkView {
            target,
            spec,
            recorded,
            next,
            synced: BTreeMap::from([(ItemType::ScheduleItems, synced)]),
            last_get: None,
            last_send: None,
        }
    }

    fn office() -> Target {
        Target {
            name: "office".into(),
            labels: BTreeMap::new(),
            location: TargetLocation::Vdir {
                path: "vdir".into(),
            },
            concurrency: 1,
            links: vec![LinkSpec {
                name: "jdoe".into(),
                user: "jdoe".into(),
                collections: BTreeMap::new(),
                inbound: LinkFlag::Enabled,
                outbound: LinkFlag::Enabled,
            }],
            origin: snapsync::spec::model::Origin {
                file: "world.yaml".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn pending_is_recorded_or_follows_from_a_re_enable() {
        let target = office();
        let fresh = view(&target, None, true, 0);
        assert_eq!(fresh.pending(), Pending::None);
        assert!(fresh.notes().is_empty());

        let off = LinkState::first_seen("office", "jdoe", true, false);
        let re_enabled = view(&target, Some(off.clone()), true, 3);
        assert_eq!(re_enabled.pending(), Pending::AfterReEnable);
        assert_eq!(re_enabled.outbound_word(), "pending");
        assert_eq!(re_enabled.notes().len(), 1, "{:?}", re_enabled.notes());

        // Nothing synced: nothing a send could have missed.
        let empty = view(&target, Some(off.clone()), true, 0);
        assert_eq!(empty.pending(), Pending::None);
        assert_eq!(
            empty.notes(),
            [
                "outbound: disabled → enabled in the specs, not yet recorded by an apply: the \
                 next apply of a snapshot of target office records it; nothing is pending, since \
                 no item of the link was synced"
            ]
        );

        let since = at("2026-05-01T10:00:00Z");
        let recorded = LinkState {
            outbound: true,
            outbound_pending: true,
            pending_since: Some(since),
            ..off
        };
        let pending = view(&target, Some(recorded.clone()), true, 3);
        assert_eq!(pending.pending(), Pending::Recorded(Some(since)));
        let disabled_again = view(&target, Some(recorded), false, 3);
        assert_eq!(disabled_again.outbound_word(), "disabled, pending");
        assert_eq!(disabled_again.notes().len(), 2);
    }

    #[test]
    fn a_server_location_never_shows_credentials() {
        let mut target = office();
        target.location = TargetLocation::Caldav(snapsync::spec::model::CaldavLocation {
            url: "https://svc:secret@dav.example.com/dav/".into(),
            credentials: None,
            ca_file: None,
            insecure_skip_verify: false,
            connect_timeout: std::time::Duration::from_secs(1),
            request_timeout: std::time::Duration::from_secs(1),
        });
        assert_eq!(location(&target), "https://dav.example.com/dav/");
    }
}
