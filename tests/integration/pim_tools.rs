//! What snapsync writes to a vdir target, khal, todoman and khard read: every
//! event, task and contact written through `VdirCollection::create` is
//! listed by the tool, with its UID and its summary or name, and nothing
//! else is.
//!
//! The tools come from the local virtualenv (see `support`); without it
//! these tests fail, saying how to install it.

use std::path::Path;

use snapsync::endpoint::Collection;
use snapsync::endpoint::vdir::VdirCollection;
use snapsync::item::{Item, ItemType, parse_calendar, parse_vcards};

/// A calendar object around `body` (components and their time zones).
fn ics(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Client//EN\r\n{body}END:VCALENDAR\r\n"
    )
}

/// The VTIMEZONE of Europe/Berlin, as clients write it.
const BERLIN: &str = include_str!("../fixtures/items/europe-berlin.vtimezone");

/// Events: zoned, UTC, floating, all-day (one day and several), recurring
/// (with COUNT and an override, without end, all-day yearly), an unsafe UID
/// (the file gets a hashed name) and a summary that needs escaping.
fn events() -> Vec<String> {
    let vevent =
        |props: &str| format!("BEGIN:VEVENT\r\nDTSTAMP:20260101T120000Z\r\n{props}END:VEVENT\r\n");
    vec![
        ics(&format!(
            "{BERLIN}{}",
            vevent(
                "UID:zoned@example.com\r\nSUMMARY:Zoned meeting\r\n\
                 DTSTART;TZID=Europe/Berlin:20260310T093000\r\nDTEND;TZID=Europe/Berlin:20260310T103000\r\n"
            )
        )),
        ics(&vevent(
            "UID:utc-1\r\nSUMMARY:UTC call\r\nDTSTART:20260311T150000Z\r\nDTEND:20260311T153000Z\r\n",
        )),
        ics(&vevent(
            "UID:floating-1\r\nSUMMARY:Floating lunch\r\nDTSTART:20260312T120000\r\nDTEND:20260312T130000\r\n",
        )),
        ics(&vevent(
            "UID:allday-1\r\nSUMMARY:Company holiday\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\n",
        )),
        ics(&vevent(
            "UID:allday-trip\r\nSUMMARY:Conference trip\r\nDTSTART;VALUE=DATE:20260601\r\nDTEND;VALUE=DATE:20260604\r\n",
        )),
        ics(&format!(
            "{BERLIN}{}{}",
            vevent(
                "UID:weekly-review@example.com\r\nSUMMARY:Weekly review\r\n\
                 DTSTART;TZID=Europe/Berlin:20260105T093000\r\nDTEND;TZID=Europe/Berlin:20260105T103000\r\n\
                 RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\r\nEXDATE;TZID=Europe/Berlin:20260112T093000\r\n"
            ),
            vevent(
                "UID:weekly-review@example.com\r\nSUMMARY:Weekly review (moved)\r\n\
                 RECURRENCE-ID;TZID=Europe/Berlin:20260119T093000\r\n\
                 DTSTART;TZID=Europe/Berlin:20260119T140000\r\nDTEND;TZID=Europe/Berlin:20260119T150000\r\n"
            )
        )),
        ics(&vevent(
            "UID:standup-forever\r\nSUMMARY:Standup\r\nDTSTART:20260105T090000\r\n\
             DURATION:PT15M\r\nRRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR\r\n",
        )),
        ics(&vevent(
            "UID:birthday-ann\r\nSUMMARY:Ann's birthday\r\nDTSTART;VALUE=DATE:19900214\r\n\
             DTEND;VALUE=DATE:19900215\r\nRRULE:FREQ=YEARLY\r\n",
        )),
        ics(&vevent(
            "UID:urn:uuid:6f1c2a4e-2b1d-4c3e-9a8f-0d1e2f3a4b5c/with slash\r\n\
             SUMMARY:Café\\, Überraschung\\; 東京\r\nDTSTART:20260401T080000Z\r\nDTEND:20260401T090000Z\r\n",
        )),
    ]
}

/// Tasks: due as date-time and as date, start and due in a zone, no dates,
/// completed, an unsafe UID.
fn tasks() -> Vec<String> {
    let vtodo =
        |props: &str| format!("BEGIN:VTODO\r\nDTSTAMP:20260301T000000Z\r\n{props}END:VTODO\r\n");
    vec![
        ics(&vtodo(
            "UID:task-due\r\nSUMMARY:File the report\r\nDUE:20260310T170000Z\r\nPRIORITY:1\r\n",
        )),
        ics(&vtodo(
            "UID:task-due-date\r\nSUMMARY:Renew the passport\r\nDUE;VALUE=DATE:20260501\r\n",
        )),
        ics(&format!(
            "{BERLIN}{}",
            vtodo(
                "UID:task-zoned\r\nSUMMARY:Prepare the workshop\r\n\
                 DTSTART;TZID=Europe/Berlin:20260302T090000\r\nDUE;TZID=Europe/Berlin:20260306T180000\r\n\
                 STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\n"
            )
        )),
        ics(&vtodo("UID:task-undated\r\nSUMMARY:Someday: read more\r\n")),
        ics(&vtodo(
            "UID:task-done\r\nSUMMARY:Send invoices\r\nSTATUS:COMPLETED\r\n\
             COMPLETED:20260302T100000Z\r\nDUE:20260301T170000Z\r\n",
        )),
        ics(&vtodo(
            "UID:task with spaces/and slash\r\nSUMMARY:Ünïcödé task\\, escaped\r\n",
        )),
    ]
}

/// Contacts: vCard 3 and 4, an unsafe UID, a name that needs escaping.
fn contacts() -> Vec<String> {
    vec![
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jane-1\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\n\
         EMAIL;TYPE=INTERNET,HOME:jane@example.com\r\nTEL;TYPE=CELL,VOICE:+1-555-0100\r\n\
         ORG:ACME Inc.;\r\nREV:20200411T072429Z\r\nEND:VCARD\r\n"
            .into(),
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:0b6f2c1e-5a5e-4c1b-9d1e-3f0c2a9b7d10\r\n\
         FN:Bob Example\r\nN:Example;Bob;;;\r\nEMAIL;TYPE=work:bob@example.com\r\n\
         TEL;VALUE=uri;TYPE=cell:tel:+1-555-0101\r\nREV:20230101T000000Z\r\nEND:VCARD\r\n"
            .into(),
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:zoe-müller\r\nFN:Dr. Zoë Müller\\, MD\r\n\
         N:Müller;Zoë;;Dr.;MD\r\nEND:VCARD\r\n"
            .into(),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:org-1\r\nFN:Example Corp\r\nN:;;;;\r\n\
         ORG:Example Corp\r\nEND:VCARD\r\n"
            .into(),
    ]
}

/// Parses each text into one item and creates it in a vdir collection in
/// `folder`; returns the items.
fn write_all(folder: &Path, item_type: ItemType, texts: &[String]) -> Vec<Item> {
    let collection = VdirCollection::open(
        folder.to_path_buf(),
        item_type,
        format!("vdir pim-tools: {item_type}"),
    );
    let mut items = Vec::new();
    for text in texts {
        let parsed = if item_type == ItemType::Contacts {
            parse_vcards(text)
        } else {
            parse_calendar(text)
        };
        assert!(parsed.errors.is_empty(), "{:?}\n{text}", parsed.errors);
        assert_eq!(parsed.items.len(), 1, "{text}");
        let item = parsed.items.into_iter().next().expect("one item");
        assert_eq!(item.item_type(), item_type, "{text}");
        collection
            .create(&item)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", item.uid()));
        items.push(item);
    }
    assert_eq!(collection.list().expect("list").len(), texts.len());
    items
}

/// `(uid, label)` of each item, sorted, plus `extra`.
fn expected(items: &[Item], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = items
        .iter()
        .map(|item| {
            let label = item
                .label()
                .unwrap_or_else(|| panic!("{} has no summary or name", item.uid()));
            (item.uid().to_string(), label.to_string())
        })
        .chain(
            extra
                .iter()
                .map(|(u, l)| ((*u).to_string(), (*l).to_string())),
        )
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn khal_lists_every_event_snapsync_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("calendars").join("jdoe");
    let items = write_all(&folder, ItemType::ScheduleItems, &events());
    // khal shows an overridden instance with its own summary.
    let want = expected(
        &items,
        &[("weekly-review@example.com", "Weekly review (moved)")],
    );
    assert!(want.contains(&(
        "urn:uuid:6f1c2a4e-2b1d-4c3e-9a8f-0d1e2f3a4b5c/with slash".into(),
        "Café, Überraschung; 東京".into()
    )));
    assert_eq!(crate::support::khal_events(&folder), want);
}

#[test]
fn todoman_lists_every_task_snapsync_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("tasks");
    let items = write_all(&folder, ItemType::Tasks, &tasks());
    assert_eq!(
        crate::support::todoman_tasks(&folder),
        expected(&items, &[])
    );
}

#[test]
fn khard_lists_every_contact_snapsync_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("contacts");
    let items = write_all(&folder, ItemType::Contacts, &contacts());
    let want = expected(&items, &[]);
    assert!(want.contains(&("zoe-müller".into(), "Dr. Zoë Müller, MD".into())));
    assert_eq!(crate::support::khard_contacts(&folder), want);
}

#[test]
fn the_helpers_see_what_is_missing_or_different() {
    // The harness itself: a tool's listing changes when a file is removed
    // or edited behind snapsync's back, so the tests above can fail.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("contacts");
    let items = write_all(&folder, ItemType::Contacts, &contacts()[..2]);
    let collection = VdirCollection::open(folder.clone(), ItemType::Contacts, "t".into());
    std::fs::remove_file(folder.join(collection.href_for_uid("jane-1").0)).unwrap();
    let path = folder.join(collection.href_for_uid(items[1].uid()).0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("FN:Bob Example"), "{text}");
    std::fs::write(&path, text.replace("FN:Bob Example", "FN:Robert Example")).unwrap();
    let seen = crate::support::khard_contacts(&folder);
    assert_ne!(seen, expected(&items, &[]));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "Robert Example");
}
