//! Codec and hash tests: round trips, stability under reformatting, and
//! sensitivity to every edit a user would notice.

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

const EVENT: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Client 1.0//EN\r
BEGIN:VTIMEZONE\r
TZID:W. Europe Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly-review@example.com\r
DTSTAMP:20260101T120000Z\r
LAST-MODIFIED:20260102T080000Z\r
SEQUENCE:3\r
SUMMARY:Weekly review\\, team A\r
DESCRIPTION:Agenda:\\n1. numbers\\n2. risks\r
LOCATION:Room 4\r
DTSTART;TZID=W. Europe Standard Time:20260105T093000\r
DTEND;TZID=W. Europe Standard Time:20260105T103000\r
RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\r
EXDATE;TZID=W. Europe Standard Time:20260112T093000\r
STATUS:CONFIRMED\r
CATEGORIES:Work,Review\r
ORGANIZER;CN=Ann Boss:mailto:ann@example.com\r
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@example.com\r
ATTENDEE;CN=Cy;PARTSTAT=NEEDS-ACTION:mailto:cy@example.com\r
X-MS-OLK-COLOR:blue\r
ATTACH:https://example.com/agenda.pdf\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-review@example.com\r
DTSTAMP:20260101T120000Z\r
RECURRENCE-ID;TZID=W. Europe Standard Time:20260119T093000\r
DTSTART;TZID=W. Europe Standard Time:20260119T140000\r
DTEND;TZID=W. Europe Standard Time:20260119T150000\r
SUMMARY:Weekly review (moved)\r
END:VEVENT\r
END:VCALENDAR\r
";

const TASK: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Tasks//EN\r
BEGIN:VTODO\r
UID:task-1\r
DTSTAMP:20260301T000000Z\r
SUMMARY:File the report\r
DTSTART;VALUE=DATE:20260302\r
DUE:20260310T170000Z\r
PRIORITY:1\r
PERCENT-COMPLETE:40\r
STATUS:IN-PROCESS\r
END:VTODO\r
END:VCALENDAR\r
";

const CARD_V3: &str = "BEGIN:VCARD\r
VERSION:3.0\r
UID:jane-1\r
FN:Jane Doe\r
N:Doe;Jane;;;\r
EMAIL;TYPE=INTERNET,HOME:jane@example.com\r
EMAIL;TYPE=INTERNET,WORK,pref:jd@work.example\r
TEL;TYPE=CELL,VOICE:+1-555-0100\r
ORG:ACME Inc.;\r
TITLE:Engineer\r
ADR;TYPE=HOME:;;Main Street 1;Springfield;;12345;USA\r
PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r
NOTE:Met at the fair\\, 2019\r
REV:20200411T072429Z\r
END:VCARD\r
";

const CARD_V4: &str = "BEGIN:VCARD\r
VERSION:4.0\r
UID:jane-1\r
FN:Jane Doe\r
N:Doe;Jane;;;\r
EMAIL;TYPE=home:jane@example.com\r
EMAIL;PREF=1;TYPE=work:jd@work.example\r
TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100\r
ORG:ACME Inc.\r
TITLE:Engineer\r
ADR;TYPE=home:;;Main Street 1;Springfield;;12345;USA\r
PHOTO:data:image/png;base64,iVBORw0KGgo=\r
NOTE:Met at the fair\\, 2019\r
REV:20230101T000000Z\r
END:VCARD\r
";

fn one(parsed: Parsed) -> Item {
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.items.len(), 1, "{:?}", parsed.items);
    parsed.items.into_iter().next().expect("one item")
}

fn hash_of_calendar(text: &str) -> ContentHash {
    one(parse_calendar(text)).content_hash()
}

fn hash_of_card(text: &str) -> ContentHash {
    one(parse_vcards(text)).content_hash()
}

// ---- reformatting helpers -------------------------------------------------

/// Logical lines (unfolded), without line ends.
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t'))
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !raw.is_empty() {
            lines.push(raw.to_string());
        }
    }
    lines
}

/// Folds every line at `width` characters, with the given line end.
fn fold(lines: &[String], width: usize, eol: &str) -> String {
    let mut out = String::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for (i, chunk) in chars.chunks(width.max(1)).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(chunk);
            out.push_str(eol);
        }
    }
    out
}

/// Rotates the property lines of every component by `shift` (sub-components
/// stay where they are), which reorders properties without breaking nesting.
fn reorder(lines: &[String], shift: usize) -> Vec<String> {
    fn component(lines: &[String], at: &mut usize, shift: usize, out: &mut Vec<String>) {
        out.push(lines[*at].clone()); // BEGIN
        *at += 1;
        let mut props = Vec::new();
        let mut children = Vec::new();
        while *at < lines.len() && !lines[*at].starts_with("END:") {
            if lines[*at].starts_with("BEGIN:") {
                let mut child = Vec::new();
                component(lines, at, shift, &mut child);
                children.push(child);
            } else {
                props.push(lines[*at].clone());
                *at += 1;
            }
        }
        if !props.is_empty() {
            let len = props.len();
            props.rotate_left(shift % len);
        }
        children.reverse();
        out.extend(props);
        out.extend(children.into_iter().flatten());
        if *at < lines.len() {
            out.push(lines[*at].clone()); // END
            *at += 1;
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        component(lines, &mut at, shift, &mut out);
    }
    out
}

/// Lower-cases parameter names and reverses parameter order.
fn shuffle_params(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let Some(colon) = find_value_colon(line) else {
                return line.clone();
            };
            let (head, value) = line.split_at(colon);
            let mut parts: Vec<&str> = head.split(';').collect();
            if parts.len() < 3 || parts.iter().any(|p| p.contains('"')) {
                return line.clone();
            }
            let name = parts.remove(0).to_string();
            parts.reverse();
            let params: Vec<String> = parts
                .iter()
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => format!("{}={v}", k.to_ascii_lowercase()),
                    None => (*p).to_string(),
                })
                .collect();
            format!("{name};{}{value}", params.join(";"))
        })
        .collect()
}

fn find_value_colon(line: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn replace_line(text: &str, prefix: &str, with: &str) -> String {
    let lines = unfold(text);
    let replaced: Vec<String> = lines
        .into_iter()
        .map(|l| {
            if l.starts_with(prefix) {
                with.to_string()
            } else {
                l
            }
        })
        .collect();
    fold(&replaced, 500, "\r\n")
}

// ---- round trips ---------------------------------------------------------

#[test]
fn event_fields_are_read() {
    let Item::ScheduleItem(event) = one(parse_calendar(EVENT)) else {
        panic!("not an event");
    };
    assert_eq!(event.uid(), "weekly-review@example.com");
    assert_eq!(event.summary(), Some("Weekly review, team A"));
    assert_eq!(event.description(), Some("Agenda:\n1. numbers\n2. risks"));
    assert_eq!(event.location(), Some("Room 4"));
    assert_eq!(event.time_zone(), Some(chrono_tz::Europe::Berlin));
    assert_eq!(
        event.start().instant_in(chrono_tz::UTC),
        Utc.with_ymd_and_hms(2026, 1, 5, 8, 30, 0).unwrap()
    );
    assert_eq!(
        event.end().map(|e| e.instant_in(chrono_tz::UTC)),
        Some(Utc.with_ymd_and_hms(2026, 1, 5, 9, 30, 0).unwrap())
    );
    assert_eq!(event.status(), Some("CONFIRMED"));
    assert_eq!(
        event.categories(),
        &["Work".to_string(), "Review".to_string()]
    );
    assert_eq!(
        event.organizer().map(Participant::email),
        Some("ann@example.com")
    );
    assert_eq!(event.attendees().len(), 2);
    assert_eq!(event.attendees()[0].status.as_deref(), Some("ACCEPTED"));
    assert_eq!(
        event.modified(),
        Some(Utc.with_ymd_and_hms(2026, 1, 2, 8, 0, 0).unwrap())
    );
    assert_eq!(event.recurrence().overrides().len(), 1);
    assert_eq!(event.recurrence().exdates().len(), 1);
    // Ten Mondays from 2026-01-05: the last is 2026-03-09 09:30 CET.
    assert_eq!(
        event.last_start(),
        LastStart::At(ItemTime::zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 3, 9, 9, 30, 0)
                .unwrap()
        ))
    );
}

#[test]
fn event_round_trip_keeps_every_property() {
    let item = one(parse_calendar(EVENT));
    let written = item.to_text();
    for needle in [
        "X-MS-OLK-COLOR:blue",
        "BEGIN:VALARM",
        "TRIGGER:-PT15M",
        "ATTACH:https://example.com/agenda.pdf",
        "TZID:W. Europe Standard Time",
        "RECURRENCE-ID",
        "SEQUENCE:3",
        "DTSTAMP:20260101T120000Z",
    ] {
        assert!(written.contains(needle), "{needle} lost:\n{written}");
    }
    let again = one(parse_calendar(&written));
    assert_eq!(again.content_hash(), item.content_hash());
    assert_eq!(again.to_text(), written, "writing is deterministic");
}

#[test]
fn task_fields_are_read() {
    let Item::Task(task) = one(parse_calendar(TASK)) else {
        panic!("not a task");
    };
    assert_eq!(task.summary(), Some("File the report"));
    assert_eq!(
        task.start(),
        Some(&ItemTime::Date(
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        ))
    );
    assert_eq!(
        task.due(),
        Some(&ItemTime::Utc(
            Utc.with_ymd_and_hms(2026, 3, 10, 17, 0, 0).unwrap()
        ))
    );
    assert_eq!(task.priority(), Some(1));
    assert_eq!(task.percent_complete(), Some(40));
    assert_eq!(task.status(), Some("IN-PROCESS"));
    // No LAST-MODIFIED: DTSTAMP stands in.
    assert_eq!(
        task.modified(),
        Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap())
    );
    let again = one(parse_calendar(&task.to_ics()));
    assert_eq!(again.content_hash(), task.content_hash());
}

#[test]
fn contact_fields_are_read_and_round_trip_in_their_version() {
    let Item::Contact(card) = one(parse_vcards(CARD_V3)) else {
        panic!("not a contact");
    };
    assert_eq!(card.version(), "3.0");
    assert_eq!(card.formatted_name(), Some("Jane Doe"));
    assert_eq!(card.name().map(|n| n.family.as_str()), Some("Doe"));
    assert_eq!(card.emails().len(), 2);
    assert_eq!(card.emails()[0].types, vec!["home".to_string()]);
    assert!(card.emails()[1].preferred);
    assert_eq!(card.phones()[0].number, "+1-555-0100");
    assert_eq!(card.organization(), &["ACME Inc.".to_string()]);
    assert_eq!(card.title(), Some("Engineer"));
    assert_eq!(card.addresses()[0].locality, "Springfield");
    assert_eq!(card.note(), Some("Met at the fair, 2019"));
    assert_eq!(
        card.rev(),
        Some(Utc.with_ymd_and_hms(2020, 4, 11, 7, 24, 29).unwrap())
    );
    let written = card.to_vcf();
    assert!(written.contains("VERSION:3.0"), "{written}");
    assert!(written.contains("PHOTO"), "{written}");
    let again = one(parse_vcards(&written));
    assert_eq!(again.content_hash(), card.content_hash());

    let Item::Contact(v4) = one(parse_vcards(CARD_V4)) else {
        panic!("not a contact");
    };
    assert_eq!(v4.phones()[0].number, "+1-555-0100");
    assert!(v4.emails()[1].preferred);
}

#[test]
fn vcard_3_and_4_of_the_same_card_hash_the_same() {
    assert_eq!(
        hash_of_card(CARD_V3),
        hash_of_card(CARD_V4),
        "\n{}\n{}",
        one(parse_vcards(CARD_V3)).canonical_text(),
        one(parse_vcards(CARD_V4)).canonical_text()
    );
}

#[test]
fn items_without_uid_get_a_stable_derived_one() {
    let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101T100000Z\nSUMMARY:A\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART:20260101T100000Z\nSUMMARY:B\nEND:VEVENT\nEND:VCALENDAR\n";
    let parsed = parse_calendar(text);
    assert_eq!(parsed.items.len(), 2, "UID-less events are not grouped");
    let first = &parsed.items[0];
    assert!(first.uid_is_derived());
    assert!(first.uid().starts_with("snapsync-"));
    assert_ne!(first.uid(), parsed.items[1].uid());
    // The written item carries the UID, and reading it back keeps the hash.
    let written = first.to_text();
    assert!(written.contains(&format!("UID:{}", first.uid())));
    let again = one(parse_calendar(&written));
    assert_eq!(again.uid(), first.uid());
    assert!(!again.uid_is_derived());
    assert_eq!(again.content_hash(), first.content_hash());
    // Reformatting does not change the derived UID.
    let refolded = fold(&unfold(text), 7, "\n");
    assert_eq!(parse_calendar(&refolded).items[0].uid(), first.uid());

    let card = one(parse_vcards(
        "BEGIN:VCARD\nVERSION:4.0\nFN:No Uid\nEND:VCARD\n",
    ));
    assert!(card.uid_is_derived());
    assert!(card.to_text().contains(card.uid()));
}

#[test]
fn bad_component_is_reported_and_the_others_still_parse() {
    let text = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:no-start\nSUMMARY:x\nEND:VEVENT\nBEGIN:VEVENT\nUID:bad-start\nDTSTART:tomorrow\nEND:VEVENT\nBEGIN:VEVENT\nUID:good\nDTSTART:20260101T100000Z\nEND:VEVENT\nBEGIN:VJOURNAL\nUID:j\nEND:VJOURNAL\nEND:VCALENDAR\n";
    let parsed = parse_calendar(text);
    assert_eq!(parsed.items.len(), 1);
    assert_eq!(parsed.items[0].uid(), "good");
    assert_eq!(parsed.errors.len(), 2, "{:?}", parsed.errors);
    assert_eq!(
        parsed.errors[0].to_string(),
        "line 3: VEVENT no-start: DTSTART is missing"
    );
    assert_eq!(parsed.errors[0].uid(), Some("no-start"));
    assert_eq!(
        parsed.errors[1].to_string(),
        "line 7: VEVENT bad-start: DTSTART has an unreadable value \"tomorrow\""
    );
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].reason, SkipReason::NotAnItem);
    assert_eq!(parsed.skipped[0].line, 15);
}

#[test]
fn wrong_kind_is_reported() {
    let parsed = parse_calendar(CARD_V4);
    assert!(parsed.items.is_empty());
    assert!(matches!(
        parsed.errors[..],
        [ItemError::WrongKind { line: 1, .. }]
    ));
    assert_eq!(parse_any(CARD_V4).items.len(), 1);
}

// ---- hash stability ------------------------------------------------------

#[test]
fn hash_ignores_server_stamps_and_wrapper() {
    let base = hash_of_calendar(EVENT);
    let cases = [
        EVENT.replace("DTSTAMP:20260101T120000Z", "DTSTAMP:20270707T070707Z"),
        EVENT.replace("SEQUENCE:3", "SEQUENCE:4"),
        EVENT.replace(
            "LAST-MODIFIED:20260102T080000Z",
            "LAST-MODIFIED:20270102T080000Z",
        ),
        EVENT.replace(
            "PRODID:-//Example//Client 1.0//EN",
            "PRODID:-//Other//Server//EN",
        ),
        EVENT.replace(
            "VERSION:2.0\r\n",
            "VERSION:2.0\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Team\r\n",
        ),
        EVENT.replace(
            "SEQUENCE:3\r\n",
            "SEQUENCE:3\r\nCREATED:20250101T000000Z\r\n",
        ),
        EVENT.replace(
            "LOCATION:Room 4\r\n",
            "LOCATION:Room 4   \r\nX-LIC-ERROR:No value for CLASS\r\n",
        ),
        // The Windows zone name and its IANA name are the same zone.
        EVENT.replace("TZID=W. Europe Standard Time", "TZID=Europe/Berlin"),
        // CATEGORIES on two lines, in another order.
        EVENT.replace(
            "CATEGORIES:Work,Review",
            "CATEGORIES:Review\r\nCATEGORIES:Work",
        ),
        // Rule defaults and part order.
        EVENT.replace(
            "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO",
            "RRULE:BYDAY=MO;WKST=MO;INTERVAL=1;COUNT=10;FREQ=WEEKLY",
        ),
        // Escaping that is optional, mailto case, an empty property.
        EVENT
            .replace("mailto:bob@example.com", "MAILTO:Bob@Example.com")
            .replace("STATUS:CONFIRMED\r\n", "STATUS:CONFIRMED\r\nCOMMENT:\r\n"),
        EVENT.replace("TRIGGER:-PT15M", "TRIGGER;VALUE=DURATION:-PT15M"),
        EVENT.replace("\r\n", "\n"),
    ];
    for (i, case) in cases.iter().enumerate() {
        let item = one(parse_calendar(case));
        assert_eq!(
            item.content_hash(),
            base,
            "case {i} changed the hash:\n{}",
            item.canonical_text()
        );
    }
}

#[test]
fn hash_changes_on_every_user_visible_edit() {
    let base = hash_of_calendar(EVENT);
    let edits = [
        ("summary", EVENT.replace("Weekly review\\, team A", "Weekly review\\, team B")),
        ("description", EVENT.replace("2. risks", "2. risks\\n3. aob")),
        ("location", EVENT.replace("Room 4", "Room 5")),
        ("start", EVENT.replace("DTSTART;TZID=W. Europe Standard Time:20260105T093000", "DTSTART;TZID=W. Europe Standard Time:20260105T100000")),
        ("end", EVENT.replace("20260105T103000", "20260105T110000")),
        ("zone", EVENT.replace("DTSTART;TZID=W. Europe Standard Time:20260105", "DTSTART;TZID=Europe/London:20260105")),
        ("count", EVENT.replace("COUNT=10", "COUNT=11")),
        ("rule day", EVENT.replace("BYDAY=MO", "BYDAY=TU")),
        ("exdate", EVENT.replace("EXDATE;TZID=W. Europe Standard Time:20260112T093000", "EXDATE;TZID=W. Europe Standard Time:20260126T093000")),
        ("status", EVENT.replace("STATUS:CONFIRMED", "STATUS:CANCELLED")),
        ("category", EVENT.replace("CATEGORIES:Work,Review", "CATEGORIES:Work")),
        ("partstat", EVENT.replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=DECLINED")),
        ("attendee removed", EVENT.replace("ATTENDEE;CN=Cy;PARTSTAT=NEEDS-ACTION:mailto:cy@example.com\r\n", "")),
        ("organizer", EVENT.replace("CN=Ann Boss", "CN=Ann B.")),
        ("alarm", EVENT.replace("TRIGGER:-PT15M", "TRIGGER:-PT30M")),
        ("alarm removed", EVENT.replace("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n", "")),
        ("x-property", EVENT.replace("X-MS-OLK-COLOR:blue", "X-MS-OLK-COLOR:red")),
        ("attachment", EVENT.replace("agenda.pdf", "minutes.pdf")),
        ("override summary", EVENT.replace("Weekly review (moved)", "Weekly review (moved again)")),
        ("override time", EVENT.replace("20260119T140000", "20260119T141500")),
        ("all-day", EVENT.replace("DTSTART;TZID=W. Europe Standard Time:20260105T093000", "DTSTART;VALUE=DATE:20260105")),
    ];
    for (what, edited) in edits {
        assert_ne!(edited, EVENT, "{what}: the edit did not apply");
        assert_ne!(
            hash_of_calendar(&edited),
            base,
            "{what} did not change the hash"
        );
    }
}

#[test]
fn contact_hash_changes_on_edits_but_not_on_rev() {
    let base = hash_of_card(CARD_V4);
    assert_eq!(
        hash_of_card(&CARD_V4.replace("REV:20230101T000000Z", "REV:20250101T000000Z")),
        base
    );
    for (what, edited) in [
        ("name", CARD_V4.replace("FN:Jane Doe", "FN:Jane Roe")),
        (
            "email",
            CARD_V4.replace("jane@example.com", "jane@example.org"),
        ),
        (
            "email type",
            CARD_V4.replace("EMAIL;TYPE=home", "EMAIL;TYPE=work"),
        ),
        (
            "preferred",
            CARD_V4.replace("EMAIL;PREF=1;TYPE=work", "EMAIL;TYPE=work"),
        ),
        ("phone", CARD_V4.replace("0100", "0101")),
        ("org", CARD_V4.replace("ACME Inc.", "ACME Ltd.")),
        ("photo", CARD_V4.replace("iVBORw0KGgo=", "iVBORw0KGhk=")),
        ("note", CARD_V4.replace("fair\\, 2019", "fair\\, 2020")),
        ("address", CARD_V4.replace("Main Street 1", "Main Street 2")),
    ] {
        assert_ne!(edited, CARD_V4, "{what}: the edit did not apply");
        assert_ne!(
            hash_of_card(&edited),
            base,
            "{what} did not change the hash"
        );
    }
}

#[test]
fn replace_line_helper_keeps_other_lines() {
    let changed = replace_line(TASK, "SUMMARY", "SUMMARY:Another");
    assert_ne!(hash_of_calendar(&changed), hash_of_calendar(TASK));
    assert_eq!(
        hash_of_calendar(&replace_line(TASK, "DTSTAMP", "DTSTAMP:20300101T000000Z")),
        hash_of_calendar(TASK)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Folding, line ends, property order, parameter order and case: none of
    /// them changes the hash of an event, a task or a card.
    #[test]
    fn reformatting_never_changes_the_hash(
        width in 1usize..90,
        shift in 0usize..40,
        crlf in any::<bool>(),
        shuffle in any::<bool>(),
        which in 0usize..4,
    ) {
        let (text, is_card) = [(EVENT, false), (TASK, false), (CARD_V3, true), (CARD_V4, true)][which];
        let mut lines = reorder(&unfold(text), shift);
        if shuffle {
            lines = shuffle_params(&lines);
        }
        let eol = if crlf { "\r\n" } else { "\n" };
        let reformatted = fold(&lines, width, eol);
        let (before, after) = if is_card {
            (hash_of_card(text), hash_of_card(&reformatted))
        } else {
            (hash_of_calendar(text), hash_of_calendar(&reformatted))
        };
        prop_assert_eq!(before, after, "reformatted:\n{}", reformatted);
    }

    /// Any text, however broken, parses without panicking, and every item it
    /// gives round-trips with its hash.
    #[test]
    fn arbitrary_text_never_panics(text in "(BEGIN:V(CALENDAR|EVENT|TODO|CARD)\n|END:V(CALENDAR|EVENT|TODO|CARD)\n|DTSTART:2026010[1-9]T1[0-9]0000Z?\n|RRULE:FREQ=(DAILY|WEEKLY);COUNT=[0-9]\n|UID:[a-c]\n|SUMMARY:[a-z ,;]{0,6}\n|[A-Z:;= ]{0,8}\n){0,16}") {
        let parsed = parse_any(&text);
        for item in &parsed.items {
            let again = parse_any(&item.to_text());
            prop_assert_eq!(again.items.len(), 1);
            prop_assert_eq!(again.items[0].content_hash(), item.content_hash());
        }
    }
}

#[test]
fn extreme_rules_do_not_panic() {
    for (start, rule) in [
        ("99991231T235959Z", "FREQ=YEARLY;COUNT=5"),
        ("99991231T235959Z", "FREQ=SECONDLY;UNTIL=99991231T235959Z"),
        ("20260101T000000Z", "FREQ=SECONDLY;COUNT=4000000000"),
        ("20260101T000000Z", "FREQ=SECONDLY;UNTIL=21260101T000000Z"),
        (
            "20260101T000000Z",
            "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;COUNT=3",
        ),
        ("20260101T000000Z", "FREQ=YEARLY;BYWEEKNO=60;COUNT=2"),
        ("20260101T000000Z", "FREQ=DAILY;INTERVAL=0;COUNT=2"),
        ("20260101", "FREQ=DAILY;UNTIL=20260110T000000Z"),
        ("00010101T000000", "FREQ=DAILY;COUNT=3;BYSETPOS=-400"),
    ] {
        let text = format!(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:{start}\nRRULE:{rule}\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        if let Some(Item::ScheduleItem(event)) = parse_calendar(&text).items.first() {
            let last = event.last_start();
            // Past a million occurrences: COUNT gives up (unbounded), UNTIL
            // answers UNTIL itself; both keep the item in scope.
            if rule == "FREQ=SECONDLY;COUNT=4000000000" {
                assert_eq!(last, LastStart::Unbounded);
            }
            if rule == "FREQ=SECONDLY;UNTIL=21260101T000000Z" {
                assert_eq!(
                    last,
                    LastStart::At(ItemTime::Utc(
                        Utc.with_ymd_and_hms(2126, 1, 1, 0, 0, 0).unwrap()
                    ))
                );
            }
        }
    }
}

fn last_start_of(properties: &str) -> LastStart {
    let text = format!(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTAMP:20250101T000000Z\n{properties}END:VEVENT\nEND:VCALENDAR\n"
    );
    let Item::ScheduleItem(event) = one(parse_calendar(&text)) else {
        panic!("not an event");
    };
    event.last_start()
}

#[test]
fn a_last_start_of_mixed_natures_keeps_both_when_the_zone_decides() {
    let floating = |d, h| {
        ItemTime::Floating(
            NaiveDate::from_ymd_opt(2026, 5, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap(),
        )
    };
    let utc = |d, h| ItemTime::Utc(Utc.with_ymd_and_hms(2026, 5, d, h, 0, 0).unwrap());
    // The rule's last occurrence is 3 May 10:00 floating; the RDATE is 3 May
    // 05:00 UTC. In Tokyo (UTC+9) the RDATE is later (14:00 local), in Los
    // Angeles the floating time is (17:00 UTC): keep both.
    let last = last_start_of(
        "DTSTART:20260501T100000\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:20260503T050000Z\n",
    );
    assert_eq!(last, LastStart::LaterOf(utc(3, 5), floating(3, 10)));
    let end = RecurrenceEnd::from(last);
    assert_eq!(
        end.last_start_in(chrono_tz::Asia::Tokyo),
        Some((
            utc(3, 5),
            Utc.with_ymd_and_hms(2026, 5, 3, 5, 0, 0).unwrap()
        ))
    );
    assert_eq!(
        end.last_start_in(chrono_tz::America::Los_Angeles),
        Some((
            floating(3, 10),
            Utc.with_ymd_and_hms(2026, 5, 3, 17, 0, 0).unwrap()
        ))
    );
    assert_eq!(end.encode(), "2026-05-03T05:00:00Z 2026-05-03T10:00:00");
    assert_eq!(RecurrenceEnd::decode(&end.encode()), Some(end));
    // More than 14 hours apart, one is later in every zone.
    assert_eq!(
        last_start_of(
            "DTSTART:20260501T100000\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:20260504T010000Z\n"
        ),
        LastStart::At(utc(4, 1))
    );
    assert_eq!(
        last_start_of(
            "DTSTART:20260501T100000\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:20260502T190000Z\n"
        ),
        LastStart::At(floating(3, 10))
    );
}

#[test]
fn an_override_of_this_and_future_moves_the_last_start() {
    let series = |overrides: &str| {
        format!(
            "DTSTART;TZID=Europe/Berlin:20260305T100000\nRRULE:FREQ=WEEKLY;COUNT=4\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:x\nDTSTAMP:20250101T000000Z\n{overrides}"
        )
    };
    let berlin = |d, h| {
        ItemTime::zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 3, d, h, 0, 0)
                .unwrap(),
        )
    };
    // Thursdays 5–26 March at 10:00 Berlin time. From the second on, every
    // occurrence moves a day later: the last is Friday 27 March.
    assert_eq!(
        last_start_of(&series(
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260312T100000\n\
             DTSTART;TZID=Europe/Berlin:20260313T100000\n"
        )),
        LastStart::At(berlin(27, 10))
    );
    // The move is on the wall clock: an hour later stays 11:00 after the
    // switch to summer time on 29 March.
    let april = |d, h| {
        ItemTime::zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 4, d, h, 0, 0)
                .unwrap(),
        )
    };
    assert_eq!(
        last_start_of(
            "DTSTART;TZID=Europe/Berlin:20260305T100000\nRRULE:FREQ=WEEKLY;COUNT=5\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:x\nDTSTAMP:20250101T000000Z\n\
             RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260312T100000\n\
             DTSTART;TZID=Europe/Berlin:20260312T110000\n"
        ),
        LastStart::At(april(2, 11))
    );
    // Without RANGE, only that occurrence moves.
    assert_eq!(
        last_start_of(&series(
            "RECURRENCE-ID;TZID=Europe/Berlin:20260312T100000\n\
             DTSTART;TZID=Europe/Berlin:20260313T100000\n"
        )),
        LastStart::At(berlin(26, 10))
    );
    // Moving earlier never makes the last start earlier.
    assert_eq!(
        last_start_of(&series(
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260312T100000\n\
             DTSTART;TZID=Europe/Berlin:20260311T100000\n"
        )),
        LastStart::At(berlin(26, 10))
    );
}

#[test]
fn a_time_in_a_utc_zone_hashes_as_the_utc_time_it_is() {
    // Radicale (vobject) stores `TZID=UTC:…T121500` as `TZID=UTC:…T121500Z`.
    let event = |start: &str| {
        hash_of_calendar(&format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\n\
             DTSTAMP:20250101T000000Z\r\n{start}\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ))
    };
    let utc = event("DTSTART:20250125T121500Z");
    assert_eq!(event("DTSTART;TZID=UTC:20250125T121500"), utc);
    assert_eq!(event("DTSTART;TZID=UTC:20250125T121500Z"), utc);
    assert_eq!(event("DTSTART;TZID=Etc/UTC:20250125T121500"), utc);
    assert_ne!(event("DTSTART;TZID=Europe/Berlin:20250125T121500"), utc);
    assert_ne!(event("DTSTART:20250125T121500"), utc, "floating is not UTC");
}

#[test]
fn an_rrule_without_a_valid_freq_is_no_rule_and_is_reported() {
    let read = |rule: &str| {
        let text = format!(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTAMP:20250101T000000Z\n\
             DTSTART:20260105T090000Z\n{rule}END:VEVENT\nEND:VCALENDAR\n"
        );
        let Item::ScheduleItem(event) = one(parse_calendar(&text)) else {
            panic!("not an event");
        };
        event
    };
    let empty = read("RRULE:\n");
    assert!(!empty.is_recurring());
    assert!(empty.recurrence().rules().is_empty());
    assert_eq!(
        empty.problems(),
        ["RRULE \"\" has no valid FREQ: the event is read as not recurring"]
    );
    assert_eq!(
        read("RRULE:COUNT=3;INTERVAL=2\n").problems(),
        ["RRULE \"COUNT=3;INTERVAL=2\" has no valid FREQ: the event is read as not recurring"]
    );
    // The rule is still written back as it was read.
    assert!(
        Item::ScheduleItem(read("RRULE:COUNT=3\n"))
            .to_text()
            .contains("RRULE:COUNT=3")
    );
    // A rule with a frequency that cannot be read otherwise never ends (the
    // safe side), and is reported too.
    let broken = read("RRULE:FREQ=DAILY;COUNT=three\n");
    assert!(broken.is_recurring());
    assert_eq!(broken.last_start(), LastStart::Unbounded);
    assert_eq!(broken.problems().len(), 1, "{:?}", broken.problems());
    // A valid rule is no problem.
    assert!(read("RRULE:FREQ=DAILY;COUNT=3\n").problems().is_empty());
}

#[test]
fn a_utc_until_on_a_floating_series_keeps_the_starts_the_zone_decides() {
    let floating = |d, h, m| {
        ItemTime::Floating(
            NaiveDate::from_ymd_opt(2026, 1, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap(),
        )
    };
    let until = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
    // Daily at 09:00 until 12:00 UTC on the 5th: the 4th is in the series
    // in every zone, the 5th only where 09:00 that day is at or before
    // 12:00 UTC (from UTC-3 eastwards).
    assert_eq!(
        last_start_of("DTSTART:20260101T090000\nRRULE:FREQ=DAILY;UNTIL=20260105T120000Z\n"),
        LastStart::Capped(vec![
            Candidate::sure(floating(4, 9, 0)),
            Candidate {
                start: floating(5, 9, 0),
                until: Some(until),
            },
        ])
    );
    // By the minute, hundreds of starts are near UNTIL: the latest of them
    // (14 hours after UNTIL, read in UTC) stands for all, the safe side.
    assert_eq!(
        last_start_of("DTSTART:20260101T090000\nRRULE:FREQ=MINUTELY;UNTIL=20260105T120000Z\n"),
        LastStart::At(floating(6, 2, 0))
    );
}
