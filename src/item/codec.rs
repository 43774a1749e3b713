//! Reading `.ics` / `.vcf` text into items, and writing items back.
//!
//! Words used here:
//! - **object**: one top-level `BEGIN:…`/`END:…` block of a file (a
//!   `VCALENDAR`, a `VCARD`). A file may hold many; a calendar object may hold
//!   many items.
//! - **wrapper**: the `VCALENDAR` around an item's components, with its
//!   calendar-level properties (`VERSION`, `PRODID`, `X-WR-TIMEZONE`, …).
//!
//! Parsing never fails as a whole: every problem is an [`ItemError`] value
//! naming the line and, when known, the UID, and the other items of the file
//! are still read. The file is first cut into objects by their `BEGIN`/`END`
//! lines (so a truncated object cannot swallow the next one), then each
//! object is parsed by calcard.
//!
//! Writing is deterministic: the wrapper keeps its properties (minus
//! `METHOD`, which RFC 4791 forbids in stored calendar objects, and plus `VERSION` and
//! `PRODID` when missing), then come the `VTIMEZONE`s the item refers to
//! (sorted by TZID), then the master component, then the overridden
//! instances sorted by `RECURRENCE-ID`. Properties keep their order.

use std::collections::HashMap;
use std::fmt;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarProperty, ICalendarValue,
};
use calcard::{Entry, Parser};

use super::contact::Contact;
use super::error::{ItemError, uid_suffix};
use super::event::ScheduleItem;
use super::hash::derived_uid;
use super::object::{CalendarObject, is_override};
use super::task::Task;
use super::time::{ZoneResolver, zone_key};
use super::{Item, ItemType};

/// The PRODID snapsync writes on a calendar that had none.
const PRODID: &str = "-//snapsync//snapsync//EN";

/// Components nested deeper than this are not copied (a guard against
/// hostile input; real calendars nest three levels).
const MAX_DEPTH: usize = 32;

/// Why a component was read past without becoming (part of) an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A valid component that is not an item snapsync moves (a `VJOURNAL`,
    /// a `VFREEBUSY`, …).
    NotAnItem,
    /// An older version of the same instance (same UID and `RECURRENCE-ID`)
    /// that the file holds again: the version with the highest `SEQUENCE`,
    /// then the latest `LAST-MODIFIED`, then `DTSTAMP`, then the last in the
    /// file, is the one kept, as calendar clients do with updates.
    Superseded,
}

/// A component that is valid but did not become (part of) an item.
/// Reported, never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedComponent {
    /// The component's kind (`VJOURNAL`).
    pub component: String,
    /// Its UID, if it has one.
    pub uid: Option<String>,
    /// Where it begins (1-based).
    pub line: usize,
    /// Why it was skipped.
    pub reason: SkipReason,
}

impl fmt::Display for SkippedComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            SkipReason::NotAnItem => {
                "snapsync syncs only events (VEVENT), tasks (VTODO) and contacts (VCARD)"
            }
            SkipReason::Superseded => {
                "a newer version of the same instance (higher SEQUENCE or later LAST-MODIFIED) follows in the file"
            }
        };
        write!(
            f,
            "line {}: {}{} skipped: {why}",
            self.line,
            self.component,
            uid_suffix(self.uid.as_deref())
        )
    }
}

/// What reading a text gave: the items, the problems, and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The items read, in file order.
    pub items: Vec<Item>,
    /// One entry per object or item that could not be read.
    pub errors: Vec<ItemError>,
    /// Components that are not items (journals, free/busy).
    pub skipped: Vec<SkippedComponent>,
}

/// Reads every schedule item and task of an iCalendar text (one or more
/// `VCALENDAR` objects, or bare `VEVENT`/`VTODO` blocks).
#[must_use]
pub fn parse_calendar(text: &str) -> Parsed {
    parse(text, Accept::Calendar)
}

/// Reads every contact of a vCard text (vCard 3.0 or 4.0, many per file).
#[must_use]
pub fn parse_vcards(text: &str) -> Parsed {
    parse(text, Accept::VCard)
}

/// Reads a text that may hold calendars, vCards or both.
#[must_use]
pub fn parse_any(text: &str) -> Parsed {
    parse(text, Accept::Both)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accept {
    Calendar,
    VCard,
    Both,
}

impl Accept {
    fn expected(self) -> &'static str {
        match self {
            Accept::Calendar => "iCalendar",
            Accept::VCard => "vCard",
            Accept::Both => "iCalendar or vCard",
        }
    }
}

fn parse(text: &str, accept: Accept) -> Parsed {
    let mut out = Parsed::default();
    let objects = split_objects(text, &mut out.errors);
    if objects.is_empty() && out.errors.is_empty() {
        out.errors.push(ItemError::NoData {
            expected: accept.expected(),
        });
    }
    for object in objects {
        let is_card = object.kind == "VCARD";
        let is_calendar = matches!(object.kind.as_str(), "VCALENDAR" | "VEVENT" | "VTODO");
        let wanted = match accept {
            Accept::Calendar => is_calendar,
            Accept::VCard => is_card,
            Accept::Both => is_card || is_calendar,
        };
        if !wanted {
            if is_card || is_calendar {
                out.errors.push(ItemError::WrongKind {
                    found: object.kind.clone(),
                    expected: accept.expected(),
                    line: object.line,
                });
            } else {
                out.skipped.push(SkippedComponent {
                    component: object.kind.clone(),
                    uid: None,
                    line: object.line,
                    reason: SkipReason::NotAnItem,
                });
            }
            continue;
        }
        match Parser::new(&object.text).entry() {
            Entry::ICalendar(ical) => calendar_items(&ical, &object, &mut out),
            Entry::VCard(card) => out.items.push(Item::Contact(Contact::from_vcard(card))),
            other => out.errors.push(ItemError::Malformed {
                component: object.kind.clone(),
                line: object.line,
                reason: entry_problem(&other),
            }),
        }
    }
    out
}

fn entry_problem(entry: &Entry) -> String {
    match entry {
        Entry::InvalidLine(line) => format!("invalid line {line:?}"),
        Entry::UnexpectedComponentEnd { expected, found } => format!(
            "END:{} where END:{} was expected",
            found.as_str(),
            expected.as_str()
        ),
        Entry::UnterminatedComponent(name) => format!("{name} is not terminated"),
        Entry::TooManyComponents => "too many components".to_string(),
        _ => "no object found".to_string(),
    }
}

/// One top-level object of a text.
#[derive(Debug)]
struct Object {
    /// Its kind, upper case (`VCALENDAR`).
    kind: String,
    /// Its text, `BEGIN` to `END` lines included, already unfolded: calcard
    /// mis-reads an inline vCard 3 photo whose parameters are folded, and
    /// unfolding here once makes every parse see the same logical lines.
    text: String,
    /// The line of its `BEGIN` (1-based).
    line: usize,
    /// The lines where its direct sub-components begin, in order.
    child_lines: Vec<usize>,
}

/// The component name of a `BEGIN:`/`END:` line, upper case.
fn boundary<'a>(line: &'a str, keyword: &str) -> Option<&'a str> {
    let head = line.get(..keyword.len())?;
    if head.eq_ignore_ascii_case(keyword) {
        Some(line[keyword.len()..].trim())
    } else {
        None
    }
}

/// A logical line: physical lines joined where folded.
struct LogicalLine {
    /// The unfolded text, without line end or trailing blanks.
    text: String,
    /// Its first physical line (1-based).
    line: usize,
}

/// The logical lines of a text: a physical line that starts with a space or
/// a tab continues the previous one (RFC 5545 3.1, RFC 6350 3.2).
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out: Vec<LogicalLine> = Vec::new();
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let mut content = raw.trim_end_matches(['\r', '\n']);
        if index == 0 {
            content = content.trim_start_matches('\u{feff}');
        }
        let continued = content.starts_with([' ', '\t']);
        match out.last_mut() {
            Some(previous) if continued => previous.text.push_str(&content[1..]),
            _ => out.push(LogicalLine {
                text: content.to_string(),
                line: index + 1,
            }),
        }
    }
    for line in &mut out {
        let trimmed = line.text.trim_end().len();
        line.text.truncate(trimmed);
    }
    out
}

/// Cuts a text into top-level objects by their `BEGIN`/`END` lines. This is
/// not a parser: it only finds where each object starts and ends, so that a
/// broken object is reported alone.
fn split_objects(text: &str, errors: &mut Vec<ItemError>) -> Vec<Object> {
    let mut objects = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut start_line = 0usize;
    let mut child_lines = Vec::new();
    let mut in_stray = false;
    for logical in logical_lines(text) {
        let line_no = logical.line;
        let line = logical.text.as_str();
        if let Some(name) = boundary(line, "BEGIN:") {
            let name = name.to_ascii_uppercase();
            let top_level_kind = matches!(name.as_str(), "VCALENDAR" | "VCARD");
            if !stack.is_empty() && top_level_kind {
                // A new top-level object inside an open one: the open one was
                // never closed. Report it and start afresh.
                errors.push(ItemError::Unterminated {
                    component: stack[0].clone(),
                    line: start_line,
                });
                stack.clear();
            }
            if stack.is_empty() {
                body.clear();
                start_line = line_no;
                child_lines = Vec::new();
            } else if stack.len() == 1 {
                child_lines.push(line_no);
            }
            body.push_str(line);
            body.push_str("\r\n");
            stack.push(name);
            in_stray = false;
            continue;
        }
        if stack.is_empty() {
            if !line.trim().is_empty() && !in_stray {
                errors.push(ItemError::StrayText {
                    line: line_no,
                    text: line.chars().take(80).collect(),
                });
                in_stray = true;
            }
            continue;
        }
        body.push_str(line);
        body.push_str("\r\n");
        if let Some(name) = boundary(line, "END:") {
            let name = name.to_ascii_uppercase();
            // An END that matches no open BEGIN is ignored, as calcard does.
            if let Some(depth) = stack.iter().rposition(|open| *open == name) {
                stack.truncate(depth);
            }
            if stack.is_empty() {
                objects.push(Object {
                    kind: name,
                    text: std::mem::take(&mut body),
                    line: start_line,
                    child_lines: std::mem::take(&mut child_lines),
                });
            }
        }
    }
    if let Some(kind) = stack.first() {
        errors.push(ItemError::Unterminated {
            component: kind.clone(),
            line: start_line,
        });
    }
    objects
}

/// The components of one item, before they are copied out.
struct Group {
    kind: ICalendarComponentType,
    uid: Option<String>,
    /// Component ids with the line each begins at.
    members: Vec<(u32, usize)>,
}

/// Turns one parsed calendar object into items.
fn calendar_items(ical: &ICalendar, object: &Object, out: &mut Parsed) {
    let Some(root) = ical.components.first() else {
        return;
    };
    let wrapped = root.component_type == ICalendarComponentType::VCalendar;
    let children: Vec<u32> = if wrapped {
        root.component_ids.clone()
    } else {
        vec![0]
    };
    let zones = ZoneResolver::new(
        children
            .iter()
            .filter_map(|id| ical.components.get(*id as usize))
            .filter(|c| c.component_type == ICalendarComponentType::VTimezone),
    );
    // Sub-component lines line up with the splitter's when calcard kept every
    // component, which it does; otherwise fall back to the object's line.
    let line_of = |index: usize| -> usize {
        if wrapped && object.child_lines.len() == children.len() {
            object
                .child_lines
                .get(index)
                .copied()
                .unwrap_or(object.line)
        } else {
            object.line
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut by_uid: HashMap<(ICalendarComponentType, String), usize> = HashMap::new();
    let mut timezones: Vec<u32> = Vec::new();
    for (index, id) in children.iter().enumerate() {
        let Some(component) = ical.components.get(*id as usize) else {
            continue;
        };
        let uid = component.uid().map(str::to_string);
        match &component.component_type {
            ICalendarComponentType::VEvent | ICalendarComponentType::VTodo => {
                let kind = component.component_type.clone();
                match &uid {
                    Some(uid) => {
                        let key = (kind.clone(), uid.clone());
                        if let Some(&at) = by_uid.get(&key) {
                            groups[at].members.push((*id, line_of(index)));
                        } else {
                            by_uid.insert(key, groups.len());
                            groups.push(Group {
                                kind,
                                uid: Some(uid.clone()),
                                members: vec![(*id, line_of(index))],
                            });
                        }
                    }
                    None => groups.push(Group {
                        kind,
                        uid: None,
                        members: vec![(*id, line_of(index))],
                    }),
                }
            }
            ICalendarComponentType::VTimezone => timezones.push(*id),
            other => out.skipped.push(SkippedComponent {
                component: other.as_str().to_string(),
                uid,
                line: line_of(index),
                reason: SkipReason::NotAnItem,
            }),
        }
    }
    for mut group in groups {
        for (id, line) in supersede(ical, &mut group.members, &zones) {
            out.skipped.push(SkippedComponent {
                component: group.kind.as_str().to_string(),
                uid: ical
                    .components
                    .get(id as usize)
                    .and_then(|c| c.uid().map(str::to_string)),
                line,
                reason: SkipReason::Superseded,
            });
        }
        let (kind, object) = build_object(ical, wrapped, &timezones, &zones, group);
        let item = if kind == ICalendarComponentType::VTodo {
            Task::from_object(object).map(Item::Task)
        } else {
            ScheduleItem::from_object(object).map(Item::ScheduleItem)
        };
        match item {
            Ok(item) => out.items.push(item),
            Err(error) => out.errors.push(error),
        }
    }
}

/// The sort key of an override: its `RECURRENCE-ID` as an instant.
fn recurrence_key(component: &ICalendarComponent, zones: &ZoneResolver) -> Option<i64> {
    let entry = component
        .entries
        .iter()
        .find(|e| e.name == ICalendarProperty::RecurrenceId)?;
    super::component::entry_time(entry, zones)
        .ok()
        .flatten()
        .map(|t| t.instant_in(chrono_tz::UTC).timestamp())
}

/// Copies one item's components, its wrapper and its time zones into an
/// object of its own.
fn build_object(
    source: &ICalendar,
    has_wrapper: bool,
    timezones: &[u32],
    zones: &ZoneResolver,
    group: Group,
) -> (ICalendarComponentType, CalendarObject) {
    let component_of = |id: &u32| source.components.get(*id as usize);
    let line = group.members.first().map_or(0, |(_, line)| *line);
    // The master first, then overrides by RECURRENCE-ID.
    let mut members: Vec<u32> = group.members.iter().map(|(id, _)| *id).collect();
    members.sort_by_key(|id| component_of(id).map(|c| (is_override(c), recurrence_key(c, zones))));

    let mut ical = ICalendar::default();
    let mut wrapper = ICalendarComponent {
        component_type: ICalendarComponentType::VCalendar,
        entries: Vec::new(),
        component_ids: Vec::new(),
    };
    if has_wrapper && let Some(root) = source.components.first() {
        wrapper.entries = root
            .entries
            .iter()
            .filter(|e| e.name != ICalendarProperty::Method)
            .cloned()
            .collect();
    }
    if !wrapper
        .entries
        .iter()
        .any(|e| e.name == ICalendarProperty::Version)
    {
        wrapper
            .entries
            .insert(0, text_entry(ICalendarProperty::Version, "2.0"));
    }
    if !wrapper
        .entries
        .iter()
        .any(|e| e.name == ICalendarProperty::Prodid)
    {
        wrapper
            .entries
            .insert(0, text_entry(ICalendarProperty::Prodid, PRODID));
    }
    ical.components.push(wrapper);

    // Only the zones this item refers to, sorted by name.
    let mut referenced: Vec<String> = Vec::new();
    for id in &members {
        collect_tzids(source, *id, 0, &mut referenced);
    }
    let mut used_zones: Vec<(String, u32)> = timezones
        .iter()
        .filter_map(|id| {
            let name = component_of(id)?
                .entries
                .iter()
                .find(|e| e.name == ICalendarProperty::Tzid)?
                .values
                .first()?
                .as_text()
                .map(zone_key)?;
            referenced.contains(&name).then_some((name, *id))
        })
        .collect();
    used_zones.sort();
    used_zones.dedup_by(|a, b| a.0 == b.0);
    let mut root_children = Vec::new();
    for (_, id) in &used_zones {
        if let Some(new_id) = copy_subtree(source, *id, &mut ical, 0) {
            root_children.push(new_id);
        }
    }
    let mut new_members = Vec::new();
    for id in &members {
        if let Some(new_id) = copy_subtree(source, *id, &mut ical, 0) {
            root_children.push(new_id);
            new_members.push(new_id);
        }
    }
    if let Some(root) = ical.components.first_mut() {
        root.component_ids = root_children;
    }

    let mut object = CalendarObject {
        ical,
        zones: zones.clone(),
        uid: group.uid.clone().unwrap_or_default(),
        uid_derived: group.uid.is_none(),
        line,
        members: new_members,
    };
    if object.uid_derived {
        // Derived from the content, which the UID itself is not part of.
        let uid = derived_uid(&object.canonical_text());
        for id in object.members.clone() {
            if let Some(component) = object.ical.components.get_mut(id as usize) {
                component
                    .entries
                    .insert(0, text_entry(ICalendarProperty::Uid, &uid));
            }
        }
        object.uid = uid;
    }
    (group.kind, object)
}

/// Keeps one version of each instance (see [`SkipReason::Superseded`]) and
/// returns the others, with their lines.
fn supersede(
    source: &ICalendar,
    members: &mut Vec<(u32, usize)>,
    zones: &ZoneResolver,
) -> Vec<(u32, usize)> {
    if members.len() < 2 {
        return Vec::new();
    }
    let instance = |id: u32| {
        source
            .components
            .get(id as usize)
            .map(|c| (is_override(c), recurrence_key(c, zones)))
    };
    let rank = |id: u32| {
        source.components.get(id as usize).map(|c| {
            (
                super::component::integer(c, &ICalendarProperty::Sequence).unwrap_or(0),
                super::component::stamp(c, &ICalendarProperty::LastModified),
                super::component::stamp(c, &ICalendarProperty::Dtstamp),
            )
        })
    };
    let mut kept: Vec<(u32, usize)> = Vec::with_capacity(members.len());
    let mut dropped = Vec::new();
    for (id, line) in members.drain(..) {
        match kept
            .iter()
            .position(|(other, _)| instance(*other) == instance(id))
        {
            // Later in the file wins ties, hence `>=`.
            Some(at) if rank(id) >= rank(kept[at].0) => {
                dropped.push(std::mem::replace(&mut kept[at], (id, line)));
            }
            Some(_) => dropped.push((id, line)),
            None => kept.push((id, line)),
        }
    }
    *members = kept;
    dropped
}

fn text_entry(name: ICalendarProperty, value: &str) -> ICalendarEntry {
    ICalendarEntry {
        name,
        params: Vec::new(),
        values: vec![ICalendarValue::Text(value.to_string())],
    }
}

/// Every TZID a component (and its sub-components) refers to, as zone keys.
fn collect_tzids(source: &ICalendar, id: u32, depth: usize, out: &mut Vec<String>) {
    let Some(component) = source.components.get(id as usize) else {
        return;
    };
    for entry in &component.entries {
        for value in entry.parameters(&ICalendarParameterName::Tzid) {
            if let Some(name) = value.as_text() {
                let key = zone_key(name);
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
    }
    if depth < MAX_DEPTH {
        for child in &component.component_ids {
            collect_tzids(source, *child, depth + 1, out);
        }
    }
}

/// Copies a component and its sub-components, renumbering them.
fn copy_subtree(source: &ICalendar, id: u32, into: &mut ICalendar, depth: usize) -> Option<u32> {
    let component = source.components.get(id as usize)?;
    let new_id = u32::try_from(into.components.len()).ok()?;
    into.components.push(ICalendarComponent {
        component_type: component.component_type.clone(),
        entries: component.entries.clone(),
        component_ids: Vec::new(),
    });
    if depth < MAX_DEPTH {
        let children: Vec<u32> = component
            .component_ids
            .iter()
            .filter_map(|child| copy_subtree(source, *child, into, depth + 1))
            .collect();
        if let Some(copied) = into.components.get_mut(new_id as usize) {
            copied.component_ids = children;
        }
    }
    Some(new_id)
}

/// The item type a parsed text is made of, by its first object.
#[must_use]
pub fn sniff_item_text(text: &str) -> Option<ItemType> {
    let mut errors = Vec::new();
    let objects = split_objects(text, &mut errors);
    let first = objects.first()?;
    match first.kind.as_str() {
        "VCARD" => Some(ItemType::Contacts),
        "VTODO" => Some(ItemType::Tasks),
        "VEVENT" => Some(ItemType::ScheduleItems),
        "VCALENDAR" => {
            let upper = first.text.to_ascii_uppercase();
            if upper.contains("BEGIN:VEVENT") {
                Some(ItemType::ScheduleItems)
            } else if upper.contains("BEGIN:VTODO") {
                Some(ItemType::Tasks)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_isolates_a_truncated_object() {
        let text =
            "BEGIN:VCARD\nVERSION:4.0\nFN:A\nBEGIN:VCARD\nVERSION:4.0\nUID:b\nFN:B\nEND:VCARD\n";
        let mut errors = Vec::new();
        let objects = split_objects(text, &mut errors);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].line, 4);
        assert_eq!(
            errors,
            vec![ItemError::Unterminated {
                component: "VCARD".into(),
                line: 1
            }]
        );
    }

    #[test]
    fn splitter_reports_stray_text_once_per_run() {
        let text = "junk\nmore junk\nBEGIN:VCARD\nFN:A\nEND:VCARD\n\ntrailing\n";
        let mut errors = Vec::new();
        let objects = split_objects(text, &mut errors);
        assert_eq!(objects.len(), 1);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line(), Some(1));
        assert_eq!(errors[1].line(), Some(7));
    }

    #[test]
    fn empty_text_is_an_error_not_a_panic() {
        let parsed = parse_calendar("");
        assert!(parsed.items.is_empty());
        assert_eq!(
            parsed.errors,
            vec![ItemError::NoData {
                expected: "iCalendar"
            }]
        );
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff_item_text("BEGIN:VCARD\nEND:VCARD\n"),
            Some(ItemType::Contacts)
        );
        assert_eq!(
            sniff_item_text("BEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VTODO\nEND:VCALENDAR\n"),
            Some(ItemType::Tasks)
        );
    }
}
