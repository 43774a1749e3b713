//! `snapsync crm export`: writing a user's items out as vdir folders, one
//! file per item (`scheduleItems/`, `tasks/`, `contacts/`), which khal,
//! todoman and khard read and `crm import` reads back.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::CrmStore;
use crate::endpoint::vdir::VdirCollection;
use crate::endpoint::{Collection, ErrorKind};
use crate::item::{ItemType, parse_calendar, parse_vcards};
use crate::sqlite::StoreError;

/// Items handed to a writer thread at once.
const CHUNK: usize = 500;

/// A problem with one exported item. The export goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProblem {
    /// The item's type.
    pub item_type: ItemType,
    /// Its UID.
    pub uid: String,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.item_type, self.uid, self.message)
    }
}

/// What an export did.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Files written, by type.
    pub written: std::collections::BTreeMap<ItemType, u64>,
    /// Files that were there and were replaced.
    pub replaced: u64,
    /// Items that could not be written.
    pub problems: Vec<ExportProblem>,
}

impl ExportReport {
    /// Files written across types.
    #[must_use]
    pub fn files(&self) -> u64 {
        self.written.values().sum()
    }
}

/// The folder an item type is exported to.
#[must_use]
pub fn export_folder(out: &Path, item_type: ItemType) -> PathBuf {
    out.join(item_type.as_str())
}

/// Writes every item of `user` into `out`, one file per item. A file of the
/// same item already there is replaced; other files are left alone. Files
/// are written atomically but not flushed one by one (like `cp`): the CRM
/// store still holds everything if the machine loses power.
///
/// # Errors
/// Only the store failing stops an export; problems with items are in the
/// report.
pub fn export(store: &CrmStore, user: &str, out: &Path) -> Result<ExportReport, StoreError> {
    let mut report = ExportReport::default();
    for item_type in ItemType::ALL {
        let folder = export_folder(out, item_type);
        let collection = VdirCollection::open(
            folder.clone(),
            item_type,
            format!("export {}", folder.display()),
        )
        .with_fsync(false);
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let (sender, receiver) = mpsc::sync_channel::<Vec<(String, String)>>(workers * 2);
        let receiver = std::sync::Mutex::new(receiver);
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let receiver = &receiver;
                    let collection = &collection;
                    scope.spawn(move || {
                        let mut done = WorkerReport::default();
                        loop {
                            let chunk = {
                                let guard = receiver
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                guard.recv()
                            };
                            let Ok(chunk) = chunk else { break };
                            for (uid, body) in chunk {
                                write_one(collection, item_type, &uid, &body, &mut done);
                            }
                        }
                        done
                    })
                })
                .collect();
            let mut chunk = Vec::with_capacity(CHUNK);
            let read = store.item_texts(user, item_type, |uid, body| {
                chunk.push((uid.to_owned(), body.to_owned()));
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    let _ = sender.send(full);
                }
            });
            if !chunk.is_empty() {
                let _ = sender.send(chunk);
            }
            drop(sender);
            let reports: Vec<WorkerReport> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect();
            read.map(|_| reports)
        })?;
        for done in results {
            *report.written.entry(item_type).or_default() += done.written;
            report.replaced += done.replaced;
            report.problems.extend(done.problems);
        }
    }
    Ok(report)
}

#[derive(Default)]
struct WorkerReport {
    written: u64,
    replaced: u64,
    problems: Vec<ExportProblem>,
}

fn write_one(
    collection: &VdirCollection,
    item_type: ItemType,
    uid: &str,
    body: &str,
    done: &mut WorkerReport,
) {
    let problem = |message: String| ExportProblem {
        item_type,
        uid: uid.to_owned(),
        message,
    };
    let parsed = match item_type {
        ItemType::Contacts => parse_vcards(body),
        _ => parse_calendar(body),
    };
    let Some(item) = parsed.items.into_iter().next() else {
        let why = parsed.errors.first().map_or_else(
            || "no item in the stored text".to_owned(),
            ToString::to_string,
        );
        done.problems
            .push(problem(format!("the stored text cannot be read: {why}")));
        return;
    };
    match collection.create(&item) {
        Ok(_) => done.written += 1,
        Err(e) if e.kind == ErrorKind::Exists => {
            let href = collection.href_for_uid(uid);
            let replaced = collection
                .fetch(std::slice::from_ref(&href))
                .ok()
                .and_then(|mut f| f.pop())
                .and_then(Result::ok)
                .map(|existing| collection.update(&href, &existing.version, &item));
            match replaced {
                Some(Ok(_)) => {
                    done.written += 1;
                    done.replaced += 1;
                }
                Some(Err(e)) => done.problems.push(problem(e.message)),
                None => done.problems.push(problem(format!(
                    "{} is in the way and cannot be read; move it away and export again",
                    collection.folder().join(&href.0).display()
                ))),
            }
        }
        Err(e) => done.problems.push(problem(e.message)),
    }
}
