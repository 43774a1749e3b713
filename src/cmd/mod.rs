//! The commands' glue: read options, call the library, render its results.
//! Only this layer and `main.rs` write to stdout and stderr.

pub mod apply;
pub mod completions;
pub mod crm;
pub mod demo;
pub mod discover;
pub mod generate;
pub mod links;
pub mod man;
pub mod plan;
pub mod runs;

use std::io::{self, IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::cli::Cli;
use snapsync::spec::model::{Catalog, Stores};

/// One of the two embedded stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The CRM store (`--crm`).
    Crm,
    /// The state store (`--state`).
    State,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Crm => "CRM store",
            Store::State => "state store",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Store::Crm => "--crm",
            Store::State => "--state",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Store::Crm => "SNAPSYNC_CRM",
            Store::State => "SNAPSYNC_STATE",
        }
    }

    fn given(self, cli: &Cli) -> Option<&PathBuf> {
        match self {
            Store::Crm => cli.crm.as_ref(),
            Store::State => cli.state.as_ref(),
        }
    }

    fn of(self, stores: &Stores) -> PathBuf {
        match self {
            Store::Crm => stores.crm.clone(),
            Store::State => stores.state.clone(),
        }
    }

    /// Where the store is for commands that work from specs already read:
    /// the flag (or its environment variable), else the specs' `Stores`.
    pub fn path_in(self, cli: &Cli, catalog: &Catalog) -> PathBuf {
        self.given(cli)
            .cloned()
            .unwrap_or_else(|| self.of(&catalog.stores))
    }

    /// Where the store is for commands that need no specs: the flag, else
    /// the `Stores` resource of the specs at `specs` when they exist, else
    /// the default. Invalid specs are an error, never a silent default.
    pub fn path(self, cli: &Cli, specs: &Path) -> anyhow::Result<PathBuf> {
        if let Some(path) = self.given(cli) {
            return Ok(path.clone());
        }
        if !specs.exists() {
            return Ok(self.of(&Stores::default()));
        }
        let validation = snapsync::spec::validate(&[specs.to_owned()], chrono::Utc::now())
            .context("cannot read the specs")?;
        // A folder that holds no spec file yet (made before the first
        // import) names no store: the default, as for no folder at all.
        if !validation.diagnostics.is_empty()
            && validation
                .diagnostics
                .iter()
                .all(|d| d.code == snapsync::spec::codes::DiagnosticCode::FileNoSpecs)
        {
            return Ok(self.of(&Stores::default()));
        }
        let Some(catalog) = validation.catalog else {
            bail!(
                "the specs in {} are not valid, so the {} they name is unknown; \
                 run `snapsync validate {}`, or pass {} PATH",
                specs.display(),
                self.name(),
                specs.display(),
                self.flag()
            );
        };
        Ok(self.of(&catalog.stores))
    }
}

/// Says on stderr which store a command opened, and why that one (`--crm`
/// or `--state`, their environment variable, the `Stores` resource of the
/// specs at `specs`, or the default); then warns about each `Stores`
/// resource nearby that names another one (in `specs`, in `snapshots.d`,
/// or in a folder of the working directory): a store picked by mistake is
/// written to without a word otherwise. Once per store and process; -q
/// hides it. Never on stdout, which may hold JSON.
pub fn announce(cli: &Cli, store: Store, path: &Path, specs: &[PathBuf]) {
    static SAID: std::sync::Mutex<Vec<(bool, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    if cli.quiet > 0 {
        return;
    }
    let key = (store == Store::Crm, path.to_owned());
    {
        let mut said = SAID
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if said.contains(&key) {
            return;
        }
        said.push(key);
    }
    let opened = absolute(path);
    let declared = |paths: &[PathBuf]| snapsync::spec::declared_stores(paths).unwrap_or_default();
    let existing: Vec<PathBuf> = specs.iter().filter(|p| p.exists()).cloned().collect();
    let from = match store.given(cli) {
        Some(given) if std::env::var_os(store.env()).is_some_and(|v| Path::new(&v) == given) => {
            format!("from {}", store.env())
        }
        Some(_) => format!("from {}", store.flag()),
        None => match declared(&existing).first() {
            Some(found) => format!("from the Stores resource at {}", found.origin),
            None if existing.is_empty() => {
                format!("the default: no specs at {}", shown_list(specs))
            }
            None => format!(
                "the default: {} declare no Stores resource",
                shown_list(&existing)
            ),
        },
    };
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "Using the {} {} ({from})",
        store.name(),
        opened.display()
    );
    let mut seen = Vec::new();
    for found in declared(&nearby_specs(specs)) {
        let other = absolute(&store.of(&found.stores));
        if other == opened || seen.contains(&found.origin) {
            continue;
        }
        let _ = writeln!(
            err,
            "warning: the Stores resource at {} names another {}: {}; to use that one, \
             give this command those specs or {} {}",
            found.origin,
            store.name(),
            other.display(),
            store.flag(),
            other.display()
        );
        seen.push(found.origin);
    }
}

/// [`announce`] for both stores of a command that plans or applies.
pub fn announce_both(cli: &Cli, stores: &plan::StorePaths, specs: &[PathBuf]) {
    announce(cli, Store::Crm, &stores.crm, specs);
    announce(cli, Store::State, &stores.state, specs);
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
        let key = absolute(&folder);
        if !unique.iter().any(|u| absolute(u) == key) {
            unique.push(folder);
        }
    }
    unique
}

/// A path as people compare them: absolute, without `.` and `..`, and with
/// symbolic links resolved as far as the path exists.
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut clean = PathBuf::new();
    for part in full.components() {
        match part {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    match (clean.parent().map(Path::canonicalize), clean.file_name()) {
        (Some(Ok(parent)), Some(name)) => parent.join(name),
        _ => clean,
    }
}

fn shown_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A progress bar on a terminal (none with -q or elsewhere, where log lines
/// tell the story).
pub fn progress_bar(cli: &Cli, len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    if cli.quiet > 0 || !io::stderr().is_terminal() {
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

/// A path as the output shows it: lexically cleaned (no `.`, no `name/..`),
/// relative to the working folder `cwd` when it lies inside it, absolute
/// otherwise (`snapshots.d/../vdir` is `vdir`; `../vdir` is
/// `/home/me/vdir`). Symbolic links are not followed: this only names the
/// place more plainly, for people to read and paste.
pub fn shown_path(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let path = match cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_owned(),
    };
    let clean = lexically_clean(&path);
    let inside = cwd
        .map(lexically_clean)
        .and_then(|cwd| clean.strip_prefix(cwd).ok().map(Path::to_owned));
    match inside {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative,
        None => clean,
    }
}

/// `path` without `.` components, and with each `name/..` pair removed
/// (a `..` at the root stays at the root; leading `..` of a relative path
/// stay).
fn lexically_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match clean.components().next_back() {
                Some(Component::Normal(_)) => {
                    clean.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => clean.push(".."),
            },
            other => clean.push(other),
        }
    }
    if clean.as_os_str().is_empty() {
        clean.push(".");
    }
    clean
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

/// How a table column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// Writes an aligned table: a header line, then a line per row, columns two
/// spaces apart, no trailing spaces. Widths count characters, which is
/// right for the names, paths and numbers these tables hold (wide
/// characters would still line up their own column, if not the next).
pub fn write_table(
    out: &mut impl Write,
    columns: &[(&str, Align)],
    rows: &[Vec<String>],
) -> io::Result<()> {
    // A line break or tab in a label would break the table's lines.
    let clean = |cell: &str| -> String {
        cell.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| clean(cell)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let headers: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::new();
        for (i, ((_, align), width)) in columns.iter().zip(&widths).enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            match align {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// An instant as people read it: local time, to the minute.
pub fn local_minute(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// An instant as people read it: local time, to the second.
pub fn local_second(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_cleaned_and_relative_inside_the_working_folder() {
        let cwd = Path::new("/home/me/ops");
        let shown = |p: &str| shown_path(Path::new(p), Some(cwd)).display().to_string();
        assert_eq!(shown("snapshots.d/../vdir"), "vdir");
        assert_eq!(shown("./snapshots.d/./../vdir/office/"), "vdir/office");
        assert_eq!(shown("snapshots.d/.."), ".");
        assert_eq!(shown("../vdir"), "/home/me/vdir");
        assert_eq!(shown("snapshots.d/../../../../../x"), "/x");
        assert_eq!(shown("/home/me/ops/specs/../vdir"), "vdir");
        assert_eq!(shown("/srv/sync/./a/../vdir"), "/srv/sync/vdir");
        assert_eq!(shown("/home/me/opsx/vdir"), "/home/me/opsx/vdir");
        // Without a working folder, the path is only cleaned.
        let alone = |p: &str| shown_path(Path::new(p), None).display().to_string();
        assert_eq!(alone("snapshots.d/../vdir"), "vdir");
        assert_eq!(alone("a/../../vdir"), "../vdir");
        assert_eq!(alone("/a/../vdir"), "/vdir");
    }

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

    #[test]
    fn tables_line_up_and_trim_their_lines() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &[
                ("NAME", Align::Left),
                ("N", Align::Right),
                ("NOTE", Align::Left),
            ],
            &[
                vec!["jdoe".into(), "5".into(), String::new()],
                vec!["a".into(), "1234".into(), "two\nlines".into()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME     N  NOTE\n\
             jdoe     5\n\
             a     1234  two lines\n"
        );
    }
}
