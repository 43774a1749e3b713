//! Contacts (vCard 3.0 and 4.0).
//!
//! A contact is written back in the vCard version it was read in; the
//! content hash does not see the version (see [`super::hash`]), so the same
//! card stored as 3.0 on one side and 4.0 on the other is "same content".

use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
    VCardVersion,
};
use chrono::{DateTime, Utc};

use super::hash::{self, ContentHash, derived_uid};
use super::time::{ItemTime, ZoneResolver};

/// The parts of a structured name (`N`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructuredName {
    /// Family names (surnames).
    pub family: String,
    /// Given names.
    pub given: String,
    /// Additional (middle) names.
    pub additional: String,
    /// Honorific prefixes (`Dr.`).
    pub prefixes: String,
    /// Honorific suffixes (`Jr.`).
    pub suffixes: String,
}

/// An email address of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEmail {
    /// The address.
    pub address: String,
    /// The `TYPE`s, lower case (`home`, `work`), without vCard 3's
    /// `internet` and `pref`.
    pub types: Vec<String>,
    /// Whether it is marked preferred (`TYPE=pref` or `PREF=1`).
    pub preferred: bool,
}

/// A phone number of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPhone {
    /// The number, without a `tel:` scheme.
    pub number: String,
    /// The `TYPE`s, lower case (`cell`, `work`, `voice`), without `pref`.
    pub types: Vec<String>,
    /// Whether it is marked preferred.
    pub preferred: bool,
}

/// A postal address (`ADR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Post office box.
    pub po_box: String,
    /// Extended address (apartment, suite).
    pub extended: String,
    /// Street address.
    pub street: String,
    /// Locality (city).
    pub locality: String,
    /// Region (state, province).
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// Country.
    pub country: String,
    /// The `TYPE`s, lower case.
    pub types: Vec<String>,
}

/// A contact.
#[derive(Debug, Clone)]
pub struct Contact {
    card: VCard,
    uid: String,
    uid_derived: bool,
    hash: ContentHash,
    formatted_name: Option<String>,
    name: Option<StructuredName>,
    emails: Vec<ContactEmail>,
    phones: Vec<ContactPhone>,
    organization: Vec<String>,
    title: Option<String>,
    addresses: Vec<Address>,
    note: Option<String>,
    categories: Vec<String>,
    rev: Option<DateTime<Utc>>,
}

/// The text parts of an entry's value(s); components are joined by commas.
fn parts(entry: &VCardEntry) -> Vec<String> {
    entry
        .values
        .iter()
        .map(|value| match value {
            VCardValue::Component(items) => items.join(","),
            other => other.as_text().unwrap_or_default().to_string(),
        })
        .collect()
}

fn first_text(card: &VCard, property: &VCardProperty) -> Option<String> {
    let joined = parts(card.property(property)?).join(";");
    (!joined.is_empty()).then_some(joined)
}

/// The `TYPE`s of an entry, lower case, and whether it is preferred.
fn types_of(entry: &VCardEntry, drop: &[&str]) -> (Vec<String>, bool) {
    let mut types = Vec::new();
    let mut preferred = false;
    for param in &entry.params {
        match (&param.name, &param.value) {
            (VCardParameterName::Type, value) => {
                let text = value.clone().into_text().to_ascii_lowercase();
                if text == "pref" {
                    preferred = true;
                } else if !drop.contains(&text.as_str()) {
                    types.push(text);
                }
            }
            (VCardParameterName::Pref, VCardParameterValue::Integer(1)) => preferred = true,
            (VCardParameterName::Pref, VCardParameterValue::Text(t)) if t.trim() == "1" => {
                preferred = true;
            }
            _ => {}
        }
    }
    (types, preferred)
}

/// The card's UID, or a derived one that is then added to the card.
fn ensure_uid(card: &mut VCard) -> (String, bool) {
    if let Some(uid) = card.uid().map(str::trim).filter(|u| !u.is_empty()) {
        return (uid.to_string(), false);
    }
    // Derived from the content, which the UID itself is not part of.
    let uid = derived_uid(&hash::canonical_vcard(card));
    let at = usize::from(
        card.entries
            .first()
            .is_some_and(|e| e.name == VCardProperty::Version),
    );
    card.entries.insert(
        at,
        VCardEntry {
            group: None,
            name: VCardProperty::Uid,
            params: Vec::new(),
            values: vec![VCardValue::Text(uid.clone())],
        },
    );
    (uid, true)
}

/// The `REV` as an instant; a value without a zone is read as UTC, as
/// writers that omit it mean.
fn rev_of(card: &VCard) -> Option<DateTime<Utc>> {
    card.property(&VCardProperty::Rev)
        .and_then(|entry| match entry.values.first() {
            Some(VCardValue::PartialDateTime(dt)) => {
                ItemTime::from_partial(dt, None, &ZoneResolver::default())
            }
            _ => None,
        })
        .map(|t| t.instant_in(chrono_tz::UTC))
}

impl Contact {
    /// Reads the canonical fields of a parsed vCard. A card cannot fail:
    /// every field is optional, and the UID is derived when missing.
    pub(crate) fn from_vcard(mut card: VCard) -> Self {
        let (uid, uid_derived) = ensure_uid(&mut card);
        let name = card.property(&VCardProperty::N).map(|entry| {
            let mut p = parts(entry).into_iter();
            let mut next = || p.next().unwrap_or_default();
            StructuredName {
                family: next(),
                given: next(),
                additional: next(),
                prefixes: next(),
                suffixes: next(),
            }
        });
        let emails = card
            .properties(&VCardProperty::Email)
            .map(|entry| {
                let (types, preferred) = types_of(entry, &["internet"]);
                ContactEmail {
                    address: parts(entry).join(","),
                    types,
                    preferred,
                }
            })
            .collect();
        let phones = card
            .properties(&VCardProperty::Tel)
            .map(|entry| {
                let (types, preferred) = types_of(entry, &[]);
                let number = parts(entry).join(",");
                let number = match number.get(..4) {
                    Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => number[4..].to_string(),
                    _ => number,
                };
                ContactPhone {
                    number,
                    types,
                    preferred,
                }
            })
            .collect();
        let addresses = card
            .properties(&VCardProperty::Adr)
            .map(|entry| {
                let (types, _) = types_of(entry, &[]);
                let mut p = parts(entry).into_iter();
                let mut next = || p.next().unwrap_or_default();
                Address {
                    po_box: next(),
                    extended: next(),
                    street: next(),
                    locality: next(),
                    region: next(),
                    postal_code: next(),
                    country: next(),
                    types,
                }
            })
            .collect();
        let organization = card
            .property(&VCardProperty::Org)
            .map(|entry| {
                let mut units = parts(entry);
                while units.last().is_some_and(String::is_empty) {
                    units.pop();
                }
                units
            })
            .unwrap_or_default();
        let categories = card
            .properties(&VCardProperty::Categories)
            .flat_map(parts)
            .filter(|c| !c.is_empty())
            .collect();
        let rev = rev_of(&card);
        let hash = ContentHash::of(&hash::canonical_vcard(&card));
        Contact {
            formatted_name: first_text(&card, &VCardProperty::Fn),
            title: first_text(&card, &VCardProperty::Title),
            note: first_text(&card, &VCardProperty::Note),
            name,
            emails,
            phones,
            organization,
            addresses,
            categories,
            rev,
            uid,
            uid_derived,
            hash,
            card,
        }
    }

    /// The UID.
    #[must_use]
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Whether the UID was derived by snapsync (the card had none).
    #[must_use]
    pub fn uid_is_derived(&self) -> bool {
        self.uid_derived
    }

    /// The vCard version it was read in (`3.0`, `4.0`).
    #[must_use]
    pub fn version(&self) -> &'static str {
        match self.card.version().unwrap_or_default() {
            VCardVersion::V2_0 => "2.0",
            VCardVersion::V2_1 => "2.1",
            VCardVersion::V3_0 => "3.0",
            VCardVersion::V4_0 => "4.0",
        }
    }

    /// The display name (`FN`).
    #[must_use]
    pub fn formatted_name(&self) -> Option<&str> {
        self.formatted_name.as_deref()
    }

    /// The structured name (`N`).
    #[must_use]
    pub fn name(&self) -> Option<&StructuredName> {
        self.name.as_ref()
    }

    /// The email addresses, in card order.
    #[must_use]
    pub fn emails(&self) -> &[ContactEmail] {
        &self.emails
    }

    /// The phone numbers, in card order.
    #[must_use]
    pub fn phones(&self) -> &[ContactPhone] {
        &self.phones
    }

    /// The organization (`ORG`): the name, then its units.
    #[must_use]
    pub fn organization(&self) -> &[String] {
        &self.organization
    }

    /// The job title (`TITLE`).
    #[must_use]
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The postal addresses (`ADR`).
    #[must_use]
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// The notes (`NOTE`).
    #[must_use]
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The `CATEGORIES`.
    #[must_use]
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// When the card was last changed (`REV`), which the contacts filter reads.
    #[must_use]
    pub fn rev(&self) -> Option<DateTime<Utc>> {
        self.rev
    }

    /// The content hash.
    #[must_use]
    pub fn content_hash(&self) -> ContentHash {
        self.hash
    }

    /// The canonical text the hash is computed from.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        hash::canonical_vcard(&self.card)
    }

    /// The complete `.vcf` text, in the version the card was read in.
    #[must_use]
    pub fn to_vcf(&self) -> String {
        let version = self.card.version().unwrap_or_default();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.card.write_to(&mut out, version);
        out
    }
}
