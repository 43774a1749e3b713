//! A caldav target's server: its URL, the credentials `auth` refers to, TLS
//! and timeouts.

use std::path::Path;
use std::time::Duration;

use super::{At, Checks, Place};
use crate::spec::codes::DiagnosticCode;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::load;
use crate::spec::model::{CaldavLocation, Credentials, SecretSource};
use crate::spec::types::{Auth, TargetResource, Tls};

impl Checks<'_> {
    /// A caldav target's server: its URL, credentials, TLS and timeouts.
    pub(super) fn caldav(&mut self, at: &At<'_, TargetResource>, base: &Path) -> CaldavLocation {
        let spec = &at.resource.spec;
        if spec.path.is_some() {
            self.push(
                Diagnostic::error(
                    DiagnosticCode::FieldNotForType,
                    "`path` does not apply to a `caldav` target",
                    at.file(),
                    at.key("/spec/path"),
                )
                .with_label("only for `type: vdir`")
                .with_hint(
                    "a caldav target is reached by `url`; link collections are paths below it",
                ),
            );
        }
        let url = self.server_url(at);
        let credentials = spec
            .auth
            .as_ref()
            .and_then(|auth| self.credentials(at.place(), auth, base));
        let tls = self.tls(at);
        let timeouts = spec.timeouts.clone().unwrap_or_default();
        let connect_timeout = self.duration(
            at,
            "/spec/timeouts/connect",
            timeouts.connect.as_deref(),
            10,
        );
        let request_timeout = self.duration(
            at,
            "/spec/timeouts/request",
            timeouts.request.as_deref(),
            60,
        );
        CaldavLocation {
            url,
            credentials,
            ca_file: tls.ca_file.map(|f| base.join(f)),
            insecure_skip_verify: tls.insecure_skip_verify,
            connect_timeout,
            request_timeout,
        }
    }

    /// The server's `url`, checked; empty when it is missing.
    fn server_url(&mut self, at: &At<'_, TargetResource>) -> String {
        let spec = &at.resource.spec;
        match &spec.url {
            None => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::MissingField,
                        "a `caldav` target needs a `url`",
                        at.file(),
                        at.value("/spec/type"),
                    )
                    .with_label("caldav target without a server")
                    .with_hint(
                        "add `url:` with the server's base URL, such as `https://dav.example.com/`",
                    ),
                );
                String::new()
            }
            Some(text) => {
                self.url(at.place(), text, spec.auth.is_some());
                text.clone()
            }
        }
    }

    /// The checks of a server URL: an http(s) URL with a host, no
    /// credentials inside it, no password sent in clear text.
    pub(super) fn url(&mut self, place: Place<'_>, text: &str, has_auth: bool) {
        let file = place.file;
        let shown = load::redact_url(text);
        match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                if !url.username().is_empty() || url.password().is_some() {
                    self.push(
                        Diagnostic::error(
                            DiagnosticCode::InlineSecret,
                            "the URL carries credentials",
                            file,
                            place.value("/spec/url"),
                        )
                        .with_label("user or password inside the URL")
                        .with_hint("remove them from the URL and use `auth` with `username` and `passwordEnv`"),
                    );
                }
                let loopback = url
                    .host_str()
                    .is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]");
                if url.scheme() == "http" && has_auth && !loopback {
                    self.push(
                        Diagnostic::warning(
                            DiagnosticCode::CleartextCredentials,
                            "credentials would be sent unencrypted over `http://`",
                            file,
                            place.value("/spec/url"),
                        )
                        .with_label("plain HTTP")
                        .with_hint("use `https://` so the password cannot be read on the network"),
                    );
                }
            }
            Ok(_) => self.push(
                Diagnostic::error(
                    DiagnosticCode::InvalidUrl,
                    format!("`{shown}` is not an http(s) URL"),
                    file,
                    place.value("/spec/url"),
                )
                .with_label("expected http:// or https://")
                .with_hint("write the server's base URL, such as `https://dav.example.com/`"),
            ),
            Err(error) => self.push(
                Diagnostic::error(
                    DiagnosticCode::InvalidUrl,
                    format!("`{shown}` is not a valid URL: {error}"),
                    file,
                    place.value("/spec/url"),
                )
                .with_label("invalid URL")
                .with_hint("write the server's base URL, such as `https://dav.example.com/`"),
            ),
        }
    }

    /// The credentials `auth` refers to, or `None` with the problems found.
    pub(super) fn credentials(
        &mut self,
        place: Place<'_>,
        auth: &Auth,
        base: &Path,
    ) -> Option<Credentials> {
        let file = place.file;
        let sources = secret_sources(auth, base);
        match sources.as_slice() {
            [] => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::MissingCredentials,
                        "`auth` gives no credentials",
                        file,
                        place.key("/spec/auth"),
                    )
                    .with_label("no password or token source")
                    .with_hint(
                        "add `passwordEnv` or `passwordFile` (with `username`), or `tokenEnv`",
                    ),
                );
                None
            }
            [(kind, source)] => self.single_credential(place, auth, kind, source),
            [(first, _), (second, _), ..] => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::ConflictingCredentials,
                        format!("`auth` gives both `{first}` and `{second}`"),
                        file,
                        place.key(&format!("/spec/auth/{second}")),
                    )
                    .with_label("second credential source")
                    .with_secondary(file, place.key(&format!("/spec/auth/{first}")), "first one")
                    .with_hint("keep exactly one of `passwordEnv`, `passwordFile` and `tokenEnv`"),
                );
                None
            }
        }
    }

    /// The credentials of `auth`'s one secret source: a bearer token, or a
    /// password with its `username`.
    fn single_credential(
        &mut self,
        place: Place<'_>,
        auth: &Auth,
        kind: &str,
        source: &SecretSource,
    ) -> Option<Credentials> {
        let file = place.file;
        if kind == "tokenEnv" {
            if auth.username.is_some() {
                self.push(
                    Diagnostic::warning(
                        DiagnosticCode::UnusedUsername,
                        "`username` is not used with a bearer token",
                        file,
                        place.key("/spec/auth/username"),
                    )
                    .with_label("ignored")
                    .with_hint("remove `username`, or use `passwordEnv` for basic authentication"),
                );
            }
            Some(Credentials::Bearer {
                token: source.clone(),
            })
        } else if let Some(username) = &auth.username {
            Some(Credentials::Basic {
                username: username.clone(),
                password: source.clone(),
            })
        } else {
            self.push(
                Diagnostic::error(
                    DiagnosticCode::MissingField,
                    "a password needs a `username`",
                    file,
                    place.key(&format!("/spec/auth/{kind}")),
                )
                .with_label("password without a user")
                .with_hint("add `username:` beside it"),
            );
            None
        }
    }

    /// The TLS settings; turning verification off is a warning.
    fn tls(&mut self, at: &At<'_, TargetResource>) -> Tls {
        let tls = at.resource.spec.tls.clone().unwrap_or_default();
        if tls.insecure_skip_verify {
            self.push(
                Diagnostic::warning(
                    DiagnosticCode::TlsVerificationOff,
                    "TLS certificate verification is turned off",
                    at.file(),
                    at.value("/spec/tls/insecureSkipVerify"),
                )
                .with_label("anyone on the network path can read and change this data")
                .with_hint(
                    "trust the server's CA with `caFile` instead; keep this for test servers only",
                ),
            );
        }
        tls
    }

    /// A timeout: a non-zero duration, or the default.
    fn duration(
        &mut self,
        at: &At<'_, TargetResource>,
        pointer: &str,
        text: Option<&str>,
        default_secs: u64,
    ) -> Duration {
        let Some(text) = text else {
            return Duration::from_secs(default_secs);
        };
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidDuration,
                        "a timeout of zero never lets a request finish",
                        at.file(),
                        at.value(pointer),
                    )
                    .with_label("zero")
                    .with_hint("give a duration such as `10s` or `2m`"),
                );
                Duration::from_secs(default_secs)
            }
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidDuration,
                        format!("`{text}` is not a duration: {error}"),
                        at.file(),
                        at.value(pointer),
                    )
                    .with_label("invalid duration")
                    .with_hint("write a number with a unit: `500ms`, `10s`, `2m`"),
                );
                Duration::from_secs(default_secs)
            }
        }
    }
}

/// The secret sources `auth` names, each with its field, in a fixed order
/// (the first two of several are the ones a conflict names).
fn secret_sources(auth: &Auth, base: &Path) -> Vec<(&'static str, SecretSource)> {
    [
        auth.password_env
            .clone()
            .map(|v| ("passwordEnv", SecretSource::Env(v))),
        auth.password_file
            .clone()
            .map(|v| ("passwordFile", SecretSource::File(base.join(v)))),
        auth.token_env
            .clone()
            .map(|v| ("tokenEnv", SecretSource::Env(v))),
    ]
    .into_iter()
    .flatten()
    .collect()
}
