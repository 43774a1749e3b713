//! Fixture worlds: a project folder (specs in `snapshots.d/`, and the
//! folders its targets need) kept as files under `tests/fixtures/worlds/`,
//! copied into a temporary folder for one test, which then fills its stores.
//!
//! A world's specs are valid as they stand (`validate` passes on each);
//! a test that needs a server's address or another value puts it in with
//! [`World::replace`].

use std::path::{Path, PathBuf};

use snapsync::endpoint::crm::CrmStore;

use super::{Snapsync, crate_root};

/// A copy of a fixture world in a temporary folder, removed when dropped.
pub struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// Copies `tests/fixtures/worlds/<name>` into a fresh temporary folder.
    /// A folder that holds only a `.gitkeep` (git keeps no empty folder) is
    /// copied empty.
    pub fn copy(name: &str) -> World {
        let from = Self::fixture(name);
        assert!(from.is_dir(), "no fixture world {}", from.display());
        let dir = tempfile::tempdir().expect("a temporary folder");
        copy_tree(&from, dir.path());
        World { dir }
    }

    /// The folder a world is kept in.
    pub fn fixture(name: &str) -> PathBuf {
        crate_root().join("tests/fixtures/worlds").join(name)
    }

    /// The world's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// snapsync, to run in the world's folder.
    pub fn snapsync(&self) -> Snapsync {
        Snapsync::new(self.path())
    }

    /// Replaces `from` by `to` in the world's file `file`; panics when
    /// `from` is not in it (the fixture changed under the test).
    pub fn replace(&self, file: &str, from: &str, to: &str) -> &World {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(text.contains(from), "{file} has no {from:?}:\n{text}");
        std::fs::write(&path, text.replace(from, to)).expect("write the world's file");
        self
    }

    /// Writes `text` to the world's file `file`, making its folder.
    pub fn write(&self, file: &str, text: &str) -> &World {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(&path, text).expect("write the world's file");
        self
    }

    /// Makes `users` known to the world's CRM store (`data/crm.sqlite`),
    /// with no items: a send for a user the store does not hold is an error.
    pub fn crm_users(&self, users: &[&str]) -> &World {
        let store = CrmStore::open(&self.path().join("data/crm.sqlite")).expect("the CRM store");
        for user in users {
            store.store_items(user, &[]).expect("a CRM user");
        }
        self
    }

    /// Generates `items` items (with `seed`, or the default one) and
    /// imports them into the CRM store for `user`.
    pub fn crm_items(&self, user: &str, items: u32, seed: Option<u32>) -> &World {
        self.generate(items, seed, &["--out", "gen"]);
        self.snapsync()
            .args(["crm", "import", "--user", user, "gen"])
            .run()
            .success();
        self
    }

    /// Generates `items` items with `seed` as vdir files in `folder` of the
    /// world (a target's link folder, `vdir/asmith`).
    pub fn vdir_items(&self, folder: &str, items: u32, seed: u32) -> &World {
        self.generate(items, Some(seed), &["--layout", "vdir", "--out", folder]);
        self
    }

    fn generate(&self, items: u32, seed: Option<u32>, rest: &[&str]) {
        let mut args = vec![
            "generate".to_owned(),
            "--items".to_owned(),
            items.to_string(),
        ];
        if let Some(seed) = seed {
            args.extend(["--seed".to_owned(), seed.to_string()]);
        }
        args.extend(rest.iter().map(|s| (*s).to_owned()));
        self.snapsync().args(args).run().success();
    }
}

/// Copies the files under `from` into `to`, folder by folder.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a fixture folder") {
        let entry = entry.expect("a folder entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else if entry.file_name() != ".gitkeep" {
            std::fs::copy(&path, &target).expect("copy a fixture file");
        }
    }
}
