//! Loading spec files: finding them, parsing their YAML once, checking each
//! document's `apiVersion`, `kind` and schema, and reading it as a typed
//! [`Resource`].
//!
//! Every problem becomes a [`Diagnostic`]; a file with a YAML syntax error
//! contributes no documents, and a document with schema errors contributes no
//! resource, but loading always goes on to the next one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::codes::DiagnosticCode;
use super::diagnostic::{Diagnostic, FileId, Sources, Span};
use super::schema::{
    API_VERSION, Anchor, KINDS, SECRET_REFERENCE_KEYS, SchemaChecker, did_you_mean, is_env_name,
    is_secret_key,
};
use super::types::Resource;
use super::yaml::{self, Node, NodeValue, SpanIndex};

/// A document that passed the schema check.
#[derive(Debug, Clone)]
pub struct LoadedResource {
    /// The file it came from.
    pub file: FileId,
    /// Where its nodes are.
    pub index: SpanIndex,
    /// The typed resource.
    pub resource: Resource,
}

/// A document whose `apiVersion` and `kind` are right but which breaks the
/// schema. It is kept so that the checks that need only part of it (a time
/// zone, a range, a reference) can still run and report every problem.
#[derive(Debug, Clone)]
pub struct RejectedDocument {
    /// The file it came from.
    pub file: FileId,
    /// Where its nodes are.
    pub index: SpanIndex,
    /// Its kind.
    pub kind: String,
    /// The document as JSON.
    pub value: serde_json::Value,
}

/// What loading found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The files read.
    pub sources: Sources,
    /// The documents that passed the schema check.
    pub resources: Vec<LoadedResource>,
    /// The documents that did not.
    pub rejected: Vec<RejectedDocument>,
    /// How many files were found, readable or not.
    pub files: usize,
    /// How many documents were read, valid or not.
    pub documents: usize,
    /// Every problem found so far.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads every spec file under the given paths: files as named, folders
/// recursively in name order (`*.yaml`, `*.yml`; hidden entries skipped).
#[must_use]
pub fn load(paths: &[PathBuf], checker: &SchemaChecker) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, &mut files, &mut loaded.diagnostics);
    }
    files.dedup();
    loaded.files = files.len();
    for file in files {
        load_file(&file, checker, &mut loaded);
    }
    loaded
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            diagnostics.push(
                Diagnostic::path_error(
                    DiagnosticCode::FileUnreadable,
                    format!("cannot read: {error}"),
                    path,
                )
                .with_hint("check the path; `snapsync validate` reads files and folders of specs"),
            );
            return;
        }
    };
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return;
    }
    let before = files.len();
    walk_folder(path, files, diagnostics);
    if files.len() == before {
        diagnostics.push(
            Diagnostic::path_error(
                DiagnosticCode::FileNoSpecs,
                "no spec files in this folder",
                path,
            )
            .with_hint("spec files end in `.yaml` or `.yml`"),
        );
    }
}

fn walk_folder(folder: &Path, files: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) => {
            diagnostics.push(Diagnostic::path_error(
                DiagnosticCode::FileUnreadable,
                format!("cannot read folder: {error}"),
                folder,
            ));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if entry.is_dir() {
            walk_folder(&entry, files, diagnostics);
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            files.push(entry);
        }
    }
}

fn load_file(path: &Path, checker: &SchemaChecker, loaded: &mut Loaded) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            loaded.diagnostics.push(Diagnostic::path_error(
                DiagnosticCode::FileUnreadable,
                format!("cannot read: {error}"),
                path,
            ));
            return;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => text,
        Ok(_) => {
            loaded.diagnostics.push(
                Diagnostic::path_error(
                    DiagnosticCode::FileNotText,
                    "not a text file (it holds NUL bytes)",
                    path,
                )
                .with_hint("spec files are UTF-8 YAML; is this a binary file in the specs folder?"),
            );
            return;
        }
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            loaded.diagnostics.push(
                Diagnostic::path_error(
                    DiagnosticCode::FileNotText,
                    format!("not a UTF-8 text file (invalid byte at offset {at})"),
                    path,
                )
                .with_hint("save the file as UTF-8"),
            );
            return;
        }
    };
    let parsed = yaml::parse_documents(&text);
    // Mask inline secrets before the text is kept for snippets, so no
    // diagnostic can show them.
    let text = match &parsed {
        Ok(documents) => mask_secrets(text, documents.iter().map(|d| &d.root)),
        Err(_) => text,
    };
    let file = loaded.sources.add(path.to_path_buf(), Arc::from(text));
    let documents = match parsed {
        Ok(documents) => documents,
        Err(error) => {
            let mut diagnostic =
                Diagnostic::error(DiagnosticCode::YamlSyntax, error.message, file, error.span)
                    .with_hint_opt(error.hint);
            if let Some((span, text)) = error.related {
                diagnostic = diagnostic
                    .with_label("defined again here")
                    .with_secondary(file, span, text);
                diagnostic.code = DiagnosticCode::YamlDuplicateKey;
            }
            loaded.diagnostics.push(diagnostic);
            return;
        }
    };
    let documents: Vec<_> = documents
        .into_iter()
        .filter(|d| !matches!(d.root.value, NodeValue::Null))
        .collect();
    if documents.is_empty() {
        loaded.diagnostics.push(
            Diagnostic::path_error(
                DiagnosticCode::FileEmpty,
                "the file holds no resources",
                path,
            )
            .with_hint(
                "a spec file holds one or more documents with `apiVersion`, `kind`, `metadata` \
                 and `spec`; delete the file if it is not needed",
            ),
        );
        return;
    }
    tracing::debug!(file = %path.display(), documents = documents.len(), "read spec file");
    for document in documents {
        loaded.documents += 1;
        load_document(file, document, checker, loaded);
    }
}

fn load_document(
    file: FileId,
    document: yaml::Document,
    checker: &SchemaChecker,
    loaded: &mut Loaded,
) {
    let yaml::Document { root, index } = document;
    let NodeValue::Map(entries) = &root.value else {
        loaded.diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::NotAResource,
                format!(
                    "a resource must be a mapping, not {}",
                    root.value.kind_name()
                ),
                file,
                first_line(&root.span),
            )
            .with_label("expected `apiVersion:`, `kind:`, `metadata:` and `spec:`")
            .with_hint(
                "each document of a spec file is one resource; see the examples in snapshots.d/",
            ),
        );
        return;
    };
    let first_key = entries
        .first()
        .map_or(root.span.clone(), |(_, span, _)| span.clone());
    let field = |name: &str| {
        entries
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, _, node)| node)
    };

    let header_ok = api_version_ok(
        file,
        field("apiVersion"),
        &first_key,
        &mut loaded.diagnostics,
    );
    let Some(kind) = kind_of(file, field("kind"), first_key, &mut loaded.diagnostics) else {
        return;
    };

    let value = root.to_json();
    let problems = checker.check(&kind, &value);
    let schema_ok = problems.is_empty();
    for problem in problems {
        let span = match problem.anchor {
            Anchor::Key => index.key_span(&problem.pointer),
            Anchor::Value => index.value_span(&problem.pointer),
            Anchor::Label => index.label_span(&problem.pointer),
        };
        let span = first_line_in(&span, loaded.sources.get(file).text.as_ref());
        loaded.diagnostics.push(
            Diagnostic::error(problem.code, problem.message, file, span)
                .with_label(problem.label)
                .with_hint_opt(problem.hint),
        );
    }
    if !header_ok {
        return;
    }
    if !schema_ok {
        loaded.rejected.push(RejectedDocument {
            file,
            index,
            kind,
            value,
        });
        return;
    }
    match serde_json::from_value::<Resource>(value) {
        Ok(resource) => loaded.resources.push(LoadedResource {
            file,
            index,
            resource,
        }),
        Err(error) => loaded.diagnostics.push(Diagnostic::error(
            DiagnosticCode::Unreadable,
            format!("cannot read this resource: {error}"),
            file,
            root.span.start..root.span.start,
        )),
    }
}

/// Checks a resource's `apiVersion`: whether it is there and the one this
/// snapsync reads.
fn api_version_ok(
    file: FileId,
    api_version: Option<&Node>,
    first_key: &Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    match api_version {
        None => {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::MissingApiVersion,
                    "missing `apiVersion`",
                    file,
                    first_key.clone(),
                )
                .with_label("this resource has no `apiVersion`")
                .with_hint(format!("add `apiVersion: {API_VERSION}`")),
            );
            false
        }
        Some(node) if !matches!(&node.value, NodeValue::String(v) if v == API_VERSION) => {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::UnknownApiVersion,
                    format!("unknown apiVersion `{}`", scalar(node)),
                    file,
                    node.span.clone(),
                )
                .with_label("not a version this snapsync reads")
                .with_hint(format!("this snapsync reads `apiVersion: {API_VERSION}`")),
            );
            false
        }
        Some(_) => true,
    }
}

/// A resource's `kind`, if it is there and one of [`KINDS`].
fn kind_of(
    file: FileId,
    kind: Option<&Node>,
    first_key: Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    match kind {
        None => {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::MissingKind,
                    "missing `kind`",
                    file,
                    first_key,
                )
                .with_label("this resource has no `kind`")
                .with_hint(format!("add `kind:` with one of {}", KINDS.join(", "))),
            );
            None
        }
        Some(node) => match &node.value {
            NodeValue::String(kind) if KINDS.contains(&kind.as_str()) => Some(kind.clone()),
            _ => {
                let text = scalar(node);
                let hint = match did_you_mean(&text, KINDS) {
                    Some(near) => {
                        format!("did you mean `{near}`? the kinds are {}", KINDS.join(", "))
                    }
                    None => format!("the kinds are {}", KINDS.join(", ")),
                };
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::UnknownKind,
                        format!("unknown kind `{text}`"),
                        file,
                        node.span.clone(),
                    )
                    .with_label("not a kind of resource")
                    .with_hint(hint),
                );
                None
            }
        },
    }
}

fn scalar(node: &Node) -> String {
    match &node.value {
        NodeValue::String(s) => s.clone(),
        other => other.kind_name().to_owned(),
    }
}

/// The part of a span on its first line (a label on a block would underline
/// many lines).
fn first_line(span: &Span) -> Span {
    span.start..span.start
}

fn first_line_in(span: &Span, text: &str) -> Span {
    let end = text[span.start.min(text.len())..span.end.min(text.len())]
        .find('\n')
        .map_or(span.end, |i| span.start + i);
    span.start..end
}

/// Replaces the values of inline secrets (`password: …`) with `*`, keeping
/// every byte offset where it was.
fn mask_secrets<'a>(text: String, roots: impl Iterator<Item = &'a Node>) -> String {
    let mut spans = Vec::new();
    for root in roots {
        secret_spans(root, &mut spans);
    }
    if spans.is_empty() {
        return text;
    }
    let mut bytes = text.into_bytes();
    for span in spans {
        for byte in &mut bytes[span] {
            if !byte.is_ascii_whitespace() {
                *byte = b'*';
            }
        }
    }
    // Only whole scalars were replaced, with ASCII, so the text is still UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// The spans of everything that looks like a secret: values of secret keys,
/// non-names where a variable name belongs, and passwords inside URLs.
fn secret_spans(node: &Node, out: &mut Vec<Span>) {
    match &node.value {
        NodeValue::Map(entries) => {
            for (key, _, value) in entries {
                let scalar = !matches!(value.value, NodeValue::Map(_) | NodeValue::Seq(_));
                let misplaced = SECRET_REFERENCE_KEYS.contains(&key.as_str())
                    && !matches!(&value.value, NodeValue::String(v) if is_env_name(v));
                if scalar && (is_secret_key(key) || misplaced) {
                    out.push(value.span.clone());
                } else {
                    secret_spans(value, out);
                }
            }
        }
        NodeValue::String(text) if url_password(text).is_some() => {
            out.push(node.span.clone());
        }
        NodeValue::Seq(items) => {
            for item in items {
                secret_spans(item, out);
            }
        }
        _ => {}
    }
}

/// Where the password of a `scheme://user:password@host` URL sits in it.
#[must_use]
pub fn url_password(text: &str) -> Option<Span> {
    let authority_start = text.find("://")? + 3;
    let authority_end = text[authority_start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| authority_start + i);
    let at = text[authority_start..authority_end].rfind('@')? + authority_start;
    let colon = text[authority_start..at].find(':')? + authority_start;
    Some(colon + 1..at)
}

/// A URL with its password replaced by `***`, for messages.
#[must_use]
pub fn redact_url(text: &str) -> String {
    match url_password(text) {
        Some(password) => format!("{}***{}", &text[..password.start], &text[password.end..]),
        None => text.to_owned(),
    }
}
