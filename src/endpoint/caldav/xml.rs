//! The WebDAV XML that CalDAV and CardDAV speak: request bodies, and the
//! `multistatus` answers of `PROPFIND` and `REPORT`.
//!
//! Elements are matched by their local name, whatever their namespace
//! prefix: the names read here (`response`, `href`, `getetag`,
//! `calendar-data`, …) do not collide across the DAV, CalDAV and CardDAV
//! namespaces, and servers disagree on prefixes.

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;

use crate::item::ItemType;

/// `PROPFIND` body asking for what a listing needs.
pub const PROPFIND_LISTING: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getetag/></d:prop></d:propfind>"#;

/// The `calendar-multiget` or `addressbook-multiget` body for `hrefs`
/// (already percent-encoded paths).
#[must_use]
pub fn multiget(item_type: ItemType, hrefs: &[String]) -> String {
    let (report, ns, data) = match item_type {
        ItemType::Contacts => (
            "addressbook-multiget",
            "urn:ietf:params:xml:ns:carddav",
            "address-data",
        ),
        ItemType::ScheduleItems | ItemType::Tasks => (
            "calendar-multiget",
            "urn:ietf:params:xml:ns:caldav",
            "calendar-data",
        ),
    };
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:{report} xmlns:d=\"DAV:\" xmlns:c=\"{ns}\">\
         <d:prop><d:getetag/><c:{data}/></d:prop>"
    );
    for href in hrefs {
        body.push_str("<d:href>");
        body.push_str(&escape(href.as_str()));
        body.push_str("</d:href>");
    }
    body.push_str("</c:");
    body.push_str(report);
    body.push('>');
    body
}

/// One `response` of a `multistatus`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DavResponse {
    /// The `href`, as the server wrote it (percent-encoded).
    pub href: String,
    /// The response-level `status` code, if any (a multiget answers 404
    /// here for an href it does not have).
    pub status: Option<u16>,
    /// `getetag`, from a successful `propstat`.
    pub etag: Option<String>,
    /// Whether `resourcetype` holds `collection`.
    pub is_collection: bool,
    /// `calendar-data` or `address-data`, from a successful `propstat`.
    pub data: Option<String>,
}

/// The element whose text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Href,
    Status,
    PropstatStatus,
    Etag,
    Data,
}

/// Properties read inside one `propstat`, kept only if its status is 2xx.
#[derive(Default)]
struct Propstat {
    status: Option<u16>,
    etag: Option<String>,
    data: Option<String>,
    is_collection: bool,
}

/// Reads a `multistatus` document.
///
/// # Errors
/// The text is not well-formed XML (the message says where).
pub fn parse_multistatus(text: &str) -> Result<Vec<DavResponse>, String> {
    let mut reader = Reader::from_str(text);
    let mut responses = Vec::new();
    let mut current: Option<DavResponse> = None;
    let mut propstat: Option<Propstat> = None;
    let mut in_resourcetype = false;
    let mut field = Field::None;
    let mut buffer = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name();
                match name.as_ref() {
                    "response" => current = Some(DavResponse::default()),
                    "propstat" => propstat = Some(Propstat::default()),
                    "resourcetype" => in_resourcetype = true,
                    "collection" if in_resourcetype => {
                        if let Some(p) = propstat.as_mut() {
                            p.is_collection = true;
                        }
                    }
                    other => {
                        field = match other {
                            "href" if current.is_some() && propstat.is_none() => Field::Href,
                            "status" if propstat.is_some() => Field::PropstatStatus,
                            "status" if current.is_some() => Field::Status,
                            "getetag" => Field::Etag,
                            "calendar-data" | "address-data" => Field::Data,
                            _ => Field::None,
                        };
                        buffer.clear();
                    }
                }
            }
            Event::Empty(start)
                if in_resourcetype && start.local_name().as_ref() == "collection" =>
            {
                if let Some(p) = propstat.as_mut() {
                    p.is_collection = true;
                }
            }
            Event::Text(text) if field != Field::None => {
                buffer.push_str(&text.xml10_content());
            }
            Event::CData(data) if field != Field::None => {
                buffer.push_str(&data.xml10_content());
            }
            Event::GeneralRef(reference) if field != Field::None => {
                if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) => buffer.push(c),
                        _ => {
                            return Err(format!(
                                "malformed XML: bad character reference &{};",
                                reference.xml10_content()
                            ));
                        }
                    }
                } else {
                    let name = reference.xml10_content();
                    let Some(resolved) = resolve_predefined_entity(&name) else {
                        return Err(format!("malformed XML: unknown entity &{name};"));
                    };
                    buffer.push_str(resolved);
                }
            }
            Event::End(end) => {
                let name = end.local_name();
                match name.as_ref() {
                    "response" => {
                        if let Some(response) = current.take() {
                            responses.push(response);
                        }
                    }
                    "propstat" => {
                        if let (Some(p), Some(response)) = (propstat.take(), current.as_mut()) {
                            // A propstat without a status is taken as a success.
                            if p.status.is_none_or(|s| (200..300).contains(&s)) {
                                response.etag = response.etag.take().or(p.etag);
                                response.data = response.data.take().or(p.data);
                                response.is_collection |= p.is_collection;
                            }
                        }
                    }
                    "resourcetype" => in_resourcetype = false,
                    _ => {
                        let value = std::mem::take(&mut buffer);
                        match field {
                            Field::Href => {
                                if let Some(r) = current.as_mut() {
                                    r.href = value.trim().to_string();
                                }
                            }
                            Field::Status => {
                                if let Some(r) = current.as_mut() {
                                    r.status = status_code(&value);
                                }
                            }
                            Field::PropstatStatus => {
                                if let Some(p) = propstat.as_mut() {
                                    p.status = status_code(&value);
                                }
                            }
                            Field::Etag => {
                                if let Some(p) = propstat.as_mut() {
                                    p.etag = Some(value.trim().to_string());
                                }
                            }
                            Field::Data => {
                                if let Some(p) = propstat.as_mut() {
                                    p.data = Some(value);
                                }
                            }
                            Field::None => {}
                        }
                        field = Field::None;
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(responses)
}

/// The code of an `HTTP/1.1 404 Not Found` status line.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_multiget_answer() {
        let text = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/alice/cal/a%40b.ics</href>
  <propstat><prop><getetag>"e1"</getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
X:a &amp; b&lt;
END:VCALENDAR</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat>
 </response>
 <response><href>/alice/cal/missing.ics</href><status>HTTP/1.1 404 Not Found</status></response>
 <response><href>/alice/cal/</href><propstat><prop><resourcetype><collection/><C:calendar/></resourcetype></prop>
  <status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><getetag/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let responses = parse_multistatus(text).expect("parses");
        assert_eq!(responses.len(), 3);
        assert_eq!(responses[0].href, "/alice/cal/a%40b.ics");
        assert_eq!(responses[0].etag.as_deref(), Some("\"e1\""));
        assert_eq!(
            responses[0].data.as_deref(),
            Some("BEGIN:VCALENDAR\r\nX:a & b<\nEND:VCALENDAR")
        );
        assert!(!responses[0].is_collection);
        assert_eq!(responses[1].status, Some(404));
        assert_eq!(responses[1].etag, None);
        assert!(responses[2].is_collection);
        assert_eq!(responses[2].etag, None);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(parse_multistatus("<multistatus><response></multistatus>").is_err());
    }

    #[test]
    fn multiget_escapes_hrefs() {
        let body = multiget(ItemType::Contacts, &["/a/b&c.vcf".to_string()]);
        assert!(body.contains("<d:href>/a/b&amp;c.vcf</d:href>"));
        assert!(body.contains("addressbook-multiget"));
    }
}
