//! Per-link locks (DESIGN 2.5), and the locks that show a run is alive.
//!
//! Both are advisory locks on files (`File::try_lock`), which the operating
//! system releases when the process ends, however it ends: a killed apply
//! never leaves a link locked. Lock files are never deleted while in use:
//! removing a file that another process has opened to wait on would let two
//! processes each lock "the" file. Each file holds a line that says who
//! holds it (what, pid, host, since when), so that a waiting process can
//! say who it waits for.
//!
//! Layout, beside the store's file: `<file>.locks/<target>/<link>.lock` for
//! links, `<file>.locks/.runs/<id>.lock` for runs. Names are kept as they are
//! when they are plain (`A-Z a-z 0-9 . _ @ -`, not starting with a dot), and
//! percent-encoded otherwise, so that two names never share a file and none
//! leaves the folder.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};

use super::{RunId, StateStore};

/// How often a waiting process tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// What a lock file says when its holder has not (yet) said who it is.
const UNKNOWN_HOLDER: &str = "another process that has not said who it is";

/// A held lock on one link. Dropping it releases the lock (and so does the
/// end of the process, however it ends).
#[derive(Debug)]
pub struct LinkLock {
    target: String,
    link: String,
    path: PathBuf,
    file: File,
}

impl LinkLock {
    /// The target's name.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The link's name.
    #[must_use]
    pub fn link(&self) -> &str {
        &self.link
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LinkLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first says so.
        let _ = self.file.unlock();
    }
}

/// Why a link could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another apply holds the link, and did not release it in time.
    #[error(
        "link {link} of target {target} is locked by {holder_description}; \
         wait for it to finish, or pass a longer --lock-timeout (lock file {})",
        path.display()
    )]
    Held {
        /// The target's name.
        target: String,
        /// The link's name.
        link: String,
        /// Who holds it, as its lock file says: what, pid, host, since when.
        holder_description: String,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file cannot be made or locked.
    #[error("cannot lock link {link} of target {target} with {}: {source}", path.display())]
    Io {
        /// The target's name.
        target: String,
        /// The link's name.
        link: String,
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl StateStore {
    /// Locks a link for an apply, waiting up to `wait` for another holder to
    /// release it. `holder` says who asks (`apply of <snapshot> by <actor>`);
    /// the lock file adds the pid, the host and the time.
    ///
    /// # Errors
    /// [`LockError::Held`] when another process (or another lock in this
    /// one) still holds the link after `wait`; [`LockError::Io`] when the
    /// lock file cannot be made.
    pub fn lock_link(
        &self,
        target: &str,
        link: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<LinkLock, LockError> {
        let path = self.link_lock_path(target, link);
        let io_error = |source| LockError::Io {
            target: target.to_owned(),
            link: link.to_owned(),
            path: path.clone(),
            source,
        };
        let file = open_lock_file(&path).map_err(io_error)?;
        // A wait too long to count is a wait without end.
        let deadline = Instant::now().checked_add(wait);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    let left = deadline.map_or(POLL, |d| d.saturating_duration_since(now));
                    if left.is_zero() {
                        return Err(LockError::Held {
                            target: target.to_owned(),
                            link: link.to_owned(),
                            holder_description: read_holder(&path),
                            path,
                        });
                    }
                    std::thread::sleep(POLL.min(left));
                }
                Err(TryLockError::Error(source)) => return Err(io_error(source)),
            }
        }
        write_holder(&file, holder).map_err(io_error)?;
        Ok(LinkLock {
            target: target.to_owned(),
            link: link.to_owned(),
            path,
            file,
        })
    }

    /// The lock file of a link.
    #[must_use]
    pub fn link_lock_path(&self, target: &str, link: &str) -> PathBuf {
        locks_dir(&self.path)
            .join(file_name(target))
            .join(format!("{}.lock", file_name(link)))
    }
}

/// The folder of lock files beside the store's file.
fn locks_dir(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".locks");
    PathBuf::from(name)
}

/// A name as a file name: plain names as they are, anything else
/// percent-encoded, so that distinct names stay distinct and none is `..`,
/// hidden, or holds a separator.
fn file_name(name: &str) -> String {
    if name.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'@' | b'-')
            || (byte == b'.' && i > 0);
        if plain {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    // Never truncated on open: the holder's line must survive a waiter.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Writes who holds a lock into its (locked) file.
fn write_holder(mut file: &File, holder: &str) -> io::Result<()> {
    let host = host_name().map(|h| format!(" on {h}")).unwrap_or_default();
    let line = format!(
        "{holder} (pid {}{host}, started {})\n",
        std::process::id(),
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    file.set_len(0)?;
    file.write_all(line.as_bytes())?;
    file.flush()
}

/// Who holds a lock, as its file says.
fn read_holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| UNKNOWN_HOLDER.to_owned())
}

/// This machine's name, when it is easy to tell.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// The lock file of a run. `.runs` starts with a dot, which no target's
/// folder does (see [`file_name`]).
pub(super) fn run_lock_path(state: &Path, id: RunId) -> PathBuf {
    locks_dir(state).join(".runs").join(format!("{id}.lock"))
}

/// Takes the lock of a new run, which nobody else can hold.
pub(super) fn hold_run_lock(path: &Path, holder: &str) -> io::Result<File> {
    let file = open_lock_file(path)?;
    file.try_lock().map_err(io::Error::from)?;
    write_holder(&file, holder)?;
    Ok(file)
}

/// Whether a process (this one included) holds the lock at `path`. Only
/// reads: a missing file is not held, and a shared lock taken to find out is
/// released at once.
pub(super) fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
}

#[cfg(test)]
mod tests {
    use super::super::runs::tests::run_start;
    use super::super::tests::store;
    use super::super::{RunStatus, StateError};
    use super::*;
    use crate::spec::types::Direction;

    /// Set in the child process that takes a lock and waits to be killed.
    const HOLDER_ENV: &str = "SNAPSYNC_TEST_LOCK_HOLDER";
    const HOLDER_TEST: &str = "state::lock::tests::lock_holder_process";

    #[test]
    fn a_held_link_refuses_a_second_lock_until_it_is_released() {
        let (_dir, store) = store();
        let first = store
            .lock_link(
                "office",
                "jdoe",
                "apply of nightly by ci:alice",
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!((first.target(), first.link()), ("office", "jdoe"));
        let err = store
            .lock_link(
                "office",
                "jdoe",
                "apply of other",
                Duration::from_millis(120),
            )
            .unwrap_err();
        let LockError::Held {
            holder_description,
            path,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(path, first.path());
        let pid = format!("(pid {}", std::process::id());
        assert!(
            holder_description.starts_with(&format!("apply of nightly by ci:alice {pid}")),
            "{holder_description}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(
                "link jdoe of target office is locked by apply of nightly by ci:alice (pid "
            ),
            "{message}"
        );
        assert!(
            message
                .contains("; wait for it to finish, or pass a longer --lock-timeout (lock file "),
            "{message}"
        );
        assert!(message.ends_with("office/jdoe.lock)"), "{message}");

        drop(first);
        let second = store
            .lock_link("office", "jdoe", "apply of other", Duration::ZERO)
            .unwrap();
        assert!(
            std::fs::read_to_string(second.path())
                .unwrap()
                .starts_with("apply of other (pid ")
        );
    }

    #[test]
    fn different_links_do_not_block_each_other() {
        let (_dir, store) = store();
        let _a = store
            .lock_link("office", "jdoe", "a", Duration::ZERO)
            .unwrap();
        let _b = store
            .lock_link("office", "asmith", "b", Duration::ZERO)
            .unwrap();
        let _c = store
            .lock_link("home", "jdoe", "c", Duration::ZERO)
            .unwrap();
    }

    #[test]
    fn a_waiting_lock_is_taken_once_released() {
        let (_dir, store) = store();
        let first = store
            .lock_link("office", "jdoe", "first", Duration::ZERO)
            .unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(first);
        });
        let second = store.lock_link("office", "jdoe", "second", Duration::MAX);
        releaser.join().unwrap();
        assert!(second.is_ok(), "{second:?}");
    }

    #[test]
    fn names_become_distinct_plain_file_names() {
        assert_eq!(file_name("jdoe@example.com"), "jdoe@example.com");
        assert_eq!(file_name("j.doe_1-x"), "j.doe_1-x");
        assert_eq!(file_name(".."), "%2E.");
        assert_eq!(file_name(".runs"), "%2Eruns");
        assert_eq!(file_name("a/b"), "a%2Fb");
        assert_eq!(file_name("a%2Fb"), "a%252Fb");
        assert_eq!(file_name("é"), "%C3%A9");
        assert_eq!(file_name(""), "%");

        let (_dir, store) = store();
        let path = store.link_lock_path("../office", "a/b");
        let locks = locks_dir(store.path());
        assert_eq!(path, locks.join("%2E.%2Foffice").join("a%2Fb.lock"));
        let _held = store
            .lock_link("../office", "a/b", "x", Duration::ZERO)
            .unwrap();
        assert!(path.exists());
    }

    #[test]
    fn an_unwritable_lock_folder_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let store = StateStore::open(&state).unwrap();
        // A file where the folder of lock files should be.
        std::fs::write(locks_dir(&state), "").unwrap();
        let err = store
            .lock_link("office", "jdoe", "x", Duration::ZERO)
            .unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("state.sqlite.locks"), "{err}");
        let err = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap_err();
        assert!(matches!(err, StateError::RunLock { .. }), "{err:?}");
        assert!(err.to_string().contains("state.sqlite.locks"), "{err}");
        // The refused run left no trace.
        assert!(store.runs(10).unwrap().is_empty());
    }

    /// Not a test on its own: the child process of
    /// `a_killed_holder_releases_its_locks`, which holds a run and a link
    /// until it is killed.
    #[test]
    fn lock_holder_process() {
        let Ok(state) = std::env::var(HOLDER_ENV) else {
            return;
        };
        let store = StateStore::open(Path::new(&state)).unwrap();
        let _run = store
            .begin_run(&run_start("office", Direction::Send))
            .unwrap();
        let _lock = store
            .lock_link(
                "office",
                "jdoe",
                "apply of nightly by ci:alice",
                Duration::ZERO,
            )
            .unwrap();
        std::fs::write(format!("{state}.ready"), "").unwrap();
        std::thread::sleep(Duration::from_secs(300));
    }

    /// Kills the child when the test ends, however it ends.
    struct KillOnDrop(std::process::Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_killed_holder_releases_its_locks() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let store = StateStore::open(&state).unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", HOLDER_TEST, "--nocapture", "--test-threads=1"])
            .env(HOLDER_ENV, &state)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let ready = dir.path().join("state.sqlite.ready");
        let start = Instant::now();
        while !ready.exists() {
            if let Some(status) = child.0.try_wait().unwrap() {
                panic!("the lock holder ended before taking its locks: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the lock holder never got ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        let err = store
            .lock_link(
                "office",
                "jdoe",
                "apply of mine",
                Duration::from_millis(100),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "locked by apply of nightly by ci:alice (pid {}",
                child.0.id()
            )),
            "{err}"
        );
        assert_eq!(store.runs(1).unwrap()[0].status, RunStatus::Running);

        // SIGKILL on Unix: no destructor, no cleanup; only the OS releases.
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let lock = store.lock_link("office", "jdoe", "apply of mine", Duration::from_secs(10));
        assert!(lock.is_ok(), "{lock:?}");
        assert_eq!(store.runs(1).unwrap()[0].status, RunStatus::Interrupted);
    }
}
