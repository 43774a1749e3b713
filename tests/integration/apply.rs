//! `snapsync apply` through the real binary: convergence (apply, then plan
//! nothing), the safety valves, stale saved plans, refused writes, and
//! crashes at random points.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::{Run, Snapsync, refuse_writes, text, two_users};
use snapsync::endpoint::Collection;
use snapsync::endpoint::crm::CrmStore;
use snapsync::item::ItemType;

const NOW: &str = "2026-11-25T12:00:00Z";

fn ok(dir: &Path, args: &[&str]) -> Run {
    Snapsync::new(dir).args(args).run().success()
}

fn apply(dir: &Path, snapshot: &str) -> Run {
    Snapsync::new(dir)
        .args(["apply", "--yes", "--now", NOW, "-s", snapshot])
        .run()
}

/// `plan --detailed-exitcode` of one snapshot: 0 when nothing would change.
fn plan_code(dir: &Path, snapshot: &str) -> (Option<i32>, String) {
    let out = Snapsync::new(dir)
        .args(["plan", "--now", NOW, "--detailed-exitcode", "-s", snapshot])
        .run();
    (out.status.code(), out.stdout())
}

/// The UIDs of the item files in a vdir collection (hidden files are not items).
fn vdir_uids(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut uids = Vec::new();
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.') {
            continue;
        }
        let parsed = snapsync::item::parse_any(&std::fs::read_to_string(&path).expect("read"));
        assert!(
            parsed.errors.is_empty(),
            "{}: {:?}",
            path.display(),
            parsed.errors
        );
        uids.extend(parsed.items.iter().map(|i| i.uid().to_owned()));
    }
    uids.sort();
    uids
}

fn crm_uids(dir: &Path, user: &str, item_type: ItemType) -> Vec<String> {
    let store = CrmStore::open_read_only(&dir.join("data/crm.sqlite")).expect("crm");
    let mut uids: Vec<String> = store
        .collection(user, item_type)
        .list()
        .expect("list")
        .into_iter()
        .map(|l| l.href.0)
        .collect();
    uids.sort();
    uids
}

#[test]
fn after_an_apply_the_same_spec_plans_nothing_full_and_filtered_send_and_get() {
    let dir = two_users(300, 200);
    let root = dir.path();
    // Filtered, link-level send first: it sends only what it matches.
    apply(root, "send-jdoe-november").success();
    assert_eq!(plan_code(root, "send-jdoe-november").0, Some(0));
    assert_eq!(
        plan_code(root, "send-all").0,
        Some(2),
        "the rest is still to send"
    );
    // Full, target-level send.
    apply(root, "send-all").success();
    assert_eq!(
        plan_code(root, "send-all"),
        (Some(0), plan_code(root, "send-all").1)
    );
    for t in ItemType::ALL {
        assert_eq!(
            vdir_uids(&root.join("vdir/jdoe").join(t.as_str())),
            crm_uids(root, "jdoe", t),
            "{t}"
        );
    }
    // Full get of a link into an empty CRM user, then a send of the same link
    // plans no write (a get followed by a send).
    apply(root, "get-asmith").success();
    assert_eq!(plan_code(root, "get-asmith").0, Some(0));
    assert_eq!(plan_code(root, "send-asmith").0, Some(0));
    assert_eq!(plan_code(root, "get-asmith-recent").0, Some(0));
    for t in ItemType::ALL {
        assert_eq!(
            crm_uids(root, "asmith", t),
            vdir_uids(&root.join("vdir/asmith").join(t.as_str())),
            "{t}"
        );
    }
}

#[test]
fn without_a_terminal_and_without_yes_apply_refuses_and_writes_nothing() {
    let dir = two_users(20, 0);
    // Not even a `y` piped in confirms: only a person at a terminal does.
    for input in ["", "y\n"] {
        let out = Snapsync::new(dir.path())
            .args(["apply", "-s", "send-all"])
            .stdin(input)
            .run()
            .code(1);
        assert!(
            out.stderr()
                .contains("error: not on a terminal, so there is no one to confirm: pass --yes"),
            "{}",
            out.stderr()
        );
    }
    assert!(vdir_uids(&dir.path().join("vdir/jdoe/scheduleItems")).is_empty());
    assert!(!dir.path().join("data/state.sqlite").exists());
}

/// Deletes `n` of jdoe's items of a type from the CRM store.
fn delete_in_crm(dir: &Path, item_type: ItemType, n: usize) {
    let store = CrmStore::open(&dir.join("data/crm.sqlite")).expect("crm");
    let collection = store.collection("jdoe", item_type);
    for entry in collection.list().expect("list").into_iter().take(n) {
        collection
            .delete(&entry.href, &entry.version)
            .expect("delete");
    }
}

#[test]
fn max_deletes_stops_the_apply_before_any_write() {
    let dir = two_users(100, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    delete_in_crm(root, ItemType::Contacts, 3);
    let before = vdir_uids(&root.join("vdir/jdoe/contacts"));
    let out = Snapsync::new(root)
        .args(["apply", "--yes", "--max-deletes", "2", "-s", "send-all"])
        .run()
        .code(1);
    assert!(
        out.stderr().contains(
            "error: refused: snapshot send-all would delete 3 items, more than 2 (--max-deletes); \
             check the plan, then raise the limit"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(vdir_uids(&root.join("vdir/jdoe/contacts")), before);
    Snapsync::new(root)
        .args(["apply", "--yes", "--max-deletes", "3", "-s", "send-all"])
        .run()
        .success();
    assert_eq!(
        before.len() - 3,
        vdir_uids(&root.join("vdir/jdoe/contacts")).len()
    );
}

#[test]
fn a_source_that_lists_nothing_after_a_sync_is_refused() {
    let dir = two_users(100, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    delete_in_crm(root, ItemType::Contacts, usize::MAX);
    let out = apply(root, "send-all").code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains("refused: snapshot send-all, link jdoe: the source lists no contacts, but 15 were synced before"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apply again with --allow-empty-source"),
        "{stderr}"
    );
    assert_eq!(vdir_uids(&root.join("vdir/jdoe/contacts")).len(), 15);
    Snapsync::new(root)
        .args(["apply", "--yes", "--allow-empty-source", "-s", "send-all"])
        .run()
        .success();
    assert!(vdir_uids(&root.join("vdir/jdoe/contacts")).is_empty());
    // Both sides empty now: nothing to guard, no alarm.
    apply(root, "send-all").success();
}

#[test]
fn a_saved_plan_whose_destination_changed_gives_stale_operations_not_overwrites() {
    let dir = two_users(40, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    // Edit three items in the CRM so the plan updates them.
    let store = CrmStore::open(&root.join("data/crm.sqlite")).expect("crm");
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let listing = events.list().expect("list");
    let edited: Vec<_> = listing.iter().take(3).collect();
    for entry in &edited {
        let fetched = events
            .fetch(std::slice::from_ref(&entry.href))
            .expect("fetch");
        let text = fetched[0].as_ref().expect("item").item.to_text();
        let changed = text.replacen("SUMMARY:", "SUMMARY:Changed ", 1);
        let item = snapsync::item::parse_any(&changed).items.remove(0);
        events
            .update(&entry.href, &entry.version, &item)
            .expect("update");
    }
    drop(events);
    drop(store);
    ok(
        root,
        &["plan", "--now", NOW, "-s", "send-all", "--out", "plan.json"],
    );
    // Meanwhile someone edits one of those items at the destination.
    let victim = root
        .join("vdir/jdoe/scheduleItems")
        .join(format!("{}.ics", edited[0].href.0));
    let theirs =
        std::fs::read_to_string(&victim)
            .expect("read")
            .replacen("SUMMARY:", "SUMMARY:Theirs ", 1);
    std::fs::write(&victim, &theirs).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--yes", "--plan", "plan.json"])
        .run()
        .code(3);
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(
            "stale: send-all update · target office · link jdoe · scheduleItems {}:",
            edited[0].href.0
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("read"),
        theirs,
        "overwritten"
    );
    assert!(out.stdout().contains("2 updated"), "{}", out.stdout());
}

/// Makes a file refuse replacement, even for root (`chattr +i`), or, for a
/// user, by a read-only folder. Returns the undo.

#[test]
fn refused_writes_fail_per_item_and_the_rest_is_applied() {
    let dir = two_users(200, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    let store = CrmStore::open(&root.join("data/crm.sqlite")).expect("crm");
    let tasks = store.collection("jdoe", ItemType::Tasks);
    let listing = tasks.list().expect("list");
    assert!(listing.len() >= 4, "the world needs tasks");
    for entry in listing.iter().take(4) {
        let fetched = tasks
            .fetch(std::slice::from_ref(&entry.href))
            .expect("fetch");
        let changed = fetched[0].as_ref().expect("item").item.to_text().replacen(
            "SUMMARY:",
            "SUMMARY:Changed ",
            1,
        );
        let item = snapsync::item::parse_any(&changed).items.remove(0);
        tasks
            .update(&entry.href, &entry.version, &item)
            .expect("update");
    }
    drop(tasks);
    drop(store);
    let locked: Vec<PathBuf> = listing
        .iter()
        .take(1)
        .map(|e| {
            root.join("vdir/jdoe/tasks")
                .join(format!("{}.ics", e.href.0))
        })
        .collect();
    let undo: Vec<_> = locked.iter().map(|f| refuse_writes(f)).collect();
    let out = apply(root, "send-all");
    for u in &undo {
        u();
    }
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr());
    let stderr = out.stderr();
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("failed: "))
        .collect();
    assert_eq!(failures.len(), locked.len(), "{stderr}");
    assert!(
        failures[0].starts_with(&format!(
            "failed: send-all update · target office · link jdoe · tasks {}:",
            listing[0].href.0
        )),
        "{stderr}"
    );
    assert!(out.stdout().contains("3 updated"), "{}", out.stdout());
    // A re-run applies what is left.
    apply(root, "send-all").success();
    assert_eq!(plan_code(root, "send-all").0, Some(0));
}

/// A tiny deterministic generator for the kill times.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

/// How many item files the link's vdir folders hold (hidden temporary
/// files left out): how far an apply has got.
fn files_written(root: &Path) -> usize {
    ItemType::ALL
        .iter()
        .map(|t| {
            std::fs::read_dir(root.join("vdir/jdoe").join(t.as_str()))
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .sum()
}

#[test]
fn killed_at_random_points_a_re_run_converges_without_duplicates() {
    let dir = two_users(3000, 0);
    let root = dir.path();
    let mut seed = 7u64;
    let mut killed = 0;
    for _ in 0..12 {
        let before = files_written(root);
        let mut child = Snapsync::new(root)
            .args(["apply", "--yes", "-q", "-s", "send-all"])
            .spawn_silenced();
        // Killed once it has written a random number of files, however
        // fast or slow the machine is: a kill by the clock alone misses
        // every run on an idle machine, where an apply of 3,000 items
        // takes a few hundred milliseconds.
        let kill_after = 1 + usize::try_from(next(&mut seed) % 2500).expect("small");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().expect("wait").is_none()
            && files_written(root) < before + kill_after
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        if child.try_wait().expect("wait").is_none() {
            // SIGKILL: no chance to clean up anything.
            child.kill().expect("kill");
            killed += 1;
        } else {
            // The run finished: take the events away at the target, so the
            // next run has thousands of restores to be killed in.
            let events = root
                .join("vdir/jdoe")
                .join(ItemType::ScheduleItems.as_str());
            // (A run that ended before its first write made no folder.)
            for entry in std::fs::read_dir(&events).into_iter().flatten() {
                std::fs::remove_file(entry.expect("entry").path()).expect("remove");
            }
        }
        child.wait().expect("reap");
        // Items may also change at the source between runs.
        if next(&mut seed).is_multiple_of(3) {
            delete_in_crm(root, ItemType::Contacts, 1);
        }
    }
    assert!(
        killed >= 8,
        "only {killed} runs were killed mid-way; the test proves little"
    );
    apply(root, "send-all").success();
    assert_eq!(plan_code(root, "send-all").0, Some(0));
    for t in ItemType::ALL {
        let at_target = vdir_uids(&root.join("vdir/jdoe").join(t.as_str()));
        let unique: BTreeSet<&String> = at_target.iter().collect();
        assert_eq!(
            unique.len(),
            at_target.len(),
            "{t}: a duplicate at the target"
        );
        assert_eq!(at_target, crm_uids(root, "jdoe", t), "{t}");
    }
}

/// Starts an apply of `send-all` and returns once it holds its locks (its
/// lock files exist), or after 20 s.
fn apply_holding_jdoe(root: &Path) -> std::process::Child {
    let first = Snapsync::new(root)
        .args(["apply", "--yes", "-q", "-s", "send-all"])
        .spawn_silenced();
    let lock = root.join("data/state.sqlite.locks/office/jdoe.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !lock.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    first
}

/// Runs snapsync with `args` while an apply of `send-all` holds jdoe's
/// lock, and checks that the holder was still running when it returned.
fn beside_an_apply_holding_jdoe(root: &Path, args: &[&str]) -> Run {
    let mut first = apply_holding_jdoe(root);
    let second = Snapsync::new(root).args(args).run();
    let still_running = first.try_wait().expect("wait").is_none();
    first.wait().expect("reap");
    assert!(
        still_running,
        "the apply holding jdoe ended before the second command did: the second waited \
         for it, or the first was too quick for the test to prove anything\n{}",
        second.stderr()
    );
    second
}

#[test]
fn a_mistyped_snapshot_name_is_refused_before_waiting_for_a_lock() {
    let dir = two_users(3000, 0);
    let root = dir.path();
    let second = beside_an_apply_holding_jdoe(
        root,
        &[
            "apply",
            "--yes",
            "-q",
            "--lock-timeout",
            "60s",
            "-s",
            "send-jdoe-november",
            "-s",
            "send-jdoe-novembr",
        ],
    )
    .code(1);
    assert!(
        second.stderr().contains(
            "no snapshot named send-jdoe-novembr in the specs; did you mean `send-jdoe-november`?"
        ),
        "{}",
        second.stderr()
    );
}

#[test]
fn a_second_apply_on_a_locked_link_fails_and_says_who_holds_it() {
    let dir = two_users(3000, 0);
    let root = dir.path();
    let second =
        beside_an_apply_holding_jdoe(root, &["apply", "--yes", "-q", "-s", "send-jdoe-november"]);
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr());
    let stderr = second.stderr();
    // After the lines that name the stores.
    assert!(
        stderr
            .lines()
            .find(|l| !l.starts_with("Using the "))
            .is_some_and(|l| l.starts_with(
                "error: link jdoe of target office is locked by apply of send-all by "
            )),
        "{stderr}"
    );
    assert!(
        stderr.contains("wait for it to finish, or pass a longer --lock-timeout"),
        "{stderr}"
    );
    // With a long enough wait, the second apply goes through after the first.
    Snapsync::new(root)
        .args([
            "apply",
            "--yes",
            "-q",
            "--lock-timeout",
            "60s",
            "-s",
            "send-jdoe-november",
        ])
        .run()
        .success();
}

#[test]
fn apply_json_is_the_report_alone_on_stdout() {
    let dir = two_users(30, 0);
    let out = Snapsync::new(dir.path())
        .args(["apply", "--yes", "--format", "json", "-s", "send-all"])
        .run()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["report"]["snapshots"][0]["snapshot"], "send-all");
    assert_eq!(report["report"]["snapshots"][0]["applied"]["create"], 30);
    // The plan reviewed before applying is still shown, on stderr.
    assert!(
        out.stderr().contains("Plan: 30 to create"),
        "{}",
        out.stderr()
    );
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    serde_json::from_slice(&ok(dir, &args).stdout).expect("JSON on stdout")
}

#[test]
fn writes_carried_out_in_parallel_units_are_journaled_in_plan_order() {
    // 500 items: the events section alone is two units of work, and three
    // sections run on one pool; results arrive in any order.
    let dir = two_users(500, 0);
    let root = dir.path();
    let plan = json(root, &["plan", "-s", "send-all"]);
    let planned: Vec<String> = plan["snapshots"][0]["links"]
        .as_array()
        .expect("links")
        .iter()
        .flat_map(|link| link["sections"].as_array().expect("sections"))
        .flat_map(|section| section["operations"].as_array().expect("operations"))
        .filter(|op| op["action"] == "create")
        .map(|op| op["uid"].as_str().expect("uid").to_owned())
        .collect();
    assert_eq!(planned.len(), 500);
    apply(root, "send-all").success();
    let shown = json(root, &["runs", "show", "1"]);
    let mut journal: Vec<(u64, String)> = shown["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| {
            assert_eq!(op["outcome"], "applied", "{op}");
            (
                op["seq"].as_u64().expect("seq"),
                op["uid"].as_str().expect("uid").to_owned(),
            )
        })
        .collect();
    journal.sort();
    let seqs: Vec<u64> = journal.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=500).collect::<Vec<u64>>());
    let uids: Vec<String> = journal.into_iter().map(|(_, uid)| uid).collect();
    assert_eq!(uids, planned, "operation n of the plan is journaled as n");
    let written: usize = ["scheduleItems", "tasks", "contacts"]
        .iter()
        .map(|folder| vdir_uids(&root.join("vdir/jdoe").join(folder)).len())
        .sum();
    assert_eq!(written, 500);
    assert_eq!(plan_code(root, "send-all").0, Some(0), "nothing left to do");
}

/// Saves the plan of `snapshot` to `plan.json` in `dir`.
fn save_plan(dir: &Path, snapshot: &str) -> PathBuf {
    ok(
        dir,
        &["plan", "--now", NOW, "-s", snapshot, "--out", "plan.json"],
    );
    dir.join("plan.json")
}

#[test]
fn a_saved_plan_is_refused_where_its_target_now_resolves_elsewhere_and_applies_where_it_was_made() {
    let dir = two_users(12, 0);
    let root = dir.path();
    let plan = save_plan(root, "send-all");
    // The Target is edited to another folder after the plan was saved.
    std::fs::create_dir_all(root.join("vdir2")).expect("folder");
    dir.replace(
        "snapshots.d/world.yaml",
        "path: ../vdir\n",
        "path: ../vdir2\n",
    );
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(1);
    let canonical = std::fs::canonicalize(root).expect("canonical");
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(
            "  - target office: planned against vdir {}, but the specs now say vdir {}\n",
            canonical.join("vdir").display(),
            canonical.join("vdir2").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Nothing was applied."), "{stderr}");
    // A state store given on the command line that is not the planned one.
    dir.replace(
        "snapshots.d/world.yaml",
        "path: ../vdir2\n",
        "path: ../vdir\n",
    );
    let out = Snapsync::new(root)
        .args([
            "--state",
            "elsewhere.sqlite",
            "apply",
            "--plan",
            "plan.json",
        ])
        .run()
        .code(1);
    assert!(
        out.stderr().contains(&format!(
            "  - the state store (--state or SNAPSYNC_STATE): planned against {}, but it is now {}\n",
            canonical.join("data/state.sqlite").display(),
            canonical.join("elsewhere.sqlite").display()
        )),
        "{}",
        out.stderr()
    );
    assert!(vdir_uids(&root.join("vdir/jdoe/scheduleItems")).is_empty());
    assert!(vdir_uids(&root.join("vdir2/jdoe/scheduleItems")).is_empty());
    assert!(!root.join("elsewhere.sqlite").exists());
    // Away from the edited specs, the plan goes where it was made: vdir.
    dir.replace(
        "snapshots.d/world.yaml",
        "path: ../vdir\n",
        "path: ../vdir2\n",
    );
    let away = tempfile::tempdir().expect("a temporary folder");
    Snapsync::new(away.path())
        .args(["apply", "--plan", plan.to_str().expect("UTF-8")])
        .run()
        .success();
    assert_eq!(
        vdir_uids(&root.join("vdir/jdoe/scheduleItems")),
        crm_uids(root, "jdoe", ItemType::ScheduleItems)
    );
    assert!(vdir_uids(&root.join("vdir2/jdoe/scheduleItems")).is_empty());
}

#[test]
fn a_saved_plan_applies_from_an_empty_folder_without_yes_and_without_asking() {
    let dir = two_users(20, 0);
    let root = dir.path();
    let plan = save_plan(root, "send-all");
    let away = tempfile::tempdir().expect("a temporary folder");
    // No specs, no --yes, no terminal: the saved plan is the approval.
    let out = Snapsync::new(away.path())
        .args(["apply", "--plan", plan.to_str().expect("UTF-8")])
        .run()
        .success();
    assert!(
        out.stdout().contains("0 failed, 0 stale."),
        "{}",
        out.stdout()
    );
    for t in ItemType::ALL {
        let folder = root.join("vdir/jdoe").join(t.to_string());
        assert_eq!(vdir_uids(&folder), crm_uids(root, "jdoe", t), "{t}");
    }
    // It used the planned state store, not one in the folder it ran in.
    assert!(!away.path().join(".snapsync").exists());
    assert_eq!(plan_code(root, "send-all").0, Some(0));
}

#[test]
fn an_edited_plan_is_refused_and_a_resealed_forged_uid_fails_its_item_only() {
    let dir = two_users(40, 0);
    let root = dir.path();
    let path = save_plan(root, "send-all");
    let original = std::fs::read_to_string(&path).expect("read");
    let mut value: serde_json::Value = serde_json::from_str(&original).expect("JSON");
    let op = &mut value["snapshots"][0]["links"][0]["sections"][0]["operations"][0];
    let real_uid = op["uid"].as_str().expect("uid").to_owned();
    op["uid"] = "../../evil".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&value).expect("JSON")).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(1);
    assert!(
        out.stderr().contains(
            "plan.json is not applied: the plan was edited since it was saved (its checksum \
             does not match its content); plan again"
        ),
        "{}",
        out.stderr()
    );
    assert!(vdir_uids(&root.join("vdir/jdoe/scheduleItems")).is_empty());

    // Sealed again (as a forger who knows the checksum would): the UID is
    // still checked against the item it names, and only that item fails.
    let mut plan: snapsync::plan::Plan = serde_json::from_value(value).expect("a plan");
    plan.snapshots[0].links[0].sections[0].operations[1].uid = "line\nbreak".into();
    plan.seal();
    std::fs::write(&path, serde_json::to_vec(&plan).expect("JSON")).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(3);
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(
            "failed: send-all create · target office · link jdoe · scheduleItems ../../evil: \
             the plan names UID \"../../evil\", but the source item at {real_uid} has UID \"{real_uid}\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("the plan's UID \"line\\nbreak\" holds control characters"),
        "{stderr}"
    );
    let written = vdir_uids(&root.join("vdir/jdoe/scheduleItems"));
    assert!(!written.contains(&real_uid));
    assert_eq!(
        written.len(),
        crm_uids(root, "jdoe", ItemType::ScheduleItems).len() - 2
    );
    for evil in [
        root.join("evil"),
        root.join("vdir/evil"),
        root.join("vdir/jdoe/evil"),
    ] {
        assert!(!evil.exists(), "{}", evil.display());
    }
    // Nothing was recorded under the forged UID: the real item is still
    // planned as new.
    let out = Snapsync::new(root)
        .args(["plan", "--now", NOW, "-s", "send-all"])
        .run();
    assert!(out.stdout().contains(&real_uid), "{}", out.stdout());
}

#[test]
fn a_keep_that_cannot_be_applied_is_reported_failed_and_never_journalled_as_a_create() {
    let dir = two_users(10, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    // Planned again, every item is a keep; one is forged with a UID the
    // state store cannot hold, and sealed again.
    let path = save_plan(root, "send-all");
    let mut plan: snapsync::plan::Plan =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("a plan");
    let op = &mut plan.snapshots[0].links[0].sections[0].operations[0];
    assert_eq!(op.action, snapsync::plan::Action::Keep);
    op.uid = "line\nbreak".into();
    plan.seal();
    std::fs::write(&path, serde_json::to_vec(&plan).expect("JSON")).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json", "--format", "json"])
        .run()
        .code(3);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let unapplied = &report["report"]["snapshots"][0]["unapplied"];
    assert_eq!(unapplied.as_array().map(Vec::len), Some(1), "{unapplied}");
    assert_eq!(unapplied[0]["action"], "keep");
    assert_eq!(unapplied[0]["outcome"], "failed");
    assert_eq!(unapplied[0]["uid"], "line\nbreak");
    assert_eq!(
        unapplied[0]["message"],
        "the plan's UID \"line\\nbreak\" holds control characters: not applied; plan again"
    );
    // The journal holds writes: the run wrote nothing, so it lists nothing
    // (it was journalled as a failed create before).
    let run = report["report"]["snapshots"][0]["runId"].to_string();
    let shown = json(root, &["runs", "show", &run]);
    assert_eq!(shown["operations"], serde_json::json!([]), "{shown}");
}

#[test]
fn an_apply_that_waits_for_a_lock_plans_after_it_and_finds_nothing_stale() {
    let dir = two_users(3000, 0);
    let root = dir.path();
    let mut first = apply_holding_jdoe(root);
    // The second covers jdoe too, and waits for the first to finish.
    let second = Snapsync::new(root)
        .args([
            "apply",
            "--yes",
            "--lock-timeout",
            "300s",
            "-s",
            "send-jdoe-november",
        ])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let still_running = first.try_wait().expect("wait").is_none();
    let first_status = first.wait().expect("reap");
    let second = second.wait_with_output().expect("second");
    assert!(
        still_running,
        "the first apply ended before the second waited; the test proves nothing"
    );
    assert_eq!(first_status.code(), Some(0));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let stdout = text(&second.stdout);
    assert!(
        stdout.contains("Applied in ") && stdout.contains("0 failed, 0 stale."),
        "{stdout}"
    );
    assert_eq!(plan_code(root, "send-all").0, Some(0));
}

#[test]
fn a_plan_holds_the_name_of_a_secret_never_its_value() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let specs = dir.path().join("snapshots.d");
    std::fs::create_dir_all(&specs).expect("folder");
    std::fs::write(
        specs.join("dav.yaml"),
        "apiVersion: snapsync/v1
kind: Target
metadata: { name: dav }
spec:
  type: caldav
  url: http://127.0.0.1:9/dav/
  auth: { username: svc-sync, passwordEnv: SNAPSYNC_TEST_DAV_PASSWORD }
  links:
    - { name: jdoe, user: jdoe, scheduleItems: jdoe/calendar/ }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: send-dav }
spec: { direction: send, target: dav }
",
    )
    .expect("specs");
    let secret = "hunter2-very-secret-value";
    let out = Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "--out", "plan.json"])
        .env("SNAPSYNC_TEST_DAV_PASSWORD", secret)
        .run();
    let saved = std::fs::read_to_string(dir.path().join("plan.json")).unwrap_or_else(|_| {
        panic!("no plan saved: {}", out.stderr());
    });
    assert!(!saved.contains(secret), "{saved}");
    assert!(!out.stdout().contains(secret));
    assert!(!out.stderr().contains(secret));
    let plan: serde_json::Value = serde_json::from_str(&saved).expect("JSON");
    let dav = &plan["targets"][0];
    assert_eq!(dav["type"], "caldav");
    assert_eq!(dav["location"], "http://127.0.0.1:9/dav/");
    assert_eq!(dav["auth"]["username"], "svc-sync");
    assert_eq!(dav["auth"]["passwordEnv"], "SNAPSYNC_TEST_DAV_PASSWORD");
}

/// Runs `snapsync ARGS` in `dir` on a terminal (`script` gives it one),
/// typing `answer`; returns the exit code and everything the terminal showed.
fn on_a_terminal(dir: &Path, args: &str, answer: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_snapsync"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SNAPSYNC_CRM")
        .env_remove("SNAPSYNC_STATE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs a command on a terminal");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.as_bytes())
        .expect("answer");
    let out = child.wait_with_output().expect("script");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn declining_the_prompt_exits_4_and_writes_nothing_and_yes_applies() {
    let dir = two_users(5, 0);
    let root = dir.path();
    let (code, shown) = on_a_terminal(root, "apply -s send-all", "no\n");
    assert_eq!(code, Some(4), "{shown}");
    // (Where the terminal echoes the answer depends on when it arrives.)
    assert!(
        shown.contains("Apply these changes? Only 'yes' is accepted: ")
            && shown.contains("Not applied, as you answered (exit code 4); nothing was written."),
        "{shown}"
    );
    assert!(vdir_uids(&root.join("vdir/jdoe/scheduleItems")).is_empty());
    assert!(!root.join("data/state.sqlite").exists());
    let (code, shown) = on_a_terminal(root, "apply -s send-all", "yes\n");
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(plan_code(root, "send-all").0, Some(0));
}

#[test]
fn a_resealed_plan_whose_href_leaves_its_collection_fails_that_item_and_touches_nothing_outside() {
    let dir = two_users(40, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    delete_in_crm(root, ItemType::ScheduleItems, 2);
    let path = save_plan(root, "send-all");
    let mut plan: snapsync::plan::Plan =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("a plan");
    // Another user's item, reached from jdoe's calendar.
    let asmith = root.join("vdir/asmith/scheduleItems");
    std::fs::create_dir_all(&asmith).expect("folder");
    std::fs::write(asmith.join("theirs.ics"), "kept").expect("write");
    let deletes: Vec<&mut snapsync::plan::Operation> = plan.snapshots[0].links[0].sections[0]
        .operations
        .iter_mut()
        .filter(|op| op.action == snapsync::plan::Action::Delete)
        .collect();
    assert_eq!(deletes.len(), 2);
    let forged = deletes.into_iter().next().expect("a delete");
    forged.destination.as_mut().expect("destination").href =
        snapsync::endpoint::Href("../../asmith/scheduleItems/theirs.ics".into());
    plan.seal();
    std::fs::write(&path, serde_json::to_vec(&plan).expect("JSON")).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(3);
    let stderr = out.stderr();
    assert!(
        stderr.contains(
            "\"../../asmith/scheduleItems/theirs.ics\" is not the name of an item file of this collection"
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(asmith.join("theirs.ics")).expect("kept"),
        "kept"
    );
    // The other delete went through.
    assert!(out.stdout().contains("1 deleted"), "{}", out.stdout());
}

/// Issue 13, defect 12: a killed apply leaves hidden temporary files; the
/// next apply of the collection removes those of snapsync processes that
/// are gone, and nothing else.
#[test]
fn an_apply_removes_the_temporary_files_of_killed_runs_and_only_those() {
    let dir = two_users(30, 0);
    let calendar = dir.path().join("vdir/jdoe/scheduleItems");
    std::fs::create_dir_all(&calendar).expect("folder");
    // A process that has ended stands for a killed apply.
    let dead = {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("start `true`");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    };
    // This test process is alive: it stands for another apply still writing.
    let live = std::process::id();
    let leftovers = [
        format!(".gen-1-3@snapsync.invalid.ics.{dead}.0.tmp"),
        format!(".gen-1-4@snapsync.invalid.ics.{dead}.1.tmp"),
    ];
    let kept = [
        format!(".gen-1-5@snapsync.invalid.ics.{live}.2.tmp"),
        ".x.tmp".to_owned(),
        format!(".notes.txt.{dead}.0.tmp"),
    ];
    for name in leftovers.iter().chain(&kept) {
        std::fs::write(calendar.join(name), "BEGIN:VCALENDAR\r\n").expect("write");
    }
    // A plan writes nothing, leftovers included.
    ok(dir.path(), &["plan", "-s", "send-all"]);
    assert!(calendar.join(&leftovers[0]).exists());

    apply(dir.path(), "send-all").success();
    let hidden: BTreeSet<String> = std::fs::read_dir(&calendar)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert_eq!(hidden, kept.iter().cloned().collect::<BTreeSet<_>>());
}

/// Appends a Target `typo` (its own vdir folder, one link for CRM user
/// `user`) and a full send of it with `orphans: delete`, `purge-typo`.
fn add_purge_target(dir: &Path, user: &str) {
    let path = dir.join("snapshots.d/purge.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: snapsync/v1
kind: Target
metadata: {{ name: typo }}
spec:
  type: vdir
  path: ../vdir-typo
  links:
    - name: jdoe
      user: {user}
      contacts: jdoe/contacts
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: {{ name: purge-typo }}
spec: {{ direction: send, target: typo, orphans: delete }}
"
        ),
    )
    .expect("specs");
}

#[test]
fn a_send_for_a_mistyped_crm_user_is_an_error_and_deletes_nothing() {
    let dir = two_users(100, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    // Another target already holds jdoe's contacts, never synced by snapsync.
    let folder = root.join("vdir-typo/jdoe/contacts");
    std::fs::create_dir_all(&folder).expect("folder");
    for entry in std::fs::read_dir(root.join("vdir/jdoe/contacts")).expect("read") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, folder.join(path.file_name().expect("name"))).expect("copy");
    }
    let before = vdir_uids(&folder);
    assert!(!before.is_empty());

    add_purge_target(root, "jdoee");
    let out = Snapsync::new(root)
        .args(["plan", "--now", NOW, "-s", "purge-typo"])
        .run()
        .code(1);
    let stdout = out.stdout();
    assert!(
        stdout.contains("CRM user `jdoee` does not exist in the CRM store (did you mean `jdoe`?)"),
        "{stdout}"
    );
    assert!(!stdout.contains("orphan deleted"), "{stdout}");
    let out = apply(root, "purge-typo");
    // The link with the error is the whole plan: nothing else to apply.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr().contains(
            "the plan has errors (listed above) and nothing else to do; nothing was applied"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(vdir_uids(&folder), before);

    // A user that exists but holds no contacts: the plan would delete
    // every item of the collection (all orphans), which is refused.
    add_purge_target(root, "asmith");
    let out = Snapsync::new(root)
        .args(["plan", "--now", NOW, "-s", "purge-typo"])
        .run()
        .success();
    assert!(
        out.stdout().contains(&format!(
            "this would delete every item of vdir typo: jdoe/contacts ({})",
            before.len()
        )),
        "{}",
        out.stdout()
    );
    let out = apply(root, "purge-typo").code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(
            "refused: snapshot purge-typo, link jdoe: the plan would delete every item of vdir \
             typo: jdoe/contacts ({} contacts, orphans included)",
            before.len()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("apply again with --allow-empty-source"),
        "{stderr}"
    );
    assert_eq!(vdir_uids(&folder), before);
    Snapsync::new(root)
        .args(["apply", "--yes", "--allow-empty-source", "-s", "purge-typo"])
        .run()
        .success();
    assert!(vdir_uids(&folder).is_empty());
}

#[test]
fn a_corrupt_item_at_the_destination_is_replaced_and_the_next_plan_is_empty() {
    let dir = two_users(30, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    let folder = root.join("vdir/jdoe/scheduleItems");
    let victim = std::fs::read_dir(&folder)
        .expect("read")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "ics"))
        .expect("an event file");
    let name = victim
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let uid = name.trim_end_matches(".ics").to_owned();
    std::fs::write(&victim, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n").expect("corrupt");

    let out = Snapsync::new(root)
        .args(["plan", "--now", NOW, "-s", "send-all"])
        .run()
        .success();
    let stdout = out.stdout();
    assert!(
        stdout.contains(&format!(
            "{name} holds UID {uid} (by the state store's record): the source's copy replaces it"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("full snapshot; unreadable at the destination: replaced"),
        "{stdout}"
    );
    assert!(!stdout.contains("restore"), "{stdout}");

    let out = apply(root, "send-all").success();
    assert!(out.stdout().contains("1 updated"), "{}", out.stdout());
    // The file parses again, and holds the CRM's item.
    let parsed = snapsync::item::parse_any(&std::fs::read_to_string(&victim).expect("read"));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.items[0].uid(), uid);
    assert_eq!(plan_code(root, "send-all").0, Some(0), "nothing left to do");
}

#[test]
fn replaying_an_applied_plan_reports_its_delete_as_stale_not_done() {
    let dir = two_users(100, 0);
    let root = dir.path();
    apply(root, "send-all").success();
    delete_in_crm(root, ItemType::Contacts, 1);
    ok(
        root,
        &["plan", "--now", NOW, "-s", "send-all", "--out", "plan.json"],
    );
    let first = Snapsync::new(root)
        .args(["apply", "--yes", "--plan", "plan.json"])
        .run()
        .success();
    assert!(
        first
            .stdout()
            .contains("0 updated, 1 deleted; 0 failed, 0 stale."),
        "{}",
        first.stdout()
    );
    let again = Snapsync::new(root)
        .args(["apply", "--yes", "--plan", "plan.json"])
        .run()
        .code(3);
    assert!(
        again
            .stdout()
            .contains("0 updated, 0 deleted; 0 failed, 1 stale."),
        "{}",
        again.stdout()
    );
    assert!(
        again
            .stderr()
            .contains("stale: send-all delete · target office · link jdoe · contacts"),
        "{}",
        again.stderr()
    );
    // The journal says so too.
    let runs = json(root, &["runs"]);
    let last = runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .max()
        .expect("a run");
    let shown = json(root, &["runs", "show", &last.to_string()]);
    let deletes: Vec<&serde_json::Value> = shown["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|op| op["action"] == "delete")
        .collect();
    assert_eq!(deletes.len(), 1, "{shown}");
    assert_eq!(deletes[0]["outcome"], "stale", "{shown}");
    // And the next plan has nothing left to do.
    assert_eq!(plan_code(root, "send-all").0, Some(0));
}

/// DESIGN 2.5: a link whose CRM user does not exist is an error for that
/// link; the other links of the plan are applied, and the apply exits 3.
#[test]
fn a_link_with_an_unknown_crm_user_does_not_stop_the_other_links() {
    let dir = two_users(60, 0);
    let root = dir.path();
    std::fs::write(
        root.join("snapshots.d/two.yaml"),
        "apiVersion: snapsync/v1
kind: Target
metadata: { name: two }
spec:
  type: vdir
  path: ../vdir-two
  links:
    - { name: typo, user: jdoee, scheduleItems: typo/calendar }
    - { name: good, user: jdoe, scheduleItems: good/calendar }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: send-two }
spec: { direction: send, target: two, orphans: delete }
",
    )
    .expect("specs");
    std::fs::create_dir_all(root.join("vdir-two/typo/calendar")).expect("folder");
    std::fs::write(root.join("vdir-two/typo/calendar/theirs.ics"), "kept").expect("file");
    let saved = Snapsync::new(root)
        .args(["plan", "-s", "send-two", "--out", "two.json"])
        .run()
        .code(1);
    assert!(
        saved.stdout().contains(
            "Saved the plan to two.json, but it has errors (listed above): `snapsync apply \
             --plan two.json` applies only the parts without errors"
        ),
        "{}",
        saved.stdout()
    );
    let out = apply(root, "send-two").code(3);
    let stderr = out.stderr();
    assert!(
        stderr.contains("error: the plan has 1 error (listed above)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not applied: the parts of the plan with errors"),
        "{stderr}"
    );
    // The good link got its events; the mistyped one was not touched.
    assert_eq!(
        vdir_uids(&root.join("vdir-two/good/calendar")),
        crm_uids(root, "jdoe", ItemType::ScheduleItems)
    );
    assert_eq!(
        std::fs::read_to_string(root.join("vdir-two/typo/calendar/theirs.ics")).expect("kept"),
        "kept"
    );
}

/// How many files there are under `root`, at any depth.
fn files_under(root: &Path) -> usize {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// Applies the saved `plan` from an empty folder and from `root`: each
/// refuses, giving every one of `reasons` and saying nothing was applied,
/// and writes nothing under `evil`.
fn refused_from_anywhere(root: &Path, plan: &Path, reasons: &[String], evil: &Path) {
    let away = tempfile::tempdir().expect("a temporary folder");
    for folder in [away.path(), root] {
        let out = Snapsync::new(folder)
            .args(["apply", "--plan"])
            .arg(plan)
            .run()
            .code(1);
        let stderr = out.stderr();
        for reason in reasons {
            assert!(stderr.contains(reason.as_str()), "{reason}\n{stderr}");
        }
        assert!(stderr.contains("Nothing was applied."), "{stderr}");
        assert_eq!(files_under(evil), 0, "{}", folder.display());
    }
}

/// Applies the saved `plan` (made in the project folder, its parent) from
/// `folder`: jdoe's events land in `jdoe` (his link's folder), and nothing
/// under `evil`.
fn applies_as_planned(folder: &Path, plan: &Path, jdoe: &Path, evil: &Path) {
    Snapsync::new(folder)
        .args(["apply", "--plan"])
        .arg(plan)
        .run()
        .success();
    let root = plan.parent().expect("the project folder");
    assert_eq!(
        vdir_uids(&jdoe.join("scheduleItems")),
        crm_uids(root, "jdoe", ItemType::ScheduleItems)
    );
    assert_eq!(files_under(evil), 0);
}

/// Replaces `link` (a folder, or a symbolic link) by a symbolic link to `to`.
fn symlink_in_place_of(link: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    if link.is_symlink() {
        std::fs::remove_file(link).expect("remove the link");
    }
    std::os::unix::fs::symlink(to, link).expect("symlink");
}

#[test]
fn a_saved_plan_is_refused_where_its_vdir_folder_was_replaced_by_a_symlink_even_away_from_specs() {
    let dir = two_users(12, 0);
    let root = dir.path();
    let plan = save_plan(root, "send-all");
    let canonical = std::fs::canonicalize(root).expect("canonical");
    // The target folder is moved away, and a symbolic link to another
    // folder takes its place.
    std::fs::rename(root.join("vdir"), root.join("vdir-real")).expect("rename");
    let evil = canonical.join("evil");
    symlink_in_place_of(&root.join("vdir"), &evil);
    refused_from_anywhere(
        root,
        &plan,
        &[format!(
            "  - target office: planned against vdir {}, but that folder now resolves to {}\n",
            canonical.join("vdir").display(),
            evil.display()
        )],
        &evil,
    );
    // The folder back in its place: the plan applies there.
    std::fs::remove_file(root.join("vdir")).expect("remove the link");
    std::fs::rename(root.join("vdir-real"), root.join("vdir")).expect("rename");
    let away = tempfile::tempdir().expect("a temporary folder");
    applies_as_planned(away.path(), &plan, &root.join("vdir/jdoe"), &evil);
}

#[test]
fn a_saved_plan_is_refused_where_a_collection_folder_now_resolves_elsewhere() {
    let dir = two_users(12, 0);
    let root = dir.path();
    let canonical = std::fs::canonicalize(root).expect("canonical");
    // jdoe's collections are legitimately behind a symbolic link when the
    // plan is made; asmith's do not exist yet.
    let real = canonical.join("real/jdoe");
    symlink_in_place_of(&root.join("vdir/jdoe"), &real);
    let plan = save_plan(root, "send-all");
    // Both are then pointed elsewhere.
    let evil = canonical.join("evil");
    symlink_in_place_of(&root.join("vdir/jdoe"), &evil.join("jdoe"));
    symlink_in_place_of(&root.join("vdir/asmith"), &evil.join("asmith"));
    let reasons = [
        ("jdoe", real.join("scheduleItems")),
        ("asmith", canonical.join("vdir/asmith/scheduleItems")),
    ]
    .map(|(link, planned)| {
        format!(
            "  - target office, link {link}, scheduleItems: planned against folder {}, \
             but {link}/scheduleItems now resolves to {}\n",
            planned.display(),
            evil.join(link).join("scheduleItems").display()
        )
    });
    refused_from_anywhere(root, &plan, &reasons, &evil);
    // As planned again (jdoe behind its link, asmith absent): it applies.
    symlink_in_place_of(&root.join("vdir/jdoe"), &real);
    std::fs::remove_file(root.join("vdir/asmith")).expect("remove the link");
    applies_as_planned(root, &plan, &real, &evil);
}

#[test]
fn a_saved_plan_over_a_link_whose_outbound_the_specs_now_disable_is_refused() {
    let dir = two_users(12, 0);
    let root = dir.path();
    save_plan(root, "send-all");
    dir.replace(
        "snapshots.d/world.yaml",
        "      contacts: jdoe/contacts\n",
        "      contacts: jdoe/contacts\n      outbound: disabled\n",
    );
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains(
            "  - target office, link jdoe: planned with outbound enabled, but the specs now \
             disable it; plan again\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("link asmith"), "{stderr}");
    assert_eq!(files_under(&root.join("vdir")), 0);
}

#[test]
fn a_plan_without_a_checksum_says_so_and_a_refusal_says_not_applied_once() {
    let dir = two_users(3, 0);
    let root = dir.path();
    let path = save_plan(root, "send-all");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    value
        .as_object_mut()
        .expect("an object")
        .remove("checksum")
        .expect("a checksum");
    std::fs::write(&path, serde_json::to_vec(&value).expect("JSON")).expect("write");
    let out = Snapsync::new(root)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains(
            "plan.json is not applied: the plan has no checksum, so nothing shows that it is as \
             it was saved; plan again"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("not applied").count(), 1, "{stderr}");
}

#[test]
fn a_refusal_where_the_specs_declare_no_stores_names_the_default_stores() {
    let dir = two_users(3, 0);
    let root = dir.path();
    let plan = save_plan(root, "send-all");
    // Unrelated specs with no Stores resource.
    let away = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(away.path().join("snapshots.d")).expect("folder");
    std::fs::write(
        away.path().join("snapshots.d/other.yaml"),
        "apiVersion: snapsync/v1
kind: Target
metadata: { name: home }
spec:
  type: vdir
  path: ../vdir
  links:
    - { name: bob, user: bob, contacts: bob/contacts }
",
    )
    .expect("specs");
    let out = Snapsync::new(away.path())
        .args(["apply", "--plan", plan.to_str().expect("UTF-8")])
        .run()
        .code(1);
    let stderr = out.stderr();
    let canonical = std::fs::canonicalize(root).expect("canonical");
    assert!(
        stderr.contains(&format!(
            "  - the CRM store the specs at snapshots.d use (the default: they declare no \
             Stores): planned against {}, but it is now ",
            canonical.join("data/crm.sqlite").display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("the specs' Stores"), "{stderr}");
}

#[test]
fn a_plan_saved_with_errors_does_not_suggest_applying_it() {
    let dir = two_users(3, 0);
    let root = dir.path();
    add_purge_target(root, "jdoee");
    let out = Snapsync::new(root)
        .args([
            "plan",
            "--now",
            NOW,
            "-s",
            "purge-typo",
            "--out",
            "plan.json",
        ])
        .run()
        .code(1);
    let stdout = out.stdout();
    assert!(
        stdout.contains(
            "Saved the plan to plan.json, but it has errors (listed above) and cannot be \
             applied; fix them and plan again."
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("apply it with"), "{stdout}");
    let ok = save_plan(root, "send-all");
    assert!(ok.exists());
}

/// Two item files of jdoe's calendar, replaced by entries that are not
/// regular files: a dangling symbolic link and a folder (DESIGN 2.5: an
/// unreadable item never causes a delete).
#[cfg(unix)]
#[test]
fn a_dangling_link_or_a_folder_in_place_of_an_item_file_is_unreadable_never_deleted() {
    let dir = two_users(30, 0);
    let root = dir.path();
    std::fs::write(
        root.join("snapshots.d/purge.yaml"),
        "apiVersion: snapsync/v1\nkind: Snapshot\nmetadata: { name: get-jdoe-purge }\n\
         spec: { direction: get, target: office, links: [jdoe], orphans: delete }\n",
    )
    .expect("spec");
    apply(root, "send-all").success();
    let folder = root.join("vdir/jdoe/scheduleItems");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("read")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    files.sort();
    let (linked, foldered) = (files[0].clone(), files[1].clone());
    let uid_of = |path: &Path| {
        path.file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned()
    };
    let crm_before = crm_uids(root, "jdoe", ItemType::ScheduleItems);
    assert!(crm_before.contains(&uid_of(&linked)) && crm_before.contains(&uid_of(&foldered)));
    std::fs::remove_file(&linked).expect("remove");
    std::os::unix::fs::symlink("/nonexistent/gone.ics", &linked).expect("link");
    std::fs::remove_file(&foldered).expect("remove");
    std::fs::create_dir(&foldered).expect("folder");

    // A get keeps both CRM items, says why, and suspends orphan deletion.
    let out = Snapsync::new(root)
        .args(["plan", "--now", NOW, "-s", "get-jdoe-purge"])
        .run()
        .success();
    let stdout = out.stdout();
    assert!(!stdout.contains("- delete"), "{stdout}");
    assert!(
        stdout.contains("is a symbolic link to /nonexistent/gone.ics, which does not exist"),
        "{stdout}"
    );
    assert!(stdout.contains("is a folder"), "{stdout}");
    assert!(stdout.contains("orphan"), "{stdout}");
    let out = apply(root, "get-jdoe-purge").success();
    assert!(out.stdout().contains(", 0 deleted;"), "{}", out.stdout());
    assert_eq!(crm_uids(root, "jdoe", ItemType::ScheduleItems), crm_before);

    // A send replaces the dangling link (not what it points to) and fails
    // the folder's item alone, saying why.
    let out = apply(root, "send-all").code(3);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(all.contains("cannot update it: it is a folder"), "{all}");
    assert!(!all.contains("already exists"), "{all}");
    let now = std::fs::symlink_metadata(&linked).expect("entry");
    assert!(now.is_file(), "the link is replaced by the item's file");
    let parsed = snapsync::item::parse_any(&std::fs::read_to_string(&linked).expect("read"));
    assert_eq!(parsed.items[0].uid(), uid_of(&linked));
    assert!(foldered.is_dir());

    // Once the folder is moved away, the item is written again: converged.
    std::fs::remove_dir(&foldered).expect("remove the folder");
    apply(root, "send-all").success();
    assert_eq!(plan_code(root, "send-all").0, Some(0), "nothing left to do");
    assert_eq!(crm_uids(root, "jdoe", ItemType::ScheduleItems), crm_before);
}
