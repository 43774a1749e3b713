//! `snapsync links`, `targets` and `runs` through the real binary: the
//! links' sync state as declared and recorded, the outbound-pending
//! lifecycle of DESIGN 2.4 end to end, and the journal of applies.

#![allow(
    clippy::too_many_lines,
    reason = "a test tells one scenario from start to finish"
)]

use std::path::Path;

use crate::support::{Snapsync, assert_quiet_with_closed_stdout, project, refuse_writes};

/// Runs snapsync, expects exit code 0, returns its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    Snapsync::new(dir).args(args).run().success().stdout()
}

/// Runs snapsync with `--format json` appended, expects exit code 0 and
/// JSON of format version 1.
fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = args.iter().copied().chain(["--format", "json"]).collect();
    let value: serde_json::Value =
        serde_json::from_str(&ok(dir, &args)).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(value["formatVersion"], 1, "{args:?}: {value}");
    value
}

/// Replaces every local time (`2026-11-25 13:05`, with `:07` seconds or
/// not) by a placeholder of the same width, so tables keep their alignment.
fn mask_times(text: &str) -> String {
    const MINUTE: &[u8] = b"dddd-dd-dd dd:dd";
    let fits = |bytes: &[u8], pattern: &[u8]| {
        bytes.len() >= pattern.len()
            && bytes.iter().zip(pattern).all(|(b, p)| match p {
                b'd' => b.is_ascii_digit(),
                _ => b == p,
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if fits(&bytes[i..], MINUTE) {
            out.push_str("YYYY-MM-DD hh:mm");
            i += MINUTE.len();
            if fits(&bytes[i..], b":dd") {
                out.push_str(":ss");
                i += 3;
            }
        } else {
            let c = text[i..].chars().next().expect("a character");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The cells of a table line: columns are two or more spaces apart.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// Appends a get snapshot of every link of `office` to the project's specs.
fn add_get_snapshot(dir: &Path) {
    let path = dir.join("snapshots.d/world.yaml");
    let mut specs = std::fs::read_to_string(&path).expect("read the specs");
    specs.push_str(
        "---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: get-all }
spec:
  direction: get
  target: office
",
    );
    std::fs::write(&path, specs).expect("write the specs");
}

/// Declares the link's outbound flag. Disabling it also lets
/// `send-november` cover every link instead of naming jdoe (naming a
/// disabled link is only a validation warning, which these tests keep out
/// of their output).
fn set_outbound(dir: &Path, enabled: bool) {
    let path = dir.join("snapshots.d/world.yaml");
    let specs = std::fs::read_to_string(&path).expect("read the specs");
    let specs = specs
        .replace("  links: [jdoe]\n", "")
        .replace("      outbound: disabled\n", "")
        .replace("      outbound: enabled\n", "");
    let flag = if enabled { "enabled" } else { "disabled" };
    let specs = specs.replace(
        "      contacts: jdoe/contacts\n",
        &format!("      contacts: jdoe/contacts\n      outbound: {flag}\n"),
    );
    std::fs::write(&path, specs).expect("write the specs");
}

const LINKS_HEADER: &str = "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET  LAST SEND  SCHEDULE ITEMS  TASKS       CONTACTS";

#[test]
fn a_fresh_project_shows_the_declared_flags_and_nothing_recorded() {
    let dir = project(0);
    assert_eq!(
        ok(dir.path(), &["links"]),
        format!(
            "{LINKS_HEADER}\n\
             office  jdoe  jdoe  enabled  enabled        0  -         -          jdoe/calendar   jdoe/tasks  jdoe/contacts\n"
        )
    );
    assert_eq!(
        ok(dir.path(), &["targets"]),
        "TARGET  TYPE  LOCATION  LINKS  PENDING\n\
         office  vdir  vdir          1        0\n"
    );
    assert_eq!(
        ok(dir.path(), &["runs"]),
        "No runs recorded in snapshots.d/../data/state.sqlite.\n"
    );

    let links = json(dir.path(), &["links"]);
    assert_eq!(links["stateStore"], "snapshots.d/../data/state.sqlite");
    let jdoe = &links["links"][0];
    assert_eq!(jdoe["target"], "office");
    assert_eq!(jdoe["link"], "jdoe");
    assert_eq!(jdoe["user"], "jdoe");
    assert_eq!(jdoe["collections"]["scheduleItems"], "jdoe/calendar");
    assert_eq!(jdoe["collections"]["contacts"], "jdoe/contacts");
    assert_eq!(
        (&jdoe["inbound"], &jdoe["outbound"]),
        (&true.into(), &true.into())
    );
    assert_eq!(jdoe["outboundPending"], false);
    assert!(jdoe["recorded"].is_null() && jdoe["lastGet"].is_null() && jdoe["lastSend"].is_null());
    assert_eq!(jdoe["syncedTotal"], 0);
    assert_eq!(jdoe["notes"], serde_json::json!([]));
    assert_eq!(links["links"].as_array().map(Vec::len), Some(1));
    assert_eq!(links["undeclaredLinks"], serde_json::json!([]));

    let targets = json(dir.path(), &["targets"]);
    assert_eq!(
        targets["targets"],
        serde_json::json!([{
            "name": "office",
            "type": "vdir",
            "location": "vdir",
            "links": 1,
            "pendingLinks": 0,
        }])
    );
    let runs = json(dir.path(), &["runs"]);
    assert_eq!(runs["runs"], serde_json::json!([]));

    // Reading never creates the stores.
    assert!(!dir.path().join("data").exists());

    Snapsync::new(dir.path())
        .args(["links", "--target", "home"])
        .run()
        .code(1)
        .stderr_is("error: no target named home in the specs (they define: office)\n");
    Snapsync::new(dir.path())
        .args(["links", "--target", "offce"])
        .run()
        .code(1)
        .stderr_is(
            "error: no target named offce in the specs; did you mean `office`? \
             (they define: office)\n",
        );
}

#[test]
fn after_a_send_links_show_the_run_and_the_synced_items() {
    let dir = project(50);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    assert_eq!(
        mask_times(&ok(dir.path(), &["links", "--target", "office"])),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET  LAST SEND                          SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  jdoe  jdoe  enabled  enabled       50  -         send-all (run 1) YYYY-MM-DD hh:mm  jdoe/calendar   jdoe/tasks  jdoe/contacts\n"
    );
    let listed_links = json(dir.path(), &["links"]);
    let jdoe = &listed_links["links"][0];
    assert_eq!(jdoe["syncedTotal"], 50);
    assert_eq!(jdoe["lastSend"]["id"], 1);
    assert_eq!(jdoe["lastSend"]["snapshot"], "send-all");
    assert_eq!(jdoe["lastSend"]["status"], "succeeded");
    assert!(jdoe["lastSend"]["finished"].is_string());
    assert_eq!(
        jdoe["recorded"],
        serde_json::json!({"inbound": true, "outbound": true, "outboundPending": false, "pendingSince": null})
    );
    let synced = &jdoe["synced"];
    assert_eq!(
        synced["scheduleItems"].as_u64().unwrap()
            + synced["tasks"].as_u64().unwrap()
            + synced["contacts"].as_u64().unwrap(),
        50
    );

    // The run, listed and shown.
    let runs = json(dir.path(), &["runs"]);
    let run = &runs["runs"][0];
    let actor = run["actor"].as_str().expect("an actor").to_owned();
    assert_eq!(run["id"], 1);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["direction"], "send");
    assert_eq!(run["counts"]["create"]["applied"], 50);
    assert_eq!(run["failures"], 0);
    assert!(run["durationSeconds"].is_f64());

    let listed = ok(dir.path(), &["runs"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(
        cells(lines[0]),
        [
            "RUN",
            "STARTED",
            "DURATION",
            "SNAPSHOT",
            "DIRECTION",
            "TARGET",
            "STATUS",
            "CREATED",
            "RESTORED",
            "UPDATED",
            "DELETED",
            "FAILURES",
            "ACTOR"
        ]
    );
    let row = cells(lines[1]);
    assert_eq!(mask_times(row[1]), "YYYY-MM-DD hh:mm:ss");
    assert!(row[2].ends_with(" s"), "{row:?}");
    assert_eq!(
        [&row[..1], &row[3..]].concat(),
        [
            "1",
            "send-all",
            "send",
            "office",
            "succeeded",
            "50",
            "0",
            "0",
            "0",
            "0",
            actor.as_str()
        ]
    );
    // Every column starts where its header does (numbers end there).
    assert_eq!(lines[0].find("SNAPSHOT"), lines[1].find("send-all"));
    assert_eq!(lines[0].find("STATUS"), lines[1].find("succeeded"));
    // (The count is looked for after the status: the duration before it
    // may hold "50" too, as in "0.50 s".)
    let status = lines[1].find("succeeded").expect("a status");
    assert_eq!(
        lines[0].find("CREATED").map(|i| i + "CREATED".len()),
        lines[1][status..].find("50").map(|i| status + i + 2)
    );

    let shown = mask_times(&ok(dir.path(), &["runs", "show", "1"]));
    let (head, table) = shown
        .split_once("\n\n")
        .expect("a summary, then operations");
    let head: Vec<&str> = head.lines().collect();
    assert_eq!(head[0], "Run 1: send-all (send CRM → office), succeeded");
    assert!(
        head[1].starts_with("  started  YYYY-MM-DD hh:mm:ss, took "),
        "{}",
        head[1]
    );
    assert_eq!(
        head[2..],
        [
            format!("  by       {actor}").as_str(),
            "  plan     made by the apply itself",
            "  result   50 created, 0 restored, 0 updated, 0 deleted; 0 failed, 0 stale",
        ]
    );
    let table: Vec<&str> = table.lines().collect();
    assert_eq!(table.len(), 51, "{shown}");
    assert_eq!(
        cells(table[0]),
        [
            "SEQ", "ACTION", "LINK", "TYPE", "UID", "LABEL", "OUTCOME", "MESSAGE"
        ]
    );
    let first = cells(table[1]);
    assert_eq!(first[..4], ["1", "create", "jdoe", "scheduleItems"]);
    assert!(first[4].starts_with("gen-"), "{first:?}");
    assert_eq!(first.last(), Some(&"applied"));

    let shown = json(dir.path(), &["runs", "show", "1"]);
    assert_eq!(shown["run"]["id"], 1);
    let operations = shown["operations"].as_array().expect("operations");
    assert_eq!(operations.len(), 50);
    assert_eq!(operations[0]["seq"], 1);
    assert_eq!(operations[0]["action"], "create");
    assert_eq!(operations[0]["outcome"], "applied");

    let out = Snapsync::new(dir.path())
        .args(["runs", "show", "999"])
        .run()
        .code(1)
        .stdout_is("");
    // After the line that names the store.
    assert_eq!(
        out.stderr().lines().nth(1).unwrap_or_default(),
        "error: no run 999 in snapshots.d/../data/state.sqlite; `snapsync runs` lists them"
    );
}

#[test]
fn outbound_enabled_again_is_pending_until_a_send_covers_the_link() {
    let dir = project(50);
    add_get_snapshot(dir.path());
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);

    // Outbound off: not recorded until an apply covers the link (a send
    // snapshot skips it, so a get does).
    set_outbound(dir.path(), false);
    assert_eq!(
        mask_times(&ok(dir.path(), &["links"])),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET  LAST SEND                          SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  jdoe  jdoe  enabled  disabled      50  -         send-all (run 1) YYYY-MM-DD hh:mm  jdoe/calendar   jdoe/tasks  jdoe/contacts\n\
         \n\
         office/jdoe: outbound: enabled → disabled in the specs, not yet recorded by an apply: the next apply of a snapshot of target office records it; send snapshots skip the link from then on, and enabling it again after that makes outbound pending until a send snapshot covering the link is applied (enabled again before any apply, nothing is pending: no send skipped it)\n"
    );
    ok(dir.path(), &["apply", "--yes", "-s", "get-all"]);
    assert_eq!(
        mask_times(&ok(dir.path(), &["links"])),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET                          LAST SEND                          SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  jdoe  jdoe  enabled  disabled      50  get-all (run 2) YYYY-MM-DD hh:mm  send-all (run 1) YYYY-MM-DD hh:mm  jdoe/calendar   jdoe/tasks  jdoe/contacts\n"
    );

    // On again: pending before any apply records it, and the plan says so.
    set_outbound(dir.path(), true);
    assert_eq!(
        mask_times(&ok(dir.path(), &["links"])),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET                          LAST SEND                          SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  jdoe  jdoe  enabled  pending       50  get-all (run 2) YYYY-MM-DD hh:mm  send-all (run 1) YYYY-MM-DD hh:mm  jdoe/calendar   jdoe/tasks  jdoe/contacts\n\
         \n\
         office/jdoe: outbound: disabled → enabled in the specs, not yet recorded by an apply: the next apply of a snapshot of target office records it, and outbound stays pending until a send snapshot covering the link is applied without failures: items were synced, and changes made in the CRM while it was off were not sent\n"
    );
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(jdoe["outboundPending"], true);
    assert_eq!(jdoe["pendingRecorded"], false);
    assert!(jdoe["pendingSince"].is_null());
    assert_eq!(jdoe["recorded"]["outbound"], false);
    assert_eq!(
        ok(dir.path(), &["targets"]),
        "TARGET  TYPE  LOCATION  LINKS  PENDING\n\
         office  vdir  vdir          1        1\n\
         \n\
         office: 1 link with outbound pending; `snapsync links --target office` shows which\n"
    );
    assert_eq!(
        json(dir.path(), &["targets"])["targets"][0]["pendingLinks"],
        1
    );
    let plan = ok(dir.path(), &["plan", "-s", "send-all"]);
    assert!(plan.contains("outbound is pending"), "{plan}");

    // A get records it as pending, with the time; it stays pending.
    ok(dir.path(), &["apply", "--yes", "-s", "get-all"]);
    let listed = mask_times(&ok(dir.path(), &["links"]));
    assert!(
        listed.ends_with(
            "\n\noffice/jdoe: outbound pending since YYYY-MM-DD hh:mm (enabled again after items \
             were synced); a send snapshot covering the link clears it\n"
        ),
        "{listed}"
    );
    assert_eq!(
        cells(listed.lines().nth(1).expect("a row"))[..6],
        ["office", "jdoe", "jdoe", "enabled", "pending", "50"]
    );
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(jdoe["pendingRecorded"], true);
    assert!(jdoe["pendingSince"].is_string(), "{jdoe}");
    assert_eq!(jdoe["recorded"]["outboundPending"], true);

    // A send covering the link clears it.
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    assert_eq!(
        mask_times(&ok(dir.path(), &["links"])),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET                          LAST SEND                          SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  jdoe  jdoe  enabled  enabled       50  get-all (run 3) YYYY-MM-DD hh:mm  send-all (run 4) YYYY-MM-DD hh:mm  jdoe/calendar   jdoe/tasks  jdoe/contacts\n"
    );
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(jdoe["outboundPending"], false);
    assert!(jdoe["recorded"]["pendingSince"].is_null());
    assert_eq!(
        ok(dir.path(), &["targets"]),
        "TARGET  TYPE  LOCATION  LINKS  PENDING\n\
         office  vdir  vdir          1        0\n"
    );
    let plan = ok(dir.path(), &["plan", "-s", "send-all"]);
    assert!(!plan.contains("pending"), "{plan}");

    // The journal: newest first, with their counts and status.
    let listed = ok(dir.path(), &["runs"]);
    let rows: Vec<Vec<&str>> = listed.lines().skip(1).map(cells).collect();
    let summary: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| [r[0], r[3], r[4], r[6], r[7]])
        .collect();
    assert_eq!(
        summary,
        [
            ["4", "send-all", "send", "succeeded", "0"],
            ["3", "get-all", "get", "succeeded", "0"],
            ["2", "get-all", "get", "succeeded", "0"],
            ["1", "send-all", "send", "succeeded", "50"],
        ]
    );
    let limited = ok(dir.path(), &["runs", "--limit", "2"]);
    assert_eq!(limited.lines().count(), 5, "{limited}");
    assert!(
        limited.ends_with("\nThe last 2 runs; --limit N lists more (0 lists every run).\n"),
        "{limited}"
    );
    let ids: Vec<u64> = json(dir.path(), &["runs", "--limit", "0"])["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_u64().expect("an id"))
        .collect();
    assert_eq!(ids, [4, 3, 2, 1]);
    let shown = ok(dir.path(), &["runs", "show", "4"]);
    assert!(
        shown.ends_with("\nIt journaled no operation: there was nothing to write.\n"),
        "{shown}"
    );
}

/// A send snapshot that skips a link because its outbound is off still
/// records the flag, so switching it back on is seen as a re-enable.
#[test]
fn a_send_that_skips_a_disabled_link_records_the_flag() {
    let dir = project(20);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    set_outbound(dir.path(), false);
    let out = ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    assert!(
        out.contains("note: link jdoe skipped: outbound is disabled in target office"),
        "{out}"
    );
    assert_eq!(
        json(dir.path(), &["links"])["links"][0]["recorded"]["outbound"],
        false
    );
    set_outbound(dir.path(), true);
    let plan = ok(dir.path(), &["plan", "-s", "send-all"]);
    assert!(
        plan.contains(
            "note: outbound is pending (re-enabled after items were synced): applying this send snapshot without failures resumes it"
        ),
        "{plan}"
    );
}

#[test]
fn runs_show_lists_the_operations_that_were_not_applied_first() {
    let dir = project(50);
    ok(dir.path(), &["plan", "-s", "send-all", "--out", "all.json"]);
    // Some items reach the target first: the saved plan's creates of them
    // find them there, and are stale.
    ok(dir.path(), &["apply", "--yes", "-s", "send-november"]);
    Snapsync::new(dir.path())
        .args(["apply", "--yes", "--plan", "all.json"])
        .run()
        .code(3);

    let run = json(dir.path(), &["runs", "show", "2"]);
    let stale = run["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| o["outcome"] == "stale")
        .count();
    assert!(stale > 0 && stale < 50, "{stale} stale");
    assert_eq!(run["run"]["status"], "failed");
    assert_eq!(run["run"]["failures"], stale);
    let digest = run["run"]["planDigest"].as_str().expect("a digest");
    let actor = run["run"]["actor"].as_str().expect("an actor");

    let shown = mask_times(&ok(dir.path(), &["runs", "show", "2"]));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "Run 2: send-all (send CRM → office), failed");
    assert_eq!(
        lines[2..=7],
        [
            format!("  by       {actor}"),
            format!("  plan     a saved plan, digest {digest}"),
            format!(
                "  result   {} created, 0 restored, 0 updated, 0 deleted; 0 failed, {stale} stale",
                50 - stale
            ),
            String::new(),
            if stale == 1 {
                "1 of 50 operations was not applied; it is listed first.".to_owned()
            } else {
                format!("{stale} of 50 operations were not applied; they are listed first.")
            },
            String::new(),
        ]
    );
    let outcomes: Vec<&str> = lines[9..]
        .iter()
        .map(|l| {
            if l.contains("  stale  ") {
                "stale"
            } else {
                "applied"
            }
        })
        .collect();
    assert_eq!(outcomes.len(), 50);
    assert!(outcomes[..stale].iter().all(|o| *o == "stale"), "{shown}");
    assert!(outcomes[stale..].iter().all(|o| *o == "applied"), "{shown}");
    assert!(
        lines[9].ends_with(": the file already exists"),
        "{}",
        lines[9]
    );

    let listed = ok(dir.path(), &["runs"]);
    let newest = cells(listed.lines().nth(1).expect("a row"));
    assert_eq!(
        [newest[0], newest[6], newest[7], newest[11]],
        [
            "2",
            "failed",
            (50 - stale).to_string().as_str(),
            stale.to_string().as_str()
        ]
    );
}

#[test]
fn links_the_store_records_but_the_specs_no_longer_declare_are_listed_under_the_table() {
    let dir = project(50);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    let path = dir.path().join("snapshots.d/world.yaml");
    let specs = std::fs::read_to_string(&path).expect("read the specs");
    std::fs::write(
        &path,
        specs
            .replace("    - name: jdoe\n", "    - name: john\n")
            .replace("links: [jdoe]", "links: [john]"),
    )
    .expect("write the specs");
    assert_eq!(
        ok(dir.path(), &["links"]),
        "TARGET  LINK  USER  INBOUND  OUTBOUND  SYNCED  LAST GET  LAST SEND  SCHEDULE ITEMS  TASKS       CONTACTS\n\
         office  john  jdoe  enabled  enabled        0  -         -          jdoe/calendar   jdoe/tasks  jdoe/contacts\n\
         \n\
         office/jdoe: recorded in the state store (50 items synced) but no longer declared in the specs\n"
    );
    assert_eq!(
        json(dir.path(), &["links"])["undeclaredLinks"],
        serde_json::json!([{"target": "office", "link": "jdoe", "syncedTotal": 50}])
    );
}

#[test]
fn a_send_with_a_failed_write_leaves_outbound_pending() {
    let dir = project(50);
    add_get_snapshot(dir.path());
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    // Off, recorded by a get; on again: pending.
    set_outbound(dir.path(), false);
    ok(dir.path(), &["apply", "--yes", "-s", "get-all"]);
    set_outbound(dir.path(), true);
    ok(dir.path(), &["apply", "--yes", "-s", "get-all"]);
    assert_eq!(
        json(dir.path(), &["links"])["links"][0]["outboundPending"],
        true
    );

    // One event deleted at the target, and its folder refusing new files:
    // the send restores every other item but not that one.
    let calendar = dir.path().join("vdir/jdoe/calendar");
    let file = std::fs::read_dir(&calendar)
        .expect("the calendar folder")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "ics"))
        .expect("an event file");
    std::fs::remove_file(&file).expect("delete the event");
    let undo = refuse_writes(&calendar);
    let out = Snapsync::new(dir.path())
        .args(["apply", "--yes", "-s", "send-all"])
        .run();
    undo();
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr());
    assert!(
        out.stderr().contains("failed: send-all restore"),
        "{}",
        out.stderr()
    );
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(
        jdoe["outboundPending"], true,
        "a failed send does not resume outbound: {jdoe}"
    );

    // The same send without the failure resumes it.
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    assert_eq!(
        json(dir.path(), &["links"])["links"][0]["outboundPending"],
        false
    );
    assert!(file.exists(), "the event is back");
}

#[test]
fn an_interrupted_run_says_so_and_counts_what_its_records_show() {
    use snapsync::endpoint::{Href, Version};
    use snapsync::item::{ContentHash, ItemType};
    use snapsync::spec::types::Direction;
    use snapsync::state::{
        Action, JournalEntry, Outcome, RunStart, StateStore, SyncedItem, actor_from_env,
    };

    let dir = project(0);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("a data folder");
    // A send that began, had 384 items recorded as synced (one journaled),
    // and was killed: its store is dropped without finishing the run.
    {
        let mut store = StateStore::open(&data.join("state.sqlite")).expect("a state store");
        let run = store
            .begin_run(&RunStart {
                snapshot: "send-all".into(),
                direction: Direction::Send,
                target: "office".into(),
                actor: actor_from_env(),
                plan_digest: None,
                started: chrono::Utc::now(),
            })
            .expect("a run");
        let hash: ContentHash = "ab".repeat(32).parse().expect("a hash");
        let batch = store.batch().expect("a batch");
        for n in 0..384 {
            let uid = format!("item-{n}");
            batch
                .record_synced(&SyncedItem {
                    target: "office".into(),
                    link: "jdoe".into(),
                    item_type: ItemType::ScheduleItems,
                    uid: uid.clone(),
                    crm_href: Href(uid.clone()),
                    crm_hash: hash,
                    target_href: Href(format!("{uid}.ics")),
                    target_hash: hash,
                    target_version: Version("1".into()),
                    synced_at: chrono::Utc::now(),
                    run_id: run,
                })
                .expect("a record");
        }
        batch
            .record_operation(
                run,
                &JournalEntry {
                    seq: 1,
                    action: Action::Restore,
                    link: "jdoe".into(),
                    item_type: ItemType::ScheduleItems,
                    uid: "item-0".into(),
                    label: None,
                    outcome: Outcome::Applied,
                    message: None,
                },
            )
            .expect("a journal entry");
        batch.commit().expect("committed");
    }

    let listed = json(dir.path(), &["runs"]);
    let run = &listed["runs"][0];
    assert_eq!(run["status"], "interrupted");
    assert_eq!(run["counts"]["restore"]["applied"], 1);
    assert_eq!(run["syncedWithoutJournal"], 383);
    assert_eq!(run["durationSeconds"], serde_json::Value::Null);

    let text_list = ok(dir.path(), &["runs"]);
    let lines: Vec<&str> = text_list.lines().collect();
    assert_eq!(cells(lines[1])[6], "interrupted", "{text_list}");
    assert_eq!(
        lines[2..],
        [
            "",
            "Run 1 was interrupted: its state records show 383 more items synced by it than its \
             journal lists; operations in flight may have been carried out without being \
             recorded; applying the snapshot again converges"
        ],
        "{text_list}"
    );

    let shown = json(dir.path(), &["runs", "show", "1"]);
    assert_eq!(shown["run"]["status"], "interrupted");
    assert_eq!(shown["run"]["syncedWithoutJournal"], 383);
    assert_eq!(shown["operations"].as_array().map(Vec::len), Some(1));
    let shown = mask_times(&ok(dir.path(), &["runs", "show", "1"]));
    let head: Vec<&str> = shown.lines().take(6).collect();
    assert_eq!(head[0], "Run 1: send-all (send CRM → office), interrupted");
    assert_eq!(
        head[1],
        "  started  YYYY-MM-DD hh:mm:ss, interrupted before it finished: its state records \
         show 383 more items synced by it than its journal lists; operations in flight may \
         have been carried out without being recorded; applying the snapshot again converges"
    );
    assert_eq!(
        head[4..],
        [
            "  result   0 created, 1 restored, 0 updated, 0 deleted; 0 failed, 0 stale",
            "  records  383 more items recorded as synced by this run than its journal lists \
             (written before it stopped, or found already in sync)",
        ]
    );
}

/// Declared flags that differ from what the store recorded are said, with
/// what the next apply makes of them (DESIGN 2.4): a disable that no apply
/// recorded leaves nothing pending when it is undone.
#[test]
fn links_say_how_declared_flags_differ_from_the_recorded_ones() {
    let dir = project(20);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);

    set_outbound(dir.path(), false);
    let disabled = "outbound: enabled → disabled in the specs, not yet recorded by an apply: \
                    the next apply of a snapshot of target office records it; send snapshots \
                    skip the link from then on, and enabling it again after that makes outbound \
                    pending until a send snapshot covering the link is applied (enabled again \
                    before any apply, nothing is pending: no send skipped it)";
    let listed = ok(dir.path(), &["links"]);
    assert!(
        listed.ends_with(&format!("\n\noffice/jdoe: {disabled}\n")),
        "{listed}"
    );
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(
        jdoe["flagChanges"],
        serde_json::json!([{
            "flag": "outbound",
            "recorded": "enabled",
            "declared": "disabled",
            "nextApply": disabled.split_once("not yet recorded by an apply: ").expect("split").1,
        }])
    );

    // Enabled again before any apply recorded the disable: nothing to
    // record, nothing pending, nothing to say.
    set_outbound(dir.path(), true);
    let listed = ok(dir.path(), &["links"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(jdoe["flagChanges"], serde_json::json!([]));
    assert_eq!(jdoe["outboundPending"], false);
    assert_eq!(jdoe["notes"], serde_json::json!([]));

    // Disabled, recorded by an apply (a send that skips the link), then
    // enabled: the next apply makes outbound pending.
    set_outbound(dir.path(), false);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    set_outbound(dir.path(), true);
    let enabled = "outbound: disabled → enabled in the specs, not yet recorded by an apply: the \
                   next apply of a snapshot of target office records it, and outbound stays \
                   pending until a send snapshot covering the link is applied without failures: \
                   items were synced, and changes made in the CRM while it was off were not sent";
    let listed = ok(dir.path(), &["links"]);
    assert!(
        listed.ends_with(&format!("\n\noffice/jdoe: {enabled}\n")),
        "{listed}"
    );
    assert_eq!(cells(listed.lines().nth(1).expect("a row"))[4], "pending");
    let jdoe = &json(dir.path(), &["links"])["links"][0];
    assert_eq!(jdoe["flagChanges"][0]["recorded"], "disabled");
    assert_eq!(jdoe["flagChanges"][0]["declared"], "enabled");
    assert_eq!(jdoe["outboundPending"], true);
}

#[test]
fn a_damaged_state_store_says_which_store_and_what_is_safe_to_do() {
    let dir = project(5);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    let state = dir.path().join("data/state.sqlite");
    let hint = "  hint: it is safe to move it aside and let the next apply start a new one: \
                `mv snapshots.d/../data/state.sqlite snapshots.d/../data/state.sqlite.damaged` \
                (and its -wal and -shm files, if any). Nothing gets duplicated (items are matched \
                by UID), but the runner forgets what it synced: items deleted at the source since \
                their last sync show as orphans (kept, or deleted with `orphans: delete`) instead \
                of deletes, pending outbound flags and the run history are lost\n";

    // A real store, cut short.
    let length = std::fs::metadata(&state).expect("a store").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&state)
        .and_then(|f| f.set_len(length / 2))
        .expect("truncate");
    for args in [&["links"][..], &["plan"], &["runs"]] {
        let out = Snapsync::new(dir.path()).args(args).run();
        let stderr = out.stderr();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "the state store snapshots.d/../data/state.sqlite is damaged or is not a database \
                 (SQLite: the file has {} bytes, but its header says {length}: it was cut short)\n{hint}",
                length / 2
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("cut short").count(), 1, "{stderr}");
    }

    // Garbage: the cause is said once.
    std::fs::write(&state, vec![0xA5_u8; 8192]).expect("write");
    Snapsync::new(dir.path())
        .args(["links"])
        .run()
        .code(1)
        .stderr_is(format!(
            "Using the state store {} (from the Stores resource at snapshots.d/world.yaml:2)\n\
             error: cannot read the state store: the state store snapshots.d/../data/state.sqlite \
             is damaged or is not a database (SQLite: file is not a database)\n{hint}",
            state.canonicalize().expect("the store").display()
        ));
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let dir = project(5);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    for args in [
        &["runs"][..],
        &["runs", "--format", "json"],
        &["runs", "show", "1"],
        &["runs", "show", "1", "--format", "json"],
        &["links"],
        &["links", "--format", "json"],
        &["targets"],
        &["targets", "--format", "json"],
    ] {
        assert_quiet_with_closed_stdout(dir.path(), args);
    }
}

#[test]
fn counts_agree_with_their_nouns() {
    let dir = project(3);
    for _ in 0..2 {
        ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    }
    let listed = ok(dir.path(), &["runs", "--limit", "1"]);
    assert!(
        listed.ends_with("\nThe last 1 run; --limit N lists more (0 lists every run).\n"),
        "{listed}"
    );
    let listed = ok(dir.path(), &["runs", "--limit", "2"]);
    assert!(!listed.contains("The last"), "{listed}");
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    let listed = ok(dir.path(), &["runs", "--limit", "2"]);
    assert!(
        listed.ends_with("\nThe last 2 runs; --limit N lists more (0 lists every run).\n"),
        "{listed}"
    );
}

#[test]
fn targets_show_a_cleaned_location_absolute_outside_the_working_folder() {
    let dir = project(0);
    let specs = dir.path().join("snapshots.d/world.yaml");
    let yaml = std::fs::read_to_string(&specs).expect("specs");
    std::fs::create_dir(dir.path().join("vdir2")).expect("folder");
    std::fs::write(
        &specs,
        yaml.replace("  path: ../vdir\n", "  path: ./../vdir2/.\n"),
    )
    .expect("write");
    let targets = json(dir.path(), &["targets"]);
    assert_eq!(targets["targets"][0]["location"], "vdir2");
    // From inside the specs' folder, the target lies outside the working
    // folder: its absolute path is shown.
    let inner = dir.path().join("snapshots.d");
    let targets = json(&inner, &["targets", "."]);
    let root = dir.path().canonicalize().expect("a real path");
    assert_eq!(
        targets["targets"][0]["location"],
        root.join("vdir2").display().to_string()
    );
}
