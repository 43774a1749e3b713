//! Validation: every check a schema cannot express, across all the files of a
//! run, collecting every problem.
//!
//! Names are unique per kind; snapshots name targets and links that exist and
//! are enabled for their direction; ranges are real dates that leave something
//! in range once relative bounds are resolved; time zones exist; filters and
//! `itemTypes` agree; credentials are given by reference. When nothing is
//! wrong the result carries a [`Catalog`] of validated resources.
//!
//! This file is the driver: it loads the files, sorts the resources by kind
//! and assembles the catalog. The checks live by resource: `stores`,
//! `target` (what every target has, and vdir folders), `caldav` (a server's
//! URL, credentials, TLS and timeouts), `links` (a target's links, and the
//! links a snapshot selects), `snapshot` and `filters` (item types and date
//! ranges).

mod caldav;
mod filters;
mod links;
mod snapshot;
mod stores;
mod target;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::codes::DiagnosticCode;
use super::diagnostic::{self, Diagnostic, FileId, Severity, Sources, Span};
use super::load::{self, LoadedResource, RejectedDocument};
use super::model::{Catalog, Origin, Stores};
use super::schema::{SchemaBuildError, SchemaChecker};
use super::types::{Resource, TargetResource};
use super::yaml::SpanIndex;

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

/// The state of one validation run: what it found so far.
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
    /// Adds a problem found.
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Where a resource is declared: its file and the line of its `kind`.
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

    /// Checks every resource, and assembles those that pass into a catalog.
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
        if let Some(declared) = self.first_stores(&stores) {
            catalog.stores = declared;
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

    /// Reports every name of one kind defined a second time.
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
                        DiagnosticCode::DuplicateName,
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

    /// How many errors were found so far (a resource whose checks add none
    /// is valid).
    fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

/// Names in backticks, sorted, for a hint: `` `a`, `b` ``.
fn sorted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
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
