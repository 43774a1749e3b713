//! Discovery: the calendars, task lists and address books of users on a
//! CalDAV/CardDAV server, found the way RFC 6764, RFC 5397, RFC 4791 and
//! RFC 6352 describe.
//!
//! Words used here:
//! - **principal**: the URL that stands for a user on the server
//!   (`/alice/`, `/remote.php/dav/principals/users/alice/`); the server
//!   names the login's own in `current-user-principal`.
//! - **home**: the collection below which a user's calendars
//!   (`calendar-home-set`) or address books (`addressbook-home-set`) are.
//! - **user name**: the last segment of a principal's path, decoded
//!   (`alice`). It names the user in messages and in the links proposed.
//!
//! The steps, each a `PROPFIND`: `/.well-known/caldav`, then
//! `/.well-known/carddav`, then the target's URL itself, until one names
//! the login's principal (`current-user-principal`, depth 0); redirects are
//! followed, at most [`MAX_REDIRECTS`] hops and only on the same server (the
//! client follows none by itself). Then the principal's home sets (depth 0),
//! then each home's children (depth 1: `resourcetype`, `displayname`,
//! `supported-calendar-component-set`).
//!
//! Other users (`--user`) are found from the login's principal: its last
//! segment is replaced by the other user's name (`/svc/` → `/bob/`), and
//! that principal is asked for its homes. This is how Radicale, Nextcloud,
//! `SOGo`, Baïkal and `DAViCal` lay out principals; it needs a login that may
//! read other users' principals and homes (a service account). When such
//! a principal names no home, the login's homes are used with the same
//! segment replaced.

use std::collections::HashSet;

use percent_encoding::{percent_decode_str, utf8_percent_encode};
use url::Url;

use super::client::{self, DavClient, Reply};
use super::{SEGMENT, xml};
use crate::endpoint::{EndpointError, ErrorKind};
use crate::item::ItemType;

/// The most redirects followed from one URL.
pub const MAX_REDIRECTS: usize = 5;

/// What discovery found.
#[derive(Debug)]
pub struct Discovery {
    /// The login's user name (the last segment of its principal's path).
    pub login: String,
    /// The login's principal URL.
    pub principal: Url,
    /// One entry per user asked for (the login when none was), in the order
    /// asked.
    pub users: Vec<UserDiscovery>,
}

/// One user's collections, or why none were found.
#[derive(Debug)]
pub struct UserDiscovery {
    /// The user's name.
    pub user: String,
    /// The collections, or the reason there are none.
    pub outcome: Result<UserCollections, EndpointError>,
}

/// The collections of one user.
#[derive(Debug, Clone)]
pub struct UserCollections {
    /// The user's principal URL.
    pub principal: Url,
    /// The homes that were listed.
    pub homes: Vec<Url>,
    /// Every calendar and address book in them, sorted by path.
    pub collections: Vec<FoundCollection>,
}

/// A calendar or address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCollection {
    /// The collection's path as a link gives it: relative to the target's
    /// URL when it is below it (`alice/calendar/`), else from the server's
    /// root (`/alice/calendar/`); percent-encoded as the server wrote it,
    /// ending with `/`.
    pub path: String,
    /// Its `displayname`, if it has one.
    pub display_name: Option<String>,
    /// A calendar or an address book.
    pub kind: CollectionKind,
}

/// What a collection holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionKind {
    /// A calendar, with its `supported-calendar-component-set` (upper-case
    /// component names), or `None` when the server does not say, which
    /// means every component is accepted (RFC 4791, 5.2.3).
    Calendar {
        /// The components it accepts.
        components: Option<Vec<String>>,
    },
    /// An address book.
    AddressBook,
}

impl FoundCollection {
    /// Whether items of `item_type` may be stored in it.
    #[must_use]
    pub fn accepts(&self, item_type: ItemType) -> bool {
        match (&self.kind, item_type) {
            (CollectionKind::AddressBook, ItemType::Contacts) => true,
            (
                CollectionKind::Calendar { components },
                ItemType::ScheduleItems | ItemType::Tasks,
            ) => {
                let wanted = if item_type == ItemType::Tasks {
                    "VTODO"
                } else {
                    "VEVENT"
                };
                components
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|name| name == wanted))
            }
            _ => false,
        }
    }

    /// Whether it is a calendar that says it accepts events and not tasks
    /// (or tasks and not events): a calendar, or a task list, by its
    /// server's own word.
    #[must_use]
    pub fn declared_for(&self, item_type: ItemType) -> bool {
        let other = match item_type {
            ItemType::ScheduleItems => ItemType::Tasks,
            ItemType::Tasks => ItemType::ScheduleItems,
            ItemType::Contacts => return self.kind == CollectionKind::AddressBook,
        };
        matches!(
            &self.kind,
            CollectionKind::Calendar {
                components: Some(_)
            }
        ) && self.accepts(item_type)
            && !self.accepts(other)
    }
}

/// Finds the collections of `users` (of the login when empty) on the server
/// at `base_url`, through `client`. `target` names the target in messages.
///
/// # Errors
/// The server cannot be reached, refuses the login, does not speak WebDAV,
/// or names no principal for the login. A user whose collections cannot be
/// found is not an error here: their [`UserDiscovery::outcome`] says why.
pub fn discover(
    client: &DavClient,
    target: &str,
    base_url: &str,
    users: &[String],
) -> Result<Discovery, EndpointError> {
    let explorer = Explorer::new(client, target, base_url)?;
    let principal = explorer.login_principal()?;
    let login = user_segment(&principal).unwrap_or_default();
    tracing::info!(target, principal = %client::shown_url(&principal), "found the login's principal");
    let login_homes = explorer.homes(&principal, true)?;
    let mut discovery = Discovery {
        login: login.clone(),
        principal: principal.clone(),
        users: Vec::new(),
    };
    let mut asked: Vec<String> = Vec::new();
    for user in users {
        if !asked.contains(user) {
            asked.push(user.clone());
        }
    }
    if asked.is_empty() {
        asked.push(login.clone());
    }
    for user in asked {
        let outcome = explorer.user_collections(&user, &login, &principal, &login_homes)?;
        // A principal without a user segment (`/`): the target names it.
        let user = if user.is_empty() {
            target.to_string()
        } else {
            user
        };
        discovery.users.push(UserDiscovery { user, outcome });
    }
    Ok(discovery)
}

/// Which homes a principal names.
#[derive(Debug, Clone)]
enum HomesAnswer {
    /// Its calendar and address book homes (at least one).
    Found(Vec<Url>),
    /// It answered, but names no home.
    NoHomeSet,
    /// It cannot be read (403, 404, …): the error says why.
    Refused(EndpointError),
}

/// One discovery's requests.
struct Explorer<'a> {
    client: &'a DavClient,
    target: &'a str,
    /// The target's URL, as a folder (ending with `/`).
    base: Url,
    /// How messages name the target (`caldav office`).
    label: String,
}

impl<'a> Explorer<'a> {
    fn new(client: &'a DavClient, target: &'a str, base_url: &str) -> Result<Self, EndpointError> {
        let label = format!("caldav {target}");
        let mut base = Url::parse(base_url).map_err(|e| {
            EndpointError::new(
                ErrorKind::Invalid,
                format!("{label}: the URL {base_url:?} is not valid: {e}"),
            )
        })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Explorer {
            client,
            target,
            base,
            label,
        })
    }

    /// A `PROPFIND` of `properties` at `url`, following redirects on the
    /// same server. Returns the URL that answered and its answer (a
    /// redirect elsewhere, or one too many, is returned as it is).
    fn propfind(
        &self,
        url: &Url,
        depth: &str,
        properties: &[(&str, &str)],
    ) -> Result<(Url, Reply), EndpointError> {
        let body = xml::propfind(properties);
        let mut url = url.clone();
        let mut hops = 0;
        loop {
            let reply = self.client.probe(
                &self.label,
                "PROPFIND",
                &url,
                &[
                    ("Depth", depth),
                    ("Content-Type", "application/xml; charset=utf-8"),
                ],
                Some(body.clone()),
            )?;
            let next = matches!(reply.status, 301 | 302 | 303 | 307 | 308)
                .then(|| reply.location.as_deref().and_then(|l| url.join(l).ok()))
                .flatten();
            match next {
                Some(next) if next.origin() == url.origin() && hops < MAX_REDIRECTS => {
                    tracing::debug!(from = %client::shown_url(&url), to = %client::shown_url(&next), "following a redirect");
                    url = next;
                    hops += 1;
                }
                _ => return Ok((url, reply)),
            }
        }
    }

    /// The login's principal: from the well-known URIs, else the target's URL.
    fn login_principal(&self) -> Result<Url, EndpointError> {
        let mut tried: HashSet<String> = HashSet::new();
        let mut notes: Vec<String> = Vec::new();
        let mut webdav = false;
        let candidates = [
            self.base.join("/.well-known/caldav"),
            self.base.join("/.well-known/carddav"),
            Ok(self.base.clone()),
        ];
        for candidate in candidates.into_iter().flatten() {
            if tried.contains(candidate.as_str()) {
                continue;
            }
            let (answered_at, reply) =
                self.propfind(&candidate, "0", &[(xml::DAV, "current-user-principal")])?;
            let shown = client::shown_url(&candidate);
            tried.insert(candidate.to_string());
            if answered_at != candidate && !tried.insert(answered_at.to_string()) {
                // Redirected to a URL already asked: nothing new to learn.
                continue;
            }
            let via = if answered_at == candidate {
                String::new()
            } else {
                format!(" (redirected to {})", client::shown_url(&answered_at))
            };
            if reply.status != 207 {
                let redirect = reply
                    .location
                    .as_deref()
                    .map(|l| format!(", to {l}, which is not followed"))
                    .unwrap_or_default();
                notes.push(format!(
                    "{shown}{via} answered HTTP {}{redirect}",
                    reply.status
                ));
                continue;
            }
            webdav = true;
            let responses = self.parse(&reply, &answered_at)?;
            let property = responses
                .iter()
                .find_map(|r| r.property("current-user-principal"));
            match property {
                Some(p) if !p.hrefs.is_empty() => {
                    if let Some(url) = self.resolve(&answered_at, &p.hrefs[0]) {
                        return Ok(url);
                    }
                    notes.push(format!(
                        "{shown}{via} names the principal {:?}, on another server",
                        p.hrefs[0]
                    ));
                }
                Some(p) if p.children.iter().any(|c| c.name == "unauthenticated") => {
                    notes.push(format!(
                        "{shown}{via} took the request as anonymous (current-user-principal \
                         is `unauthenticated`)"
                    ));
                }
                _ => notes.push(format!("{shown}{via} names no current-user-principal")),
            }
        }
        let hint = if webdav {
            if notes.iter().any(|n| n.contains("anonymous")) {
                "; add spec.auth to the target (a login the server knows)"
            } else {
                "; the server may not support RFC 5397 (current-user-principal): put the \
                 collections in the links by hand"
            }
        } else {
            "; this does not look like a CalDAV/CardDAV server (check spec.url)"
        };
        Err(EndpointError::new(
            ErrorKind::DoesNotExist,
            format!(
                "{}: found no principal for the login: {}{hint}",
                self.label,
                notes.join("; ")
            ),
        ))
    }

    /// The homes `principal` names; `own`: the login's principal.
    fn homes(&self, principal: &Url, own: bool) -> Result<HomesAnswer, EndpointError> {
        let (answered_at, reply) = self.propfind(
            principal,
            "0",
            &[
                (xml::CALDAV, "calendar-home-set"),
                (xml::CARDDAV, "addressbook-home-set"),
            ],
        )?;
        if reply.status != 207 {
            return Ok(HomesAnswer::Refused(
                self.unreadable(principal, &reply, own),
            ));
        }
        let mut homes: Vec<Url> = Vec::new();
        let mut other_server = Vec::new();
        for response in self.parse(&reply, &answered_at)? {
            for name in ["calendar-home-set", "addressbook-home-set"] {
                for href in response
                    .property(name)
                    .map(|p| &p.hrefs[..])
                    .unwrap_or_default()
                {
                    match self.resolve(&answered_at, href) {
                        Some(home) if !homes.contains(&home) => homes.push(home),
                        Some(_) => {}
                        None => other_server.push(href.clone()),
                    }
                }
            }
        }
        for href in other_server {
            tracing::warn!(target = self.target, home = %href, "skipping a home on another server");
        }
        Ok(if homes.is_empty() {
            HomesAnswer::NoHomeSet
        } else {
            HomesAnswer::Found(homes)
        })
    }

    /// The collections of `user` in `homes`; `own`: the login's.
    fn collections(
        &self,
        user: &str,
        principal: &Url,
        homes: &[Url],
        own: bool,
    ) -> Result<UserCollections, EndpointError> {
        let mut collections: Vec<FoundCollection> = Vec::new();
        for home in homes {
            let (answered_at, reply) = self.propfind(
                home,
                "1",
                &[
                    (xml::DAV, "resourcetype"),
                    (xml::DAV, "displayname"),
                    (xml::CALDAV, "supported-calendar-component-set"),
                ],
            )?;
            if reply.status != 207 {
                return Err(self.unreadable(home, &reply, own));
            }
            let own = folder_path(answered_at.path());
            for response in self.parse(&reply, &answered_at)? {
                let Some(url) = self.resolve(&answered_at, &response.href) else {
                    continue;
                };
                let path = folder_path(url.path());
                if path == own || collections.iter().any(|c| c.path == self.link_path(&url)) {
                    continue;
                }
                let kinds: Vec<&str> = response
                    .property("resourcetype")
                    .map(|p| p.children.iter().map(|c| c.name.as_str()).collect())
                    .unwrap_or_default();
                let kind = if kinds.contains(&"calendar") {
                    CollectionKind::Calendar {
                        components: response.property("supported-calendar-component-set").map(
                            |p| {
                                p.children
                                    .iter()
                                    .filter(|c| c.name == "comp")
                                    .filter_map(|c| c.name_attribute.as_deref())
                                    .map(str::to_ascii_uppercase)
                                    .collect()
                            },
                        ),
                    }
                } else if kinds.contains(&"addressbook") {
                    CollectionKind::AddressBook
                } else {
                    continue;
                };
                // Radicale gives an unnamed collection its path as its name:
                // no news next to the path.
                let display_name = response
                    .property("displayname")
                    .map(|p| p.text.trim().to_string())
                    .filter(|t| !t.is_empty() && t.trim_matches('/') != path.trim_matches('/'));
                collections.push(FoundCollection {
                    path: self.link_path(&url),
                    display_name,
                    kind,
                });
            }
        }
        if collections.is_empty() {
            let shown: Vec<String> = homes.iter().map(client::shown_url).collect();
            return Err(EndpointError::new(
                ErrorKind::DoesNotExist,
                format!(
                    "{}: user {user} has no calendar, task list or address book (looked in {}); \
                     create them on the server first",
                    self.label,
                    shown.join(" and ")
                ),
            ));
        }
        collections.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(UserCollections {
            principal: principal.clone(),
            homes: homes.to_vec(),
            collections,
        })
    }

    /// The collections of `user`: the login's own, or another user's,
    /// found from the login's principal and homes with the login's user
    /// segment replaced.
    fn user_collections(
        &self,
        user: &str,
        login: &str,
        login_principal: &Url,
        login_homes: &HomesAnswer,
    ) -> Result<Result<UserCollections, EndpointError>, EndpointError> {
        if user == login {
            return Ok(match login_homes {
                HomesAnswer::Found(homes) => self.collections(user, login_principal, homes, true),
                HomesAnswer::NoHomeSet => Err(self.no_home(user, login_principal)),
                HomesAnswer::Refused(error) => Err(error.clone()),
            });
        }
        let cannot = |reason: String| {
            Ok(Err(EndpointError::new(
                ErrorKind::Invalid,
                format!("{}: cannot look for user {user}: {reason}", self.label),
            )))
        };
        if user.is_empty() || user.contains('/') {
            return cannot("a user name is one path segment (no `/`)".to_string());
        }
        if login.is_empty() {
            return cannot(format!(
                "the login's principal {} has no user segment to replace",
                client::shown_url(login_principal)
            ));
        }
        let Some(principal) = replace_user_segment(login_principal, login, user) else {
            return cannot(format!(
                "the login's principal {} does not end with its user name",
                client::shown_url(login_principal)
            ));
        };
        let homes = match self.homes(&principal, false)? {
            HomesAnswer::Found(homes) => homes,
            HomesAnswer::Refused(error) => return Ok(Err(error)),
            HomesAnswer::NoHomeSet => {
                // The principal is there but keeps its homes to itself: try
                // where the login's homes are, for this user.
                let HomesAnswer::Found(login_homes) = login_homes else {
                    return Ok(Err(self.no_home(user, &principal)));
                };
                let derived: Vec<Url> = login_homes
                    .iter()
                    .filter_map(|home| replace_user_segment(home, login, user))
                    .collect();
                if derived.is_empty() {
                    return Ok(Err(self.no_home(user, &principal)));
                }
                derived
            }
        };
        Ok(self.collections(user, &principal, &homes, false))
    }

    fn no_home(&self, user: &str, principal: &Url) -> EndpointError {
        EndpointError::new(
            ErrorKind::DoesNotExist,
            format!(
                "{}: the principal of user {user}, {}, names no calendar-home-set and no \
                 addressbook-home-set: the server offers neither CalDAV nor CardDAV to this user",
                self.label,
                client::shown_url(principal)
            ),
        )
    }

    /// Why `url` could not be read; `own`: it is the login's principal
    /// or home (which the server named itself), else another user's
    /// (which discovery derived).
    fn unreadable(&self, url: &Url, reply: &Reply, own: bool) -> EndpointError {
        let shown = client::shown_url(url);
        let excerpt = client::excerpt(&reply.body);
        let (kind, message) = match (reply.status, own) {
            (404, true) => (
                ErrorKind::DoesNotExist,
                format!(
                    "the server names {shown} for this login, but it does not exist (HTTP 404)"
                ),
            ),
            (403, true) => (
                ErrorKind::Other,
                format!(
                    "the server names {shown} for this login, but does not let it read it \
                     (HTTP 403){excerpt}"
                ),
            ),
            (404, false) => (
                ErrorKind::DoesNotExist,
                format!(
                    "cannot read {shown}: it does not exist (an unknown user? Radicale makes a \
                     user's principal at their first login)"
                ),
            ),
            (403, false) => (
                ErrorKind::Other,
                format!(
                    "cannot read {shown}: the server does not let this login read it (HTTP 403); \
                     finding another user's collections needs a login that may read them, such \
                     as a service account{excerpt}"
                ),
            ),
            (status, _) => (
                ErrorKind::Other,
                format!("cannot read {shown}: the server answered HTTP {status}{excerpt}"),
            ),
        };
        EndpointError::new(kind, format!("{}: {message}", self.label))
    }

    fn parse(&self, reply: &Reply, url: &Url) -> Result<Vec<xml::PropResponse>, EndpointError> {
        xml::parse_properties(&reply.body).map_err(|reason| {
            EndpointError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: the answer of {} is not readable: {reason}",
                    self.label,
                    client::shown_url(url)
                ),
            )
        })
    }

    /// An href of an answer from `at`, as a URL; `None` if it is on another
    /// server.
    fn resolve(&self, at: &Url, href: &str) -> Option<Url> {
        let url = at.join(href.trim()).ok()?;
        (url.origin() == self.base.origin()).then_some(url)
    }

    /// How a link names the collection at `url` (see [`FoundCollection::path`]).
    fn link_path(&self, url: &Url) -> String {
        link_path(&self.base, url)
    }
}

/// The path of `collection` as a link gives it, for a target at `base` (a
/// folder URL on the same server).
fn link_path(base: &Url, collection: &Url) -> String {
    let path = collection.path();
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    match path.strip_prefix(base.path()) {
        Some(below) if !below.is_empty() => below.to_string(),
        _ => path,
    }
}

/// A path as a folder, decoded, for comparisons.
fn folder_path(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    if decoded.ends_with('/') {
        decoded.into_owned()
    } else {
        format!("{decoded}/")
    }
}

/// The last non-empty segment of a principal's path, decoded: the user name.
fn user_segment(principal: &Url) -> Option<String> {
    let segment = principal.path().split('/').rfind(|s| !s.is_empty())?;
    Some(percent_decode_str(segment).decode_utf8_lossy().into_owned())
}

/// `url` with its last path segment that is `from` (decoded) replaced by
/// `to`; `None` when no segment is `from`.
fn replace_user_segment(url: &Url, from: &str, to: &str) -> Option<Url> {
    let segments: Vec<&str> = url.path().split('/').collect();
    let index = segments
        .iter()
        .rposition(|s| percent_decode_str(s).decode_utf8_lossy() == from)?;
    let encoded = utf8_percent_encode(to, SEGMENT).to_string();
    let path: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| if i == index { encoded.as_str() } else { s })
        .collect();
    let mut replaced = url.clone();
    replaced.set_path(&path.join("/"));
    Some(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn link_paths_are_relative_to_the_target_url_when_below_it() {
        let base = url("http://h:1/dav/");
        assert_eq!(
            link_path(&base, &url("http://h:1/dav/alice/cal/")),
            "alice/cal/"
        );
        assert_eq!(
            link_path(&base, &url("http://h:1/dav/alice/my%20cal")),
            "alice/my%20cal/"
        );
        assert_eq!(
            link_path(&base, &url("http://h:1/other/alice/cal/")),
            "/other/alice/cal/"
        );
        // Each joins back to the collection's URL, as a link's path does.
        for (path, expected) in [
            ("alice/my%20cal/", "http://h:1/dav/alice/my%20cal/"),
            ("/other/alice/cal/", "http://h:1/other/alice/cal/"),
        ] {
            assert_eq!(
                super::super::collection_url(base.as_str(), path)
                    .expect("joins")
                    .as_str(),
                expected
            );
        }
    }

    #[test]
    fn other_users_replace_the_logins_segment() {
        let principal = url("https://h/remote.php/dav/principals/users/svc/");
        assert_eq!(user_segment(&principal).as_deref(), Some("svc"));
        assert_eq!(
            replace_user_segment(&principal, "svc", "b ob")
                .expect("replaced")
                .as_str(),
            "https://h/remote.php/dav/principals/users/b%20ob/"
        );
        let home = url("https://h/dav/calendars/svc/svc-stuff/");
        assert_eq!(
            replace_user_segment(&home, "svc", "bob")
                .expect("replaced")
                .as_str(),
            "https://h/dav/calendars/bob/svc-stuff/"
        );
        assert_eq!(replace_user_segment(&home, "alice", "bob"), None);
        assert_eq!(user_segment(&url("https://h/")), None);
    }

    #[test]
    fn component_sets_tell_calendars_from_task_lists() {
        let calendar = |components: Option<&[&str]>| FoundCollection {
            path: "a/".into(),
            display_name: None,
            kind: CollectionKind::Calendar {
                components: components.map(|c| c.iter().map(|s| (*s).to_string()).collect()),
            },
        };
        let events = calendar(Some(&["VEVENT"]));
        assert!(events.declared_for(ItemType::ScheduleItems));
        assert!(!events.accepts(ItemType::Tasks));
        let tasks = calendar(Some(&["VTODO"]));
        assert!(tasks.declared_for(ItemType::Tasks));
        assert!(!tasks.accepts(ItemType::ScheduleItems));
        for either in [calendar(None), calendar(Some(&["VEVENT", "VTODO"]))] {
            assert!(either.accepts(ItemType::ScheduleItems) && either.accepts(ItemType::Tasks));
            assert!(!either.declared_for(ItemType::ScheduleItems));
            assert!(!either.declared_for(ItemType::Tasks));
            assert!(!either.accepts(ItemType::Contacts));
        }
        let journal = calendar(Some(&["VJOURNAL"]));
        assert!(!journal.accepts(ItemType::ScheduleItems) && !journal.accepts(ItemType::Tasks));
    }
}
