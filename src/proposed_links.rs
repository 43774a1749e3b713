//! The links `snapsync discover` proposes: one per user, with the calendar,
//! task list and address book chosen from what
//! [`crate::endpoint::caldav::discover`] found on the server, written as the
//! `links:` block of a Target (YAML) or as JSON. Finding the collections is
//! the protocol's job; choosing among them and writing the links is this
//! module's.
//!
//! Which collection a link gets, per item type (the first by this order):
//! 1. never a collection whose path or display name says "birthday" or
//!    "holiday" while another fits (those are generated or shared
//!    calendars, often read-only);
//! 2. a collection whose server says it is for that type: a calendar whose
//!    `supported-calendar-component-set` has `VEVENT` and not `VTODO` for
//!    schedule items, `VTODO` and not `VEVENT` for tasks;
//! 3. for tasks, a calendar that accepts tasks and is named like a task
//!    list ("task", "todo"); for schedule items, a calendar that accepts
//!    events and is *not* named like a task list;
//! 4. any calendar that accepts the type: one without a component set (the
//!    server accepts every component, Radicale's default) or with both,
//!    which may then hold a link's events and its tasks;
//!
//! and at each step a name that says what the collection is for
//! ("calendar", "default", "personal"; "task", "todo"; "contact",
//! "addressbook") before others, then the path, alphabetically. Every other
//! calendar and address book of the user is listed under the link as a
//! comment, with its display name, so that the administrator can choose.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use crate::endpoint::caldav::discover::{CollectionKind, FoundCollection, UserCollections};
use crate::item::ItemType;
use crate::outputs::{FormatVersion, JsonOutput};
use crate::spec::types::LinkFlag;

/// Words in a name that mark a generated or shared calendar.
const SECONDARY_WORDS: [&str; 2] = ["birthday", "holiday"];

/// Words in a name that mark a task list.
const TASK_WORDS: [&str; 3] = ["task", "todo", "to-do"];

/// One proposed link.
#[derive(Debug, Clone)]
pub struct ProposedLink {
    /// The link's name: the user name, with characters a link name may not
    /// hold replaced by `-` (and a number added if two users meet).
    pub name: String,
    /// The CRM user: the user name on the server.
    pub user: String,
    /// Every calendar and address book of the user, sorted by path.
    pub collections: Vec<FoundCollection>,
    /// The collection chosen for each item type, as an index into
    /// `collections`.
    pub chosen: BTreeMap<ItemType, usize>,
}

impl ProposedLink {
    /// The collection chosen for `item_type`.
    #[must_use]
    pub fn chosen(&self, item_type: ItemType) -> Option<&FoundCollection> {
        self.chosen.get(&item_type).map(|&i| &self.collections[i])
    }

    /// The collections chosen for no item type.
    pub fn others(&self) -> impl Iterator<Item = &FoundCollection> {
        self.collections
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.chosen.values().any(|c| c == i))
            .map(|(_, c)| c)
    }
}

/// The links for `users` (user name and collections), in that order.
#[must_use]
pub fn propose(users: &[(String, UserCollections)]) -> Vec<ProposedLink> {
    let mut names: HashSet<String> = HashSet::new();
    users
        .iter()
        .map(|(user, found)| {
            let base = link_name(user);
            let mut name = base.clone();
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{base}-{n}");
                n += 1;
            }
            let chosen = ItemType::ALL
                .into_iter()
                .filter_map(|t| choose(&found.collections, t).map(|i| (t, i)))
                .collect();
            ProposedLink {
                name,
                user: user.clone(),
                collections: found.collections.clone(),
                chosen,
            }
        })
        .collect()
}

/// The collection for `item_type` among `collections`, by the rule of the
/// module's documentation.
#[must_use]
pub fn choose(collections: &[FoundCollection], item_type: ItemType) -> Option<usize> {
    collections
        .iter()
        .enumerate()
        .filter(|(_, c)| c.accepts(item_type))
        .min_by_key(|(_, c)| {
            let secondary = named_like(c, &SECONDARY_WORDS);
            let tier = if c.declared_for(item_type) {
                0
            } else {
                match item_type {
                    ItemType::Tasks if named_like(c, &TASK_WORDS) => 1,
                    ItemType::ScheduleItems if !named_like(c, &TASK_WORDS) => 1,
                    _ => 2,
                }
            };
            let purpose: &[&str] = match item_type {
                ItemType::ScheduleItems => &["calendar", "default", "personal", "event"],
                ItemType::Tasks => &TASK_WORDS,
                ItemType::Contacts => &["contact", "addressbook", "default", "personal"],
            };
            (secondary, tier, !named_like(c, purpose), c.path.clone())
        })
        .map(|(i, _)| i)
}

/// Whether the collection's last path segment or display name holds one of
/// `words` (case-insensitive).
fn named_like(collection: &FoundCollection, words: &[&str]) -> bool {
    let segment = collection
        .path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let display = collection
        .display_name
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    words
        .iter()
        .any(|w| segment.contains(w) || display.contains(w))
}

/// A link name made of a user name: letters, digits, `.`, `_`, `@` and `-`,
/// starting with a letter or digit, at most 128 characters.
fn link_name(user: &str) -> String {
    let mut name: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'u');
    }
    name.chars().take(128).collect()
}

/// What a collection holds, in words (`events and tasks`, `address book`).
#[must_use]
pub fn describe(collection: &FoundCollection) -> String {
    match &collection.kind {
        CollectionKind::AddressBook => "address book".to_string(),
        CollectionKind::Calendar { components: None } => {
            "events and tasks (any component)".to_string()
        }
        CollectionKind::Calendar {
            components: Some(components),
        } => {
            let events = collection.accepts(ItemType::ScheduleItems);
            let tasks = collection.accepts(ItemType::Tasks);
            match (events, tasks) {
                (true, true) => "events and tasks".to_string(),
                (true, false) => "events".to_string(),
                (false, true) => "tasks".to_string(),
                (false, false) if components.is_empty() => {
                    "a calendar that accepts no component: not usable".to_string()
                }
                (false, false) => format!(
                    "a calendar of {}: not usable (snapsync syncs events, tasks and contacts)",
                    components.join(", ")
                ),
            }
        }
    }
}

/// Writes the `links:` block of `links`, indented to paste under a
/// Target's `spec:`, after `header` (comment lines, written as they are
/// after `# `).
///
/// # Errors
/// Writing failed.
pub fn write_yaml(
    out: &mut impl Write,
    header: &[String],
    links: &[ProposedLink],
) -> io::Result<()> {
    for line in header {
        writeln!(out, "  # {}", one_line(line))?;
    }
    writeln!(out, "  links:")?;
    for link in links {
        writeln!(out, "    - name: {}", yaml_scalar(&link.name))?;
        writeln!(out, "      user: {}", yaml_scalar(&link.user))?;
        let width = ItemType::ALL
            .into_iter()
            .filter_map(|t| {
                link.chosen(t)
                    .map(|c| t.as_str().len() + yaml_scalar(&c.path).len())
            })
            .max()
            .unwrap_or(0);
        for item_type in ItemType::ALL {
            match link.chosen(item_type) {
                Some(collection) => {
                    let value = yaml_scalar(&collection.path);
                    let pad = width - item_type.as_str().len() - value.len();
                    writeln!(
                        out,
                        "      {item_type}: {value}{}  # {}",
                        " ".repeat(pad),
                        label(collection)
                    )?;
                }
                None => writeln!(
                    out,
                    "      # {item_type}: none found ({} of {} accepts {})",
                    if item_type == ItemType::Contacts {
                        "no address book"
                    } else {
                        "no calendar"
                    },
                    one_line(&link.user),
                    match item_type {
                        ItemType::ScheduleItems => "events",
                        ItemType::Tasks => "tasks",
                        ItemType::Contacts => "contacts",
                    }
                )?,
            }
        }
        writeln!(out, "      inbound: enabled")?;
        writeln!(out, "      outbound: enabled")?;
        let others: Vec<&FoundCollection> = link.others().collect();
        if !others.is_empty() {
            writeln!(
                out,
                "      # Other collections of {} (put a path above to use it instead):",
                one_line(&link.user)
            )?;
            let width = others
                .iter()
                .map(|c| yaml_scalar(&c.path).len())
                .max()
                .unwrap_or(0);
            for collection in others {
                let value = yaml_scalar(&collection.path);
                writeln!(
                    out,
                    "      #   {value}{}  {}",
                    " ".repeat(width - value.len()),
                    label(collection)
                )?;
            }
        }
    }
    Ok(())
}

/// The JSON of `links`: each user's link, as a Target declares it, and
/// every collection with what it holds and what it was chosen for.
#[must_use]
pub fn json(target: &str, url: &str, login: &str, links: &[ProposedLink]) -> DiscoverJson {
    let users = links
        .iter()
        .map(|link| {
            let chosen = |item_type| link.chosen(item_type).map(|c| c.path.clone());
            let declared = DeclaredLinkJson {
                name: link.name.clone(),
                user: link.user.clone(),
                schedule_items: chosen(ItemType::ScheduleItems),
                tasks: chosen(ItemType::Tasks),
                contacts: chosen(ItemType::Contacts),
                inbound: LinkFlag::Enabled,
                outbound: LinkFlag::Enabled,
            };
            let collections = link
                .collections
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let used_for = link
                        .chosen
                        .iter()
                        .filter(|(_, chosen)| **chosen == i)
                        .map(|(t, _)| *t)
                        .collect();
                    let (kind, components) = match &c.kind {
                        CollectionKind::AddressBook => (FoundKind::AddressBook, None),
                        CollectionKind::Calendar { components } => {
                            (FoundKind::Calendar, components.clone())
                        }
                    };
                    FoundCollectionJson {
                        path: c.path.clone(),
                        display_name: c.display_name.clone(),
                        kind,
                        components,
                        holds: describe(c),
                        used_for,
                    }
                })
                .collect();
            ProposedUserJson {
                user: link.user.clone(),
                link: declared,
                collections,
            }
        })
        .collect();
    DiscoverJson {
        format_version: FormatVersion,
        target: target.to_owned(),
        url: url.to_owned(),
        login: login.to_owned(),
        users,
    }
}

/// What `snapsync discover --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverJson {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::Discover.format_version() }>,
    /// The target asked.
    pub target: String,
    /// Its server's URL.
    pub url: String,
    /// The user name snapsync logged in as.
    pub login: String,
    /// One entry per user found.
    pub users: Vec<ProposedUserJson>,
}

/// One user's proposed link and collections.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposedUserJson {
    /// The user name on the server.
    pub user: String,
    /// The link, as a Target's `links:` declares it.
    pub link: DeclaredLinkJson,
    /// Every calendar and address book of the user, sorted by path.
    pub collections: Vec<FoundCollectionJson>,
}

/// A proposed link, with the fields of a Target's `links:` entry.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeclaredLinkJson {
    /// The link's name.
    pub name: String,
    /// The CRM user.
    pub user: String,
    /// The collection chosen for schedule items, if one fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_items: Option<String>,
    /// The collection chosen for tasks, if one fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<String>,
    /// The collection chosen for contacts, if one fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<String>,
    /// Always `enabled`.
    pub inbound: LinkFlag,
    /// Always `enabled`.
    pub outbound: LinkFlag,
}

/// What kind of collection was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FoundKind {
    /// A calendar (events, tasks, or both).
    Calendar,
    /// An address book.
    AddressBook,
}

/// A collection found on the server.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundCollectionJson {
    /// Its path as a link gives it.
    pub path: String,
    /// Its display name, if it has one.
    pub display_name: Option<String>,
    /// Calendar or address book.
    pub kind: FoundKind,
    /// The components a calendar accepts (`VEVENT`, `VTODO`); null for an
    /// address book, or a calendar whose server does not say (it accepts
    /// every component).
    pub components: Option<Vec<String>>,
    /// What it holds, in words.
    pub holds: String,
    /// The item types the proposed link uses it for.
    pub used_for: Vec<ItemType>,
}

/// `"Display name": what it holds`, or just what it holds.
fn label(collection: &FoundCollection) -> String {
    match &collection.display_name {
        Some(name) => format!(
            "{}: {}",
            serde_json::to_string(&one_line(name)).unwrap_or_default(),
            describe(collection)
        ),
        None => describe(collection),
    }
}

/// Text for a comment: control characters (a line break would end the
/// comment) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A YAML scalar that reads back as the string `text`: plain when it
/// safely can be, else double-quoted.
fn yaml_scalar(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./~%@+".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric() || "_./~".contains(c))
        // Words and numbers a YAML reader would not take as a string.
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~" | ".nan" | ".inf"
        )
        && text.parse::<f64>().is_err()
        && !text.starts_with("0x")
        && !text.starts_with("0o");
    if plain {
        text.to_string()
    } else {
        // A JSON string is a YAML double-quoted scalar.
        serde_json::to_string(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn calendar(path: &str, name: Option<&str>, components: Option<&[&str]>) -> FoundCollection {
        FoundCollection {
            path: path.into(),
            display_name: name.map(str::to_string),
            kind: CollectionKind::Calendar {
                components: components.map(|c| c.iter().map(|s| (*s).to_string()).collect()),
            },
        }
    }

    fn book(path: &str, name: Option<&str>) -> FoundCollection {
        FoundCollection {
            path: path.into(),
            display_name: name.map(str::to_string),
            kind: CollectionKind::AddressBook,
        }
    }

    fn chosen(collections: &[FoundCollection], t: ItemType) -> Option<&str> {
        choose(collections, t).map(|i| collections[i].path.as_str())
    }

    #[test]
    fn declared_component_sets_win() {
        let found = [
            calendar("alice/any/", None, None),
            calendar("alice/cal/", Some("Work"), Some(&["VEVENT"])),
            calendar("alice/list/", Some("Errands"), Some(&["VTODO"])),
            book("alice/book/", None),
        ];
        assert_eq!(chosen(&found, ItemType::ScheduleItems), Some("alice/cal/"));
        assert_eq!(chosen(&found, ItemType::Tasks), Some("alice/list/"));
        assert_eq!(chosen(&found, ItemType::Contacts), Some("alice/book/"));
    }

    #[test]
    fn names_decide_between_calendars_that_accept_everything() {
        let found = [
            calendar("alice/a/", Some("Tasks"), None),
            calendar("alice/b/", Some("Calendar"), None),
            calendar("alice/c/", None, Some(&["VEVENT", "VTODO"])),
        ];
        assert_eq!(chosen(&found, ItemType::ScheduleItems), Some("alice/b/"));
        assert_eq!(chosen(&found, ItemType::Tasks), Some("alice/a/"));
        // One calendar for everything: it holds both.
        let one = [calendar("alice/default/", None, None)];
        assert_eq!(
            chosen(&one, ItemType::ScheduleItems),
            Some("alice/default/")
        );
        assert_eq!(chosen(&one, ItemType::Tasks), Some("alice/default/"));
        assert_eq!(chosen(&one, ItemType::Contacts), None);
    }

    #[test]
    fn birthdays_and_holidays_come_last() {
        let found = [
            calendar("alice/contact_birthdays/", None, Some(&["VEVENT"])),
            calendar(
                "alice/personal/",
                Some("Personal"),
                Some(&["VEVENT", "VTODO"]),
            ),
            calendar("alice/aaa/", Some("Holidays"), Some(&["VEVENT"])),
        ];
        assert_eq!(
            chosen(&found, ItemType::ScheduleItems),
            Some("alice/personal/")
        );
        let only = [calendar(
            "alice/contact_birthdays/",
            None,
            Some(&["VEVENT"]),
        )];
        assert_eq!(
            chosen(&only, ItemType::ScheduleItems),
            Some("alice/contact_birthdays/")
        );
    }

    #[test]
    fn link_names_follow_the_rules_of_a_link_name() {
        assert_eq!(link_name("alice"), "alice");
        assert_eq!(link_name("jane doe@example.com"), "jane-doe@example.com");
        assert_eq!(link_name("_svc"), "u_svc");
        assert_eq!(link_name("ünï"), "u-n-");
    }

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(yaml_scalar("alice/calendar/"), "alice/calendar/");
        assert_eq!(yaml_scalar("/dav/my%20cal/"), "/dav/my%20cal/");
        assert_eq!(yaml_scalar("@home/"), "\"@home/\"");
        assert_eq!(yaml_scalar("1234"), "\"1234\"");
        assert_eq!(yaml_scalar("no"), "\"no\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("a#b"), "\"a#b\"");
    }

    #[test]
    fn the_block_lists_the_chosen_collections_and_the_others() {
        let found = UserCollections {
            principal: Url::parse("http://h/alice/").expect("url"),
            homes: vec![],
            collections: vec![
                book("alice/contacts/", Some("Contacts")),
                calendar("alice/calendar/", Some("Calendar"), Some(&["VEVENT"])),
                calendar(
                    "alice/holidays/",
                    Some("Holidays\nand more"),
                    Some(&["VEVENT"]),
                ),
                calendar("alice/journal/", None, Some(&["VJOURNAL"])),
            ],
        };
        let links = propose(&[("alice".to_string(), found)]);
        let mut out = Vec::new();
        write_yaml(&mut out, &["Found by a test.".to_string()], &links).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "  # Found by a test.
  links:
    - name: alice
      user: alice
      scheduleItems: alice/calendar/  # \"Calendar\": events
      # tasks: none found (no calendar of alice accepts tasks)
      contacts: alice/contacts/       # \"Contacts\": address book
      inbound: enabled
      outbound: enabled
      # Other collections of alice (put a path above to use it instead):
      #   alice/holidays/  \"Holidays and more\": events
      #   alice/journal/   a calendar of VJOURNAL: not usable (snapsync syncs events, tasks and contacts)
"
        );
    }
}
