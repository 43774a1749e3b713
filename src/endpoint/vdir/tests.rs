//! vdir collection tests: every behaviour of the module docs and every error
//! kind, on real folders in temporary directories.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::endpoint::naming::MAX_PLAIN_UID_BYTES;
use crate::item::{parse_calendar, parse_vcards};

const EVENT: &str = concat!(
    "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Client//EN\r
",
    include_str!("../../../tests/fixtures/items/europe-berlin.vtimezone"),
    "BEGIN:VEVENT\r
UID:kickoff@example.com\r
DTSTAMP:20260101T120000Z\r
SUMMARY:Project kickoff\r
LOCATION:Room 4\r
DTSTART;TZID=Europe/Berlin:20260105T093000\r
DTEND;TZID=Europe/Berlin:20260105T103000\r
END:VEVENT\r
END:VCALENDAR\r
"
);

const RECURRING: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Client//EN\r
BEGIN:VEVENT\r
UID:standup-1\r
DTSTAMP:20260101T120000Z\r
SUMMARY:Standup\r
DTSTART:20260105T090000Z\r
DTEND:20260105T091500Z\r
RRULE:FREQ=DAILY;COUNT=20;BYDAY=MO,TU,WE,TH,FR\r
EXDATE:20260107T090000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:standup-1\r
DTSTAMP:20260101T120000Z\r
RECURRENCE-ID:20260108T090000Z\r
SUMMARY:Standup (late)\r
DTSTART:20260108T100000Z\r
DTEND:20260108T101500Z\r
END:VEVENT\r
END:VCALENDAR\r
";

const ALL_DAY: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Client//EN\r
BEGIN:VEVENT\r
UID:holiday-2026-12-24\r
DTSTAMP:20260101T120000Z\r
SUMMARY:Christmas Eve\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261225\r
END:VEVENT\r
END:VCALENDAR\r
";

const TASK_DUE: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Tasks//EN\r
BEGIN:VTODO\r
UID:task-due\r
DTSTAMP:20260301T000000Z\r
SUMMARY:File the report\r
DUE:20260310T170000Z\r
PRIORITY:1\r
END:VTODO\r
END:VCALENDAR\r
";

const TASK_UNDATED: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Tasks//EN\r
BEGIN:VTODO\r
UID:task-undated\r
DTSTAMP:20260301T000000Z\r
SUMMARY:Someday\r
END:VTODO\r
END:VCALENDAR\r
";

const CONTACT: &str = "BEGIN:VCARD\r
VERSION:4.0\r
UID:urn:uuid:0b6f2c1e-5a5e-4c1b-9d1e-3f0c2a9b7d10\r
FN:Jane Doe\r
N:Doe;Jane;;;\r
EMAIL;TYPE=work:jane@example.com\r
REV:20260101T000000Z\r
END:VCARD\r
";

fn one(parsed: crate::item::Parsed) -> Item {
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.items.len(), 1);
    parsed.items.into_iter().next().expect("one item")
}

fn calendar(text: &str) -> Item {
    one(parse_calendar(text))
}

fn card(text: &str) -> Item {
    one(parse_vcards(text))
}

/// An event with this UID and summary.
fn event(uid: &str, summary: &str) -> Item {
    calendar(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nSUMMARY:{summary}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    ))
}

fn collection(dir: &Path, item_type: ItemType) -> VdirCollection {
    VdirCollection::open(
        dir.join(item_type.as_str()),
        item_type,
        format!("vdir test: {item_type}"),
    )
}

fn calendars(dir: &Path) -> VdirCollection {
    collection(dir, ItemType::ScheduleItems)
}

/// Every name in the folder, hidden ones included.
fn names(folder: &Path) -> BTreeSet<String> {
    fs::read_dir(folder)
        .expect("read the folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn fetch_one(c: &VdirCollection, href: &Href) -> FetchResult {
    let mut results = c.fetch(std::slice::from_ref(href)).expect("fetch");
    assert_eq!(results.len(), 1);
    results.remove(0)
}

fn error_of<T: std::fmt::Debug>(result: Result<T, EndpointError>) -> EndpointError {
    result.expect_err("an error")
}

#[test]
fn round_trip_of_every_kind_of_item() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (ItemType::ScheduleItems, vec![EVENT, RECURRING, ALL_DAY]),
        (ItemType::Tasks, vec![TASK_DUE, TASK_UNDATED]),
        (ItemType::Contacts, vec![CONTACT]),
    ];
    for (item_type, texts) in cases {
        let c = collection(dir.path(), item_type);
        assert_eq!(c.item_type(), item_type);
        assert_eq!(c.describe(), format!("vdir test: {item_type}"));
        let items: Vec<Item> = texts
            .iter()
            .map(|t| {
                if item_type == ItemType::Contacts {
                    card(t)
                } else {
                    calendar(t)
                }
            })
            .collect();
        let mut written = Vec::new();
        for item in &items {
            let w = c.create(item).unwrap();
            assert_eq!(w.href, c.href_for_uid(item.uid()));
            // The file on disk parses back to the same content.
            let text = fs::read_to_string(c.folder().join(&w.href.0)).unwrap();
            let back = if item_type == ItemType::Contacts {
                card(&text)
            } else {
                calendar(&text)
            };
            assert_eq!(back.uid(), item.uid());
            assert_eq!(back.content_hash(), item.content_hash());
            written.push(w);
        }

        let listing = c.list().unwrap();
        let mut expected: Vec<(Href, Version)> = written
            .iter()
            .map(|w| (w.href.clone(), w.version.clone()))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let listed: Vec<(Href, Version)> = listing
            .iter()
            .map(|l| (l.href.clone(), l.version.clone()))
            .collect();
        assert_eq!(listed, expected);
        assert!(listing.iter().all(|l| l.meta.is_none()));

        let hrefs: Vec<Href> = written.iter().map(|w| w.href.clone()).collect();
        let fetched = c.fetch(&hrefs).unwrap();
        for ((result, item), w) in fetched.into_iter().zip(&items).zip(&written) {
            let fetched = result.unwrap();
            assert_eq!(fetched.href, w.href);
            assert_eq!(fetched.version, w.version);
            assert_eq!(fetched.item.uid(), item.uid());
            assert_eq!(fetched.item.item_type(), item_type);
            assert_eq!(fetched.item.content_hash(), item.content_hash());
        }
    }
}

#[test]
fn update_replaces_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let created = c.create(&event("a", "First")).unwrap();
    let changed = event("a", "Second");
    let updated = c.update(&created.href, &created.version, &changed).unwrap();
    assert_eq!(updated.href, created.href);
    assert_ne!(updated.version, created.version);
    let fetched = fetch_one(&c, &created.href).unwrap();
    assert_eq!(fetched.version, updated.version);
    assert_eq!(fetched.item.label(), Some("Second"));
    assert_eq!(fetched.item.content_hash(), changed.content_hash());
    assert_eq!(c.list().unwrap()[0].version, updated.version);

    c.delete(&updated.href, &updated.version).unwrap();
    assert!(c.list().unwrap().is_empty());
    assert!(names(c.folder()).is_empty());
}

#[test]
fn rewriting_the_same_content_still_changes_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let item = event("same", "Same");
    let first = c.create(&item).unwrap();
    let second = c.update(&first.href, &first.version, &item).unwrap();
    assert_ne!(first.version, second.version);
    // The old version no longer works.
    let stale = c.update(&first.href, &first.version, &item);
    assert_eq!(error_of(stale).kind, ErrorKind::PreconditionFailed);
}

#[test]
fn fifty_rapid_updates_give_fifty_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    // Without fsync the writes are as fast as they get: the worst case for
    // coarse file timestamps.
    let c = calendars(dir.path()).with_fsync(false);
    let item = event("rapid", "Same size every time");
    let mut written = c.create(&item).unwrap();
    let mut versions = BTreeSet::from([written.version.0.clone()]);
    let mtime = |v: &Version| {
        let (secs, rest) = v.0.split_once('.').unwrap();
        let nanos = rest.split_once('-').unwrap().0;
        (secs.parse::<u64>().unwrap(), nanos.parse::<u32>().unwrap())
    };
    for _ in 0..50 {
        let previous = written.version.clone();
        written = c.update(&written.href, &written.version, &item).unwrap();
        assert!(
            versions.insert(written.version.0.clone()),
            "version {} came twice",
            written.version
        );
        // Not only the inode: the modification time moves forward too.
        assert!(
            mtime(&written.version) > mtime(&previous),
            "{previous} -> {}",
            written.version
        );
        assert_eq!(c.list().unwrap()[0].version, written.version);
    }
    assert_eq!(versions.len(), 51);
}

#[test]
fn create_of_an_existing_uid_fails_with_exists() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let first = c.create(&event("dup", "Original")).unwrap();
    let error = error_of(c.create(&event("dup", "Copy")));
    assert_eq!(error.kind, ErrorKind::Exists);
    let path = c.folder().join("dup.ics");
    assert!(
        error.message.contains(&path.display().to_string()),
        "{error}"
    );
    assert!(error.message.contains("already exists"), "{error}");
    // Untouched, and nothing left behind.
    assert_eq!(c.list().unwrap()[0].version, first.version);
    let fetched = fetch_one(&c, &first.href).unwrap();
    assert_eq!(fetched.item.label(), Some("Original"));
    assert_eq!(names(c.folder()), BTreeSet::from(["dup.ics".to_string()]));
}

#[test]
fn concurrent_creates_of_one_uid_give_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let barrier = std::sync::Barrier::new(8);
    let results: Vec<Result<Written, EndpointError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let (c, barrier) = (&c, &barrier);
                scope.spawn(move || {
                    let item = event("contended", &format!("writer {i}"));
                    barrier.wait();
                    c.create(&item)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let created: Vec<&Written> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{results:?}");
    for result in &results {
        if let Err(error) = result {
            assert_eq!(error.kind, ErrorKind::Exists, "{error}");
        }
    }
    assert_eq!(
        names(c.folder()),
        BTreeSet::from(["contended.ics".to_string()])
    );
    assert_eq!(c.list().unwrap()[0].version, created[0].version);
}

#[test]
fn create_does_not_replace_a_file_that_appears_after_the_new_one_is_written() {
    // Another writer takes the name between the write of the temporary
    // file and its naming: the naming refuses, and the other file stays.
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    c.make_folder().unwrap();
    let staged = c.stage(&event("race", "Mine"), false).unwrap();
    let path = staged.path.clone();
    fs::write(&path, EVENT).unwrap();
    let error = error_of(c.place_new(staged));
    assert_eq!(error.kind, ErrorKind::Exists);
    assert!(
        error
            .message
            .contains("cannot create item race: the file already exists"),
        "{error}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), EVENT);
    assert_eq!(
        names(c.folder()),
        BTreeSet::from([path.file_name().unwrap().to_string_lossy().into_owned()]),
        "no temporary file is left"
    );
}

#[test]
fn a_batch_of_creates_writes_every_new_item_and_refuses_taken_names_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let taken = c.create(&event("b", "First")).unwrap();
    let items = [event("a", "A"), event("b", "Again"), event("c", "C")];
    let refs: Vec<&Item> = items.iter().collect();
    let results = c.create_all(&refs);
    assert_eq!(results.len(), 3);
    let a = results[0].as_ref().expect("a is new");
    assert_eq!(error_of(results[1].clone()).kind, ErrorKind::Exists);
    let c_written = results[2].as_ref().expect("c is new");
    let listed: BTreeMap<Href, Version> = c
        .list()
        .unwrap()
        .into_iter()
        .map(|l| (l.href, l.version))
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed[&a.href], a.version,
        "the version read back is the one written"
    );
    assert_eq!(listed[&c_written.href], c_written.version);
    assert_eq!(listed[&taken.href], taken.version, "b was not replaced");
    let fetched = c
        .fetch(std::slice::from_ref(&taken.href))
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(fetched.item.uid(), "b");
    assert!(fetched.item.to_text().contains("First"));
}

#[test]
fn stale_versions_fail_with_precondition_failed() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let created = c.create(&event("x", "Mine")).unwrap();
    // Another program changes the file.
    let path = c.folder().join(&created.href.0);
    fs::write(&path, EVENT.replace("kickoff@example.com", "x")).unwrap();
    let now = c.list().unwrap()[0].version.clone();
    assert_ne!(now, created.version);

    let error = error_of(c.update(&created.href, &created.version, &event("x", "Lost")));
    assert_eq!(error.kind, ErrorKind::PreconditionFailed);
    assert!(
        error.message.contains(&path.display().to_string()),
        "{error}"
    );
    assert!(
        error.message.contains("changed since it was read"),
        "{error}"
    );

    let error = error_of(c.delete(&created.href, &created.version));
    assert_eq!(error.kind, ErrorKind::PreconditionFailed);

    // The other program's change is still there.
    assert_eq!(c.list().unwrap()[0].version, now);
    let fetched = fetch_one(&c, &created.href).unwrap();
    assert_eq!(fetched.item.label(), Some("Project kickoff"));
    assert_eq!(names(c.folder()).len(), 1);
}

#[test]
fn missing_files_fail_with_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let created = c.create(&event("gone", "Gone")).unwrap();
    fs::remove_file(c.folder().join(&created.href.0)).unwrap();

    let error = error_of(c.update(&created.href, &created.version, &event("gone", "Back")));
    assert_eq!(error.kind, ErrorKind::DoesNotExist);
    assert!(error.message.contains("gone.ics"), "{error}");
    let error = error_of(c.delete(&created.href, &created.version));
    assert_eq!(error.kind, ErrorKind::DoesNotExist);
    let error = error_of(fetch_one(&c, &created.href));
    assert_eq!(error.kind, ErrorKind::DoesNotExist);
    assert!(error.message.contains("gone.ics"), "{error}");
    // The update did not bring it back.
    assert!(names(c.folder()).is_empty());
}

#[test]
fn a_missing_folder_lists_as_empty_and_is_created_by_the_first_create() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("calendars").join("jdoe").join("work");
    let c = VdirCollection::open(folder.clone(), ItemType::ScheduleItems, "vdir t".into());
    assert!(c.list().unwrap().is_empty());
    let results = c.fetch(&[Href("a.ics".into())]).unwrap();
    assert_eq!(error_of(results[0].clone()).kind, ErrorKind::DoesNotExist);
    assert!(!folder.exists(), "listing and fetching do not create");
    c.create(&event("a", "A")).unwrap();
    assert_eq!(names(&folder), BTreeSet::from(["a.ics".to_string()]));
}

#[test]
fn unparsable_files_are_invalid_and_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    fs::create_dir_all(c.folder()).unwrap();
    let files = [
        // A required property missing: the reason has a line number.
        (
            "no-start.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "line 3: VEVENT u: DTSTART is missing",
        ),
        (
            "truncated.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\n",
            "line 1: VCALENDAR is never closed",
        ),
        ("empty.ics", "", "no iCalendar data found"),
        (
            "two.ics",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:one\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:two\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "holds 2 items (UIDs one, two)",
        ),
        (
            "journal.ics",
            "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:j\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n",
            "holds no event, task or contact (line 2: VJOURNAL j skipped",
        ),
        (
            "card.ics",
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:C\r\nEND:VCARD\r\n",
            "line 1: found a VCARD where iCalendar data was expected",
        ),
    ];
    for (name, text, _) in &files {
        fs::write(c.folder().join(name), text).unwrap();
    }
    fs::write(
        c.folder().join("latin1.ics"),
        b"BEGIN:VCALENDAR\r\nSUMMARY:Caf\xe9\r\n",
    )
    .unwrap();

    let mut hrefs: Vec<Href> = files.iter().map(|(n, _, _)| Href((*n).into())).collect();
    hrefs.push(Href("latin1.ics".into()));
    let results = c.fetch(&hrefs).unwrap();
    let mut reasons: Vec<&str> = files.iter().map(|(_, _, r)| *r).collect();
    reasons.push("is not UTF-8 text (invalid byte at offset 28)");
    for ((result, href), reason) in results.into_iter().zip(&hrefs).zip(reasons) {
        let error = error_of(result);
        assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
        let path = c.folder().join(&href.0);
        let prefix = format!("vdir test: scheduleItems: {}: ", path.display());
        assert!(error.message.starts_with(&prefix), "{error}");
        assert!(error.message.contains(reason), "{error}\nwanted: {reason}");
    }
}

#[test]
fn other_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let created = c.create(&event("real", "Real")).unwrap();
    let folder = c.folder();
    fs::write(folder.join(".hidden.ics"), EVENT).unwrap();
    fs::write(folder.join(".real.ics.123.0.tmp"), EVENT).unwrap();
    fs::write(folder.join("notes.txt"), "hello").unwrap();
    fs::write(folder.join("card.vcf"), CONTACT).unwrap();
    fs::write(folder.join("upper.ICS"), EVENT).unwrap();
    fs::write(folder.join("ics"), EVENT).unwrap();
    fs::create_dir(folder.join("sub")).unwrap();
    fs::write(folder.join("sub").join("inner.ics"), EVENT).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(folder.join("nowhere.ics"), folder.join(".dangling.ics")).unwrap();
    let listing = c.list().unwrap();
    assert_eq!(listing.len(), 1, "{listing:?}");
    assert_eq!(listing[0].href, created.href);

    // The contacts collection in the same folder sees only the vCard.
    let cards = VdirCollection::open(folder.to_path_buf(), ItemType::Contacts, "cards".into());
    let listing = cards.list().unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].href, Href("card.vcf".into()));
}

/// An entry with an item file's name that is not a regular file is listed
/// (at the version of the entry itself) and its fetch fails as invalid, not
/// as missing: a get must not take it for an item deleted at the source.
#[cfg(unix)]
#[test]
fn entries_that_are_not_regular_files_are_listed_and_cannot_be_read() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let real = c.create(&event("real", "Real")).unwrap();
    let folder = c.folder();
    symlink("/nonexistent/gone.ics", folder.join("dangling.ics")).unwrap();
    symlink(folder.join("loop.ics"), folder.join("loop.ics")).unwrap();
    fs::create_dir(folder.join("folder.ics")).unwrap();
    symlink(folder.join("folder.ics"), folder.join("to-folder.ics")).unwrap();
    symlink(folder.join("real.ics"), folder.join("to-real.ics")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        folder.join("pipe.ics"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();

    let listing = c.list().unwrap();
    let hrefs: Vec<&str> = listing.iter().map(|l| l.href.0.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            "dangling.ics",
            "folder.ics",
            "loop.ics",
            "pipe.ics",
            "real.ics",
            "to-folder.ics",
            "to-real.ics"
        ]
    );
    let version = |href: &str| {
        listing
            .iter()
            .find(|l| l.href.0 == href)
            .map(|l| l.version.clone())
            .unwrap()
    };
    // The entry's own version; a link to a regular file has the file's.
    let own = fs::symlink_metadata(folder.join("dangling.ics")).unwrap();
    assert_eq!(version("dangling.ics"), version_of(&own));
    assert_eq!(version("to-real.ics"), real.version);
    assert_eq!(version("real.ics"), real.version);

    for (href, what) in [
        (
            "dangling.ics",
            "is a symbolic link to /nonexistent/gone.ics, which does not exist (a dangling link)",
        ),
        ("loop.ics", "is a symbolic link to "),
        ("folder.ics", "is a folder"),
        ("to-folder.ics", "which is a folder"),
        ("pipe.ics", "is a named pipe"),
    ] {
        let path = folder.join(href);
        // Must not wait for a writer on the named pipe.
        let error = error_of(fetch_one(&c, &Href(href.into())));
        assert_eq!(error.kind, ErrorKind::Invalid, "{href}: {error}");
        let prefix = format!("vdir test: scheduleItems: {}: is ", path.display());
        assert!(
            error.message.starts_with(&prefix),
            "{error}\nwanted: {prefix}"
        );
        assert!(error.message.contains(what), "{error}\nwanted: {what}");
        assert!(
            error
                .message
                .ends_with("only a regular file (or a symbolic link to one) can hold an item"),
            "{error}"
        );
    }
    let looping = error_of(fetch_one(&c, &Href("loop.ics".into())));
    assert!(
        looping
            .message
            .contains("loop.ics, which cannot be followed: "),
        "{looping}"
    );
    // A link to a regular file is read as that file.
    let fetched = fetch_one(&c, &Href("to-real.ics".into())).unwrap();
    assert_eq!(fetched.item.uid(), "real");
    assert_eq!(fetched.version, real.version);
}

/// An update at the listed version replaces a dangling link (the link
/// itself) by the item's file; a folder is refused with a message that says
/// so; a delete leaves any entry that is not a regular file alone.
#[cfg(unix)]
#[test]
fn an_update_replaces_a_dangling_link_and_refuses_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    c.create(&event("other", "Other")).unwrap();
    let folder = c.folder();
    let link = folder.join("ev-3.ics");
    std::os::unix::fs::symlink("/nonexistent/ev-3.ics", &link).unwrap();
    fs::create_dir(folder.join("ev-2.ics")).unwrap();
    let listed: BTreeMap<String, Version> = c
        .list()
        .unwrap()
        .into_iter()
        .map(|l| (l.href.0, l.version))
        .collect();

    // A delete refuses both, and leaves them.
    for href in ["ev-3.ics", "ev-2.ics"] {
        let error = error_of(c.delete(&Href(href.into()), &listed[href]));
        assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
        assert!(fs::symlink_metadata(folder.join(href)).is_ok());
    }

    let written = c
        .update(
            &Href("ev-3.ics".into()),
            &listed["ev-3.ics"],
            &event("ev-3", "Three"),
        )
        .unwrap();
    let now = fs::symlink_metadata(&link).unwrap();
    assert!(now.is_file(), "the link itself is replaced by a file");
    assert_eq!(written.version, version_of(&now));
    let fetched = fetch_one(&c, &Href("ev-3.ics".into())).unwrap();
    assert_eq!(fetched.item.uid(), "ev-3");
    assert!(!Path::new("/nonexistent/ev-3.ics").exists());

    let error = error_of(c.update(
        &Href("ev-2.ics".into()),
        &listed["ev-2.ics"],
        &event("ev-2", "Two"),
    ));
    assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
    assert!(
        error
            .message
            .contains("ev-2.ics: cannot update it: it is a folder"),
        "{error}"
    );
    assert!(folder.join("ev-2.ics").is_dir());
    // No temporary file is left behind.
    assert_eq!(
        names(folder),
        ["ev-2.ics", "ev-3.ics", "other.ics"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

#[test]
fn listing_is_sorted_by_href() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    for uid in ["m", "b", "z", "a", "k"] {
        c.create(&event(uid, uid)).unwrap();
    }
    let hrefs: Vec<String> = c.list().unwrap().into_iter().map(|l| l.href.0).collect();
    assert_eq!(hrefs, ["a.ics", "b.ics", "k.ics", "m.ics", "z.ics"]);
}

#[test]
fn no_temporary_files_are_left_after_writes() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let mut written = Vec::new();
    for i in 0..10 {
        written.push(c.create(&event(&format!("t{i}"), "v1")).unwrap());
    }
    for w in written.iter_mut().take(5) {
        let uid = w.href.0.trim_end_matches(".ics").to_string();
        *w = c.update(&w.href, &w.version, &event(&uid, "v2")).unwrap();
    }
    for w in written.iter().skip(7) {
        c.delete(&w.href, &w.version).unwrap();
    }
    // Failed writes leave nothing either.
    assert!(c.create(&event("t0", "again")).is_err());
    assert!(
        c.update(&written[0].href, &Version("0".into()), &event("t0", "x"))
            .is_err()
    );
    let all = names(c.folder());
    assert_eq!(all.len(), 7, "{all:?}");
    assert!(all.iter().all(|n| !n.starts_with('.')), "{all:?}");
}

#[test]
fn unsafe_uids_get_hashed_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let long = "a".repeat(MAX_PLAIN_UID_BYTES + 1);
    let unsafe_uids = [
        "../../etc/passwd",
        "a/b",
        "..",
        ".hidden",
        "with space",
        "café-ünïcödé",
        "urn:uuid:1234",
        "star*and?question",
        long.as_str(),
    ];
    let mut seen = BTreeSet::new();
    for uid in unsafe_uids {
        let item = event(uid, "unsafe");
        assert_eq!(item.uid(), uid);
        let written = c.create(&item).unwrap();
        let name = &written.href.0;
        assert_eq!(name.len(), 64 + ".ics".len(), "{name}");
        let hex = name.trim_end_matches(".ics");
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        assert_eq!(
            *name,
            format!("{}.ics", blake3::hash(uid.as_bytes()).to_hex())
        );
        assert!(seen.insert(name.clone()));
        // Deterministic: a second create meets the first.
        assert_eq!(error_of(c.create(&item)).kind, ErrorKind::Exists);
        let fetched = fetch_one(&c, &written.href).unwrap();
        assert_eq!(fetched.item.uid(), uid);
    }
    // Everything stayed inside the folder.
    assert_eq!(names(c.folder()).len(), unsafe_uids.len());
    assert_eq!(
        names(dir.path()),
        BTreeSet::from(["scheduleItems".to_string()])
    );
}

#[test]
fn hrefs_that_are_not_item_files_of_the_collection_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    fs::create_dir_all(c.folder()).unwrap();
    fs::write(dir.path().join("outside.ics"), EVENT).unwrap();
    let version = Version("0.000000000-0-0".into());
    for bad in [
        "../outside.ics",
        "/etc/passwd",
        ".hidden.ics",
        "x.vcf",
        ".ics",
        "",
        "a/b.ics",
    ] {
        let href = Href(bad.into());
        let error = error_of(fetch_one(&c, &href));
        assert_eq!(error.kind, ErrorKind::Invalid, "{bad}: {error}");
        assert!(
            error.message.contains("is not the name of an item file"),
            "{error}"
        );
        let error = error_of(c.update(&href, &version, &event("x", "x")));
        assert_eq!(error.kind, ErrorKind::Invalid, "{bad}");
        let error = error_of(c.delete(&href, &version));
        assert_eq!(error.kind, ErrorKind::Invalid, "{bad}");
    }
    assert!(dir.path().join("outside.ics").exists());
}

#[test]
fn items_of_another_type_are_refused_on_write_and_returned_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let task = calendar(TASK_DUE);
    let error = error_of(c.create(&task));
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(error.message.contains("is one of tasks"), "{error}");
    let error = error_of(c.create(&card(CONTACT)));
    assert_eq!(error.kind, ErrorKind::Invalid);

    // A calendar folder that also holds tasks (khal and todoman can share
    // one): the task is listed and fetched as it is, for the caller to sort.
    fs::create_dir_all(c.folder()).unwrap();
    fs::write(c.folder().join("task.ics"), TASK_DUE).unwrap();
    let listing = c.list().unwrap();
    assert_eq!(listing.len(), 1);
    let fetched = fetch_one(&c, &listing[0].href).unwrap();
    assert_eq!(fetched.item.item_type(), ItemType::Tasks);
    assert_eq!(fetched.version, listing[0].version);
}

#[test]
fn large_fetches_keep_the_order_of_the_hrefs() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path()).with_fsync(false);
    let mut hrefs = Vec::new();
    for i in 0..(PARALLEL_FETCH_MIN * 3) {
        let uid = format!("item-{i:03}");
        if i % 7 == 3 {
            // Interleave hrefs that do not exist.
            hrefs.push(Href(format!("{uid}.ics")));
        } else {
            hrefs.push(c.create(&event(&uid, &uid)).unwrap().href);
        }
    }
    hrefs.reverse();
    let results = c.fetch(&hrefs).unwrap();
    assert_eq!(results.len(), hrefs.len());
    for (result, href) in results.into_iter().zip(&hrefs) {
        let uid = href.0.trim_end_matches(".ics");
        let index: usize = uid["item-".len()..].parse().unwrap();
        if index % 7 == 3 {
            assert_eq!(error_of(result).kind, ErrorKind::DoesNotExist);
        } else {
            let fetched = result.unwrap();
            assert_eq!(&fetched.href, href);
            assert_eq!(fetched.item.uid(), uid);
        }
    }
}

#[test]
fn file_system_errors_name_the_file_and_the_operation() {
    // The collection's folder is a regular file: this fails even for root.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("blocker");
    fs::write(&blocker, "not a folder").unwrap();
    let c = VdirCollection::open(
        blocker.join("calendar"),
        ItemType::ScheduleItems,
        "vdir t: calendars/jdoe".into(),
    );
    let error = error_of(c.create(&event("a", "A")));
    assert_eq!(error.kind, ErrorKind::Other);
    assert!(
        error.message.starts_with(&format!(
            "vdir t: calendars/jdoe: cannot create the folder {}: Not a directory",
            blocker.join("calendar").display()
        )),
        "{error}"
    );
    let error = error_of(c.list());
    assert_eq!(error.kind, ErrorKind::Other);
    assert!(error.message.contains("cannot list"), "{error}");
    let error = error_of(fetch_one(&c, &Href("a.ics".into())));
    assert_eq!(error.kind, ErrorKind::Other);
    assert!(error.message.contains("cannot read"), "{error}");
    assert!(error.message.contains("a.ics"), "{error}");
}

#[cfg(unix)]
#[test]
fn a_read_only_folder_gives_errors_that_name_the_file() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path());
    let created = c.create(&event("ro", "Read only")).unwrap();
    fs::set_permissions(c.folder(), fs::Permissions::from_mode(0o555)).unwrap();
    // Root (as in many CI containers) writes to read-only folders anyway:
    // try it, and only assert the refusals if the folder really refuses.
    let probe = c.folder().join("probe");
    let refuses = fs::write(&probe, "").is_err();
    let _ = fs::remove_file(&probe);
    if refuses {
        let error = error_of(c.create(&event("new", "New")));
        assert_eq!(error.kind, ErrorKind::Other);
        let path = c.folder().join("new.ics");
        assert_eq!(
            error.message,
            format!(
                "vdir test: scheduleItems: cannot write {}: Permission denied (os error 13)",
                path.display()
            )
        );
        let error = error_of(c.update(&created.href, &created.version, &event("ro", "x")));
        assert_eq!(error.kind, ErrorKind::Other);
        assert!(
            error.message.contains("ro.ics: Permission denied"),
            "{error}"
        );
        let error = error_of(c.delete(&created.href, &created.version));
        assert_eq!(error.kind, ErrorKind::Other);
        assert!(error.message.contains("cannot delete"), "{error}");
        // Reading still works.
        assert_eq!(c.list().unwrap().len(), 1);
        assert!(fetch_one(&c, &created.href).is_ok());
    }
    fs::set_permissions(c.folder(), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(names(c.folder()), BTreeSet::from(["ro.ics".to_string()]));
}

#[test]
fn writes_without_fsync_give_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let with = collection(dir.path(), ItemType::Tasks);
    let without = VdirCollection::open(
        dir.path().join("other"),
        ItemType::Tasks,
        "vdir other".into(),
    )
    .with_fsync(false);
    let item = calendar(TASK_DUE);
    let a = with.create(&item).unwrap();
    let b = without.create(&item).unwrap();
    assert_eq!(a.href, b.href);
    assert_eq!(
        fs::read(with.folder().join(&a.href.0)).unwrap(),
        fs::read(without.folder().join(&b.href.0)).unwrap()
    );
}

#[test]
fn version_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.ics");
    fs::write(&path, "12345").unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::new(1_767_225_600, 1_000))
        .unwrap();
    let metadata = fs::metadata(&path).unwrap();
    let version = version_of(&metadata);
    assert_eq!(
        version.0,
        format!("1767225600.000001000-5-{}", inode(&metadata))
    );
}

#[test]
fn item_file_names() {
    for good in ["a.ics", "a.b.ics", "a..ics", "x y.ics"] {
        assert!(is_item_file_name(good, "ics"), "{good}");
    }
    for bad in [
        ".a.ics",
        ".ics",
        "ics",
        "a.ICS",
        "a.vcf",
        "a/b.ics",
        "a.ics.tmp",
        "",
    ] {
        assert!(!is_item_file_name(bad, "ics"), "{bad}");
    }
}

/// The id of a process that has ended (and been waited for).
fn dead_process_id() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("start `true`");
    let pid = child.id();
    child.wait().expect("wait for `true`");
    pid
}

#[test]
fn the_first_write_removes_the_temporary_files_of_dead_snapsync_processes_only() {
    let dir = tempfile::tempdir().unwrap();
    let c = calendars(dir.path()).with_fsync(false);
    let folder = c.folder().to_owned();
    fs::create_dir_all(&folder).unwrap();
    let dead = dead_process_id();
    assert!(!process_is_running(dead), "pid {dead} was reused already");
    // This test's process stands for another snapsync still writing; the
    // collection's own process id is this one too, so a live process of
    // another id is the parent (cargo's test runner, or a shell).
    let live = std::os::unix::process::parent_id();
    assert!(process_is_running(live));
    let leftovers = [
        format!(".a@example.com.ics.{dead}.0.tmp"),
        format!(".b@example.com.ics.{dead}.17.tmp"),
    ];
    let kept = [
        // A snapsync process that is still running.
        format!(".c@example.com.ics.{live}.3.tmp"),
        // A user's own temporary files, and near misses of the pattern.
        ".x.tmp".to_owned(),
        format!(".notes.txt.{dead}.1.tmp"),
        format!(".a@example.com.ics.{dead}.tmp"),
        format!(".a@example.com.ics.{dead}.x.tmp"),
        format!("a@example.com.ics.{dead}.0.tmp"),
        format!(".a@example.com.vcf.{dead}.0.tmp"),
    ];
    for name in leftovers.iter().chain(&kept) {
        fs::write(folder.join(name), "partial").unwrap();
    }
    // A folder with a leftover's name is not a file: kept.
    let folder_named_like_one = format!(".d@example.com.ics.{dead}.2.tmp");
    fs::create_dir(folder.join(&folder_named_like_one)).unwrap();

    // Reading never removes anything.
    c.list().unwrap();
    assert_eq!(names(&folder).len(), leftovers.len() + kept.len() + 1);

    c.create(&event("new@example.com", "New")).unwrap();
    let mut expected: BTreeSet<String> = kept.iter().cloned().collect();
    expected.insert(folder_named_like_one);
    expected.insert("new@example.com.ics".to_owned());
    assert_eq!(names(&folder), expected);
}

#[test]
fn an_update_or_a_delete_removes_leftovers_too_once_per_collection() {
    let dir = tempfile::tempdir().unwrap();
    let writer = calendars(dir.path()).with_fsync(false);
    let written = writer.create(&event("u@example.com", "One")).unwrap();
    let dead = dead_process_id();
    let leftover = writer
        .folder()
        .join(format!(".u@example.com.ics.{dead}.0.tmp"));

    fs::write(&leftover, "partial").unwrap();
    let c = calendars(dir.path()).with_fsync(false);
    let written = c
        .update(
            &written.href,
            &written.version,
            &event("u@example.com", "Two"),
        )
        .unwrap();
    assert!(!leftover.exists());
    // Once per collection value: a later write does not list the folder again.
    fs::write(&leftover, "partial").unwrap();
    c.delete(&written.href, &written.version).unwrap();
    assert!(leftover.exists());
    // A new value (the next apply) removes it on its first delete.
    let again = calendars(dir.path()).with_fsync(false);
    let written = again.create(&event("v@example.com", "Three")).unwrap();
    assert!(!leftover.exists());
    fs::write(&leftover, "partial").unwrap();
    let third = calendars(dir.path()).with_fsync(false);
    third.delete(&written.href, &written.version).unwrap();
    assert!(!leftover.exists());
}

#[test]
fn temporary_file_names_are_read_exactly() {
    assert_eq!(temp_file_process(".a.ics.123.0.tmp", "ics"), Some(123));
    assert_eq!(temp_file_process(".a.b.ics.7.99.tmp", "ics"), Some(7));
    assert_eq!(temp_file_process(".a.ics.123.0.tmp", "vcf"), None);
    assert_eq!(temp_file_process(".x.tmp", "ics"), None);
    assert_eq!(temp_file_process(".ics.1.2.tmp", "ics"), None);
    assert_eq!(temp_file_process(".a.ics.1.2.tmp.bak", "ics"), None);
    assert_eq!(temp_file_process(".a.ics.-1.2.tmp", "ics"), None);
    assert_eq!(temp_file_process(".a.ics.99999999999.2.tmp", "ics"), None);
}
