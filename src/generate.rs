//! Seeded test data: schedule items (a realistic share of them recurring),
//! tasks with and without dates, and contacts, as iCalendar and vCard text.
//! The benchmarks and the demo use it; the same seed and clock always give
//! the same items, byte for byte.
//!
//! Items start between 2024 and the end of 2027, whatever the clock; but no
//! time that says when an item was made or changed (`DTSTAMP`,
//! `LAST-MODIFIED`, `COMPLETED`, `REV`) lies after the clock: each is at
//! least [`UNTOUCHED_FOR`] before it, so a `modified` filter over the last
//! days matches only items changed since they were generated.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::item::ItemType;

/// A small, fast, seeded generator (`SplitMix64`). Not for secrets: only for
/// reproducible test data, where pulling in a crate would buy nothing.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[index]
    }
}

/// How long before the clock a generated item was last changed, at the
/// least.
pub const UNTOUCHED_FOR: Duration = Duration::days(7);

/// How many items of each type to make, out of every 100.
const EVENTS_PER_100: u64 = 60;
const TASKS_PER_100: u64 = 25;

const TITLES: &[&str] = &[
    "Standup",
    "Quarterly review",
    "Customer call",
    "Lunch with the team",
    "Planning",
    "Site visit",
    "Budget meeting",
    "Training",
    "Interview",
    "Board meeting",
];
const TASKS: &[&str] = &[
    "Send the offer",
    "Call back",
    "Renew the contract",
    "Prepare the slides",
    "Check the invoice",
    "Book the room",
];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
];
const LAST_NAMES: &[&str] = &[
    "Schmidt", "Dupont", "Rossi", "García", "Novak", "Larsen", "Okafor", "Tanaka", "Müller",
];
const ZONES: &[&str] = &["Europe/Berlin", "America/Toronto", "Asia/Tokyo", "UTC"];
/// Recurrence rules, each with the number of days after the first start
/// at which it surely has an occurrence (for an `EXDATE`), if it has one.
const RULES: &[(&str, Option<i64>)] = &[
    ("FREQ=WEEKLY;BYDAY=MO,WE", None),
    ("FREQ=DAILY;COUNT=10", Some(2)),
    ("FREQ=MONTHLY;UNTIL=20271231T235959Z", None),
    ("FREQ=YEARLY", None),
    ("FREQ=WEEKLY;INTERVAL=2;COUNT=20", Some(14)),
];

/// One generated item: its type and its text (a whole `.ics` or `.vcf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// What it is.
    pub item_type: ItemType,
    /// Its UID.
    pub uid: String,
    /// Its text.
    pub text: String,
}

/// Makes items `first..first + count` of the stream `seed`, as generated
/// at `now` (the run's clock: see the module docs). Item `n` is always the
/// same whatever range it is made in, so work can be split.
#[must_use]
pub fn items(seed: u64, first: u64, count: u64, now: DateTime<Utc>) -> Vec<Generated> {
    (first..first + count).map(|n| item(seed, n, now)).collect()
}

/// Item `n` of the stream `seed`, as generated at `now`.
#[must_use]
pub fn item(seed: u64, n: u64, now: DateTime<Utc>) -> Generated {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
    let untouched_since = now.naive_utc() - UNTOUCHED_FOR;
    let kind = n % 100;
    if kind < EVENTS_PER_100 {
        event(&mut rng, seed, n, untouched_since)
    } else if kind < EVENTS_PER_100 + TASKS_PER_100 {
        task(&mut rng, seed, n, untouched_since)
    } else {
        contact(&mut rng, seed, n, untouched_since)
    }
}

/// When an item starting at `start` was last changed: `days_before` (at
/// least one) days before its start, or before `untouched_since` if that is
/// earlier (an item far in the future was planned in the past).
fn changed(
    start: NaiveDateTime,
    days_before: u64,
    untouched_since: NaiveDateTime,
) -> NaiveDateTime {
    start.min(untouched_since) - Duration::days(i64::try_from(days_before).unwrap_or(0) + 1)
}

fn base() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// A time between 2024 and the end of 2027, on a quarter hour.
fn when(rng: &mut Rng) -> NaiveDateTime {
    let days = i64::try_from(rng.below(4 * 365)).unwrap_or(0);
    let quarter = i64::try_from(rng.below(11 * 4)).unwrap_or(0) + 7 * 4;
    base() + Duration::days(days) + Duration::minutes(quarter * 15)
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn calendar(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//snapsync//generator//EN\r\n{body}END:VCALENDAR\r\n"
    )
}

fn event(rng: &mut Rng, seed: u64, n: u64, untouched_since: NaiveDateTime) -> Generated {
    let uid = format!("gen-{seed}-{n}@snapsync.invalid");
    let start = when(rng);
    let modified = changed(start, rng.below(60), untouched_since);
    let mut body = String::with_capacity(512);
    let _ = write!(
        body,
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{}\r\nLAST-MODIFIED:{}\r\nSUMMARY:{} #{n}\r\n",
        stamp(modified),
        stamp(modified),
        rng.pick(TITLES),
    );
    let style = rng.below(10);
    if style < 2 {
        // All-day.
        let _ = write!(
            body,
            "DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n",
            start.format("%Y%m%d"),
            (start + Duration::days(1)).format("%Y%m%d")
        );
    } else if style < 3 {
        // Floating.
        let _ = write!(
            body,
            "DTSTART:{}\r\nDTEND:{}\r\n",
            start.format("%Y%m%dT%H%M%S"),
            (start + Duration::hours(1)).format("%Y%m%dT%H%M%S")
        );
    } else {
        let zone = rng.pick(ZONES);
        let _ = write!(
            body,
            "DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\n",
            start.format("%Y%m%dT%H%M%S"),
            (start + Duration::minutes(30)).format("%Y%m%dT%H%M%S")
        );
    }
    if rng.chance(20) {
        let (rule, occurrence) = *rng.pick(RULES);
        let _ = write!(body, "RRULE:{rule}\r\n");
        if let Some(days) = occurrence.filter(|_| rng.chance(50)) {
            let skipped = start + Duration::days(days);
            let value = if style < 2 {
                format!(";VALUE=DATE:{}", skipped.format("%Y%m%d"))
            } else {
                format!(":{}", skipped.format("%Y%m%dT%H%M%S"))
            };
            let tz = body
                .lines()
                .find_map(|l| l.strip_prefix("DTSTART;TZID="))
                .and_then(|l| l.split(':').next())
                .map(|z| format!(";TZID={z}"))
                .unwrap_or_default();
            let _ = write!(body, "EXDATE{tz}{value}\r\n");
        }
    }
    if rng.chance(40) {
        let _ = write!(body, "LOCATION:Room {}\r\n", rng.below(40) + 1);
    }
    if rng.chance(30) {
        let _ = write!(
            body,
            "DESCRIPTION:Agenda item {} and notes\\, with a comma\r\n",
            rng.below(1000)
        );
    }
    body.push_str("END:VEVENT\r\n");
    Generated {
        item_type: ItemType::ScheduleItems,
        uid,
        text: calendar(&body),
    }
}

fn task(rng: &mut Rng, seed: u64, n: u64, untouched_since: NaiveDateTime) -> Generated {
    let uid = format!("gen-{seed}-{n}@snapsync.invalid");
    let start = when(rng);
    let modified = changed(start, rng.below(30), untouched_since);
    let mut body = String::with_capacity(320);
    let _ = write!(
        body,
        "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:{}\r\nLAST-MODIFIED:{}\r\nSUMMARY:{} #{n}\r\n",
        stamp(modified),
        stamp(modified),
        rng.pick(TASKS)
    );
    match rng.below(4) {
        0 => {}
        1 => {
            let _ = write!(body, "DUE;VALUE=DATE:{}\r\n", start.format("%Y%m%d"));
        }
        2 => {
            let _ = write!(
                body,
                "DTSTART:{}\r\nDUE:{}\r\n",
                stamp(start),
                stamp(start + Duration::days(3))
            );
        }
        _ => {
            let _ = write!(body, "DTSTART:{}\r\n", stamp(start));
        }
    }
    if rng.chance(30) {
        let _ = write!(
            body,
            "STATUS:COMPLETED\r\nCOMPLETED:{}\r\nPERCENT-COMPLETE:100\r\n",
            // Completing it was its last change.
            stamp(modified)
        );
    } else {
        let _ = write!(
            body,
            "STATUS:NEEDS-ACTION\r\nPRIORITY:{}\r\n",
            rng.below(9) + 1
        );
    }
    body.push_str("END:VTODO\r\n");
    Generated {
        item_type: ItemType::Tasks,
        uid,
        text: calendar(&body),
    }
}

fn contact(rng: &mut Rng, seed: u64, n: u64, untouched_since: NaiveDateTime) -> Generated {
    let uid = format!("gen-{seed}-{n}@snapsync.invalid");
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    let rev = when(rng);
    // A revision after the clock is folded back into the year before it.
    let rev = if rev > untouched_since {
        let after = (rev - untouched_since).num_minutes() % (365 * 24 * 60);
        untouched_since - Duration::minutes(after)
    } else {
        rev
    };
    let rev = stamp(rev);
    let email = format!(
        "{}.{}{n}@example.com",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let phone = format!("+49 30 {:07}", rng.below(10_000_000));
    let text = if rng.chance(50) {
        format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n\
             EMAIL;TYPE=work:{email}\r\nTEL;VALUE=uri;TYPE=cell:tel:{}\r\nORG:Example {}\r\nREV:{rev}\r\nEND:VCARD\r\n",
            phone.replace(' ', "-"),
            rng.below(50)
        )
    } else {
        format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n\
             EMAIL;TYPE=INTERNET,WORK:{email}\r\nTEL;TYPE=CELL:{phone}\r\nTITLE:Manager\r\nREV:{rev}\r\nEND:VCARD\r\n"
        )
    };
    Generated {
        item_type: ItemType::Contacts,
        uid,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::parse_any;

    fn clock() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().expect("a time")
    }

    #[test]
    fn the_same_seed_gives_the_same_items() {
        assert_eq!(items(7, 0, 300, clock()), items(7, 0, 300, clock()));
        assert_ne!(items(7, 0, 50, clock()), items(8, 0, 50, clock()));
        // Item n does not depend on the range it is made in.
        assert_eq!(items(7, 0, 300, clock())[250], item(7, 250, clock()));
    }

    #[test]
    fn no_generated_change_lies_after_the_clock() {
        // Half the items start after this clock, some two years after.
        let now = clock();
        let mut checked = 0;
        let mut after_the_clock = 0;
        for generated in items(3, 0, 2_000, now) {
            for line in generated.text.lines() {
                if line.starts_with("DTSTART") {
                    let value = line.rsplit(':').next().unwrap_or_default();
                    if value.get(..8).is_some_and(|day| day > "20250601") {
                        after_the_clock += 1;
                    }
                }
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                if !["DTSTAMP", "LAST-MODIFIED", "COMPLETED", "CREATED", "REV"].contains(&name) {
                    continue;
                }
                let at = NaiveDateTime::parse_from_str(value.trim_end(), "%Y%m%dT%H%M%SZ")
                    .unwrap_or_else(|e| panic!("{line}: {e}"))
                    .and_utc();
                assert!(
                    at <= now - UNTOUCHED_FOR,
                    "{line} is after {now} - 7 days in\n{}",
                    generated.text
                );
                checked += 1;
            }
        }
        assert!(checked > 3_000, "{checked} times checked");
        assert!(
            after_the_clock > 500,
            "{after_the_clock} items start after the clock"
        );
    }

    #[test]
    fn every_generated_item_parses_to_one_item_of_its_type() {
        let mut recurring = 0;
        let mut undated_tasks = 0;
        for generated in items(1, 0, 2_000, clock()) {
            let parsed = parse_any(&generated.text);
            assert!(
                parsed.errors.is_empty(),
                "{}: {:?}",
                generated.text,
                parsed.errors
            );
            assert_eq!(parsed.items.len(), 1, "{}", generated.text);
            let item = &parsed.items[0];
            assert_eq!(item.item_type(), generated.item_type);
            assert_eq!(item.uid(), generated.uid);
            match item {
                crate::item::Item::ScheduleItem(e) if e.is_recurring() => recurring += 1,
                crate::item::Item::Task(t) if t.due().is_none() && t.start().is_none() => {
                    undated_tasks += 1;
                }
                _ => {}
            }
        }
        // 60% events, a fifth of them recurring; a quarter of tasks undated.
        assert!((150..=330).contains(&recurring), "{recurring} recurring");
        assert!(
            (70..=180).contains(&undated_tasks),
            "{undated_tasks} undated tasks"
        );
    }
}
