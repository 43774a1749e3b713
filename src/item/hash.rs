//! Content hashes: "same content" as DESIGN 2.3 means it.
//!
//! Servers reformat what they store, so a hash over raw bytes would plan an
//! update for every item after every get. The content hash is a BLAKE3 hash
//! of the item's **canonical text**: one normalized line per property, sorted,
//! per component, with components sorted too. The canonical text is built
//! from the parsed values, never from the raw lines, so it does not see:
//!
//! - line folding, CRLF vs LF, text escaping (`\,` vs `,` where allowed),
//!   trailing whitespace in text values, the case of property and parameter
//!   names, the order of properties, of parameters and of parameter values,
//!   the order of components (master, overrides, alarms) in a file;
//! - the calendar wrapper (`VCALENDAR` properties such as `PRODID`, `VERSION`,
//!   `METHOD`, `X-WR-*`) and `VTIMEZONE` definitions: a TZID is hashed as the
//!   IANA zone it resolves to (`W. Europe Standard Time` = `Europe/Berlin`), so
//!   a server that renames or regenerates zone definitions changes nothing;
//!   a time in a zone that is UTC (`TZID=UTC`, `Etc/UTC`, `GMT`) is hashed
//!   as the UTC time it is (`…Z`), as Radicale rewrites `TZID=UTC:…T1215`
//!   to `TZID=UTC:…T1215Z`;
//! - properties a server stamps on its own: `DTSTAMP`, `LAST-MODIFIED`,
//!   `CREATED`, `SEQUENCE` (servers bump it when they store or schedule; every
//!   edit a user makes changes some other property too), `X-LIC-ERROR`
//!   (libical's parse complaints), and in vCards `VERSION`, `PRODID`, `REV`;
//! - `UID`, which is the item's identity and is compared as such;
//! - properties without a value (`LOCATION:`), which some servers drop;
//! - value-type spelling: `VALUE=DATE-TIME`, `ENCODING=BASE64`, `CHARSET=…`;
//!   `INTERVAL=1` and `WKST=MO` in a rule (the defaults), the order of a
//!   rule's `BY…` lists; a duration's `PT60M` vs `PT1H`; `mailto:` case;
//!   `CATEGORIES:a,b` vs two `CATEGORIES` lines (also `RDATE`, `EXDATE`,
//!   `RESOURCES`, `NICKNAME`);
//! - vCard 3 vs 4 spelling of the same values: `TYPE` values in any case,
//!   `TYPE=INTERNET` on `EMAIL` and `TYPE=VOICE` on `TEL` (the defaults),
//!   `TYPE=pref` vs `PREF=1`, a `tel:` URI vs a plain number, an inline
//!   `ENCODING=b;TYPE=PNG` photo vs a `data:image/png;base64,` URI, trailing
//!   empty components of structured values (`ORG:ACME;` vs `ORG:ACME`).
//!
//! Everything else counts, X- properties and alarms included, so any edit a
//! user would notice changes the hash. A zoned time that a server rewrites
//! in UTC counts as a change (the zone is part of what the user chose).
//! The canonical text starts with a version line; changing any rule above
//! means bumping it (every item then looks changed once).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use calcard::common::{Data, IanaString, PartialDateTime};
use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarDuration, ICalendarEntry, ICalendarParameterName,
    ICalendarParameterValue, ICalendarProperty, ICalendarRecurrenceRule, ICalendarValue,
    ICalendarWeekday, Uri,
};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
};

use super::time::{ZoneResolver, zone_key};

/// The first line of every canonical text; bump when normalization changes.
const CANONICAL_VERSION: &str = "snapsync-canonical-v1";

/// A 256-bit hash of an item's canonical content. Shown and parsed as 64
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The hash of a canonical text.
    pub(crate) fn of(canonical: &str) -> Self {
        ContentHash(*blake3::hash(canonical.as_bytes()).as_bytes())
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A hash from raw bytes a store kept (see [`ContentHash::as_bytes`]).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }
}

impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ContentHash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContentHash".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A hash of an item's canonical content (blind to reformatting): 64 \
                lowercase hex digits.",
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
        })
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

/// Why a text is not a content hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a content hash is 64 hex digits, got {0:?}")]
pub struct ContentHashParseError(String);

impl FromStr for ContentHash {
    type Err = ContentHashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ContentHashParseError(s.chars().take(80).collect());
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| bad())?;
            *slot = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
        }
        Ok(ContentHash(out))
    }
}

/// The canonical text of the calendar components of an item (everything but
/// the wrapper and `VTIMEZONE`s).
pub(crate) fn canonical_calendar(ical: &ICalendar, zones: &ZoneResolver) -> String {
    let roots: &[u32] = match ical.components.first() {
        Some(root) if root.component_type == ICalendarComponentType::VCalendar => {
            &root.component_ids
        }
        _ => &[0],
    };
    let mut blocks: Vec<String> = roots
        .iter()
        .filter_map(|id| ical.components.get(*id as usize))
        .filter(|c| c.component_type != ICalendarComponentType::VTimezone)
        .map(|c| calendar_block(ical, c, zones, 0))
        .collect();
    blocks.sort();
    let mut out = String::from(CANONICAL_VERSION);
    out.push('\n');
    for block in blocks {
        out.push_str(&block);
    }
    out
}

/// One component and its sub-components, as sorted canonical lines.
fn calendar_block(
    ical: &ICalendar,
    component: &calcard::icalendar::ICalendarComponent,
    zones: &ZoneResolver,
    depth: usize,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for entry in &component.entries {
        calendar_lines(entry, zones, &mut lines);
    }
    lines.sort();
    // Bounded depth: a malicious file could nest components very deeply.
    let mut children: Vec<String> = if depth < 16 {
        component
            .component_ids
            .iter()
            .filter_map(|id| ical.components.get(*id as usize))
            .map(|c| calendar_block(ical, c, zones, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    children.sort();
    let name = component.component_type.as_str();
    let mut out = format!("BEGIN:{name}\n");
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    for child in children {
        out.push_str(&child);
    }
    let _ = writeln!(out, "END:{name}");
    out
}

/// Appends the canonical line(s) of one iCalendar property.
fn calendar_lines(entry: &ICalendarEntry, zones: &ZoneResolver, out: &mut Vec<String>) {
    let name = entry.name.as_str().to_ascii_uppercase();
    if matches!(
        entry.name,
        ICalendarProperty::Dtstamp
            | ICalendarProperty::LastModified
            | ICalendarProperty::Created
            | ICalendarProperty::Sequence
            | ICalendarProperty::Uid
    ) || name == "X-LIC-ERROR"
    {
        return;
    }
    let mut params: Vec<String> = Vec::new();
    // A time in a zone that is UTC is hashed as a UTC time (`…Z`, no TZID):
    // Radicale (vobject) stores `TZID=UTC:…T1215` as `TZID=UTC:…T1215Z`.
    let mut in_utc = false;
    for param in &entry.params {
        if matches!(param.name, ICalendarParameterName::Value)
            || param.name.as_str().eq_ignore_ascii_case("ENCODING")
        {
            continue;
        }
        let pname = param.name.as_str().to_ascii_uppercase();
        let value = match (&param.name, &param.value) {
            (ICalendarParameterName::Tzid, ICalendarParameterValue::Text(tzid)) => {
                let zone = zones
                    .resolve(tzid)
                    .map_or_else(|| zone_key(tzid), |tz| tz.name().to_string());
                if is_utc_zone(&zone) {
                    in_utc = true;
                    continue;
                }
                zone
            }
            (_, value) => ical_param_text(value),
        };
        params.push(format!("{pname}={}", escape(&value)));
    }
    params.sort();
    let values: Vec<String> = entry
        .values
        .iter()
        .map(|value| match value {
            ICalendarValue::PartialDateTime(dt)
                if in_utc && dt.hour.is_some() && dt.tz_hour.is_none() =>
            {
                let mut utc = dt.clone();
                utc.tz_hour = Some(0);
                utc.tz_minute = Some(0);
                utc.tz_minus = false;
                ical_value_text(&ICalendarValue::PartialDateTime(utc))
            }
            value => ical_value_text(value),
        })
        .filter(|v| !v.is_empty())
        .collect();
    push_lines(&name, &params, values, multi_valued(&name), out);
}

/// Whether an IANA zone name is UTC under another name.
fn is_utc_zone(zone: &str) -> bool {
    matches!(
        zone,
        "UTC"
            | "Etc/UTC"
            | "Etc/UCT"
            | "UCT"
            | "Etc/Universal"
            | "Universal"
            | "Etc/Zulu"
            | "Zulu"
            | "GMT"
            | "Etc/GMT"
            | "Etc/GMT0"
            | "Etc/GMT+0"
            | "Etc/GMT-0"
            | "GMT0"
            | "GMT+0"
            | "GMT-0"
            | "Etc/Greenwich"
            | "Greenwich"
    )
}

/// Properties whose values form a set: `A:x,y` is the same as `A:y` + `A:x`.
fn multi_valued(name: &str) -> bool {
    matches!(
        name,
        "CATEGORIES" | "RESOURCES" | "RDATE" | "EXDATE" | "NICKNAME"
    )
}

/// One line, or one per value for set-like properties; nothing when empty.
fn push_lines(
    name: &str,
    params: &[String],
    values: Vec<String>,
    split: bool,
    out: &mut Vec<String>,
) {
    if values.is_empty() {
        return;
    }
    let head = if params.is_empty() {
        name.to_string()
    } else {
        format!("{name};{}", params.join(";"))
    };
    if split {
        for value in values {
            out.push(format!("{head}:{value}"));
        }
    } else {
        out.push(format!("{head}:{}", values.join(";")));
    }
}

fn ical_param_text(value: &ICalendarParameterValue) -> String {
    match value {
        ICalendarParameterValue::Integer(i) => i.to_string(),
        ICalendarParameterValue::Duration(d) => normalize_duration(d).to_string(),
        ICalendarParameterValue::Null => String::new(),
        ICalendarParameterValue::Uri(uri) => uri_text(uri),
        ICalendarParameterValue::Text(text) => text.clone(),
        other => other.as_text().unwrap_or_default().to_string(),
    }
}

fn ical_value_text(value: &ICalendarValue) -> String {
    match value {
        ICalendarValue::Text(text) => escape(&normalize_text(text)),
        ICalendarValue::PartialDateTime(dt) => date_text(dt),
        ICalendarValue::RecurrenceRule(rule) => normalize_rule(rule).to_string(),
        ICalendarValue::Duration(d) => normalize_duration(d).to_string(),
        ICalendarValue::Period(p) => p.to_string(),
        ICalendarValue::Uri(uri) => escape(&uri_text(uri)),
        ICalendarValue::Binary(bytes) => binary_text(None, bytes),
        ICalendarValue::Integer(i) => i.to_string(),
        ICalendarValue::Float(f) => f.to_string(),
        ICalendarValue::Boolean(b) => b.to_string(),
        other => other.as_text().unwrap_or_default().to_string(),
    }
}

fn uri_text(uri: &Uri) -> String {
    match uri {
        Uri::Data(data) => binary_text(data.content_type.as_deref(), &data.data),
        Uri::Location(location) => normalize_address(location),
    }
}

/// `MAILTO:Jane@Example.com` and `mailto:jane@example.com` are one address.
fn normalize_address(uri: &str) -> String {
    let trimmed = uri.trim();
    match trimmed.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => {
            format!("mailto:{}", trimmed[7..].to_lowercase())
        }
        _ => trimmed.to_string(),
    }
}

fn binary_text(content_type: Option<&str>, bytes: &[u8]) -> String {
    let data = Data {
        content_type: content_type.map(str::to_ascii_lowercase),
        data: bytes.to_vec(),
    };
    data.to_unwrapped_string()
}

/// Text as the user sees it: one kind of line break, no trailing blanks.
fn normalize_text(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    unified
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// Escapes the characters that separate parts of a canonical line.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | ';' | ',' | ':' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// A date or date-time as written, with its zone suffix (`Z`, `+0200`).
pub(crate) fn date_text(dt: &PartialDateTime) -> String {
    let mut out = String::new();
    if let (Some(y), Some(m), Some(d)) = (dt.year, dt.month, dt.day) {
        let _ = write!(out, "{y:04}{m:02}{d:02}");
    } else if let (Some(m), Some(d)) = (dt.month, dt.day) {
        // vCard dates without a year (`--0412`).
        let _ = write!(out, "--{m:02}{d:02}");
    }
    if let Some(h) = dt.hour {
        let _ = write!(
            out,
            "T{h:02}{:02}{:02}",
            dt.minute.unwrap_or(0),
            dt.second.unwrap_or(0)
        );
    }
    if let Some(tzh) = dt.tz_hour {
        let tzm = dt.tz_minute.unwrap_or(0);
        if tzh == 0 && tzm == 0 {
            out.push('Z');
        } else {
            let sign = if dt.tz_minus { '-' } else { '+' };
            let _ = write!(out, "{sign}{tzh:02}{tzm:02}");
        }
    }
    out
}

/// A rule with its defaults removed and its lists sorted.
fn normalize_rule(rule: &ICalendarRecurrenceRule) -> ICalendarRecurrenceRule {
    let mut rule = rule.clone();
    if rule.interval == Some(1) {
        rule.interval = None;
    }
    if rule.wkst == Some(ICalendarWeekday::Monday) {
        rule.wkst = None;
    }
    rule.bysecond.sort_unstable();
    rule.byminute.sort_unstable();
    rule.byhour.sort_unstable();
    rule.byday.sort_unstable();
    rule.bymonthday.sort_unstable();
    rule.byyearday.sort_unstable();
    rule.byweekno.sort_unstable();
    rule.bymonth.sort_unstable();
    rule.bysetpos.sort_unstable();
    rule
}

/// Weeks become days and the time part is re-split (`PT60M` = `PT1H`); days
/// and hours stay apart because a day is not always 24 hours.
fn normalize_duration(d: &ICalendarDuration) -> ICalendarDuration {
    let days = u64::from(d.weeks) * 7 + u64::from(d.days);
    let seconds = u64::from(d.hours) * 3600 + u64::from(d.minutes) * 60 + u64::from(d.seconds);
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    ICalendarDuration {
        neg: d.neg,
        weeks: 0,
        days: clamp(days),
        hours: clamp(seconds / 3600),
        minutes: clamp(seconds % 3600 / 60),
        seconds: clamp(seconds % 60),
    }
}

/// The canonical text of a vCard.
pub(crate) fn canonical_vcard(card: &VCard) -> String {
    let mut lines: Vec<String> = Vec::new();
    for entry in &card.entries {
        vcard_lines(entry, &mut lines);
    }
    lines.sort();
    let mut out = String::from(CANONICAL_VERSION);
    out.push_str("\nBEGIN:VCARD\n");
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("END:VCARD\n");
    out
}

/// Appends the canonical line(s) of one vCard property.
fn vcard_lines(entry: &VCardEntry, out: &mut Vec<String>) {
    if matches!(
        entry.name,
        VCardProperty::Version
            | VCardProperty::Prodid
            | VCardProperty::Rev
            | VCardProperty::Uid
            | VCardProperty::Begin
            | VCardProperty::End
    ) {
        return;
    }
    let prop = entry.name.as_str().to_ascii_uppercase();
    let name = match &entry.group {
        Some(group) => format!("{}.{prop}", group.to_ascii_lowercase()),
        None => prop.clone(),
    };
    let is_binary = entry
        .values
        .iter()
        .any(|v| matches!(v, VCardValue::Binary(_)));
    // vCard 3 names an inline photo's format in TYPE (`TYPE=PNG`); calcard
    // turns it into a media type only when it knows the card is 3.0 by then.
    let inline_type = entry
        .params
        .iter()
        .filter(|p| is_binary && p.name == VCardParameterName::Type)
        .map(|p| vcard_param_text(&p.value).to_ascii_lowercase())
        .find(|t| !t.is_empty())
        .map(|t| {
            if t.contains('/') {
                t
            } else {
                format!("image/{t}")
            }
        });
    let mut types: Vec<String> = Vec::new();
    let mut params: Vec<String> = Vec::new();
    for param in &entry.params {
        let pname = param.name.as_str().to_ascii_uppercase();
        match &param.name {
            VCardParameterName::Value | VCardParameterName::Mediatype => continue,
            VCardParameterName::Other(other)
                if other.eq_ignore_ascii_case("ENCODING")
                    || other.eq_ignore_ascii_case("CHARSET") =>
            {
                continue;
            }
            // On an inline photo, TYPE is the image format, already in the data.
            VCardParameterName::Type if is_binary => continue,
            VCardParameterName::Type => {
                let value = vcard_param_text(&param.value).to_ascii_lowercase();
                match (prop.as_str(), value.as_str()) {
                    ("EMAIL", "internet") | ("TEL", "voice") => {}
                    // vCard 3's TYPE=pref is vCard 4's PREF=1.
                    (_, "pref") => params.push("PREF=1".to_string()),
                    _ => types.push(value),
                }
                continue;
            }
            _ => {}
        }
        params.push(format!(
            "{pname}={}",
            escape(&vcard_param_text(&param.value))
        ));
    }
    types.sort();
    types.dedup();
    if !types.is_empty() {
        params.push(format!(
            "TYPE={}",
            types
                .iter()
                .map(|t| escape(t))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    params.sort();
    params.dedup();
    let mut values: Vec<String> = entry
        .values
        .iter()
        .map(|value| vcard_value_text(&prop, value, inline_type.as_deref()))
        .collect();
    // Structured values: `ORG:ACME;` is `ORG:ACME`.
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    push_lines(&name, &params, values, multi_valued(&prop), out);
}

fn vcard_param_text(value: &VCardParameterValue) -> String {
    match value {
        VCardParameterValue::Type(t) => t.as_str().to_string(),
        other => other.clone().into_text().into_owned(),
    }
}

fn vcard_value_text(prop: &str, value: &VCardValue, inline_type: Option<&str>) -> String {
    match value {
        VCardValue::Text(text) => {
            let text = normalize_text(text);
            if prop == "TEL" {
                // `tel:+1-555` (vCard 4 URI) is the number `+1-555`.
                if text
                    .get(..4)
                    .is_some_and(|s| s.eq_ignore_ascii_case("tel:"))
                {
                    return escape(&text[4..]);
                }
            }
            escape(&text)
        }
        VCardValue::Component(parts) => parts
            .iter()
            .map(|p| escape(&normalize_text(p)))
            .collect::<Vec<_>>()
            .join(","),
        VCardValue::PartialDateTime(dt) => date_text(dt),
        VCardValue::Binary(data) => {
            binary_text(data.content_type.as_deref().or(inline_type), &data.data)
        }
        VCardValue::Integer(i) => i.to_string(),
        VCardValue::Float(f) => f.to_string(),
        VCardValue::Boolean(b) => b.to_string(),
        other => other.as_text().unwrap_or_default().to_ascii_lowercase(),
    }
}

/// The UID given to an item that has none (see the module docs of `item`):
/// `snapsync-` and the start of the hash of its canonical text.
pub(crate) fn derived_uid(canonical: &str) -> String {
    let hash = ContentHash::of(canonical).to_string();
    format!("snapsync-{}", &hash[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let hash = ContentHash::of("x");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<ContentHash>().unwrap(), hash);
        assert!("abc".parse::<ContentHash>().is_err());
        assert!("zz".repeat(32).parse::<ContentHash>().is_err());
    }

    #[test]
    fn durations_compare_by_length_not_spelling() {
        let a = ICalendarDuration {
            minutes: 60,
            ..ICalendarDuration::default()
        };
        let b = ICalendarDuration {
            hours: 1,
            ..ICalendarDuration::default()
        };
        assert_eq!(normalize_duration(&a), normalize_duration(&b));
    }

    #[test]
    fn text_normalization() {
        assert_eq!(normalize_text("a  \r\nb \n\n"), "a\nb");
        assert_eq!(
            normalize_address("MAILTO:Jane@Example.COM"),
            "mailto:jane@example.com"
        );
    }
}
