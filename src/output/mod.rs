//! The output context: the command line's global options resolved once
//! (colour and width per stream, quiet, verbose, the store paths given),
//! and what every command shows with them: invalid specs, which store was
//! opened and why, progress bars, and a stdout that tolerates a closed
//! pipe. Tables, times and paths as people read them are in [`table`].

pub mod report;
pub mod table;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::bail;
use chrono::{DateTime, Utc};

use crate::cli::{Cli, ColorChoice};
use crate::exit::{Exit, Reported};
use snapsync::spec::diagnostic::TextStyle;
use snapsync::workspace::stores::{self, Given, GivenStores, Store, Why, shown_list};
use snapsync::workspace::{Loaded, Workspace};

/// The global options, resolved once, for every command.
#[derive(Debug)]
pub struct Output {
    quiet: bool,
    verbose: bool,
    stdout: TextStyle,
    stderr: TextStyle,
    given: GivenStores,
    /// The stores already announced (once per store and process).
    announced: Mutex<Vec<(Store, PathBuf)>>,
}

impl Output {
    /// Resolves the command line's global options.
    pub fn new(cli: &Cli) -> Output {
        let style = |stream: &dyn IsTerminal| {
            let color = match cli.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => stream.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            TextStyle { color, width }
        };
        // clap reads the variable when the flag is absent: the same path in
        // the variable means it came from there.
        let given = |path: Option<&PathBuf>, store: Store| {
            path.map(|path| Given {
                path: path.clone(),
                by_env: std::env::var_os(store.env()).is_some_and(|v| Path::new(&v) == path),
            })
        };
        Output {
            quiet: cli.quiet > 0,
            verbose: cli.verbose > 0,
            stdout: style(&io::stdout()),
            stderr: style(&io::stderr()),
            given: GivenStores {
                crm: given(cli.crm.as_ref(), Store::Crm),
                state: given(cli.state.as_ref(), Store::State),
            },
            announced: Mutex::new(Vec::new()),
        }
    }

    /// `-q`: only errors.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// `-v` (or more).
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// How text on stdout looks.
    pub fn stdout_style(&self) -> TextStyle {
        self.stdout
    }

    /// How text on stderr looks.
    pub fn stderr_style(&self) -> TextStyle {
        self.stderr
    }

    /// The store paths `--crm` and `--state` (or their variables) name.
    pub fn given(&self) -> &GivenStores {
        &self.given
    }

    /// Reads the specs at `paths` into a workspace at the clock `now`. When
    /// they have errors, every diagnostic and the summary go to stderr, and
    /// the error is [`Reported`] (exit code 1). Warnings are shown with -v
    /// only (the commands that plan have more to say).
    pub fn load(&self, paths: &[PathBuf], now: DateTime<Utc>) -> anyhow::Result<Workspace> {
        self.ready(Workspace::load(paths, self.given.clone(), now)?)
    }

    /// [`Output::load`] for specs already read.
    pub fn ready(&self, loaded: Loaded) -> anyhow::Result<Workspace> {
        let Loaded {
            validation,
            workspace,
        } = loaded;
        if validation.has_errors() {
            let mut err = io::stderr().lock();
            validation.render_diagnostics(self.stderr, &mut err)?;
            validation.render_summary(&mut err)?;
            return Err(Reported(Exit::Failure).into());
        }
        if self.verbose {
            validation.render_diagnostics(self.stderr, &mut io::stderr().lock())?;
        }
        let Some(workspace) = workspace else {
            bail!("the specs are valid but hold no resources");
        };
        Ok(workspace)
    }

    /// Says on stderr which store a command opened, and why that one
    /// (`--crm` or `--state`, their environment variable, the `Stores`
    /// resource of the specs at `specs`, or the default); then warns about
    /// each `Stores` resource nearby that names another one (in `specs`, in
    /// `snapshots.d`, or in a folder of the working directory): a store
    /// picked by mistake is written to without a word otherwise. Once per
    /// store and process; -q hides it. Never on stdout, which may hold JSON.
    pub fn announce(&self, store: Store, path: &Path, specs: &[PathBuf]) {
        if self.quiet {
            return;
        }
        {
            let mut announced = self
                .announced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (store, path.to_owned());
            if announced.contains(&key) {
                return;
            }
            announced.push(key);
        }
        let opened = snapsync::plan::saved::canonical_path(path);
        let from = match stores::why(store, &self.given, specs) {
            Why::Env => format!("from {}", store.env()),
            Why::Flag => format!("from {}", store.flag()),
            Why::Declared(origin) => format!("from the Stores resource at {origin}"),
            Why::NoSpecs(specs) => format!("the default: no specs at {}", shown_list(&specs)),
            Why::Undeclared(specs) => format!(
                "the default: {} declare no Stores resource",
                shown_list(&specs)
            ),
        };
        let mut err = io::stderr().lock();
        let _ = writeln!(
            err,
            "Using the {} {} ({from})",
            store.name(),
            opened.display()
        );
        for (origin, other) in stores::others_nearby(store, &opened, specs) {
            let _ = writeln!(
                err,
                "warning: the Stores resource at {origin} names another {}: {}; to use that \
                 one, give this command those specs or {} {}",
                store.name(),
                other.display(),
                store.flag(),
                other.display()
            );
        }
    }

    /// [`Output::announce`] for both stores of a workspace that plans or
    /// applies.
    pub fn announce_both(&self, workspace: &Workspace) {
        for store in [Store::Crm, Store::State] {
            self.announce(store, store.of(&workspace.stores), &workspace.specs);
        }
    }

    /// A progress bar on a terminal (none with -q or elsewhere, where log
    /// lines tell the story).
    pub fn progress_bar(&self, len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
        if self.quiet || !io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(len);
        // indicatif's own `{per_sec}` shows four decimals (`15,393.0605/s`).
        let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{rate}}, {{eta}} left)");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style.with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&rate_text(state.per_sec()));
                },
            ));
        }
        Some(bar)
    }

    /// A spinner on a terminal (none with -q or elsewhere).
    pub fn spinner(&self) -> Option<indicatif::ProgressBar> {
        if self.quiet || !io::stderr().is_terminal() {
            return None;
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(std::time::Duration::from_millis(100));
        Some(spinner)
    }
}

/// A rate as people read it: a whole number with thousands separators
/// (`15,393/s`), with one decimal below 10 per second (`2.5/s`), where
/// rounding would hide most of the value.
fn rate_text(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        "0/s".to_owned()
    } else if per_second < 9.95 {
        format!("{per_second:.1}/s")
    } else {
        format!("{:.0}/s", indicatif::HumanFloatCount(per_second))
    }
}

/// A writer whose reader may leave: once writing meets a broken pipe
/// (`snapsync apply --yes | head`), the rest of the output is dropped
/// instead of failing. For `apply`, whose outcome must not depend on whether
/// anyone reads its output: its exit code still says what was applied.
/// (Read-only commands just stop, quietly: see `main`.)
#[derive(Debug)]
pub struct DiscardWhenClosed<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> DiscardWhenClosed<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        DiscardWhenClosed {
            inner,
            closed: false,
        }
    }
}

impl<W: Write> Write for DiscardWhenClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Standard output as [`DiscardWhenClosed`].
pub fn stdout_while_read() -> DiscardWhenClosed<io::StdoutLock<'static>> {
    DiscardWhenClosed::new(io::stdout().lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader has gone.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn output_to_a_reader_that_left_is_dropped_and_other_errors_are_not() {
        let mut out = DiscardWhenClosed::new(Closed);
        writeln!(out, "a plan").unwrap();
        out.flush().unwrap();
        assert!(out.closed);
        let mut buffer = DiscardWhenClosed::new(Vec::new());
        writeln!(buffer, "kept").unwrap();
        assert_eq!(buffer.inner, b"kept\n");
        let mut two_bytes = [0_u8; 2];
        let mut full = DiscardWhenClosed::new(&mut two_bytes[..]);
        assert!(writeln!(full, "too long").is_err());
    }

    #[test]
    fn rates_are_rounded_and_grouped() {
        assert_eq!(rate_text(15_393.060_5), "15,393/s");
        assert_eq!(rate_text(1_234_567.6), "1,234,568/s");
        assert_eq!(rate_text(999.7), "1,000/s");
        assert_eq!(rate_text(42.4), "42/s");
        assert_eq!(rate_text(9.96), "10/s");
        assert_eq!(rate_text(2.54), "2.5/s");
        assert_eq!(rate_text(0.04), "0.0/s");
        assert_eq!(rate_text(0.0), "0/s");
        assert_eq!(rate_text(f64::NAN), "0/s");
        assert_eq!(rate_text(f64::INFINITY), "0/s");
    }
}
