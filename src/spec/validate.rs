//! Validation: every check a schema cannot express, across all the files of a
//! run, collecting every problem.
//!
//! Names are unique per kind; snapshots name targets and links that exist and
//! are enabled for their direction; ranges are real dates that leave something
//! in range once relative bounds are resolved; time zones exist; filters and
//! `itemTypes` agree; credentials are given by reference. When nothing is
//! wrong the result carries a [`Catalog`] of validated resources.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::diagnostic::{self, Diagnostic, FileId, Severity, Sources, Span};
use super::load::{self, LoadedResource, RejectedDocument};
use super::model::{
    CaldavLocation, Catalog, ContactFilter, Credentials, FilterSet, LinkSpec, Origin,
    ScheduleItemFilter, Scope, SecretSource, Snapshot, Stores, Target, TargetLocation, TaskFilter,
};
use super::schema::{SchemaBuildError, SchemaChecker, did_you_mean};
use super::types::{
    Auth, DateRange, Direction, LinkFlag, Resource, SnapshotResource, StoresResource,
    TargetResource, TargetType, TaskDateOption,
};
use super::yaml::SpanIndex;
use crate::filter::range::{Bound, RangeSpec};
use crate::item::ItemType;

/// What a validation run found.
#[derive(Debug)]
pub struct Validation {
    /// The files read.
    pub sources: Sources,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many spec files were found.
    pub files: usize,
    /// How many documents were read.
    pub documents: usize,
    /// The validated resources, when there is no error.
    pub catalog: Option<Catalog>,
}

impl Validation {
    /// Whether any problem is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Loads and validates spec files. `now` is the run's clock, against which
/// relative bounds are resolved.
///
/// # Errors
/// Only when the built-in schema does not compile (a bug).
pub fn validate(paths: &[PathBuf], now: DateTime<Utc>) -> Result<Validation, SchemaBuildError> {
    let checker = SchemaChecker::new()?;
    let loaded = load::load(paths, &checker);
    let invalid_targets = loaded
        .rejected
        .iter()
        .filter(|d| d.kind == "Target")
        .filter_map(|d| {
            d.value
                .pointer("/metadata/name")?
                .as_str()
                .map(ToOwned::to_owned)
        })
        .collect();
    let mut checks = Checks {
        sources: &loaded.sources,
        now,
        diagnostics: loaded.diagnostics,
        invalid_targets,
    };
    let catalog = checks.catalog(&loaded.resources, &loaded.rejected);
    let mut diagnostics = checks.diagnostics;
    diagnostic::sort(&mut diagnostics);
    let (errors, warnings) = diagnostic::summary(&diagnostics);
    tracing::info!(
        files = loaded.files,
        documents = loaded.documents,
        errors,
        warnings,
        "validated specs"
    );
    let has_errors = errors > 0;
    Ok(Validation {
        sources: loaded.sources,
        diagnostics,
        files: loaded.files,
        documents: loaded.documents,
        catalog: (!has_errors).then_some(catalog),
    })
}

/// A `Stores` resource found in spec files, and where it is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredStores {
    /// The stores it names (relative paths read from its file's folder).
    pub stores: Stores,
    /// Its file and line.
    pub origin: Origin,
}

/// The `Stores` resources of the spec files under `paths`, read without the
/// other checks: a command that names the store it opens says where that
/// came from, and warns about specs nearby that name another one, even
/// when those specs have unrelated errors. Unreadable files are skipped.
///
/// # Errors
/// Only when the built-in schema does not compile (a bug).
pub fn declared_stores(paths: &[PathBuf]) -> Result<Vec<DeclaredStores>, SchemaBuildError> {
    let checker = SchemaChecker::new()?;
    let loaded = load::load(paths, &checker);
    let mut checks = Checks {
        sources: &loaded.sources,
        now: Utc::now(),
        diagnostics: Vec::new(),
        invalid_targets: Vec::new(),
    };
    Ok(loaded
        .resources
        .iter()
        .filter_map(|loaded| match &loaded.resource {
            Resource::Stores(resource) => Some(DeclaredStores {
                stores: checks.stores(&At { loaded, resource }),
                origin: checks.origin(loaded),
            }),
            _ => None,
        })
        .collect())
}

struct Checks<'a> {
    sources: &'a Sources,
    now: DateTime<Utc>,
    diagnostics: Vec<Diagnostic>,
    /// Names of targets that broke the schema: known, but not checkable.
    invalid_targets: Vec<String>,
}

/// A resource with its place, for the checks.
struct At<'a, T> {
    loaded: &'a LoadedResource,
    resource: &'a T,
}

impl<T> At<'_, T> {
    fn file(&self) -> FileId {
        self.loaded.file
    }
    fn key(&self, pointer: &str) -> Span {
        self.place().key(pointer)
    }
    fn value(&self, pointer: &str) -> Span {
        self.place().value(pointer)
    }
    fn place(&self) -> Place<'_> {
        Place {
            file: self.loaded.file,
            index: &self.loaded.index,
        }
    }
}

/// Where a document's nodes are, for checks that read raw values.
#[derive(Clone, Copy)]
struct Place<'a> {
    file: FileId,
    index: &'a SpanIndex,
}

impl Place<'_> {
    fn key(&self, pointer: &str) -> Span {
        self.index.key_span(pointer)
    }
    fn value(&self, pointer: &str) -> Span {
        self.index.value_span(pointer)
    }
}

impl Checks<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn origin(&self, loaded: &LoadedResource) -> Origin {
        let file = self.sources.get(loaded.file);
        let start = loaded.index.key_span("/kind").start;
        Origin {
            file: file.path.clone(),
            line: file.line_col(start).0,
        }
    }

    /// The folder that relative paths in a file are read from.
    fn base_dir(&self, file: FileId) -> PathBuf {
        self.sources
            .get(file)
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn catalog(&mut self, resources: &[LoadedResource], rejected: &[RejectedDocument]) -> Catalog {
        let mut targets = Vec::new();
        let mut snapshots = Vec::new();
        let mut stores = Vec::new();
        for loaded in resources {
            match &loaded.resource {
                Resource::Target(t) => targets.push(At {
                    loaded,
                    resource: t,
                }),
                Resource::Snapshot(s) => snapshots.push(At {
                    loaded,
                    resource: s,
                }),
                Resource::Stores(s) => stores.push(At {
                    loaded,
                    resource: s,
                }),
            }
        }
        self.unique_names(
            "Target",
            targets
                .iter()
                .map(|t| (t.loaded, t.resource.metadata.name.as_str())),
        );
        self.unique_names(
            "Snapshot",
            snapshots
                .iter()
                .map(|s| (s.loaded, s.resource.metadata.name.as_str())),
        );
        self.unique_names(
            "Stores",
            stores
                .iter()
                .map(|s| (s.loaded, s.resource.metadata.name.as_str())),
        );

        let mut catalog = Catalog::default();
        if let Some((first, rest)) = stores.split_first() {
            for extra in rest {
                self.push(
                    Diagnostic::error(
                        "spec::duplicate-stores",
                        "more than one `Stores` resource",
                        extra.file(),
                        extra.key("/kind"),
                    )
                    .with_label("second store configuration")
                    .with_secondary(first.file(), first.key("/kind"), "first one here")
                    .with_hint("declare where the stores live once, in one `Stores` resource"),
                );
            }
            catalog.stores = self.stores(first);
        }
        for target in &targets {
            if let Some(valid) = self.target(target) {
                catalog.targets.push(valid);
            }
        }
        // Snapshots bind to the first definition of a name; a second one is
        // already an error.
        let mut raw_targets: HashMap<&str, &At<'_, TargetResource>> = HashMap::new();
        for target in &targets {
            raw_targets
                .entry(target.resource.metadata.name.as_str())
                .or_insert(target);
        }
        for snapshot in &snapshots {
            if let Some(valid) = self.snapshot(snapshot, &raw_targets) {
                catalog.snapshots.push(valid);
            }
        }
        for document in rejected.iter().filter(|d| d.kind == "Target") {
            self.rejected_target(document);
        }
        for document in rejected.iter().filter(|d| d.kind == "Snapshot") {
            self.rejected_snapshot(document, &raw_targets);
        }
        catalog
    }

    fn unique_names<'r>(
        &mut self,
        kind: &str,
        names: impl Iterator<Item = (&'r LoadedResource, &'r str)>,
    ) {
        let mut seen: HashMap<&str, &LoadedResource> = HashMap::new();
        for (loaded, name) in names {
            if let Some(first) = seen.get(name) {
                let first_span = first.index.value_span("/metadata/name");
                self.push(
                    Diagnostic::error(
                        "spec::duplicate-name",
                        format!("a {kind} named `{name}` is defined twice"),
                        loaded.file,
                        loaded.index.value_span("/metadata/name"),
                    )
                    .with_label("second definition")
                    .with_secondary(first.file, first_span, "first defined here")
                    .with_hint(format!("rename one of them; {kind} names are unique")),
                );
            } else {
                seen.insert(name, loaded);
            }
        }
    }

    fn stores(&mut self, at: &At<'_, StoresResource>) -> Stores {
        let base = self.base_dir(at.file());
        let defaults = Stores::default();
        let spec = &at.resource.spec;
        Stores {
            crm: spec
                .crm
                .as_ref()
                .map_or(defaults.crm, |s| base.join(&s.sqlite)),
            state: spec
                .state
                .as_ref()
                .map_or(defaults.state, |s| base.join(&s.sqlite)),
        }
    }

    fn target(&mut self, at: &At<'_, TargetResource>) -> Option<Target> {
        let errors_before = self.error_count();
        let spec = &at.resource.spec;
        let file = at.file();
        let base = self.base_dir(file);
        let location = match spec.target_type {
            TargetType::Vdir => {
                for (field, present) in [
                    ("url", spec.url.is_some()),
                    ("auth", spec.auth.is_some()),
                    ("tls", spec.tls.is_some()),
                    ("timeouts", spec.timeouts.is_some()),
                ] {
                    if present {
                        self.push(
                            Diagnostic::error(
                                "spec::field-not-for-type",
                                format!("`{field}` does not apply to a `vdir` target"),
                                file,
                                at.key(&format!("/spec/{field}")),
                            )
                            .with_label("only for `type: caldav`")
                            .with_hint("a vdir is a local folder: give its `path`, or use `type: caldav` for a server"),
                        );
                    }
                }
                if let Some(path) = &spec.path {
                    let path = base.join(path);
                    self.vdir_folder(at, &path);
                    TargetLocation::Vdir { path }
                } else {
                    self.push(
                        Diagnostic::error("spec::missing-field", "a `vdir` target needs a `path`", file, at.value("/spec/type"))
                            .with_label("vdir target without a folder")
                            .with_hint("add `path:` with the folder that holds the collections (relative to this file)"),
                    );
                    TargetLocation::Vdir {
                        path: PathBuf::new(),
                    }
                }
            }
            TargetType::Caldav => {
                if spec.path.is_some() {
                    self.push(
                        Diagnostic::error(
                            "spec::field-not-for-type",
                            "`path` does not apply to a `caldav` target",
                            file,
                            at.key("/spec/path"),
                        )
                        .with_label("only for `type: vdir`")
                        .with_hint("a caldav target is reached by `url`; link collections are paths below it"),
                    );
                }
                TargetLocation::Caldav(self.caldav(at, &base))
            }
        };
        let links = self.links(at);
        (self.error_count() == errors_before).then(|| Target {
            name: at.resource.metadata.name.clone(),
            labels: at.resource.metadata.labels.clone(),
            location,
            concurrency: spec.concurrency.unwrap_or(4),
            links,
            origin: self.origin(at.loaded),
        })
    }

    /// A vdir folder that is not there is a warning, not an error: specs are
    /// often validated where the folder does not live (a CI job), and an
    /// apply creates the collections below it. But plan and apply refuse a
    /// missing root (a typo must not read as "empty"), so say it here first.
    fn vdir_folder(&mut self, at: &At<'_, TargetResource>, path: &Path) {
        if path.is_dir() {
            return;
        }
        let (message, label) = if path.exists() {
            (
                format!("the vdir folder {} is not a folder", path.display()),
                "not a folder",
            )
        } else {
            (
                format!("the vdir folder {} does not exist", path.display()),
                "no such folder",
            )
        };
        self.push(
            Diagnostic::warning(
                "spec::vdir-folder-missing",
                message,
                at.file(),
                at.value("/spec/path"),
            )
            .with_label(label)
            .with_hint(
                "create it (`mkdir -p` it), or fix `path` (relative to this file); \
                     plan and apply refuse a target whose folder is missing",
            ),
        );
    }

    fn caldav(&mut self, at: &At<'_, TargetResource>, base: &Path) -> CaldavLocation {
        let spec = &at.resource.spec;
        let file = at.file();
        let url = match &spec.url {
            None => {
                self.push(
                    Diagnostic::error(
                        "spec::missing-field",
                        "a `caldav` target needs a `url`",
                        file,
                        at.value("/spec/type"),
                    )
                    .with_label("caldav target without a server")
                    .with_hint(
                        "add `url:` with the server's base URL, such as `https://dav.example.com/`",
                    ),
                );
                String::new()
            }
            Some(text) => {
                self.url(at.place(), text, spec.auth.is_some());
                text.clone()
            }
        };
        let credentials = spec
            .auth
            .as_ref()
            .and_then(|auth| self.credentials(at.place(), auth, base));
        let tls = spec.tls.clone().unwrap_or_default();
        if tls.insecure_skip_verify {
            self.push(
                Diagnostic::warning(
                    "spec::tls-verification-off",
                    "TLS certificate verification is turned off",
                    file,
                    at.value("/spec/tls/insecureSkipVerify"),
                )
                .with_label("anyone on the network path can read and change this data")
                .with_hint(
                    "trust the server's CA with `caFile` instead; keep this for test servers only",
                ),
            );
        }
        let timeouts = spec.timeouts.clone().unwrap_or_default();
        let connect_timeout = self.duration(
            at,
            "/spec/timeouts/connect",
            timeouts.connect.as_deref(),
            10,
        );
        let request_timeout = self.duration(
            at,
            "/spec/timeouts/request",
            timeouts.request.as_deref(),
            60,
        );
        CaldavLocation {
            url,
            credentials,
            ca_file: tls.ca_file.map(|f| base.join(f)),
            insecure_skip_verify: tls.insecure_skip_verify,
            connect_timeout,
            request_timeout,
        }
    }

    /// The checks of a server URL: an http(s) URL with a host, no
    /// credentials inside it, no password sent in clear text.
    fn url(&mut self, place: Place<'_>, text: &str, has_auth: bool) {
        let file = place.file;
        let shown = load::redact_url(text);
        match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                if !url.username().is_empty() || url.password().is_some() {
                    self.push(
                        Diagnostic::error(
                            "spec::inline-secret",
                            "the URL carries credentials",
                            file,
                            place.value("/spec/url"),
                        )
                        .with_label("user or password inside the URL")
                        .with_hint("remove them from the URL and use `auth` with `username` and `passwordEnv`"),
                    );
                }
                let loopback = url
                    .host_str()
                    .is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]");
                if url.scheme() == "http" && has_auth && !loopback {
                    self.push(
                        Diagnostic::warning(
                            "spec::cleartext-credentials",
                            "credentials would be sent unencrypted over `http://`",
                            file,
                            place.value("/spec/url"),
                        )
                        .with_label("plain HTTP")
                        .with_hint("use `https://` so the password cannot be read on the network"),
                    );
                }
            }
            Ok(_) => self.push(
                Diagnostic::error(
                    "spec::invalid-url",
                    format!("`{shown}` is not an http(s) URL"),
                    file,
                    place.value("/spec/url"),
                )
                .with_label("expected http:// or https://")
                .with_hint("write the server's base URL, such as `https://dav.example.com/`"),
            ),
            Err(error) => self.push(
                Diagnostic::error(
                    "spec::invalid-url",
                    format!("`{shown}` is not a valid URL: {error}"),
                    file,
                    place.value("/spec/url"),
                )
                .with_label("invalid URL")
                .with_hint("write the server's base URL, such as `https://dav.example.com/`"),
            ),
        }
    }

    /// The credentials `auth` refers to, or `None` with the problems found.
    fn credentials(&mut self, place: Place<'_>, auth: &Auth, base: &Path) -> Option<Credentials> {
        let file = place.file;
        let sources: Vec<(&str, SecretSource)> = [
            auth.password_env
                .clone()
                .map(|v| ("passwordEnv", SecretSource::Env(v))),
            auth.password_file
                .clone()
                .map(|v| ("passwordFile", SecretSource::File(base.join(v)))),
            auth.token_env
                .clone()
                .map(|v| ("tokenEnv", SecretSource::Env(v))),
        ]
        .into_iter()
        .flatten()
        .collect();
        match sources.as_slice() {
            [] => {
                self.push(
                    Diagnostic::error(
                        "spec::missing-credentials",
                        "`auth` gives no credentials",
                        file,
                        place.key("/spec/auth"),
                    )
                    .with_label("no password or token source")
                    .with_hint(
                        "add `passwordEnv` or `passwordFile` (with `username`), or `tokenEnv`",
                    ),
                );
                None
            }
            [(kind, source)] => {
                if *kind == "tokenEnv" {
                    if auth.username.is_some() {
                        self.push(
                            Diagnostic::warning(
                                "spec::unused-username",
                                "`username` is not used with a bearer token",
                                file,
                                place.key("/spec/auth/username"),
                            )
                            .with_label("ignored")
                            .with_hint(
                                "remove `username`, or use `passwordEnv` for basic authentication",
                            ),
                        );
                    }
                    Some(Credentials::Bearer {
                        token: source.clone(),
                    })
                } else if let Some(username) = &auth.username {
                    Some(Credentials::Basic {
                        username: username.clone(),
                        password: source.clone(),
                    })
                } else {
                    self.push(
                        Diagnostic::error(
                            "spec::missing-field",
                            "a password needs a `username`",
                            file,
                            place.key(&format!("/spec/auth/{kind}")),
                        )
                        .with_label("password without a user")
                        .with_hint("add `username:` beside it"),
                    );
                    None
                }
            }
            [(first, _), (second, _), ..] => {
                self.push(
                    Diagnostic::error(
                        "spec::conflicting-credentials",
                        format!("`auth` gives both `{first}` and `{second}`"),
                        file,
                        place.key(&format!("/spec/auth/{second}")),
                    )
                    .with_label("second credential source")
                    .with_secondary(file, place.key(&format!("/spec/auth/{first}")), "first one")
                    .with_hint("keep exactly one of `passwordEnv`, `passwordFile` and `tokenEnv`"),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        at: &At<'_, TargetResource>,
        pointer: &str,
        text: Option<&str>,
        default_secs: u64,
    ) -> Duration {
        let Some(text) = text else {
            return Duration::from_secs(default_secs);
        };
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.push(
                    Diagnostic::error(
                        "spec::invalid-duration",
                        "a timeout of zero never lets a request finish",
                        at.file(),
                        at.value(pointer),
                    )
                    .with_label("zero")
                    .with_hint("give a duration such as `10s` or `2m`"),
                );
                Duration::from_secs(default_secs)
            }
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        "spec::invalid-duration",
                        format!("`{text}` is not a duration: {error}"),
                        at.file(),
                        at.value(pointer),
                    )
                    .with_label("invalid duration")
                    .with_hint("write a number with a unit: `500ms`, `10s`, `2m`"),
                );
                Duration::from_secs(default_secs)
            }
        }
    }

    fn links(&mut self, at: &At<'_, TargetResource>) -> Vec<LinkSpec> {
        let file = at.file();
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut collections: HashMap<(ItemType, String), (usize, &str)> = HashMap::new();
        let mut links = Vec::new();
        let vdir = at.resource.spec.target_type == TargetType::Vdir;
        for (i, link) in at.resource.spec.links.iter().enumerate() {
            let pointer = format!("/spec/links/{i}");
            if let Some(first) = names.get(link.name.as_str()) {
                self.push(
                    Diagnostic::error(
                        "spec::duplicate-name",
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
                            "spec::collection-outside-target",
                            format!("collection `{collection}` is outside the target's folder"),
                            file,
                            at.value(&field_pointer),
                        )
                        .with_label("absolute, or climbs out with `..`")
                        .with_hint(
                            "give a folder below the target's `path`, such as `jdoe/calendar`",
                        ),
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
                            "spec::shared-collection",
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
            if by_type.is_empty() {
                self.push(
                    Diagnostic::error(
                        "spec::empty-link",
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

    fn snapshot(
        &mut self,
        at: &At<'_, SnapshotResource>,
        targets: &HashMap<&str, &At<'_, TargetResource>>,
    ) -> Option<Snapshot> {
        let errors_before = self.error_count();
        let spec = &at.resource.spec;
        let timezone = self.timezone(at.place(), spec.timezone.as_deref());
        let target = self.find_target(at.place(), &spec.target, targets);
        if let (Some(links), Some(target)) = (&spec.links, target) {
            let names: Vec<&str> = links.iter().map(String::as_str).collect();
            self.selected_links(at.place(), &names, Some(spec.direction), target);
        } else if spec.links.as_ref().is_some_and(Vec::is_empty) {
            self.push(empty_links(at.place()));
        }
        let scope = self.scope(at, timezone);
        if let (Some(target), Some(scope), Some(links)) = (target, &scope, &spec.links) {
            self.links_carry_types(at, target, links, scope);
        }
        let scope = scope?;
        (self.error_count() == errors_before).then(|| Snapshot {
            name: at.resource.metadata.name.clone(),
            labels: at.resource.metadata.labels.clone(),
            direction: spec.direction,
            target: spec.target.clone(),
            links: spec.links.clone(),
            timezone,
            scope,
            orphans: spec.orphans,
            max_deletes: spec.max_deletes,
            origin: self.origin(at.loaded),
        })
    }

    /// Finds the target a snapshot names, reporting an unknown one. A target
    /// that failed its own checks is known but not returned: its errors are
    /// reported already.
    fn find_target<'t>(
        &mut self,
        place: Place<'_>,
        name: &str,
        targets: &HashMap<&str, &'t At<'t, TargetResource>>,
    ) -> Option<&'t At<'t, TargetResource>> {
        if let Some(target) = targets.get(name) {
            return Some(target);
        }
        if self.invalid_targets.iter().any(|t| t == name) {
            return None;
        }
        let known = targets
            .keys()
            .copied()
            .chain(self.invalid_targets.iter().map(String::as_str));
        let hint = match did_you_mean(name, known.clone()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if targets.is_empty() && self.invalid_targets.is_empty() => {
                "no Target is defined in the files read; pass the file or folder that defines it"
                    .to_owned()
            }
            None => format!("the targets are {}", sorted_list(known)),
        };
        self.push(
            Diagnostic::error(
                "spec::unknown-target",
                format!("unknown target `{name}`"),
                place.file,
                place.value("/spec/target"),
            )
            .with_label("no Target has this name")
            .with_hint(hint),
        );
        None
    }

    /// Reads and checks the range of one item type's filter.
    fn filter_range(
        &mut self,
        place: Place<'_>,
        item_type: ItemType,
        range: &DateRange,
        tz: Tz,
    ) -> Option<RangeSpec> {
        let pointer = format!("/spec/filters/{item_type}/range");
        self.range(
            place,
            &pointer,
            range.from.as_deref(),
            range.to.as_deref(),
            tz,
        )
    }

    /// The checks that need only part of a target, on one that broke the
    /// schema: a server's URL (credentials written inside it above all) and
    /// its `auth`, so that every problem of the target shows in one run.
    fn rejected_target(&mut self, document: &RejectedDocument) {
        let place = Place {
            file: document.file,
            index: &document.index,
        };
        let value = |pointer: &str| document.value.pointer(pointer);
        if value("/spec/type").and_then(Value::as_str) != Some("caldav") {
            return;
        }
        if let Some(url) = value("/spec/url").and_then(Value::as_str) {
            self.url(place, url, value("/spec/auth").is_some());
        }
        // An `auth` that breaks the schema itself was reported as such.
        if let Some(auth) =
            value("/spec/auth").and_then(|auth| serde_json::from_value::<Auth>(auth.clone()).ok())
        {
            let base = self.base_dir(document.file);
            self.credentials(place, &auth, &base);
        }
    }

    /// The checks that need only part of a snapshot, on one that broke the
    /// schema: its time zone, its ranges, its target and links.
    fn rejected_snapshot(
        &mut self,
        document: &RejectedDocument,
        targets: &HashMap<&str, &At<'_, TargetResource>>,
    ) {
        let place = Place {
            file: document.file,
            index: &document.index,
        };
        let text = |pointer: &str| document.value.pointer(pointer).and_then(Value::as_str);
        let timezone = self.timezone(place, text("/spec/timezone"));
        let target = text("/spec/target").and_then(|name| self.find_target(place, name, targets));
        let direction = document
            .value
            .pointer("/spec/direction")
            .and_then(|d| serde_json::from_value::<Direction>(d.clone()).ok());
        let links = document
            .value
            .pointer("/spec/links")
            .and_then(Value::as_array);
        if let (Some(target), Some(links)) = (target, links) {
            let names: Vec<&str> = links.iter().filter_map(Value::as_str).collect();
            if names.len() == links.len() {
                self.selected_links(place, &names, direction, target);
            }
        }
        for item_type in ItemType::ALL {
            let pointer = format!("/spec/filters/{item_type}/range");
            let Some(range) = document.value.pointer(&pointer).and_then(Value::as_object) else {
                continue;
            };
            let bound = |field: &str| range.get(field).and_then(Value::as_str);
            if range.values().all(Value::is_string) && !range.is_empty() {
                self.range(place, &pointer, bound("from"), bound("to"), timezone);
            }
        }
    }

    fn timezone(&mut self, place: Place<'_>, name: Option<&str>) -> Tz {
        let Some(name) = name else {
            return Tz::UTC;
        };
        if let Ok(tz) = name.parse::<Tz>() {
            return tz;
        }
        let exact_case = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .map(|tz| tz.name());
        let near = exact_case
            .or_else(|| did_you_mean(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())));
        let hint = match near {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                "use an IANA time zone name such as `Europe/Berlin`, `America/Toronto` or `UTC`"
                    .to_owned()
            }
        };
        self.push(
            Diagnostic::error(
                "spec::unknown-timezone",
                format!("unknown time zone `{name}`"),
                place.file,
                place.value("/spec/timezone"),
            )
            .with_label("not an IANA time zone")
            .with_hint(hint),
        );
        Tz::UTC
    }

    /// Checks the links a snapshot names: each exists once, and is enabled
    /// for the direction (when the direction is known).
    fn selected_links(
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
                        "spec::duplicate-link",
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
            let Some((index, link)) = target
                .resource
                .spec
                .links
                .iter()
                .enumerate()
                .find(|(_, l)| l.name == name)
            else {
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
                self.push(
                    Diagnostic::error(
                        "spec::unknown-link",
                        format!(
                            "target `{}` has no link `{name}`",
                            target.resource.metadata.name
                        ),
                        file,
                        at.value(&pointer),
                    )
                    .with_label("unknown link")
                    .with_hint(hint),
                );
                continue;
            };
            let Some(direction) = direction else { continue };
            let (flag, flag_name) = match direction {
                Direction::Get => (link.inbound, "inbound"),
                Direction::Send => (link.outbound, "outbound"),
            };
            if flag == LinkFlag::Disabled {
                let flag_pointer = format!("/spec/links/{index}/{flag_name}");
                // A warning, never an error (DESIGN 2.4): disabling a link
                // must not stop unrelated snapshots or read-only commands.
                self.push(
                    Diagnostic::warning(
                        "spec::disabled-link",
                        format!("link `{name}` has {flag_name} synchronization disabled"),
                        file,
                        at.value(&pointer),
                    )
                    .with_label(format!("a {} snapshot skips this link", direction_word(direction)))
                    .with_secondary(target.file(), target.value(&flag_pointer), "disabled here")
                    .with_hint(format!("plans skip the link while `{flag_name}` is disabled; enable it on the link in its Target, or remove the link from this snapshot")),
                );
            }
        }
    }

    /// A snapshot that names links and item types explicitly must find a
    /// collection for each type on each link.
    fn links_carry_types(
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
                            "spec::link-lacks-collection",
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

    fn scope(&mut self, at: &At<'_, SnapshotResource>, tz: Tz) -> Option<Scope> {
        let spec = &at.resource.spec;
        let file = at.file();
        let mut ok = true;
        if let Some(types) = &spec.item_types
            && types.is_empty()
        {
            self.push(
                Diagnostic::error(
                    "spec::empty-item-types",
                    "`itemTypes` is empty: nothing would be processed",
                    file,
                    at.key("/spec/itemTypes"),
                )
                .with_label("empty list")
                .with_hint("list the item types to process, or omit `itemTypes` for all three"),
            );
            ok = false;
        }
        let Some(filters) = &spec.filters else {
            let types = spec
                .item_types
                .clone()
                .unwrap_or_else(|| ItemType::ALL.to_vec());
            let types = ItemType::ALL
                .into_iter()
                .filter(|t| types.contains(t))
                .collect();
            return ok.then_some(Scope::Full(types));
        };
        if filters.schedule_items.is_none() && filters.tasks.is_none() && filters.contacts.is_none()
        {
            self.push(
                Diagnostic::error("spec::empty-filters", "`filters` holds no filter: nothing would be processed", file, at.key("/spec/filters"))
                    .with_label("empty")
                    .with_hint("add a filter for `scheduleItems`, `tasks` or `contacts`, or omit `filters` for a full snapshot"),
            );
            return None;
        }
        if let Some(types) = &spec.item_types {
            for (item_type, present) in [
                (ItemType::ScheduleItems, filters.schedule_items.is_some()),
                (ItemType::Tasks, filters.tasks.is_some()),
                (ItemType::Contacts, filters.contacts.is_some()),
            ] {
                if present && !types.contains(&item_type) {
                    self.push(
                        Diagnostic::error(
                            "spec::filter-for-excluded-type",
                            format!("a filter for `{item_type}`, which `itemTypes` excludes"),
                            file,
                            at.key(&format!("/spec/filters/{item_type}")),
                        )
                        .with_label("this filter would never run")
                        .with_secondary(
                            file,
                            at.key("/spec/itemTypes"),
                            "the item types are narrowed here",
                        )
                        .with_hint(format!(
                            "add `{item_type}` to `itemTypes`, or remove the filter"
                        )),
                    );
                    ok = false;
                }
            }
        }
        let mut set = FilterSet::default();
        if let Some(f) = &filters.schedule_items {
            let range = self.filter_range(at.place(), ItemType::ScheduleItems, &f.range, tz);
            ok &= range.is_some();
            set.schedule_items = range.map(|range| ScheduleItemFilter {
                date_option: f.date_option,
                range,
                recurrence: f.recurrence,
            });
        }
        if let Some(f) = &filters.tasks {
            if f.include_undated && f.date_option == TaskDateOption::Modified {
                self.push(
                    Diagnostic::warning(
                        "spec::include-undated-with-modified",
                        "`includeUndated` has no effect with `dateOption: modified`",
                        file,
                        at.key("/spec/filters/tasks/includeUndated"),
                    )
                    .with_label("every task has a last-modified date")
                    .with_secondary(
                        file,
                        at.value("/spec/filters/tasks/dateOption"),
                        "dates by modification",
                    )
                    .with_hint("remove `includeUndated`, or filter by `start` or `due`"),
                );
            }
            let range = self.filter_range(at.place(), ItemType::Tasks, &f.range, tz);
            ok &= range.is_some();
            set.tasks = range.map(|range| TaskFilter {
                date_option: f.date_option,
                range,
                include_undated: f.include_undated,
            });
        }
        if let Some(f) = &filters.contacts {
            let range = self.filter_range(at.place(), ItemType::Contacts, &f.range, tz);
            ok &= range.is_some();
            set.contacts = range.map(|range| ContactFilter { range });
        }
        ok.then_some(Scope::Filtered(set))
    }

    fn range(
        &mut self,
        at: Place<'_>,
        pointer: &str,
        from: Option<&str>,
        to: Option<&str>,
        tz: Tz,
    ) -> Option<RangeSpec> {
        let mut parse = |field: &str, text: Option<&str>| -> Result<Option<Bound>, ()> {
            let Some(text) = text else { return Ok(None) };
            Bound::parse(text).map(Some).map_err(|error| {
                self.push(
                    Diagnostic::error(
                        "spec::invalid-date",
                        error.message,
                        at.file,
                        at.value(&format!("{pointer}/{field}")),
                    )
                    .with_label("invalid bound")
                    .with_hint(error.hint),
                );
            })
        };
        let from = parse("from", from);
        let to = parse("to", to);
        let spec = RangeSpec {
            from: from.ok()?,
            to: to.ok()?,
        };
        let resolved = match spec.resolve(self.now, tz) {
            Ok(resolved) => resolved,
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        "spec::invalid-date",
                        error.to_string(),
                        at.file,
                        at.key(pointer),
                    )
                    .with_label("cannot be resolved")
                    .with_hint("use dates between the years 1 and 9999"),
                );
                return None;
            }
        };
        if resolved.is_empty() {
            let relative = spec.from.is_some_and(|b| b.is_relative())
                || spec.to.is_some_and(|b| b.is_relative());
            let (from, to) = (
                spec.from.map(|b| b.to_string()).unwrap_or_default(),
                spec.to.map(|b| b.to_string()).unwrap_or_default(),
            );
            let message = if resolved.start == resolved.end {
                format!("the range from `{from}` to `{to}` is empty")
            } else {
                format!("the range is inverted: `from` ({from}) is after `to` ({to})")
            };
            let label = if relative {
                format!(
                    "ends before it starts, with now = {}",
                    self.now.format("%Y-%m-%dT%H:%M:%SZ")
                )
            } else {
                "ends before it starts".to_owned()
            };
            let diagnostic = Diagnostic::error("spec::empty-range", message, at.file, at.value(&format!("{pointer}/to")))
                .with_label(label)
                .with_secondary(at.file, at.value(&format!("{pointer}/from")), "starts here")
                .with_hint("swap `from` and `to`, or fix the one that is wrong; a date `to` includes its whole day");
            self.push(diagnostic);
            return None;
        }
        Some(spec)
    }

    fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

fn empty_links(at: Place<'_>) -> Diagnostic {
    Diagnostic::error(
        "spec::empty-links",
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

fn sorted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
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

impl Validation {
    /// Writes every diagnostic as text, with source snippets.
    ///
    /// # Errors
    /// When the writer fails.
    pub fn render_diagnostics(
        &self,
        style: diagnostic::TextStyle,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        diagnostic::render_text(&self.diagnostics, &self.sources, style, out)
    }

    /// Writes the line that ends a text report: the counts, and whether the
    /// specs are valid.
    ///
    /// # Errors
    /// When the writer fails.
    pub fn render_summary(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let (errors, warnings) = diagnostic::summary(&self.diagnostics);
        let files = crate::plural::count(self.files, "file", "files");
        let documents = crate::plural::count(self.documents, "resource", "resources");
        let warnings_text = crate::plural::count(warnings, "warning", "warnings");
        if errors > 0 {
            writeln!(
                out,
                "invalid: {}, {warnings_text} in {files} ({documents} read)",
                crate::plural::count(errors, "error", "errors")
            )
        } else {
            let catalog = self.catalog.as_ref();
            let targets = catalog.map_or(0, |c| c.targets.len());
            let snapshots = catalog.map_or(0, |c| c.snapshots.len());
            let warnings_text = if warnings > 0 {
                format!(", {warnings_text}")
            } else {
                String::new()
            };
            writeln!(
                out,
                "valid: {files}, {documents} ({}, {}){warnings_text}",
                crate::plural::count(targets, "target", "targets"),
                crate::plural::count(snapshots, "snapshot", "snapshots"),
            )
        }
    }

    /// Writes the whole report as one JSON object
    /// ([`diagnostic::ValidationJson`]).
    ///
    /// # Errors
    /// When the writer fails.
    pub fn render_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let (errors, warnings) = diagnostic::summary(&self.diagnostics);
        let diagnostics: Vec<_> = self
            .diagnostics
            .iter()
            .map(|d| diagnostic::JsonDiagnostic::new(d, &self.sources))
            .collect();
        let report = diagnostic::ValidationJson {
            format_version: crate::outputs::FormatVersion,
            valid: errors == 0,
            files: self.files,
            resources: self.documents,
            errors,
            warnings,
            diagnostics,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)
    }
}
