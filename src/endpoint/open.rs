//! Opening the collections of a snapshot: the CRM store's for a user, and a
//! target's for a link.

use std::collections::HashMap;
use std::sync::Mutex;

use super::caldav::{CaldavCollection, DavClient};
use super::crm::CrmStore;
use super::vdir::VdirCollection;
use super::{Collection, EndpointError, ErrorKind};
use crate::item::ItemType;
use crate::spec::model::{LinkSpec, Target, TargetLocation};

/// Opens the collections a plan reads and an apply writes.
pub trait Endpoints: Sync {
    /// A CRM user's collection of one item type.
    fn crm(&self, user: &str, item_type: ItemType) -> Box<dyn Collection>;

    /// The names of the CRM store's users, sorted: a send for a user that
    /// is not among them would read an empty source (DESIGN 2.5).
    ///
    /// # Errors
    /// The CRM store cannot be read.
    fn crm_users(&self) -> Result<Vec<String>, EndpointError>;

    /// A link's collection of one item type on a target.
    ///
    /// # Errors
    /// The target cannot be reached, or is of a type this build cannot open.
    fn target(
        &self,
        target: &Target,
        link: &LinkSpec,
        item_type: ItemType,
    ) -> Result<Box<dyn Collection>, EndpointError>;

    /// A problem of the whole target, that each of its collections would
    /// report again (a vdir folder that does not exist): a plan checks it
    /// once per target and says it once.
    ///
    /// # Errors
    /// The target cannot be used at all.
    fn check_target(&self, target: &Target) -> Result<(), EndpointError> {
        let _ = target;
        Ok(())
    }
}

/// A vdir target's folder that is missing: a wrong path, not an empty
/// target; saying so keeps a typo from looking like "delete everything".
fn missing_vdir_root(target: &Target) -> Option<EndpointError> {
    let TargetLocation::Vdir { path } = &target.location else {
        return None;
    };
    (!path.is_dir()).then(|| {
        EndpointError::new(
            ErrorKind::DoesNotExist,
            format!(
                "target {}: the vdir folder {} does not exist (create it, or fix spec.path in {})",
                target.name,
                path.display(),
                target.origin
            ),
        )
    })
}

/// The endpoints of this machine: a CRM store and the targets the specs
/// declare.
pub struct StoreEndpoints {
    crm: CrmStore,
    fsync: bool,
    /// One HTTP client per CalDAV target, by target name: its collections
    /// share its pooled connections, and its secret is read once.
    dav_clients: Mutex<HashMap<String, DavClient>>,
}

impl StoreEndpoints {
    /// Endpoints over `crm`.
    #[must_use]
    pub fn new(crm: CrmStore) -> Self {
        StoreEndpoints {
            crm,
            fsync: true,
            dav_clients: Mutex::new(HashMap::new()),
        }
    }

    /// Whether vdir writes are flushed to the disk one by one (on by default).
    #[must_use]
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }
}

impl Endpoints for StoreEndpoints {
    fn crm(&self, user: &str, item_type: ItemType) -> Box<dyn Collection> {
        Box::new(self.crm.collection(user, item_type))
    }

    fn check_target(&self, target: &Target) -> Result<(), EndpointError> {
        missing_vdir_root(target).map_or(Ok(()), Err)
    }

    fn crm_users(&self) -> Result<Vec<String>, EndpointError> {
        self.crm
            .user_names()
            .map_err(|e| EndpointError::new(ErrorKind::Other, e.to_string()))
    }

    fn target(
        &self,
        target: &Target,
        link: &LinkSpec,
        item_type: ItemType,
    ) -> Result<Box<dyn Collection>, EndpointError> {
        let Some(collection) = link.collections.get(&item_type) else {
            return Err(EndpointError::new(
                ErrorKind::DoesNotExist,
                format!(
                    "target {}: link {} has no {item_type} collection",
                    target.name, link.name
                ),
            ));
        };
        match &target.location {
            TargetLocation::Vdir { path } => {
                if let Some(error) = missing_vdir_root(target) {
                    return Err(error);
                }
                let label = format!("vdir {}: {collection}", target.name);
                Ok(Box::new(
                    VdirCollection::open(path.join(collection), item_type, label)
                        .with_fsync(self.fsync),
                ))
            }
            TargetLocation::Caldav(location) => {
                let client = {
                    // A poisoned lock only means another thread panicked
                    // while inserting; the map itself is still whole.
                    let mut clients = self
                        .dav_clients
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(client) = clients.get(&target.name) {
                        client.clone()
                    } else {
                        // Once per target and process: every plan and apply
                        // says it, and an apply (which plans first) says it once.
                        if location.insecure_skip_verify && first_warning_for(&target.name) {
                            tracing::warn!(
                                target = %target.name,
                                "TLS certificates are NOT verified for this target \
                                 (insecureSkipVerify in {}): anyone on the network path can read \
                                 and change what is sent",
                                target.origin
                            );
                        }
                        let client = DavClient::open(&target.name, location)?;
                        clients.insert(target.name.clone(), client.clone());
                        client
                    }
                };
                Ok(Box::new(CaldavCollection::open(
                    client,
                    &target.name,
                    &location.url,
                    collection,
                    item_type,
                )?))
            }
        }
    }
}

/// Whether this process has not yet warned about `target`'s unverified TLS
/// (and now counts it as warned).
fn first_warning_for(target: &str) -> bool {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(target.to_string())
}
