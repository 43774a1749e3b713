//! What integration tests share: the snapsync binary (`Snapsync`, whose
//! `Run` asserts exit codes and outputs), project folders to run it in
//! (`World`, copied from `tests/fixtures/worlds/`), the Python tools of the local virtualenv (khal,
//! todoman, khard) and how to run them, and a Radicale server (`radicale`).
//!
//! The virtualenv is `$SNAPSYNC_VENV`, or `.venv` in the crate's folder;
//! `bash .ci/run` creates it from `.ci/requirements.txt`. A missing tool
//! fails the test that needs it, saying how to install it: a test that skips
//! itself silently proves nothing.
//!
//! Each tool runs with a generated configuration in a temporary home
//! (`HOME`, `XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `XDG_CACHE_HOME` all inside
//! it) and an otherwise empty environment, so the user's own configuration,
//! caches and calendars are never read.

pub mod radicale;
mod snapsync;
mod world;

pub use snapsync::{Run, Snapsync, text};
pub use world::World;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crate's folder: where the fixtures, examples and docs are.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv the tools are installed in.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("SNAPSYNC_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
        PathBuf::from,
    )
}

/// The path of a program installed in the virtualenv; panics, saying how to
/// install it, when it is not there.
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = venv_dir();
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "`{name}` is not installed in the virtualenv {} (looked for {}).\n\
         Install the test tools with `bash .ci/run`, or by hand from the crate's folder:\n\
         \x20   python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt\n\
         (set SNAPSYNC_VENV to use a virtualenv elsewhere)",
        venv.display(),
        bin.display()
    );
    bin
}

/// A temporary home for one run of one tool.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary home");
        for sub in ["home", "config", "data", "cache"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create a folder of the home");
        }
        Sandbox { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Writes a configuration file and returns its path.
    fn config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path("config").join(name);
        std::fs::write(&path, text).expect("write the tool's configuration");
        path
    }

    /// Runs a tool of the virtualenv in this home; panics with its output
    /// when it fails. Returns its standard output.
    fn run(&self, tool: &str, args: &[&str]) -> String {
        let bin = venv_bin(tool);
        let output = Command::new(&bin)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("TZ", "UTC")
            .env("LC_ALL", "C.UTF-8")
            .env("LANG", "C.UTF-8")
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // khal wraps its output, JSON included, at the terminal's width
            // (`COLUMNS`, else 80 when not on a terminal), breaking lines at
            // the spaces of a summary or UID.
            .env("COLUMNS", "1000000")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "`{tool} {}` failed ({}).\nstdout:\n{stdout}\nstderr:\n{stderr}",
            args.join(" "),
            output.status
        );
        // The tools warn on stderr about files they skip or misread: that is
        // a failure to read what snapsync wrote, even if the exit code is 0.
        assert!(
            stderr.trim().is_empty(),
            "`{tool} {}` complained.\nstderr:\n{stderr}\nstdout:\n{stdout}",
            args.join(" ")
        );
        stdout
    }
}

/// The path as configuration files need it (they are text).
fn text_of(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Every event khal sees in a vdir calendar folder, as distinct
/// `(uid, summary)` pairs, sorted. A recurring event gives its summary once,
/// plus one pair per differently named overridden instance.
///
/// `khal search ''` matches every event, whatever its date (`khal list`
/// needs a range and leaves out what is outside it); it prints one JSON line
/// per occurrence, hence the deduplication.
pub fn khal_events(folder: &Path) -> Vec<(String, String)> {
    let sandbox = Sandbox::new();
    let db = sandbox.path("data").join("khal.db");
    let config = sandbox.config(
        "khal.conf",
        &format!(
            "[calendars]\n\
             [[snapsync]]\n\
             path = {}\n\
             type = calendar\n\
             [locale]\n\
             timeformat = %H:%M\n\
             dateformat = %Y-%m-%d\n\
             longdateformat = %Y-%m-%d\n\
             datetimeformat = %Y-%m-%d %H:%M\n\
             longdatetimeformat = %Y-%m-%d %H:%M\n\
             local_timezone = UTC\n\
             default_timezone = UTC\n\
             [sqlite]\n\
             path = {}\n",
            text_of(folder),
            text_of(&db)
        ),
    );
    let stdout = sandbox.run(
        "khal",
        &[
            "-c",
            text_of(&config),
            "search",
            "--json",
            "uid",
            "--json",
            "title",
            "",
        ],
    );
    let mut events = BTreeSet::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let entries: Vec<serde_json::Value> = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("khal printed {line:?}, not a JSON list: {e}"));
        for entry in entries {
            events.insert((json_text(&entry, "uid"), json_text(&entry, "title")));
        }
    }
    events.into_iter().collect()
}

/// Every task todoman sees in a vdir task folder, as `(uid, summary)`
/// pairs, sorted.
///
/// `todo --porcelain list --status ANY` prints every task as JSON, but
/// without its UID: the UID is read from todoman's own cache, by the id
/// the listing gives (the cache is what todoman parsed the files into).
pub fn todoman_tasks(folder: &Path) -> Vec<(String, String)> {
    let sandbox = Sandbox::new();
    let cache = sandbox.path("cache").join("todoman.sqlite3");
    let config = sandbox.config(
        "todoman.py",
        &format!(
            "path = {:?}\n\
             cache_path = {:?}\n\
             date_format = \"%Y-%m-%d\"\n\
             time_format = \"%H:%M\"\n",
            text_of(folder),
            text_of(&cache)
        ),
    );
    let stdout = sandbox.run(
        "todo",
        &[
            "--config",
            text_of(&config),
            "--porcelain",
            "list",
            "--status",
            "ANY",
        ],
    );
    let listed: Vec<serde_json::Value> = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("todoman printed {stdout:?}, not a JSON list: {e}"));
    let db =
        rusqlite::Connection::open_with_flags(&cache, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("cannot open todoman's cache {}: {e}", cache.display()));
    let mut tasks: Vec<(String, String)> = listed
        .iter()
        .map(|task| {
            let id = task["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("todoman listed a task without an id: {task}"));
            let uid: String = db
                .query_row("SELECT uid FROM todos WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .unwrap_or_else(|e| panic!("task {id} is not in todoman's cache: {e}"));
            (uid, json_text(task, "summary"))
        })
        .collect();
    tasks.sort();
    tasks
}

/// Every contact khard sees in a vdir address book folder, as
/// `(uid, formatted name)` pairs, sorted (`khard list --parsable -F
/// uid,formatted_name`: one tab-separated line per contact).
pub fn khard_contacts(folder: &Path) -> Vec<(String, String)> {
    let sandbox = Sandbox::new();
    let config = sandbox.config(
        "khard.conf",
        &format!(
            "[addressbooks]\n\
             [[snapsync]]\n\
             path = {}\n\
             [general]\n\
             default_action = list\n",
            text_of(folder)
        ),
    );
    let stdout = sandbox.run(
        "khard",
        &[
            "-c",
            text_of(&config),
            "list",
            "--parsable",
            "-F",
            "uid,formatted_name",
        ],
    );
    let mut contacts: Vec<(String, String)> = stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (uid, name) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("khard printed {line:?}, not `uid<TAB>name`"));
            (uid.to_string(), name.to_string())
        })
        .collect();
    contacts.sort();
    contacts
}

fn json_text(value: &serde_json::Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no text {key:?} in {value}"))
        .to_string()
}

/// Runs snapsync with a closed standard output (see
/// [`Snapsync::closed_stdout`]) and asserts it exits 0 and says nothing on
/// standard error beyond the stores it opened.
pub fn assert_quiet_with_closed_stdout(dir: &Path, args: &[&str]) {
    let out = Snapsync::new(dir)
        .args(args)
        .closed_stdout()
        .run()
        .success();
    assert_eq!(out.stderr_besides_stores(), "", "{args:?}");
}

/// Makes `path` (a file or a folder) refuse writes until the returned
/// function is called: `chattr +i` where it works (root on ext4), else a
/// read-only folder (a file's own folder). Fails the test if neither works.
pub fn refuse_writes(path: &Path) -> Box<dyn Fn()> {
    let chattr = Command::new("chattr").arg("+i").arg(path).status();
    if chattr.is_ok_and(|s| s.success()) {
        let path = path.to_owned();
        return Box::new(move || {
            let _ = Command::new("chattr").arg("-i").arg(&path).status();
        });
    }
    let folder = if path.is_dir() {
        path.to_owned()
    } else {
        path.parent().expect("folder").to_owned()
    };
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let probe = folder.join(".probe");
    assert!(
        std::fs::write(&probe, "x").is_err(),
        "cannot make {} refuse writes here: neither `chattr +i` nor a read-only folder works",
        folder.display()
    );
    Box::new(move || {
        let _ = std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755));
    })
}

/// The `send-basic` world, with `items` generated items for jdoe in its
/// CRM store (no store at all when 0).
pub fn project(items: u32) -> World {
    let world = World::copy("send-basic");
    if items > 0 {
        world.crm_items("jdoe", items, None);
    }
    world
}

/// The `two-users` world: jdoe has `crm_items` generated items in the CRM
/// store; asmith has `target_items` generated items in the vdir target
/// (none in the CRM). Both users exist in the CRM store (a send for a user
/// it does not hold is an error).
pub fn two_users(crm_items: u32, target_items: u32) -> World {
    let world = World::copy("two-users");
    world.crm_users(&["jdoe", "asmith"]);
    if crm_items > 0 {
        world.crm_items("jdoe", crm_items, Some(1));
    }
    if target_items > 0 {
        world.vdir_items("vdir/asmith", target_items, 2);
    }
    world
}
