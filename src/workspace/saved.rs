//! The workspace of a saved plan (`apply --plan FILE`): the plan is the
//! approval and holds all it needs (DESIGN 2.5), so its workspace is the
//! one it records; what the command line or specs nearby now resolve to
//! elsewhere than the plan recorded is refused.

use std::path::{Path, PathBuf};

use crate::plan::{Plan, PlanFormatVersion, SavedPlanError};

use super::stores::shown_list;
use super::{GivenStores, Workspace, WorkspaceError};

/// A saved plan read back, with the workspace it records.
#[derive(Debug)]
pub struct SavedPlan {
    /// The plan, checked: not edited, and nothing moved since.
    pub plan: Plan,
    /// The digest of the file (for the journal).
    pub digest: String,
    /// The targets, stores and clock the plan records.
    pub workspace: Workspace,
}

/// Why a saved plan is not applied.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// The file cannot be read.
    #[error("cannot read the plan {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{} is not a plan (not JSON)", .path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// Another format version.
    #[error(
        "{} is a plan of format version {}, but this snapsync reads version \
         {}; plan again",
        .path.display(),
        .version.map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
        PlanFormatVersion::VALUE
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version, if it says one.
        version: Option<u64>,
    },
    /// JSON, but not a plan.
    #[error("{} is not a valid plan", .path.display())]
    NotPlan {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// Edited since it was saved, or not sealed.
    #[error("{} is not applied", .path.display())]
    NotApplied {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SavedPlanError,
    },
    /// The built-in schema does not compile (a bug).
    #[error("cannot read the specs to compare them with the plan")]
    Specs(#[source] crate::spec::schema::SchemaBuildError),
    /// Specs named to compare the plan with are not valid.
    #[error(
        "the specs at {} are not valid, so the plan cannot be compared with them; \
         run `snapsync validate`, or apply the plan without naming specs",
        shown_list(.specs)
    )]
    InvalidSpecs {
        /// The specs.
        specs: Vec<PathBuf>,
    },
    /// Moved since it was planned, or recording no stores.
    #[error(transparent)]
    Moved(#[from] SavedPlanError),
}

impl Workspace {
    /// Reads the plan saved at `path` and the workspace it records. It is
    /// refused when it was edited, when a vdir folder it reads or writes now
    /// resolves elsewhere (a symbolic link put in its place), or when the
    /// `given` stores, or the specs at `specs` (`snapshots.d`, the default,
    /// only when it exists), now resolve a store, target, link or
    /// collection elsewhere than the plan recorded, or disable a link it
    /// carries in its snapshot's direction.
    ///
    /// # Errors
    /// A plan that cannot be read, is not one, or is refused.
    pub fn of_saved_plan(
        path: &Path,
        given: &GivenStores,
        specs: &[PathBuf],
    ) -> Result<SavedPlan, WorkspaceError> {
        let (plan, digest) = read_plan(path)?;
        refuse_moved(&plan, given, specs)?;
        let catalog = plan.recorded_catalog().map_err(SavedError::Moved)?;
        let workspace = Workspace {
            stores: catalog.stores.clone(),
            catalog,
            specs: Vec::new(),
            given: GivenStores::default(),
            now: plan.now,
        };
        Ok(SavedPlan {
            plan,
            digest,
            workspace,
        })
    }
}

/// Reads a saved plan: its format version, then its checksum and records.
/// Returns it and the digest of the file.
fn read_plan(path: &Path) -> Result<(Plan, String), SavedError> {
    let path_buf = || path.to_owned();
    let bytes = std::fs::read(path).map_err(|source| SavedError::Read {
        path: path_buf(),
        source,
    })?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| SavedError::NotJson {
            path: path_buf(),
            source,
        })?;
    let version = value
        .get("formatVersion")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PlanFormatVersion::VALUE)) {
        return Err(SavedError::Version {
            path: path_buf(),
            version,
        });
    }
    let plan: Plan = serde_json::from_value(value).map_err(|source| SavedError::NotPlan {
        path: path_buf(),
        source,
    })?;
    plan.check_saved()
        .map_err(|source| SavedError::NotApplied {
            path: path_buf(),
            source,
        })?;
    Ok((plan, digest))
}

/// Refuses `plan` when something it records now resolves elsewhere (see
/// [`Workspace::of_saved_plan`]).
fn refuse_moved(plan: &Plan, given: &GivenStores, specs: &[PathBuf]) -> Result<(), SavedError> {
    // The vdir folders themselves, specs or not: one replaced by a symbolic
    // link since the plan was made would take its writes elsewhere.
    let mut mismatches = plan.moved_folders();
    for (flag, given, crm) in [
        ("--crm or SNAPSYNC_CRM", given.crm.as_ref(), true),
        ("--state or SNAPSYNC_STATE", given.state.as_ref(), false),
    ] {
        if let Some(given) = given {
            let what = format!(
                "the {} ({flag})",
                if crm { "CRM store" } else { "state store" }
            );
            mismatches.extend(plan.moved_store(&what, crm, &given.path));
        }
    }
    let default_paths = specs.len() == 1 && specs[0] == Path::new("snapshots.d");
    if !default_paths || specs[0].exists() {
        let validation = crate::spec::validate(specs, plan.now).map_err(SavedError::Specs)?;
        match validation.catalog {
            Some(catalog) if !validation.has_errors() => {
                mismatches.extend(plan.moved_targets(&catalog));
                // Specs without a `Stores` resource use the default stores:
                // say so, rather than name a resource they do not have.
                let declared = !crate::spec::declared_stores(specs)
                    .unwrap_or_default()
                    .is_empty();
                let what = |store: &str| {
                    if declared {
                        format!("the {store} (the specs' Stores)")
                    } else {
                        format!(
                            "the {store} the specs at {} use (the default: they declare no \
                             Stores)",
                            shown_list(specs)
                        )
                    }
                };
                if given.crm.is_none() {
                    mismatches.extend(plan.moved_store(
                        &what("CRM store"),
                        true,
                        &catalog.stores.crm,
                    ));
                }
                if given.state.is_none() {
                    mismatches.extend(plan.moved_store(
                        &what("state store"),
                        false,
                        &catalog.stores.state,
                    ));
                }
            }
            _ if !default_paths => {
                return Err(SavedError::InvalidSpecs {
                    specs: specs.to_vec(),
                });
            }
            _ => tracing::warn!(
                "the specs in snapshots.d are not valid, so the plan's locations were not \
                 compared with them; the plan is applied where it was made"
            ),
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(SavedPlanError::Moved { mismatches }.into())
    }
}
