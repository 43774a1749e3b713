use std::path::Path;

use chrono::TimeZone;

use super::*;
use crate::plan::Action;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn options(seed: u64) -> WorldOptions {
    WorldOptions {
        items_per_user: 100,
        seed,
        now: now(),
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn each_change_behind_snapsyncs_back_is_one_operation_of_the_plan() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("demo");
    let world = build(&dir, &options(7), &mut |_| {}).expect("the world is built");
    assert!(!world.replaced);
    assert_eq!(
        world.users,
        [
            ("jdoe".to_owned(), 100),
            ("asmith".to_owned(), 100),
            ("mlopez".to_owned(), 100)
        ]
    );
    // jdoe and asmith (mlopez's outbound is disabled): every item of theirs.
    assert_eq!(world.first_send, 200);
    assert_eq!(
        world.drift,
        Drift {
            crm_added: 4,
            crm_deleted: 2,
            target_edited: 8,
            target_deleted: 6,
            // asmith only: jdoe is read back by the get snapshot.
            target_added: 2,
        }
    );

    let catalog = catalog(&world.specs, now()).expect("valid specs");
    let snapshot = catalog
        .snapshots
        .iter()
        .find(|s| s.name == MAIN_SNAPSHOT)
        .expect("the main snapshot");
    let crm = CrmStore::open_read_only(&catalog.stores.crm).expect("the CRM store");
    let state = StateStore::open_read_only(&catalog.stores.state).expect("the state store");
    let endpoints = StoreEndpoints::new(crm);
    let plan = plan::compile(&catalog, &[snapshot], &endpoints, &state, now()).expect("a plan");
    assert!(!plan.has_errors());
    let totals = plan.totals();
    assert_eq!(totals.get(Action::Create), world.drift.crm_added);
    assert_eq!(totals.get(Action::Delete), world.drift.crm_deleted);
    assert_eq!(totals.get(Action::Update), world.drift.target_edited);
    assert_eq!(totals.get(Action::Restore), world.drift.target_deleted);
    assert_eq!(totals.get(Action::OrphanKept), world.drift.target_added);
    assert_eq!(
        plan.snapshots[0].notices[0].message,
        "link mlopez skipped: outbound is disabled in target office-vdir"
    );
}

#[test]
fn a_second_build_replaces_the_first_and_gives_the_same_world() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("demo");
    let first = build(&dir, &options(3), &mut |_| {}).expect("the world is built");
    let second = build(&dir, &options(3), &mut |_| {}).expect("the world is rebuilt");
    assert!(second.replaced);
    assert_eq!(first.drift, second.drift);
    assert_eq!(
        entries(&dir),
        [
            ".snapsync-demo",
            "crm.sqlite",
            "snapshots.d",
            "state.sqlite",
            "state.sqlite.locks",
            "vdir"
        ]
    );
    assert!(entries(&dir).iter().all(|n| is_demo_entry(n)));
}

#[test]
fn a_folder_that_is_not_a_demo_folder_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let refused = |dir: &Path| match build(dir, &options(1), &mut |_| {}) {
        Err(DemoError::NotDemoFolder { reason, .. }) => reason,
        other => panic!("{} was not refused: {other:?}", dir.display()),
    };

    let unmarked = tmp.path().join("unmarked");
    fs::create_dir(&unmarked).expect("folder");
    fs::write(unmarked.join("notes.txt"), "mine").expect("write");
    assert_eq!(
        refused(&unmarked),
        "it is not empty and has no .snapsync-demo file"
    );
    assert_eq!(entries(&unmarked), ["notes.txt"]);

    let forged = tmp.path().join("forged");
    fs::create_dir(&forged).expect("folder");
    fs::write(forged.join(MARKER), "something else").expect("write");
    fs::create_dir(forged.join("vdir")).expect("folder");
    assert_eq!(
        refused(&forged),
        "it is not empty and has no .snapsync-demo file"
    );
    assert_eq!(entries(&forged), [".snapsync-demo", "vdir"]);

    let extra = tmp.path().join("extra");
    build(&extra, &options(1), &mut |_| {}).expect("a demo folder");
    fs::write(extra.join("plan.json"), "{}").expect("write");
    fs::create_dir(extra.join("notes")).expect("folder");
    assert_eq!(
        refused(&extra),
        "it holds notes, plan.json, which a demo does not make"
    );
    assert!(extra.join("crm.sqlite").is_file());

    let file = tmp.path().join("file");
    fs::write(&file, "mine").expect("write");
    assert_eq!(refused(&file), "it is not a folder");

    #[cfg(unix)]
    {
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&extra, &link).expect("symlink");
        assert_eq!(refused(&link), "it is a symbolic link");
    }
}

#[test]
fn an_empty_folder_is_used_and_a_link_inside_a_demo_folder_is_removed_not_followed() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("empty");
    fs::create_dir(&dir).expect("folder");
    let world = build(&dir, &options(1), &mut |_| {}).expect("an empty folder is used");
    assert!(!world.replaced);

    #[cfg(unix)]
    {
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).expect("folder");
        fs::write(outside.join("keep.txt"), "mine").expect("write");
        fs::remove_dir_all(dir.join("vdir")).expect("remove");
        std::os::unix::fs::symlink(&outside, dir.join("vdir")).expect("symlink");
        // The link is deleted by the rebuild; the folder it points to is not
        // touched (the rebuild then writes a real vdir folder).
        build(&dir, &options(1), &mut |_| {}).expect("rebuilt");
        assert_eq!(entries(&outside), ["keep.txt"]);
        assert!(
            !fs::symlink_metadata(dir.join("vdir"))
                .expect("vdir")
                .is_symlink()
        );
    }
}

#[test]
fn orphans_and_edits_parse_to_one_item_of_their_type() {
    for item_type in [ItemType::ScheduleItems, ItemType::Tasks] {
        let (uid, text) = orphan(item_type, "asmith", now()).expect("an orphan");
        let parsed = parse_any(&text);
        assert!(parsed.errors.is_empty(), "{text}: {:?}", parsed.errors);
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.items[0].item_type(), item_type);
        assert_eq!(parsed.items[0].uid(), uid);
    }
    assert!(orphan(ItemType::Contacts, "asmith", now()).is_none());

    let tmp = tempfile::tempdir().expect("a temporary folder");
    for generated in generate::items(5, 55, 40, now()) {
        let file = tmp.path().join(format!(
            "{}.{}",
            generated.uid,
            generated.item_type.file_extension()
        ));
        fs::write(&file, &generated.text).expect("write");
        edit(&file, generated.item_type, now()).expect("edited");
        let parsed = parse_any(&fs::read_to_string(&file).expect("read"));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let before = &parse_any(&generated.text).items[0];
        let after = &parsed.items[0];
        assert_ne!(after.content_hash(), before.content_hash());
        assert_eq!(
            after.label().map(str::to_owned),
            before.label().map(|l| format!("{l}{EDIT_SUFFIX}"))
        );
        // Generated edits lie a week or more before the clock; the demo's
        // edit is now.
        assert!(before.modified() <= Some(now() - generate::UNTOUCHED_FOR));
        assert_eq!(after.modified(), Some(now()));
    }
}
