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

/// A store that cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened or created.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The folder for a new store cannot be created.
    #[error("cannot create the folder {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
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
    #[error("{}: {source}", path.display())]
    Sql {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Wraps a SQLite error of the store at `path`.
    pub fn sql(path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sql {
            path: path.to_owned(),
            source,
        }
    }

    /// Whether the store was busy (locked by another process) rather than
    /// broken: worth a retry.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        let (StoreError::Open { source, .. } | StoreError::Sql { source, .. }) = self else {
            return false;
        };
        matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// Opens (creating it and its folder if needed) the store at `path` and
/// brings its schema up to date with `migrations`.
///
/// # Errors
/// The file cannot be opened, is not a SQLite database, was written by a
/// newer release, or a migration fails.
pub fn open(path: &Path, migrations: &[&str]) -> Result<Connection, StoreError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
            path: folder.to_owned(),
            source,
        })?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    configure(&conn).map_err(StoreError::sql(path))?;
    migrate(&conn, path, migrations)?;
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
pub fn open_read_only(path: &Path, migrations: &[&str]) -> Result<Option<Connection>, StoreError> {
    // When the file's existence cannot be told, opening it reports why.
    if matches!(path.try_exists(), Ok(false)) {
        return Ok(None);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(StoreError::sql(path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(StoreError::sql(path))?;
    // A file whose first migration never committed (a process killed while
    // it created the store) holds nothing: it reads as no store at all,
    // else every dry run, and the plan of every apply, would refuse it.
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(StoreError::sql(path))?;
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
pub fn open_read_only_or_empty(path: &Path, migrations: &[&str]) -> Result<Connection, StoreError> {
    let conn = if let Some(conn) = open_read_only(path, migrations)? {
        conn
    } else {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        for migration in migrations {
            conn.execute_batch(migration)
                .map_err(StoreError::sql(path))?;
        }
        conn
    };
    conn.pragma_update(None, "query_only", true)
        .map_err(StoreError::sql(path))?;
    Ok(conn)
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

fn migrate(conn: &Connection, path: &Path, migrations: &[&str]) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(StoreError::sql(path))?;
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
            return Err(StoreError::Sql {
                path: path.to_owned(),
                source,
            });
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
        let conn = open(&path, &[V1]).unwrap();
        conn.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
        drop(conn);
        let conn = open(&path, &[V1, V2]).unwrap();
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
        drop(open(&path, &[V1, V2]).unwrap());
        let err = open(&path, &[V1]).unwrap_err();
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
        drop(open(&path, &[V1]).unwrap());
        let err = open(&path, &[V1, "ALTER TABLE missing ADD COLUMN c;"]).unwrap_err();
        assert!(matches!(err, StoreError::Sql { .. }), "{err:?}");
        let conn = open(&path, &[V1]).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
    }

    #[test]
    fn read_only_opening_creates_and_migrates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.sqlite");
        assert!(open_read_only(&path, &[V1]).unwrap().is_none());
        assert!(!path.exists() && !path.parent().unwrap().exists());

        drop(open(&path, &[V1]).unwrap());
        let conn = open_read_only(&path, &[V1]).unwrap().unwrap();
        let err = conn
            .execute("INSERT INTO t (a) VALUES (1)", [])
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly),
            "{err}"
        );
        drop(conn);

        let err = open_read_only(&path, &[V1, V2]).unwrap_err();
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
        let err = open_read_only(&path, &[]).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
        // Still at version 1: the refused reads migrated nothing.
        drop(open_read_only(&path, &[V1]).unwrap().unwrap());
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
        assert!(open_read_only(&path, &[V1]).unwrap().is_none());
        drop(open(&path, &[V1]).unwrap());
        assert!(open_read_only(&path, &[V1]).unwrap().is_some());

        // Version 0 with tables is someone else's database: still refused.
        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE theirs (x)")
            .unwrap();
        let err = open_read_only(&other, &[V1]).unwrap_err();
        assert!(
            matches!(err, StoreError::Outdated { found: 0, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        std::fs::write(&path, "this is not a database, but it is long enough to look like one....................................................").unwrap();
        let err = open(&path, &[V1]).unwrap_err();
        assert!(err.to_string().contains("store.sqlite"), "{err}");
    }
}
