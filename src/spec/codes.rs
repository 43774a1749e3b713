//! Every diagnostic code, with what it means: the reference of codes.
//!
//! A code is stable: pipelines filter `validate --format json` output by it
//! and documentation names it. It reads `area::kebab-case`, where the area
//! is the stage that found the problem: `file` (finding and reading spec
//! files), `yaml` (the YAML syntax), `schema` (a document against the JSON
//! Schema) and `spec` (the checks a schema cannot express, across files).
//!
//! The list below is the one place a code is defined: its variant, its
//! string and its description come from one entry each, and
//! [`DiagnosticCode::ALL`] holds every variant by construction.

use std::fmt;

/// Declares [`DiagnosticCode`] from one table, so its variants, their
/// strings, their descriptions and [`DiagnosticCode::ALL`] cannot drift apart.
macro_rules! diagnostic_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal,)+) => {
        /// What kind of problem a diagnostic reports; shown as
        /// `area::kebab-case` (see [`DiagnosticCode::as_str`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum DiagnosticCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl DiagnosticCode {
            /// Every code, in the order of the reference.
            pub const ALL: &[DiagnosticCode] = &[$(DiagnosticCode::$variant,)+];

            /// The stable string: `spec::duplicate-name`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $code,)+
                }
            }

            /// What the code means, for people: its doc comment, as one
            /// paragraph.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self {
                    // Each doc line starts with a space: joined, they read
                    // as one paragraph.
                    $(DiagnosticCode::$variant => concat!($($doc),+).trim_ascii_start(),)+
                }
            }
        }
    };
}

diagnostic_codes! {
    /// A spec file or folder named on the command line, or found in a
    /// folder, cannot be read (it does not exist, or permissions forbid it).
    FileUnreadable => "file::unreadable",
    /// A folder named on the command line holds no spec file (`.yaml` or
    /// `.yml`, hidden files and folders skipped).
    FileNoSpecs => "file::no-specs",
    /// A spec file is not UTF-8 text (it holds NUL bytes or invalid bytes).
    FileNotText => "file::not-text",
    /// A spec file holds no resource, only comments or empty documents.
    FileEmpty => "file::empty",
    /// A spec file is not valid YAML.
    YamlSyntax => "yaml::syntax",
    /// A mapping in a spec file has the same key twice.
    YamlDuplicateKey => "yaml::duplicate-key",
    /// A field the resource does not have (often a misspelt one).
    SchemaUnknownField => "schema::unknown-field",
    /// A field the resource requires is missing.
    SchemaMissingField => "schema::missing-field",
    /// A value is not one of the allowed ones, or not in the expected format.
    SchemaInvalidValue => "schema::invalid-value",
    /// A value has the wrong type: text where a number, a list or a mapping
    /// is expected, or the other way round.
    SchemaWrongType => "schema::wrong-type",
    /// A YAML document is not a mapping, so it cannot be a resource.
    NotAResource => "spec::not-a-resource",
    /// A resource has no `apiVersion`.
    MissingApiVersion => "spec::missing-api-version",
    /// A resource's `apiVersion` is not one this snapsync reads.
    UnknownApiVersion => "spec::unknown-api-version",
    /// A resource has no `kind`.
    MissingKind => "spec::missing-kind",
    /// A resource's `kind` is not `Target`, `Snapshot` or `Stores`.
    UnknownKind => "spec::unknown-kind",
    /// A resource passed the schema but still cannot be read (a bug in
    /// snapsync's schema rather than in the spec).
    Unreadable => "spec::unreadable",
    /// A secret is written in a spec (a password field, or credentials
    /// inside a URL) instead of being named by reference.
    InlineSecret => "spec::inline-secret",
    /// Two resources of one kind, or two links of one target, share a name.
    DuplicateName => "spec::duplicate-name",
    /// More than one `Stores` resource is declared.
    DuplicateStores => "spec::duplicate-stores",
    /// A field is set that does not apply to the target's `type` (`url` on
    /// a vdir target, `path` on a caldav one).
    FieldNotForType => "spec::field-not-for-type",
    /// A field that the rest of the resource makes necessary is missing (a
    /// vdir target's `path`, a caldav target's `url`, a password's
    /// `username`).
    MissingField => "spec::missing-field",
    /// A vdir target's folder does not exist or is not a folder (a warning:
    /// plan and apply refuse such a target).
    VdirFolderMissing => "spec::vdir-folder-missing",
    /// A caldav target's `url` is not an http(s) URL with a host.
    InvalidUrl => "spec::invalid-url",
    /// A password would be sent over plain `http://` to a host other than
    /// this machine (a warning).
    CleartextCredentials => "spec::cleartext-credentials",
    /// A target's `auth` names no password or token source.
    MissingCredentials => "spec::missing-credentials",
    /// A target's `auth` names more than one password or token source.
    ConflictingCredentials => "spec::conflicting-credentials",
    /// A `username` is given with a bearer token, which does not use it (a
    /// warning).
    UnusedUsername => "spec::unused-username",
    /// TLS certificate verification is turned off (a warning).
    TlsVerificationOff => "spec::tls-verification-off",
    /// A timeout is not a duration, or is zero.
    InvalidDuration => "spec::invalid-duration",
    /// A vdir link's collection leaves the target's folder (an absolute
    /// path, or one that climbs out with `..`).
    CollectionOutsideTarget => "spec::collection-outside-target",
    /// One collection is used by two links of a target, or twice by one.
    SharedCollection => "spec::shared-collection",
    /// A link names no collection for any item type.
    EmptyLink => "spec::empty-link",
    /// A snapshot names a target that no `Target` defines.
    UnknownTarget => "spec::unknown-target",
    /// A snapshot's `timezone` is not an IANA time zone name.
    UnknownTimezone => "spec::unknown-timezone",
    /// A snapshot's `links` is an empty list.
    EmptyLinks => "spec::empty-links",
    /// A snapshot lists one link twice.
    DuplicateLink => "spec::duplicate-link",
    /// A snapshot names a link its target does not have.
    UnknownLink => "spec::unknown-link",
    /// A snapshot names a link whose synchronization is disabled for the
    /// snapshot's direction (a warning: plans skip the link).
    DisabledLink => "spec::disabled-link",
    /// A snapshot processes an item type for which a link it names has no
    /// collection.
    LinkLacksCollection => "spec::link-lacks-collection",
    /// A snapshot's `itemTypes` is an empty list.
    EmptyItemTypes => "spec::empty-item-types",
    /// A snapshot's `filters` holds no filter.
    EmptyFilters => "spec::empty-filters",
    /// A snapshot has a filter for an item type that its `itemTypes`
    /// excludes.
    FilterForExcludedType => "spec::filter-for-excluded-type",
    /// A task filter's `includeUndated` has no effect with
    /// `dateOption: modified`, as every task has a modification date (a
    /// warning).
    IncludeUndatedWithModified => "spec::include-undated-with-modified",
    /// A filter's range bound is not a date, a date-time or a relative
    /// bound, or cannot be resolved.
    InvalidDate => "spec::invalid-date",
    /// A filter's range is empty or inverted once its bounds are resolved.
    EmptyRange => "spec::empty-range",
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for DiagnosticCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::fmt::Write as _;

    use super::DiagnosticCode;

    #[test]
    fn every_code_is_unique_and_reads_area_double_colon_kebab_case() {
        let mut seen = HashSet::new();
        for code in DiagnosticCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is used twice");
            let (area, name) = text.split_once("::").expect("area::name");
            assert!(
                ["file", "yaml", "schema", "spec"].contains(&area),
                "{text}: unknown area"
            );
            let kebab = !name.is_empty()
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--")
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            assert!(kebab, "{text}: not kebab-case");
            assert_eq!(code.to_string(), text);
            assert!(!code.description().is_empty(), "{text}: no description");
        }
    }

    /// The whole reference of codes: a new code, or a changed string or
    /// description, shows here for review (and in the user documentation).
    #[test]
    fn the_reference_of_codes_lists_every_code_with_its_meaning() {
        let mut reference = String::new();
        for code in DiagnosticCode::ALL {
            writeln!(reference, "{code}\n    {}", code.description()).expect("a String");
        }
        insta::assert_snapshot!(reference);
    }
}
