//! The workspace: the one front door to the library for a run of a
//! command. It holds the validated specs (the catalog), where the two
//! stores are (the given paths win over the specs' `Stores` resource,
//! which wins over the default: [`stores`]) and the run's clock; it
//! compiles plans and executes them on those stores.
//!
//! ```text
//! Workspace::load(specs, given, now) ─▶ compile(names, cache) ─▶ Plan
//!                                      lock(names) ─▶ execute(plan) ─▶ Report
//! Workspace::of_saved_plan(file, given, specs) ─────▶ execute(plan) ─▶ Report
//! ```
//!
//! The commands, the demo and the tests go through it; it never prints:
//! invalid specs come back as the [`Validation`] to show.

mod saved;
pub mod stores;

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::apply::{self, ApplyError, ApplyOptions, Progress, Refusal, Report};
use crate::endpoint::StoreEndpoints;
use crate::endpoint::crm::CrmStore;
use crate::plan::{self, Plan, PlanError, SourceCache};
use crate::spec::Validation;
use crate::spec::model::{Catalog, Snapshot, Stores, Target};
use crate::spec::schema::SchemaBuildError;
use crate::sqlite::StoreError;
use crate::state::{LinkLock, LockError, StateError, StateStore};

pub use saved::{SavedError, SavedPlan};
pub use stores::{Given, GivenStores, Store, Why};

/// The validated specs, the stores they are run against, and the clock.
#[derive(Debug)]
pub struct Workspace {
    /// The validated specs.
    pub catalog: Catalog,
    /// The spec files and folders read (none for a saved plan's).
    pub specs: Vec<PathBuf>,
    /// The store paths the command line or environment named.
    pub given: GivenStores,
    /// Where the stores are: `given`, else the specs' `Stores`.
    pub stores: Stores,
    /// The run's clock: relative dates were resolved against it, and plans
    /// are compiled at it.
    pub now: DateTime<Utc>,
}

/// What reading specs gave: every diagnostic, and the workspace when there
/// is no error.
#[derive(Debug)]
pub struct Loaded {
    /// The validation, for its diagnostics (errors or warnings) and summary;
    /// its catalog has moved into `workspace`.
    pub validation: Validation,
    /// The workspace, when the specs have no error.
    pub workspace: Option<Workspace>,
}

/// Why a workspace could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The built-in schema does not compile (a bug).
    #[error("cannot validate")]
    Validate(#[source] SchemaBuildError),
    /// The same, while reading specs only for their `Stores`.
    #[error("cannot read the specs")]
    ReadSpecs(#[source] SchemaBuildError),
    /// The specs a store would come from are not valid.
    #[error(
        "the specs in {} are not valid, so the {} they name is unknown; \
         run `snapsync validate {}`, or pass {} PATH",
        .specs.display(), .store.name(), .specs.display(), .store.flag()
    )]
    InvalidSpecs {
        /// The specs.
        specs: PathBuf,
        /// The store asked for.
        store: Store,
    },
    /// A snapshot asked for by name is not in the specs.
    #[error(
        "no snapshot named {name} in the specs{} (they define: {})",
        .near.as_ref().map(|near| format!("; did you mean `{near}`?")).unwrap_or_default(),
        if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    UnknownSnapshot {
        /// The name asked for.
        name: String,
        /// A defined name close to it.
        near: Option<String>,
        /// Every defined name.
        known: Vec<String>,
    },
    /// A target asked for by name is not in the specs.
    #[error(
        "no target named {name} in the specs{} (they define: {})",
        .near.as_ref().map(|near| format!("; did you mean `{near}`?")).unwrap_or_default(),
        if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// A defined name close to it.
        near: Option<String>,
        /// Every defined name.
        known: Vec<String>,
    },
    /// Nothing to plan.
    #[error("the specs define no snapshot to plan")]
    NoSnapshot,
    /// The CRM store cannot be read.
    #[error("cannot read the CRM store")]
    ReadCrm(#[source] StoreError),
    /// The state store cannot be read.
    #[error("cannot read the state store")]
    ReadState(#[source] StateError),
    /// The CRM store cannot be opened for writing.
    #[error("cannot open the CRM store")]
    OpenCrm(#[source] StoreError),
    /// The state store cannot be opened for writing.
    #[error("cannot open the state store")]
    OpenState(#[source] StateError),
    /// Compiling failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Another apply holds a link.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// A safety valve tripped (DESIGN 2.5); nothing was written.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// Executing failed.
    #[error(transparent)]
    Apply(ApplyError),
    /// A saved plan is not applied.
    #[error(transparent)]
    Saved(#[from] SavedError),
}

impl Workspace {
    /// Reads and validates the specs at `specs` at the clock `now`.
    ///
    /// # Errors
    /// Only when the built-in schema does not compile (a bug); problems in
    /// the specs are in the returned validation.
    pub fn load(
        specs: &[PathBuf],
        given: GivenStores,
        now: DateTime<Utc>,
    ) -> Result<Loaded, WorkspaceError> {
        let validation = crate::spec::validate(specs, now).map_err(WorkspaceError::Validate)?;
        Ok(Workspace::from_validation(validation, specs, given, now))
    }

    /// The workspace of specs already validated (at `now`).
    #[must_use]
    pub fn from_validation(
        mut validation: Validation,
        specs: &[PathBuf],
        given: GivenStores,
        now: DateTime<Utc>,
    ) -> Loaded {
        let catalog = if validation.has_errors() {
            None
        } else {
            validation.catalog.take()
        };
        let workspace = catalog.map(|catalog| Workspace {
            stores: given.over(&catalog.stores),
            catalog,
            specs: specs.to_vec(),
            given,
            now,
        });
        Loaded {
            validation,
            workspace,
        }
    }

    /// The target named `name`, or an error that names the nearest one
    /// and every one the specs define.
    ///
    /// # Errors
    /// [`WorkspaceError::UnknownTarget`] when the specs define no such target.
    pub fn target(&self, name: &str) -> Result<&Target, WorkspaceError> {
        self.catalog.target(name).ok_or_else(|| {
            let known = || self.catalog.targets.iter().map(|t| t.name.as_str());
            WorkspaceError::UnknownTarget {
                name: name.to_owned(),
                near: crate::spec::schema::did_you_mean(name, known()).map(ToOwned::to_owned),
                known: known().map(ToOwned::to_owned).collect(),
            }
        })
    }

    /// The snapshots named (every one when `names` is empty).
    ///
    /// # Errors
    /// A name the specs do not define, with the nearest one they do.
    pub fn snapshots(&self, names: &[String]) -> Result<Vec<&Snapshot>, WorkspaceError> {
        let known = || self.catalog.snapshots.iter().map(|s| s.name.as_str());
        if let Some(name) = names.iter().find(|n| known().all(|k| k != n.as_str())) {
            return Err(WorkspaceError::UnknownSnapshot {
                name: name.clone(),
                near: crate::spec::schema::did_you_mean(name, known()).map(ToOwned::to_owned),
                known: known().map(ToOwned::to_owned).collect(),
            });
        }
        Ok(self
            .catalog
            .snapshots
            .iter()
            .filter(|s| names.is_empty() || names.contains(&s.name))
            .collect())
    }

    /// Compiles the plan of the snapshots `names` (every one when empty) at
    /// the workspace's clock, reading the stores without writing to them;
    /// the source items read in full are kept in `cache` if given. The plan
    /// records what it was made against (DESIGN 2.5).
    ///
    /// # Errors
    /// An unknown snapshot, no snapshot at all, a store that cannot be read,
    /// or a failing compile.
    pub fn compile(
        &self,
        names: &[String],
        cache: Option<&mut SourceCache>,
    ) -> Result<Plan, WorkspaceError> {
        let snapshots = self.snapshots(names)?;
        if snapshots.is_empty() {
            return Err(WorkspaceError::NoSnapshot);
        }
        let crm = CrmStore::open_read_only(&self.stores.crm).map_err(WorkspaceError::ReadCrm)?;
        let state = self.read_state()?;
        let endpoints = StoreEndpoints::new(crm);
        let (catalog, now) = (&self.catalog, self.now);
        let mut plan = match cache {
            Some(cache) => {
                plan::compile_keeping(catalog, &snapshots, &endpoints, &state, now, cache)?
            }
            None => plan::compile(catalog, &snapshots, &endpoints, &state, now)?,
        };
        plan.record(catalog, &self.stores);
        Ok(plan)
    }

    /// The state store, read-only: a missing one reads as empty and is not
    /// created.
    ///
    /// # Errors
    /// When it cannot be read.
    pub fn read_state(&self) -> Result<StateStore, WorkspaceError> {
        StateStore::open_read_only(&self.stores.state).map_err(WorkspaceError::ReadState)
    }

    /// Locks the links the snapshots `names` cover (every one when empty),
    /// waiting up to the options' timeout: a caller that locks before it
    /// plans compiles what another apply left, not a plan gone stale.
    ///
    /// A name the specs do not define locks nothing (compiling then says so).
    ///
    /// # Errors
    /// An unreadable state store, or a lock still held after the timeout.
    pub fn lock(
        &self,
        names: &[String],
        options: &ApplyOptions,
    ) -> Result<Vec<LinkLock>, WorkspaceError> {
        // Read-only: the locks are files beside the store, and a plan that
        // is then declined must leave the store as it was.
        // A mistyped name is refused before any lock is waited for.
        let chosen = self.snapshots(names)?;
        let state = self.read_state()?;
        Ok(apply::lock_covered_links(
            &self.catalog,
            &chosen,
            &state,
            options,
        )?)
    }

    /// Carries out `plan` on the workspace's stores, holding `held` (the
    /// locks taken before planning, if any), telling `progress` as
    /// operations finish.
    ///
    /// # Errors
    /// A refusal (nothing was written), a held lock, a store that cannot be
    /// opened or fails.
    pub fn execute(
        &self,
        plan: &Plan,
        options: &ApplyOptions,
        held: Vec<LinkLock>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Report, WorkspaceError> {
        let crm = CrmStore::open(&self.stores.crm).map_err(WorkspaceError::OpenCrm)?;
        let mut state = StateStore::open(&self.stores.state).map_err(WorkspaceError::OpenState)?;
        let endpoints = StoreEndpoints::new(crm);
        apply::execute_holding(
            plan,
            &self.catalog,
            &endpoints,
            &mut state,
            options,
            progress,
            held,
        )
        .map_err(|error| match error {
            ApplyError::Refused(refusal) => WorkspaceError::Refused(refusal),
            other => WorkspaceError::Apply(other),
        })
    }
}

#[cfg(test)]
mod tests;
