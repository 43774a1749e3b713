//! `snapsync demo` through the real binary, in a temporary folder: the four
//! steps and what each shows, a second run, the folders it refuses, and the
//! world it leaves behind.

use std::path::Path;

use crate::support::Snapsync;

const SPECS: &str = ".snapsync/demo/snapshots.d";

/// The text between two headings of the demo's output.
fn step<'a>(stdout: &'a str, heading: &str, next: Option<&str>) -> &'a str {
    let start = stdout
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?} in:\n{stdout}"));
    let rest = &stdout[start..];
    match next {
        Some(next) => &rest[..rest.find(next).unwrap_or(rest.len())],
        None => rest,
    }
}

fn demo(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let out = Snapsync::new(dir).args(&all).run();
    (out.status.code().unwrap_or(-1), out.stdout(), out.stderr())
}

#[test]
fn demo_validates_plans_applies_and_plans_again_with_nothing_left_to_do() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (code, stdout, stderr) = demo(dir.path(), &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Nothing on stderr off a terminal: no spinner, no progress, no warning.
    assert_eq!(stderr, "");
    assert!(
        stdout.starts_with(
            "Built a demo world in .snapsync/demo/ (every run of `snapsync demo` rebuilds it from scratch):\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("jdoe, asmith, mlopez with 300 generated items each"),
        "{stdout}"
    );

    let validate = step(&stdout, "== 1/4 validate: ", Some("== 2/4"));
    assert_eq!(
        validate,
        format!(
            "== 1/4 validate: snapsync validate {SPECS}\n\
             valid: 5 files, 6 resources (1 target, 4 snapshots)\n\n"
        )
    );

    let plan = step(&stdout, "== 2/4 plan: ", Some("== 3/4"));
    assert!(
        plan.starts_with(&format!(
            "== 2/4 plan: snapsync plan {SPECS} -s send-all\n\
             Snapshot send-all: send CRM → office-vdir, full  [{SPECS}/10-send-all.yaml:"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("  note: link mlopez skipped: outbound is disabled in target office-vdir\n"),
        "{plan}"
    );
    for line in [
        "      + create         ",
        "      + restore        ",
        "      ~ update         ",
        "      - delete         ",
        "only at the destination and never synced, kept (orphans: keep)",
    ] {
        assert!(plan.contains(line), "no {line:?} in:\n{plan}");
    }
    assert!(
        plan.ends_with(
            "Plan: 4 to create, 6 to restore, 8 to update, 2 to delete; 2 orphans kept; 584 unchanged.\n\n"
        ),
        "{plan}"
    );

    let apply = step(&stdout, "== 3/4 apply: ", Some("== 4/4"));
    assert!(
        apply.starts_with(&format!(
            "== 3/4 apply: snapsync apply {SPECS} -s send-all --yes\nApplied in "
        )),
        "{apply}"
    );
    assert!(
        apply.ends_with(" s: 4 created, 6 restored, 8 updated, 2 deleted; 0 failed, 0 stale.\n\n"),
        "{apply}"
    );

    let again = step(&stdout, "== 4/4 plan again: ", Some("Try next"));
    assert_eq!(
        again,
        format!(
            "== 4/4 plan again: snapsync plan {SPECS} -s send-all\n\
             Plan: 0 to create, 0 to update, 0 to delete; 2 orphans kept; 602 unchanged.\n\n"
        )
    );
    let next = step(&stdout, "Try next", None);
    assert_eq!(next.lines().count(), 6, "{next}");
    assert!(
        next.contains(&format!("  snapsync plan {SPECS} --format markdown ")),
        "{next}"
    );

    // Every snapshot of the demo's specs is in sync afterwards, not just
    // the one the demo applied.
    Snapsync::new(dir.path())
        .args(["plan", SPECS, "--detailed-exitcode"])
        .run()
        .success();
    Snapsync::new(dir.path())
        .args(["validate", SPECS])
        .run()
        .success();
}

#[test]
fn a_second_run_rebuilds_the_world_from_scratch() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (code, first, stderr) = demo(dir.path(), &["--items", "100"]);
    assert_eq!(code, 0, "{stderr}");
    // Something of the old world that the new one must not keep.
    let stray = dir
        .path()
        .join(".snapsync/demo/vdir/jdoe/calendar/stray@example.com.ics");
    std::fs::write(&stray, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").expect("write");

    let (code, second, stderr) = demo(dir.path(), &["--items", "100"]);
    assert_eq!(code, 0, "{second}\n{stderr}");
    assert!(
        second.starts_with(
            "Rebuilt the demo world in .snapsync/demo/ from scratch (every run deletes the previous one):\n"
        ),
        "{second}"
    );
    assert!(!stray.exists());
    // The same seed gives the same world, and the same plan.
    let plan = |stdout: &str| step(stdout, "== 2/4", Some("== 3/4")).to_owned();
    assert_eq!(plan(&first), plan(&second));
}

#[test]
fn demo_refuses_a_folder_it_did_not_make_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).expect("folder");
    std::fs::write(mine.join("notes.txt"), "mine").expect("write");
    let (code, stdout, stderr) = demo(dir.path(), &["--dir", "mine"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: mine is not a demo folder: it is not empty and has no .snapsync-demo file. \
         `snapsync demo` deletes and rebuilds its folder, so it only uses one that is missing, \
         empty, or made by an earlier demo (with the file .snapsync-demo in it); nothing was \
         deleted. Choose another folder with --dir\n"
    );
    let entries: Vec<_> = std::fs::read_dir(&mine)
        .expect("read")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(entries, ["notes.txt"]);

    // A demo folder with something else in it is refused too.
    let (code, _, stderr) = demo(dir.path(), &["--dir", "world", "--items", "100"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.path().join("world/plan.json"), "{}").expect("write");
    let (code, _, stderr) = demo(dir.path(), &["--dir", "world", "--items", "100"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(
            "error: world is not a demo folder: it holds plan.json, which a demo does not make."
        ),
        "{stderr}"
    );
    assert!(dir.path().join("world/crm.sqlite").is_file());

    // A file is not a folder.
    let (code, _, stderr) = demo(dir.path(), &["--dir", "mine/notes.txt"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: mine/notes.txt is not a demo folder: it is not a folder."),
        "{stderr}"
    );
    assert!(!dir.path().join(".snapsync").exists());
}

#[test]
fn dir_items_and_seed_choose_the_world_and_real_stores_are_never_used() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let elsewhere = dir.path().join("real-state.sqlite");
    let out = Snapsync::new(dir.path())
        .args([
            "demo",
            "--dir",
            "w",
            "--items",
            "150",
            "--seed",
            "42",
            "--crm",
            "real-crm.sqlite",
        ])
        .env("SNAPSYNC_STATE", &elsewhere)
        .run()
        .success();
    let stdout = out.stdout();
    assert_eq!(
        out.stderr(),
        "note: the demo uses its own stores in w; --crm, --state, SNAPSYNC_CRM and \
         SNAPSYNC_STATE are ignored\n"
    );
    assert!(!elsewhere.exists());
    assert!(!dir.path().join("real-crm.sqlite").exists());
    assert!(!dir.path().join(".snapsync").exists());
    assert!(
        stdout.contains(
            "  CRM store  w/crm.sqlite: jdoe, asmith, mlopez with 150 generated items each\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("gen-42-"),
        "jdoe's items come from seed 42:\n{stdout}"
    );
    Snapsync::new(dir.path())
        .args(["plan", "w/snapshots.d", "--detailed-exitcode"])
        .run()
        .success();

    let out = Snapsync::new(dir.path())
        .args(["demo", "--items", "99"])
        .run()
        .code(2);
    assert!(
        out.stderr().contains("99 is not in 100..=1000000"),
        "{}",
        out.stderr()
    );
}
