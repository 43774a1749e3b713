//! Where the CRM store and the state store are, and why those: a path
//! given by a flag or its environment variable wins, then the specs'
//! `Stores` resource, then the default (`.snapsync/crm.sqlite`,
//! `.snapsync/state.sqlite`). The binary says which store it opened and
//! why from [`why`], and warns about [`others_nearby`].

use std::path::{Path, PathBuf};

use crate::spec::codes::DiagnosticCode;
use crate::spec::model::{Catalog, Origin, Stores};

use super::WorkspaceError;
use crate::plan::saved::canonical_path;

/// One of the two embedded stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The CRM store (`--crm`).
    Crm,
    /// The state store (`--state`).
    State,
}

impl Store {
    /// `CRM store`, `state store`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Store::Crm => "CRM store",
            Store::State => "state store",
        }
    }

    /// The flag that names it.
    #[must_use]
    pub fn flag(self) -> &'static str {
        match self {
            Store::Crm => "--crm",
            Store::State => "--state",
        }
    }

    /// The environment variable that names it.
    #[must_use]
    pub fn env(self) -> &'static str {
        match self {
            Store::Crm => "SNAPSYNC_CRM",
            Store::State => "SNAPSYNC_STATE",
        }
    }

    /// Its path in `stores`.
    #[must_use]
    pub fn of(self, stores: &Stores) -> &Path {
        match self {
            Store::Crm => &stores.crm,
            Store::State => &stores.state,
        }
    }
}

/// A store path named before any spec is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The path.
    pub path: PathBuf,
    /// Whether the environment variable named it (else the flag did).
    pub by_env: bool,
}

/// What the command line and the environment name: the paths that win
/// over the specs (`None`: nothing named).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GivenStores {
    /// `--crm` or `SNAPSYNC_CRM`.
    pub crm: Option<Given>,
    /// `--state` or `SNAPSYNC_STATE`.
    pub state: Option<Given>,
}

impl GivenStores {
    /// What was given for `store`.
    #[must_use]
    pub fn get(&self, store: Store) -> Option<&Given> {
        match store {
            Store::Crm => self.crm.as_ref(),
            Store::State => self.state.as_ref(),
        }
    }

    /// Both stores: each given path, else the one in `specs`.
    #[must_use]
    pub fn over(&self, specs: &Stores) -> Stores {
        let path = |store| {
            self.get(store)
                .map_or_else(|| store.of(specs).to_owned(), |g| g.path.clone())
        };
        Stores {
            crm: path(Store::Crm),
            state: path(Store::State),
        }
    }
}

/// Why a store is the one opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The flag named it.
    Flag,
    /// The environment variable named it.
    Env,
    /// The `Stores` resource at this origin names it.
    Declared(Origin),
    /// The default: there are no specs at these paths.
    NoSpecs(Vec<PathBuf>),
    /// The default: the specs at these paths declare no `Stores` resource.
    Undeclared(Vec<PathBuf>),
}

/// Why `store` is the one a command that read the specs at `specs` opens.
#[must_use]
pub fn why(store: Store, given: &GivenStores, specs: &[PathBuf]) -> Why {
    match given.get(store) {
        Some(given) if given.by_env => Why::Env,
        Some(_) => Why::Flag,
        None => {
            let existing: Vec<PathBuf> = specs.iter().filter(|p| p.exists()).cloned().collect();
            match declared(&existing).into_iter().next() {
                Some(found) => Why::Declared(found.origin),
                None if existing.is_empty() => Why::NoSpecs(specs.to_vec()),
                None => Why::Undeclared(existing),
            }
        }
    }
}

/// Where `store` is for a command that needs no specs (`crm`, `runs`): the
/// given path, else the `Stores` resource of the specs at `specs` when they
/// exist, else the default.
///
/// # Errors
/// When those specs are not valid: their store is unknown, never a silent
/// default.
pub fn path_without_catalog(
    store: Store,
    given: &GivenStores,
    specs: &Path,
) -> Result<PathBuf, WorkspaceError> {
    if let Some(given) = given.get(store) {
        return Ok(given.path.clone());
    }
    if !specs.exists() {
        return Ok(store.of(&Stores::default()).to_owned());
    }
    let validation = crate::spec::validate(&[specs.to_owned()], chrono::Utc::now())
        .map_err(WorkspaceError::ReadSpecs)?;
    // A folder that holds no spec file yet (made before the first
    // import) names no store: the default, as for no folder at all.
    if !validation.diagnostics.is_empty()
        && validation
            .diagnostics
            .iter()
            .all(|d| d.code == DiagnosticCode::FileNoSpecs)
    {
        return Ok(store.of(&Stores::default()).to_owned());
    }
    match validation.catalog {
        Some(Catalog { stores, .. }) => Ok(store.of(&stores).to_owned()),
        None => Err(WorkspaceError::InvalidSpecs {
            specs: specs.to_owned(),
            store,
        }),
    }
}

/// The `Stores` resources near a command that name another `store` than
/// the one it opened (`opened`, as [`canonical_path`] gives it): in `specs`, in
/// `snapshots.d`, or in a folder of the working directory. Each with the
/// other store's absolute path, once per resource.
#[must_use]
pub fn others_nearby(store: Store, opened: &Path, specs: &[PathBuf]) -> Vec<(Origin, PathBuf)> {
    let mut others: Vec<(Origin, PathBuf)> = Vec::new();
    for found in declared(&nearby_specs(specs)) {
        let other = canonical_path(store.of(&found.stores));
        if other == opened || others.iter().any(|(origin, _)| *origin == found.origin) {
            continue;
        }
        others.push((found.origin, other));
    }
    others
}

fn declared(paths: &[PathBuf]) -> Vec<crate::spec::DeclaredStores> {
    crate::spec::declared_stores(paths).unwrap_or_default()
}

/// The spec folders near a command: the ones it was given, `snapshots.d`,
/// and each folder of the working directory with a YAML file (at its top
/// or one folder down) that declares `kind: Stores`.
fn nearby_specs(specs: &[PathBuf]) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = specs.iter().filter(|p| p.exists()).cloned().collect();
    folders.push(PathBuf::from("snapshots.d"));
    let declares_stores = |file: &Path| {
        let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
        yaml && std::fs::read_to_string(file).is_ok_and(|text| {
            text.lines()
                .any(|line| line.trim_start().trim_start_matches("- ").trim() == "kind: Stores")
        })
    };
    let entries = |folder: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.') && n != "target")
            })
            .collect();
        paths.sort();
        paths
    };
    for folder in entries(Path::new(".")).into_iter().filter(|p| p.is_dir()) {
        let found = entries(&folder).iter().any(|entry| {
            if entry.is_dir() {
                entries(entry).iter().any(|file| declares_stores(file))
            } else {
                declares_stores(entry)
            }
        });
        if found && let Some(name) = folder.file_name() {
            // `ops`, not `./ops`, in messages.
            folders.push(PathBuf::from(name));
        }
    }
    let mut unique: Vec<PathBuf> = Vec::new();
    for folder in folders.into_iter().filter(|f| f.exists()) {
        let key = canonical_path(&folder);
        if !unique.iter().any(|u| canonical_path(u) == key) {
            unique.push(folder);
        }
    }
    unique
}

/// Paths as messages list them: `snapshots.d, ops`.
#[must_use]
pub fn shown_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
