//! A Radicale server for one test: its own storage folder, a user `alice`
//! with the password [`PASSWORD`] (or the users and rights a test gives),
//! on a free loopback port; stopped when the [`Radicale`] value is
//! dropped, also when the test panics.
//!
//! Raw requests (`mkcol`, `put`, `get`, `delete`) go over plain HTTP with
//! `ureq`, so a test can change the server behind snapsync's back.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::venv_bin;

/// The user the server knows.
pub const USER: &str = "alice";
/// Alice's password; deliberately unusual, so that a test can search
/// output and files for it.
pub const PASSWORD: &str = "pw-7Qx9-not-in-any-output";

/// How long the server may take to answer on its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Radicale.
pub struct Radicale {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    agent: ureq::Agent,
    /// Whether it speaks HTTPS (with a certificate of its own test CA).
    tls: bool,
}

/// Who may do what on a server that [`Radicale::start_with`] starts.
#[derive(Debug, Clone)]
pub enum Rights {
    /// Each user reads and writes their own collections only (Radicale's
    /// `owner_only`).
    OwnerOnly,
    /// The rules of a Radicale rights file (`[rights] type = from_file`),
    /// such as [`SERVICE_ACCOUNT_RIGHTS`].
    FromFile(&'static str),
}

/// A rights file: anyone (anonymous too) may read the root, each user
/// their own principal and collections, and `svc` everything (a service
/// account).
pub const SERVICE_ACCOUNT_RIGHTS: &str = "\
[root]
user: .*
collection:
permissions: R

[service-account]
user: svc
collection: .*
permissions: RrWw

[own-principal]
user: .+
collection: {user}
permissions: RW

[own-collections]
user: .+
collection: {user}/[^/]+
permissions: rw
";

/// A raw answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Radicale {
    /// Starts a fresh server where alice is the only user and owns her
    /// collections; panics, with Radicale's output, if it does not answer
    /// within 30 s.
    pub fn start() -> Self {
        Self::start_with(&[(USER, PASSWORD)], &Rights::OwnerOnly)
    }

    /// Starts a fresh server that speaks HTTPS only, with a certificate for
    /// 127.0.0.1 signed by a CA made for this server ([`Self::ca_file`]);
    /// alice is its only user.
    pub fn start_tls() -> Self {
        Self::launch(&[(USER, PASSWORD)], &Rights::OwnerOnly, true)
    }

    /// Starts a fresh server that knows `users` (name and password) and
    /// grants `rights`.
    pub fn start_with(users: &[(&str, &str)], rights: &Rights) -> Self {
        Self::launch(users, rights, false)
    }

    fn launch(users: &[(&str, &str)], rights: &Rights, tls: bool) -> Self {
        let bin = venv_bin("radicale");
        let dir = tempfile::tempdir().expect("a temporary folder for Radicale");
        // Bind port 0 to let the system pick a free port, then free it for
        // Radicale (another process could take it in between; unlikely on
        // loopback within milliseconds).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let htpasswd = dir.path().join("users");
        let lines: Vec<String> = users
            .iter()
            .map(|(user, password)| format!("{user}:{password}\n"))
            .collect();
        let lines = lines.concat();
        std::fs::write(&htpasswd, lines).expect("write htpasswd");
        let rights = match rights {
            Rights::OwnerOnly => "type = owner_only".to_string(),
            Rights::FromFile(rules) => {
                let file = dir.path().join("rights");
                std::fs::write(&file, rules).expect("write the rights file");
                format!("type = from_file\nfile = {}", file.display())
            }
        };
        let ssl = if tls {
            make_certificates(dir.path());
            format!(
                "ssl = True\ncertificate = {}\nkey = {}\n",
                dir.path().join("server.pem").display(),
                dir.path().join("server.key").display()
            )
        } else {
            String::new()
        };
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n{ssl}\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {}\nhtpasswd_encryption = plain\n\
                 # no delay after a failed login: the wrong-password test stays fast\n\
                 delay = 0\n\
                 [rights]\n{rights}\n\
                 [storage]\nfilesystem_folder = {}\n\
                 [web]\ntype = none\n\
                 # info: one line per request, which `requests()` counts\n\
                 [logging]\nlevel = info\nmask_passwords = True\n",
                htpasswd.display(),
                dir.path().join("storage").display()
            ),
        )
        .expect("write Radicale's config");
        let log = std::fs::File::create(dir.path().join("radicale.log")).expect("log file");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("LC_ALL", "C.UTF-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let agent = ureq::Agent::config_builder()
            // The test's own requests need not check the test CA.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(tls)
                    .build(),
            )
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut server = Radicale {
            child,
            dir,
            port,
            agent,
            tls,
        };
        server.wait_until_up();
        server
    }

    fn wait_until_up(&mut self) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Radicale exited ({status}) before answering on port {}.\nIts output:\n{}",
                    self.port,
                    self.log()
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "Radicale did not answer on port {} within {START_TIMEOUT:?}.\nIts output:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's base URL, ending with `/`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The certificate (PEM) of the CA that signed the server's
    /// certificate, when it speaks HTTPS.
    pub fn ca_file(&self) -> PathBuf {
        assert!(self.tls, "a server started with start_tls has a CA");
        self.dir.path().join("ca.pem")
    }

    /// What Radicale wrote so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.log_path()) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("radicale.log")
    }

    /// How many requests of each method the server has received so far,
    /// as `(method, count)`, sorted.
    pub fn requests(&self) -> Vec<(String, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for line in self.log().lines() {
            if let Some((before, _)) = line.split_once(" request for '")
                && let Some(method) = before.rsplit(' ').next()
            {
                *counts.entry(method.to_string()).or_insert(0) += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// Sends a raw request as alice; `path` is relative to the root.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        self.request_as((USER, PASSWORD), method, path, headers, body)
    }

    /// Sends a raw request as `login` (user and password).
    pub fn request_as(
        &self,
        login: (&str, &str),
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let url = format!("{}{}", self.url(), path.trim_start_matches('/'));
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", login.0, login.1));
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Basic {token}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let result = match body {
            Some(body) => self
                .agent
                .run(builder.body(body.to_string()).expect("a request")),
            None => self
                .agent
                .run(builder.body(ureq::SendBody::none()).expect("a request")),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("{method} {url}: reading the answer: {e}"));
        Answer { status, body }
    }

    /// Creates alice's calendar (events), task list or address book at
    /// `path` (`alice/calendar/`); panics unless the server says 201.
    pub fn mkcol(&self, path: &str, kind: CollectionKind) {
        self.mkcol_as((USER, PASSWORD), path, kind, None);
    }

    /// Creates a collection as `login` (user and password), with a display
    /// name if one is given; panics unless the server says 201.
    pub fn mkcol_as(
        &self,
        login: (&str, &str),
        path: &str,
        kind: CollectionKind,
        display_name: Option<&str>,
    ) {
        let resourcetype = match kind {
            CollectionKind::Calendar | CollectionKind::TaskList | CollectionKind::AnyCalendar => {
                "<C:calendar/>"
            }
            CollectionKind::AddressBook => "<CR:addressbook/>",
        };
        let components = match kind {
            CollectionKind::Calendar => {
                "<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/></C:supported-calendar-component-set>"
            }
            CollectionKind::TaskList => {
                "<C:supported-calendar-component-set><C:comp name=\"VTODO\"/></C:supported-calendar-component-set>"
            }
            CollectionKind::AddressBook | CollectionKind::AnyCalendar => "",
        };
        let name = display_name
            .map(|n| format!("<displayname>{n}</displayname>"))
            .unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <mkcol xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\" \
             xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><set><prop>\
             <resourcetype><collection/>{resourcetype}</resourcetype>{components}{name}\
             </prop></set></mkcol>"
        );
        let answer = self.request_as(
            login,
            "MKCOL",
            path,
            &[("Content-Type", "application/xml; charset=utf-8")],
            Some(&body),
        );
        assert_eq!(answer.status, 201, "MKCOL {path}: {answer:?}");
    }

    /// `PUT`s raw item text at `path`; returns the status.
    pub fn put(&self, path: &str, content_type: &str, text: &str) -> Answer {
        self.request("PUT", path, &[("Content-Type", content_type)], Some(text))
    }

    /// `GET`s `path`.
    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], None)
    }

    /// `DELETE`s `path`; returns the status.
    pub fn delete(&self, path: &str) -> u16 {
        self.request("DELETE", path, &[], None).status
    }

    /// The hrefs of the items in the collection at `path` (a depth-1
    /// `PROPFIND`, the collection itself left out), sorted.
    pub fn hrefs(&self, path: &str) -> Vec<String> {
        let answer = self.request(
            "PROPFIND",
            path,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            Some("<?xml version=\"1.0\"?><propfind xmlns=\"DAV:\"><prop><getetag/></prop></propfind>"),
        );
        assert_eq!(answer.status, 207, "PROPFIND {path}: {answer:?}");
        let own = format!("/{}", path.trim_start_matches('/'));
        let mut hrefs: Vec<String> = answer
            .body
            .split("<href>")
            .skip(1)
            .filter_map(|s| s.split_once("</href>").map(|(h, _)| h.to_string()))
            .filter(|h| *h != own && h.starts_with(&own))
            .collect();
        hrefs.sort();
        hrefs
    }
}

/// Makes, in `dir`, a test CA (`ca.pem`) and a certificate for 127.0.0.1
/// that it signed (`server.pem`, `server.key`), with the `openssl` tool.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("the TLS tests need the openssl tool to make a test CA (apt install openssl): {e}")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &[
                "req",
                "-x509",
                "-days",
                "2",
                "-subj",
                "/CN=snapsync test CA",
            ][..],
            &key,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-subj", "/CN=127.0.0.1"][..],
            &key,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write the extensions file");
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

/// What `mkcol` makes.
#[derive(Debug, Clone, Copy)]
pub enum CollectionKind {
    /// A calendar that holds events.
    Calendar,
    /// A calendar that holds tasks.
    TaskList,
    /// A calendar that says nothing of its components (it takes any).
    AnyCalendar,
    /// An address book.
    AddressBook,
}

impl Drop for Radicale {
    fn drop(&mut self) {
        // Ours alone, by its id; a server that already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
