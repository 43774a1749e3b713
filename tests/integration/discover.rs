//! `snapsync discover` against a real Radicale (started per test by
//! `support::radicale`): the printed `links:` block pasted into the specs
//! validates and carries a full send; other collections are comments;
//! a service account finds other users; and each way it can fail (a wrong
//! password, an unknown user, a login that may not read other users, a
//! vdir target, no server, an unreadable principal, no login, no CalDAV)
//! is one clear error.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::radicale::{
    CollectionKind, PASSWORD, Radicale, Rights, SERVICE_ACCOUNT_RIGHTS,
};
use crate::support::{Run, Snapsync, World};
use snapsync::endpoint::Collection;
use snapsync::endpoint::crm::CrmStore;
use snapsync::item::ItemType;

/// The variable the specs name for the login's password.
const PASSWORD_ENV: &str = "SNAPSYNC_TEST_PASSWORD";

/// The service account's password on the servers that have one.
const SVC_PASSWORD: &str = "svc-Hn3-also-not-in-any-output";

/// Rights that let users read the root and nothing else.
const ROOT_ONLY_RIGHTS: &str = "[root]\nuser: .+\ncollection:\npermissions: R\n";

/// Where the pasted block goes in the specs.
const NO_LINKS: &str = "  links: []\n";

/// A project whose target `office` is the server at `url`, logging in as
/// `login` (none: no `auth`), with no links yet, and a full send snapshot;
/// with `items` generated CRM items for `crm_user` when given.
fn project(url: &str, login: Option<&str>, crm: Option<(&str, u32)>) -> World {
    let world = World::copy("discover");
    let auth = login
        .map(|user| format!("  auth: {{ username: {user}, passwordEnv: {PASSWORD_ENV} }}\n"))
        .unwrap_or_default();
    world.replace(
        "snapshots.d/world.yaml",
        "  url: http://radicale.invalid/\n",
        &format!("  url: {url}\n{auth}"),
    );
    if let Some((user, items)) = crm {
        world.crm_items(user, items, None);
    }
    world
}

/// Puts `block` (what discover printed) in place of the target's empty
/// `links:`, as an administrator pastes it.
fn paste(dir: &Path, block: &str) {
    let file = dir.join("snapshots.d/world.yaml");
    let specs = std::fs::read_to_string(&file).expect("specs");
    assert!(specs.ends_with(NO_LINKS), "{specs}");
    let pasted = format!("{}{block}", &specs[..specs.len() - NO_LINKS.len()]);
    std::fs::write(&file, pasted).expect("write specs");
}

/// Runs snapsync in `dir` with the password variable set to `password`.
fn run_with(dir: &Path, args: &[&str], password: &str) -> Run {
    Snapsync::new(dir)
        .args(args)
        .env(PASSWORD_ENV, password)
        .run()
}

fn ok_with(dir: &Path, args: &[&str], password: &str) -> Run {
    run_with(dir, args, password).success()
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    ok_with(dir, args, PASSWORD)
}

/// Runs snapsync, expects exit code 1 and nothing on stdout (no half
/// block to paste); returns stderr.
fn fails_with(dir: &Path, args: &[&str], password: &str) -> String {
    let out = run_with(dir, args, password).code(1);
    assert_eq!(
        out.stdout(),
        "",
        "{args:?} printed a block although it failed"
    );
    out.stderr()
}

/// How many items of each type user `user` has in the CRM store of `dir`.
fn crm_counts(dir: &Path, user: &str) -> BTreeMap<ItemType, usize> {
    let store = CrmStore::open_read_only(&dir.join("data/crm.sqlite")).expect("crm");
    ItemType::ALL
        .into_iter()
        .map(|t| (t, store.collection(user, t).list().expect("list").len()))
        .collect()
}

/// `text` with the server's URL replaced by `URL`.
fn masked(text: &str, server_url: &str) -> String {
    text.replace(server_url, "URL/")
}

#[test]
fn discovered_links_validate_and_carry_a_full_send() {
    let server = Radicale::start();
    server.mkcol("alice/calendar/", CollectionKind::Calendar);
    server.mkcol("alice/tasks/", CollectionKind::TaskList);
    server.mkcol("alice/contacts/", CollectionKind::AddressBook);
    let dir = project(&server.url(), Some("alice"), Some(("alice", 150)));

    let out = ok(dir.path(), &["discover", "office"]);
    let block = out.stdout();
    assert_eq!(
        masked(&block, &server.url()),
        "  # Found by `snapsync discover office` on URL/ (login: alice).
  # Paste under the target's `spec:`, in place of its `links:`.
  links:
    - name: alice
      user: alice
      scheduleItems: alice/calendar/  # events
      tasks: alice/tasks/             # tasks
      contacts: alice/contacts/       # address book
      inbound: enabled
      outbound: enabled
"
    );
    assert_eq!(out.stderr(), "alice: 2 calendars, 1 address book\n");

    paste(dir.path(), &block);
    ok(dir.path(), &["validate"]);
    ok(dir.path(), &["apply", "--yes", "-s", "send-all"]);
    // A second send plans nothing.
    run_with(
        dir.path(),
        &["plan", "--detailed-exitcode", "-s", "send-all"],
        PASSWORD,
    )
    .success();
    // Every CRM item landed in the collection discover chose for its type
    // (Radicale refuses a task in the events-only calendar, and back).
    let counts = crm_counts(dir.path(), "alice");
    for (item_type, collection) in [
        (ItemType::ScheduleItems, "alice/calendar/"),
        (ItemType::Tasks, "alice/tasks/"),
        (ItemType::Contacts, "alice/contacts/"),
    ] {
        assert!(counts[&item_type] > 0, "{counts:?}");
        assert_eq!(
            server.hrefs(collection).len(),
            counts[&item_type],
            "{collection}"
        );
    }
}

#[test]
fn other_collections_are_listed_as_comments_with_their_names() {
    let server = Radicale::start();
    let alice = ("alice", PASSWORD);
    for (path, kind, name) in [
        ("alice/calendar/", CollectionKind::Calendar, "Calendar"),
        ("alice/errands/", CollectionKind::TaskList, "Errands"),
        ("alice/contacts/", CollectionKind::AddressBook, "Contacts"),
        ("alice/holidays/", CollectionKind::Calendar, "Holidays"),
        ("alice/team/", CollectionKind::AnyCalendar, "Team & friends"),
        ("alice/work/", CollectionKind::AddressBook, "Work"),
    ] {
        server.mkcol_as(alice, path, kind, Some(&name.replace('&', "&amp;")));
    }
    let dir = project(&server.url(), Some("alice"), None);
    let out = ok(dir.path(), &["discover", "office"]);
    let block = out.stdout();
    assert_eq!(
        masked(&block, &server.url()),
        "  # Found by `snapsync discover office` on URL/ (login: alice).
  # Paste under the target's `spec:`, in place of its `links:`.
  links:
    - name: alice
      user: alice
      scheduleItems: alice/calendar/  # \"Calendar\": events
      tasks: alice/errands/           # \"Errands\": tasks
      contacts: alice/contacts/       # \"Contacts\": address book
      inbound: enabled
      outbound: enabled
      # Other collections of alice (put a path above to use it instead):
      #   alice/holidays/  \"Holidays\": events
      #   alice/team/      \"Team & friends\": events and tasks
      #   alice/work/      \"Work\": address book
"
    );
    assert_eq!(out.stderr(), "alice: 4 calendars, 2 address books\n");
    paste(dir.path(), &block);
    ok(dir.path(), &["validate"]);

    // The same in JSON, with what each collection was chosen for.
    let out = ok(
        dir.path(),
        &["discover", "office", "--format", "json", "-q"],
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["formatVersion"], 1);
    assert_eq!(value["login"], "alice");
    let user = &value["users"][0];
    assert_eq!(
        user["link"],
        serde_json::json!({
            "name": "alice", "user": "alice",
            "scheduleItems": "alice/calendar/", "tasks": "alice/errands/",
            "contacts": "alice/contacts/",
            "inbound": "enabled", "outbound": "enabled"
        })
    );
    let team = user["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["path"] == "alice/team/")
        .expect("alice/team/");
    assert_eq!(
        team,
        &serde_json::json!({
            "path": "alice/team/", "displayName": "Team & friends", "kind": "calendar",
            "components": ["VTODO", "VEVENT", "VJOURNAL"],
            "holds": "events and tasks", "usedFor": []
        })
    );
    assert_eq!(out.stderr(), "", "-q: nothing on stderr");
}

#[test]
fn a_service_account_finds_other_users_and_an_unknown_user_is_an_error() {
    let server = Radicale::start_with(
        &[
            ("svc", SVC_PASSWORD),
            ("alice", PASSWORD),
            ("bob", "bob-pw"),
        ],
        &Rights::FromFile(SERVICE_ACCOUNT_RIGHTS),
    );
    server.mkcol_as(
        ("alice", PASSWORD),
        "alice/calendar/",
        CollectionKind::Calendar,
        None,
    );
    server.mkcol_as(
        ("alice", PASSWORD),
        "alice/tasks/",
        CollectionKind::TaskList,
        None,
    );
    server.mkcol_as(
        ("alice", PASSWORD),
        "alice/contacts/",
        CollectionKind::AddressBook,
        None,
    );
    // Bob keeps events and tasks in one calendar that takes any component.
    server.mkcol_as(
        ("bob", "bob-pw"),
        "bob/default/",
        CollectionKind::AnyCalendar,
        None,
    );
    server.mkcol_as(
        ("bob", "bob-pw"),
        "bob/contacts/",
        CollectionKind::AddressBook,
        None,
    );
    let dir = project(&server.url(), Some("svc"), None);

    let out = ok_with(
        dir.path(),
        &["discover", "office", "--user", "alice", "--user", "bob"],
        SVC_PASSWORD,
    );
    let block = out.stdout();
    assert_eq!(
        masked(&block, &server.url()),
        "  # Found by `snapsync discover office` on URL/ (login: svc).
  # Paste under the target's `spec:`, in place of its `links:`.
  links:
    - name: alice
      user: alice
      scheduleItems: alice/calendar/  # events
      tasks: alice/tasks/             # tasks
      contacts: alice/contacts/       # address book
      inbound: enabled
      outbound: enabled
    - name: bob
      user: bob
      scheduleItems: bob/default/  # events and tasks
      tasks: bob/default/          # events and tasks
      contacts: bob/contacts/      # address book
      inbound: enabled
      outbound: enabled
"
    );
    paste(dir.path(), &block);
    ok_with(dir.path(), &["validate"], SVC_PASSWORD);

    // A user the server does not know: said so, and no block at all.
    let stderr = fails_with(
        dir.path(),
        &["discover", "office", "--user", "alice", "--user", "nobody"],
        SVC_PASSWORD,
    );
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: cannot read URL/nobody/: it does not exist (an unknown user? \
         Radicale makes a user's principal at their first login)\n\
         error: no links printed: 1 of 2 users could not be looked up\n"
    );
    // The service account itself has nothing.
    let stderr = fails_with(dir.path(), &["discover", "office"], SVC_PASSWORD);
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: user svc has no calendar, task list or address book (looked in \
         URL/svc/); create them on the server first\n"
    );
}

#[test]
fn a_wrong_password_is_one_error_and_a_login_that_may_not_read_others_is_told_so() {
    let server = Radicale::start();
    server.mkcol("alice/calendar/", CollectionKind::Calendar);
    let dir = project(&server.url(), Some("alice"), None);
    let wrong = "wrong-Zp4-secret-value";
    let out = run_with(dir.path(), &["discover", "office"], wrong);
    let stdout = out.stdout();
    let stderr = out.stderr();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: the server refused the credentials of user alice for URL URL/ \
         (HTTP 401; check the password, and that this user may use the collection)\n"
    );
    for secret in [wrong, PASSWORD] {
        assert!(!stderr.contains(secret), "a secret in {stderr}");
    }
    let failed_logins = server.log().matches("Failed login attempt").count();
    assert_eq!(failed_logins, 1, "the refused login is not repeated");

    // Alice may read only her own collections.
    let stderr = fails_with(
        dir.path(),
        &["discover", "office", "--user", "bob"],
        PASSWORD,
    );
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: cannot read URL/bob/: the server does not let this login read it \
         (HTTP 403); finding another user's collections needs a login that may read them, such \
         as a service account: Access to the requested resource forbidden.\n"
    );
}

#[test]
fn vdir_and_unknown_targets_are_refused() {
    let dir = project("http://127.0.0.1:9/", Some("alice"), None);
    let stderr = fails_with(dir.path(), &["discover", "local"], PASSWORD);
    assert_eq!(
        stderr,
        "error: target local is a vdir target (the folder snapshots.d/../vdir): discover asks a \
         CalDAV/CardDAV server for its users' collections, so it needs a target of `type: caldav`\n"
    );
    let stderr = fails_with(dir.path(), &["discover", "nope"], PASSWORD);
    assert_eq!(
        stderr,
        "error: no target named nope in the specs (they define: local, office)\n"
    );
}

#[test]
fn no_server_an_unusable_principal_and_no_caldav_are_clear_errors() {
    // Nothing listens: the port was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = project(&url, Some("alice"), None);
    let stderr = fails_with(dir.path(), &["discover", "office"], PASSWORD);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot reach the server of target office at {url}: caldav office: \
             PROPFIND {url}.well-known/caldav: "
        )) && stderr.lines().count() == 1,
        "{stderr}"
    );

    // A server that names a principal its login may not read (its rights
    // give users the root only, so Radicale makes them no principal).
    let server = Radicale::start_with(&[("alice", PASSWORD)], &Rights::FromFile(ROOT_ONLY_RIGHTS));
    let dir = project(&server.url(), Some("alice"), None);
    let stderr = fails_with(dir.path(), &["discover", "office"], PASSWORD);
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: the server names URL/alice/ for this login, but does not let it \
         read it (HTTP 403): Access to the requested resource forbidden.\n"
    );
    // No login at all: Radicale asks for one.
    let dir = project(&server.url(), None, None);
    let stderr = fails_with(dir.path(), &["discover", "office"], PASSWORD);
    assert_eq!(
        masked(&stderr, &server.url()),
        "error: caldav office: the server requires a login for URL URL/ (HTTP 401); add \
         spec.auth to target office\n"
    );

    // A web server that is no WebDAV server.
    let web = WebServer::start();
    let dir = project(&web.url(), Some("alice"), None);
    let stderr = fails_with(dir.path(), &["discover", "office"], PASSWORD);
    assert_eq!(
        masked(&stderr, &web.url()),
        "error: caldav office: found no principal for the login: URL/.well-known/caldav \
         answered HTTP 501; URL/.well-known/carddav answered HTTP 501; URL/ answered HTTP 501; \
         this does not look like a CalDAV/CardDAV server (check spec.url)\n"
    );
}

/// Python's `http.server`: a plain web server, no WebDAV (it answers
/// `PROPFIND` with 501); stopped when dropped.
struct WebServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl WebServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a folder to serve");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let python = crate::support::venv_bin("python3");
        let child = Command::new(&python)
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let server = WebServer {
            child,
            port,
            _dir: dir,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "http.server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        // Ours alone, by its id.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
