use std::path::PathBuf;

use super::*;
use crate::item::{Item, ItemMeta, parse_any};

fn event(uid: &str, summary: &str) -> Item {
    one(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:20260102T030405Z\r\n\
         DTSTART;TZID=Europe/Berlin:20261103T100000\r\nDTEND;TZID=Europe/Berlin:20261103T110000\r\n\
         RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ))
}

fn task(uid: &str, due: Option<&str>) -> Item {
    let due = due
        .map(|d| format!("DUE;VALUE=DATE:{d}\r\n"))
        .unwrap_or_default();
    one(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\n{due}SUMMARY:task {uid}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    ))
}

fn contact(uid: &str, name: &str) -> Item {
    one(&format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nREV:20260105T000000Z\r\nEND:VCARD\r\n"
    ))
}

fn one(text: &str) -> Item {
    let parsed = parse_any(text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.items.len(), 1);
    parsed.items.into_iter().next().unwrap()
}

fn store() -> (tempfile::TempDir, CrmStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = CrmStore::open(&dir.path().join("crm.sqlite")).unwrap();
    (dir, store)
}

fn kind(result: Result<impl std::fmt::Debug, EndpointError>) -> ErrorKind {
    result.unwrap_err().kind
}

#[test]
fn create_list_fetch_update_delete() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let item = event("e1", "Standup");
    let written = events.create(&item).unwrap();
    assert_eq!(written.href, Href("e1".into()));

    let listed = events.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, written.version);
    // The listing carries what the filters need without parsing the item.
    assert_eq!(listed[0].meta.as_ref(), Some(&ItemMeta::of(&item)));

    let fetched = events.fetch(std::slice::from_ref(&written.href)).unwrap();
    let fetched = fetched.into_iter().next().unwrap().unwrap();
    assert_eq!(fetched.item.content_hash(), item.content_hash());
    assert_eq!(fetched.version, written.version);

    let changed = event("e1", "Standup (moved)");
    let updated = events
        .update(&written.href, &written.version, &changed)
        .unwrap();
    assert_ne!(updated.version, written.version);
    let listed = events.list().unwrap();
    assert_eq!(
        listed[0].meta.as_ref().unwrap().hash,
        changed.content_hash()
    );
    assert_eq!(
        listed[0].meta.as_ref().unwrap().label.as_deref(),
        Some("Standup (moved)")
    );

    events.delete(&updated.href, &updated.version).unwrap();
    assert!(events.list().unwrap().is_empty());
}

#[test]
fn a_create_never_replaces() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    events.create(&event("e1", "one")).unwrap();
    assert_eq!(kind(events.create(&event("e1", "two"))), ErrorKind::Exists);
    let fetched = events.fetch(&[Href("e1".into())]).unwrap();
    assert_eq!(fetched[0].as_ref().unwrap().item.label(), Some("one"));
}

#[test]
fn writes_at_a_stale_version_fail_and_change_nothing() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let first = events.create(&event("e1", "one")).unwrap();
    let second = events
        .update(&first.href, &first.version, &event("e1", "two"))
        .unwrap();
    let stale = events.update(&first.href, &first.version, &event("e1", "three"));
    let error = stale.unwrap_err();
    assert_eq!(error.kind, ErrorKind::PreconditionFailed);
    assert!(
        error.message.contains("CRM user jdoe (scheduleItems)"),
        "{error}"
    );
    assert!(error.message.contains("e1"), "{error}");
    assert_eq!(
        kind(events.delete(&first.href, &first.version)),
        ErrorKind::PreconditionFailed
    );
    assert_eq!(
        kind(events.delete(&first.href, &Version("not-a-number".into()))),
        ErrorKind::PreconditionFailed
    );
    let listed = events.list().unwrap();
    assert_eq!(listed[0].version, second.version);
    assert_eq!(
        listed[0].meta.as_ref().unwrap().label.as_deref(),
        Some("two")
    );
}

#[test]
fn writes_to_a_missing_item_say_it_does_not_exist() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let v = Version("1".into());
    // Unknown user, then known user with an unknown UID.
    assert_eq!(
        kind(events.update(&Href("e1".into()), &v, &event("e1", "x"))),
        ErrorKind::DoesNotExist
    );
    events.create(&event("e2", "x")).unwrap();
    assert_eq!(
        kind(events.update(&Href("e1".into()), &v, &event("e1", "x"))),
        ErrorKind::DoesNotExist
    );
    assert_eq!(
        kind(events.delete(&Href("e1".into()), &v)),
        ErrorKind::DoesNotExist
    );
    let fetched = events
        .fetch(&[Href("e1".into()), Href("e2".into())])
        .unwrap();
    assert_eq!(
        fetched[0].as_ref().unwrap_err().kind,
        ErrorKind::DoesNotExist
    );
    assert!(fetched[1].is_ok());
}

#[test]
fn an_update_must_keep_the_uid_and_the_type() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let w = events.create(&event("e1", "x")).unwrap();
    assert_eq!(
        kind(events.update(&w.href, &w.version, &event("other", "x"))),
        ErrorKind::Invalid
    );
    assert_eq!(kind(events.create(&task("t1", None))), ErrorKind::Invalid);
}

#[test]
fn revisions_never_come_back() {
    let (_dir, store) = store();
    let events = store.collection("jdoe", ItemType::ScheduleItems);
    let first = events.create(&event("e1", "x")).unwrap();
    events.delete(&first.href, &first.version).unwrap();
    let again = events.create(&event("e1", "x")).unwrap();
    assert_ne!(first.version, again.version);
    // An old version no longer deletes the new item.
    assert_eq!(
        kind(events.delete(&first.href, &first.version)),
        ErrorKind::PreconditionFailed
    );
}

#[test]
fn collections_are_per_user_and_type() {
    let (_dir, store) = store();
    store
        .collection("jdoe", ItemType::ScheduleItems)
        .create(&event("same", "a"))
        .unwrap();
    store
        .collection("asmith", ItemType::ScheduleItems)
        .create(&event("same", "b"))
        .unwrap();
    store
        .collection("jdoe", ItemType::Tasks)
        .create(&task("t1", Some("20261110")))
        .unwrap();
    store
        .collection("jdoe", ItemType::Contacts)
        .create(&contact("c1", "Jane Doe"))
        .unwrap();
    assert!(
        store
            .collection("nobody", ItemType::Tasks)
            .list()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .collection("jdoe", ItemType::ScheduleItems)
            .list()
            .unwrap()
            .len(),
        1
    );
    let users = store.users().unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["asmith", "jdoe"]);
    assert_eq!(users[1].counts[&ItemType::ScheduleItems], 1);
    assert_eq!(users[1].counts[&ItemType::Tasks], 1);
    assert_eq!(users[1].counts[&ItemType::Contacts], 1);
    assert!(!users[0].counts.contains_key(&ItemType::Tasks));
    let tasks = store.collection("jdoe", ItemType::Tasks).list().unwrap();
    let due = tasks[0].meta.as_ref().unwrap().dates.due;
    assert_eq!(due.map(|d| d.encode()).as_deref(), Some("2026-11-10"));
}

#[test]
fn storing_a_batch_tells_created_updated_unchanged_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite");
    let store = CrmStore::open(&path).unwrap();
    let out = store
        .store_items("jdoe", &[event("a", "1"), event("b", "1")])
        .unwrap();
    assert_eq!(out, [Stored::Created, Stored::Created]);
    let out = store
        .store_items("jdoe", &[event("a", "1"), event("b", "2")])
        .unwrap();
    assert_eq!(out, [Stored::Unchanged, Stored::Updated]);
    drop(store);
    let store = CrmStore::open(&path).unwrap();
    let mut seen = Vec::new();
    let n = store
        .item_texts("jdoe", ItemType::ScheduleItems, |uid, body| {
            seen.push((uid.to_owned(), body.contains("SUMMARY:2")));
        })
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(seen, [("a".to_owned(), false), ("b".to_owned(), true)]);
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn import_reads_folders_and_reports_bad_items_with_their_file() {
    let (dir, store) = store();
    let input = dir.path().join("in");
    let two_events = format!(
        "{}{}",
        event("e1", "one").to_text(),
        event("e2", "two").to_text()
    );
    write(&input, "a/events.ics", &two_events);
    write(&input, "tasks.ics", &task("t1", None).to_text());
    write(
        &input,
        "people.vcf",
        &format!(
            "{}{}",
            contact("c1", "A").to_text(),
            contact("c2", "B").to_text()
        ),
    );
    // A broken event beside a good one: the good one is imported.
    write(
        &input,
        "broken.ics",
        &format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n{}",
            event("e3", "three").to_text()
        ),
    );
    write(&input, ".hidden/skip.ics", &event("hidden", "x").to_text());
    write(&input, "notes.txt", "not a calendar");

    let sources = import_sources(std::slice::from_ref(&input)).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.path.strip_prefix(&input).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["a/events.ics", "broken.ics", "people.vcf", "tasks.ics"]
    );

    let mut progress = Vec::new();
    let report = import(&store, "jdoe", &sources, |n| progress.push(n)).unwrap();
    assert_eq!(progress.len(), 4);
    assert_eq!(report.counts[&ItemType::ScheduleItems].created, 3);
    assert_eq!(report.counts[&ItemType::Tasks].created, 1);
    assert_eq!(report.counts[&ItemType::Contacts].created, 2);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = report.problems[0].to_string();
    assert!(problem.contains("broken.ics"), "{problem}");
    assert!(problem.contains("DTSTART"), "{problem}");

    // A second import of the same files changes nothing.
    let again = import(&store, "jdoe", &sources, |_| {}).unwrap();
    assert_eq!(again.counts[&ItemType::ScheduleItems].unchanged, 3);
    assert_eq!(again.counts[&ItemType::ScheduleItems].created, 0);
}

#[test]
fn import_reports_a_uid_held_by_two_files() {
    let (dir, store) = store();
    let a = write(dir.path(), "a.ics", &event("e1", "first").to_text());
    let b = write(dir.path(), "b.ics", &event("e1", "second").to_text());
    let sources = import_sources(&[a, b.clone()]).unwrap();
    let report = import(&store, "jdoe", &sources, |_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.duplicates.len(), 1);
    let message = report.duplicates[0].to_string();
    assert!(message.starts_with(&b.display().to_string()), "{message}");
    assert!(
        message.contains("e1 is also in") && message.contains("a.ics"),
        "{message}"
    );
    // The later file wins, whatever the threads did.
    let listed = store
        .collection("jdoe", ItemType::ScheduleItems)
        .list()
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].meta.as_ref().unwrap().label.as_deref(),
        Some("second")
    );
}

#[test]
fn import_reads_latin1_files_and_says_so() {
    let (dir, store) = store();
    let text = event("e1", "Caf\u{e9}").to_text();
    let latin1: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let path = dir.path().join("old.ics");
    std::fs::write(&path, latin1).unwrap();
    let report = import(
        &store,
        "jdoe",
        &import_sources(std::slice::from_ref(&path)).unwrap(),
        |_| {},
    )
    .unwrap();
    assert_eq!(report.latin1, [path]);
    let listed = store
        .collection("jdoe", ItemType::ScheduleItems)
        .list()
        .unwrap();
    assert_eq!(
        listed[0].meta.as_ref().unwrap().label.as_deref(),
        Some("Caf\u{e9}")
    );
}

#[test]
fn import_of_a_missing_path_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let problem = import_sources(std::slice::from_ref(&missing)).unwrap_err();
    assert_eq!(problem.file, missing);
    assert!(problem.to_string().contains("nope"), "{problem}");
}

#[test]
fn an_unreadable_file_is_a_problem_not_a_failure() {
    let (dir, store) = store();
    let good = write(dir.path(), "good.ics", &event("e1", "x").to_text());
    let sources = vec![
        ImportSource {
            path: dir.path().join("vanished.ics"),
            kind: None,
        },
        ImportSource {
            path: good,
            kind: None,
        },
    ];
    let report = import(&store, "jdoe", &sources, |_| {}).unwrap();
    assert_eq!(report.items(), 1);
    assert!(report.problems[0].to_string().contains("vanished.ics"));
}
