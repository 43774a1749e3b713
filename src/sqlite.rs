//! Opening the embedded SQLite stores (the CRM store and the state store):
//! one file each, in WAL mode, with schema migrations from the first release.
//!
//! A migration is a batch of SQL; the file's `user_version` counts those
//! applied. Migrations are only ever appended: a released one never changes,
//! so a store written by any earlier release opens with this one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a statement waits for another process's write lock before it
/// fails as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which store a file is. What is safe to do with a damaged one differs:
/// the state store can be rebuilt by the next runs, the CRM store cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The CRM store: the CRM's users and items.
    Crm,
    /// The state store: what the runner remembers between runs.
    State,
}

impl StoreKind {
    /// The store's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Crm => "CRM store",
            StoreKind::State => "state store",
        }
    }

    /// What to do when the store at `path` is damaged (DESIGN 2.5 for the
    /// state store).
    fn advice(self, path: &Path) -> String {
        let path = path.display();
        match self {
            StoreKind::State => format!(
                "it is safe to move it aside and let the next apply start a new one: \
                 `mv {path} {path}.damaged` (and its -wal and -shm files, if any). \
                 Nothing gets duplicated (items are matched by UID), but the runner forgets \
                 what it synced: items deleted at the source since their last sync show as \
                 orphans (kept, or deleted with `orphans: delete`) instead of deletes, pending \
                 outbound flags and the run history are lost"
            ),
            StoreKind::Crm => format!(
                "it holds the CRM's own items: do not delete it or move it aside unless you \
                 accept losing them (a new, empty CRM store would take its place). Restore it \
                 from a backup, or salvage what SQLite can still read: \
                 `sqlite3 {path} .recover | sqlite3 {path}.recovered`, then check the result \
                 and use it with --crm"
            ),
        }
    }
}

/// A store that cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened or created.
    #[error("cannot open {}: {cause}", path.display())]
    Open {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said (shown once: not chained as a source, whose
        /// own message would repeat it).
        cause: rusqlite::Error,
    },
    /// The file is damaged, or is not a SQLite database at all.
    #[error(
        "the {} {} is damaged or is not a database (SQLite: {detail})\n  hint: {}",
        kind.name(),
        path.display(),
        kind.advice(path)
    )]
    Damaged {
        /// Which store.
        kind: StoreKind,
        /// The store's file.
        path: PathBuf,
        /// What SQLite said, once.
        detail: String,
    },
    /// The folder for a new store cannot be created.
    #[error("cannot create the folder {}: {cause}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said (shown once, as for `Open`).
        cause: std::io::Error,
    },
    /// The file was written by a newer snapsync.
    #[error(
        "{} has schema version {found}, but this snapsync knows only up to {known}; upgrade snapsync",
        path.display()
    )]
    TooNew {
        /// The store's file.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// The newest this build knows.
        known: usize,
    },
    /// The file was written by an older snapsync and needs migrations that
    /// only a command allowed to write may run.
    #[error(
        "{} has schema version {found}, older than this snapsync's {known}; \
         a command that writes (such as `snapsync apply`) upgrades it",
        path.display()
    )]
    Outdated {
        /// The store's file.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// The version this build writes.
        known: usize,
    },
    /// A statement failed.
    #[error("{}: {cause}", path.display())]
    Sql {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said (shown once, as for `Open`).
        cause: rusqlite::Error,
    },
}

impl StoreError {
    /// Wraps a SQLite error of the `kind` store at `path`: a damaged file
    /// becomes [`StoreError::Damaged`], with what to do about it.
    pub fn sql(kind: StoreKind, path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |cause| {
            StoreError::damaged(kind, path, &cause).unwrap_or_else(|| StoreError::Sql {
                path: path.to_owned(),
                cause,
            })
        }
    }

    /// The [`StoreError::Damaged`] that `error` of the `kind` store at `path`
    /// means, if it means that the file is damaged or is not a database.
    #[must_use]
    pub fn damaged(kind: StoreKind, path: &Path, error: &rusqlite::Error) -> Option<StoreError> {
        let rusqlite::Error::SqliteFailure(failure, message) = error else {
            return None;
        };
        // The message alone: the code's description would repeat it.
        matches!(
            failure.code,
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
        )
        .then(|| StoreError::Damaged {
            kind,
            path: path.to_owned(),
            detail: message.clone().unwrap_or_else(|| failure.to_string()),
        })
    }

    /// As [`StoreError::sql`], for a file that cannot be opened.
    fn open(kind: StoreKind, path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |cause| match StoreError::sql(kind, path)(cause) {
            StoreError::Sql { path, cause } => StoreError::Open { path, cause },
            other => other,
        }
    }

    /// Whether the store was busy (locked by another process) rather than
    /// broken: worth a retry.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        let (StoreError::Open { cause, .. } | StoreError::Sql { cause, .. }) = self else {
            return false;
        };
        matches!(
            cause.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    /// Whether the file is damaged (see [`StoreError::Damaged`]).
    #[must_use]
    pub fn is_damaged(&self) -> bool {
        matches!(self, StoreError::Damaged { .. })
    }
}

/// Opens (creating it and its folder if needed) the store at `path` and
/// brings its schema up to date with `migrations`.
///
/// # Errors
/// The file cannot be opened, is not a SQLite database, was written by a
/// newer release, or a migration fails.
pub fn open(kind: StoreKind, path: &Path, migrations: &[&str]) -> Result<Connection, StoreError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|cause| StoreError::Folder {
            path: folder.to_owned(),
            cause,
        })?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    check_length(kind, path)?;
    let conn = Connection::open_with_flags(path, flags).map_err(StoreError::open(kind, path))?;
    configure(&conn).map_err(StoreError::sql(kind, path))?;
    migrate(&conn, kind, path, migrations)?;
    Ok(conn)
}

/// Opens the store at `path` for reading only, for commands that must not
/// write (a dry run): nothing is created, migrated or changed. `None` when
/// nothing was ever recorded: there is no file yet, or an empty one.
///
/// # Errors
/// The file cannot be opened or is not a SQLite database, or its schema is
/// not exactly the one `migrations` leads to (newer, or older and not yet
/// upgraded).
pub fn open_read_only(
    kind: StoreKind,
    path: &Path,
    migrations: &[&str],
) -> Result<Option<Connection>, StoreError> {
    // When the file's existence cannot be told, opening it reports why.
    if matches!(path.try_exists(), Ok(false)) {
        return Ok(None);
    }
    check_length(kind, path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(StoreError::open(kind, path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(StoreError::sql(kind, path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(StoreError::sql(kind, path))?;
    // A file whose first migration never committed (a process killed while
    // it created the store) holds nothing: it reads as no store at all,
    // else every dry run, and the plan of every apply, would refuse it.
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(StoreError::sql(kind, path))?;
        if objects == 0 {
            return Ok(None);
        }
    }
    let known = migrations.len();
    match usize::try_from(version) {
        Ok(v) if v == known => Ok(Some(conn)),
        Ok(v) if v < known => Err(StoreError::Outdated {
            path: path.to_owned(),
            found: version,
            known,
        }),
        _ => Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        }),
    }
}

/// Like [`open_read_only`], but a store that does not exist yet reads as an
/// empty one (in memory, with the current schema). Writes fail either way
/// (`query_only`), so a dry run cannot change anything by mistake.
///
/// # Errors
/// As [`open_read_only`].
pub fn open_read_only_or_empty(
    kind: StoreKind,
    path: &Path,
    migrations: &[&str],
) -> Result<Connection, StoreError> {
    let conn = if let Some(conn) = open_read_only(kind, path, migrations)? {
        conn
    } else {
        let conn = Connection::open_in_memory().map_err(StoreError::open(kind, path))?;
        for migration in migrations {
            conn.execute_batch(migration)
                .map_err(StoreError::sql(kind, path))?;
        }
        conn
    };
    conn.pragma_update(None, "query_only", true)
        .map_err(StoreError::sql(kind, path))?;
    Ok(conn)
}

/// A file cut short (a partial copy or restore, a full disk) can still open,
/// and fail only at the first page read past its end, in the middle of a
/// plan: its header says how long it must be, so compare that first.
/// The length is read before the header, so that a checkpoint that shrinks
/// the file in between cannot make a sound file look short; and the check
/// is skipped while a write-ahead log is in use (see below).
fn check_length(kind: StoreKind, path: &Path) -> Result<(), StoreError> {
    use std::io::Read as _;
    let damaged = |detail: String| StoreError::Damaged {
        kind,
        path: path.to_owned(),
        detail,
    };
    // A write-ahead log beside the file means another connection may be
    // checkpointing now: it writes the header's new size before the pages
    // that make the file that long, so a sound store would look cut short.
    // The check is only for a store at rest (a copy, a restore).
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let Ok(length) = std::fs::metadata(path).map(|m| m.len()) else {
        return Ok(());
    };
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut header));
    if read.is_err() || !header.starts_with(b"SQLite format 3\0") {
        // Not a database, or an empty file: SQLite itself says which.
        return Ok(());
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let pages = u64::from(be32(28));
    // The size in the header counts only when it is marked as current.
    if pages == 0 || be32(24) != be32(92) {
        return Ok(());
    }
    let expected = pages * page_size;
    if length < expected {
        return Err(damaged(format!(
            "the file has {length} bytes, but its header says {expected}: it was cut short"
        )));
    }
    Ok(())
}

/// WAL lets readers go on while one process writes; `synchronous=NORMAL` in
/// WAL mode keeps every commit atomic and durable across a process crash
/// (only a power loss can drop the last commits, never corrupt the file).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 64 MiB of page cache (the default is 2 MiB): indexes of 100,000 items
    // stay in memory instead of being read back page by page.
    conn.pragma_update(None, "cache_size", -65_536)?;
    Ok(())
}

fn migrate(
    conn: &Connection,
    kind: StoreKind,
    path: &Path,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(StoreError::sql(kind, path))?;
    let applied = usize::try_from(version).unwrap_or(usize::MAX);
    if applied > migrations.len() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known: migrations.len(),
        });
    }
    for (index, migration) in migrations.iter().enumerate().skip(applied) {
        // Each migration and its version bump commit together, so a crash
        // mid-upgrade leaves the store at the previous version.
        let batch = format!(
            "BEGIN IMMEDIATE;\n{migration}\nPRAGMA user_version = {};\nCOMMIT;",
            index + 1
        );
        if let Err(source) = conn.execute_batch(&batch) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(StoreError::sql(kind, path)(source));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE t (a INTEGER);";
    const V2: &str = "ALTER TABLE t ADD COLUMN b TEXT;";

    #[test]
    fn migrations_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.sqlite");
        let conn = open(StoreKind::State, &path, &[V1]).unwrap();
        conn.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
        drop(conn);
        let conn = open(StoreKind::State, &path, &[V1, V2]).unwrap();
        let (a, b): (i64, Option<String>) = conn
            .query_row("SELECT a, b FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((a, b), (1, None));
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_store_from_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        drop(open(StoreKind::State, &path, &[V1, V2]).unwrap());
        let err = open(StoreKind::State, &path, &[V1]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::TooNew {
                found: 2,
                known: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("upgrade snapsync"), "{err}");
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        drop(open(StoreKind::State, &path, &[V1]).unwrap());
        let err = open(
            StoreKind::State,
            &path,
            &[V1, "ALTER TABLE missing ADD COLUMN c;"],
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Sql { .. }), "{err:?}");
        let conn = open(StoreKind::State, &path, &[V1]).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
    }

    #[test]
    fn read_only_opening_creates_and_migrates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.sqlite");
        assert!(
            open_read_only(StoreKind::State, &path, &[V1])
                .unwrap()
                .is_none()
        );
        assert!(!path.exists() && !path.parent().unwrap().exists());

        drop(open(StoreKind::State, &path, &[V1]).unwrap());
        let conn = open_read_only(StoreKind::State, &path, &[V1])
            .unwrap()
            .unwrap();
        let err = conn
            .execute("INSERT INTO t (a) VALUES (1)", [])
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly),
            "{err}"
        );
        drop(conn);

        let err = open_read_only(StoreKind::State, &path, &[V1, V2]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Outdated {
                    found: 1,
                    known: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("store.sqlite"), "{err}");
        let err = open_read_only(StoreKind::State, &path, &[]).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
        // Still at version 1: the refused reads migrated nothing.
        drop(
            open_read_only(StoreKind::State, &path, &[V1])
                .unwrap()
                .unwrap(),
        );
    }

    #[test]
    fn a_store_whose_creation_was_cut_short_reads_as_none_and_opens_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        // What a process killed between creating the file and committing
        // the first migration leaves: a database at version 0, no tables.
        let path = dir.path().join("store.sqlite");
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        drop(conn);
        assert!(path.exists());
        assert!(
            open_read_only(StoreKind::State, &path, &[V1])
                .unwrap()
                .is_none()
        );
        drop(open(StoreKind::State, &path, &[V1]).unwrap());
        assert!(
            open_read_only(StoreKind::State, &path, &[V1])
                .unwrap()
                .is_some()
        );

        // Version 0 with tables is someone else's database: still refused.
        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE theirs (x)")
            .unwrap();
        let err = open_read_only(StoreKind::State, &other, &[V1]).unwrap_err();
        assert!(
            matches!(err, StoreError::Outdated { found: 0, .. }),
            "{err:?}"
        );
    }

    /// A store of a few hundred pages, closed (its WAL checkpointed).
    fn store_of_many_pages(path: &Path) {
        let conn = open(StoreKind::State, path, &[V1, V2]).unwrap();
        let text = "x".repeat(1000);
        for a in 0..1000 {
            conn.execute(
                "INSERT INTO t (a, b) VALUES (?1, ?2)",
                rusqlite::params![a, text],
            )
            .unwrap();
        }
    }

    /// A store of many pages at `path`, cut to half its length; returns the
    /// length it had.
    fn cut_short_store(path: &Path) -> u64 {
        store_of_many_pages(path);
        let length = std::fs::metadata(path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(length / 2)
            .unwrap();
        length
    }

    #[test]
    fn the_length_check_waits_while_a_write_ahead_log_is_in_use() {
        // A checkpoint in another process writes the header's new size
        // before the pages that make the file that long: with a log beside
        // it, a short file is not called damaged.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        cut_short_store(&path);
        assert!(check_length(StoreKind::State, &path).is_err());
        std::fs::write(dir.path().join("store.sqlite-wal"), b"log").unwrap();
        assert!(check_length(StoreKind::State, &path).is_ok());
    }

    #[test]
    fn a_damaged_store_says_which_store_it_is_and_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        std::fs::write(&path, vec![0xA5_u8; 8192]).unwrap();
        let err = open(StoreKind::State, &path, &[V1]).unwrap_err();
        assert!(err.is_damaged(), "{err:?}");
        // Not chained: a caller that prints the chain says it once.
        assert!(std::error::Error::source(&err).is_none());
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "the state store {} is damaged or is not a database (SQLite: file is not a \
                 database)\n  hint: it is safe to move it aside",
                path.display()
            )),
            "{text}"
        );
        let err = open_read_only(StoreKind::Crm, &path, &[V1]).unwrap_err();
        assert!(
            err.to_string()
                .contains("\n  hint: it holds the CRM's own items"),
            "{err}"
        );

        // Cut short: refused on opening, before any page past the end is read.
        std::fs::remove_file(&path).unwrap();
        let length = cut_short_store(&path);
        for err in [
            open(StoreKind::State, &path, &[V1, V2]).unwrap_err(),
            open_read_only(StoreKind::State, &path, &[V1, V2]).unwrap_err(),
        ] {
            assert!(
                err.to_string().contains(&format!(
                    "(SQLite: the file has {} bytes, but its header says {length}: it was cut short)",
                    length / 2
                )),
                "{err}"
            );
        }

        // A damaged page deep inside: found by the query that reads it.
        std::fs::remove_file(&path).unwrap();
        store_of_many_pages(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle - 8192..middle + 8192].fill(0xA5);
        std::fs::write(&path, bytes).unwrap();
        let conn = open_read_only(StoreKind::State, &path, &[V1, V2])
            .unwrap()
            .unwrap();
        let cause = conn
            .query_row("SELECT count(*), sum(length(b)) FROM t", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_err();
        let err = StoreError::sql(StoreKind::State, &path)(cause);
        assert!(err.is_damaged(), "{err:?}");
        assert_eq!(err.to_string().matches("malformed").count(), 1, "{err}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        std::fs::write(&path, "this is not a database, but it is long enough to look like one....................................................").unwrap();
        let err = open(StoreKind::State, &path, &[V1]).unwrap_err();
        assert!(err.to_string().contains("store.sqlite"), "{err}");
    }
}
