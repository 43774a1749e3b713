//! Links: those a target declares (unique names, each collection used
//! once) and those a snapshot selects (known, listed once, enabled for its
//! direction, holding a collection for every item type it processes).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::{At, Checks, Place, sorted_list};
use crate::item::ItemType;
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{LinkSpec, Scope};
use crate::spec::schema::did_you_mean;
use crate::spec::types::{Direction, Link, LinkFlag, SnapshotResource, TargetResource, TargetType};

impl Checks<'_> {
    /// A target's links: unique names, and each collection used once.
    pub(super) fn links(&mut self, at: &At<'_, TargetResource>) -> Vec<LinkSpec> {
        let file = at.file();
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut collections: HashMap<(ItemType, String), (usize, &'static str)> = HashMap::new();
        let mut links = Vec::new();
        for (i, link) in at.resource.spec.links.iter().enumerate() {
            let pointer = format!("/spec/links/{i}");
            if let Some(first) = names.get(link.name.as_str()) {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::DuplicateName,
                        format!("link `{}` is defined twice in this target", link.name),
                        file,
                        at.value(&format!("{pointer}/name")),
                    )
                    .with_label("second definition")
                    .with_secondary(
                        file,
                        at.value(&format!("/spec/links/{first}/name")),
                        "first defined here",
                    )
                    .with_hint("link names are unique within a target; rename one"),
                );
            } else {
                names.insert(&link.name, i);
            }
            let by_type = self.link_collections(at, i, link, &mut collections);
            if by_type.is_empty() {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::EmptyLink,
                        format!("link `{}` has no collection", link.name),
                        file,
                        at.value(&format!("{pointer}/name")),
                    )
                    .with_label("nothing to synchronize")
                    .with_hint("add `scheduleItems`, `tasks` or `contacts` with the collection for that item type"),
                );
            }
            links.push(LinkSpec {
                name: link.name.clone(),
                user: link.user.clone(),
                collections: by_type,
                inbound: link.inbound,
                outbound: link.outbound,
            });
        }
        links
    }

    /// One link's collections by item type. A vdir collection stays inside
    /// the target's folder; no collection is used twice, by this link or an
    /// earlier one (`collections`: by kind and path, the first link and
    /// type to use it).
    fn link_collections(
        &mut self,
        at: &At<'_, TargetResource>,
        i: usize,
        link: &Link,
        collections: &mut HashMap<(ItemType, String), (usize, &'static str)>,
    ) -> BTreeMap<ItemType, String> {
        let file = at.file();
        let vdir = at.resource.spec.target_type == TargetType::Vdir;
        let pointer = format!("/spec/links/{i}");
        let mut by_type = BTreeMap::new();
        for (item_type, collection) in [
            (ItemType::ScheduleItems, &link.schedule_items),
            (ItemType::Tasks, &link.tasks),
            (ItemType::Contacts, &link.contacts),
        ] {
            let Some(collection) = collection else {
                continue;
            };
            let field_pointer = format!("{pointer}/{item_type}");
            if vdir && escapes_folder(collection) {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::CollectionOutsideTarget,
                        format!("collection `{collection}` is outside the target's folder"),
                        file,
                        at.value(&field_pointer),
                    )
                    .with_label("absolute, or climbs out with `..`")
                    .with_hint("give a folder below the target's `path`, such as `jdoe/calendar`"),
                );
            }
            let normalized = collection.trim_matches('/').to_owned();
            let kind = if item_type == ItemType::Contacts {
                ItemType::Contacts
            } else {
                ItemType::ScheduleItems
            };
            // One link may keep its events and tasks in one calendar (CalDAV
            // calendars often hold both); each section reads its own type.
            let shared = collections
                .get(&(kind, normalized.clone()))
                .filter(|(first, _)| *first != i);
            if let Some((first, first_type)) = shared {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::SharedCollection,
                        format!("collection `{collection}` is used twice"),
                        file,
                        at.value(&field_pointer),
                    )
                    .with_label("second use")
                    .with_secondary(file, at.value(&format!("/spec/links/{first}/{first_type}")), "first use")
                    .with_hint("a collection belongs to one link (which may keep its events and tasks in one calendar); two links would overwrite each other's items"),
                );
            } else {
                collections.insert((kind, normalized), (i, item_type.as_str()));
            }
            by_type.insert(item_type, collection.clone());
        }
        by_type
    }

    /// Checks the links a snapshot names: each exists once, and is enabled
    /// for the direction (when the direction is known).
    pub(super) fn selected_links(
        &mut self,
        at: Place<'_>,
        links: &[&str],
        direction: Option<Direction>,
        target: &At<'_, TargetResource>,
    ) {
        let file = at.file;
        if links.is_empty() {
            self.push(empty_links(at));
        }
        let known: Vec<&str> = target
            .resource
            .spec
            .links
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, &name) in links.iter().enumerate() {
            let pointer = format!("/spec/links/{i}");
            if let Some(first) = seen.insert(name, i) {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::DuplicateLink,
                        format!("link `{name}` is listed twice"),
                        file,
                        at.value(&pointer),
                    )
                    .with_label("listed again")
                    .with_secondary(
                        file,
                        at.value(&format!("/spec/links/{first}")),
                        "first listed here",
                    )
                    .with_hint("remove one of the two"),
                );
                continue;
            }
            let Some(index) = target
                .resource
                .spec
                .links
                .iter()
                .position(|l| l.name == name)
            else {
                self.push(unknown_link(at, &pointer, name, &known, target));
                continue;
            };
            if let Some(direction) = direction {
                self.disabled_link(at, &pointer, name, direction, index, target);
            }
        }
    }

    /// A link selected for a direction in which it is disabled: a warning,
    /// never an error (DESIGN 2.4): disabling a link must not stop
    /// unrelated snapshots or read-only commands.
    fn disabled_link(
        &mut self,
        at: Place<'_>,
        pointer: &str,
        name: &str,
        direction: Direction,
        index: usize,
        target: &At<'_, TargetResource>,
    ) {
        let link = &target.resource.spec.links[index];
        let (flag, flag_name) = match direction {
            Direction::Get => (link.inbound, "inbound"),
            Direction::Send => (link.outbound, "outbound"),
        };
        if flag == LinkFlag::Disabled {
            let flag_pointer = format!("/spec/links/{index}/{flag_name}");
            self.push(
                Diagnostic::warning(
                    DiagnosticCode::DisabledLink,
                    format!("link `{name}` has {flag_name} synchronization disabled"),
                    at.file,
                    at.value(pointer),
                )
                .with_label(format!("a {} snapshot skips this link", direction_word(direction)))
                .with_secondary(target.file(), target.value(&flag_pointer), "disabled here")
                .with_hint(format!("plans skip the link while `{flag_name}` is disabled; enable it on the link in its Target, or remove the link from this snapshot")),
            );
        }
    }

    /// A snapshot that names links and item types explicitly must find a
    /// collection for each type on each link.
    pub(super) fn links_carry_types(
        &mut self,
        at: &At<'_, SnapshotResource>,
        target: &At<'_, TargetResource>,
        links: &[String],
        scope: &Scope,
    ) {
        let explicit = at.resource.spec.item_types.is_some() || at.resource.spec.filters.is_some();
        if !explicit {
            return;
        }
        for (i, name) in links.iter().enumerate() {
            let Some(link) = target.resource.spec.links.iter().find(|l| l.name == *name) else {
                continue;
            };
            for item_type in scope.item_types() {
                let has = match item_type {
                    ItemType::ScheduleItems => link.schedule_items.is_some(),
                    ItemType::Tasks => link.tasks.is_some(),
                    ItemType::Contacts => link.contacts.is_some(),
                };
                if !has {
                    self.push(
                        Diagnostic::error(
                            DiagnosticCode::LinkLacksCollection,
                            format!("link `{name}` has no `{item_type}` collection"),
                            at.file(),
                            at.value(&format!("/spec/links/{i}")),
                        )
                        .with_label(format!("this snapshot processes {item_type}"))
                        .with_hint(format!("add `{item_type}:` to the link in its Target, or stop selecting {item_type} here")),
                    );
                }
            }
        }
    }
}

/// A link a snapshot names that its target does not have.
fn unknown_link(
    at: Place<'_>,
    pointer: &str,
    name: &str,
    known: &[&str],
    target: &At<'_, TargetResource>,
) -> Diagnostic {
    let hint = match did_you_mean(name, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None if known.is_empty() => {
            format!("target `{}` has no links", target.resource.metadata.name)
        }
        None => format!(
            "the links of `{}` are {}",
            target.resource.metadata.name,
            sorted_list(known.iter().copied())
        ),
    };
    Diagnostic::error(
        DiagnosticCode::UnknownLink,
        format!(
            "target `{}` has no link `{name}`",
            target.resource.metadata.name
        ),
        at.file,
        at.value(pointer),
    )
    .with_label("unknown link")
    .with_hint(hint)
}

pub(super) fn empty_links(at: Place<'_>) -> Diagnostic {
    Diagnostic::error(
        DiagnosticCode::EmptyLinks,
        "`links` is empty: no link would be processed",
        at.file,
        at.key("/spec/links"),
    )
    .with_label("empty list")
    .with_hint("list the links to process, or omit `links` for every link of the target")
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Get => "get",
        Direction::Send => "send",
    }
}

/// Whether a vdir collection path leaves the target's folder.
fn escapes_folder(collection: &str) -> bool {
    let path = Path::new(collection);
    path.is_absolute()
        || path.components().any(|c| {
            matches!(
                c,
                std::path::Component::ParentDir | std::path::Component::Prefix(_)
            )
        })
}
