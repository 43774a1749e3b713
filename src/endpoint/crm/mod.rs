//! The CRM store: the home system's users and their schedule items, tasks
//! and contacts, in one SQLite file (the embedded default).
//!
//! Words used here:
//! - **user**: a CRM user, named as links name them (`user: jdoe`).
//! - **collection**: one user's items of one type; an [`CrmCollection`].
//! - **href**: in the CRM, an item's UID (unique per user and type).
//! - **revision**: the item's version, a number taken from a store-wide
//!   counter on every write, so it never comes back after a delete and
//!   re-create.
//!
//! Each item is kept as its deterministic iCalendar / vCard text, with the
//! fields the filters read in indexed columns (see [`crate::item::meta`]), so
//! a listing never parses an item.

mod export;
mod import;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};

pub use export::{ExportProblem, ExportReport, export, export_folder};
pub use import::{ImportProblem, ImportReport, ImportSource, import, import_sources};

use super::{
    Collection, EndpointError, ErrorKind, FetchResult, Fetched, Href, Listing, Version, Written,
};
use crate::item::{
    ContentHash, Item, ItemDates, ItemMeta, ItemTime, ItemType, RecurrenceEnd, parse_calendar,
    parse_vcards,
};
use crate::sqlite::{self, StoreError, StoreKind};

/// The schema, one entry per release that changed it. Never edit an entry
/// once released; append a new one.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE users (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- The store-wide revision counter (one row).
CREATE TABLE revision (next INTEGER NOT NULL);
INSERT INTO revision (next) VALUES (1);

CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    item_type      TEXT NOT NULL CHECK (item_type IN ('scheduleItems', 'tasks', 'contacts')),
    uid            TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    content_hash   BLOB NOT NULL,
    label          TEXT,
    -- The dates the filters read: the value with its nature (ItemTime::encode)
    -- and an index key in seconds (floating times and dates read as UTC).
    modified       INTEGER,
    start          TEXT,
    start_key      INTEGER,
    due            TEXT,
    due_key        INTEGER,
    -- Recurring schedule items only: 'unbounded' or the last start.
    recurrence_end TEXT,
    body           TEXT NOT NULL,
    UNIQUE (user_id, item_type, uid)
);
CREATE INDEX items_by_modified ON items (user_id, item_type, modified);
CREATE INDEX items_by_start ON items (user_id, item_type, start_key);
CREATE INDEX items_by_due ON items (user_id, item_type, due_key);
"];

/// The CRM store, shared by the collections opened from it.
#[derive(Clone)]
pub struct CrmStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

/// A user and how many items of each type the store holds for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user's name.
    pub name: String,
    /// Item counts by type (types without items are absent).
    pub counts: HashMap<ItemType, u64>,
}

/// What storing one item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The UID was new.
    Created,
    /// The UID was there with other content.
    Updated,
    /// The UID was there with the same content hash: nothing written.
    Unchanged,
}

impl CrmStore {
    /// Opens the store at `path`, creating it (and its folder) if needed.
    ///
    /// # Errors
    /// The file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<CrmStore, StoreError> {
        let conn = sqlite::open(StoreKind::Crm, path, MIGRATIONS)?;
        Ok(CrmStore {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens the store at `path` for reading only (for a dry run): nothing
    /// is created or changed, and a store that does not exist reads as empty.
    ///
    /// # Errors
    /// The file cannot be opened, or its schema is not this build's.
    pub fn open_read_only(path: &Path) -> Result<CrmStore, StoreError> {
        let conn = sqlite::open_read_only_or_empty(StoreKind::Crm, path, MIGRATIONS)?;
        Ok(CrmStore {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The store's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection leaves nothing half-done in
        // it (SQLite rolls back an unfinished transaction), so go on.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every user, with item counts, sorted by name.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT u.name, i.item_type, COUNT(i.id) FROM users u
                 LEFT JOIN items i ON i.user_id = u.id
                 GROUP BY u.name, i.item_type ORDER BY u.name",
            )
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let mut users: Vec<UserSummary> = Vec::new();
        for row in rows {
            let (name, item_type, count) =
                row.map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
            if users.last().is_none_or(|u| u.name != name) {
                users.push(UserSummary {
                    name,
                    counts: HashMap::new(),
                });
            }
            if let (Some(t), Some(user)) =
                (item_type.as_deref().and_then(parse_type), users.last_mut())
            {
                user.counts.insert(t, count.unsigned_abs());
            }
        }
        Ok(users)
    }

    /// The names of every user, sorted.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn user_names(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT name FROM users ORDER BY name")
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        Ok(names)
    }

    /// Opens `user`'s collection of `item_type`. The user need not exist
    /// yet: an unknown user lists as empty and is created by the first write.
    #[must_use]
    pub fn collection(&self, user: &str, item_type: ItemType) -> CrmCollection {
        CrmCollection {
            store: self.clone(),
            user: user.to_owned(),
            item_type,
        }
    }

    /// Stores many items for `user` in one transaction: a new UID is
    /// created, a known one updated when its content hash differs.
    ///
    /// # Errors
    /// A statement failed; nothing of the batch is kept.
    pub fn store_items(&self, user: &str, items: &[Item]) -> Result<Vec<Stored>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let user_id =
            ensure_user(&tx, user).map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let mut outcomes = Vec::with_capacity(items.len());
        {
            let mut writer =
                ItemWriter::new(&tx).map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
            for item in items {
                outcomes.push(
                    writer
                        .upsert_row(user_id, &Row::of(item))
                        .map_err(StoreError::sql(StoreKind::Crm, &self.path))?,
                );
            }
            writer
                .finish()
                .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        }
        tx.commit()
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        Ok(outcomes)
    }

    /// Every item of `user` of `item_type`, in UID order, as stored text.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn item_texts(
        &self,
        user: &str,
        item_type: ItemType,
        mut each: impl FnMut(&str, &str),
    ) -> Result<u64, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.uid, i.body FROM items i JOIN users u ON u.id = i.user_id
                 WHERE u.name = ?1 AND i.item_type = ?2 ORDER BY i.uid",
            )
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let mut rows = stmt
            .query(params![user, item_type.as_str()])
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
        let mut count = 0;
        while let Some(row) = rows
            .next()
            .map_err(StoreError::sql(StoreKind::Crm, &self.path))?
        {
            let uid = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
            let body = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(StoreError::sql(StoreKind::Crm, &self.path))?;
            each(uid, body);
            count += 1;
        }
        Ok(count)
    }
}

fn parse_type(text: &str) -> Option<ItemType> {
    ItemType::ALL.into_iter().find(|t| t.as_str() == text)
}

fn ensure_user(conn: &Connection, user: &str) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO users (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [user],
    )?;
    conn.query_row("SELECT id FROM users WHERE name = ?1", [user], |r| r.get(0))
}

fn user_id(conn: &Connection, user: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM users WHERE name = ?1", [user], |r| r.get(0))
        .optional()
}

/// The columns an item is stored with.
struct Row {
    meta: ItemMeta,
    body: String,
}

impl Row {
    fn of(item: &Item) -> Row {
        Row {
            meta: ItemMeta::of(item),
            body: item.to_text(),
        }
    }
}

/// Writes items within one transaction, taking revisions from the counter
/// once per batch rather than once per item.
/// The caller holds the transaction.
struct ItemWriter<'c> {
    conn: &'c Connection,
    next_revision: i64,
}

impl<'c> ItemWriter<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        let next_revision = conn.query_row("SELECT next FROM revision", [], |r| r.get(0))?;
        Ok(ItemWriter {
            conn,
            next_revision,
        })
    }

    fn take_revision(&mut self) -> i64 {
        let revision = self.next_revision;
        self.next_revision += 1;
        revision
    }

    fn finish(self) -> rusqlite::Result<()> {
        self.conn
            .execute("UPDATE revision SET next = ?1", [self.next_revision])?;
        Ok(())
    }

    /// Creates or updates by UID; unchanged content writes nothing. The
    /// insert is tried first: on an import of new items, the common case,
    /// that is one statement per item instead of two.
    fn upsert_row(&mut self, user_id: i64, row: &Row) -> rusqlite::Result<Stored> {
        let revision = self.next_revision;
        if self.insert_new(user_id, row, revision)? == 1 {
            self.next_revision += 1;
            return Ok(Stored::Created);
        }
        let stored: Vec<u8> = self
            .conn
            .prepare_cached(
                "SELECT content_hash FROM items WHERE user_id = ?1 AND item_type = ?2 AND uid = ?3",
            )?
            .query_row(
                params![user_id, row.meta.item_type.as_str(), row.meta.uid],
                |r| r.get(0),
            )?;
        if stored == row.meta.hash.as_bytes() {
            return Ok(Stored::Unchanged);
        }
        let revision = self.take_revision();
        self.update(user_id, row, revision, None)?;
        Ok(Stored::Updated)
    }

    fn insert(&mut self, user_id: i64, row: &Row, revision: i64) -> rusqlite::Result<usize> {
        self.insert_with(user_id, row, revision, "")
    }

    /// Inserts unless the UID is there; returns the rows inserted (0 or 1).
    fn insert_new(&mut self, user_id: i64, row: &Row, revision: i64) -> rusqlite::Result<usize> {
        self.insert_with(
            user_id,
            row,
            revision,
            "ON CONFLICT (user_id, item_type, uid) DO NOTHING",
        )
    }

    fn insert_with(
        &mut self,
        user_id: i64,
        row: &Row,
        revision: i64,
        on_conflict: &str,
    ) -> rusqlite::Result<usize> {
        let sql = format!(
            "INSERT INTO items (user_id, item_type, uid, revision, content_hash, label,
                modified, start, start_key, due, due_key, recurrence_end, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) {on_conflict}"
        );
        self.write_row(&sql, user_id, row, revision, &[])
    }

    /// Replaces the item's columns; with `expected`, only at that revision.
    fn update(
        &mut self,
        user_id: i64,
        row: &Row,
        revision: i64,
        expected: Option<i64>,
    ) -> rusqlite::Result<usize> {
        self.write_row(
            "UPDATE items SET revision = ?4, content_hash = ?5, label = ?6, modified = ?7,
                start = ?8, start_key = ?9, due = ?10, due_key = ?11, recurrence_end = ?12,
                body = ?13
             WHERE user_id = ?1 AND item_type = ?2 AND uid = ?3
               AND (?14 IS NULL OR revision = ?14)",
            user_id,
            row,
            revision,
            &[expected],
        )
    }

    /// Runs `sql` with an item's columns as parameters ?1 to ?13 (in the
    /// order of the `items` table), then `more` from ?14 on: the one place
    /// that says how an item is written into its columns.
    fn write_row(
        &mut self,
        sql: &str,
        user_id: i64,
        row: &Row,
        revision: i64,
        more: &[Option<i64>],
    ) -> rusqlite::Result<usize> {
        let d = &row.meta.dates;
        let mut values: Vec<Box<dyn ToSql + '_>> = vec![
            Box::new(user_id),
            Box::new(row.meta.item_type.as_str()),
            Box::new(&row.meta.uid),
            Box::new(revision),
            Box::new(row.meta.hash.as_bytes()),
            Box::new(&row.meta.label),
            Box::new(d.modified.map(|t| t.timestamp())),
            Box::new(d.start.as_ref().map(ItemTime::encode)),
            Box::new(d.start.as_ref().map(ItemTime::approximate_timestamp)),
            Box::new(d.due.as_ref().map(ItemTime::encode)),
            Box::new(d.due.as_ref().map(ItemTime::approximate_timestamp)),
            Box::new(d.recurrence.as_ref().map(RecurrenceEnd::encode)),
            Box::new(&row.body),
        ];
        values.extend(more.iter().map(|value| Box::new(value) as Box<dyn ToSql>));
        self.conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(values))
    }
}

/// One user's items of one type in the CRM store.
pub struct CrmCollection {
    store: CrmStore,
    user: String,
    item_type: ItemType,
}

impl CrmCollection {
    fn error(&self, kind: ErrorKind, what: impl std::fmt::Display) -> EndpointError {
        EndpointError::new(kind, format!("{}: {what}", self.describe()))
    }

    fn sql_error(&self, error: &rusqlite::Error) -> EndpointError {
        let busy = matches!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        let kind = if busy {
            ErrorKind::Transient
        } else {
            ErrorKind::Other
        };
        let message = match StoreError::damaged(StoreKind::Crm, &self.store.path, error) {
            Some(damaged) => damaged.to_string(),
            None => format!("{}: {error}", self.store.path.display()),
        };
        self.error(kind, message)
    }

    /// The revision a version names, or `PreconditionFailed` for a version
    /// this store never gave.
    fn revision(&self, href: &Href, version: &Version) -> Result<i64, EndpointError> {
        version.0.parse().map_err(|_| {
            self.error(
                ErrorKind::PreconditionFailed,
                format!("{href}: {version:?} is not a version of this store"),
            )
        })
    }

    /// Why a conditional write touched no row: gone, or changed since.
    fn missed(&self, tx: &Transaction<'_>, user_id: i64, href: &Href) -> EndpointError {
        let current: rusqlite::Result<Option<i64>> = tx
            .query_row(
                "SELECT revision FROM items WHERE user_id = ?1 AND item_type = ?2 AND uid = ?3",
                params![user_id, self.item_type.as_str(), href.0],
                |r| r.get(0),
            )
            .optional();
        match current {
            Ok(Some(revision)) => self.error(
                ErrorKind::PreconditionFailed,
                format!("{href} changed since it was read (now at revision {revision})"),
            ),
            Ok(None) => self.error(ErrorKind::DoesNotExist, format!("{href} does not exist")),
            Err(e) => self.sql_error(&e),
        }
    }

    fn check_item(&self, item: &Item) -> Result<(), EndpointError> {
        if item.item_type() == self.item_type {
            Ok(())
        } else {
            Err(self.error(
                ErrorKind::Invalid,
                format!(
                    "{} is one of the {}, not of the {}",
                    item.uid(),
                    item.item_type(),
                    self.item_type
                ),
            ))
        }
    }

    fn parse_body(&self, uid: &str, body: &str) -> Result<Item, EndpointError> {
        let parsed = match self.item_type {
            ItemType::Contacts => parse_vcards(body),
            _ => parse_calendar(body),
        };
        let mut items = parsed.items.into_iter();
        match (items.next(), items.next(), parsed.errors.first()) {
            (Some(item), None, None) => Ok(item),
            (_, _, Some(error)) => Err(self.error(
                ErrorKind::Invalid,
                format!("{uid}: the stored text cannot be read: {error}"),
            )),
            _ => Err(self.error(
                ErrorKind::Invalid,
                format!("{uid}: the stored text does not hold exactly one item"),
            )),
        }
    }
}

fn meta_from_row(item_type: ItemType, row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemMeta> {
    let hash: Vec<u8> = row.get(2)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Blob,
            "a content hash is 32 bytes".into(),
        )
    })?;
    let time = |index: usize| -> rusqlite::Result<Option<ItemTime>> {
        Ok(row
            .get_ref(index)?
            .as_str_or_null()?
            .and_then(ItemTime::decode))
    };
    Ok(ItemMeta {
        item_type,
        uid: row.get(0)?,
        hash: ContentHash::from_bytes(hash),
        label: row.get(3)?,
        dates: ItemDates {
            modified: row
                .get::<_, Option<i64>>(4)?
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)),
            start: time(5)?,
            due: time(6)?,
            recurrence: row
                .get_ref(7)?
                .as_str_or_null()?
                .and_then(RecurrenceEnd::decode),
        },
    })
}

impl Collection for CrmCollection {
    fn item_type(&self) -> ItemType {
        self.item_type
    }

    fn href_of_new(&self, uid: &str) -> Option<Href> {
        Some(Href(uid.to_owned()))
    }

    fn describe(&self) -> String {
        format!("CRM user {} ({})", self.user, self.item_type)
    }

    fn list(&self) -> Result<Vec<Listing>, EndpointError> {
        let conn = self.store.lock();
        // Sized first (the index counts): a listing of a million entries
        // grown by doubling copies, and has the kernel zero, hundreds of
        // megabytes.
        let count: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM items i JOIN users u ON u.id = i.user_id
                 WHERE u.name = ?1 AND i.item_type = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![self.user, self.item_type.as_str()], |row| {
                    row.get(0)
                })
            })
            .map_err(|e| self.sql_error(&e))?;
        let count = usize::try_from(count).unwrap_or(0);
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.uid, i.revision, i.content_hash, i.label, i.modified, i.start, i.due,
                        i.recurrence_end
                 FROM items i JOIN users u ON u.id = i.user_id
                 WHERE u.name = ?1 AND i.item_type = ?2 ORDER BY i.uid",
            )
            .map_err(|e| self.sql_error(&e))?;
        let rows = stmt
            .query_map(params![self.user, self.item_type.as_str()], |row| {
                let meta = meta_from_row(self.item_type, row)?;
                Ok(Listing {
                    href: Href(meta.uid.clone()),
                    version: Version(row.get::<_, i64>(1)?.to_string()),
                    meta: Some(meta),
                })
            })
            .map_err(|e| self.sql_error(&e))?;
        let mut listing = Vec::with_capacity(count);
        for row in rows {
            listing.push(row.map_err(|e| self.sql_error(&e))?);
        }
        Ok(listing)
    }

    fn fetch(&self, hrefs: &[Href]) -> Result<Vec<FetchResult>, EndpointError> {
        let conn = self.store.lock();
        // One read transaction for the batch: without it each SELECT takes
        // and drops SQLite's locks on its own (two fcntl calls and a stat).
        let read = conn
            .unchecked_transaction()
            .map_err(|e| self.sql_error(&e))?;
        let mut stmt = read
            .prepare_cached(
                "SELECT i.revision, i.body FROM items i JOIN users u ON u.id = i.user_id
                 WHERE u.name = ?1 AND i.item_type = ?2 AND i.uid = ?3",
            )
            .map_err(|e| self.sql_error(&e))?;
        let mut out = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            let row: Option<(i64, String)> = stmt
                .query_row(params![self.user, self.item_type.as_str(), href.0], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(|e| self.sql_error(&e))?;
            out.push(match row {
                None => Err(self.error(ErrorKind::DoesNotExist, format!("{href} does not exist"))),
                Some((revision, body)) => self.parse_body(&href.0, &body).map(|item| Fetched {
                    href: href.clone(),
                    version: Version(revision.to_string()),
                    item,
                }),
            });
        }
        drop(stmt);
        read.commit().map_err(|e| self.sql_error(&e))?;
        Ok(out)
    }

    fn create(&self, item: &Item) -> Result<Written, EndpointError> {
        self.check_item(item)?;
        let row = Row::of(item);
        let mut conn = self.store.lock();
        let tx = conn.transaction().map_err(|e| self.sql_error(&e))?;
        let user_id = ensure_user(&tx, &self.user).map_err(|e| self.sql_error(&e))?;
        let mut writer = ItemWriter::new(&tx).map_err(|e| self.sql_error(&e))?;
        let revision = writer.take_revision();
        match writer.insert(user_id, &row, revision) {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                return Err(self.error(ErrorKind::Exists, format!("{} already exists", item.uid())));
            }
            Err(e) => return Err(self.sql_error(&e)),
        }
        writer.finish().map_err(|e| self.sql_error(&e))?;
        tx.commit().map_err(|e| self.sql_error(&e))?;
        Ok(Written {
            href: Href(item.uid().to_owned()),
            version: Version(revision.to_string()),
        })
    }

    fn update(
        &self,
        href: &Href,
        version: &Version,
        item: &Item,
    ) -> Result<Written, EndpointError> {
        self.check_item(item)?;
        if item.uid() != href.0 {
            return Err(self.error(
                ErrorKind::Invalid,
                format!(
                    "{href} cannot be replaced by an item with UID {}",
                    item.uid()
                ),
            ));
        }
        let expected = self.revision(href, version)?;
        let row = Row::of(item);
        let mut conn = self.store.lock();
        let tx = conn.transaction().map_err(|e| self.sql_error(&e))?;
        let Some(user_id) = user_id(&tx, &self.user).map_err(|e| self.sql_error(&e))? else {
            return Err(self.error(ErrorKind::DoesNotExist, format!("{href} does not exist")));
        };
        let mut writer = ItemWriter::new(&tx).map_err(|e| self.sql_error(&e))?;
        let revision = writer.take_revision();
        let changed = writer
            .update(user_id, &row, revision, Some(expected))
            .map_err(|e| self.sql_error(&e))?;
        if changed == 0 {
            return Err(self.missed(&tx, user_id, href));
        }
        writer.finish().map_err(|e| self.sql_error(&e))?;
        tx.commit().map_err(|e| self.sql_error(&e))?;
        Ok(Written {
            href: href.clone(),
            version: Version(revision.to_string()),
        })
    }

    fn delete(&self, href: &Href, version: &Version) -> Result<(), EndpointError> {
        let expected = self.revision(href, version)?;
        let mut conn = self.store.lock();
        let tx = conn.transaction().map_err(|e| self.sql_error(&e))?;
        let Some(user_id) = user_id(&tx, &self.user).map_err(|e| self.sql_error(&e))? else {
            return Err(self.error(ErrorKind::DoesNotExist, format!("{href} does not exist")));
        };
        let deleted = tx
            .execute(
                "DELETE FROM items WHERE user_id = ?1 AND item_type = ?2 AND uid = ?3 AND revision = ?4",
                params![user_id, self.item_type.as_str(), href.0, expected],
            )
            .map_err(|e| self.sql_error(&e))?;
        if deleted == 0 {
            return Err(self.missed(&tx, user_id, href));
        }
        tx.commit().map_err(|e| self.sql_error(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
