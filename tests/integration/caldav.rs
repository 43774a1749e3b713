//! CalDAV/CardDAV targets against a real Radicale (started per test by
//! `support::radicale`): full sends and gets, repairs of changes made on the
//! server, orphans, unparsable items, refused logins.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::radicale::{CollectionKind, PASSWORD, Radicale};
use crate::support::{Run, Snapsync, World};
use base64::Engine as _;
use snapsync::endpoint::Collection;
use snapsync::endpoint::crm::CrmStore;
use snapsync::endpoint::file_name_for_uid;
use snapsync::item::ItemType;

/// The variable the specs name for alice's password.
const PASSWORD_ENV: &str = "SNAPSYNC_TEST_PASSWORD";

const CALENDAR: &str = "alice/calendar/";
const TASKS: &str = "alice/tasks/";
const CONTACTS: &str = "alice/contacts/";

/// A project whose target is `server`, with `items` generated items for
/// jdoe in its CRM store (none when 0).
fn project(server: &Radicale, items: u32) -> World {
    project_at(&server.url(), "", items)
}

/// A project whose target is at `url`, with `target_extra` (indented YAML
/// lines) added to the target's spec.
fn project_at(url: &str, target_extra: &str, items: u32) -> World {
    let world = World::copy("caldav");
    world.replace("snapshots.d/world.yaml", "http://radicale.invalid/", url);
    if !target_extra.is_empty() {
        world.replace(
            "snapshots.d/world.yaml",
            "  links:\n",
            &format!("{target_extra}  links:\n"),
        );
    }
    if items > 0 {
        world.crm_items("jdoe", items, None);
    }
    world
}

/// Alice's three empty collections.
fn collections(server: &Radicale) {
    server.mkcol(CALENDAR, CollectionKind::Calendar);
    server.mkcol(TASKS, CollectionKind::TaskList);
    server.mkcol(CONTACTS, CollectionKind::AddressBook);
}

/// Runs snapsync in `dir` with the password variable set to `password`.
fn run_with(dir: &Path, args: &[&str], password: &str) -> Run {
    Snapsync::new(dir)
        .args(args)
        .env(PASSWORD_ENV, password)
        .run()
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, PASSWORD)
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    run(dir, args).success()
}

fn apply(dir: &Path, snapshot: &str) -> Run {
    ok(dir, &["apply", "--yes", "-s", snapshot])
}

fn plan_code(dir: &Path, snapshot: &str) -> (Option<i32>, String) {
    let out = run(dir, &["plan", "--detailed-exitcode", "-s", snapshot]);
    (
        out.status.code(),
        format!("{}{}", out.stdout(), out.stderr()),
    )
}

/// Every item of jdoe in the CRM store of `dir`: UID -> content hash, per
/// type.
fn crm_hashes(dir: &Path) -> BTreeMap<(ItemType, String), String> {
    let store = CrmStore::open_read_only(&dir.join("data/crm.sqlite")).expect("crm");
    let mut hashes = BTreeMap::new();
    for item_type in [ItemType::ScheduleItems, ItemType::Tasks, ItemType::Contacts] {
        let collection = store.collection("jdoe", item_type);
        let hrefs: Vec<_> = collection
            .list()
            .expect("list")
            .into_iter()
            .map(|l| l.href)
            .collect();
        for fetched in collection.fetch(&hrefs).expect("fetch") {
            let item = fetched.expect("a CRM item").item;
            hashes.insert(
                (item_type, item.uid().to_string()),
                format!("{:?}", item.content_hash()),
            );
        }
    }
    hashes
}

/// Panics, naming a few differences, unless `got` equals `expected`.
fn same_items(
    got: &BTreeMap<(ItemType, String), String>,
    expected: &BTreeMap<(ItemType, String), String>,
) {
    let differing: Vec<_> = expected
        .iter()
        .filter(|(key, hash)| got.get(*key) != Some(*hash))
        .map(|(key, _)| key)
        .take(5)
        .collect();
    assert!(
        got.len() == expected.len() && differing.is_empty(),
        "{} items, {} expected; differing or missing: {differing:?}",
        got.len(),
        expected.len()
    );
}

/// The number of requests of `method` Radicale received so far.
fn requests(server: &Radicale, method: &str) -> usize {
    server
        .requests()
        .into_iter()
        .find(|(m, _)| m == method)
        .map_or(0, |(_, n)| n)
}

#[test]
fn a_full_send_then_plans_nothing_and_a_full_get_reproduces_every_item() {
    let server = Radicale::start();
    collections(&server);
    let sent = project(&server, 300);
    apply(sent.path(), "send-all");
    let (code, output) = plan_code(sent.path(), "send-all");
    assert_eq!(code, Some(0), "a second send plans nothing:\n{output}");

    let crm = crm_hashes(sent.path());
    let on_server: usize = [CALENDAR, TASKS, CONTACTS]
        .iter()
        .map(|c| server.hrefs(c).len())
        .sum();
    assert_eq!(on_server, crm.len(), "one resource per CRM item");

    // A get into an empty CRM: every item back, with the same content hash.
    let got = project(&server, 0);
    let before = server.requests();
    apply(got.path(), "get-all");
    let after = server.requests();
    same_items(&crm_hashes(got.path()), &crm);
    // Reads are batched: one PROPFIND per collection to list (the plan's,
    // and the apply's to check the items are unchanged), and one REPORT
    // per 100 items fetched, by the plan only: the apply takes the items
    // the plan read.
    let count = |counts: &[(String, usize)], method: &str| {
        counts
            .iter()
            .find(|(m, _)| m == method)
            .map_or(0, |(_, n)| *n)
    };
    let propfinds = count(&after, "PROPFIND") - count(&before, "PROPFIND");
    let reports = count(&after, "REPORT") - count(&before, "REPORT");
    let gets = count(&after, "GET") - count(&before, "GET");
    let items = crm.len();
    assert_eq!(gets, 0, "never a GET per item");
    assert!(
        propfinds <= 2 * 3,
        "{propfinds} PROPFINDs to list 3 collections"
    );
    assert!(
        reports <= items.div_ceil(100) + 3,
        "{reports} REPORTs to fetch {items} items: each is read once"
    );
    let (code, output) = plan_code(got.path(), "send-all");
    assert_eq!(
        code,
        Some(0),
        "a send after the get plans nothing:\n{output}"
    );
    assert_eq!(requests(&server, "GET"), 0);
}

#[test]
fn changes_made_on_the_server_are_put_back_and_orphans_delete_removes_only_extras() {
    let server = Radicale::start();
    collections(&server);
    let dir = project(&server, 200);
    apply(dir.path(), "send-all");
    let calendar = server.hrefs(CALENDAR);
    let contacts = server.hrefs(CONTACTS);
    assert!(
        calendar.len() >= 3 && contacts.len() >= 2,
        "{calendar:?} {contacts:?}"
    );

    // Edit one event and one contact, delete another event, add an event
    // and a contact that the CRM does not have.
    let edited = &calendar[0];
    let original = server.get(edited).body;
    let changed = original.replacen("SUMMARY:", "SUMMARY:Edited on the server ", 1);
    assert_ne!(changed, original, "the event has a SUMMARY");
    assert_eq!(
        server.put(edited, "text/calendar", &changed).status / 100,
        2
    );
    let contact = &contacts[0];
    let card = server.get(contact).body;
    let changed_card = card.replacen("\nFN:", "\nFN:Renamed ", 1);
    assert_ne!(changed_card, card);
    assert_eq!(
        server.put(contact, "text/vcard", &changed_card).status / 100,
        2
    );
    let deleted = &calendar[1];
    assert_eq!(server.delete(deleted) / 100, 2);
    let extra_event = format!("{CALENDAR}server-only.ics");
    assert_eq!(
        server
            .put(
                &extra_event,
                "text/calendar",
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
                 UID:server-only@example.com\r\nDTSTAMP:20261101T000000Z\r\n\
                 DTSTART:20261105T090000Z\r\nDTEND:20261105T100000Z\r\nSUMMARY:Server only\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            .status,
        201
    );
    let extra_card = format!("{CONTACTS}server-only.vcf");
    assert_eq!(
        server
            .put(
                &extra_card,
                "text/vcard",
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:server-only-card\r\nFN:Server Only\r\n\
                 N:Only;Server;;;\r\nEND:VCARD\r\n"
            )
            .status,
        201
    );

    let (code, output) = plan_code(dir.path(), "send-all");
    assert_eq!(code, Some(2), "{output}");
    apply(dir.path(), "send-all");
    assert_eq!(server.get(edited).body, original, "the edit is undone");
    assert_eq!(server.get(contact).body, card, "the rename is undone");
    assert_eq!(server.get(deleted).status, 200, "the deleted event is back");
    // Orphans are kept by default…
    assert_eq!(server.get(&extra_event).status, 200);
    assert_eq!(server.get(&extra_card).status, 200);
    let (code, output) = plan_code(dir.path(), "send-all");
    assert_eq!(code, Some(0), "{output}");

    // …and `orphans: delete` removes them, and nothing else.
    apply(dir.path(), "send-all-prune");
    assert_eq!(server.get(&extra_event).status, 404);
    assert_eq!(server.get(&extra_card).status, 404);
    assert_eq!(server.hrefs(CALENDAR), calendar);
    assert_eq!(server.hrefs(CONTACTS), contacts);
    let (code, output) = plan_code(dir.path(), "send-all-prune");
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn an_unparsable_item_on_the_server_is_reported_and_the_rest_is_read() {
    let server = Radicale::start();
    collections(&server);
    let dir = project(&server, 30);
    apply(dir.path(), "send-all");
    // Radicale checks what it stores, so the item must be valid iCalendar:
    // a journal entry, which is neither an event nor a task to snapsync.
    let bad = format!("{CALENDAR}unreadable.ics");
    let answer = server.put(
        &bad,
        "text/calendar",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\n\
         UID:unreadable@example.com\r\nDTSTAMP:20261101T000000Z\r\n\
         DTSTART:20261105T090000Z\r\nSUMMARY:Unreadable\r\n\
         END:VJOURNAL\r\nEND:VCALENDAR\r\n",
    );
    assert_eq!(answer.status, 201, "Radicale took the item: {answer:?}");

    let got = project(&server, 0);
    let out = run(got.path(), &["apply", "--yes", "-s", "get-all"]);
    let stdout = out.stdout();
    let stderr = out.stderr();
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("radicale")
            && all.contains("jdoe")
            && all.contains("/alice/calendar/unreadable.ics"),
        "the report names the target, the link and the href:\n{all}"
    );
    assert!(
        all.contains("holds no event, task or contact"),
        "and the reason:\n{all}"
    );
    // Everything else came in.
    let sent = crm_hashes(dir.path());
    let received = crm_hashes(got.path());
    same_items(&received, &sent);
}

#[test]
fn a_wrong_password_is_one_clear_error_and_no_secret_is_printed_or_stored() {
    let server = Radicale::start();
    collections(&server);
    let dir = project(&server, 10);
    let wrong = "wrong-Zp4-secret-value";
    for args in [
        &["plan", "-s", "send-all"][..],
        &["apply", "--yes", "-s", "send-all"][..],
    ] {
        let out = run_with(dir.path(), args, wrong);
        let stdout = out.stdout();
        let stderr = out.stderr();
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{stdout}\n{stderr}");
        let message = "the server refused the credentials of user alice for URL";
        assert_eq!(
            format!("{stdout}{stderr}").matches(message).count(),
            1,
            "{args:?}: one clear error\n{stdout}\n{stderr}"
        );
        for secret in [wrong, PASSWORD] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{args:?} printed a secret"
            );
        }
    }
    // A good run, then nothing anywhere holds either secret.
    apply(dir.path(), "send-all");
    let mut files = vec![dir.path().join("data/state.sqlite")];
    files.extend(
        std::fs::read_dir(dir.path().join("data"))
            .expect("data")
            .map(|e| e.expect("entry").path()),
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in [wrong, PASSWORD] {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds a secret",
                file.display()
            );
        }
    }
    // A missing variable names the variable.
    let out = Snapsync::new(dir.path())
        .args(["plan", "-s", "send-all"])
        .env_remove(PASSWORD_ENV)
        .run();
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!(
            "target radicale: the environment variable {PASSWORD_ENV} (passwordEnv) is not set"
        )),
        "{all}"
    );
}

/// The plan of `snapshot` as JSON.
fn plan_json(dir: &Path, snapshot: &str) -> serde_json::Value {
    let out = ok(dir, &["plan", "--format", "json", "-s", snapshot]);
    serde_json::from_slice(&out.stdout).expect("the plan is JSON")
}

#[test]
fn a_filtered_send_touches_only_the_items_it_matches() {
    let server = Radicale::start();
    collections(&server);
    let dir = project(&server, 200);
    apply(dir.path(), "send-all");
    let events = server.hrefs(CALENDAR);
    let tasks = server.hrefs(TASKS);
    // Every event and one task deleted on the server.
    for href in &events {
        assert_eq!(server.delete(href) / 100, 2, "{href}");
    }
    assert_eq!(server.delete(&tasks[0]) / 100, 2);

    // The plan matches the events that start in 2025 (and recurring ones
    // whose range overlaps it) and processes no other item type.
    let plan = plan_json(dir.path(), "send-2025");
    let sections = plan["snapshots"][0]["links"][0]["sections"]
        .as_array()
        .expect("sections");
    assert_eq!(sections.len(), 1, "only schedule items are processed");
    assert_eq!(sections[0]["itemType"], "scheduleItems");
    let operations = sections[0]["operations"].as_array().expect("operations");
    let matched: Vec<&str> = operations
        .iter()
        .filter(|op| op["action"] == "restore")
        .map(|op| op["uid"].as_str().expect("uid"))
        .collect();
    assert!(
        !matched.is_empty() && matched.len() < events.len(),
        "{} of {} events match 2025",
        matched.len(),
        events.len()
    );

    let puts = requests(&server, "PUT");
    apply(dir.path(), "send-2025");
    assert_eq!(
        requests(&server, "PUT") - puts,
        matched.len(),
        "one PUT per matched event, none for the rest"
    );
    let mut expected: Vec<String> = matched
        .iter()
        // Radicale lists hrefs percent-encoded.
        .map(|uid| {
            format!(
                "/{CALENDAR}{}",
                file_name_for_uid(uid, "ics").replace('@', "%40")
            )
        })
        .collect();
    expected.sort();
    assert_eq!(
        server.hrefs(CALENDAR),
        expected,
        "exactly the matched events are back"
    );
    assert_eq!(
        server.hrefs(TASKS).len(),
        tasks.len() - 1,
        "the deleted task stays deleted: tasks are outside the filter"
    );
    let (code, output) = plan_code(dir.path(), "send-2025");
    assert_eq!(code, Some(0), "{output}");
    let (code, output) = plan_code(dir.path(), "send-all");
    assert_eq!(code, Some(2), "the full send still has work:\n{output}");
}

#[test]
fn https_works_with_the_servers_ca_file_and_refuses_an_unknown_certificate() {
    let server = Radicale::start_tls();
    collections(&server);
    let ca = server.ca_file();

    // The system roots alone do not know the test CA: one clear error.
    let dir = project_at(&server.url(), "", 20);
    let out = run(dir.path(), &["plan", "-s", "send-all"]);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("caldav radicale") && all.contains(&server.url()),
        "names the target and URL:\n{all}"
    );
    assert!(
        all.to_lowercase().contains("certificate"),
        "says why:\n{all}"
    );

    // With spec.tls.caFile, a full send and a quiet second plan.
    let dir = project_at(
        &server.url(),
        &format!("  tls: {{ caFile: {} }}\n", ca.display()),
        20,
    );
    apply(dir.path(), "send-all");
    assert!(!server.hrefs(CALENDAR).is_empty());
    let (code, output) = plan_code(dir.path(), "send-all");
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains("NOT verified"), "{output}");
}

#[test]
fn insecure_skip_verify_works_and_warns_once_on_every_plan_and_apply() {
    let server = Radicale::start_tls();
    collections(&server);
    let dir = project_at(&server.url(), "  tls: { insecureSkipVerify: true }\n", 20);
    let warning = "TLS certificates are NOT verified for this target";
    for args in [
        &["plan", "-s", "send-all"][..],
        &["apply", "--yes", "-s", "send-all"][..],
        &["plan", "-s", "send-all", "--detailed-exitcode"][..],
    ] {
        let out = run(dir.path(), args);
        let stderr = out.stderr();
        assert!(out.status.success(), "{args:?}\n{stderr}");
        assert_eq!(stderr.matches(warning).count(), 1, "{args:?}:\n{stderr}");
    }
    assert!(!server.hrefs(CALENDAR).is_empty(), "the apply wrote");
}

#[test]
fn a_server_that_is_down_fails_the_plan_with_a_message_naming_it() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = project_at(&url, "", 10);
    for args in [
        &["plan", "-s", "send-all"][..],
        &["apply", "--yes", "-s", "send-all"][..],
    ] {
        let out = run(dir.path(), args);
        let all = format!("{}{}", out.stdout(), out.stderr());
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{all}");
        assert!(
            all.contains(&format!("caldav radicale: {url}alice/"))
                && all.to_lowercase().contains("refused"),
            "{args:?}: names the collection and the cause:\n{all}"
        );
    }
}

#[test]
fn the_most_verbose_logs_hold_no_secret() {
    let server = Radicale::start();
    collections(&server);
    let dir = project(&server, 10);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    for env in [None, Some("trace,ureq=trace,ureq_proto=trace")] {
        let mut snapsync = Snapsync::new(dir.path())
            .args(["apply", "--yes", "-vvv", "-s", "send-all"])
            .env(PASSWORD_ENV, PASSWORD);
        if let Some(filter) = env {
            snapsync = snapsync.env("SNAPSYNC_LOG", filter);
        }
        let out = snapsync.run();
        let all = format!("{}{}", out.stdout(), out.stderr());
        assert!(out.status.success(), "{all}");
        assert!(
            all.contains("caldav request"),
            "the log is verbose: {env:?}"
        );
        // Byte dumps split values across lines: look for pieces too.
        for secret in [PASSWORD, token.as_str(), &token[..12], &PASSWORD[..8]] {
            assert!(!all.contains(secret), "{env:?}: the log holds {secret:?}");
        }
    }
}
