//! The command line: clap definitions only.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// Declarative snapshots between a CRM and groupware servers: validate, plan, apply.
#[derive(Debug, Parser)]
#[command(name = "snapsync", version, about, max_term_width = 100)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output: only errors.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// How log lines are written (to stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// When to use colour: auto (on a terminal, unless `NO_COLOR` is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check spec files: the schema and every cross-reference, reporting every problem.
    Validate(ValidateArgs),
    /// Print the JSON Schema of spec documents (draft 2020-12).
    Schema,
}

/// `snapsync validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The clock that relative bounds (`-30d`, `today`) resolve against, as
    /// RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<DateTime<Utc>>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For pipelines (a documented, versioned format).
    Json,
}
