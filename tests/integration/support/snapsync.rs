//! Running the snapsync binary: `Snapsync::new(dir).args([...]).run()`
//! gives a [`Run`] whose assertions (`success`, `code`) print the whole
//! standard output and error when they fail.
//!
//! The command starts in a clean setting: colour off, 100 columns, local
//! time in UTC, default logs, no store paths from the environment and no
//! input (see [`Snapsync::new`]).

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The snapsync binary, ready to run in a folder.
pub struct Snapsync {
    command: Command,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    closed_stdout: bool,
}

impl Snapsync {
    /// snapsync in `dir`, colour off, logs default, local time in UTC, no
    /// store paths from the environment and no input.
    pub fn new(dir: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_snapsync"));
        command
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            // Commands that show local times show them in UTC.
            .env("TZ", "UTC")
            .env_remove("SNAPSYNC_LOG")
            .env_remove("SNAPSYNC_CRM")
            .env_remove("SNAPSYNC_STATE")
            .stdin(Stdio::null());
        Snapsync {
            command,
            args: Vec::new(),
            stdin: None,
            closed_stdout: false,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        args.into_iter().fold(self, Snapsync::arg)
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Gives `input` on standard input (instead of none).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Runs with a standard output whose reader has already gone: every
    /// write to it fails with a broken pipe.
    pub fn closed_stdout(mut self) -> Self {
        self.closed_stdout = true;
        self
    }

    /// Starts the binary with its output thrown away, for a test that races
    /// it against another run or kills it.
    pub fn spawn_silenced(mut self) -> Child {
        self.command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snapsync starts")
    }

    /// The command itself, for a test that spawns it and waits.
    pub fn command(self) -> Command {
        self.command
    }

    /// Runs the binary to its end.
    pub fn run(mut self) -> Run {
        if self.closed_stdout {
            let (reader, writer) = std::io::pipe().expect("a pipe");
            drop(reader);
            self.command.stdout(writer);
        } else {
            self.command.stdout(Stdio::piped());
        }
        self.command.stderr(Stdio::piped());
        if self.stdin.is_some() {
            self.command.stdin(Stdio::piped());
        }
        let mut child = self.command.spawn().expect("snapsync runs");
        if let Some(input) = self.stdin {
            let mut pipe = child.stdin.take().expect("a standard input");
            // A command that reads nothing may exit before the input is
            // written: a broken pipe here is its answer, not a failure.
            let _ = pipe.write_all(&input);
        }
        let output = child.wait_with_output().expect("snapsync ends");
        Run {
            args: self.args,
            output,
        }
    }
}

/// A finished run of snapsync: its output, with assertions. It reads as
/// the process's [`Output`] too (`run.status`, `run.stdout`).
pub struct Run {
    args: Vec<String>,
    output: Output,
}

impl std::ops::Deref for Run {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Run {
    /// Asserts that snapsync exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.code(0)
    }

    /// Asserts that snapsync exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert!(
            self.output.status.code() == Some(code),
            "`snapsync {}` exited {}, not {code}\n{}",
            self.args.join(" "),
            self.output.status,
            self.streams()
        );
        self
    }

    /// Standard output, as text.
    pub fn stdout(&self) -> String {
        text(&self.output.stdout)
    }

    /// Standard error, as text.
    pub fn stderr(&self) -> String {
        text(&self.output.stderr)
    }

    /// Standard error less the lines that say which store a command opened
    /// (`Using the CRM store …`), for tests about everything else it says.
    pub fn stderr_besides_stores(&self) -> String {
        stderr_besides_stores(&self.output.stderr)
    }

    /// Asserts that standard output is `expected`, to the byte.
    #[track_caller]
    pub fn stdout_is(self, expected: impl AsRef<str>) -> Self {
        let expected = expected.as_ref();
        assert!(
            self.stdout() == expected,
            "`snapsync {}`: standard output is not as expected\n--- expected:\n{expected}\n{}",
            self.args.join(" "),
            self.streams()
        );
        self
    }

    /// Asserts that standard error is `expected`, to the byte.
    #[track_caller]
    pub fn stderr_is(self, expected: impl AsRef<str>) -> Self {
        let expected = expected.as_ref();
        assert!(
            self.stderr() == expected,
            "`snapsync {}`: standard error is not as expected\n--- expected:\n{expected}\n{}",
            self.args.join(" "),
            self.streams()
        );
        self
    }

    /// Both streams, for a failure message.
    fn streams(&self) -> String {
        format!(
            "--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        )
    }
}

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Standard error less the lines that say which store a command opened
/// (`Using the CRM store …`).
fn stderr_besides_stores(bytes: &[u8]) -> String {
    let mut kept = String::new();
    for line in text(bytes).lines() {
        if !line.starts_with("Using the ") {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}
