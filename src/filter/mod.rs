//! Filters: which items a filtered snapshot processes (DESIGN 2.2).
//!
//! Words used here:
//! - **spec's zone**: the snapshot's `timezone` (UTC by default). Range bounds
//!   written as dates or local times, an item's floating times and its
//!   all-day dates are all read in it, and every time a reason shows is shown
//!   in it.
//! - **range**: the instants a filter accepts, `start <= t < end`, either
//!   side open ([`range::ResolvedRange`]). A date bound covers the whole day:
//!   `from: 2026-10-01` starts at 00:00 that day, `to: 2026-12-31` ends when
//!   1 January begins. Relative bounds (`-30d`, `now`) are fixed once per run
//!   ([`ActiveFilters::resolve`]).
//! - **falls in the range**: the instant an item's date stands for is at or
//!   after the range's start and before its end. An all-day date stands for
//!   its midnight, so an all-day item is in a date range exactly when its day
//!   is one of the range's days.
//! - **first start**, **last start**: a recurring schedule item's `DTSTART`
//!   (which `RDATE`s never move: they extend a series, they do not start
//!   it), and the start of its last occurrence: the last one its rule yields
//!   with `COUNT` or with `UNTIL` (inclusive), pushed later by `RDATE`s and
//!   moved instances, never made earlier by `EXDATE`s. A rule with neither
//!   `COUNT` nor `UNTIL` has no last start (see [`crate::item::LastStart`]).
//!   When a series mixes floating times or dates with UTC or zoned times,
//!   the spec's zone decides which of them is last.
//! - **recurrence range**: from the first start to the last start, both
//!   included; unbounded when there is no last start. It **overlaps** a range
//!   when the first start is before the range's end and the last start is at
//!   or after the range's start. No single occurrence has to fall in the
//!   range: a series held every 5 January overlaps a range covering March.
//! - **undated**: a task without the date its filter reads (no start, no due
//!   date, or, rarely, no modification time).
//! - **verdict**: whether an item is in scope, with a reason a user can check
//!   against the item ([`Verdict`]).
//!
//! The rules, by item type:
//! - **Schedule items** by `start`: a one-off item matches when its start
//!   falls in the range, a recurring one when its recurrence range overlaps
//!   the range. By `modified`: when its last modification (`LAST-MODIFIED`,
//!   else `DTSTAMP`) falls in the range; an item without one does not match.
//!   `recurrence: recurring` keeps only recurring items, `nonRecurring` only
//!   one-off items, whatever the `dateOption`.
//! - **Tasks**: the chosen date (`modified`, `start` or `due`) falls in the
//!   range. A task without a start or due date matches only with
//!   `includeUndated: true`; `includeUndated` has no effect with `modified`
//!   (a task without any modification time does not match).
//! - **Contacts**: the last modification (`REV`) falls in the range; a contact
//!   without `REV` does not match.
//!
//! An item that does not match is left alone by a snapshot; a filter never
//! deletes anything.

pub mod range;

use std::fmt::Write as _;

use chrono::{DateTime, LocalResult, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::item::{ItemDates, ItemTime, ItemType, RecurrenceEnd};
use crate::spec::model::FilterSet;
use crate::spec::types::{RecurrenceOption, ScheduleDateOption, TaskDateOption};
use range::{RangeError, ResolvedRange};

/// The filters of one snapshot, resolved once per run (relative bounds fixed
/// against the run's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFilters {
    schedule_items: Option<TypeFilter>,
    tasks: Option<TypeFilter>,
    contacts: Option<TypeFilter>,
}

impl ActiveFilters {
    /// Resolves a snapshot's filters with the run's clock and the spec's zone.
    ///
    /// # Errors
    /// When a bound resolves outside the dates snapsync can represent.
    pub fn resolve(filters: &FilterSet, now: DateTime<Utc>, tz: Tz) -> Result<Self, RangeError> {
        let schedule_items = match &filters.schedule_items {
            None => None,
            Some(f) => Some(TypeFilter {
                rule: FilterRule::ScheduleItems {
                    date_option: f.date_option,
                    recurrence: f.recurrence,
                },
                range: f.range.resolve(now, tz)?,
                tz,
            }),
        };
        let tasks = match &filters.tasks {
            None => None,
            Some(f) => Some(TypeFilter {
                rule: FilterRule::Tasks {
                    date_option: f.date_option,
                    include_undated: f.include_undated,
                },
                range: f.range.resolve(now, tz)?,
                tz,
            }),
        };
        let contacts = match &filters.contacts {
            None => None,
            Some(f) => Some(TypeFilter {
                rule: FilterRule::Contacts,
                range: f.range.resolve(now, tz)?,
                tz,
            }),
        };
        Ok(ActiveFilters {
            schedule_items,
            tasks,
            contacts,
        })
    }

    /// The filter for one item type, or `None` when the snapshot has no
    /// filter for it (then that type is not processed).
    #[must_use]
    pub fn for_type(&self, item_type: ItemType) -> Option<&TypeFilter> {
        match item_type {
            ItemType::ScheduleItems => self.schedule_items.as_ref(),
            ItemType::Tasks => self.tasks.as_ref(),
            ItemType::Contacts => self.contacts.as_ref(),
        }
    }

    /// Every filter, in plan order (schedule items, tasks, contacts).
    pub fn iter(&self) -> impl Iterator<Item = &TypeFilter> {
        [&self.schedule_items, &self.tasks, &self.contacts]
            .into_iter()
            .flatten()
    }
}

/// What a filter reads, per item type, with its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterRule {
    /// A schedule item filter.
    ScheduleItems {
        /// `start` (recurring items by their recurrence range) or `modified`.
        date_option: ScheduleDateOption,
        /// Which items to take by whether they recur.
        recurrence: RecurrenceOption,
    },
    /// A task filter.
    Tasks {
        /// `modified`, `start` or `due`.
        date_option: TaskDateOption,
        /// Whether tasks without that date match.
        include_undated: bool,
    },
    /// A contact filter, by `REV`.
    Contacts,
}

/// The resolved filter of one item type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter {
    rule: FilterRule,
    range: ResolvedRange,
    tz: Tz,
}

/// Whether an item is in scope, and why.
///
/// `decided_by` lists the item's instants the verdict was decided on, each
/// under a fixed name: `"start"`, `"due"` or `"modified"` for a date that
/// was checked against the range, or `"recurrenceStart"` and
/// `"recurrenceEnd"` for a recurrence range (`"recurrenceEnd"` is absent when
/// the series never ends). It is empty when no date decided: an undated item,
/// or an item refused for being (or not being) recurring. In JSON it is an
/// object from those names to RFC 3339 instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Whether the item is in scope.
    pub matched: bool,
    /// Why, as a sentence fragment in the spec's zone, such as
    /// `start 2026-11-03 10:00 in range` or
    /// `recurrence 2026-01-05 → unbounded overlaps range`.
    pub reason: String,
    /// The item's instants that decided, by name (see [`Verdict`]).
    #[serde(serialize_with = "serialize_decided_by")]
    pub decided_by: Vec<(&'static str, DateTime<Utc>)>,
}

fn serialize_decided_by<S: serde::Serializer>(
    decided_by: &[(&'static str, DateTime<Utc>)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(decided_by.len()))?;
    for (name, at) in decided_by {
        map.serialize_entry(name, at)?;
    }
    map.end()
}

impl TypeFilter {
    /// The item type this filter is for.
    #[must_use]
    pub fn item_type(&self) -> ItemType {
        match self.rule {
            FilterRule::ScheduleItems { .. } => ItemType::ScheduleItems,
            FilterRule::Tasks { .. } => ItemType::Tasks,
            FilterRule::Contacts => ItemType::Contacts,
        }
    }

    /// The resolved range (the instants a plan records).
    #[must_use]
    pub fn range(&self) -> ResolvedRange {
        self.range
    }

    /// What the filter reads, with its options.
    #[must_use]
    pub fn rule(&self) -> FilterRule {
        self.rule
    }

    /// The spec's zone, in which floating times and dates are read and times
    /// are shown.
    #[must_use]
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// One line for plan headers, such as `start in 2026-10-01 00:00 →
    /// 2027-01-01 00:00 (America/Toronto), recurring and non-recurring`. The
    /// range is shown half-open: its end is the first instant after it.
    #[must_use]
    pub fn describe(&self) -> String {
        let range = self.describe_range();
        let zone = self.tz.name();
        match self.rule {
            FilterRule::ScheduleItems {
                date_option,
                recurrence,
            } => {
                let what = match date_option {
                    ScheduleDateOption::Start => "start",
                    ScheduleDateOption::Modified => "modified",
                };
                let which = match recurrence {
                    RecurrenceOption::Both => "recurring and non-recurring",
                    RecurrenceOption::Recurring => "recurring only",
                    RecurrenceOption::NonRecurring => "non-recurring only",
                };
                format!("{what} {range} ({zone}), {which}")
            }
            // Every task has a modification time (LAST-MODIFIED, else the
            // required DTSTAMP), so `includeUndated` means nothing there.
            FilterRule::Tasks {
                date_option: TaskDateOption::Modified,
                ..
            }
            | FilterRule::Contacts => format!("modified {range} ({zone})"),
            FilterRule::Tasks {
                date_option,
                include_undated,
            } => {
                let undated = if include_undated {
                    "undated included"
                } else {
                    "undated excluded"
                };
                format!(
                    "{} {range} ({zone}), {undated}",
                    task_date_name(date_option)
                )
            }
        }
    }

    fn describe_range(&self) -> String {
        match (self.range.start, self.range.end) {
            (Some(s), Some(e)) => format!("in {} → {}", self.show(s), self.show(e)),
            (Some(s), None) => format!("from {}", self.show(s)),
            (None, Some(e)) => format!("before {}", self.show(e)),
            (None, None) => "at any time".to_owned(),
        }
    }

    /// Whether an item is in scope, and why (a sentence fragment a user can
    /// check against the item). The rules are in the [module docs](self).
    #[must_use]
    pub fn check(&self, dates: &ItemDates) -> Verdict {
        match self.rule {
            FilterRule::ScheduleItems {
                date_option,
                recurrence,
            } => self.check_schedule_item(dates, date_option, recurrence),
            FilterRule::Tasks {
                date_option,
                include_undated,
            } => {
                let name = task_date_name(date_option);
                let value = match date_option {
                    TaskDateOption::Modified => dates.modified.map(ItemTime::Utc),
                    TaskDateOption::Start => dates.start,
                    TaskDateOption::Due => dates.due,
                };
                match value {
                    Some(t) => self.in_range(name, &t),
                    // `includeUndated` has no effect with `modified` (the
                    // validator warns): a task without any modification
                    // time is left out, as a schedule item or contact is.
                    None if date_option == TaskDateOption::Modified => Verdict {
                        matched: false,
                        reason: "no modified date: excluded".to_owned(),
                        decided_by: Vec::new(),
                    },
                    None if include_undated => Verdict {
                        matched: true,
                        reason: format!("no {name} date: included (includeUndated)"),
                        decided_by: Vec::new(),
                    },
                    None => Verdict {
                        matched: false,
                        reason: format!("no {name} date: excluded (includeUndated is off)"),
                        decided_by: Vec::new(),
                    },
                }
            }
            FilterRule::Contacts => match dates.modified {
                Some(t) => self.in_range("modified", &ItemTime::Utc(t)),
                None => Verdict {
                    matched: false,
                    reason: "no modified date (REV): excluded".to_owned(),
                    decided_by: Vec::new(),
                },
            },
        }
    }

    fn check_schedule_item(
        &self,
        dates: &ItemDates,
        date_option: ScheduleDateOption,
        recurrence: RecurrenceOption,
    ) -> Verdict {
        let recurring = dates.recurrence.is_some();
        let refused = match recurrence {
            RecurrenceOption::Recurring if !recurring => {
                Some("not recurring; the filter takes recurring items only")
            }
            RecurrenceOption::NonRecurring if recurring => {
                Some("recurring; the filter takes non-recurring items only")
            }
            _ => None,
        };
        if let Some(reason) = refused {
            return Verdict {
                matched: false,
                reason: reason.to_owned(),
                decided_by: Vec::new(),
            };
        }
        match date_option {
            ScheduleDateOption::Modified => match dates.modified {
                Some(t) => self.in_range("modified", &ItemTime::Utc(t)),
                None => Verdict {
                    matched: false,
                    reason: "no modified date: excluded".to_owned(),
                    decided_by: Vec::new(),
                },
            },
            ScheduleDateOption::Start => match (&dates.start, &dates.recurrence) {
                (None, _) => Verdict {
                    matched: false,
                    reason: "no start date: excluded".to_owned(),
                    decided_by: Vec::new(),
                },
                (Some(start), None) => self.in_range("start", start),
                (Some(first), Some(end)) => self.overlaps(first, end),
            },
        }
    }

    /// A date against the range: `start <= t < end`.
    fn in_range(&self, name: &'static str, value: &ItemTime) -> Verdict {
        let t = value.instant_in(self.tz);
        let place = if self.range.contains(t) {
            "in range"
        } else if self.range.start.is_some_and(|s| t < s) {
            "before range"
        } else {
            "after range"
        };
        Verdict {
            matched: self.range.contains(t),
            reason: format!("{name} {} {place}", self.show_item_time(value)),
            decided_by: vec![(name, t)],
        }
    }

    /// A recurrence range against the range: first start before the range's
    /// end, and last start at or after its start.
    fn overlaps(&self, first: &ItemTime, end: &RecurrenceEnd) -> Verdict {
        let first_at = first.instant_in(self.tz);
        // The last start is never before the first, whatever its nature.
        let last = end.last_start_in(self.tz).map(|(last, at)| {
            if at < first_at {
                (*first, first_at)
            } else {
                (last, at)
            }
        });
        let starts_after = self.range.end.is_some_and(|e| first_at >= e);
        let ends_before = match (self.range.start, last) {
            (Some(s), Some((_, last_at))) => last_at < s,
            _ => false,
        };
        // Nothing overlaps a range without instants (validation refuses
        // them; relative bounds could still cross on a later run).
        let empty = self.range.is_empty();
        let place = if starts_after {
            "starts after range"
        } else if ends_before {
            "ends before range"
        } else if empty {
            "misses the empty range"
        } else {
            "overlaps range"
        };
        let mut decided_by = vec![("recurrenceStart", first_at)];
        let last_text = match last {
            Some((last, at)) => {
                decided_by.push(("recurrenceEnd", at));
                self.show_item_time(&last)
            }
            None => "unbounded".to_owned(),
        };
        Verdict {
            matched: !starts_after && !ends_before && !empty,
            reason: format!(
                "recurrence {} → {last_text} {place}",
                self.show_item_time(first)
            ),
            decided_by,
        }
    }

    /// An item's value in the spec's zone: a date as `YYYY-MM-DD`, anything
    /// else as the instant it stands for.
    fn show_item_time(&self, value: &ItemTime) -> String {
        match value {
            ItemTime::Date(day) => day.format("%Y-%m-%d").to_string(),
            _ => self.show(value.instant_in(self.tz)),
        }
    }

    /// An instant in the spec's zone, `YYYY-MM-DD HH:MM`, with seconds when
    /// it has any, and with its offset when the wall-clock time happens twice
    /// (the hour a DST change repeats).
    fn show(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.tz);
        let mut out = local.format("%Y-%m-%d %H:%M").to_string();
        if local.second() != 0 {
            let _ = write!(out, ":{:02}", local.second());
        }
        if matches!(
            self.tz.from_local_datetime(&local.naive_local()),
            LocalResult::Ambiguous(..)
        ) {
            let _ = write!(out, " ({})", local.format("%:z"));
        }
        out
    }
}

fn task_date_name(option: TaskDateOption) -> &'static str {
    match option {
        TaskDateOption::Modified => "modified",
        TaskDateOption::Start => "start",
        TaskDateOption::Due => "due",
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reference_tests;
