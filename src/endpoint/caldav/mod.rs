//! CalDAV/CardDAV targets: one calendar, task list or address book on a
//! WebDAV server per collection.
//!
//! Words used here:
//! - **collection URL**: the target's base `url` joined with the link's
//!   collection path, always ending with `/` (`https://dav.example.com/`
//!   + `alice/calendar/`).
//! - **href**: the item's URL path on the server, percent-decoded
//!   (`/alice/calendar/standup@example.com.ics`), as `PROPFIND` and
//!   `REPORT` answers give it. An item snapsync creates is named after its
//!   UID ([`file_name_for_uid`]), so two creates of one UID meet at one URL
//!   and the second fails with [`ErrorKind::Exists`]. Hrefs from plan
//!   files are input: a write goes only to a direct child of the
//!   collection.
//! - **version**: the item's `ETag`, as the server sends it (quotes kept:
//!   it goes back as it came in `If-Match`).
//!
//! Reading costs one `PROPFIND` (depth 1: every href and ETag) per listing
//! and one `calendar-multiget` / `addressbook-multiget` `REPORT` per
//! [`FETCH_BATCH`] items fetched, never a `GET` per item. Writes are
//! conditional: `PUT` with `If-None-Match: *` to create, `PUT` and `DELETE`
//! with `If-Match: <etag>` to update and delete.

mod client;
pub mod discover;
mod xml;

pub use client::{DavClient, shown_url};

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use super::{
    Collection, EndpointError, ErrorKind, FetchResult, Fetched, Href, Listing, Version, Written,
    file_name_for_uid,
};
use crate::item::{Item, ItemType};

/// Items asked for in one multiget `REPORT`: servers cap their answers
/// (some at a few hundred hrefs), and 100 keeps each answer small.
pub const FETCH_BATCH: usize = 100;

/// What stays as it is in a path segment of a URL (RFC 3986 unreserved
/// characters and the sub-delimiters that servers leave unencoded).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// One calendar, task list or address book on a CalDAV/CardDAV server.
#[derive(Debug, Clone)]
pub struct CaldavCollection {
    client: DavClient,
    /// The collection URL, ending with `/`.
    url: Url,
    /// Its path, percent-decoded, ending with `/`.
    path: String,
    item_type: ItemType,
    /// How messages name the collection (`caldav office: https://…/alice/calendar/`).
    label: String,
}

impl CaldavCollection {
    /// The collection at `collection` (a path) below the target's base URL
    /// `base`, holding items of `item_type`, read and written through
    /// `client`. `target` names the target in messages.
    ///
    /// # Errors
    /// The URL is not an `http` or `https` URL.
    pub fn open(
        client: DavClient,
        target: &str,
        base: &str,
        collection: &str,
        item_type: ItemType,
    ) -> Result<Self, EndpointError> {
        let url = collection_url(base, collection).map_err(|reason| {
            EndpointError::new(
                ErrorKind::Other,
                format!(
                    "target {target}: cannot make a URL of {base:?} and {collection:?}: {reason}"
                ),
            )
        })?;
        let path = decode_path(url.path());
        let label = format!("caldav {target}: {}", client::shown_url(&url));
        Ok(CaldavCollection {
            client,
            url,
            path,
            item_type,
            label,
        })
    }

    /// The collection URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The href a create of an item with this UID writes to.
    #[must_use]
    pub fn href_for_uid(&self, uid: &str) -> Href {
        Href(format!(
            "{}{}",
            self.path,
            file_name_for_uid(uid, self.item_type.file_extension())
        ))
    }

    /// The URL of an item, refusing hrefs that are not direct children of
    /// this collection (a plan file is input: `../other/x.ics` or another
    /// user's path must never be written).
    fn item_url(&self, href: &Href) -> Result<Url, EndpointError> {
        let name = href.0.strip_prefix(&self.path).unwrap_or_default();
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains('/')
            && !name.chars().any(char::is_control);
        if !plain {
            return Err(EndpointError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: {:?} is not the path of an item of this collection \
                     (a name directly below {})",
                    self.label, href.0, self.path
                ),
            ));
        }
        let mut url = self.url.clone();
        url.set_path(&format!(
            "{}{}",
            self.url.path(),
            utf8_percent_encode(name, SEGMENT)
        ));
        Ok(url)
    }

    /// The href an answer names, decoded; `None` if it is outside this
    /// server.
    fn href_of(&self, raw: &str) -> Option<String> {
        if raw.starts_with('/') {
            Some(decode_path(raw))
        } else {
            let url = self.url.join(raw).ok()?;
            (url.origin() == self.url.origin()).then(|| decode_path(url.path()))
        }
    }

    /// An error for an answer this operation did not expect.
    fn unexpected(&self, operation: &str, what: &str, reply: &client::Reply) -> EndpointError {
        let kind = if (400..500).contains(&reply.status) {
            ErrorKind::Invalid
        } else {
            ErrorKind::Other
        };
        let redirect = reply
            .location
            .as_deref()
            .map(|l| format!(" (redirected to {l}: put that URL in the target's spec)"))
            .unwrap_or_default();
        EndpointError::new(
            kind,
            format!(
                "{}: cannot {operation} {what}: the server answered HTTP {}{redirect}{}",
                self.label,
                reply.status,
                client::excerpt(&reply.body)
            ),
        )
    }

    /// The `multistatus` of a 207 answer.
    fn multistatus(
        &self,
        operation: &str,
        reply: &client::Reply,
    ) -> Result<Vec<xml::DavResponse>, EndpointError> {
        xml::parse_multistatus(&reply.body).map_err(|reason| {
            EndpointError::new(
                ErrorKind::Transient,
                format!(
                    "{}: cannot {operation}: the server's answer is not readable: {reason}",
                    self.label
                ),
            )
        })
    }

    /// Fetches one batch of at most [`FETCH_BATCH`] valid hrefs.
    fn fetch_batch(
        &self,
        batch: &[(usize, &Href)],
        results: &mut [Option<FetchResult>],
    ) -> Result<(), EndpointError> {
        let encoded: Vec<String> = batch
            .iter()
            .map(|(_, href)| {
                href.0
                    .split('/')
                    .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        let reply = self.client.send(
            &self.label,
            "REPORT",
            &self.url,
            &[
                ("Depth", "1"),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            Some(xml::multiget(self.item_type, &encoded)),
        )?;
        if reply.status != 207 {
            return Err(self.unexpected("read", "items", &reply));
        }
        let mut answered: HashMap<String, xml::DavResponse> = HashMap::new();
        for response in self.multistatus("read items", &reply)? {
            if let Some(href) = self.href_of(&response.href) {
                answered.insert(href, response);
            }
        }
        for (index, href) in batch {
            let result = match answered.remove(&href.0) {
                Some(response) if response.status.is_none_or(|s| (200..300).contains(&s)) => {
                    match (response.data, response.etag) {
                        (Some(text), Some(etag)) => self.parse(href, &text).map(|item| Fetched {
                            href: (*href).clone(),
                            version: Version(etag),
                            item,
                        }),
                        (None, _) => Err(self.item_error(
                            ErrorKind::Invalid,
                            href,
                            "the server returned no data for it",
                        )),
                        (Some(_), None) => Err(self.item_error(
                            ErrorKind::Invalid,
                            href,
                            "the server returned no ETag for it",
                        )),
                    }
                }
                Some(response) if response.status == Some(404) => Err(self.item_error(
                    ErrorKind::DoesNotExist,
                    href,
                    "it does not exist (deleted since it was listed?)",
                )),
                Some(response) => Err(self.item_error(
                    ErrorKind::Other,
                    href,
                    &format!(
                        "the server answered HTTP {} for it",
                        response.status.unwrap_or_default()
                    ),
                )),
                None => Err(self.item_error(
                    ErrorKind::DoesNotExist,
                    href,
                    "the server did not return it (deleted since it was listed?)",
                )),
            };
            results[*index] = Some(result);
        }
        Ok(())
    }

    /// An error of `kind` about the item at `href`.
    fn item_error(&self, kind: ErrorKind, href: &Href, reason: &str) -> EndpointError {
        EndpointError::new(kind, format!("{}: {}: {reason}", self.label, href.0))
    }

    /// The one item a resource holds.
    fn parse(&self, href: &Href, text: &str) -> Result<Item, EndpointError> {
        super::parse_one(text, self.item_type, "a CalDAV/CardDAV resource")
            .map_err(|reason| self.item_error(ErrorKind::Invalid, href, &reason))
    }

    /// Refuses an item this collection must not hold.
    fn check_item_type(&self, item: &Item) -> Result<(), EndpointError> {
        super::check_item_type(&self.label, self.item_type, item)
    }

    /// The version a write left: the `ETag` of the answer, else a
    /// `PROPFIND` of the item.
    fn written(
        &self,
        href: Href,
        url: &Url,
        reply: client::Reply,
    ) -> Result<Written, EndpointError> {
        if let Some(etag) = reply.etag {
            return Ok(Written {
                href,
                version: Version(etag),
            });
        }
        let reply = self.client.send(
            &self.label,
            "PROPFIND",
            url,
            &[
                ("Depth", "0"),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            Some(xml::PROPFIND_LISTING.to_string()),
        )?;
        if reply.status != 207 {
            return Err(self.unexpected("read the new ETag of", &href.0, &reply));
        }
        let etag = self
            .multistatus("read the new ETag", &reply)?
            .into_iter()
            .find_map(|r| r.etag)
            .ok_or_else(|| {
                self.item_error(
                    ErrorKind::Other,
                    &href,
                    "written, but the server gives no ETag for it",
                )
            })?;
        Ok(Written {
            href,
            version: Version(etag),
        })
    }

    /// `PUT`s `item` at `url` with the precondition `condition`.
    fn put(
        &self,
        url: &Url,
        condition: (&str, &str),
        item: &Item,
    ) -> Result<client::Reply, EndpointError> {
        let content_type = format!("{}; charset=utf-8", self.item_type.media_type());
        self.client.send(
            &self.label,
            "PUT",
            url,
            &[condition, ("Content-Type", content_type.as_str())],
            Some(item.to_text()),
        )
    }
}

impl Collection for CaldavCollection {
    fn item_type(&self) -> ItemType {
        self.item_type
    }

    fn href_of_new(&self, uid: &str) -> Option<Href> {
        Some(self.href_for_uid(uid))
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn list(&self) -> Result<Vec<Listing>, EndpointError> {
        let reply = self.client.send(
            &self.label,
            "PROPFIND",
            &self.url,
            &[
                ("Depth", "1"),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            Some(xml::PROPFIND_LISTING.to_string()),
        )?;
        match reply.status {
            207 => {}
            404 => {
                return Err(EndpointError::new(
                    ErrorKind::DoesNotExist,
                    format!(
                        "{}: the collection does not exist on the server \
                         (create it, or fix the link's path)",
                        self.label
                    ),
                ));
            }
            _ => return Err(self.unexpected("list", "the collection", &reply)),
        }
        let mut listing = Vec::new();
        for response in self.multistatus("list the collection", &reply)? {
            let Some(href) = self.href_of(&response.href) else {
                continue;
            };
            if response.is_collection || href == self.path || !href.starts_with(&self.path) {
                continue;
            }
            let Some(etag) = response.etag else {
                tracing::warn!(collection = %self.label, %href, "skipping an item the server lists without an ETag");
                continue;
            };
            listing.push(Listing {
                href: Href(href),
                version: Version(etag),
                meta: None,
            });
        }
        listing.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(listing)
    }

    fn fetch(&self, hrefs: &[Href]) -> Result<Vec<FetchResult>, EndpointError> {
        let mut results: Vec<Option<FetchResult>> = Vec::with_capacity(hrefs.len());
        let mut valid = Vec::with_capacity(hrefs.len());
        for (index, href) in hrefs.iter().enumerate() {
            match self.item_url(href) {
                Ok(_) => {
                    results.push(None);
                    valid.push((index, href));
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        for batch in valid.chunks(FETCH_BATCH) {
            self.fetch_batch(batch, &mut results)?;
        }
        Ok(results
            .into_iter()
            .zip(hrefs)
            .map(|(result, href)| {
                result.unwrap_or_else(|| {
                    Err(self.item_error(ErrorKind::DoesNotExist, href, "not read"))
                })
            })
            .collect())
    }

    fn create(&self, item: &Item) -> Result<Written, EndpointError> {
        self.check_item_type(item)?;
        let href = self.href_for_uid(item.uid());
        let url = self.item_url(&href)?;
        let reply = self.put(&url, ("If-None-Match", "*"), item)?;
        match reply.status {
            200..=299 => self.written(href, &url, reply),
            412 => Err(self.item_error(
                ErrorKind::Exists,
                &href,
                &format!(
                    "cannot create item {}: an item is already there",
                    item.uid()
                ),
            )),
            // Radicale and others refuse a second resource with the same UID.
            409 => Err(self.item_error(
                ErrorKind::Exists,
                &href,
                &format!(
                    "cannot create item {}: the server refused it as a conflict \
                     (an item with this UID under another name?){}",
                    item.uid(),
                    client::excerpt(&reply.body)
                ),
            )),
            _ => Err(self.unexpected("create", &href.0, &reply)),
        }
    }

    fn update(
        &self,
        href: &Href,
        version: &Version,
        item: &Item,
    ) -> Result<Written, EndpointError> {
        self.check_item_type(item)?;
        let url = self.item_url(href)?;
        let reply = self.put(&url, ("If-Match", version.0.as_str()), item)?;
        match reply.status {
            200..=299 => self.written(href.clone(), &url, reply),
            412 => Err(self.item_error(
                ErrorKind::PreconditionFailed,
                href,
                &format!(
                    "cannot update it: it changed since it was read (ETag {version} was expected)"
                ),
            )),
            404 => Err(self.item_error(
                ErrorKind::DoesNotExist,
                href,
                "cannot update it: it does not exist",
            )),
            _ => Err(self.unexpected("update", &href.0, &reply)),
        }
    }

    fn delete(&self, href: &Href, version: &Version) -> Result<(), EndpointError> {
        let url = self.item_url(href)?;
        let reply = self.client.send(
            &self.label,
            "DELETE",
            &url,
            &[("If-Match", version.0.as_str())],
            None,
        )?;
        match reply.status {
            200..=299 => Ok(()),
            412 => Err(self.item_error(
                ErrorKind::PreconditionFailed,
                href,
                &format!(
                    "cannot delete it: it changed since it was read (ETag {version} was expected)"
                ),
            )),
            404 => Err(self.item_error(
                ErrorKind::DoesNotExist,
                href,
                "cannot delete it: it does not exist",
            )),
            _ => Err(self.unexpected("delete", &href.0, &reply)),
        }
    }
}

/// `base` joined with `collection`, both taken as folders.
fn collection_url(base: &str, collection: &str) -> Result<Url, String> {
    let mut base = Url::parse(base).map_err(|e| e.to_string())?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!("the scheme {} is not http or https", base.scheme()));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let collection = if collection.ends_with('/') {
        collection.to_string()
    } else {
        format!("{collection}/")
    };
    base.join(&collection).map_err(|e| e.to_string())
}

/// A URL path, percent-decoded (invalid UTF-8 is replaced, as no item of
/// ours is named so).
fn decode_path(path: &str) -> String {
    percent_decode_str(path).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::CaldavLocation;
    use std::time::Duration;

    fn collection(base: &str, path: &str) -> CaldavCollection {
        let location = CaldavLocation {
            url: base.to_string(),
            credentials: None,
            ca_file: None,
            insecure_skip_verify: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        let client = DavClient::open("office", &location).expect("client");
        CaldavCollection::open(client, "office", base, path, ItemType::ScheduleItems)
            .expect("collection")
    }

    #[test]
    fn collection_urls_join_as_folders() {
        let c = collection("http://h:1/dav", "alice/cal");
        assert_eq!(c.url().as_str(), "http://h:1/dav/alice/cal/");
        assert_eq!(c.path, "/dav/alice/cal/");
        let c = collection("http://h:1/dav/", "/alice/my%20cal/");
        assert_eq!(c.url().as_str(), "http://h:1/alice/my%20cal/");
        assert_eq!(c.path, "/alice/my cal/");
    }

    #[test]
    fn item_urls_are_direct_children_only() {
        let c = collection("http://h:1/", "alice/cal/");
        let url = c
            .item_url(&Href("/alice/cal/a b@x.ics".into()))
            .expect("child");
        assert_eq!(url.as_str(), "http://h:1/alice/cal/a%20b@x.ics");
        for bad in [
            "/alice/cal/",
            "/alice/cal/../bob/x.ics",
            "/alice/cal/sub/x.ics",
            "/bob/cal/x.ics",
            "x.ics",
            "/alice/cal/..",
        ] {
            let error = c.item_url(&Href(bad.into())).expect_err(bad);
            assert_eq!(error.kind, ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn answered_hrefs_are_decoded_paths_on_this_server() {
        let c = collection("http://h:1/", "alice/cal/");
        assert_eq!(
            c.href_of("/alice/cal/a%40b.ics").as_deref(),
            Some("/alice/cal/a@b.ics")
        );
        assert_eq!(
            c.href_of("http://h:1/alice/cal/x.ics").as_deref(),
            Some("/alice/cal/x.ics")
        );
        assert_eq!(c.href_of("http://other:1/alice/cal/x.ics"), None);
    }
}
