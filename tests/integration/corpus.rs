//! The real-world corpus (`shared/corpus`, see its README): every `.ics` and
//! `.vcf` file must parse, round-trip with an unchanged content hash, or be
//! reported per item, and nothing may panic. Also pins the recurrence data of
//! the corpus's recurring calendars to values checked by reading the files.
//!
//! The corpus is found through `SNAPSYNC_CORPUS`, or else at
//! `../shared/corpus` beside the crate. A missing corpus fails the tests,
//! saying where they looked: a silently skipped corpus proves nothing.

// The summary of what the corpus gave is printed for whoever runs the tests
// with --nocapture; it is not part of any assertion.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};
use snapsync::item::{
    Item, ItemError, ItemTime, LastStart, Parsed, RecurrenceEnd, RuleEnd, ScheduleItem, SkipReason,
    parse_calendar, parse_vcards,
};

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("SNAPSYNC_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "the corpus was not found at {} (set SNAPSYNC_CORPUS to the folder that holds \
         calendars/ and vcards/); the corpus tests did not run",
        dir.display()
    );
    dir
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("ics" | "vcf")
        ) {
            out.push(path);
        }
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&corpus_dir(), &mut files);
    assert!(!files.is_empty(), "the corpus holds no .ics or .vcf file");
    files
}

fn calendar_file(name: &str) -> PathBuf {
    corpus_dir()
        .join("calendars/recurring-ical-events")
        .join(name)
}

fn read(path: &Path) -> String {
    // Some real-world files are not UTF-8 (Latin-1); read them lossily, as an
    // endpoint would after failing strict decoding.
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

fn parse_file(path: &Path) -> Parsed {
    let text = read(path);
    if path.extension().is_some_and(|e| e == "vcf") {
        parse_vcards(&text)
    } else {
        parse_calendar(&text)
    }
}

fn parse_text_like(item: &Item, text: &str) -> Parsed {
    match item {
        Item::Contact(_) => parse_vcards(text),
        _ => parse_calendar(text),
    }
}

#[test]
fn every_file_parses_round_trips_or_is_reported() {
    let files = corpus_files();
    let mut problems = Vec::new();
    let (mut items, mut errors, mut skipped) = (0, 0, 0);
    for path in &files {
        let name = path.display().to_string();
        let Ok(parsed) = std::panic::catch_unwind(|| parse_file(path)) else {
            problems.push(format!("{name}: parsing panicked"));
            continue;
        };
        items += parsed.items.len();
        errors += parsed.errors.len();
        skipped += parsed.skipped.len();
        for error in &parsed.errors {
            // Every error must say where and why.
            let message = format!("{name}: {error}");
            assert!(
                message.len() > name.len() + 10,
                "uninformative error {message}"
            );
            eprintln!("reported: {message}");
        }
        for skip in &parsed.skipped {
            eprintln!("skipped: {name}: {skip}");
        }
        for item in &parsed.items {
            let written = item.to_text();
            let again = parse_text_like(item, &written);
            if !again.errors.is_empty() || again.items.len() != 1 {
                problems.push(format!(
                    "{name}: {} re-parsed into {} items with errors {:?}",
                    item.uid(),
                    again.items.len(),
                    again.errors
                ));
                continue;
            }
            let copy = &again.items[0];
            if copy.uid() != item.uid() {
                problems.push(format!("{name}: UID {} became {}", item.uid(), copy.uid()));
            }
            if copy.content_hash() != item.content_hash() {
                problems.push(format!(
                    "{name}: {} changed its hash on a round trip:\n--- before\n{}--- after\n{}",
                    item.uid(),
                    item.canonical_text(),
                    copy.canonical_text()
                ));
            }
            if copy.to_text() != written {
                problems.push(format!(
                    "{name}: {} is not written deterministically",
                    item.uid()
                ));
            }
        }
    }
    eprintln!(
        "corpus: {} files, {items} items, {errors} reported errors, {skipped} skipped components",
        files.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(items > 100, "suspiciously few items: {items}");
}

#[test]
fn malformed_vcards_are_reported_with_file_and_reason() {
    let dir = corpus_dir().join("vcards/khard");
    // Truncated on purpose: no END:VCARD.
    let parsed = parse_file(&dir.join("fixture__vcards__unparsable.vcf"));
    assert!(parsed.items.is_empty());
    assert_eq!(
        parsed.errors,
        vec![ItemError::Unterminated {
            component: "VCARD".into(),
            line: 1
        }]
    );
    // A symlink stored as text: a path, not a vCard.
    let parsed = parse_file(&dir.join("fixture__broken.abook__unparsable.vcf"));
    assert!(parsed.items.is_empty());
    assert!(
        matches!(&parsed.errors[..], [ItemError::StrayText { line: 1, text }] if text == "../vcards/unparsable.vcf"),
        "{:?}",
        parsed.errors
    );
}

#[test]
fn a_bad_object_does_not_lose_the_others() {
    // A truncated card followed by a good one, built from two corpus cards.
    let dir = corpus_dir().join("vcards/khard");
    let text = read(&dir.join("fixture__vcards__unparsable.vcf"))
        + &read(&dir.join("fixture__vcards__joe.vcf"));
    let parsed = parse_vcards(&text);
    assert_eq!(parsed.items.len(), 1);
    assert_eq!(
        parsed.items[0].uid(),
        "6exhjr32bt783wwlr9u0sr8lfqse5x7zqc8y"
    );
    assert_eq!(parsed.errors.len(), 1);
}

#[test]
fn journals_are_skipped_not_errors() {
    let parsed = parse_file(&calendar_file("issue_97_simple_journal.ics"));
    assert!(parsed.items.is_empty());
    assert!(parsed.errors.is_empty());
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].component, "VJOURNAL");
    assert_eq!(
        parsed.skipped[0].uid.as_deref(),
        Some("19920901T130000Z-123409@host.com")
    );
}

fn events(name: &str) -> Vec<ScheduleItem> {
    let parsed = parse_file(&calendar_file(name));
    assert!(parsed.errors.is_empty(), "{name}: {:?}", parsed.errors);
    parsed
        .items
        .into_iter()
        .map(|item| match item {
            Item::ScheduleItem(event) => event,
            other => panic!("{name}: expected events, got {:?}", other.item_type()),
        })
        .collect()
}

fn only_event(name: &str) -> ScheduleItem {
    let mut all = events(name);
    assert_eq!(all.len(), 1, "{name}");
    all.remove(0)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn last_utc(event: &ScheduleItem) -> chrono::DateTime<Utc> {
    match event.last_start() {
        LastStart::At(t) => t.instant_in(chrono_tz::UTC),
        LastStart::LaterOf(..) => panic!("{} mixes floating and fixed times", event.uid()),
        LastStart::Capped(..) => panic!("{} is floating or all-day with a UTC UNTIL", event.uid()),
        LastStart::Unbounded => panic!("{} is unbounded", event.uid()),
    }
}

#[test]
fn count_rule_event_10_times() {
    // DTSTART;TZID=Europe/Berlin:20200113T074500, FREQ=DAILY;COUNT=10.
    let event = only_event("event_10_times.ics");
    assert!(event.is_recurring());
    assert_eq!(event.recurrence().rules()[0].end(), RuleEnd::Count(10));
    assert_eq!(
        event.start().instant_in(chrono_tz::UTC),
        utc(2020, 1, 13, 6, 45)
    );
    // The tenth day: 2020-01-22 07:45 CET.
    assert_eq!(last_utc(&event), utc(2020, 1, 22, 6, 45));
    assert_eq!(
        event.modified(),
        Some(utc(2020, 1, 15, 22, 52) + chrono::Duration::seconds(40))
    );
}

#[test]
fn until_rule_is_inclusive_and_date_until_covers_the_day() {
    // Thursdays 14:00 Europe/London from 2019-08-01, UNTIL=20191023 (a
    // Wednesday): the last is Thursday 2019-10-17 14:00 BST.
    let event = only_event("issue_4_rrule_until.ics");
    assert_eq!(last_utc(&event), utc(2019, 10, 17, 13, 0));
    // FREQ=DAILY;UNTIL=20190320T030000Z from 2019-03-18 04:00 Berlin (03:00Z):
    // 2019-03-20 03:00Z is exactly UNTIL and is included.
    let moved = events("recurring_events_moved.ics");
    let test7 = moved
        .iter()
        .find(|e| e.uid() == "5d4c6843-9300-4f91-8d88-6094d4b0b840")
        .expect("test7");
    assert_eq!(last_utc(test7), utc(2019, 3, 20, 3, 0));
}

#[test]
fn rdates_extend_the_range_and_exdates_do_not_shorten_it() {
    let all = events("rdate.ics");
    assert_eq!(all.len(), 3, "three UID-less events stay apart");
    assert!(all.iter().all(ScheduleItem::uid_is_derived));
    let by_summary = |s: &str| {
        all.iter()
            .find(|e| e.summary() == Some(s))
            .unwrap_or_else(|| panic!("{s}"))
    };
    // Daily 19:00Z until 2015-03-20 03:00Z: last 2015-03-19 19:00Z; the RDATE
    // 2014-07-05 is inside.
    let first = by_summary("rdate and rrule overlap");
    assert_eq!(first.recurrence().rdates().len(), 1);
    assert_eq!(last_utc(first), utc(2015, 3, 19, 19, 0));
    // No rule: the RDATE 2025-07-05 19:00Z extends it even though an EXDATE
    // removes that very date.
    let third = by_summary("rdate but exdate removes the date again");
    assert_eq!(third.recurrence().exdates().len(), 1);
    assert_eq!(last_utc(third), utc(2025, 7, 5, 19, 0));
    // Derived UIDs are stable.
    let again = events("rdate.ics");
    assert_eq!(
        all.iter().map(ScheduleItem::uid).collect::<Vec<_>>(),
        again.iter().map(ScheduleItem::uid).collect::<Vec<_>>()
    );
}

#[test]
fn exdate_is_recorded_and_count_still_counts_it() {
    // Weekly from Monday 2019-03-04 00:30 Berlin, COUNT=8, EXDATE 2019-03-10
    // 23:30Z (the second Monday): the 8th start is 2019-04-22 00:30 CEST.
    let event = only_event("each_week_but_one_deleted.ics");
    assert_eq!(
        event.recurrence().exdates(),
        &[ItemTime::Utc(utc(2019, 3, 10, 23, 30))]
    );
    assert_eq!(last_utc(&event), utc(2019, 4, 21, 22, 30));
}

#[test]
fn overrides_join_their_master() {
    let all = events("recurring_events_moved.ics");
    assert_eq!(all.len(), 2, "five VEVENTs, two UIDs");
    let new_event = all
        .iter()
        .find(|e| e.uid() == "a0c78729-30b1-4ba3-a86e-6aedd995d788")
        .expect("New Event");
    let overrides = new_event.recurrence().overrides();
    assert_eq!(overrides.len(), 2);
    let berlin = chrono_tz::Europe::Berlin;
    let at = |d, h| {
        ItemTime::zoned(
            berlin
                .from_local_datetime(
                    &NaiveDate::from_ymd_opt(2019, 3, d)
                        .unwrap()
                        .and_hms_opt(h, 0, 0)
                        .unwrap(),
                )
                .unwrap(),
        )
    };
    assert_eq!(overrides[0].recurrence_id, at(8, 2));
    assert_eq!(overrides[0].start, Some(at(8, 1)));
    assert_eq!(overrides[1].recurrence_id, at(9, 2));
    assert_eq!(overrides[1].start, Some(at(9, 3)));
    // Daily 02:00 Berlin until 2019-03-10 01:00Z (02:00 CET): last 2019-03-10.
    assert_eq!(last_utc(new_event), utc(2019, 3, 10, 1, 0));
    // The written item holds the master and both overrides, master first.
    let text = new_event.to_ics();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3);
    assert!(text.find("RRULE").unwrap() < text.find("RECURRENCE-ID").unwrap());
    assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1);
}

#[test]
fn windows_zone_names_resolve_to_iana() {
    // TZID=Pacific Standard Time (with a VTIMEZONE misspelt
    // "Pacific Standard Time:"): 2023-01-05 10:00 PST = 18:00Z.
    let event = only_event("issue_107_omitting_last_event.ics");
    assert_eq!(event.time_zone(), Some(chrono_tz::America::Los_Angeles));
    assert_eq!(
        event.start().instant_in(chrono_tz::UTC),
        utc(2023, 1, 5, 18, 0)
    );
    // Weekly Thursdays until 2023-06-08 17:00Z = 10:00 PDT: included.
    assert_eq!(last_utc(&event), utc(2023, 6, 8, 17, 0));

    // RECURRENCE-ID;TZID=GMT Standard Time is Europe/London.
    let bins = events("issue_28_rrule_with_UTC_endinginZ.ics");
    let black = bins
        .iter()
        .find(|e| e.summary() == Some("Refuse black bin"))
        .expect("black bin");
    let first_override = black.recurrence().overrides()[0].recurrence_id;
    match first_override {
        ItemTime::Zoned(t) => assert_eq!(t.timezone(), chrono_tz::Europe::London),
        other => panic!("expected a zoned RECURRENCE-ID, got {other}"),
    }
    // All-day series from Thursday 2020-04-02, every 2 weeks, until
    // 2020-09-16 23:00Z, Outlook's "until 17 September" (midnight in London):
    // the 2020-09-17 instance starts at or before that instant where its
    // midnight is (London, east of it), so it is the last there; in UTC and
    // west of it the rule's last is 2020-09-03, which an override moved to
    // Friday 09-04. (This test used to pin the 17th as excluded everywhere:
    // issue 13, defect 17.)
    assert!(black.is_all_day());
    let day = |d| ItemTime::Date(NaiveDate::from_ymd_opt(2020, 9, d).unwrap());
    let end = RecurrenceEnd::from(black.last_start());
    let last_in = |tz| end.last_start_in(tz).map(|(t, _)| t);
    assert_eq!(last_in(chrono_tz::Europe::London), Some(day(17)));
    assert_eq!(last_in(chrono_tz::Europe::Berlin), Some(day(17)));
    assert_eq!(last_in(chrono_tz::UTC), Some(day(4)));
    assert_eq!(last_in(chrono_tz::America::New_York), Some(day(4)));

    // W. Europe Standard Time VTIMEZONE; the event itself uses Europe/Berlin.
    let reoccur = only_event("issue_27_t1.ics");
    assert_eq!(reoccur.time_zone(), Some(chrono_tz::Europe::Berlin));
}

#[test]
fn google_override_and_unbounded_rule() {
    // FREQ=YEARLY with no end, and an override moved half an hour earlier.
    let event = only_event("issue_151_macos_linux_difference.ics");
    assert_eq!(event.last_start(), LastStart::Unbounded);
    assert_eq!(event.recurrence().overrides().len(), 1);
    assert_eq!(event.recurrence().exdates().len(), 1);
    // LAST-MODIFIED wins over the (export-time) DTSTAMP.
    assert_eq!(
        event.modified(),
        Some(utc(2015, 7, 31, 2, 23) + chrono::Duration::seconds(26))
    );
}

#[test]
fn until_before_start_leaves_only_the_first_start() {
    // DTSTART;VALUE=DATE:20231002, UNTIL=20231001.
    let event = only_event("issue_117_until_before_dtstart.ics");
    assert_eq!(
        event.last_start(),
        LastStart::At(ItemTime::Date(
            NaiveDate::from_ymd_opt(2023, 10, 2).unwrap()
        ))
    );
}

#[test]
fn misspelt_until_is_unbounded() {
    // "UNTL=20191023" is not a rule part: the rule has no end.
    let event = only_event("bad_rrule_missing_until_event.ics");
    assert_eq!(event.last_start(), LastStart::Unbounded);
}

#[test]
fn a_newer_version_of_an_event_supersedes_the_older_one() {
    // Two masters with UID 111: SEQUENCE 1, then the edited SEQUENCE 2 with
    // an EXDATE. The edited one is the item; the other is reported skipped.
    let parsed = parse_file(&calendar_file("issue_148_ignored_exdate.ics"));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.items.len(), 1);
    let Item::ScheduleItem(event) = &parsed.items[0] else {
        panic!("expected an event");
    };
    assert_eq!(event.summary(), Some("test123 - edited"));
    assert_eq!(
        event.recurrence().exdates(),
        &[ItemTime::Date(
            NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()
        )]
    );
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].reason, SkipReason::Superseded);
    assert_eq!(parsed.skipped[0].line, 2);
    assert_eq!(event.to_ics().matches("BEGIN:VEVENT").count(), 1);
}

/// The whole corpus through `crm import`: every parsable item is stored with
/// the same hash and filter metadata it had in its file (for a UID that
/// several files hold, the file read last), every malformed one is reported
/// with its file, and the rest of the import goes on.
#[test]
fn the_corpus_goes_through_crm_import() {
    use snapsync::endpoint::Collection;
    use snapsync::endpoint::crm::{CrmStore, import, import_sources};
    use snapsync::item::{ItemMeta, ItemType};
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap();
    let store = CrmStore::open(&dir.path().join("crm.sqlite")).unwrap();
    let sources = import_sources(&[corpus_dir()]).unwrap();
    assert_eq!(sources.len(), corpus_files().len());
    let report = import(&store, "corpus", &sources, |_| {}).unwrap();

    // What each file says, the later file winning, as the import promises.
    let mut expected: BTreeMap<(ItemType, String), ItemMeta> = BTreeMap::new();
    let mut malformed_files = Vec::new();
    for path in corpus_files() {
        let parsed = parse_file(&path);
        if !parsed.errors.is_empty() {
            malformed_files.push(path.clone());
        }
        for item in &parsed.items {
            expected.insert(
                (item.item_type(), item.uid().to_owned()),
                ItemMeta::of(item),
            );
        }
    }
    assert!(
        !malformed_files.is_empty(),
        "the corpus holds malformed files on purpose"
    );
    for file in &malformed_files {
        assert!(
            report
                .problems
                .iter()
                .any(|p| &p.file == file && p.message.len() > 10),
            "{} is malformed but was not reported: {:?}",
            file.display(),
            report.problems
        );
    }
    assert!(
        report
            .problems
            .iter()
            .all(|p| malformed_files.contains(&p.file))
    );

    let mut stored = 0;
    for item_type in ItemType::ALL {
        let collection = store.collection("corpus", item_type);
        let listing = collection.list().unwrap();
        let hrefs: Vec<_> = listing.iter().map(|l| l.href.clone()).collect();
        let fetched = collection.fetch(&hrefs).unwrap();
        for (entry, fetched) in listing.iter().zip(fetched) {
            let meta = entry.meta.as_ref().expect("the CRM lists metadata");
            let want = &expected[&(item_type, meta.uid.clone())];
            assert_eq!(
                meta, want,
                "{item_type} {} lost metadata in the store",
                meta.uid
            );
            let item = fetched.unwrap_or_else(|e| panic!("{e}")).item;
            assert_eq!(
                item.content_hash(),
                want.hash,
                "{} changed in the store",
                meta.uid
            );
            stored += 1;
        }
    }
    assert_eq!(stored, expected.len());
    let counted: u64 = report.counts.values().map(|c| c.created).sum();
    assert_eq!(counted, expected.len() as u64);
}
