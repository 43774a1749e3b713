//! The problems reading a text can meet: one [`ItemError`] per object or item
//! that could not be read, naming the line where it begins and, when known,
//! the item's UID.
//!
//! Its own module because both the codec (which cuts a text into objects) and
//! the item types (which read their fields from an object) report them.

/// A problem with one item or object of a file. Each names the line where
/// the object or component begins and, when known, the item's UID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// The text holds no calendar or vCard object at all.
    #[error("no {expected} data found (the text is empty)")]
    NoData {
        /// What was looked for (`iCalendar`, `vCard`).
        expected: &'static str,
    },
    /// An object was never closed: the file is probably truncated, and what
    /// was read of it is not trusted.
    #[error(
        "line {line}: {component} is never closed (END:{component} is missing), so the file looks truncated; it was not read"
    )]
    Unterminated {
        /// The object's kind (`VCALENDAR`, `VCARD`).
        component: String,
        /// Where it begins.
        line: usize,
    },
    /// Text outside any `BEGIN`/`END` block.
    #[error("line {line}: {text:?} is not inside any BEGIN:…/END:… block")]
    StrayText {
        /// The first stray line.
        line: usize,
        /// Its text (shortened).
        text: String,
    },
    /// An object of the wrong kind (a vCard in a calendar file, …).
    #[error("line {line}: found a {found} where {expected} data was expected")]
    WrongKind {
        /// What was found.
        found: String,
        /// What was expected (`iCalendar`, `vCard`).
        expected: &'static str,
        /// Where it begins.
        line: usize,
    },
    /// calcard could not parse the object.
    #[error("line {line}: {component} could not be parsed: {reason}")]
    Malformed {
        /// The object's kind.
        component: String,
        /// Where it begins.
        line: usize,
        /// What the parser reported.
        reason: String,
    },
    /// A required property is absent.
    #[error("line {line}: {component}{}: {property} is missing", uid_suffix(.uid.as_deref()))]
    MissingProperty {
        /// The component's kind (`VEVENT`).
        component: String,
        /// The item's UID, if it has one.
        uid: Option<String>,
        /// Where the component begins.
        line: usize,
        /// The missing property.
        property: &'static str,
    },
    /// A property's value cannot be read.
    #[error("line {line}: {component}{}: {property} has an unreadable value {value:?}", uid_suffix(.uid.as_deref()))]
    InvalidValue {
        /// The component's kind.
        component: String,
        /// The item's UID, if it has one.
        uid: Option<String>,
        /// Where the component begins.
        line: usize,
        /// The property.
        property: String,
        /// The value as written (shortened).
        value: String,
    },
}

/// ` UID` when the UID is known, else nothing: what follows a component's
/// kind in a message.
pub(super) fn uid_suffix(uid: Option<&str>) -> String {
    uid.map(|u| format!(" {u}")).unwrap_or_default()
}

impl ItemError {
    /// The UID of the item concerned, when known.
    #[must_use]
    pub fn uid(&self) -> Option<&str> {
        match self {
            ItemError::MissingProperty { uid, .. } | ItemError::InvalidValue { uid, .. } => {
                uid.as_deref()
            }
            _ => None,
        }
    }

    /// The line where the concerned object or component begins (1-based);
    /// `None` for a problem with the whole text.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            ItemError::NoData { .. } => None,
            ItemError::Unterminated { line, .. }
            | ItemError::StrayText { line, .. }
            | ItemError::WrongKind { line, .. }
            | ItemError::Malformed { line, .. }
            | ItemError::MissingProperty { line, .. }
            | ItemError::InvalidValue { line, .. } => Some(*line),
        }
    }
}
