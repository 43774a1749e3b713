//! Diagnostics: what is wrong with a spec, where, and what to do about it.
//!
//! Validation collects every problem as a [`Diagnostic`] instead of stopping
//! at the first. Each one points at a span of a [`SourceFile`]; rendering turns
//! them into text (a source snippet with the offending node underlined, via
//! miette) or into JSON for pipelines.

use std::fmt;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use schemars::JsonSchema;
use serde::Serialize;

use super::codes::DiagnosticCode;
use crate::outputs::{FormatVersion, JsonOutput};

/// A byte range in a source file.
pub type Span = Range<usize>;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec is invalid; nothing runs.
    Error,
    /// The spec is valid but probably not what was meant.
    Warning,
}

/// A file that diagnostics point into.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user named it (or as found under a folder they named).
    pub path: PathBuf,
    /// The text, with inline secrets masked so no diagnostic can show them.
    pub text: Arc<str>,
}

impl SourceFile {
    /// The 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The text of the line that holds a byte offset, without its newline.
    #[must_use]
    pub fn line_text(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        self.text[start..end].trim_end_matches('\r')
    }
}

/// The files of one validation run; diagnostics refer to them by index.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

/// Which file of [`Sources`] a diagnostic points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(usize);

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: Arc<str>) -> FileId {
        self.files.push(SourceFile { path, text });
        FileId(self.files.len() - 1)
    }

    /// The file with this id.
    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// How many files were read.
    #[must_use]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A place in a source file, with what to say about it.
#[derive(Debug, Clone)]
pub struct Label {
    /// The file.
    pub file: FileId,
    /// The bytes to underline.
    pub span: Span,
    /// The words under the underline.
    pub text: String,
}

/// One problem found in the specs.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable identifier (`schema::unknown-field`), for documentation and
    /// for pipelines that filter diagnostics.
    pub code: DiagnosticCode,
    /// What is wrong, in one line.
    pub message: String,
    /// Where it is wrong; `None` for a problem with a whole file or path.
    pub primary: Option<Label>,
    /// The file when there is no primary label (a path that does not exist, a
    /// binary file).
    pub path: Option<PathBuf>,
    /// Other places that explain the problem (the first of two definitions).
    pub secondary: Vec<Label>,
    /// What to do about it, in one line.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at a span.
    #[must_use]
    pub fn error(
        code: DiagnosticCode,
        message: impl Into<String>,
        file: FileId,
        span: Span,
    ) -> Self {
        Self::at(Severity::Error, code, message, file, span)
    }

    /// A warning at a span.
    #[must_use]
    pub fn warning(
        code: DiagnosticCode,
        message: impl Into<String>,
        file: FileId,
        span: Span,
    ) -> Self {
        Self::at(Severity::Warning, code, message, file, span)
    }

    fn at(
        severity: Severity,
        code: DiagnosticCode,
        message: impl Into<String>,
        file: FileId,
        span: Span,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: Some(Label {
                file,
                span,
                text: String::new(),
            }),
            path: None,
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// An error about a whole path, with no position in it.
    #[must_use]
    pub fn path_error(code: DiagnosticCode, message: impl Into<String>, path: &Path) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            path: Some(path.to_path_buf()),
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// Sets the words under the primary underline.
    #[must_use]
    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        if let Some(primary) = &mut self.primary {
            primary.text = text.into();
        }
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint if there is one.
    #[must_use]
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Adds another place that explains the problem.
    #[must_use]
    pub fn with_secondary(mut self, file: FileId, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            file,
            span,
            text: text.into(),
        });
        self
    }

    /// The order diagnostics are shown in: by file, then by position.
    fn sort_key(&self) -> (Option<FileId>, usize, Option<&Path>) {
        (
            self.primary.as_ref().map(|l| l.file),
            self.primary.as_ref().map_or(0, |l| l.span.start),
            self.path.as_deref(),
        )
    }
}

/// Sorts diagnostics by file and position, keeping the order of equal ones.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// How text diagnostics look.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    /// Use colour (a terminal that wants it).
    pub color: bool,
    /// Wrap at this many columns.
    pub width: usize,
}

/// Writes diagnostics as text: each with its location, a source snippet and
/// the hint.
///
/// # Errors
/// When the writer fails.
pub fn render_text(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    style: TextStyle,
    out: &mut dyn Write,
) -> io::Result<()> {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        .with_context_lines(1);
    for diagnostic in diagnostics {
        let mut report = MietteReport::new(diagnostic, sources);
        // miette heads each related report with its severity and code
        // (`Advice: `, with no code here): a heading with nothing after it.
        // Each label in another file is rendered on its own instead.
        let related = std::mem::take(&mut report.related);
        let mut text = String::new();
        for report in std::iter::once(&report).chain(&related) {
            let mut one = String::new();
            handler
                .render_report(&mut one, report)
                .map_err(io::Error::other)?;
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(one.trim_end());
        }
        writeln!(out, "{}", text.trim_end())?;
        writeln!(out)?;
    }
    Ok(())
}

/// The counts line that ends a text rendering.
#[must_use]
pub fn summary(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diagnostics.len() - errors)
}

/// What `snapsync validate --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::Validate.format_version() }>,
    /// Whether the specs hold no error (warnings allowed).
    pub valid: bool,
    /// Spec files read.
    pub files: usize,
    /// Resources (YAML documents) read.
    pub resources: usize,
    /// How many diagnostics are errors.
    pub errors: usize,
    /// How many diagnostics are warnings.
    pub warnings: usize,
    /// Every problem found, errors and warnings, in file order.
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
}

/// A diagnostic as the JSON output shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonDiagnostic<'a> {
    /// `error` or `warning`.
    pub severity: Severity,
    /// The stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// The file.
    pub file: String,
    /// 1-based line of the start, if the problem has a position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column (in characters) of the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// 1-based line of the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    /// 1-based column of the end (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// The words under the underline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'a str>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
    /// The source line of the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    /// The JSON form of a diagnostic.
    #[must_use]
    pub fn new(diagnostic: &'a Diagnostic, sources: &'a Sources) -> Self {
        let mut json = JsonDiagnostic {
            severity: diagnostic.severity,
            code: diagnostic.code.as_str(),
            message: &diagnostic.message,
            file: diagnostic
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            line: None,
            column: None,
            end_line: None,
            end_column: None,
            label: None,
            hint: diagnostic.hint.as_deref(),
            snippet: None,
        };
        if let Some(primary) = &diagnostic.primary {
            let file = sources.get(primary.file);
            let (line, column) = file.line_col(primary.span.start);
            let (end_line, end_column) = file.line_col(primary.span.end);
            json.file = file.path.display().to_string();
            json.line = Some(line);
            json.column = Some(column);
            json.end_line = Some(end_line);
            json.end_column = Some(end_column);
            json.label = Some(primary.text.as_str()).filter(|t| !t.is_empty());
            json.snippet = Some(file.line_text(primary.span.start));
        }
        json
    }
}

/// A diagnostic in the shape miette renders: one source file with its
/// labels, and related reports for labels in other files.
struct MietteReport {
    message: String,
    code: Option<&'static str>,
    severity: miette::Severity,
    hint: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteReport>,
}

impl MietteReport {
    fn new(diagnostic: &Diagnostic, sources: &Sources) -> Self {
        let message = match (&diagnostic.primary, &diagnostic.path) {
            (None, Some(path)) => format!("{}: {}", path.display(), diagnostic.message),
            _ => diagnostic.message.clone(),
        };
        let mut report = MietteReport {
            message,
            code: Some(diagnostic.code.as_str()),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            hint: diagnostic.hint.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        let Some(primary) = &diagnostic.primary else {
            return report;
        };
        report.source = Some(named_source(sources, primary.file));
        report.labels.push(labeled(primary, true));
        for label in &diagnostic.secondary {
            if label.file == primary.file {
                report.labels.push(labeled(label, false));
            } else {
                report.related.push(MietteReport {
                    message: label.text.clone(),
                    code: None,
                    severity: miette::Severity::Advice,
                    hint: None,
                    source: Some(named_source(sources, label.file)),
                    labels: vec![labeled(label, true)],
                    related: Vec::new(),
                });
            }
        }
        report
    }
}

fn named_source(sources: &Sources, file: FileId) -> NamedSource<Arc<str>> {
    let file = sources.get(file);
    NamedSource::new(file.path.display().to_string(), Arc::clone(&file.text))
}

fn labeled(label: &Label, primary: bool) -> LabeledSpan {
    let text = Some(label.text.clone()).filter(|t| !t.is_empty());
    let span = (label.span.start, label.span.len());
    if primary {
        LabeledSpan::new_primary_with_span(text, span)
    } else {
        LabeledSpan::new_with_span(text, span)
    }
}

impl fmt::Debug for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteReport {}

impl miette::Diagnostic for MietteReport {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}
