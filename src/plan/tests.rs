//! DESIGN 2.3 and 2.4, row by row, on a real CRM store, a real vdir target
//! and a real state store in a temporary folder.

#![allow(
    clippy::too_many_lines,
    reason = "a test tells one scenario from start to finish"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::endpoint::crm::CrmStore;
use crate::endpoint::vdir::VdirCollection;
use crate::endpoint::{Collection, Href, StoreEndpoints};
use crate::item::{Item, ItemType, parse_any};
use crate::spec::model::Catalog;
use crate::state::{RunStart, StateStore, SyncedItem};
use crate::workspace::{Given, GivenStores, Workspace};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn event(uid: &str, summary: &str, start: &str) -> Item {
    one(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:20261101T000000Z\r\nDTSTART:{start}\r\n\
         SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ))
}

fn task(uid: &str, summary: &str) -> Item {
    one(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nSUMMARY:{summary}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    ))
}

fn one(text: &str) -> Item {
    let parsed = parse_any(text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    parsed.items.into_iter().next().unwrap()
}

/// A world: specs, a CRM store, a vdir target and a state store.
struct World {
    dir: tempfile::TempDir,
}

/// Two links of target `office`: jdoe (calendar and tasks) and asmith
/// (calendar), outbound enabled; the integration tests' world `two-links`.
const TARGET: &str = include_str!("../../tests/fixtures/worlds/two-links/snapshots.d/target.yaml");

impl World {
    fn new() -> World {
        World::with_outbound("enabled")
    }

    /// A world whose CRM store holds the links' users (jdoe and asmith),
    /// with no items yet.
    fn with_outbound(outbound: &str) -> World {
        let world = World::bare(outbound);
        for user in ["jdoe", "asmith"] {
            world.crm().store_items(user, &[]).unwrap();
        }
        world
    }

    /// A world with no CRM store and no state store yet.
    fn bare(outbound: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("specs")).unwrap();
        std::fs::create_dir_all(dir.path().join("vdir")).unwrap();
        let world = World { dir };
        world.spec(
            "target.yaml",
            &TARGET.replace("outbound: enabled", &format!("outbound: {outbound}")),
        );
        world
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn spec(&self, name: &str, text: &str) {
        std::fs::write(self.path("specs").join(name), text).unwrap();
    }

    /// A snapshot spec named `name` with extra `spec:` lines.
    fn snapshot(&self, name: &str, body: &str) {
        self.spec(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: snapsync/v1\nkind: Snapshot\nmetadata: {{ name: {name} }}\nspec:\n  target: office\n{body}"
            ),
        );
    }

    fn catalog(&self) -> Catalog {
        let validation = crate::spec::validate(&[self.path("specs")], now()).unwrap();
        assert!(!validation.has_errors(), "{:?}", validation.diagnostics);
        validation.catalog.unwrap()
    }

    fn crm(&self) -> CrmStore {
        CrmStore::open(&self.path("crm.sqlite")).unwrap()
    }

    fn vdir(&self, collection: &str, item_type: ItemType) -> VdirCollection {
        VdirCollection::open(self.path("vdir").join(collection), item_type, "test".into())
            .with_fsync(false)
    }

    /// Records that `item` was synced on link `link`, as an apply would.
    fn synced(&self, link: &str, item: &Item) {
        self.synced_at(link, item, &format!("{}.ics", item.uid()));
    }

    /// Records that `item` was synced on link `link` to `target_href`.
    fn synced_at(&self, link: &str, item: &Item, target_href: &str) {
        let state = StateStore::open(&self.path("state.sqlite")).unwrap();
        let run = state
            .begin_run(&RunStart {
                snapshot: "earlier".into(),
                direction: crate::spec::types::Direction::Send,
                target: "office".into(),
                actor: "test".into(),
                plan_digest: None,
                started: now(),
            })
            .unwrap();
        state
            .record_synced(&SyncedItem {
                target: "office".into(),
                link: link.into(),
                item_type: item.item_type(),
                uid: item.uid().into(),
                crm_href: Href(item.uid().into()),
                crm_hash: item.content_hash(),
                target_href: Href(target_href.into()),
                target_hash: item.content_hash(),
                target_version: crate::endpoint::Version("1".into()),
                synced_at: now(),
                run_id: run,
            })
            .unwrap();
        state
            .finish_run(run, now(), crate::state::RunEnd::Succeeded)
            .unwrap();
    }

    /// The plan of the snapshots `names`, through the library's front door.
    fn plan(&self, names: &[&str]) -> Plan {
        assert!(!names.is_empty(), "name the snapshots to plan");
        let store = |name: &str| {
            Some(Given {
                path: self.path(name),
                by_env: false,
            })
        };
        let given = GivenStores {
            crm: store("crm.sqlite"),
            state: store("state.sqlite"),
        };
        let loaded = Workspace::load(&[self.path("specs")], given, now()).unwrap();
        let workspace = loaded.workspace.expect("valid specs");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        workspace.compile(&names, None).unwrap()
    }
}

/// The operations of one section, as (action, uid).
fn ops(plan: &Plan, link: &str, item_type: ItemType) -> Vec<(Action, String)> {
    section(plan, link, item_type)
        .operations
        .iter()
        .map(|op| (op.action, op.uid.clone()))
        .collect()
}

fn section<'p>(plan: &'p Plan, link: &str, item_type: ItemType) -> &'p Section {
    plan.snapshots[0]
        .links
        .iter()
        .find(|l| l.link == link)
        .unwrap_or_else(|| panic!("no link {link}"))
        .sections
        .iter()
        .find(|s| s.item_type == item_type)
        .unwrap_or_else(|| panic!("no section {item_type}"))
}

fn op<'p>(plan: &'p Plan, uid: &str) -> &'p Operation {
    plan.snapshots[0]
        .sections()
        .flat_map(|(_, s)| &s.operations)
        .find(|op| op.uid == uid)
        .unwrap_or_else(|| panic!("no operation for {uid}"))
}

const FULL_SEND: &str = "  direction: send\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n";

#[test]
fn present_at_the_source_absent_at_the_destination_never_synced_is_a_create() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let item = event("new", "New", "20261103T100000Z");
    world
        .crm()
        .store_items("jdoe", std::slice::from_ref(&item))
        .unwrap();
    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Create, "new".into())]
    );
    let create = op(&plan, "new");
    assert_eq!(create.reason, "full snapshot; not at the destination");
    assert_eq!(create.summary.as_deref(), Some("New"));
    // Preconditions: the source's hash; no destination (create-only).
    assert_eq!(
        create.source.as_ref().unwrap().hash,
        Some(item.content_hash())
    );
    assert!(create.destination.is_none());
    assert!(plan.has_changes());
}

#[test]
fn absent_at_the_destination_but_synced_before_is_a_restore() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let item = event("gone", "Gone", "20261103T100000Z");
    world
        .crm()
        .store_items("jdoe", std::slice::from_ref(&item))
        .unwrap();
    world.synced("jdoe", &item);
    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Restore, "gone".into())]
    );
    assert!(
        op(&plan, "gone")
            .reason
            .contains("deleted at the destination since the last sync")
    );
}

#[test]
fn different_content_is_an_update_and_same_content_a_keep() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let edited_there = event("a", "At the source", "20261103T100000Z");
    let same = event("b", "Same", "20261104T100000Z");
    world
        .crm()
        .store_items("jdoe", &[edited_there.clone(), same.clone()])
        .unwrap();
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    let written = vdir
        .create(&event("a", "Edited at the destination", "20261103T100000Z"))
        .unwrap();
    vdir.create(&same).unwrap();
    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Update, "a".into()), (Action::Keep, "b".into())]
    );
    let update = op(&plan, "a");
    assert!(
        update.reason.contains("the source wins"),
        "{}",
        update.reason
    );
    // An update carries the destination's version as its precondition.
    assert_eq!(
        update.destination.as_ref().unwrap().version,
        written.version
    );
    assert_eq!(plan.snapshots[0].totals().get(Action::Keep), 1);
}

#[test]
fn absent_at_the_source_synced_before_is_a_delete_else_an_orphan() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    world.snapshot(
        "purge",
        &FULL_SEND.replace("send\n", "send\n  orphans: delete\n"),
    );
    let deleted_at_source = event("del", "Deleted in the CRM", "20261103T100000Z");
    let orphan = event("orphan", "Only there", "20261103T100000Z");
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    vdir.create(&deleted_at_source).unwrap();
    vdir.create(&orphan).unwrap();
    world.synced("jdoe", &deleted_at_source);
    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Delete, "del".into()),
            (Action::OrphanKept, "orphan".into())
        ]
    );
    assert_eq!(
        op(&plan, "del").reason,
        "deleted at the source since the last sync"
    );
    assert_eq!(
        op(&plan, "orphan").reason,
        "only at the destination, never synced: kept (orphans: keep)"
    );
    assert!(op(&plan, "del").destination.is_some() && op(&plan, "del").source.is_none());
    let purge = world.plan(&["purge"]);
    assert_eq!(
        ops(&purge, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Delete, "del".into()),
            (Action::OrphanDeleted, "orphan".into())
        ]
    );
}

#[test]
fn a_get_reads_the_target_as_the_source() {
    let world = World::new();
    world.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n",
    );
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("from-target", "x", "20261103T100000Z"))
        .unwrap();
    world
        .crm()
        .store_items("jdoe", &[event("crm-only", "y", "20261103T100000Z")])
        .unwrap();
    let plan = world.plan(&["g"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "from-target".into()),
            (Action::OrphanKept, "crm-only".into())
        ]
    );
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    assert!(
        s.source.starts_with("test") || s.source.contains("vdir office"),
        "{}",
        s.source
    );
    assert_eq!(s.destination, "CRM user jdoe (scheduleItems)");
}

#[test]
fn a_collection_shared_by_events_and_tasks_gives_each_section_its_own_type() {
    let world = World::new();
    world.spec(
        "target.yaml",
        "apiVersion: snapsync/v1\nkind: Target\nmetadata: { name: office }\nspec:\n  type: vdir\n  path: ../vdir\n  links:\n    - name: jdoe\n      user: jdoe\n      scheduleItems: jdoe/calendar\n      tasks: jdoe/calendar\n",
    );
    world.snapshot(
        "s",
        "  direction: send\n  itemTypes: [scheduleItems, tasks]\n",
    );
    let shared = world.vdir("jdoe/calendar", ItemType::Tasks);
    shared.create(&task("t1", "A task")).unwrap();
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("e1", "An event", "20261103T100000Z"))
        .unwrap();
    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::OrphanKept, "e1".into())]
    );
    assert_eq!(
        ops(&plan, "jdoe", ItemType::Tasks),
        [(Action::OrphanKept, "t1".into())]
    );
}

#[test]
fn a_disabled_link_is_skipped_with_a_notice_by_a_snapshot_of_all_links() {
    let world = World::with_outbound("disabled");
    world.snapshot("all", "  direction: send\n  itemTypes: [scheduleItems]\n");
    let plan = world.plan(&["all"]);
    let snapshot = &plan.snapshots[0];
    assert_eq!(
        snapshot
            .links
            .iter()
            .map(|l| l.link.as_str())
            .collect::<Vec<_>>(),
        ["jdoe"]
    );
    assert_eq!(
        snapshot.notices,
        [Notice::notice(
            "link asmith skipped: outbound is disabled in target office"
        )]
    );
}

#[test]
fn a_link_without_a_collection_for_a_type_skips_it_with_a_notice() {
    let world = World::new();
    world.snapshot("all", "  direction: send\n");
    let plan = world.plan(&["all"]);
    let asmith = plan.snapshots[0]
        .links
        .iter()
        .find(|l| l.link == "asmith")
        .unwrap();
    assert_eq!(asmith.sections.len(), 1);
    assert_eq!(
        asmith.notices,
        [
            Notice::notice("no tasks collection on this link: tasks skipped"),
            Notice::notice("no contacts collection on this link: contacts skipped"),
        ]
    );
}

#[test]
fn outbound_pending_after_a_re_enable_is_shown_and_a_send_clears_it() {
    // Outbound was disabled while items had been synced.
    let world = World::with_outbound("disabled");
    let item = event("e", "x", "20261103T100000Z");
    world.synced("asmith", &item);
    {
        let state = StateStore::open(&world.path("state.sqlite")).unwrap();
        state
            .record_link_flags("office", "asmith", true, false, now())
            .unwrap();
    }
    // Now the target enables it again.
    world.spec("target.yaml", TARGET);
    world.snapshot(
        "send",
        "  direction: send\n  links: [asmith]\n  itemTypes: [scheduleItems]\n",
    );
    world.snapshot(
        "filtered",
        "  direction: send\n  links: [asmith]\n  filters:\n    scheduleItems:\n      dateOption: modified\n      range: { from: 2026-01-01 }\n",
    );
    world.snapshot(
        "get",
        "  direction: get\n  links: [asmith]\n  itemTypes: [scheduleItems]\n",
    );
    let send = world.plan(&["send"]);
    let link = &send.snapshots[0].links[0];
    assert!(link.flags.outbound_pending);
    assert!(link.clears_outbound_pending);
    assert_eq!(link.notices.len(), 1, "{:?}", link.notices);
    assert!(
        link.notices[0]
            .message
            .contains("applying this send snapshot without failures resumes it")
    );
    let filtered = world.plan(&["filtered"]);
    let link = &filtered.snapshots[0].links[0];
    assert_eq!(link.notices.len(), 2);
    assert_eq!(link.notices[1].level, Level::Warning);
    assert!(
        link.notices[1]
            .message
            .contains("changes made outside its filters")
    );
    let get = world.plan(&["get"]);
    let link = &get.snapshots[0].links[0];
    assert!(link.flags.outbound_pending && !link.clears_outbound_pending);
}

#[test]
fn a_missing_vdir_root_is_an_error_not_an_empty_target() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    world
        .crm()
        .store_items("jdoe", &[event("e", "x", "20261103T100000Z")])
        .unwrap();
    world.snapshot("t", "  direction: get\n");
    std::fs::remove_dir(world.path("vdir")).unwrap();
    let plan = world.plan(&["s", "t"]);
    assert!(plan.has_errors());
    // One error for the target, said by its first snapshot; nothing planned
    // for its links, and no error per link and item type.
    let [s, t] = &plan.snapshots[..] else {
        panic!("two snapshots: {plan:?}")
    };
    assert!(s.links.is_empty() && t.links.is_empty());
    assert_eq!(s.notices.len(), 1, "{:?}", s.notices);
    assert_eq!(s.notices[0].level, Level::Error);
    assert!(
        s.notices[0].message.contains("does not exist"),
        "{:?}",
        s.notices
    );
    assert_eq!(
        t.notices,
        [Notice::notice(
            "skipped: target office cannot be used (the error is shown above)"
        )]
    );
}

#[test]
fn unreadable_and_duplicate_items_are_reported_and_the_rest_is_planned() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    world
        .crm()
        .store_items("jdoe", &[event("ok", "fine", "20261103T100000Z")])
        .unwrap();
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("broken.ics"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\n",
    )
    .unwrap();
    let copy = event("dup", "dup", "20261103T100000Z").to_text();
    std::fs::write(folder.join("a.ics"), &copy).unwrap();
    std::fs::write(folder.join("b.ics"), &copy).unwrap();
    let plan = world.plan(&["s"]);
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    assert!(!plan.has_errors());
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "ok".into()),
            (Action::OrphanKept, "dup".into())
        ]
    );
    let messages: Vec<&str> = s.notices.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("broken.ics") && m.contains("left out of this plan"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("UID dup is held by both a.ics and b.ics"))
    );
}

/// Applies the snapshots `names` for real, as `apply --yes` would.
fn apply(world: &World, names: &[&str]) -> crate::apply::Report {
    let catalog = world.catalog();
    let snapshots: Vec<_> = catalog
        .snapshots
        .iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .collect();
    let endpoints =
        StoreEndpoints::new(CrmStore::open(&world.path("crm.sqlite")).unwrap()).with_fsync(false);
    let mut state = StateStore::open(&world.path("state.sqlite")).unwrap();
    let plan = compile(&catalog, &snapshots, &endpoints, &state, now()).unwrap();
    crate::apply::execute(
        &plan,
        &catalog,
        &endpoints,
        &mut state,
        &crate::apply::ApplyOptions::default(),
        &mut |_| {},
    )
    .unwrap()
}

/// The duplicate-UID warnings of a plan.
fn duplicate_warnings(plan: &Plan) -> Vec<String> {
    section(plan, "jdoe", ItemType::ScheduleItems)
        .notices
        .iter()
        .filter_map(|n| n.message.split_once(": UID "))
        .map(|(_, rest)| format!("UID {rest}"))
        .collect()
}

#[test]
fn of_two_destination_files_of_one_uid_the_one_the_state_store_recorded_is_kept() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let folder = world.path("vdir/jdoe/calendar");
    world
        .crm()
        .store_items("jdoe", &[event("ev-1", "Event 1", "20261103T100000Z")])
        .unwrap();
    assert_eq!(apply(&world, &["s"]).applied().get(Action::Create), 1);
    // A copy made by hand, first by name.
    std::fs::copy(folder.join("ev-1.ics"), folder.join("copy of ev-1.ics")).unwrap();
    world
        .crm()
        .store_items(
            "jdoe",
            &[event("ev-1", "Event 1 moved", "20261103T100000Z")],
        )
        .unwrap();

    let plan = world.plan(&["s"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Update, "ev-1".into())]
    );
    let destination = op(&plan, "ev-1").destination.as_ref().unwrap();
    assert_eq!(destination.href, Href("ev-1.ics".into()));
    let kept = "UID ev-1 is held by both ev-1.ics and copy of ev-1.ics; ev-1.ics is kept \
                (where the state store recorded it), copy of ev-1.ics is left out of this plan";
    assert_eq!(duplicate_warnings(&plan), [kept]);

    assert_eq!(apply(&world, &["s"]).applied().get(Action::Update), 1);
    let read = |name: &str| std::fs::read_to_string(folder.join(name)).unwrap();
    assert!(read("ev-1.ics").contains("SUMMARY:Event 1 moved"));
    assert!(read("copy of ev-1.ics").contains("SUMMARY:Event 1\r\n"));
    // Converged: the next plan keeps snapsync's own file, in sync.
    let plan = world.plan(&["s"]);
    assert!(!plan.has_changes());
    assert_eq!(duplicate_warnings(&plan), [kept]);
}

#[test]
fn of_two_unrecorded_files_of_one_uid_the_one_at_the_uid_s_own_name_is_kept() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    let old = event("x", "Old", "20261103T100000Z").to_text();
    std::fs::write(folder.join("a.ics"), &old).unwrap();
    std::fs::write(folder.join("x.ics"), &old).unwrap();
    std::fs::write(
        folder.join("b.ics"),
        event("y", "Y", "20261103T100000Z").to_text(),
    )
    .unwrap();
    std::fs::write(
        folder.join("c.ics"),
        event("y", "Y", "20261103T100000Z").to_text(),
    )
    .unwrap();
    world
        .crm()
        .store_items(
            "jdoe",
            &[
                event("x", "New", "20261103T100000Z"),
                event("y", "Y2", "20261103T100000Z"),
            ],
        )
        .unwrap();
    let plan = world.plan(&["s"]);
    let href = |uid: &str| op(&plan, uid).destination.as_ref().unwrap().href.0.clone();
    assert_eq!(href("x"), "x.ics");
    // Neither recorded nor at its own name: the first by name.
    assert_eq!(href("y"), "b.ics");
    assert_eq!(
        duplicate_warnings(&plan),
        [
            "UID x is held by both x.ics and a.ics; x.ics is kept \
             (the name snapsync gives this UID), a.ics is left out of this plan",
            "UID y is held by both b.ics and c.ics; b.ics is kept \
             (the first by name), c.ics is left out of this plan",
        ]
    );
}

#[test]
fn a_synced_item_unreadable_at_the_source_keeps_its_copy_at_the_destination() {
    let world = World::new();
    world.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n",
    );
    let broken = event("broken", "Broken by hand", "20261103T100000Z");
    let gone = event("gone", "Deleted at the target", "20261103T100000Z");
    world
        .crm()
        .store_items("jdoe", &[broken.clone(), gone.clone()])
        .unwrap();
    world.synced("jdoe", &broken);
    world.synced("jdoe", &gone);
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("broken.ics"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:broken\r\n",
    )
    .unwrap();
    let plan = world.plan(&["g"]);
    // The item deleted at the target is deleted in the CRM; the one that
    // cannot be read is not taken for deleted.
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Delete, "gone".into())]
    );
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    let messages: Vec<&str> = s.notices.iter().map(|n| n.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("broken.ics")
            && m.contains("UID broken")
            && m.contains("its copy at the destination is left as it is")),
        "{messages:?}"
    );
}

#[test]
fn an_empty_source_that_had_synced_items_is_flagged() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let item = event("e", "x", "20261103T100000Z");
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&item)
        .unwrap();
    world.synced("jdoe", &item);
    let plan = world.plan(&["s"]);
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Delete, "e".into())]
    );
    assert_eq!(s.notices[0].level, Level::Warning);
    assert!(
        s.notices[0]
            .message
            .contains("the source lists no scheduleItems but 1 were synced before")
    );
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn planning_writes_nothing_anywhere() {
    let world = World::new();
    world.snapshot(
        "s",
        &FULL_SEND.replace("send\n", "send\n  orphans: delete\n"),
    );
    world
        .crm()
        .store_items("jdoe", &[event("a", "x", "20261103T100000Z")])
        .unwrap();
    let item = event("b", "y", "20261103T100000Z");
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&item)
        .unwrap();
    world.synced("jdoe", &item);
    // Let SQLite fold its write-ahead logs into the files first, as a
    // finished process does.
    let before = files(world.dir.path());
    let plan = world.plan(&["s"]);
    assert!(plan.has_changes());
    let mut after = files(world.dir.path());
    // A reader of a WAL-mode database needs SQLite's shared-memory index
    // beside it, and leaves an empty log: neither holds any data.
    after.retain(|path, bytes| {
        let name = path.to_string_lossy();
        !(name.ends_with("-shm") || name.ends_with("-wal") && bytes.is_empty())
    });
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert!(before == after, "a file changed while planning");

    // Stores that do not exist are not created by a plan.
    let fresh = World::bare("enabled");
    fresh.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n",
    );
    let plan = fresh.plan(&["g"]);
    assert!(!plan.has_errors());
    assert!(!fresh.path("crm.sqlite").exists());
    assert!(!fresh.path("state.sqlite").exists());
}

#[test]
fn the_text_form_lists_changes_and_counts_the_rest() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let same = event("same", "Same", "20261104T100000Z");
    world
        .crm()
        .store_items(
            "jdoe",
            &[event("new", "Kickoff", "20261103T100000Z"), same.clone()],
        )
        .unwrap();
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&same)
        .unwrap();
    let plan = world.plan(&["s"]);
    let mut out = Vec::new();
    render::text(&plan, &mut out, render::TextOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let text = text.replace(&world.path("specs").display().to_string(), "SPECS");
    assert!(
        text.starts_with("Snapshot s: send CRM → office, full  [SPECS/s.yaml:2]\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "      + create         Kickoff  new  full snapshot; not at the destination\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("      1 unchanged (--show-unchanged lists them)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("Plan: 1 to create, 0 to update, 0 to delete; 1 unchanged.\n"),
        "{text}"
    );

    let mut out = Vec::new();
    render::markdown(&plan, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(
        md.contains("| s | send | office | 1 | 0 | 0 | 0 | 0 | 1 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("| create | Kickoff | `new` | full snapshot; not at the destination |"),
        "{md}"
    );

    let mut out = Vec::new();
    render::json(&plan, &mut out).unwrap();
    let back: Plan = serde_json::from_slice(&out).unwrap();
    assert_eq!(back, plan);
}

const FILTERED_SEND: &str = "  direction: send\n  links: [jdoe]\n  timezone: Europe/Berlin\n  filters:\n    scheduleItems:\n      dateOption: start\n      range: { from: 2026-11-01, to: 2026-11-30 }\n";

#[test]
fn an_item_the_filter_does_not_match_is_not_touched_even_when_it_differs() {
    let world = World::new();
    world.snapshot("f", FILTERED_SEND);
    let inside = event("in", "Inside", "20261103T100000Z");
    let outside = event("out", "Outside", "20261203T100000Z");
    world.crm().store_items("jdoe", &[inside, outside]).unwrap();
    // The destination has another version of the item outside the range.
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("out", "Edited there", "20261203T100000Z"))
        .unwrap();
    let plan = world.plan(&["f"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "in".into()),
            (Action::NotMatched, "out".into())
        ]
    );
    assert_eq!(
        op(&plan, "in").reason,
        "start 2026-11-03 11:00 in range; not at the destination"
    );
    assert_eq!(op(&plan, "in").dates[0].name, "start");
    assert!(
        op(&plan, "out").reason.ends_with("; not touched"),
        "{}",
        op(&plan, "out").reason
    );
    assert!(plan.snapshots[0].filtered);
    assert_eq!(plan.snapshots[0].filters.len(), 1);
    assert!(
        plan.snapshots[0].filters[0]
            .description
            .starts_with("start in 2026-11-01 00:00")
    );
}

#[test]
fn a_delete_is_judged_in_scope_on_the_destination_item() {
    let world = World::new();
    world.snapshot("f", FILTERED_SEND);
    let in_range = event("gone-in", "x", "20261110T100000Z");
    let out_of_range = event("gone-out", "y", "20260110T100000Z");
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    vdir.create(&in_range).unwrap();
    vdir.create(&out_of_range).unwrap();
    world.synced("jdoe", &in_range);
    world.synced("jdoe", &out_of_range);
    let plan = world.plan(&["f"]);
    // Only the one in scope at the destination is deleted; the other is not touched.
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Delete, "gone-in".into())]
    );
    assert!(
        op(&plan, "gone-in")
            .reason
            .starts_with("start 2026-11-10 11:00 in range; deleted at the source")
    );
}

/// Counts the items fetched from target collections.
struct Counting {
    inner: StoreEndpoints,
    fetched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct CountingCollection {
    inner: Box<dyn Collection>,
    fetched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Collection for CountingCollection {
    fn item_type(&self) -> ItemType {
        self.inner.item_type()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self) -> Result<Vec<crate::endpoint::Listing>, crate::endpoint::EndpointError> {
        self.inner.list()
    }
    fn fetch(
        &self,
        hrefs: &[Href],
    ) -> Result<Vec<crate::endpoint::FetchResult>, crate::endpoint::EndpointError> {
        self.fetched
            .fetch_add(hrefs.len(), std::sync::atomic::Ordering::SeqCst);
        self.inner.fetch(hrefs)
    }
    fn create(
        &self,
        item: &Item,
    ) -> Result<crate::endpoint::Written, crate::endpoint::EndpointError> {
        self.inner.create(item)
    }
    fn update(
        &self,
        href: &Href,
        version: &crate::endpoint::Version,
        item: &Item,
    ) -> Result<crate::endpoint::Written, crate::endpoint::EndpointError> {
        self.inner.update(href, version, item)
    }
    fn delete(
        &self,
        href: &Href,
        version: &crate::endpoint::Version,
    ) -> Result<(), crate::endpoint::EndpointError> {
        self.inner.delete(href, version)
    }
}

impl crate::endpoint::Endpoints for Counting {
    fn crm(&self, user: &str, item_type: ItemType) -> Box<dyn Collection> {
        self.inner.crm(user, item_type)
    }
    fn crm_users(&self) -> Result<Vec<String>, crate::endpoint::EndpointError> {
        self.inner.crm_users()
    }
    fn target(
        &self,
        target: &crate::spec::model::Target,
        link: &crate::spec::model::LinkSpec,
        item_type: ItemType,
    ) -> Result<Box<dyn Collection>, crate::endpoint::EndpointError> {
        Ok(Box::new(CountingCollection {
            inner: self.inner.target(target, link, item_type)?,
            fetched: self.fetched.clone(),
        }))
    }
}

#[test]
fn files_unchanged_since_the_last_sync_are_not_read_again() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    let items: Vec<Item> = (0..5)
        .map(|i| event(&format!("e{i}"), &format!("Event {i}"), "20261103T100000Z"))
        .collect();
    world.crm().store_items("jdoe", &items).unwrap();
    let catalog = world.catalog();
    let snapshots: Vec<_> = catalog.snapshots.iter().collect();
    let counting = || Counting {
        inner: StoreEndpoints::new(CrmStore::open(&world.path("crm.sqlite")).unwrap())
            .with_fsync(false),
        fetched: std::sync::Arc::default(),
    };
    // Apply once, for real: the state store records every item.
    let endpoints = counting();
    let mut state = StateStore::open(&world.path("state.sqlite")).unwrap();
    let plan = compile(&catalog, &snapshots, &endpoints, &state, now()).unwrap();
    let report = crate::apply::execute(
        &plan,
        &catalog,
        &endpoints,
        &mut state,
        &crate::apply::ApplyOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.applied().get(Action::Create), 5);
    drop(state);

    // Plan again: nothing to do, and no target file is read.
    let endpoints = counting();
    let state = StateStore::open_read_only(&world.path("state.sqlite")).unwrap();
    let plan = compile(&catalog, &snapshots, &endpoints, &state, now()).unwrap();
    assert!(!plan.has_changes());
    assert_eq!(
        endpoints.fetched.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // Every keep is recorded already: an apply has nothing to record.
    assert!(
        plan.snapshots[0]
            .sections()
            .flat_map(|(_, s)| &s.operations)
            .all(|op| op.in_sync)
    );
    assert_eq!(op(&plan, "e1").summary.as_deref(), Some("Event 1"));

    // A file edited at the target is read again, and only that one.
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    let listing = vdir.list().unwrap();
    let first = &listing[0];
    vdir.update(
        &first.href,
        &first.version,
        &event("e0", "Edited there", "20261103T100000Z"),
    )
    .unwrap();
    let endpoints = counting();
    let plan = compile(&catalog, &snapshots, &endpoints, &state, now()).unwrap();
    assert_eq!(
        endpoints.fetched.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems)[0],
        (Action::Update, "e0".into())
    );
}

#[test]
fn an_rrule_without_frequency_is_reported_with_the_item_and_read_as_one_start() {
    let world = World::new();
    world.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  filters:\n    scheduleItems:\n      \
         dateOption: start\n      range: { from: 2027-01-01 }\n",
    );
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    let series = |uid: &str, rule: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
             DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nRRULE:{rule}\r\n\
             SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    std::fs::write(folder.join("empty.ics"), series("empty", "")).unwrap();
    std::fs::write(folder.join("weekly.ics"), series("weekly", "FREQ=WEEKLY")).unwrap();
    let plan = world.plan(&["g"]);
    // The series without end reaches into 2027; the event whose rule has no
    // FREQ is its own start only (January 2026): not in scope.
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "weekly".into()),
            (Action::NotMatched, "empty".into())
        ]
    );
    assert_eq!(
        op(&plan, "empty").reason.as_ref(),
        "start 2026-01-05 09:00 before range; not touched"
    );
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    let messages: Vec<&str> = s.notices.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "vdir office: jdoe/calendar: empty.ics (UID empty): RRULE \"\" has no valid FREQ: \
             the event is read as not recurring"
        ]
    );
    assert_eq!(s.notices[0].level, Level::Warning);
}

const PURGE_SEND: &str =
    "  direction: send\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n  orphans: delete\n";

#[test]
fn a_send_for_a_crm_user_that_does_not_exist_is_an_error_for_its_link() {
    let world = World::new();
    // A typo in the link's user: the CRM store holds jdoe, not jdoee.
    world.spec(
        "target.yaml",
        &TARGET.replace("user: jdoe\n", "user: jdoee\n"),
    );
    world.snapshot(
        "all",
        "  direction: send\n  itemTypes: [scheduleItems]\n  orphans: delete\n",
    );
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    vdir.create(&event("a", "x", "20261103T100000Z")).unwrap();
    vdir.create(&event("b", "y", "20261103T100000Z")).unwrap();
    let plan = world.plan(&["all"]);
    assert!(plan.has_errors());
    let jdoe = &plan.snapshots[0].links[0];
    assert_eq!(jdoe.link, "jdoe");
    // Nothing is planned for the link: no delete of every item.
    assert!(jdoe.sections.is_empty());
    assert_eq!(jdoe.notices.len(), 1, "{:?}", jdoe.notices);
    assert_eq!(jdoe.notices[0].level, Level::Error);
    let message = &jdoe.notices[0].message;
    assert!(
        message.starts_with(
            "CRM user `jdoee` does not exist in the CRM store (did you mean `jdoe`?): a send \
             would read an empty source"
        ),
        "{message}"
    );
    assert!(message.contains("fix `user:` of link jdoe in target office"));
    // The other link is planned as usual.
    let asmith = &plan.snapshots[0].links[1];
    assert!(asmith.notices.is_empty(), "{:?}", asmith.notices);
    assert_eq!(asmith.sections.len(), 1);
}

#[test]
fn a_get_for_a_user_new_in_the_crm_says_so() {
    let world = World::bare("enabled");
    world.crm().store_items("asmith", &[]).unwrap();
    world.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n",
    );
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("a", "x", "20261103T100000Z"))
        .unwrap();
    let plan = world.plan(&["g"]);
    assert!(!plan.has_errors());
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [(Action::Create, "a".into())]
    );
    assert_eq!(
        plan.snapshots[0].links[0].notices,
        [Notice::notice(
            "CRM user `jdoe` is new in the CRM store: this get creates it"
        )]
    );
}

#[test]
fn deleting_every_item_of_a_destination_is_flagged_and_refused() {
    let world = World::new();
    world.snapshot("purge", PURGE_SEND);
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    let synced = event("synced", "x", "20261103T100000Z");
    vdir.create(&synced).unwrap();
    vdir.create(&event("orphan", "y", "20261103T100000Z"))
        .unwrap();
    world.synced("jdoe", &synced);
    // The CRM user exists but holds no items now; one item was synced.
    world
        .crm()
        .store_items("jdoe", &[event("keep", "z", "20261103T100000Z")])
        .unwrap();
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("keep", "z", "20261103T100000Z"))
        .unwrap();
    let refused = |plan: &Plan, allow: bool| {
        crate::apply::check_safety(
            plan,
            &crate::apply::ApplyOptions {
                allow_empty_source: allow,
                ..crate::apply::ApplyOptions::default()
            },
        )
    };
    // One item stays: a delete and an orphan deleted are not "everything".
    let plan = world.plan(&["purge"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Delete, "synced".into()),
            (Action::OrphanDeleted, "orphan".into()),
            (Action::Keep, "keep".into())
        ]
    );
    assert!(
        section(&plan, "jdoe", ItemType::ScheduleItems)
            .notices
            .is_empty()
    );
    assert_eq!(refused(&plan, false), Ok(()));

    // The last item goes at the source: the plan deletes all three.
    world
        .crm()
        .collection("jdoe", ItemType::ScheduleItems)
        .delete(
            &Href("keep".into()),
            &world
                .crm()
                .collection("jdoe", ItemType::ScheduleItems)
                .list()
                .unwrap()[0]
                .version,
        )
        .unwrap();
    world.synced("jdoe", &event("keep", "z", "20261103T100000Z"));
    let plan = world.plan(&["purge"]);
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    assert_eq!(s.totals.deletes(), 3);
    // (The source lists nothing and had synced items: that warning says it.)
    assert!(
        s.notices[0]
            .message
            .contains("the source lists no scheduleItems")
    );
    assert!(matches!(
        refused(&plan, false),
        Err(crate::apply::Refusal::EmptySource { .. })
    ));

    // A never-synced destination emptied by `orphans: delete` alone.
    let world = World::new();
    world.snapshot("purge", PURGE_SEND);
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    vdir.create(&event("o1", "x", "20261103T100000Z")).unwrap();
    vdir.create(&event("o2", "y", "20261103T100000Z")).unwrap();
    let plan = world.plan(&["purge"]);
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    assert_eq!(s.totals.get(Action::OrphanDeleted), 2);
    assert_eq!(s.notices.len(), 1, "{:?}", s.notices);
    assert_eq!(s.notices[0].level, Level::Warning);
    assert!(
        s.notices[0]
            .message
            .starts_with("this would delete every item of vdir office: jdoe/calendar (2)"),
        "{}",
        s.notices[0].message
    );
    let refusal = refused(&plan, false).unwrap_err();
    assert_eq!(
        refusal,
        crate::apply::Refusal::DeletesEverything {
            snapshot: "purge".into(),
            link: "jdoe".into(),
            item_type: ItemType::ScheduleItems,
            deletes: 2,
            collection: "vdir office: jdoe/calendar".into(),
        }
    );
    assert!(
        refusal
            .to_string()
            .contains("apply again with --allow-empty-source"),
        "{refusal}"
    );
    assert_eq!(refused(&plan, true), Ok(()));
}

const BROKEN: &str = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\n";

#[test]
fn an_unreadable_destination_item_whose_uid_is_known_is_replaced_at_its_version() {
    let world = World::new();
    world.snapshot("s", FULL_SEND);
    world.snapshot("f", FILTERED_SEND);
    let named = event("named", "At its own name", "20261103T100000Z");
    let recorded = event("recorded", "At another name", "20261103T100000Z");
    let outside = event("outside", "Outside the filter", "20260103T100000Z");
    world
        .crm()
        .store_items("jdoe", &[named.clone(), recorded.clone(), outside.clone()])
        .unwrap();
    // `named` was never synced, but sits at the name its UID gives;
    // `recorded` sits elsewhere, as the state store records.
    world.synced_at("jdoe", &recorded, "other-name.ics");
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["named.ics", "other-name.ics", "outside.ics", "stray.ics"] {
        std::fs::write(folder.join(name), BROKEN).unwrap();
    }
    let listing: HashMap<Href, crate::endpoint::Version> = world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .list()
        .unwrap()
        .into_iter()
        .map(|l| (l.href, l.version))
        .collect();
    let plan = world.plan(&["s"]);
    assert!(!plan.has_errors());
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Update, "named".into()),
            (Action::Update, "outside".into()),
            (Action::Update, "recorded".into())
        ]
    );
    for (uid, href) in [("named", "named.ics"), ("recorded", "other-name.ics")] {
        let update = op(&plan, uid);
        assert_eq!(
            update.reason,
            "full snapshot; unreadable at the destination: replaced"
        );
        let destination = update.destination.as_ref().unwrap();
        assert_eq!(destination.href, Href(href.into()));
        assert_eq!(destination.version, listing[&Href(href.into())]);
        // The unreadable item's content is unknown.
        assert_eq!(destination.hash, None);
    }
    let messages: Vec<&str> = section(&plan, "jdoe", ItemType::ScheduleItems)
        .notices
        .iter()
        .map(|n| n.message.as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("other-name.ics holds UID recorded (by the state store's record): the source's copy replaces it")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("stray.ics") && m.ends_with("the item is left out of this plan")),
        "{messages:?}"
    );

    // A filtered snapshot replaces only what it matches.
    let plan = world.plan(&["f"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Update, "named".into()),
            (Action::Update, "recorded".into()),
            (Action::NotMatched, "outside".into())
        ]
    );
    assert!(
        op(&plan, "named")
            .reason
            .ends_with("in range; unreadable at the destination: replaced"),
        "{}",
        op(&plan, "named").reason
    );
    assert!(op(&plan, "outside").destination.is_none());
}

#[test]
fn an_unreadable_source_item_suspends_orphan_deletion_at_the_destination() {
    let world = World::new();
    world.snapshot(
        "g",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n  orphans: delete\n",
    );
    // The target's copy of `counterpart` cannot be read, and was never
    // synced: its UID is unknown, and the CRM's copy looks like an orphan.
    world
        .crm()
        .store_items(
            "jdoe",
            &[
                event("counterpart", "x", "20261103T100000Z"),
                event("orphan", "y", "20261103T100000Z"),
            ],
        )
        .unwrap();
    let folder = world.path("vdir/jdoe/calendar");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("counterpart.ics"), BROKEN).unwrap();
    world
        .vdir("jdoe/calendar", ItemType::ScheduleItems)
        .create(&event("fine", "z", "20261103T100000Z"))
        .unwrap();
    let plan = world.plan(&["g"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "fine".into()),
            (Action::OrphanKept, "counterpart".into()),
            (Action::OrphanKept, "orphan".into())
        ]
    );
    assert_eq!(
        op(&plan, "orphan").reason,
        "only at the destination, never synced: kept (orphans: delete is suspended while 1 item \
         at the source cannot be read)"
    );
    let s = section(&plan, "jdoe", ItemType::ScheduleItems);
    let messages: Vec<&str> = s.notices.iter().map(|n| n.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.starts_with(
            "1 item at the source cannot be read: orphan deletion in CRM user jdoe (scheduleItems) \
             is suspended, and its orphans are kept until every source item is readable"
        )),
        "{messages:?}"
    );

    // Readable again: the orphans policy applies.
    std::fs::remove_file(folder.join("counterpart.ics")).unwrap();
    let plan = world.plan(&["g"]);
    assert_eq!(
        ops(&plan, "jdoe", ItemType::ScheduleItems),
        [
            (Action::Create, "fine".into()),
            (Action::OrphanDeleted, "counterpart".into()),
            (Action::OrphanDeleted, "orphan".into())
        ]
    );
}

#[test]
fn two_snapshots_writing_one_collection_get_a_warning_naming_both() {
    let world = World::new();
    world.snapshot("a", FULL_SEND);
    world.snapshot("b", FILTERED_SEND);
    world.snapshot(
        "g1",
        "  direction: get\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n",
    );
    world.snapshot(
        "other",
        "  direction: send\n  links: [asmith]\n  itemTypes: [scheduleItems]\n",
    );
    let warnings = |plan: &Plan| -> Vec<(String, String)> {
        plan.snapshots
            .iter()
            .flat_map(|s| {
                s.notices
                    .iter()
                    .map(move |n| (s.snapshot.clone(), n.message.clone()))
            })
            .collect()
    };
    // Neither writes: nothing can go stale or be undone, and nothing is said.
    assert_eq!(warnings(&world.plan(&["a", "b", "g1", "other"])), []);
    world
        .crm()
        .store_items("jdoe", &[event("n1", "Kickoff", "20261103T100000Z")])
        .unwrap();
    let plan = world.plan(&["a", "b", "g1", "other"]);
    let notices = warnings(&plan);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, "b");
    assert!(
        notices[0]
            .1
            .starts_with("snapshots a and b both write vdir office: jdoe/calendar"),
        "{notices:?}"
    );
    assert_eq!(plan.snapshots[1].notices[0].level, Level::Warning);
}

#[test]
fn a_plan_past_the_specs_max_deletes_says_the_apply_will_refuse() {
    let world = World::new();
    world.snapshot(
        "purge",
        "  direction: send\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n  orphans: delete\n  \
         maxDeletes: 1\n",
    );
    world
        .crm()
        .store_items("jdoe", &[event("keep", "z", "20261103T100000Z")])
        .unwrap();
    let vdir = world.vdir("jdoe/calendar", ItemType::ScheduleItems);
    vdir.create(&event("keep", "z", "20261103T100000Z"))
        .unwrap();
    vdir.create(&event("o1", "x", "20261103T100000Z")).unwrap();
    vdir.create(&event("o2", "y", "20261103T100000Z")).unwrap();
    let plan = world.plan(&["purge"]);
    assert_eq!(
        plan.snapshots[0].notices,
        [Notice::warning(
            "this snapshot would delete 2 items, more than its spec.maxDeletes (1): an apply \
             refuses it; check the deletes, then raise the limit if they are intended"
        )]
    );
    // At the limit, nothing is said.
    world.snapshot(
        "purge",
        "  direction: send\n  links: [jdoe]\n  itemTypes: [scheduleItems]\n  orphans: delete\n  \
         maxDeletes: 2\n",
    );
    assert_eq!(world.plan(&["purge"]).snapshots[0].notices, []);
}

#[test]
fn every_action_says_what_it_writes_in_the_journal_s_words() {
    use crate::state::Action as Journal;
    let expected = [
        (Action::Create, Some(Journal::Create), false),
        (Action::Restore, Some(Journal::Restore), false),
        (Action::Update, Some(Journal::Update), false),
        (Action::Delete, Some(Journal::Delete), true),
        (Action::OrphanDeleted, Some(Journal::Delete), true),
        (Action::OrphanKept, None, false),
        (Action::Keep, None, false),
        (Action::NotMatched, None, false),
    ];
    assert_eq!(
        expected.map(|(action, _, _)| action),
        Action::ALL,
        "one row per action"
    );
    for (action, effect, deletes) in expected {
        assert_eq!(action.effect(), effect, "{action}");
        assert_eq!(action.writes(), effect.is_some(), "{action}");
        assert_eq!(action.deletes(), deletes, "{action}");
    }
}
