//! Synced items, and batches of writes in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::runs::insert_journal;
use super::{
    JournalEntry, RunId, StateError, StateStore, corrupt, parse_item_type, parse_time, sql_error,
    time_text,
};
use crate::endpoint::{Href, Version};
use crate::item::{ContentHash, ItemType};

/// One item synced on a link: where it is and what it held on both sides
/// after the last write or read that snapsync made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedItem {
    /// The target's name.
    pub target: String,
    /// The link's name.
    pub link: String,
    /// The item's type.
    pub item_type: ItemType,
    /// The item's UID: its identity on both sides.
    pub uid: String,
    /// Where the CRM store keeps it.
    pub crm_href: Href,
    /// Its content hash in the CRM store.
    pub crm_hash: ContentHash,
    /// Where the target keeps it.
    pub target_href: Href,
    /// Its content hash at the target.
    pub target_hash: ContentHash,
    /// The target's version of it after our last write or read.
    pub target_version: Version,
    /// When it was last synced.
    pub synced_at: DateTime<Utc>,
    /// The run that last synced it.
    pub run_id: RunId,
}

/// Loads a collection's records: served by a prefix of the primary key.
pub(super) const SELECT_SYNCED: &str = "
SELECT uid, crm_href, crm_hash, target_href, target_hash, target_version, synced_at, run_id
FROM synced
WHERE target = ?1 AND link = ?2 AND item_type = ?3";

const UPSERT_SYNCED: &str = "
INSERT INTO synced (target, link, item_type, uid, crm_href, crm_hash,
                    target_href, target_hash, target_version, synced_at, run_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (target, link, item_type, uid) DO UPDATE SET
    crm_href = excluded.crm_href,
    crm_hash = excluded.crm_hash,
    target_href = excluded.target_href,
    target_hash = excluded.target_hash,
    target_version = excluded.target_version,
    synced_at = excluded.synced_at,
    run_id = excluded.run_id";

/// How many items each link of one target has synced, by type: served by a
/// prefix of the primary key, in its order (no sorting).
pub(super) const COUNT_SYNCED_OF_TARGET: &str = "
SELECT target, link, item_type, count(*) FROM synced
WHERE target = ?1
GROUP BY target, link, item_type";

/// The same for every target: one pass over the primary key.
const COUNT_SYNCED: &str = "
SELECT target, link, item_type, count(*) FROM synced
GROUP BY target, link, item_type";

/// How many items are recorded as synced on each link, by item type (types
/// with none are absent), keyed by target and link.
pub type SyncedCounts = BTreeMap<(String, String), BTreeMap<ItemType, u64>>;

pub(super) const DELETE_SYNCED: &str =
    "DELETE FROM synced WHERE target = ?1 AND link = ?2 AND item_type = ?3 AND uid = ?4";

fn upsert(conn: &Connection, path: &Path, item: &SyncedItem) -> Result<(), StateError> {
    conn.prepare_cached(UPSERT_SYNCED)
        .and_then(|mut stmt| {
            stmt.execute(params![
                item.target,
                item.link,
                item.item_type.as_str(),
                item.uid,
                item.crm_href.0,
                item.crm_hash.to_string(),
                item.target_href.0,
                item.target_hash.to_string(),
                item.target_version.0,
                time_text(item.synced_at),
                item.run_id.0,
            ])
        })
        .map_err(sql_error(path))?;
    Ok(())
}

fn forget(
    conn: &Connection,
    path: &Path,
    target: &str,
    link: &str,
    item_type: ItemType,
    uid: &str,
) -> Result<bool, StateError> {
    conn.prepare_cached(DELETE_SYNCED)
        .and_then(|mut stmt| stmt.execute(params![target, link, item_type.as_str(), uid]))
        .map(|deleted| deleted > 0)
        .map_err(sql_error(path))
}

fn parse_hash(path: &Path, column: &str, text: &str) -> Result<ContentHash, StateError> {
    text.parse()
        .map_err(|e| corrupt(path, format!("synced.{column}: {e}")))
}

/// What a plan needs of one synced item; its target, link and type are
/// those of the collection it was read for (see [`SyncedSet`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedRecord {
    /// The item's UID.
    pub uid: String,
    /// Where the CRM store keeps it.
    pub crm_href: Href,
    /// Its content hash in the CRM store.
    pub crm_hash: ContentHash,
    /// Where the target keeps it.
    pub target_href: Href,
    /// Its content hash at the target.
    pub target_hash: ContentHash,
    /// The target's version of it after our last write or read.
    pub target_version: Version,
}

/// One collection's records, sorted by UID: half the memory of a map of
/// [`SyncedItem`]s, which a plan of a million items feels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncedSet(Vec<SyncedRecord>);

impl SyncedSet {
    /// The record of this UID.
    #[must_use]
    pub fn get(&self, uid: &str) -> Option<&SyncedRecord> {
        self.0
            .binary_search_by(|r| r.uid.as_str().cmp(uid))
            .ok()
            .map(|i| &self.0[i])
    }

    /// Whether this UID has a record.
    #[must_use]
    pub fn contains(&self, uid: &str) -> bool {
        self.get(uid).is_some()
    }

    /// How many records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The records, by UID.
    pub fn iter(&self) -> std::slice::Iter<'_, SyncedRecord> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a SyncedSet {
    type Item = &'a SyncedRecord;
    type IntoIter = std::slice::Iter<'a, SyncedRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A synced item's row, before its hashes and times are read.
struct SyncedRow {
    uid: String,
    crm_href: String,
    crm_hash: String,
    target_href: String,
    target_hash: String,
    target_version: String,
    synced_at: String,
    run_id: i64,
}

impl SyncedRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<SyncedRow> {
        Ok(SyncedRow {
            uid: row.get(0)?,
            crm_href: row.get(1)?,
            crm_hash: row.get(2)?,
            target_href: row.get(3)?,
            target_hash: row.get(4)?,
            target_version: row.get(5)?,
            synced_at: row.get(6)?,
            run_id: row.get(7)?,
        })
    }

    fn into_record(self, path: &Path) -> Result<SyncedRecord, StateError> {
        Ok(SyncedRecord {
            uid: self.uid,
            crm_href: Href(self.crm_href),
            crm_hash: parse_hash(path, "crm_hash", &self.crm_hash)?,
            target_href: Href(self.target_href),
            target_hash: parse_hash(path, "target_hash", &self.target_hash)?,
            target_version: Version(self.target_version),
        })
    }

    fn into_item(
        self,
        path: &Path,
        target: &str,
        link: &str,
        item_type: ItemType,
    ) -> Result<SyncedItem, StateError> {
        let synced_at = parse_time(path, "synced.synced_at", &self.synced_at)?;
        let run_id = RunId(self.run_id);
        let record = self.into_record(path)?;
        Ok(SyncedItem {
            target: target.to_owned(),
            link: link.to_owned(),
            item_type,
            uid: record.uid,
            crm_href: record.crm_href,
            crm_hash: record.crm_hash,
            target_href: record.target_href,
            target_hash: record.target_hash,
            target_version: record.target_version,
            synced_at,
            run_id,
        })
    }
}

impl StateStore {
    /// Every record of one collection (a link's items of one type), by UID,
    /// in one query.
    ///
    /// # Errors
    /// The store cannot be read, or holds a value it cannot read back.
    pub fn synced(
        &self,
        target: &str,
        link: &str,
        item_type: ItemType,
    ) -> Result<HashMap<String, SyncedItem>, StateError> {
        let mut items = HashMap::new();
        self.each_synced_row(target, link, item_type, |row| {
            let item = row.into_item(&self.path, target, link, item_type)?;
            items.insert(item.uid.clone(), item);
            Ok(())
        })?;
        Ok(items)
    }

    /// Reads one collection's rows, in one query, handing each to `each`.
    fn each_synced_row(
        &self,
        target: &str,
        link: &str,
        item_type: ItemType,
        mut each: impl FnMut(SyncedRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(SELECT_SYNCED)
            .map_err(self.sql())?;
        let rows = stmt
            .query_map(params![target, link, item_type.as_str()], SyncedRow::read)
            .map_err(self.sql())?;
        for row in rows {
            each(row.map_err(self.sql())?)?;
        }
        Ok(())
    }

    /// Every record of one collection, as a plan reads them, in one query.
    ///
    /// # Errors
    /// The store cannot be read, or holds a value it cannot read back.
    pub fn synced_set(
        &self,
        target: &str,
        link: &str,
        item_type: ItemType,
    ) -> Result<SyncedSet, StateError> {
        let mut records = Vec::new();
        self.each_synced_row(target, link, item_type, |row| {
            records.push(row.into_record(&self.path)?);
            Ok(())
        })?;
        // The rows come in primary-key order, which is already the UIDs'
        // (SQLite compares text bytewise, as Rust does): the sort costs a
        // pass; it is there because the query does not promise an order.
        records.sort_unstable_by(|a, b| a.uid.cmp(&b.uid));
        Ok(SyncedSet(records))
    }

    /// How many items are recorded as synced on each link of `target` (or
    /// of every target), by item type, in one query. Links with none are
    /// absent.
    ///
    /// # Errors
    /// The store cannot be read, or holds an item type it does not know.
    pub fn synced_counts(&self, target: Option<&str>) -> Result<SyncedCounts, StateError> {
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String, String, i64)> {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        };
        let rows: Vec<(String, String, String, i64)> = match target {
            Some(target) => self
                .conn
                .prepare_cached(COUNT_SYNCED_OF_TARGET)
                .and_then(|mut stmt| stmt.query_map(params![target], read)?.collect()),
            None => self
                .conn
                .prepare_cached(COUNT_SYNCED)
                .and_then(|mut stmt| stmt.query_map([], read)?.collect()),
        }
        .map_err(self.sql())?;
        let mut counts = SyncedCounts::new();
        for (target, link, item_type, count) in rows {
            let item_type = parse_item_type(&self.path, &item_type)?;
            counts
                .entry((target, link))
                .or_default()
                .insert(item_type, u64::try_from(count).unwrap_or_default());
        }
        Ok(counts)
    }

    /// Whether any item of any type was ever synced on the link (and not
    /// forgotten since).
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn has_synced(&self, target: &str, link: &str) -> Result<bool, StateError> {
        super::links::has_synced(&self.conn, &self.path, target, link)
    }

    /// Records an item as synced, replacing its previous record. One
    /// transaction per call; [`StateStore::batch`] groups many.
    ///
    /// # Errors
    /// The store cannot be written, or `item.run_id` is not a run.
    pub fn record_synced(&self, item: &SyncedItem) -> Result<(), StateError> {
        upsert(&self.conn, &self.path, item)
    }

    /// Forgets an item's record (it was deleted on both sides); whether
    /// there was one.
    ///
    /// # Errors
    /// The store cannot be written.
    pub fn forget_synced(
        &self,
        target: &str,
        link: &str,
        item_type: ItemType,
        uid: &str,
    ) -> Result<bool, StateError> {
        forget(&self.conn, &self.path, target, link, item_type, uid)
    }

    /// Starts a batch: writes made through it commit together, at
    /// [`Batch::commit`], and are cheap (one transaction for all of them).
    /// Dropping a batch without committing it discards its writes.
    ///
    /// # Errors
    /// The store cannot be written (another process holds the write lock for
    /// longer than the busy timeout, or the store is read-only).
    pub fn batch(&mut self) -> Result<Batch<'_>, StateError> {
        // Immediate: take the write lock now, so that a busy store fails
        // here rather than at a write in the middle of the batch.
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)
            .map_err(sql_error(&self.path))?;
        Ok(Batch {
            tx,
            path: &self.path,
        })
    }
}

/// Writes that commit together (one SQLite transaction). Dropped without
/// [`Batch::commit`], they are discarded.
#[derive(Debug)]
pub struct Batch<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl Batch<'_> {
    /// As [`StateStore::record_synced`], within the batch.
    ///
    /// # Errors
    /// The store cannot be written, or `item.run_id` is not a run.
    pub fn record_synced(&self, item: &SyncedItem) -> Result<(), StateError> {
        upsert(&self.tx, self.path, item)
    }

    /// As [`StateStore::forget_synced`], within the batch.
    ///
    /// # Errors
    /// The store cannot be written.
    pub fn forget_synced(
        &self,
        target: &str,
        link: &str,
        item_type: ItemType,
        uid: &str,
    ) -> Result<bool, StateError> {
        forget(&self.tx, self.path, target, link, item_type, uid)
    }

    /// As [`StateStore::record_operation`], within the batch: an operation
    /// and the record of its item commit together.
    ///
    /// # Errors
    /// The store cannot be written, the run does not exist, or it already
    /// has an entry with this `seq`.
    pub fn record_operation(&self, run_id: RunId, entry: &JournalEntry) -> Result<(), StateError> {
        insert_journal(&self.tx, self.path, run_id, entry)
    }

    /// Commits every write of the batch at once.
    ///
    /// # Errors
    /// The store cannot be written; nothing of the batch is then recorded.
    pub fn commit(self) -> Result<(), StateError> {
        self.tx.commit().map_err(sql_error(self.path))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{store, t};
    use super::super::{Action, Outcome, runs};
    use super::*;
    use crate::spec::types::Direction;

    fn hash(byte: u8) -> ContentHash {
        format!("{byte:02x}").repeat(32).parse().unwrap()
    }

    /// A schedule item's record on a link.
    pub(crate) fn item(target: &str, link: &str, uid: &str, run_id: RunId) -> SyncedItem {
        SyncedItem {
            target: target.into(),
            link: link.into(),
            item_type: ItemType::ScheduleItems,
            uid: uid.into(),
            crm_href: Href(uid.into()),
            crm_hash: hash(1),
            target_href: Href(format!("calendars/{link}/{uid}.ics")),
            target_hash: hash(2),
            target_version: Version("\"etag-1\"".into()),
            synced_at: t(0),
            run_id,
        }
    }

    fn run(store: &StateStore) -> RunId {
        store
            .begin_run(&runs::tests::run_start("office", Direction::Send))
            .unwrap()
    }

    #[test]
    fn a_synced_set_holds_one_collection_sorted_by_uid() {
        let (_dir, store) = store();
        let run = run(&store);
        for uid in ["m", "b", "z", "a"] {
            store
                .record_synced(&item("office", "jdoe", uid, run))
                .unwrap();
        }
        store
            .record_synced(&item("office", "other", "c", run))
            .unwrap();
        store
            .record_synced(&item("home", "jdoe", "d", run))
            .unwrap();
        let task = SyncedItem {
            item_type: ItemType::Tasks,
            ..item("office", "jdoe", "e", run)
        };
        store.record_synced(&task).unwrap();
        let set = store
            .synced_set("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        let uids: Vec<&str> = set.iter().map(|r| r.uid.as_str()).collect();
        assert_eq!(uids, ["a", "b", "m", "z"]);
        let m = item("office", "jdoe", "m", run);
        assert_eq!(
            set.get("m"),
            Some(&SyncedRecord {
                uid: m.uid,
                crm_href: m.crm_href,
                crm_hash: m.crm_hash,
                target_href: m.target_href,
                target_hash: m.target_hash,
                target_version: m.target_version,
            })
        );
        assert!(set.contains("z") && !set.contains("c") && !set.contains("e"));
        assert_eq!(set.len(), 4);
        assert!(
            store
                .synced_set("office", "nobody", ItemType::ScheduleItems)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn records_are_upserted_and_forgotten() {
        let (_dir, store) = store();
        let run = run(&store);
        let first = item("office", "jdoe", "a", run);
        store.record_synced(&first).unwrap();
        let loaded = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded["a"], first);

        let updated = SyncedItem {
            crm_hash: hash(3),
            target_hash: hash(3),
            target_version: Version("\"etag-2\"".into()),
            synced_at: t(5),
            ..first.clone()
        };
        store.record_synced(&updated).unwrap();
        let loaded = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded["a"], updated);

        assert!(
            store
                .forget_synced("office", "jdoe", ItemType::ScheduleItems, "a")
                .unwrap()
        );
        assert!(
            !store
                .forget_synced("office", "jdoe", ItemType::ScheduleItems, "a")
                .unwrap()
        );
        assert!(
            store
                .synced("office", "jdoe", ItemType::ScheduleItems)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn collections_are_kept_apart() {
        let (_dir, store) = store();
        let run = run(&store);
        let event = item("office", "jdoe", "same-uid", run);
        let task = SyncedItem {
            item_type: ItemType::Tasks,
            ..event.clone()
        };
        let other_link = SyncedItem {
            link: "asmith".into(),
            ..event.clone()
        };
        let other_target = SyncedItem {
            target: "home".into(),
            ..event.clone()
        };
        for record in [&event, &task, &other_link, &other_target] {
            store.record_synced(record).unwrap();
        }
        for record in [&event, &task, &other_link, &other_target] {
            let loaded = store
                .synced(&record.target, &record.link, record.item_type)
                .unwrap();
            assert_eq!(loaded.len(), 1);
            assert_eq!(&loaded["same-uid"], record);
        }
        assert!(
            store
                .synced("office", "jdoe", ItemType::Contacts)
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .forget_synced("office", "jdoe", ItemType::Tasks, "same-uid")
                .unwrap()
        );
        assert_eq!(
            store
                .synced("office", "jdoe", ItemType::ScheduleItems)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn has_synced_looks_at_every_type_of_the_link() {
        let (_dir, store) = store();
        let run = run(&store);
        assert!(!store.has_synced("office", "jdoe").unwrap());
        let contact = SyncedItem {
            item_type: ItemType::Contacts,
            ..item("office", "jdoe", "c", run)
        };
        store.record_synced(&contact).unwrap();
        assert!(store.has_synced("office", "jdoe").unwrap());
        assert!(!store.has_synced("office", "asmith").unwrap());
        assert!(!store.has_synced("home", "jdoe").unwrap());
        store
            .forget_synced("office", "jdoe", ItemType::Contacts, "c")
            .unwrap();
        assert!(!store.has_synced("office", "jdoe").unwrap());
    }

    #[test]
    fn a_hundred_thousand_records_round_trip_in_one_batch() {
        const COUNT: usize = 100_000;
        let (_dir, mut store) = store();
        let run = run(&store);
        let records: Vec<SyncedItem> = (0..COUNT)
            .map(|i| item("office", "jdoe", &format!("uid-{i:06}"), run))
            .collect();
        let batch = store.batch().unwrap();
        for record in &records {
            batch.record_synced(record).unwrap();
        }
        batch.commit().unwrap();

        let loaded = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        assert_eq!(loaded.len(), COUNT);
        for record in [&records[0], &records[COUNT / 2], &records[COUNT - 1]] {
            assert_eq!(&loaded[&record.uid], record);
        }
    }

    #[test]
    fn a_dropped_batch_records_nothing_and_a_batch_holds_operations() {
        let (_dir, mut store) = store();
        let run = run(&store);
        {
            let batch = store.batch().unwrap();
            batch
                .record_synced(&item("office", "jdoe", "a", run))
                .unwrap();
            batch
                .record_operation(
                    run,
                    &runs::tests::entry(1, Action::Create, Outcome::Applied),
                )
                .unwrap();
        }
        assert!(!store.has_synced("office", "jdoe").unwrap());
        assert!(store.run(run).unwrap().unwrap().1.is_empty());

        let batch = store.batch().unwrap();
        batch
            .record_synced(&item("office", "jdoe", "a", run))
            .unwrap();
        batch
            .record_operation(
                run,
                &runs::tests::entry(1, Action::Create, Outcome::Applied),
            )
            .unwrap();
        assert!(
            batch
                .forget_synced("office", "jdoe", ItemType::ScheduleItems, "a")
                .unwrap()
        );
        batch
            .record_synced(&item("office", "jdoe", "b", run))
            .unwrap();
        batch.commit().unwrap();
        let loaded = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(store.run(run).unwrap().unwrap().1.len(), 1);
    }

    #[test]
    fn a_record_names_a_real_run() {
        let (_dir, store) = store();
        let err = store
            .record_synced(&item("office", "jdoe", "a", RunId(7)))
            .unwrap_err();
        assert!(err.to_string().contains("state.sqlite"), "{err}");
    }

    #[test]
    fn an_unreadable_hash_is_reported_with_the_store() {
        let (_dir, store) = store();
        let run = run(&store);
        store
            .record_synced(&item("office", "jdoe", "a", run))
            .unwrap();
        store
            .conn
            .execute("UPDATE synced SET target_hash = 'xyz'", [])
            .unwrap();
        let err = store
            .synced("office", "jdoe", ItemType::ScheduleItems)
            .unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string().contains("state.sqlite: synced.target_hash"),
            "{err}"
        );
    }

    #[test]
    fn synced_counts_are_per_link_and_type_in_one_pass() {
        let (_dir, store) = store();
        let run = run(&store);
        for (target, link, uid, item_type) in [
            ("office", "jdoe", "a", ItemType::ScheduleItems),
            ("office", "jdoe", "b", ItemType::ScheduleItems),
            ("office", "jdoe", "c", ItemType::Contacts),
            ("office", "amy", "a", ItemType::Tasks),
            ("home", "jdoe", "a", ItemType::ScheduleItems),
        ] {
            store
                .record_synced(&SyncedItem {
                    item_type,
                    ..item(target, link, uid, run)
                })
                .unwrap();
        }
        let key = |t: &str, l: &str| (t.to_owned(), l.to_owned());
        let office = store.synced_counts(Some("office")).unwrap();
        assert_eq!(
            office,
            SyncedCounts::from([
                (key("office", "amy"), BTreeMap::from([(ItemType::Tasks, 1)])),
                (
                    key("office", "jdoe"),
                    BTreeMap::from([(ItemType::ScheduleItems, 2), (ItemType::Contacts, 1)])
                ),
            ])
        );
        let all = store.synced_counts(None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[&key("home", "jdoe")],
            BTreeMap::from([(ItemType::ScheduleItems, 1)])
        );
        assert!(store.synced_counts(Some("elsewhere")).unwrap().is_empty());

        // Both queries read the primary key in its order: no sorting.
        for sql in [COUNT_SYNCED_OF_TARGET, COUNT_SYNCED] {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let values = &["office"][..stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(values), |row| row.get(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(
                !plan.iter().any(|l| l.contains("TEMP B-TREE")),
                "{sql}\n{plan:?}"
            );
        }
    }
}
