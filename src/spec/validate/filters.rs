//! What a snapshot processes: its item types, its filters, and the date
//! ranges of its filters resolved against the run's clock.

use chrono_tz::Tz;

use super::{At, Checks, Place};
use crate::filter::range::{Bound, RangeSpec};
use crate::item::ItemType;
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{ContactFilter, FilterSet, ScheduleItemFilter, Scope, TaskFilter};
use crate::spec::types::{DateRange, Filters, SnapshotResource, TaskDateOption};

impl Checks<'_> {
    /// What a snapshot processes: every item of its types, or what its
    /// filters match; `None` when that is wrong or empty.
    pub(super) fn scope(&mut self, at: &At<'_, SnapshotResource>, tz: Tz) -> Option<Scope> {
        let spec = &at.resource.spec;
        let file = at.file();
        let mut ok = true;
        if let Some(types) = &spec.item_types
            && types.is_empty()
        {
            self.push(
                Diagnostic::error(
                    DiagnosticCode::EmptyItemTypes,
                    "`itemTypes` is empty: nothing would be processed",
                    file,
                    at.key("/spec/itemTypes"),
                )
                .with_label("empty list")
                .with_hint("list the item types to process, or omit `itemTypes` for all three"),
            );
            ok = false;
        }
        let Some(filters) = &spec.filters else {
            let types = spec
                .item_types
                .clone()
                .unwrap_or_else(|| ItemType::ALL.to_vec());
            let types = ItemType::ALL
                .into_iter()
                .filter(|t| types.contains(t))
                .collect();
            return ok.then_some(Scope::Full(types));
        };
        if filters.schedule_items.is_none() && filters.tasks.is_none() && filters.contacts.is_none()
        {
            self.push(
                Diagnostic::error(DiagnosticCode::EmptyFilters, "`filters` holds no filter: nothing would be processed", file, at.key("/spec/filters"))
                    .with_label("empty")
                    .with_hint("add a filter for `scheduleItems`, `tasks` or `contacts`, or omit `filters` for a full snapshot"),
            );
            return None;
        }
        if let Some(types) = &spec.item_types {
            ok &= self.filters_within(at, filters, types);
        }
        // Every range is read (and its problems reported) even when `ok` is
        // already false.
        let set = self.filter_set(at, filters, tz);
        if ok { set.map(Scope::Filtered) } else { None }
    }

    /// Whether every filter is for an item type that `itemTypes` selects.
    fn filters_within(
        &mut self,
        at: &At<'_, SnapshotResource>,
        filters: &Filters,
        types: &[ItemType],
    ) -> bool {
        let file = at.file();
        let mut ok = true;
        for (item_type, present) in [
            (ItemType::ScheduleItems, filters.schedule_items.is_some()),
            (ItemType::Tasks, filters.tasks.is_some()),
            (ItemType::Contacts, filters.contacts.is_some()),
        ] {
            if present && !types.contains(&item_type) {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::FilterForExcludedType,
                        format!("a filter for `{item_type}`, which `itemTypes` excludes"),
                        file,
                        at.key(&format!("/spec/filters/{item_type}")),
                    )
                    .with_label("this filter would never run")
                    .with_secondary(
                        file,
                        at.key("/spec/itemTypes"),
                        "the item types are narrowed here",
                    )
                    .with_hint(format!(
                        "add `{item_type}` to `itemTypes`, or remove the filter"
                    )),
                );
                ok = false;
            }
        }
        ok
    }

    /// The filters with their ranges resolved; `None` when a range is
    /// wrong (every range is checked).
    fn filter_set(
        &mut self,
        at: &At<'_, SnapshotResource>,
        filters: &Filters,
        tz: Tz,
    ) -> Option<FilterSet> {
        let file = at.file();
        let mut ok = true;
        let mut set = FilterSet::default();
        if let Some(f) = &filters.schedule_items {
            let range = self.filter_range(at.place(), ItemType::ScheduleItems, &f.range, tz);
            ok &= range.is_some();
            set.schedule_items = range.map(|range| ScheduleItemFilter {
                date_option: f.date_option,
                range,
                recurrence: f.recurrence,
            });
        }
        if let Some(f) = &filters.tasks {
            if f.include_undated && f.date_option == TaskDateOption::Modified {
                self.push(
                    Diagnostic::warning(
                        DiagnosticCode::IncludeUndatedWithModified,
                        "`includeUndated` has no effect with `dateOption: modified`",
                        file,
                        at.key("/spec/filters/tasks/includeUndated"),
                    )
                    .with_label("every task has a last-modified date")
                    .with_secondary(
                        file,
                        at.value("/spec/filters/tasks/dateOption"),
                        "dates by modification",
                    )
                    .with_hint("remove `includeUndated`, or filter by `start` or `due`"),
                );
            }
            let range = self.filter_range(at.place(), ItemType::Tasks, &f.range, tz);
            ok &= range.is_some();
            set.tasks = range.map(|range| TaskFilter {
                date_option: f.date_option,
                range,
                include_undated: f.include_undated,
            });
        }
        if let Some(f) = &filters.contacts {
            let range = self.filter_range(at.place(), ItemType::Contacts, &f.range, tz);
            ok &= range.is_some();
            set.contacts = range.map(|range| ContactFilter { range });
        }
        ok.then_some(set)
    }

    /// Reads and checks the range of one item type's filter.
    fn filter_range(
        &mut self,
        place: Place<'_>,
        item_type: ItemType,
        range: &DateRange,
        tz: Tz,
    ) -> Option<RangeSpec> {
        let pointer = format!("/spec/filters/{item_type}/range");
        self.range(
            place,
            &pointer,
            range.from.as_deref(),
            range.to.as_deref(),
            tz,
        )
    }

    /// The bounds of a range, read and resolved: `None` when one is not a
    /// bound, or the range is empty once resolved.
    pub(super) fn range(
        &mut self,
        at: Place<'_>,
        pointer: &str,
        from: Option<&str>,
        to: Option<&str>,
        tz: Tz,
    ) -> Option<RangeSpec> {
        let mut parse = |field: &str, text: Option<&str>| -> Result<Option<Bound>, ()> {
            let Some(text) = text else { return Ok(None) };
            Bound::parse(text).map(Some).map_err(|error| {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidDate,
                        error.message,
                        at.file,
                        at.value(&format!("{pointer}/{field}")),
                    )
                    .with_label("invalid bound")
                    .with_hint(error.hint),
                );
            })
        };
        let from = parse("from", from);
        let to = parse("to", to);
        let spec = RangeSpec {
            from: from.ok()?,
            to: to.ok()?,
        };
        let resolved = match spec.resolve(self.now, tz) {
            Ok(resolved) => resolved,
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidDate,
                        error.to_string(),
                        at.file,
                        at.key(pointer),
                    )
                    .with_label("cannot be resolved")
                    .with_hint("use dates between the years 1 and 9999"),
                );
                return None;
            }
        };
        if resolved.is_empty() {
            let relative = spec.from.is_some_and(|b| b.is_relative())
                || spec.to.is_some_and(|b| b.is_relative());
            let (from, to) = (
                spec.from.map(|b| b.to_string()).unwrap_or_default(),
                spec.to.map(|b| b.to_string()).unwrap_or_default(),
            );
            let message = if resolved.start == resolved.end {
                format!("the range from `{from}` to `{to}` is empty")
            } else {
                format!("the range is inverted: `from` ({from}) is after `to` ({to})")
            };
            let label = if relative {
                format!(
                    "ends before it starts, with now = {}",
                    self.now.format("%Y-%m-%dT%H:%M:%SZ")
                )
            } else {
                "ends before it starts".to_owned()
            };
            let diagnostic = Diagnostic::error(DiagnosticCode::EmptyRange, message, at.file, at.value(&format!("{pointer}/to")))
                .with_label(label)
                .with_secondary(at.file, at.value(&format!("{pointer}/from")), "starts here")
                .with_hint("swap `from` and `to`, or fix the one that is wrong; a date `to` includes its whole day");
            self.push(diagnostic);
            return None;
        }
        Some(spec)
    }
}
