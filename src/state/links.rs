//! Links and their sync flags (DESIGN 2.4).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::{
    RunId, StateError, StateStore, direction_str, parse_direction, parse_time, sql_error, time_text,
};
use crate::spec::types::Direction;

/// A run as a link remembers it: its last get or its last send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    /// The run.
    pub id: RunId,
    /// The snapshot it applied.
    pub snapshot: String,
    /// When it finished; `None` while it runs, or if it was interrupted.
    pub finished: Option<DateTime<Utc>>,
}

/// One link as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkState {
    /// The target's name.
    pub target: String,
    /// The link's name.
    pub link: String,
    /// Whether get snapshots process the link, as last recorded.
    pub inbound: bool,
    /// Whether send snapshots process the link, as last recorded.
    pub outbound: bool,
    /// Outbound was enabled again after items had been synced, and no send
    /// snapshot covering the link has been applied without failures since.
    pub outbound_pending: bool,
    /// When outbound became pending (when the re-enable was recorded).
    pub pending_since: Option<DateTime<Utc>>,
    /// The last get run that covered the link.
    pub last_get: Option<RunRef>,
    /// The last send run that covered the link.
    pub last_send: Option<RunRef>,
}

impl LinkState {
    /// A link seen for the first time: recorded as declared, nothing pending.
    #[must_use]
    pub fn first_seen(target: &str, link: &str, inbound: bool, outbound: bool) -> LinkState {
        LinkState {
            target: target.to_owned(),
            link: link.to_owned(),
            inbound,
            outbound,
            outbound_pending: false,
            pending_since: None,
            last_get: None,
            last_send: None,
        }
    }

    /// What this link becomes when its Target YAML now declares `inbound` and
    /// `outbound`; `has_synced` says whether any of its items were synced.
    /// Pure: [`StateStore::record_link_flags`] records the result,
    /// [`StateStore::preview_link_flags`] only shows it.
    ///
    /// - Inbound going back on resumes at once: nothing is pending.
    /// - Outbound going from off to on, with synced items, makes outbound
    ///   pending since `now`. Without synced items there is nothing a send
    ///   could have missed, so nothing is pending.
    /// - Pending outbound stays pending (with its first `pending_since`) when
    ///   outbound is turned off and on again before a send clears it: the
    ///   older gap was never sent either.
    #[must_use]
    pub fn with_declared_flags(
        &self,
        inbound: bool,
        outbound: bool,
        has_synced: bool,
        now: DateTime<Utc>,
    ) -> LinkState {
        let mut next = self.clone();
        next.inbound = inbound;
        next.outbound = outbound;
        let re_enabled = !self.outbound && outbound;
        if re_enabled && has_synced && !self.outbound_pending {
            next.outbound_pending = true;
            next.pending_since = Some(now);
        }
        next
    }
}

/// A link's columns, joined with its last runs.
pub(super) const SELECT_LINKS: &str = "
SELECT l.target, l.link, l.inbound, l.outbound, l.outbound_pending, l.pending_since,
       g.id, g.snapshot, g.finished,
       s.id, s.snapshot, s.finished
FROM links l
LEFT JOIN runs g ON g.id = l.last_get_run
LEFT JOIN runs s ON s.id = l.last_send_run";

/// A link's row, before its times are read.
struct LinkRow {
    target: String,
    link: String,
    inbound: bool,
    outbound: bool,
    outbound_pending: bool,
    pending_since: Option<String>,
    last_get: Option<(i64, String, Option<String>)>,
    last_send: Option<(i64, String, Option<String>)>,
}

impl LinkRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<LinkRow> {
        let run = |first: usize| -> rusqlite::Result<_> {
            let id: Option<i64> = row.get(first)?;
            id.map(|id| Ok((id, row.get(first + 1)?, row.get(first + 2)?)))
                .transpose()
        };
        Ok(LinkRow {
            target: row.get(0)?,
            link: row.get(1)?,
            inbound: row.get(2)?,
            outbound: row.get(3)?,
            outbound_pending: row.get(4)?,
            pending_since: row.get(5)?,
            last_get: run(6)?,
            last_send: run(9)?,
        })
    }

    fn into_state(self, path: &Path) -> Result<LinkState, StateError> {
        let run_ref = |run: Option<(i64, String, Option<String>)>| {
            run.map(|(id, snapshot, finished)| {
                Ok::<_, StateError>(RunRef {
                    id: RunId(id),
                    snapshot,
                    finished: finished
                        .map(|f| parse_time(path, "runs.finished", &f))
                        .transpose()?,
                })
            })
            .transpose()
        };
        Ok(LinkState {
            pending_since: self
                .pending_since
                .map(|p| parse_time(path, "links.pending_since", &p))
                .transpose()?,
            last_get: run_ref(self.last_get)?,
            last_send: run_ref(self.last_send)?,
            target: self.target,
            link: self.link,
            inbound: self.inbound,
            outbound: self.outbound,
            outbound_pending: self.outbound_pending,
        })
    }
}

fn read_link(
    conn: &Connection,
    path: &Path,
    target: &str,
    link: &str,
) -> Result<Option<LinkState>, StateError> {
    let sql = format!("{SELECT_LINKS}\nWHERE l.target = ?1 AND l.link = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![target, link], LinkRow::read)
                .optional()
        })
        .map_err(sql_error(path))?
        .map(|row| row.into_state(path))
        .transpose()
}

/// Whether a link has synced items: served by a prefix of the primary key.
pub(super) const HAS_SYNCED: &str =
    "SELECT EXISTS (SELECT 1 FROM synced WHERE target = ?1 AND link = ?2)";

pub(super) fn has_synced(
    conn: &Connection,
    path: &Path,
    target: &str,
    link: &str,
) -> Result<bool, StateError> {
    conn.prepare_cached(HAS_SYNCED)
        .and_then(|mut stmt| stmt.query_row(params![target, link], |row| row.get(0)))
        .map_err(sql_error(path))
}

/// What [`StateStore::record_link_flags`] would record, read from `conn`.
fn next_state(
    conn: &Connection,
    path: &Path,
    target: &str,
    link: &str,
    inbound: bool,
    outbound: bool,
    now: DateTime<Utc>,
) -> Result<(Option<LinkState>, LinkState), StateError> {
    let previous = read_link(conn, path, target, link)?;
    let next = match &previous {
        None => LinkState::first_seen(target, link, inbound, outbound),
        Some(previous) => {
            let synced = has_synced(conn, path, target, link)?;
            previous.with_declared_flags(inbound, outbound, synced, now)
        }
    };
    Ok((previous, next))
}

impl StateStore {
    /// Records the flags a link's Target YAML declares now, and returns the
    /// link's state after that (see [`LinkState::with_declared_flags`] for
    /// the rules).
    ///
    /// # Errors
    /// The store cannot be read or written.
    pub fn record_link_flags(
        &self,
        target: &str,
        link: &str,
        inbound: bool,
        outbound: bool,
        now: DateTime<Utc>,
    ) -> Result<LinkState, StateError> {
        // Immediate: another process recording the same link waits for us
        // instead of deciding on what we are about to change.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(self.sql())?;
        let (previous, next) = next_state(&tx, &self.path, target, link, inbound, outbound, now)?;
        if previous.as_ref() != Some(&next) {
            tx.execute(
                "INSERT INTO links (target, link, inbound, outbound, outbound_pending, pending_since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (target, link) DO UPDATE SET
                     inbound = excluded.inbound,
                     outbound = excluded.outbound,
                     outbound_pending = excluded.outbound_pending,
                     pending_since = excluded.pending_since",
                params![
                    target,
                    link,
                    next.inbound,
                    next.outbound,
                    next.outbound_pending,
                    next.pending_since.map(time_text),
                ],
            )
            .map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())?;
        if next.outbound_pending && previous.is_some_and(|p| !p.outbound_pending) {
            tracing::info!(
                "outbound of link {link} of target {target} is pending: it was enabled again \
                 after items were synced, and waits for a send snapshot that covers the link"
            );
        }
        Ok(next)
    }

    /// What [`StateStore::record_link_flags`] would return, without recording
    /// anything: for a plan, which never writes.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn preview_link_flags(
        &self,
        target: &str,
        link: &str,
        inbound: bool,
        outbound: bool,
        now: DateTime<Utc>,
    ) -> Result<LinkState, StateError> {
        next_state(&self.conn, &self.path, target, link, inbound, outbound, now)
            .map(|(_, next)| next)
    }

    /// Every recorded link, of one target or of all, ordered by target and
    /// link.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn links(&self, target: Option<&str>) -> Result<Vec<LinkState>, StateError> {
        let sql =
            format!("{SELECT_LINKS}\nWHERE ?1 IS NULL OR l.target = ?1\nORDER BY l.target, l.link");
        let rows = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(params![target], LinkRow::read)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.sql())?;
        rows.into_iter()
            .map(|row| row.into_state(&self.path))
            .collect()
    }

    /// One link, if its flags were ever recorded.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn link(&self, target: &str, link: &str) -> Result<Option<LinkState>, StateError> {
        read_link(&self.conn, &self.path, target, link)
    }

    /// Clears a link's pending outbound, once the send run `run_id`, which
    /// covered the link, has been applied without failures.
    ///
    /// # Errors
    /// The link was never recorded, the run is not a send of the link's
    /// target, or the store cannot be written.
    pub fn clear_outbound_pending(
        &self,
        target: &str,
        link: &str,
        run_id: RunId,
    ) -> Result<(), StateError> {
        self.check_run(run_id, target, Direction::Send)?;
        let changed = self
            .conn
            .execute(
                "UPDATE links SET outbound_pending = 0, pending_since = NULL
                 WHERE target = ?1 AND link = ?2",
                params![target, link],
            )
            .map_err(self.sql())?;
        if changed == 0 {
            return Err(self.unknown_link(target, link));
        }
        Ok(())
    }

    /// Records `run_id` as the link's last get or send (by `direction`).
    ///
    /// # Errors
    /// The link was never recorded, the run is not a `direction` snapshot of
    /// the link's target, or the store cannot be written.
    pub fn record_link_run(
        &self,
        target: &str,
        link: &str,
        direction: Direction,
        run_id: RunId,
    ) -> Result<(), StateError> {
        self.check_run(run_id, target, direction)?;
        let sql = match direction {
            Direction::Get => "UPDATE links SET last_get_run = ?3 WHERE target = ?1 AND link = ?2",
            Direction::Send => {
                "UPDATE links SET last_send_run = ?3 WHERE target = ?1 AND link = ?2"
            }
        };
        let changed = self
            .conn
            .execute(sql, params![target, link, run_id.0])
            .map_err(self.sql())?;
        if changed == 0 {
            return Err(self.unknown_link(target, link));
        }
        Ok(())
    }

    fn unknown_link(&self, target: &str, link: &str) -> StateError {
        StateError::UnknownLink {
            path: self.path.clone(),
            target: target.to_owned(),
            link: link.to_owned(),
        }
    }

    /// Checks that `run_id` is a `direction` snapshot of `target`.
    fn check_run(
        &self,
        run_id: RunId,
        target: &str,
        direction: Direction,
    ) -> Result<(), StateError> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT direction, target FROM runs WHERE id = ?1",
                params![run_id.0],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        let Some((run_direction, run_target)) = found else {
            return Err(StateError::UnknownRun {
                path: self.path.clone(),
                run_id,
            });
        };
        if run_direction == direction_str(direction) && run_target == target {
            return Ok(());
        }
        Err(StateError::RunMismatch {
            path: self.path.clone(),
            run_id,
            run_direction: parse_direction(&self.path, &run_direction)?,
            run_target,
            direction,
            target: target.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{store, t};
    use super::super::{RunEnd, runs, synced};
    use super::*;

    /// Records the declared flags of `link` of target office at `t(at)`.
    fn office_flags(
        store: &StateStore,
        link: &str,
        inbound: bool,
        outbound: bool,
        at: i64,
    ) -> LinkState {
        store
            .record_link_flags("office", link, inbound, outbound, t(at))
            .unwrap()
    }

    fn sync_one(store: &StateStore, target: &str, link: &str) {
        let run = store
            .begin_run(&runs::tests::run_start(target, Direction::Send))
            .unwrap();
        store
            .record_synced(&synced::tests::item(target, link, "uid-1", run))
            .unwrap();
    }

    #[test]
    fn a_new_link_is_recorded_as_declared_with_nothing_pending() {
        let (_dir, store) = store();
        assert_eq!(store.link("office", "jdoe").unwrap(), None);
        for (link, inbound, outbound) in
            [("a", true, true), ("b", false, false), ("c", true, false)]
        {
            let state = store
                .record_link_flags("office", link, inbound, outbound, t(0))
                .unwrap();
            assert_eq!(
                state,
                LinkState::first_seen("office", link, inbound, outbound)
            );
            assert_eq!(store.link("office", link).unwrap(), Some(state));
        }
    }

    #[test]
    fn outbound_enabled_again_after_items_were_synced_is_pending() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, true, 0);
        sync_one(&store, "office", "jdoe");
        let off = office_flags(&store, "jdoe", true, false, 1);
        assert!(!off.outbound && !off.outbound_pending);

        let on = office_flags(&store, "jdoe", true, true, 2);
        assert!(on.outbound && on.outbound_pending, "{on:?}");
        assert_eq!(on.pending_since, Some(t(2)));
        assert_eq!(store.link("office", "jdoe").unwrap(), Some(on.clone()));

        // Recording the same flags again changes nothing.
        let again = office_flags(&store, "jdoe", true, true, 3);
        assert_eq!(again, on);
    }

    #[test]
    fn outbound_enabled_again_without_synced_items_is_not_pending() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, false, 0);
        // Items synced on another link do not count.
        office_flags(&store, "asmith", true, true, 0);
        sync_one(&store, "office", "asmith");
        let on = office_flags(&store, "jdoe", true, true, 1);
        assert!(on.outbound && !on.outbound_pending && on.pending_since.is_none());
    }

    #[test]
    fn inbound_enabled_again_resumes_at_once() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", false, true, 0);
        sync_one(&store, "office", "jdoe");
        let on = office_flags(&store, "jdoe", true, true, 1);
        assert!(on.inbound && !on.outbound_pending);
    }

    #[test]
    fn a_send_clears_pending_outbound() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, false, 0);
        sync_one(&store, "office", "jdoe");
        assert!(office_flags(&store, "jdoe", true, true, 1).outbound_pending);
        let send = store
            .begin_run(&runs::tests::run_start("office", Direction::Send))
            .unwrap();
        store.finish_run(send, t(2), RunEnd::Succeeded).unwrap();
        store
            .clear_outbound_pending("office", "jdoe", send)
            .unwrap();
        let state = store.link("office", "jdoe").unwrap().unwrap();
        assert!(!state.outbound_pending && state.pending_since.is_none());
        // And it stays clear while the flags stay on.
        let again = office_flags(&store, "jdoe", true, true, 3);
        assert!(!again.outbound_pending);
    }

    #[test]
    fn pending_outbound_keeps_its_first_date_through_another_off_and_on() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, false, 0);
        sync_one(&store, "office", "jdoe");
        office_flags(&store, "jdoe", true, true, 1);
        let off = office_flags(&store, "jdoe", true, false, 2);
        assert!(off.outbound_pending);
        let on = office_flags(&store, "jdoe", true, true, 3);
        assert_eq!((on.outbound_pending, on.pending_since), (true, Some(t(1))));
    }

    #[test]
    fn the_lifecycle_as_a_pure_function() {
        let off = LinkState::first_seen("office", "jdoe", true, false);
        let on = off.with_declared_flags(true, true, true, t(1));
        assert_eq!((on.outbound_pending, on.pending_since), (true, Some(t(1))));
        assert!(
            !off.with_declared_flags(true, true, false, t(1))
                .outbound_pending
        );
        let inbound_off = LinkState::first_seen("office", "jdoe", false, true);
        assert!(
            !inbound_off
                .with_declared_flags(true, true, true, t(1))
                .outbound_pending
        );
        assert_eq!(on.with_declared_flags(true, true, true, t(2)), on);
    }

    #[test]
    fn previewing_flags_writes_nothing() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, false, 0);
        sync_one(&store, "office", "jdoe");
        let before = store.link("office", "jdoe").unwrap();

        let preview = store
            .preview_link_flags("office", "jdoe", true, true, t(1))
            .unwrap();
        assert!(preview.outbound_pending);
        assert_eq!(store.link("office", "jdoe").unwrap(), before);

        let new = store
            .preview_link_flags("office", "asmith", true, true, t(1))
            .unwrap();
        assert_eq!(new, LinkState::first_seen("office", "asmith", true, true));
        assert_eq!(store.link("office", "asmith").unwrap(), None);

        // A read-only store previews the same.
        let read_only = StateStore::open_read_only(store.path()).unwrap();
        assert_eq!(
            read_only
                .preview_link_flags("office", "jdoe", true, true, t(1))
                .unwrap(),
            preview
        );
        assert!(
            read_only
                .record_link_flags("office", "jdoe", true, true, t(1))
                .is_err()
        );
        assert_eq!(store.link("office", "jdoe").unwrap(), before);
    }

    #[test]
    fn links_list_by_target_in_order() {
        let (_dir, store) = store();
        for (target, link) in [("office", "zed"), ("home", "jdoe"), ("office", "amy")] {
            store
                .record_link_flags(target, link, true, true, t(0))
                .unwrap();
        }
        let names = |links: Vec<LinkState>| -> Vec<(String, String)> {
            links.into_iter().map(|l| (l.target, l.link)).collect()
        };
        let all = names(store.links(None).unwrap());
        assert_eq!(
            all,
            [("home", "jdoe"), ("office", "amy"), ("office", "zed")]
                .map(|(t, l)| (t.to_owned(), l.to_owned()))
        );
        let office = names(store.links(Some("office")).unwrap());
        assert_eq!(office.len(), 2);
        assert!(store.links(Some("elsewhere")).unwrap().is_empty());
    }

    #[test]
    fn last_runs_are_recorded_per_direction() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, true, 0);
        let get = store
            .begin_run(&runs::tests::run_start("office", Direction::Get))
            .unwrap();
        store
            .record_link_run("office", "jdoe", Direction::Get, get)
            .unwrap();
        let state = store.link("office", "jdoe").unwrap().unwrap();
        assert_eq!(
            state.last_get,
            Some(RunRef {
                id: get,
                snapshot: "nightly".into(),
                finished: None
            })
        );
        assert_eq!(state.last_send, None);

        store.finish_run(get, t(5), RunEnd::Succeeded).unwrap();
        let send = store
            .begin_run(&runs::tests::run_start("office", Direction::Send))
            .unwrap();
        store
            .record_link_run("office", "jdoe", Direction::Send, send)
            .unwrap();
        let state = store.link("office", "jdoe").unwrap().unwrap();
        assert_eq!(state.last_get.unwrap().finished, Some(t(5)));
        assert_eq!(state.last_send.unwrap().id, send);
    }

    #[test]
    fn runs_must_match_the_link_they_are_recorded_on() {
        let (_dir, store) = store();
        office_flags(&store, "jdoe", true, true, 0);
        let get = store
            .begin_run(&runs::tests::run_start("office", Direction::Get))
            .unwrap();
        let err = store
            .clear_outbound_pending("office", "jdoe", get)
            .unwrap_err();
        assert!(matches!(err, StateError::RunMismatch { .. }), "{err:?}");
        assert!(
            err.to_string().contains(
                "state.sqlite: run 1 is a get snapshot of target office, not a send snapshot of target office"
            ),
            "{err}"
        );
        let err = store
            .record_link_run("home", "jdoe", Direction::Get, get)
            .unwrap_err();
        assert!(matches!(err, StateError::RunMismatch { .. }), "{err:?}");
        let err = store
            .record_link_run("office", "jdoe", Direction::Get, RunId(99))
            .unwrap_err();
        assert!(matches!(err, StateError::UnknownRun { .. }), "{err:?}");
        let err = store
            .record_link_run("office", "nobody", Direction::Get, get)
            .unwrap_err();
        assert!(matches!(err, StateError::UnknownLink { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("state.sqlite: link nobody of target office"),
            "{err}"
        );
        let send = store
            .begin_run(&runs::tests::run_start("office", Direction::Send))
            .unwrap();
        let err = store
            .clear_outbound_pending("office", "nobody", send)
            .unwrap_err();
        assert!(matches!(err, StateError::UnknownLink { .. }), "{err:?}");
    }
}
