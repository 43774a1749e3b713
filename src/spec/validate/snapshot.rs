//! Snapshots: the target they name, their time zone, the links they
//! select; their item types and filters are checked in `filters`.

use std::collections::HashMap;

use chrono_tz::Tz;
use serde_json::Value;

use super::links::empty_links;
use super::{At, Checks, Place, sorted_list};
use crate::item::ItemType;
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::load::RejectedDocument;
use crate::spec::model::Snapshot;
use crate::spec::schema::did_you_mean;
use crate::spec::types::{Direction, SnapshotResource, TargetResource};

impl Checks<'_> {
    /// A snapshot as the catalog holds it, or `None` when it has errors.
    pub(super) fn snapshot(
        &mut self,
        at: &At<'_, SnapshotResource>,
        targets: &HashMap<&str, &At<'_, TargetResource>>,
    ) -> Option<Snapshot> {
        let errors_before = self.error_count();
        let spec = &at.resource.spec;
        let timezone = self.timezone(at.place(), spec.timezone.as_deref());
        let target = self.find_target(at.place(), &spec.target, targets);
        if let (Some(links), Some(target)) = (&spec.links, target) {
            let names: Vec<&str> = links.iter().map(String::as_str).collect();
            self.selected_links(at.place(), &names, Some(spec.direction), target);
        } else if spec.links.as_ref().is_some_and(Vec::is_empty) {
            self.push(empty_links(at.place()));
        }
        let scope = self.scope(at, timezone);
        if let (Some(target), Some(scope), Some(links)) = (target, &scope, &spec.links) {
            self.links_carry_types(at, target, links, scope);
        }
        let scope = scope?;
        (self.error_count() == errors_before).then(|| Snapshot {
            name: at.resource.metadata.name.clone(),
            labels: at.resource.metadata.labels.clone(),
            direction: spec.direction,
            target: spec.target.clone(),
            links: spec.links.clone(),
            timezone,
            scope,
            orphans: spec.orphans,
            max_deletes: spec.max_deletes,
            origin: self.origin(at.loaded),
        })
    }

    /// Finds the target a snapshot names, reporting an unknown one. A target
    /// that failed its own checks is known but not returned: its errors are
    /// reported already.
    fn find_target<'t>(
        &mut self,
        place: Place<'_>,
        name: &str,
        targets: &HashMap<&str, &'t At<'t, TargetResource>>,
    ) -> Option<&'t At<'t, TargetResource>> {
        if let Some(target) = targets.get(name) {
            return Some(target);
        }
        if self.invalid_targets.iter().any(|t| t == name) {
            return None;
        }
        let known = targets
            .keys()
            .copied()
            .chain(self.invalid_targets.iter().map(String::as_str));
        let hint = match did_you_mean(name, known.clone()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if targets.is_empty() && self.invalid_targets.is_empty() => {
                "no Target is defined in the files read; pass the file or folder that defines it"
                    .to_owned()
            }
            None => format!("the targets are {}", sorted_list(known)),
        };
        self.push(
            Diagnostic::error(
                DiagnosticCode::UnknownTarget,
                format!("unknown target `{name}`"),
                place.file,
                place.value("/spec/target"),
            )
            .with_label("no Target has this name")
            .with_hint(hint),
        );
        None
    }

    /// The checks that need only part of a snapshot, on one that broke the
    /// schema: its time zone, its ranges, its target and links.
    pub(super) fn rejected_snapshot(
        &mut self,
        document: &RejectedDocument,
        targets: &HashMap<&str, &At<'_, TargetResource>>,
    ) {
        let place = Place {
            file: document.file,
            index: &document.index,
        };
        let text = |pointer: &str| document.value.pointer(pointer).and_then(Value::as_str);
        let timezone = self.timezone(place, text("/spec/timezone"));
        let target = text("/spec/target").and_then(|name| self.find_target(place, name, targets));
        let direction = document
            .value
            .pointer("/spec/direction")
            .and_then(|d| serde_json::from_value::<Direction>(d.clone()).ok());
        let links = document
            .value
            .pointer("/spec/links")
            .and_then(Value::as_array);
        if let (Some(target), Some(links)) = (target, links) {
            let names: Vec<&str> = links.iter().filter_map(Value::as_str).collect();
            if names.len() == links.len() {
                self.selected_links(place, &names, direction, target);
            }
        }
        for item_type in ItemType::ALL {
            let pointer = format!("/spec/filters/{item_type}/range");
            let Some(range) = document.value.pointer(&pointer).and_then(Value::as_object) else {
                continue;
            };
            let bound = |field: &str| range.get(field).and_then(Value::as_str);
            if range.values().all(Value::is_string) && !range.is_empty() {
                self.range(place, &pointer, bound("from"), bound("to"), timezone);
            }
        }
    }

    /// The time zone a snapshot names; UTC when it names none or an unknown one.
    fn timezone(&mut self, place: Place<'_>, name: Option<&str>) -> Tz {
        let Some(name) = name else {
            return Tz::UTC;
        };
        if let Ok(tz) = name.parse::<Tz>() {
            return tz;
        }
        let exact_case = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .map(|tz| tz.name());
        let near = exact_case
            .or_else(|| did_you_mean(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())));
        let hint = match near {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                "use an IANA time zone name such as `Europe/Berlin`, `America/Toronto` or `UTC`"
                    .to_owned()
            }
        };
        self.push(
            Diagnostic::error(
                DiagnosticCode::UnknownTimezone,
                format!("unknown time zone `{name}`"),
                place.file,
                place.value("/spec/timezone"),
            )
            .with_label("not an IANA time zone")
            .with_hint(hint),
        );
        Tz::UTC
    }
}
