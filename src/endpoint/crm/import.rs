//! `snapsync crm import`: loading `.ics` and `.vcf` files into the CRM store.
//!
//! Files are read and parsed on every core while one thread writes to
//! SQLite, in transactions of many items. A malformed item is reported with
//! its file and the reason, and the rest of the import goes on.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::{CrmStore, ItemWriter, Row, Stored, ensure_user};
use crate::item::{ItemType, Parsed, SkippedComponent, parse_any, parse_calendar, parse_vcards};
use crate::sqlite::{StoreError, StoreKind};

/// Items written per transaction: large enough that commits cost nothing
/// next to parsing, small enough that an interrupted import keeps most of
/// its work.
const ITEMS_PER_TRANSACTION: usize = 5_000;

/// File extensions read when a folder is imported.
const CALENDAR_EXTENSIONS: &[&str] = &["ics", "ical", "ifb", "icalendar"];
const VCARD_EXTENSIONS: &[&str] = &["vcf", "vcard"];

/// A file to import, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSource {
    /// The file.
    pub path: PathBuf,
    /// What its extension says it holds; `None` reads both kinds.
    pub kind: Option<SourceKind>,
}

/// What a file holds, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// iCalendar (`.ics`): schedule items and tasks.
    Calendar,
    /// vCard (`.vcf`): contacts.
    VCard,
}

fn kind_of(path: &Path) -> Option<SourceKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if CALENDAR_EXTENSIONS.contains(&ext.as_str()) {
        Some(SourceKind::Calendar)
    } else if VCARD_EXTENSIONS.contains(&ext.as_str()) {
        Some(SourceKind::VCard)
    } else {
        None
    }
}

/// A problem with one file or one item of an import. The import goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The file concerned.
    pub file: PathBuf,
    /// What went wrong (with the line and the UID when known).
    pub message: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Files read.
    pub files: usize,
    /// Items created, updated and left unchanged, by type.
    pub counts: BTreeMap<ItemType, ImportCounts>,
    /// Items and files that could not be imported.
    pub problems: Vec<ImportProblem>,
    /// UIDs that more than one file holds: imported, the version read last
    /// (in file order) kept.
    pub duplicates: Vec<ImportProblem>,
    /// Components that are not items (journals, free/busy), with their file.
    pub skipped: Vec<(PathBuf, SkippedComponent)>,
    /// Files that were not UTF-8 and were read as Latin-1.
    pub latin1: Vec<PathBuf>,
    /// Items imported as read that hold something that could not be read
    /// as written (an `RRULE` without a valid `FREQ`), each naming the item.
    pub warnings: Vec<ImportProblem>,
}

/// How many items of one type an import created, updated or left as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// New UIDs.
    pub created: u64,
    /// Known UIDs with new content.
    pub updated: u64,
    /// Known UIDs with the same content.
    pub unchanged: u64,
}

impl ImportCounts {
    /// Items read, whatever became of them.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

impl ImportReport {
    /// Items read across types.
    #[must_use]
    pub fn items(&self) -> u64 {
        self.counts.values().map(ImportCounts::total).sum()
    }
}

/// Finds the files to import: each path that is a file is taken as it is;
/// each folder is searched recursively for `.ics` and `.vcf` files (hidden
/// entries skipped), in name order.
///
/// # Errors
/// A path does not exist or a folder cannot be read; the problem names it.
pub fn import_sources(paths: &[PathBuf]) -> Result<Vec<ImportSource>, ImportProblem> {
    let mut out = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| ImportProblem {
            file: path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        if metadata.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(ImportSource {
                path: path.clone(),
                kind: kind_of(path),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<ImportSource>) -> Result<(), ImportProblem> {
    let problem = |e: std::io::Error| ImportProblem {
        file: dir.to_owned(),
        message: format!("cannot list the folder: {e}"),
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(problem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(problem)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if let Some(kind) = kind_of(&path) {
            out.push(ImportSource {
                path,
                kind: Some(kind),
            });
        }
    }
    Ok(())
}

/// What a worker made of one file.
struct ParsedFile {
    path: PathBuf,
    rows: Vec<Row>,
    problems: Vec<String>,
    skipped: Vec<SkippedComponent>,
    warnings: Vec<String>,
    latin1: bool,
}

fn read_file(source: &ImportSource) -> ParsedFile {
    let mut out = ParsedFile {
        path: source.path.clone(),
        rows: Vec::new(),
        problems: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        latin1: false,
    };
    let bytes = match std::fs::read(&source.path) {
        Ok(bytes) => bytes,
        Err(e) => {
            out.problems.push(format!("cannot read: {e}"));
            return out;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // Old exports are often Latin-1; every byte is a character there,
        // so nothing is lost, and the report says the file was read so.
        Err(e) => {
            out.latin1 = true;
            e.into_bytes().iter().map(|&b| char::from(b)).collect()
        }
    };
    let Parsed {
        items,
        errors,
        skipped,
    } = match source.kind {
        Some(SourceKind::Calendar) => parse_calendar(&text),
        Some(SourceKind::VCard) => parse_vcards(&text),
        None => parse_any(&text),
    };
    out.problems = errors.iter().map(ToString::to_string).collect();
    out.skipped = skipped;
    out.warnings = items
        .iter()
        .flat_map(|item| {
            item.problems()
                .iter()
                .map(move |problem| format!("{} {}: {problem}", item.item_type(), item.uid()))
        })
        .collect();
    out.rows = items.iter().map(Row::of).collect();
    out
}

/// Imports `sources` into `user`'s collections: new UIDs are created, known
/// ones updated when their content changed. Calls `progress` with the number
/// of files done after each file.
///
/// # Errors
/// Only the store failing stops an import; problems with files and items
/// are in the report.
pub fn import(
    store: &CrmStore,
    user: &str,
    sources: &[ImportSource],
    mut progress: impl FnMut(usize),
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport {
        files: sources.len(),
        ..ImportReport::default()
    };
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    // A few files in flight per worker bound the memory whatever the
    // number of files.
    let (sender, receiver) = mpsc::sync_channel::<(usize, ParsedFile)>(workers * 2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(source) = sources.get(index) else {
                        break;
                    };
                    if sender.send((index, read_file(source))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        write_all(store, user, receiver, &mut report, &mut progress)
    })?;
    Ok(report)
}

fn write_all(
    store: &CrmStore,
    user: &str,
    receiver: mpsc::Receiver<(usize, ParsedFile)>,
    report: &mut ImportReport,
    progress: &mut impl FnMut(usize),
) -> Result<(), StoreError> {
    let path = store.path().to_owned();
    let conn = store.lock();
    let user_id = ensure_user(&conn, user).map_err(StoreError::sql(StoreKind::Crm, &path))?;
    // BEGIN/COMMIT by hand: the writer works across many transactions on a
    // connection it only borrows.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(StoreError::sql(StoreKind::Crm, &path))?;
    let written = write_files(&conn, user_id, receiver, report, progress)
        .and_then(|()| conn.execute_batch("COMMIT"));
    if written.is_err() {
        // Leave the shared connection outside any transaction; the last
        // committed batches stay.
        let _ = conn.execute_batch("ROLLBACK");
    }
    written.map_err(StoreError::sql(StoreKind::Crm, &path))
}

/// Workers finish files in any order; they are written in the order given,
/// so which of two files holding one UID wins never depends on timing.
fn write_files(
    conn: &rusqlite::Connection,
    user_id: i64,
    receiver: mpsc::Receiver<(usize, ParsedFile)>,
    report: &mut ImportReport,
    progress: &mut impl FnMut(usize),
) -> rusqlite::Result<()> {
    let mut writer = FileWriter {
        conn,
        user_id,
        first_seen: HashMap::new(),
        files: Vec::new(),
        in_tx: 0,
    };
    let mut early: BTreeMap<usize, ParsedFile> = BTreeMap::new();
    for (index, file) in receiver {
        early.insert(index, file);
        while let Some(file) = early.remove(&writer.files.len()) {
            writer.write(file, report)?;
            progress(writer.files.len());
        }
    }
    Ok(())
}

struct FileWriter<'c> {
    conn: &'c rusqlite::Connection,
    user_id: i64,
    /// Where each UID was first read, so a UID that two files hold is
    /// reported instead of silently replaced.
    first_seen: HashMap<(ItemType, String), usize>,
    /// The files written so far, in order.
    files: Vec<PathBuf>,
    /// Items written since the last commit.
    in_tx: usize,
}

impl FileWriter<'_> {
    fn write(&mut self, file: ParsedFile, report: &mut ImportReport) -> rusqlite::Result<()> {
        let file_index = self.files.len();
        self.files.push(file.path.clone());
        if file.latin1 {
            report.latin1.push(file.path.clone());
        }
        for message in file.problems {
            report.problems.push(ImportProblem {
                file: file.path.clone(),
                message,
            });
        }
        for skip in file.skipped {
            report.skipped.push((file.path.clone(), skip));
        }
        for message in file.warnings {
            report.warnings.push(ImportProblem {
                file: file.path.clone(),
                message,
            });
        }
        let mut writer = ItemWriter::new(self.conn)?;
        for row in &file.rows {
            let key = (row.meta.item_type, row.meta.uid.clone());
            if let Some(&first) = self.first_seen.get(&key) {
                report.duplicates.push(ImportProblem {
                    file: file.path.clone(),
                    message: format!(
                        "{} {} is also in {}; the version in this later file was kept",
                        row.meta.item_type,
                        row.meta.uid,
                        self.files[first].display()
                    ),
                });
            } else {
                self.first_seen.insert(key, file_index);
            }
            let counts = report.counts.entry(row.meta.item_type).or_default();
            match writer.upsert_row(self.user_id, row)? {
                Stored::Created => counts.created += 1,
                Stored::Updated => counts.updated += 1,
                Stored::Unchanged => counts.unchanged += 1,
            }
        }
        writer.finish()?;
        self.in_tx += file.rows.len();
        if self.in_tx >= ITEMS_PER_TRANSACTION {
            self.conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
            self.in_tx = 0;
        }
        Ok(())
    }
}
