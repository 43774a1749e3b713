//! The WebDAV XML that CalDAV and CardDAV speak: request bodies, and the
//! `multistatus` answers of `PROPFIND` and `REPORT`, read by one parser
//! ([`parse_properties`], any property, generically), of which listings and
//! multigets take the few properties they need ([`parse_multistatus`]).
//!
//! Elements are matched by their local name, whatever their namespace
//! prefix: the names read here (`response`, `href`, `getetag`,
//! `calendar-data`, …) do not collide across the DAV, CalDAV and CardDAV
//! namespaces, and servers disagree on prefixes.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesRef, BytesStart, Event};

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

/// One `response` of a `multistatus`, with the few properties listings and
/// multigets read (see [`parse_multistatus`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DavResponse {
    /// The `href`, as the server wrote it (percent-encoded).
    pub href: String,
    /// The response-level `status` code, if any (a multiget answers 404
    /// here for an href it does not have).
    pub status: Option<u16>,
    /// `getetag`, trimmed, from a successful `propstat`; `None` when absent
    /// or empty.
    pub etag: Option<String>,
    /// Whether `resourcetype` holds `collection`.
    pub is_collection: bool,
    /// `calendar-data` or `address-data` as written (not trimmed, so that
    /// line numbers in messages about it hold), from a successful
    /// `propstat`; `None` when absent or blank.
    pub data: Option<String>,
}

impl From<PropResponse> for DavResponse {
    fn from(response: PropResponse) -> Self {
        let mut out = DavResponse {
            href: response.href,
            status: response.status,
            ..DavResponse::default()
        };
        // The first successful value of each wins; an empty element
        // (`<getetag/>` or `<getetag></getetag>`: the same in XML) gives none.
        for property in response.properties {
            match property.name.as_str() {
                "getetag" if out.etag.is_none() => {
                    let etag = property.text.trim();
                    out.etag = (!etag.is_empty()).then(|| etag.to_string());
                }
                "calendar-data" | "address-data"
                    if out.data.is_none() && !property.text.trim().is_empty() =>
                {
                    out.data = Some(property.text);
                }
                "resourcetype" => {
                    out.is_collection |= property.children.iter().any(|c| c.name == "collection");
                }
                _ => {}
            }
        }
        out
    }
}

/// Reads a `multistatus` document for what listings and multigets need:
/// [`parse_properties`], each response then taken as a [`DavResponse`].
///
/// # Errors
/// The text is not well-formed XML (the message says where).
pub fn parse_multistatus(text: &str) -> Result<Vec<DavResponse>, String> {
    Ok(parse_properties(text)?
        .into_iter()
        .map(DavResponse::from)
        .collect())
}

/// The `DAV:` namespace.
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The CardDAV namespace (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

/// A `PROPFIND` body asking for `properties`, each a namespace and a local
/// name (`(CALDAV, "calendar-home-set")`).
#[must_use]
pub fn propfind(properties: &[(&str, &str)]) -> String {
    let mut namespaces: Vec<&str> = Vec::new();
    for (namespace, _) in properties {
        if *namespace != DAV && !namespaces.contains(namespace) {
            namespaces.push(namespace);
        }
    }
    let mut body =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:propfind xmlns:d=\"DAV:\"");
    for (i, namespace) in namespaces.iter().enumerate() {
        let _ = write!(body, " xmlns:n{i}=\"{}\"", escape(*namespace));
    }
    body.push_str("><d:prop>");
    for (namespace, name) in properties {
        let prefix = namespaces
            .iter()
            .position(|n| n == namespace)
            .map_or_else(|| "d".to_string(), |i| format!("n{i}"));
        let _ = write!(body, "<{prefix}:{name}/>");
    }
    body.push_str("</d:prop></d:propfind>");
    body
}

/// One property of a `response`, as a successful `propstat` gave it.
/// Generic: the caller reads the part its property uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Property {
    /// Its local name (`displayname`, `calendar-home-set`).
    pub name: String,
    /// Its own text, outside child elements, as written (not trimmed:
    /// `calendar-data` keeps its line breaks); the value of `displayname`,
    /// `getetag`, `calendar-data`.
    pub text: String,
    /// The `href`s inside it, at any depth, trimmed
    /// (`current-user-principal`, the home sets).
    pub hrefs: Vec<String>,
    /// Its child elements (`collection` and `calendar` in `resourcetype`,
    /// `comp` in `supported-calendar-component-set`).
    pub children: Vec<PropertyChild>,
}

/// A child element of a [`Property`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChild {
    /// Its local name (`comp`, `calendar`).
    pub name: String,
    /// Its `name` attribute (`VTODO` in `<comp name="VTODO"/>`).
    pub name_attribute: Option<String>,
}

/// One `response` of a `multistatus`, with every property its successful
/// `propstat`s hold (properties answered with 404 or 403 are left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PropResponse {
    /// The `href`, as the server wrote it (percent-encoded).
    pub href: String,
    /// The response-level `status` code, if any.
    pub status: Option<u16>,
    /// The properties, in the order the server gave them.
    pub properties: Vec<Property>,
}

impl PropResponse {
    /// The property with this local name.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// What text [`parse_properties`] is collecting.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Capture {
    #[default]
    None,
    ResponseHref,
    ResponseStatus,
    PropstatStatus,
    /// An `href` inside a property.
    PropertyHref,
}

/// The property being read and how deep in it the reader is (0: in the
/// property element itself).
struct OpenProperty {
    property: Property,
    depth: usize,
}

/// Reads a `multistatus` document property by property, whatever the
/// properties are: the one parser of `multistatus` answers
/// ([`parse_multistatus`] takes from it the few that listings and multigets
/// need).
///
/// # Errors
/// The text is not well-formed XML (the message says where).
pub fn parse_properties(text: &str) -> Result<Vec<PropResponse>, String> {
    let mut reader = Reader::from_str(text);
    let mut state = PropertiesReader::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => state.start(&start)?,
            Event::Empty(start) => state.empty(&start)?,
            Event::Text(text) if state.collects() => {
                state.buffer.push_str(&text.xml10_content());
            }
            Event::CData(data) if state.collects() => {
                state.buffer.push_str(&data.xml10_content());
            }
            Event::GeneralRef(reference) if state.collects() => {
                push_reference(&mut state.buffer, &reference)?;
            }
            Event::End(end) => state.end(end.local_name().as_ref()),
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(state.responses)
}

/// Where [`parse_properties`] is in the document, and what it has read.
#[derive(Default)]
struct PropertiesReader {
    responses: Vec<PropResponse>,
    current: Option<PropResponse>,
    /// The status and properties of the open `propstat`.
    propstat: Option<(Option<u16>, Vec<Property>)>,
    in_prop: bool,
    open: Option<OpenProperty>,
    capture: Capture,
    buffer: String,
}

impl PropertiesReader {
    /// An element opens.
    fn start(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let name = start.local_name().as_ref().to_string();
        if let Some(o) = self.open.as_mut() {
            o.depth += 1;
            if o.depth == 1 {
                o.property.children.push(child_of(start)?);
            }
            if name == "href" {
                self.capture = Capture::PropertyHref;
                self.buffer.clear();
            }
        } else if self.in_prop {
            self.open = Some(OpenProperty {
                property: Property {
                    name,
                    ..Property::default()
                },
                depth: 0,
            });
            self.buffer.clear();
        } else {
            self.capture = match name.as_str() {
                "response" => {
                    self.current = Some(PropResponse::default());
                    Capture::None
                }
                "propstat" if self.current.is_some() => {
                    self.propstat = Some((None, Vec::new()));
                    Capture::None
                }
                "prop" if self.propstat.is_some() => {
                    self.in_prop = true;
                    Capture::None
                }
                "href" if self.current.is_some() && self.propstat.is_none() => {
                    Capture::ResponseHref
                }
                "status" if self.propstat.is_some() => Capture::PropstatStatus,
                "status" if self.current.is_some() => Capture::ResponseStatus,
                _ => Capture::None,
            };
            self.buffer.clear();
        }
        Ok(())
    }

    /// An element without content (`<collection/>`).
    fn empty(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        if let Some(o) = self.open.as_mut() {
            if o.depth == 0 {
                o.property.children.push(child_of(start)?);
            }
        } else if self.in_prop
            && let Some((_, properties)) = self.propstat.as_mut()
        {
            properties.push(Property {
                name: start.local_name().as_ref().to_string(),
                ..Property::default()
            });
        }
        Ok(())
    }

    /// An element closes.
    fn end(&mut self, name: &str) {
        if let Some(mut o) = self.open.take() {
            if o.depth == 0 {
                if self.capture == Capture::None {
                    o.property.text = std::mem::take(&mut self.buffer);
                }
                if let Some((_, properties)) = self.propstat.as_mut() {
                    properties.push(o.property);
                }
                self.buffer.clear();
                return;
            }
            if name == "href" && self.capture == Capture::PropertyHref {
                o.property.hrefs.push(self.buffer.trim().to_string());
                self.capture = Capture::None;
                self.buffer.clear();
            }
            o.depth -= 1;
            self.open = Some(o);
            return;
        }
        match name {
            "prop" => self.in_prop = false,
            "propstat" => {
                if let (Some((status, properties)), Some(response)) =
                    (self.propstat.take(), self.current.as_mut())
                {
                    // A propstat without a status is taken as a success.
                    if status.is_none_or(|s| (200..300).contains(&s)) {
                        response.properties.extend(properties);
                    }
                }
            }
            "response" => {
                if let Some(response) = self.current.take() {
                    self.responses.push(response);
                }
            }
            _ => {
                let value = std::mem::take(&mut self.buffer);
                match self.capture {
                    Capture::ResponseHref => {
                        if let Some(r) = self.current.as_mut() {
                            r.href = value.trim().to_string();
                        }
                    }
                    Capture::ResponseStatus => {
                        if let Some(r) = self.current.as_mut() {
                            r.status = status_code(&value);
                        }
                    }
                    Capture::PropstatStatus => {
                        if let Some((status, _)) = self.propstat.as_mut() {
                            *status = status_code(&value);
                        }
                    }
                    Capture::PropertyHref | Capture::None => {}
                }
            }
        }
        self.capture = Capture::None;
    }

    /// Whether text at this point belongs to what is being read: a capture,
    /// or the property's own text (directly inside it).
    fn collects(&self) -> bool {
        self.capture != Capture::None || self.open.as_ref().is_some_and(|o| o.depth == 0)
    }
}

/// A child element of a property, with its `name` attribute.
fn child_of(start: &BytesStart<'_>) -> Result<PropertyChild, String> {
    let name_attribute = start
        .try_get_attribute("name")
        .map_err(|e| format!("malformed XML: {e}"))?
        .map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.trim().to_string())
                .map_err(|e| format!("malformed XML: {e}"))
        })
        .transpose()?;
    Ok(PropertyChild {
        name: start.local_name().as_ref().to_string(),
        name_attribute,
    })
}

/// Appends what an entity or character reference stands for.
fn push_reference(buffer: &mut String, reference: &BytesRef<'_>) -> Result<(), String> {
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
    Ok(())
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
    fn item_data_is_kept_as_written() {
        // Not trimmed: a parse error about the item names the line it has
        // in the data as the server sent it.
        let text = "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">\
            <response><href>/a/c.vcf</href><propstat><prop><getetag> \"e\" </getetag>\
            <C:address-data>\nBEGIN:VCARD\nEND:VCARD\n</C:address-data></prop></propstat>\
            </response></multistatus>";
        let responses = parse_multistatus(text).expect("parses");
        assert_eq!(
            responses[0].data.as_deref(),
            Some("\nBEGIN:VCARD\nEND:VCARD\n")
        );
        assert_eq!(responses[0].etag.as_deref(), Some("\"e\""));
    }

    #[test]
    fn an_empty_element_reads_as_absent_however_it_is_written() {
        for (etag, data) in [
            ("<getetag/>", "<C:calendar-data/>"),
            ("<getetag></getetag>", "<C:calendar-data></C:calendar-data>"),
            (
                "<getetag> </getetag>",
                "<C:calendar-data>\n</C:calendar-data>",
            ),
        ] {
            let text = format!(
                "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
                 <response><href>/a/x.ics</href><propstat><prop>{etag}{data}</prop>\
                 <status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
            );
            let responses = parse_multistatus(&text).expect("parses");
            assert_eq!(responses[0].etag, None, "{etag}");
            assert_eq!(responses[0].data, None, "{data}");
        }
    }

    #[test]
    fn the_first_successful_propstat_gives_each_value() {
        let text = r#"<multistatus xmlns="DAV:">
 <response><href>/a/</href>
  <propstat><prop><getetag>"old"</getetag></prop><status>HTTP/1.1 404 Not Found</status></propstat>
  <propstat><prop><getetag>"one"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><getetag>"two"</getetag><resourcetype><collection/></resourcetype></prop></propstat>
 </response></multistatus>"#;
        let responses = parse_multistatus(text).expect("parses");
        assert_eq!(responses[0].etag.as_deref(), Some("\"one\""));
        assert!(responses[0].is_collection);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(parse_multistatus("<multistatus><response></multistatus>").is_err());
    }

    #[test]
    fn reads_any_property() {
        let text = r#"<?xml version="1.0"?>
<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <D:response><D:href>/alice/</D:href>
  <D:propstat><D:prop>
   <D:current-user-principal><D:href> /alice/ </D:href></D:current-user-principal>
   <C:calendar-home-set><D:href>/alice/</D:href><D:href>/shared/</D:href></C:calendar-home-set>
   <D:displayname>Alice &amp; co</D:displayname>
   <D:resourcetype><D:collection/><D:principal/></D:resourcetype>
  </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  <D:propstat><D:prop><C:supported-calendar-component-set/></D:prop>
   <D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
 </D:response>
 <D:response><D:href>/alice/tasks/</D:href>
  <D:propstat><D:prop>
   <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
   <D:resourcetype><D:collection/><C:calendar/></D:resourcetype>
   <D:displayname/>
  </D:prop></D:propstat>
 </D:response>
 <D:response><D:href>/gone/</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
</D:multistatus>"#;
        let responses = parse_properties(text).expect("parses");
        assert_eq!(responses.len(), 3);
        let principal = &responses[0];
        assert_eq!(principal.href, "/alice/");
        assert_eq!(
            principal
                .property("current-user-principal")
                .expect("cup")
                .hrefs,
            ["/alice/"]
        );
        assert_eq!(
            principal.property("calendar-home-set").expect("home").hrefs,
            ["/alice/", "/shared/"]
        );
        assert_eq!(
            principal.property("displayname").expect("name").text,
            "Alice & co"
        );
        let kinds: Vec<&str> = principal
            .property("resourcetype")
            .expect("type")
            .children
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(kinds, ["collection", "principal"]);
        // Answered 404: left out.
        assert!(
            principal
                .property("supported-calendar-component-set")
                .is_none()
        );
        let tasks = &responses[1];
        let comps = &tasks
            .property("supported-calendar-component-set")
            .expect("comps")
            .children;
        assert_eq!(comps.len(), 1);
        assert_eq!(comps[0].name, "comp");
        assert_eq!(comps[0].name_attribute.as_deref(), Some("VTODO"));
        assert_eq!(tasks.property("displayname").expect("empty").text, "");
        assert_eq!(responses[2].status, Some(404));
        assert!(responses[2].properties.is_empty());
    }

    #[test]
    fn propfind_bodies_declare_each_namespace_once() {
        let body = propfind(&[
            (DAV, "resourcetype"),
            (CALDAV, "calendar-home-set"),
            (CARDDAV, "addressbook-home-set"),
            (CALDAV, "supported-calendar-component-set"),
        ]);
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:propfind xmlns:d=\"DAV:\" \
             xmlns:n0=\"urn:ietf:params:xml:ns:caldav\" xmlns:n1=\"urn:ietf:params:xml:ns:carddav\">\
             <d:prop><d:resourcetype/><n0:calendar-home-set/><n1:addressbook-home-set/>\
             <n0:supported-calendar-component-set/></d:prop></d:propfind>"
        );
        assert!(parse_properties(&body).is_ok(), "well-formed");
    }

    #[test]
    fn multiget_escapes_hrefs() {
        let body = multiget(ItemType::Contacts, &["/a/b&c.vcf".to_string()]);
        assert!(body.contains("<d:href>/a/b&amp;c.vcf</d:href>"));
        assert!(body.contains("addressbook-multiget"));
    }
}
