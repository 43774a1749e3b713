//! Targets: what every target has (a name, links, a concurrency) and the
//! checks of a vdir target's folder. A caldav target's server is checked in
//! `caldav`, its links in `links`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{At, Checks, Place};
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::load::RejectedDocument;
use crate::spec::model::{Target, TargetLocation};
use crate::spec::types::{Auth, TargetResource, TargetType};

impl Checks<'_> {
    /// A target as the catalog holds it, or `None` when it has errors.
    pub(super) fn target(&mut self, at: &At<'_, TargetResource>) -> Option<Target> {
        let errors_before = self.error_count();
        let spec = &at.resource.spec;
        let base = self.base_dir(at.file());
        let location = match spec.target_type {
            TargetType::Vdir => self.vdir(at, &base),
            TargetType::Caldav => TargetLocation::Caldav(self.caldav(at, &base)),
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

    /// A vdir target's folder; the server's fields do not apply to it.
    fn vdir(&mut self, at: &At<'_, TargetResource>, base: &Path) -> TargetLocation {
        let spec = &at.resource.spec;
        let file = at.file();
        for (field, present) in [
            ("url", spec.url.is_some()),
            ("auth", spec.auth.is_some()),
            ("tls", spec.tls.is_some()),
            ("timeouts", spec.timeouts.is_some()),
        ] {
            if present {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::FieldNotForType,
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
                Diagnostic::error(DiagnosticCode::MissingField, "a `vdir` target needs a `path`", file, at.value("/spec/type"))
                    .with_label("vdir target without a folder")
                    .with_hint("add `path:` with the folder that holds the collections (relative to this file)"),
            );
            TargetLocation::Vdir {
                path: PathBuf::new(),
            }
        }
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
                DiagnosticCode::VdirFolderMissing,
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

    /// The checks that need only part of a target, on one that broke the
    /// schema: a server's URL (credentials written inside it above all) and
    /// its `auth`, so that every problem of the target shows in one run.
    pub(super) fn rejected_target(&mut self, document: &RejectedDocument) {
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
}
