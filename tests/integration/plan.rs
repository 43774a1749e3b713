//! `snapsync plan` through the real binary: formats, exit codes, the saved
//! plan, and that it writes nothing.

use std::path::Path;

use crate::support::{Run, Snapsync, World, assert_quiet_with_closed_stdout, project, two_users};

const NOW: &str = "2026-11-25T12:00:00Z";

#[test]
fn plan_shows_the_changes_and_detailed_exitcode_says_there_are_some() {
    let dir = project(50);
    let out = Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "-s", "send-all"])
        .run()
        .success();
    let stdout = out.stdout();
    assert!(
        stdout.starts_with("Snapshot send-all: send CRM → office, full  [snapshots.d/world.yaml:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "    scheduleItems: CRM user jdoe (scheduleItems) → vdir office: jdoe/calendar\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("+ create "), "{stdout}");
    assert!(
        stdout.ends_with("Plan: 50 to create, 0 to update, 0 to delete; 0 unchanged.\n"),
        "{stdout}"
    );
    Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "--detailed-exitcode"])
        .run()
        .code(2);
}

#[test]
fn nothing_to_do_exits_zero_even_with_detailed_exitcode() {
    let dir = project(0);
    // jdoe is in the CRM store, with no items.
    snapsync::endpoint::crm::CrmStore::open(&dir.path().join("data/crm.sqlite"))
        .and_then(|crm| crm.store_items("jdoe", &[]))
        .expect("the CRM user");
    let out = Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "--detailed-exitcode"])
        .run()
        .success();
    assert!(
        out.stdout()
            .ends_with("Plan: 0 to create, 0 to update, 0 to delete; 0 unchanged.\n")
    );
}

#[test]
fn plan_out_saves_a_versioned_json_plan_and_json_prints_the_same() {
    let dir = project(20);
    let out = Snapsync::new(dir.path())
        .args([
            "plan",
            "--now",
            NOW,
            "--format",
            "json",
            "--out",
            "plan.json",
        ])
        .run()
        .success();
    let saved = std::fs::read(dir.path().join("plan.json")).expect("the plan was saved");
    assert_eq!(saved, out.stdout);
    let plan: serde_json::Value = serde_json::from_slice(&saved).expect("JSON");
    assert_eq!(plan["formatVersion"], 2);
    assert_eq!(plan["now"], "2026-11-25T12:00:00Z");
    let send_all = &plan["snapshots"][0];
    assert_eq!(send_all["snapshot"], "send-all");
    let op = &send_all["links"][0]["sections"][0]["operations"][0];
    assert_eq!(op["action"], "create");
    assert!(op["uid"].as_str().is_some_and(|u| u.starts_with("gen-")));
    assert!(op["source"]["hash"].as_str().is_some_and(|h| h.len() == 64));
    let filtered = &plan["snapshots"][1];
    assert_eq!(filtered["filtered"], true);
    assert_eq!(filtered["filters"][0]["from"], "2026-10-31T23:00:00Z");
    // What the plan was made against, canonical, and its checksum.
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let office = &plan["targets"][0];
    assert_eq!(office["name"], "office");
    assert_eq!(office["type"], "vdir");
    assert_eq!(office["location"], root.join("vdir").display().to_string());
    assert_eq!(office["links"][0]["collections"]["tasks"], "jdoe/tasks");
    assert_eq!(
        plan["stores"]["state"],
        root.join("data/state.sqlite").display().to_string()
    );
    assert!(
        plan["checksum"]
            .as_str()
            .is_some_and(|c| c.starts_with("blake3:") && c.len() == 7 + 64),
        "{}",
        plan["checksum"]
    );
}

#[test]
fn an_unknown_snapshot_or_invalid_specs_fail_with_exit_1() {
    let dir = project(0);
    Snapsync::new(dir.path())
        .args(["plan", "-s", "nope"])
        .run()
        .code(1)
        .stderr_is(
            "error: no snapshot named nope in the specs (they define: send-all, send-november)\n",
        );
    std::fs::write(
        dir.path().join("snapshots.d/bad.yaml"),
        "apiVersion: snapsync/v1\nkind: Snapshot\n",
    )
    .expect("write");
    let out = Snapsync::new(dir.path()).args(["plan"]).run().code(1);
    assert!(
        out.stderr().contains("snapshots.d/bad.yaml"),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stdout(), "");
}

#[test]
fn plan_creates_no_store() {
    let dir = project(0);
    // No CRM store: nothing to send yet (a notice per link, not an error:
    // a store with no user at all is not a typo), and the plan still
    // creates nothing.
    let out = Snapsync::new(dir.path()).args(["plan"]).run().success();
    assert!(
        out.stdout()
            .contains("the CRM store holds no users yet: nothing to send for CRM user `jdoe`"),
        "{}",
        out.stdout()
    );
    assert!(!Path::new(&dir.path().join("data")).exists());
}

#[test]
fn an_unknown_snapshot_suggests_the_nearest_name() {
    let dir = project(0);
    Snapsync::new(dir.path())
        .args(["plan", "-s", "send-al"])
        .run()
        .code(1)
        .stderr_is(
            "error: no snapshot named send-al in the specs; did you mean `send-all`? \
         (they define: send-all, send-november)\n",
        );
    let out = Snapsync::new(dir.path())
        .args(["apply", "-s", "send-novembre"])
        .run()
        .code(1);
    assert!(
        out.stderr().contains("did you mean `send-november`?"),
        "{}",
        out.stderr()
    );
}

#[test]
fn markdown_says_no_changes_plainly_instead_of_an_empty_fold() {
    let dir = project(5);
    Snapsync::new(dir.path())
        .args(["apply", "--yes", "--now", NOW, "-s", "send-all"])
        .run()
        .success();
    Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "--format", "markdown"])
        .run()
        .success().stdout_is("### snapsync plan\n\n\
         | snapshot | direction | target | create | restore | update | delete | orphans kept | unchanged | not matched |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | send-all | send | office | 0 | 0 | 0 | 0 | 0 | 5 | 0 |\n\
         | send-november | send | office | 0 | 0 | 0 | 0 | 0 | 1 | 4 |\n\
         \n\
         Plan: 0 to create, 0 to update, 0 to delete; 6 unchanged; 4 not matched.\n\
         \n\
         send-all: no changes.\n\
         \n\
         send-november: no changes.\n");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let dir = project(5);
    for args in [
        &["schema"][..],
        &["validate"],
        &["validate", "--format", "json"],
        &["plan", "--now", NOW],
        &["plan", "--now", NOW, "--format", "json"],
        &["plan", "--now", NOW, "--format", "markdown"],
        &["crm", "users", "--format", "json"],
        &["crm", "export", "--user", "jdoe", "--out", "x"],
        &[
            "crm", "export", "--user", "jdoe", "--out", "x", "--format", "json",
        ],
    ] {
        assert_quiet_with_closed_stdout(dir.path(), args);
    }
}

#[test]
fn an_apply_whose_reader_goes_away_still_applies_and_says_how_it_went() {
    let dir = project(5);
    let out = Snapsync::new(dir.path())
        .args(["apply", "--yes", "-s", "send-all"])
        .closed_stdout()
        .run();
    assert_eq!(
        (out.status.code(), out.stderr_besides_stores().as_str()),
        (Some(0), "")
    );
    let written: usize = ["calendar", "tasks", "contacts"]
        .iter()
        .map(|c| std::fs::read_dir(dir.path().join("vdir/jdoe").join(c)).map_or(0, Iterator::count))
        .sum();
    assert_eq!(written, 5, "the apply stopped when its output went unread");
    // With --format json the plan goes to stderr and the report to stdout.
    let out = Snapsync::new(dir.path())
        .args(["apply", "--yes", "-s", "send-all", "--format", "json"])
        .closed_stdout()
        .run()
        .success();
    assert!(!out.stderr().contains("error"), "{}", out.stderr());
}

#[test]
fn a_snapshot_naming_a_disabled_link_is_a_warning_and_its_plan_skips_the_link() {
    let dir = project(5);
    let path = dir.path().join("snapshots.d/world.yaml");
    let specs = std::fs::read_to_string(&path).expect("read the specs");
    // jdoe's outbound is disabled; send-november still names jdoe.
    let specs = specs.replace(
        "      contacts: jdoe/contacts\n",
        "      contacts: jdoe/contacts\n      outbound: disabled\n",
    ) + "---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: get-all }
spec: { direction: get, target: office }
";
    std::fs::write(&path, specs).expect("write the specs");

    let out = Snapsync::new(dir.path()).args(["validate"]).run().success();
    let stderr = out.stderr();
    assert!(stderr.contains("spec::disabled-link"), "{stderr}");
    assert!(
        stderr.contains("link `jdoe` has outbound synchronization disabled"),
        "{stderr}"
    );
    assert!(!stderr.contains("Advice:"), "{stderr}");

    // Read-only commands and unrelated snapshots work.
    Snapsync::new(dir.path()).args(["links"]).run().success();
    Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "-s", "get-all"])
        .run()
        .success();

    // The snapshot that names the link plans it as skipped.
    let out = Snapsync::new(dir.path())
        .args(["plan", "--now", NOW, "-s", "send-november"])
        .run()
        .success();
    let stdout = out.stdout();
    assert!(
        stdout.contains("link jdoe skipped: outbound is disabled in target office"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Plan: 0 to create, 0 to update, 0 to delete; 0 unchanged.\n"),
        "{stdout}"
    );
}

/// The `two-users` world with a full send, a filtered send that leaves
/// items out, and gets from a target that holds items: a plan of every
/// kind of section.
fn every_kind_of_plan() -> World {
    two_users(8, 4)
}

/// `out`'s standard output with what varies from run to run masked: the
/// world's folder (as given and canonical) as `[WORLD]`, a vdir file's
/// version (its modification time, size and inode) as `[file version]`,
/// and the plan's checksum (which covers both) as `[checksum]`.
fn stable(world: &World, out: &Run) -> String {
    let mut text = out.stdout();
    let canonical = std::fs::canonicalize(world.path()).expect("canonical");
    for root in [canonical.as_path(), world.path()] {
        text = text.replace(root.to_str().expect("UTF-8"), "[WORLD]");
    }
    let mut masked = String::new();
    for line in text.split_inclusive('\n') {
        let starts = |key: &str| line.trim_start().starts_with(key);
        match (starts("\"version\": \""), starts("\"checksum\": \"blake3:")) {
            (true, _) if line.contains('-') => {
                let indent = &line[..line.len() - line.trim_start().len()];
                masked.push_str(indent);
                masked.push_str("\"version\": \"[file version]\",\n");
            }
            (_, true) => masked.push_str("  \"checksum\": \"blake3:[checksum]\"\n"),
            _ => masked.push_str(line),
        }
    }
    masked
}

/// The text plan: per snapshot its filters and warnings, per link and item
/// type its operations, what was left out, and the totals.
#[test]
fn the_plan_text_of_every_kind_of_section_is_pinned() {
    let world = every_kind_of_plan();
    let out = world
        .snapsync()
        .args(["plan", "--now", NOW])
        .run()
        .success();
    insta::assert_snapshot!("plan_text", stable(&world, &out));
}

/// Markdown is a pull request comment: a table of counts per snapshot, the
/// totals, then a fold with each snapshot's changes.
#[test]
fn the_plan_markdown_of_every_kind_of_section_is_pinned() {
    let world = every_kind_of_plan();
    let out = world
        .snapsync()
        .args(["plan", "--now", NOW, "--format", "markdown"])
        .run()
        .success();
    insta::assert_snapshot!("plan_markdown", stable(&world, &out));
}

/// The JSON plan: what it was made against (stores, targets, links and
/// their folders), and every operation with its source's version and hash.
#[test]
fn the_plan_json_of_every_kind_of_section_is_pinned() {
    let world = every_kind_of_plan();
    let out = world
        .snapsync()
        .args(["plan", "--now", NOW, "--format", "json"])
        .run()
        .success();
    insta::assert_snapshot!("plan_json", stable(&world, &out));
}
