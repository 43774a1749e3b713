//! The `Stores` resource: where the CRM and state stores live.

use super::{At, Checks};
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::Stores;
use crate::spec::types::StoresResource;

impl Checks<'_> {
    /// The stores the first `Stores` resource declares, if there is one;
    /// any other is an error.
    pub(super) fn first_stores(&mut self, all: &[At<'_, StoresResource>]) -> Option<Stores> {
        let (first, rest) = all.split_first()?;
        for extra in rest {
            self.push(
                Diagnostic::error(
                    DiagnosticCode::DuplicateStores,
                    "more than one `Stores` resource",
                    extra.file(),
                    extra.key("/kind"),
                )
                .with_label("second store configuration")
                .with_secondary(first.file(), first.key("/kind"), "first one here")
                .with_hint("declare where the stores live once, in one `Stores` resource"),
            );
        }
        Some(self.stores(first))
    }

    /// The stores one resource declares, relative paths read from its
    /// file's folder.
    pub(super) fn stores(&mut self, at: &At<'_, StoresResource>) -> Stores {
        let base = self.base_dir(at.file());
        let defaults = Stores::default();
        let spec = &at.resource.spec;
        Stores {
            crm: spec
                .crm
                .as_ref()
                .map_or(defaults.crm, |s| base.join(&s.sqlite)),
            state: spec
                .state
                .as_ref()
                .map_or(defaults.state, |s| base.join(&s.sqlite)),
        }
    }
}
