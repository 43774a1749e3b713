//! The HTTP side of a CalDAV/CardDAV target: one blocking `ureq` agent per
//! target (its connection pool keeps connections alive across requests and
//! threads), the login, TLS, timeouts, and the mapping of HTTP failures to
//! [`ErrorKind`]s.
//!
//! The secret (password or token) is read once, when the client is made,
//! and lives only in the `Authorization` header value, which is marked
//! sensitive and never formatted: messages name the user and the variable
//! or file the secret came from, never the secret.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use ureq::http::{self, HeaderValue};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, AsSendBody, SendBody};
use url::Url;

use crate::endpoint::{EndpointError, ErrorKind};
use crate::spec::model::{CaldavLocation, Credentials, SecretSource};

/// The largest answer read into memory (a multiget of 100 large items
/// stays far below it).
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// A target's HTTP client; cheap to clone (the clones share the agent, its
/// pooled connections and the request counter).
#[derive(Clone)]
pub struct DavClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// The target's name, for messages.
    target: String,
    agent: Agent,
    /// The `Authorization` header; holds the secret.
    authorization: Option<HeaderValue>,
    /// Who logs in, for messages (`user alice`, `the token of tokenEnv X`).
    login: Option<String>,
    /// How many requests this client sent.
    requests: AtomicU64,
    /// The URL of the first request whose login the server refused: the
    /// client sends nothing more with these credentials (repeating a
    /// failed login can lock the account, and one error says it all).
    refused: Mutex<Option<String>>,
}

impl fmt::Debug for DavClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavClient")
            .field("target", &self.inner.target)
            .field("login", &self.inner.login)
            .finish_non_exhaustive()
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Location` header (of a redirect).
    pub location: Option<String>,
    /// The body, as text.
    pub body: String,
}

impl DavClient {
    /// The client of target `target` at `location`: reads the secret the
    /// credentials refer to and sets up TLS.
    ///
    /// # Errors
    /// The secret's variable or file is missing, unreadable or empty; the
    /// CA file cannot be read.
    pub fn open(target: &str, location: &CaldavLocation) -> Result<Self, EndpointError> {
        let fail = |message: String| {
            EndpointError::new(ErrorKind::Other, format!("target {target}: {message}"))
        };
        let (authorization, login) = match &location.credentials {
            None => (None, None),
            Some(Credentials::Basic { username, password }) => {
                let secret = read_secret(password, "passwordEnv", "passwordFile").map_err(fail)?;
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{secret}"));
                (
                    Some(sensitive(&format!("Basic {token}")).map_err(fail)?),
                    Some(format!("user {username}")),
                )
            }
            Some(Credentials::Bearer { token }) => {
                let secret = read_secret(token, "tokenEnv", "tokenFile").map_err(fail)?;
                let who = match token {
                    SecretSource::Env(name) => format!("the token of tokenEnv {name}"),
                    SecretSource::File(path) => format!("the token in {}", path.display()),
                };
                (
                    Some(sensitive(&format!("Bearer {secret}")).map_err(fail)?),
                    Some(who),
                )
            }
        };
        let mut tls = TlsConfig::builder();
        if location.insecure_skip_verify {
            tls = tls.disable_verification(true);
        }
        if let Some(ca_file) = &location.ca_file {
            let pem = std::fs::read(ca_file).map_err(|e| {
                fail(format!(
                    "cannot read the CA file {} (spec.caFile): {e}",
                    ca_file.display()
                ))
            })?;
            let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect();
            let before = roots.len();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => roots.push(cert),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(fail(format!(
                            "the CA file {} (spec.caFile) is not valid PEM: {e}",
                            ca_file.display()
                        )));
                    }
                }
            }
            if roots.len() == before {
                return Err(fail(format!(
                    "the CA file {} (spec.caFile) holds no certificate",
                    ca_file.display()
                )));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&roots));
        }
        let agent = Agent::config_builder()
            // Statuses are answers to interpret (412, 404, 207), not errors.
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            // A redirected write could land elsewhere: redirects are reported.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(location.connect_timeout))
            .timeout_global(Some(location.request_timeout))
            .user_agent(concat!("snapsync/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(16)
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(DavClient {
            inner: Arc::new(Inner {
                target: target.to_string(),
                agent,
                authorization,
                login,
                requests: AtomicU64::new(0),
                refused: Mutex::new(None),
            }),
        })
    }

    /// How many requests this client (and its clones) sent.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Sends one request and reads the answer whole. 401 and 403, 429 and
    /// 5xx, and transport failures are errors here; every other status is
    /// the caller's to interpret.
    ///
    /// # Errors
    /// The request failed, as above; messages name `label` and the URL.
    pub fn send(
        &self,
        label: &str,
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, EndpointError> {
        self.exchange(label, method, url, headers, body, Statuses::Collection)
    }

    /// Like [`DavClient::send`], for requests that explore a server
    /// (discovery): only a refused login (401) and transport failures are
    /// errors; 403, 429 and 5xx are answers too. A 403 there means "not
    /// yours to read" (another user's principal, a path that is no
    /// WebDAV), not a wrong password, so it does not stop the client.
    ///
    /// # Errors
    /// The login was refused, or the request failed on the way.
    pub fn probe(
        &self,
        label: &str,
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, EndpointError> {
        self.exchange(label, method, url, headers, body, Statuses::Probe)
    }

    fn exchange(
        &self,
        label: &str,
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<String>,
        statuses: Statuses,
    ) -> Result<Reply, EndpointError> {
        let shown = shown_url(url);
        if let Some(first) = self.refused_at() {
            return Err(EndpointError::new(
                ErrorKind::Other,
                format!(
                    "{label}: not tried: the login of {} was refused for {first} \
                     (failed logins are not repeated)",
                    self.inner.login.as_deref().unwrap_or("this target")
                ),
            ));
        }
        let mut builder = http::Request::builder().method(method).uri(url.as_str());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(authorization) = &self.inner.authorization {
            builder = builder.header(http::header::AUTHORIZATION, authorization.clone());
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let result = match body {
            Some(body) => self.run(builder.body(body)),
            None => self.run(builder.body(SendBody::none())),
        };
        let mut response = result.map_err(|e| transport_error(label, method, &shown, &e))?;
        let status = response.status().as_u16();
        let header = |name: http::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(http::header::ETAG);
        let location = header(http::header::LOCATION);
        let retry_after = header(http::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v));
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| transport_error(label, method, &shown, &e))?;
        tracing::trace!(%method, url = %shown, status, "caldav request");
        if statuses == Statuses::Probe && status != 401 {
            return Ok(Reply {
                status,
                etag,
                location,
                body,
            });
        }
        if matches!(status, 401 | 403) {
            self.inner
                .refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(|| shown.clone());
        }
        match status {
            401 | 403 => Err(EndpointError::new(
                ErrorKind::Other,
                match &self.inner.login {
                    Some(login) => format!(
                        "{label}: the server refused the credentials of {login} for URL {shown} \
                         (HTTP {status}; check the password, and that this user may use the collection)"
                    ),
                    None => format!(
                        "{label}: the server requires a login for URL {shown} (HTTP {status}); \
                         add spec.auth to target {}",
                        self.inner.target
                    ),
                },
            )),
            429 | 500..=599 => Err(EndpointError {
                kind: ErrorKind::Transient,
                message: format!(
                    "{label}: {method} {shown}: the server answered HTTP {status}{}",
                    excerpt(&body)
                ),
                retry_after,
            }),
            _ => Ok(Reply {
                status,
                etag,
                location,
                body,
            }),
        }
    }

    /// Where the server refused the login, if it did.
    fn refused_at(&self) -> Option<String> {
        self.inner
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn run(
        &self,
        request: Result<http::Request<impl AsSendBody>, http::Error>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        self.inner.agent.run(request?)
    }
}

/// Which statuses [`DavClient::exchange`] turns into errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statuses {
    /// Reading and writing a collection: 401, 403, 429 and 5xx.
    Collection,
    /// Exploring a server: 401 only.
    Probe,
}

/// A URL as messages show it: without a user name or password.
#[must_use]
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials anyway.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// `: <first line of the body>` for an error message, when there is one.
#[must_use]
pub fn excerpt(body: &str) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        Some(line) if line.chars().count() > 200 => {
            format!(": {}…", line.chars().take(200).collect::<String>())
        }
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, String> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        "the secret holds characters that cannot go in an HTTP header (a control character?)"
            .to_string()
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Reads a secret; messages name the variable or file, never the value.
fn read_secret(source: &SecretSource, env_key: &str, file_key: &str) -> Result<String, String> {
    let secret = match source {
        SecretSource::Env(name) => match std::env::var(name) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                return Err(format!(
                    "the environment variable {name} ({env_key}) is not set"
                ));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!(
                    "the environment variable {name} ({env_key}) is not valid UTF-8"
                ));
            }
        },
        SecretSource::File(path) => match std::fs::read_to_string(path) {
            // One trailing line break is how files end, not part of the secret.
            Ok(text) => text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t))
                .to_string(),
            Err(e) => {
                return Err(format!(
                    "cannot read the secret file {} ({file_key}): {}",
                    path.display(),
                    e.kind()
                ));
            }
        },
    };
    if secret.is_empty() {
        let origin = match source {
            SecretSource::Env(name) => format!("the environment variable {name} ({env_key})"),
            SecretSource::File(path) => format!("the secret file {} ({file_key})", path.display()),
        };
        return Err(format!("{origin} is empty"));
    }
    Ok(secret)
}

/// A transport failure: connection refused, timeout, TLS, a broken answer.
fn transport_error(label: &str, method: &str, url: &str, error: &ureq::Error) -> EndpointError {
    let kind = match error {
        ureq::Error::Timeout(_)
        | ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    EndpointError::new(kind, format!("{label}: {method} {url}: {error}"))
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(url: &str) -> CaldavLocation {
        CaldavLocation {
            url: url.to_string(),
            credentials: None,
            ca_file: None,
            insecure_skip_verify: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// A one-request HTTP server on a free loopback port that answers
    /// `response` (Radicale never answers 429 or 503, so these statuses
    /// need a stand-in); returns its URL.
    fn answer_once(response: &'static str) -> Url {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = Url::parse(&format!(
            "http://{}/cal/",
            listener.local_addr().expect("addr")
        ))
        .expect("url");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            // The request head ends with an empty line; this request has no body.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = reader.get_mut().write_all(response.as_bytes());
        });
        url
    }

    #[test]
    fn busy_answers_are_transient_and_carry_retry_after() {
        for (response, wait) in [
            (
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 9\r\n\r\nslow down",
                Some(Duration::from_secs(3)),
            ),
            (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                None,
            ),
        ] {
            let url = answer_once(response);
            let client = DavClient::open("office", &location(url.as_str())).expect("client");
            let error = client
                .send("caldav office", "GET", &url, &[], None)
                .expect_err("busy");
            assert_eq!(error.kind, ErrorKind::Transient, "{}", error.message);
            assert_eq!(error.retry_after, wait);
            assert!(
                error
                    .message
                    .contains(&format!("GET {url}: the server answered HTTP"))
            );
        }
    }

    #[test]
    fn a_refused_connection_is_transient_and_names_the_url() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/cal/")).expect("url");
        let client = DavClient::open("office", &location(url.as_str())).expect("client");
        let error = client
            .send("caldav office", "PROPFIND", &url, &[], None)
            .expect_err("refused");
        assert_eq!(error.kind, ErrorKind::Transient);
        assert!(
            error
                .message
                .starts_with(&format!("caldav office: PROPFIND {url}: ")),
            "{}",
            error.message
        );
    }

    #[test]
    fn retry_after_in_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let url = Url::parse("https://bob:hunter2@dav.example.com/cal/").expect("url");
        assert_eq!(shown_url(&url), "https://dav.example.com/cal/");
    }

    #[test]
    fn missing_secrets_name_their_source_only() {
        let error = read_secret(
            &SecretSource::Env("SNAPSYNC_SURELY_UNSET_VARIABLE".into()),
            "passwordEnv",
            "passwordFile",
        )
        .expect_err("unset");
        assert_eq!(
            error,
            "the environment variable SNAPSYNC_SURELY_UNSET_VARIABLE (passwordEnv) is not set"
        );
        let error = read_secret(
            &SecretSource::File("/nonexistent/secret".into()),
            "passwordEnv",
            "passwordFile",
        )
        .expect_err("missing");
        assert!(
            error.starts_with("cannot read the secret file /nonexistent/secret (passwordFile)")
        );
    }
}
