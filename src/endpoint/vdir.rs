//! vdir targets: one folder per collection, one file per item.
//!
//! Words used here:
//! - **vdir**: the storage format of vdirsyncer, khal, todoman and khard. A
//!   collection is a folder; each item is one file in it, `.ics` (a
//!   `VCALENDAR` holding one event or task, with its overridden instances)
//!   or `.vcf` (one vCard). Files whose names start with a dot and files
//!   with another extension (compared exactly, as those tools do) are not
//!   items. A symbolic link to a regular file is read as that file. Any
//!   other entry with an item file's name (a dangling or looping symbolic
//!   link, a folder, a named pipe, a link to a folder) is listed, at the
//!   version of the entry itself, and cannot be read: its fetch fails with
//!   [`ErrorKind::Invalid`] and says what the entry is, so that it counts
//!   as an unreadable item (never as a deleted one). An update replaces
//!   such an entry (the link itself, not what it points to), except a
//!   folder, which is refused.
//! - **href**: the item's file name, without a folder (`standup@example.com.ics`).
//!   A file snapsync creates is named after the item's UID, so two creates
//!   of one UID meet at the same file and the second fails with
//!   [`ErrorKind::Exists`] instead of duplicating the item (see
//!   [`file_name_for_uid`]). Files written by other tools keep the names
//!   they were given.
//! - **version**: `{mtime seconds}.{mtime nanoseconds}-{size}-{inode}` of the
//!   file, as `std::fs::metadata` gives them (`std::fs::symlink_metadata`
//!   for an entry that is not a regular file; vdirsyncer uses the mtime and
//!   the inode the same way). A write replaces the file by a new one (a new
//!   inode), and snapsync makes its modification time strictly later than the
//!   one it replaces, even when the clock has not ticked since (file
//!   timestamps on Linux advance in steps of a few milliseconds): so every
//!   write by snapsync gives a new version. A change by another tool that
//!   rewrites a file in place, within one clock tick and to the same size,
//!   is not seen; that is the limit of what a file system can tell.
//!
//! Writes are atomic: the text goes to a hidden temporary file in the same
//! folder (`.{name}.{pid}.{counter}.tmp`), which is flushed to the disk
//! (unless [`VdirCollection::with_fsync`] turned that off) and then takes the
//! item's name in one step. A create gives the temporary file its final
//! name only if no file has it (`renameat2` with `RENAME_NOREPLACE` on
//! Linux, else a hard link): create-only, even against another writer; an
//! update renames it over the old file. A crash leaves either the old file
//! or the new one, never half of one; at worst a hidden temporary file
//! stays behind, which listings ignore. The next write to the collection
//! (by any snapsync process) removes such leftovers: the files that match
//! that exact pattern, for an item file name of the collection, whose
//! process is no longer running on this host (one folder listing per
//! collection and apply; a live process's files, and every other file, are
//! left alone). Where a process's liveness cannot be told (systems without
//! `/proc`), nothing is removed.
//!
//! [`Collection::create_all`] writes a batch of new files, flushes them all
//! with one `syncfs` (one journal commit instead of one per file, which
//! made a full send ten times faster on ext4), then names them; a single
//! create flushes its own file.
//!
//! Updates and deletes compare the file's current version with the expected
//! one first. The check and the write are two steps: another program that
//! replaces the file in between is not detected (a file system offers no
//! compare-and-swap on names).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use super::{
    Collection, EndpointError, ErrorKind, FetchResult, Fetched, Href, Listing, Version, Written,
    file_name_for_uid,
};
use crate::item::{Item, ItemType};

/// Fetches of at least this many hrefs are spread over threads.
const PARALLEL_FETCH_MIN: usize = 32;

/// At most this many threads read files for one fetch.
const MAX_FETCH_THREADS: usize = 8;

/// How far a replacement's modification time is moved past the old one's,
/// tried in order until the file system keeps the difference (ext4, XFS,
/// Btrfs and tmpfs keep nanoseconds; some network file systems keep
/// microseconds, FAT two seconds).
const MTIME_STEPS: [Duration; 4] = [
    Duration::from_micros(1),
    Duration::from_millis(1),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Makes temporary file names unique within the process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// One vdir folder holding items of one type: a calendar (`.ics` files of
/// events), a task list (`.ics` files of tasks) or an address book (`.vcf`
/// files).
#[derive(Debug, Clone)]
pub struct VdirCollection {
    /// The collection's folder; it may not exist yet.
    folder: PathBuf,
    /// What the collection holds for the snapshot.
    item_type: ItemType,
    /// How messages name the collection.
    label: String,
    /// Whether each written file is flushed to the disk before it takes its
    /// name (see [`VdirCollection::with_fsync`]).
    fsync: bool,
    /// Set once the folder is known to exist (creates make it once).
    folder_made: OnceLock<()>,
    /// Set once the first write has removed the temporary files that
    /// interrupted snapsync processes left in the folder.
    leftovers_removed: OnceLock<()>,
}

/// A new item's file, written under its temporary name.
struct Staged {
    uid: String,
    href: Href,
    path: PathBuf,
    temp: TempFile,
}

impl VdirCollection {
    /// The collection in `folder`, holding items of `item_type`; `label`
    /// names it in messages (`vdir office: calendars/jdoe`).
    ///
    /// Nothing is checked here: a missing folder lists as empty and is
    /// created, with its parents, by the first create. (Whether the
    /// target's own folder exists is for the caller to check: a missing
    /// target folder is more likely a wrong path than an empty target.)
    #[must_use]
    pub fn open(folder: PathBuf, item_type: ItemType, label: String) -> Self {
        VdirCollection {
            folder,
            item_type,
            label,
            fsync: true,
            folder_made: OnceLock::new(),
            leftovers_removed: OnceLock::new(),
        }
    }

    /// Whether every written file is flushed to the disk (`fsync`) before it
    /// takes its name; on by default, because the files are other people's
    /// data. Without it a power cut shortly after a write can leave an empty
    /// or partial file under the item's name on some file systems; with it,
    /// each write waits for the disk: about 0.3 ms more per small file on
    /// the project's 2-core machine (0.03 ms without, when the disk is idle).
    ///
    /// The folder itself is not flushed: after a power cut the last writes
    /// may be lost whole (the old file is still there, or no file), which
    /// the next run repairs, but no file is ever half written.
    #[must_use]
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The collection's folder.
    #[must_use]
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The href a create of an item with this UID writes to.
    #[must_use]
    pub fn href_for_uid(&self, uid: &str) -> Href {
        Href(file_name_for_uid(uid, self.item_type.file_extension()))
    }

    /// The path of an item's file, refusing hrefs that are not plain file
    /// names of this collection (a plan file is input, and `../x.ics` must
    /// never reach the file system).
    fn path_of(&self, href: &Href) -> Result<PathBuf, EndpointError> {
        let name = href.0.as_str();
        if is_item_file_name(name, self.item_type.file_extension()) {
            Ok(self.folder.join(name))
        } else {
            Err(EndpointError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: {name:?} is not the name of an item file of this collection \
                     (a file name ending in .{}, not starting with a dot, in {})",
                    self.label,
                    self.item_type.file_extension(),
                    self.folder.display()
                ),
            ))
        }
    }

    /// An error about a file-system operation on `path`.
    fn io_error(&self, operation: &str, path: &Path, error: &io::Error) -> EndpointError {
        let kind = match error.kind() {
            io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::ResourceBusy => ErrorKind::Transient,
            _ => ErrorKind::Other,
        };
        EndpointError::new(
            kind,
            format!(
                "{}: cannot {operation} {}: {error}",
                self.label,
                path.display()
            ),
        )
    }

    /// An error of `kind` about the file at `path`.
    fn file_error(&self, kind: ErrorKind, path: &Path, reason: &str) -> EndpointError {
        EndpointError::new(
            kind,
            format!("{}: {}: {reason}", self.label, path.display()),
        )
    }

    /// The error for an entry with an item file's name that is not a regular
    /// file (nor a symbolic link to one): it cannot be read, and says what
    /// it is.
    fn not_an_item_file(&self, path: &Path) -> EndpointError {
        self.file_error(
            ErrorKind::Invalid,
            path,
            &format!(
                "{}; only a regular file (or a symbolic link to one) can hold an item",
                describe_entry(path)
            ),
        )
    }

    /// The current metadata of an item's file, for a write that expects it
    /// at `expected`: `DoesNotExist` if it is gone, `PreconditionFailed` if
    /// it changed.
    fn check_version(
        &self,
        path: &Path,
        expected: &Version,
        operation: &str,
    ) -> Result<Metadata, EndpointError> {
        let metadata = match entry_metadata(path) {
            Ok(Some(metadata)) => metadata,
            Ok(None) => {
                return Err(self.file_error(
                    ErrorKind::DoesNotExist,
                    path,
                    &format!("cannot {operation} it: the file does not exist"),
                ));
            }
            Err(error) => return Err(self.io_error(operation, path, &error)),
        };
        let current = version_of(&metadata);
        if current == *expected {
            Ok(metadata)
        } else {
            Err(self.file_error(
                ErrorKind::PreconditionFailed,
                path,
                &format!(
                    "cannot {operation} it: it changed since it was read \
                     (version {expected} was expected, it is now {current})"
                ),
            ))
        }
    }

    /// Writes `text` to a new hidden temporary file beside `target`. When it
    /// replaces a file (`replaced`), its modification time is made strictly
    /// later than that file's, so that the version changes.
    /// With `sync`, the file is flushed to the disk.
    fn write_temp(
        &self,
        target: &Path,
        text: &str,
        replaced: Option<&Metadata>,
        sync: bool,
    ) -> Result<TempFile, EndpointError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = self.folder.join(format!(
            ".{name}.{}.{}.tmp",
            process_id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|error| self.io_error("write", target, &error))?;
        // From here on, dropping `temp` removes the temporary file.
        let mut temp = TempFile {
            path,
            file,
            placed: false,
        };
        let written = temp
            .file
            .write_all(text.as_bytes())
            .and_then(|()| temp.file.flush());
        written.map_err(|error| self.io_error("write", target, &error))?;
        if let Some(replaced) = replaced {
            later_than(&temp.file, replaced)
                .map_err(|error| self.io_error("set the modification time of", target, &error))?;
        }
        if sync {
            temp.file
                .sync_all()
                .map_err(|error| self.io_error("write", target, &error))?;
        }
        Ok(temp)
    }

    /// The version of a file just written, read from its open handle (so it
    /// is the version of what was written, whatever happened to the name
    /// since).
    fn written(&self, href: Href, path: &Path, file: &File) -> Result<Written, EndpointError> {
        let metadata = file
            .metadata()
            .map_err(|error| self.io_error("read the metadata of", path, &error))?;
        Ok(Written {
            href,
            version: version_of(&metadata),
        })
    }

    /// Makes the collection's folder, with its parents, if this value has
    /// not made or seen it yet.
    fn make_folder(&self) -> Result<(), EndpointError> {
        if self.folder_made.get().is_none() {
            fs::create_dir_all(&self.folder)
                .map_err(|error| self.io_error("create the folder", &self.folder, &error))?;
            let _ = self.folder_made.set(());
        }
        Ok(())
    }

    /// Removes, once per value (so once per collection and apply), the
    /// temporary files that snapsync processes no longer running left in
    /// the folder (see the module docs). Called before the first write:
    /// a plan never writes. Failures are logged, never fatal: a leftover
    /// only takes room.
    fn remove_leftover_temp_files(&self) {
        if self.leftovers_removed.set(()).is_err() {
            return;
        }
        let Ok(entries) = fs::read_dir(&self.folder) else {
            return;
        };
        let extension = self.item_type.file_extension();
        let own = process_id();
        let mut removed = 0u64;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(pid) = file_name
                .to_str()
                .and_then(|name| temp_file_process(name, extension))
            else {
                continue;
            };
            if pid == own
                || process_is_running(pid)
                || !entry.file_type().is_ok_and(|t| t.is_file())
            {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => tracing::warn!(
                    collection = %self.label,
                    file = %entry.path().display(),
                    %error,
                    "cannot remove a temporary file an interrupted run left behind"
                ),
            }
        }
        if removed > 0 {
            tracing::info!(
                collection = %self.label,
                removed,
                "removed temporary files that interrupted snapsync runs left behind"
            );
        }
    }

    /// Writes a new item under a temporary name beside the name it will
    /// take; with `sync`, flushed to the disk.
    fn stage(&self, item: &Item, sync: bool) -> Result<Staged, EndpointError> {
        self.check_item_type(item)?;
        let href = self.href_for_uid(item.uid());
        let path = self.folder.join(&href.0);
        let temp = self.write_temp(&path, &item.to_text(), None, sync)?;
        Ok(Staged {
            uid: item.uid().to_string(),
            href,
            path,
            temp,
        })
    }

    /// Gives a staged file its item's name, unless a file has that name.
    fn place_new(&self, staged: Staged) -> Result<Written, EndpointError> {
        let Staged {
            uid,
            href,
            path,
            mut temp,
        } = staged;
        let exists = || {
            self.file_error(
                ErrorKind::Exists,
                &path,
                &format!("cannot create item {uid}: the file already exists"),
            )
        };
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            use rustix::io::Errno;
            match renameat_with(CWD, &temp.path, CWD, &path, RenameFlags::NOREPLACE) {
                Ok(()) => {
                    temp.placed = true;
                    return self.written(href, &path, &temp.file);
                }
                Err(Errno::EXIST) => return Err(exists()),
                // A file system without RENAME_NOREPLACE: a hard link, below.
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
                Err(errno) => return Err(self.io_error("create", &path, &io::Error::from(errno))),
            }
        }
        // A hard link fails if the name is taken: create-only.
        match fs::hard_link(&temp.path, &path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Err(exists()),
            Err(error) => {
                // Some file systems (FAT, some network shares) have no hard
                // links: fall back to check-then-rename.
                tracing::debug!(
                    file = %path.display(),
                    %error,
                    "hard link refused, renaming instead"
                );
                if fs::symlink_metadata(&path).is_ok() {
                    return Err(exists());
                }
                fs::rename(&temp.path, &path)
                    .map_err(|error| self.io_error("create", &path, &error))?;
                temp.placed = true;
            }
        }
        self.written(href, &path, &temp.file)
    }

    /// Reads and parses one item's file.
    fn fetch_one(&self, href: &Href) -> FetchResult {
        let path = self.path_of(href)?;
        // The version must be that of the bytes read: compare the metadata
        // of the open file before and after reading it, and read again once
        // if another program wrote to it meanwhile.
        for _ in 0..2 {
            let mut file = match open_for_reading(&path) {
                Ok(file) => file,
                // A symbolic link that leads nowhere is there, unreadable.
                Err(_) if is_broken_link(&path) => {
                    return Err(self.not_an_item_file(&path));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(self.file_error(
                        ErrorKind::DoesNotExist,
                        &path,
                        "the file does not exist (deleted since it was listed?)",
                    ));
                }
                Err(error) => return Err(self.io_error("read", &path, &error)),
            };
            let before = file
                .metadata()
                .map_err(|error| self.io_error("read", &path, &error))?;
            if !before.is_file() {
                return Err(self.not_an_item_file(&path));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(before.len()).unwrap_or(0));
            file.read_to_end(&mut bytes)
                .map_err(|error| self.io_error("read", &path, &error))?;
            let after = file
                .metadata()
                .map_err(|error| self.io_error("read", &path, &error))?;
            let version = version_of(&after);
            if version == version_of(&before) {
                let item = self.parse(&path, bytes)?;
                return Ok(Fetched {
                    href: href.clone(),
                    version,
                    item,
                });
            }
        }
        Err(self.file_error(
            ErrorKind::Transient,
            &path,
            "the file changed while it was read, twice in a row",
        ))
    }

    /// The one item a file holds.
    fn parse(&self, path: &Path, bytes: Vec<u8>) -> Result<Item, EndpointError> {
        let text = String::from_utf8(bytes).map_err(|error| {
            self.file_error(
                ErrorKind::Invalid,
                path,
                &format!(
                    "is not UTF-8 text (invalid byte at offset {})",
                    error.utf8_error().valid_up_to()
                ),
            )
        })?;
        super::parse_one(&text, self.item_type, "a vdir file")
            .map_err(|reason| self.file_error(ErrorKind::Invalid, path, &reason))
    }

    /// Refuses an item this collection must not hold.
    fn check_item_type(&self, item: &Item) -> Result<(), EndpointError> {
        super::check_item_type(&self.label, self.item_type, item)
    }
}

impl Collection for VdirCollection {
    fn item_type(&self) -> ItemType {
        self.item_type
    }

    fn href_of_new(&self, uid: &str) -> Option<Href> {
        Some(self.href_for_uid(uid))
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn list(&self) -> Result<Vec<Listing>, EndpointError> {
        let entries = match fs::read_dir(&self.folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(self.io_error("list", &self.folder, &error)),
        };
        let extension = self.item_type.file_extension();
        let mut listing = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| self.io_error("list", &self.folder, &error))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                tracing::warn!(
                    collection = %self.label,
                    file = %entry.path().display(),
                    "skipping a file whose name is not UTF-8"
                );
                continue;
            };
            if !is_item_file_name(name, extension) {
                continue;
            }
            // Follows symbolic links to regular files, as reading the file
            // will. Any other entry (a dangling link, a folder) is listed
            // too, and its fetch fails: an item that cannot be read must
            // not look deleted.
            let metadata = match entry_metadata(&entry.path()) {
                Ok(Some(metadata)) => metadata,
                // Deleted since the folder was read.
                Ok(None) => continue,
                Err(error) => return Err(self.io_error("read", &entry.path(), &error)),
            };
            listing.push(Listing {
                href: Href(name.to_string()),
                version: version_of(&metadata),
                meta: None,
            });
        }
        listing.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(listing)
    }

    fn fetch(&self, hrefs: &[Href]) -> Result<Vec<FetchResult>, EndpointError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(MAX_FETCH_THREADS);
        if hrefs.len() < PARALLEL_FETCH_MIN || threads < 2 {
            return Ok(hrefs.iter().map(|href| self.fetch_one(href)).collect());
        }
        // Parsing costs more than reading: spread both over the cores.
        let chunk = hrefs.len().div_ceil(threads);
        let results = std::thread::scope(|scope| {
            let workers: Vec<_> = hrefs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|href| self.fetch_one(href))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut results = Vec::with_capacity(hrefs.len());
            for worker in workers {
                match worker.join() {
                    Ok(part) => results.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            results
        });
        Ok(results)
    }

    fn create(&self, item: &Item) -> Result<Written, EndpointError> {
        self.create_all(&[item])
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(EndpointError::new(ErrorKind::Other, "nothing was written")))
    }

    fn create_all(&self, items: &[&Item]) -> Vec<Result<Written, EndpointError>> {
        if let Err(error) = self.make_folder() {
            return items.iter().map(|_| Err(error.clone())).collect();
        }
        self.remove_leftover_temp_files();
        // One flush for a batch; a single file flushes itself.
        let batch_sync = self.fsync && items.len() > 1 && cfg!(target_os = "linux");
        let mut results: Vec<Option<Result<Written, EndpointError>>> =
            items.iter().map(|_| None).collect();
        let mut staged = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match self.stage(item, self.fsync && !batch_sync) {
                Ok(file) => staged.push((index, file)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        if batch_sync
            && let Some((_, first)) = staged.first()
            && let Err(error) = sync_file_system(&first.temp.file)
        {
            let error = self.io_error("flush to the disk the new files in", &self.folder, &error);
            // Dropping the staged files removes them: nothing half written
            // takes an item's name.
            for (index, _) in staged.drain(..) {
                results[index] = Some(Err(error.clone()));
            }
        }
        for (index, file) in staged {
            results[index] = Some(self.place_new(file));
        }
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(EndpointError::new(ErrorKind::Other, "nothing was written"))
                })
            })
            .collect()
    }

    fn update(
        &self,
        href: &Href,
        version: &Version,
        item: &Item,
    ) -> Result<Written, EndpointError> {
        self.check_item_type(item)?;
        let path = self.path_of(href)?;
        self.remove_leftover_temp_files();
        let current = self.check_version(&path, version, "update")?;
        if current.is_dir() {
            // A rename cannot put a file in a folder's place.
            return Err(self.file_error(
                ErrorKind::Invalid,
                &path,
                "cannot update it: it is a folder, which snapsync does not replace \
                 (move it away, and the next apply writes the item)",
            ));
        }
        let mut temp = self.write_temp(&path, &item.to_text(), Some(&current), self.fsync)?;
        // Check again right before the rename: it narrows the window in which
        // another program's change could be overwritten.
        self.check_version(&path, version, "update")?;
        fs::rename(&temp.path, &path).map_err(|error| self.io_error("write", &path, &error))?;
        temp.placed = true;
        let written = self.written(href.clone(), &path, &temp.file);
        drop(temp);
        written
    }

    fn delete(&self, href: &Href, version: &Version) -> Result<(), EndpointError> {
        let path = self.path_of(href)?;
        self.remove_leftover_temp_files();
        if !self.check_version(&path, version, "delete")?.is_file() {
            // Not an item file snapsync could have read: left alone.
            return Err(self.not_an_item_file(&path));
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(self.file_error(
                ErrorKind::DoesNotExist,
                &path,
                "cannot delete it: the file does not exist",
            )),
            Err(error) => Err(self.io_error("delete", &path, &error)),
        }
    }
}

/// Whether `name` names an item file: ends in `.{extension}` after a
/// non-empty stem, is not hidden (temporary files are), and is a single
/// path component.
fn is_item_file_name(name: &str, extension: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(extension)
        .and_then(|rest| rest.strip_suffix('.'))
    else {
        return false;
    };
    !stem.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0'])
}

/// The metadata that gives an entry's version: the file's (through a
/// symbolic link to it) when it is a regular file, else the entry's own (a
/// dangling link, a folder, a named pipe, a link to a folder). `None` when
/// there is no entry.
fn entry_metadata(path: &Path) -> io::Result<Option<Metadata>> {
    let followed = match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(Some(metadata)),
        Ok(_) => None,
        Err(error) => Some(error),
    };
    match (fs::symlink_metadata(path), followed) {
        (Ok(own), None) => Ok(Some(own)),
        // A link that cannot be followed (dangling, looping) is an entry.
        (Ok(own), Some(_)) if own.is_symlink() => Ok(Some(own)),
        (Err(error), _) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        (Ok(_), Some(error)) | (Err(error), _) => Err(error),
    }
}

/// Whether `path` is a symbolic link that cannot be followed.
fn is_broken_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|own| own.is_symlink()) && fs::metadata(path).is_err()
}

/// Opens a file for reading, without waiting for a writer if it is a named
/// pipe (the caller refuses anything but a regular file).
fn open_for_reading(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nonblock = rustix::fs::OFlags::NONBLOCK.bits();
        options.custom_flags(i32::try_from(nonblock).unwrap_or(0));
    }
    options.open(path)
}

/// What an entry that is not a regular file is, for messages
/// (`is a symbolic link to /mnt/gone/x.ics, which does not exist`).
fn describe_entry(path: &Path) -> String {
    let Ok(own) = fs::symlink_metadata(path) else {
        return "is not a regular file".to_owned();
    };
    if !own.is_symlink() {
        return format!("is {}", kind_of(&own));
    }
    let target = fs::read_link(path).map_or_else(
        |_| "a path that cannot be read".to_owned(),
        |target| target.display().to_string(),
    );
    match fs::metadata(path) {
        Ok(metadata) => format!(
            "is a symbolic link to {target}, which is {}",
            kind_of(&metadata)
        ),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            format!("is a symbolic link to {target}, which does not exist (a dangling link)")
        }
        Err(error) => format!("is a symbolic link to {target}, which cannot be followed: {error}"),
    }
}

/// The kind of file `metadata` describes, with an article (`a folder`).
fn kind_of(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_file() {
        return "a regular file";
    }
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}

/// A file's version: see the module docs.
fn version_of(metadata: &Metadata) -> Version {
    let (sign, since_epoch) = match metadata.modified() {
        Ok(modified) => match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => ("", after),
            Err(before) => ("-", before.duration()),
        },
        Err(_) => ("", Duration::ZERO),
    };
    Version(format!(
        "{sign}{}.{:09}-{}-{}",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos(),
        metadata.len(),
        inode(metadata)
    ))
}

#[cfg(unix)]
fn inode(metadata: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_metadata: &Metadata) -> u64 {
    0
}

/// The process id in the name of a temporary file snapsync writes in a
/// collection of `extension` files (`.{item file name}.{pid}.{counter}.tmp`),
/// or `None` when `name` is not one.
fn temp_file_process(name: &str, extension: &str) -> Option<u32> {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, counter) = rest.rsplit_once('.')?;
    let (item, pid) = rest.rsplit_once('.')?;
    if !digits(counter) || !digits(pid) || !is_item_file_name(item, extension) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this id runs on this host. Without `/proc`,
/// every process counts as running, so no leftover is ever removed.
fn process_is_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// This process's id, for temporary file names (asked once).
fn process_id() -> u32 {
    static ID: OnceLock<u32> = OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// Flushes to the disk everything written to the file system that holds
/// `file`: one call for a batch of new files.
#[cfg(target_os = "linux")]
fn sync_file_system(file: &File) -> io::Result<()> {
    rustix::fs::syncfs(file).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn sync_file_system(file: &File) -> io::Result<()> {
    file.sync_all()
}

/// Makes `file`'s modification time strictly later than `replaced`'s.
fn later_than(file: &File, replaced: &Metadata) -> io::Result<()> {
    let Ok(old) = replaced.modified() else {
        return Ok(());
    };
    for step in MTIME_STEPS {
        if file.metadata()?.modified()? > old {
            return Ok(());
        }
        file.set_modified(old + step)?;
    }
    // A file system that keeps none of the steps: the inode still changed.
    Ok(())
}

/// A temporary file being written; its name is removed when dropped,
/// unless the file was renamed to its item's name (`placed`). After a hard
/// link, its second name goes.
struct TempFile {
    path: PathBuf,
    file: File,
    placed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(
                file = %self.path.display(),
                %error,
                "cannot remove a temporary file"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
