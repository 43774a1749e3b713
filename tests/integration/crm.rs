//! `snapsync crm import | export | users`, driven through the real binary,
//! and the round trip through khal, todoman and khard.

use std::collections::BTreeMap;
use std::path::Path;

use snapsync::endpoint::Collection;
use snapsync::endpoint::crm::CrmStore;
use snapsync::item::{ContentHash, ItemType};

use crate::support::{Snapsync, World};

const BROKEN: &str = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:no-start\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// A folder to import: an event and a task in `in/work.ics`, a contact in
/// `in/sub/people.vcf`.
fn folder() -> World {
    World::copy("crm-import")
}

/// [`folder`], imported for jdoe into the default CRM store.
fn imported() -> World {
    let dir = folder();
    Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    dir
}

/// Stores whose CRM store is `../data/crm.sqlite`.
const STORES: &str = "apiVersion: snapsync/v1\nkind: Stores\nmetadata:\n  name: stores\nspec:\n  crm:\n    sqlite: ../data/crm.sqlite\n";

#[test]
fn import_reports_counts_and_the_store_has_the_items() {
    let dir = folder();
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    let stdout = out.stdout();
    assert!(
        stdout.starts_with(
            "Imported 3 items from 2 files for CRM user jdoe into .snapsync/crm.sqlite in "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("scheduleItems        1 created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tasks                1 created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("contacts             1 created"),
        "{stdout}"
    );

    Snapsync::new(dir.path())
        .args(["crm", "users"])
        .run()
        .stdout_is(
            "USER  SCHEDULEITEMS    TASKS  CONTACTS\njdoe              1        1         1\n",
        );
    // Importing again changes nothing.
    let again = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run();
    assert!(
        again
            .stdout()
            .contains("scheduleItems        0 created        0 updated        1 unchanged")
    );
}

#[test]
fn a_malformed_item_is_reported_with_its_file_and_the_rest_is_imported() {
    let dir = folder();
    std::fs::write(dir.path().join("in/broken.ics"), BROKEN).unwrap();
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .code(3);
    let stderr = out.stderr();
    let broken = Path::new("in").join("broken.ics");
    assert!(
        stderr.contains(&format!(
            "error: {}: line 2: VEVENT no-start: DTSTART is missing",
            broken.display()
        )),
        "{stderr}"
    );
    let stdout = out.stdout();
    assert!(stdout.contains("Imported 3 items from 3 files"), "{stdout}");
    assert!(
        stdout.contains("1 item or file could not be imported"),
        "{stdout}"
    );
}

#[test]
fn import_json_is_a_versioned_report() {
    let dir = folder();
    std::fs::write(dir.path().join("in/broken.ics"), BROKEN).unwrap();
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "--format", "json", "in"])
        .run()
        .code(3);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["user"], "jdoe");
    assert_eq!(report["files"], 3);
    assert_eq!(report["items"]["scheduleItems"]["created"], 1);
    assert_eq!(report["items"]["contacts"]["created"], 1);
    assert_eq!(report["problems"][0]["file"], "in/broken.ics");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DTSTART is missing")
    );
}

#[test]
fn import_of_a_missing_path_or_an_empty_folder_fails_before_writing() {
    let dir = folder();
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "nope"])
        .run()
        .code(1);
    assert!(
        out.stderr().starts_with("error: nope: cannot read: "),
        "{}",
        out.stderr()
    );

    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "empty"])
        .run()
        .code(1)
        .stderr_is("error: no .ics or .vcf file found in empty\n");
}

#[test]
fn the_crm_store_comes_from_the_specs_stores_resource() {
    let dir = folder();
    dir.write("snapshots.d/stores.yaml", STORES);
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    assert!(dir.path().join("data/crm.sqlite").is_file());
    assert!(
        out.stdout().contains("into snapshots.d/../data/crm.sqlite"),
        "{}",
        out.stdout()
    );

    // --crm wins over the specs.
    let out = Snapsync::new(dir.path())
        .args(["crm", "users", "--crm", "other.sqlite"])
        .run()
        .success();
    assert!(
        out.stdout().starts_with("other.sqlite holds no user yet"),
        "{}",
        out.stdout()
    );
}

#[test]
fn invalid_specs_do_not_silently_pick_another_store() {
    let dir = folder();
    dir.write(
        "snapshots.d/bad.yaml",
        "apiVersion: snapsync/v1\nkind: Stores\n",
    );
    Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .code(1)
        .stderr_is(
            "error: the specs in snapshots.d are not valid, so the CRM store they name is unknown; \
         run `snapsync validate snapshots.d`, or pass --crm PATH\n",
        );
    assert!(!dir.path().join(".snapsync").exists());
}

/// Every item of a user in a CRM store: (type, UID) → (hash, label).
fn contents(store: &Path, user: &str) -> BTreeMap<(ItemType, String), (ContentHash, String)> {
    let store = CrmStore::open(store).expect("the store opens");
    let mut out = BTreeMap::new();
    for item_type in ItemType::ALL {
        for entry in store.collection(user, item_type).list().expect("listing") {
            let meta = entry.meta.expect("the CRM lists metadata");
            out.insert(
                (item_type, meta.uid),
                (meta.hash, meta.label.unwrap_or_default()),
            );
        }
    }
    out
}

/// Import, export, import the export: every item keeps its hash; and khal,
/// todoman and khard read the export and list exactly the same items.
#[test]
fn round_trip_through_export_and_the_pim_tools() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let run = |args: &[&str]| Snapsync::new(dir.path()).args(args).run().success();
    run(&[
        "generate",
        "--items",
        "400",
        "--seed",
        "42",
        "--per-file",
        "150",
        "--out",
        "in",
    ]);
    run(&[
        "crm",
        "import",
        "--user",
        "jdoe",
        "--crm",
        "first.sqlite",
        "in",
    ]);
    let exported = run(&[
        "crm",
        "export",
        "--user",
        "jdoe",
        "--crm",
        "first.sqlite",
        "--out",
        "out",
    ]);
    assert!(
        exported
            .stdout()
            .starts_with("Exported 400 items of CRM user jdoe to out in "),
        "{}",
        exported.stdout()
    );
    run(&[
        "crm",
        "import",
        "--user",
        "jdoe",
        "--crm",
        "second.sqlite",
        "out",
    ]);

    let first = contents(&dir.path().join("first.sqlite"), "jdoe");
    let second = contents(&dir.path().join("second.sqlite"), "jdoe");
    assert_eq!(first.len(), 400);
    assert_eq!(first, second, "an item changed on the round trip");

    let expect = |item_type: ItemType| -> Vec<(String, String)> {
        first
            .iter()
            .filter(|((t, _), _)| *t == item_type)
            .map(|((_, uid), (_, label))| (uid.clone(), label.clone()))
            .collect()
    };
    let out = dir.path().join("out");
    let mut events = crate::support::khal_events(&out.join("scheduleItems"));
    events.sort();
    assert_eq!(events, expect(ItemType::ScheduleItems), "khal");
    let mut tasks = crate::support::todoman_tasks(&out.join("tasks"));
    tasks.sort();
    assert_eq!(tasks, expect(ItemType::Tasks), "todoman");
    let mut contacts = crate::support::khard_contacts(&out.join("contacts"));
    contacts.sort();
    assert_eq!(contacts, expect(ItemType::Contacts), "khard");
}

#[test]
fn export_replaces_its_own_files_and_names_a_missing_user() {
    let dir = imported();
    for round in 0..2 {
        let out = Snapsync::new(dir.path())
            .args(["crm", "export", "--user", "jdoe", "--out", "x"])
            .run()
            .success();
        let stdout = out.stdout();
        assert!(
            stdout.contains("scheduleItems        1 file  in x/scheduleItems"),
            "{stdout}"
        );
        assert_eq!(
            stdout.contains("3 existing files were replaced"),
            round == 1,
            "{stdout}"
        );
    }
    let out = Snapsync::new(dir.path())
        .args(["crm", "export", "--user", "nobody", "--out", "x"])
        .run()
        .code(1);
    // After the line that names the store.
    assert_eq!(
        out.stderr().lines().nth(1).unwrap_or_default(),
        "error: .snapsync/crm.sqlite has no user nobody; `snapsync crm users` lists them"
    );
}

#[test]
fn crm_commands_say_which_store_they_open_and_warn_about_specs_that_name_another() {
    let dir = folder();
    dir.write("ops/stores.yaml", STORES);
    let root = dir.path().canonicalize().unwrap();
    let default = root.join(".snapsync/crm.sqlite");
    let theirs = root.join("data/crm.sqlite");

    // No snapshots.d here: the default store, and a warning that the specs
    // in ops/ name another one.
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    let said = format!(
        "Using the CRM store {} (the default: no specs at snapshots.d)\n\
         warning: the Stores resource at ops/stores.yaml:2 names another CRM store: {}; to use \
         that one, give this command those specs or --crm {}\n",
        default.display(),
        theirs.display(),
        theirs.display()
    );
    assert_eq!(out.stderr(), said);

    // JSON on stdout stays clean; the lines are on stderr.
    let out = Snapsync::new(dir.path())
        .args(["crm", "users", "--format", "json"])
        .run()
        .success();
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users["users"][0]["name"], "jdoe");
    assert_eq!(out.stderr(), said);

    // -q: nothing but errors.
    Snapsync::new(dir.path())
        .args(["-q", "crm", "users"])
        .run()
        .stderr_is("");

    // With those specs: their store, and nothing to warn about.
    let out = Snapsync::new(dir.path())
        .args(["crm", "users", "--specs", "ops"])
        .run()
        .stderr_is(format!(
            "Using the CRM store {} (from the Stores resource at ops/stores.yaml:2)\n",
            theirs.display()
        ));
    assert!(
        out.stdout()
            .starts_with("ops/../data/crm.sqlite holds no user yet"),
        "{}",
        out.stdout()
    );

    // --crm: said so, and the specs that name another store are still
    // pointed out.
    let out = Snapsync::new(dir.path())
        .args(["crm", "users", "--crm", "other.sqlite"])
        .run();
    let stderr = out.stderr();
    assert!(
        stderr.starts_with(&format!(
            "Using the CRM store {} (from --crm)\nwarning: the Stores resource at ops/stores.yaml:2",
            root.join("other.sqlite").display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_damaged_crm_store_says_which_store_and_that_moving_it_aside_loses_data() {
    let dir = imported();
    let store = dir.path().join(".snapsync/crm.sqlite");
    let hint = "  hint: it holds the CRM's own items: do not delete it or move it aside unless you \
                accept losing them (a new, empty CRM store would take its place). Restore it from \
                a backup, or salvage what SQLite can still read: `sqlite3 .snapsync/crm.sqlite \
                .recover | sqlite3 .snapsync/crm.sqlite.recovered`, then check the result and use \
                it with --crm\n";

    let length = std::fs::metadata(&store).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .and_then(|f| f.set_len(length / 2))
        .unwrap();
    Snapsync::new(dir.path())
        .args(["-q", "crm", "users"])
        .run()
        .code(1)
        .stderr_is(format!(
            "error: cannot open the CRM store: the CRM store .snapsync/crm.sqlite is damaged or \
             is not a database (SQLite: the file has {} bytes, but its header says {length}: it \
             was cut short)\n{hint}",
            length / 2
        ));

    std::fs::write(&store, vec![0x5A_u8; 8192]).unwrap();
    Snapsync::new(dir.path())
        .args(["-q", "crm", "users"])
        .run()
        .code(1)
        .stderr_is(format!(
            "error: cannot open the CRM store: the CRM store .snapsync/crm.sqlite is damaged or \
             is not a database (SQLite: file is not a database)\n{hint}"
        ));
}

/// Issue 13, defect 18: an event whose RRULE has no valid FREQ is imported
/// as a one-off event, with a warning naming it and why; exit code 0.
#[test]
fn an_rrule_without_frequency_is_imported_as_one_start_with_a_warning() {
    let dir = folder();
    std::fs::write(
        dir.path().join("in/empty-rule.ics"),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ev-2\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:20261103T100000Z\r\nRRULE:\r\nSUMMARY:x\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let out = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    let file = Path::new("in").join("empty-rule.ics");
    assert_eq!(
        out.stderr_besides_stores(),
        format!(
            "warning: {}: scheduleItems ev-2: RRULE \"\" has no valid FREQ: the event is read \
             as not recurring\n",
            file.display()
        )
    );
    let json = Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "--format", "json", "in"])
        .run();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["warnings"][0]["file"], "in/empty-rule.ics");
    // In the store, it is not a series: no recurrence end.
    let store = CrmStore::open_read_only(&dir.path().join(".snapsync/crm.sqlite")).unwrap();
    let listing = store
        .collection("jdoe", ItemType::ScheduleItems)
        .list()
        .unwrap();
    let event = listing
        .iter()
        .find(|l| l.href.0 == "ev-2")
        .expect("ev-2 is imported");
    let meta = event.meta.as_ref().expect("the CRM keeps the metadata");
    assert_eq!(meta.dates.recurrence, None);
}

/// A `snapshots.d` made before any spec is written names no store: the
/// commands use the default one, as with no folder at all.
#[test]
fn an_empty_specs_folder_means_the_default_store() {
    let dir = folder();
    std::fs::create_dir_all(dir.path().join("snapshots.d")).unwrap();
    Snapsync::new(dir.path())
        .args(["crm", "import", "--user", "jdoe", "in"])
        .run()
        .success();
    assert!(dir.path().join(".snapsync/crm.sqlite").exists());
    let out = Snapsync::new(dir.path())
        .args(["crm", "users"])
        .run()
        .success();
    assert!(out.stdout().contains("jdoe"), "{}", out.stdout());
}
