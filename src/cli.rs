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
    /// The CRM store (a SQLite file). Default: the `Stores` resource of the
    /// specs, else `.snapsync/crm.sqlite`.
    #[arg(long, value_name = "PATH", env = "SNAPSYNC_CRM", global = true)]
    pub crm: Option<PathBuf>,
    /// The state store (a SQLite file). Default: the `Stores` resource of the
    /// specs, else `.snapsync/state.sqlite`.
    #[arg(long, value_name = "PATH", env = "SNAPSYNC_STATE", global = true)]
    pub state: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check spec files: the schema and every cross-reference, reporting every problem.
    Validate(ValidateArgs),
    /// Print the JSON Schema of spec documents, or of a JSON output (draft 2020-12).
    ///
    /// Without OUTPUT, the schema of spec documents (as committed in
    /// `schemas/snapsync.schema.json`). With OUTPUT, the schema of that
    /// command's `--format json` output (as committed in
    /// `schemas/OUTPUT.schema.json`), so that a pipeline can check what it
    /// parses. Each output carries a `formatVersion` that its schema pins.
    Schema(SchemaArgs),
    /// Dry run: show what each snapshot would do, item by item, with the reason.
    ///
    /// Reads the CRM store, the targets and the state store, and writes
    /// nothing. Changed items are listed; unchanged ones are counted
    /// (--show-unchanged lists them).
    Plan(PlanArgs),
    /// Plan, show the plan, ask, then carry it out; or carry out a saved plan.
    ///
    /// Without --plan it locks the links its snapshots cover (waiting up to
    /// --lock-timeout), plans while holding them, then on a terminal asks
    /// before writing; elsewhere it needs --yes. With --plan FILE the saved
    /// plan is the approval: it needs no specs and asks nothing, and is
    /// refused if it was edited since it was saved or if --crm, --state or
    /// the specs at PATH now resolve elsewhere than it was planned against.
    /// A part of the plan with an error (a link whose CRM user does not
    /// exist, a target that cannot be reached) is not applied; the rest is.
    /// Exit codes: 0 all applied, 1 error before any write, 3 some
    /// operations failed or were stale (each is listed) or parts of the plan
    /// had errors, 4 not applied at the operator's request (the prompt was
    /// declined).
    Apply(ApplyArgs),
    /// Build a demo world and run validate, plan and apply on it.
    ///
    /// The world, under --dir (default .snapsync/demo), is rebuilt from
    /// scratch on every run: specs, a CRM store with three users and a vdir
    /// target that has drifted from it since a first full send. Then the
    /// full send is validated, planned, applied and planned again. Only a
    /// folder that is missing, empty or made by an earlier demo is used.
    Demo(DemoArgs),
    /// Work with the CRM store: import and export items, list users.
    #[command(subcommand)]
    Crm(CrmCommand),
    /// Write seeded test data (for benchmarks): events, a share of them
    /// recurring, tasks with and without dates, and contacts.
    #[command(hide = true)]
    Generate(GenerateArgs),
    /// List every link of the targets with its sync state.
    ///
    /// For each link: the CRM user, the collection of each item type, the
    /// inbound and outbound flags as the specs declare them now, whether
    /// outbound is pending (enabled again after items were synced, until a
    /// send snapshot covering the link is applied), the last get and send
    /// runs, and how many items the state store records as synced. Reads
    /// the specs and the state store; writes nothing.
    Links(LinksArgs),
    /// List the targets: type, location, links, and links with outbound pending.
    Targets(TargetsArgs),
    /// Find users' calendars, task lists and address books on a CalDAV
    /// target, and print the `links:` block to paste into its YAML.
    ///
    /// Asks the server (the well-known URIs, then the target's URL) for the
    /// login's principal, then the principal's calendar and address book
    /// homes, then what they hold. A calendar whose component set has VTODO
    /// and not VEVENT is taken as a task list, VEVENT and not VTODO as a
    /// calendar; one that accepts both may serve as either. The block goes
    /// to stdout, indented for a Target's `spec:`; every other collection
    /// found is listed in it as a comment. Reads only; writes nothing.
    Discover(DiscoverArgs),
    /// The history of applies, from the state store's journal, newest first.
    ///
    /// `snapsync runs show ID` shows one run and each of its operations.
    Runs(RunsArgs),
    /// Print the completion script of a shell, to stdout.
    ///
    /// Bash: `source <(snapsync completions bash)` in ~/.bashrc, or save it
    /// as ~/.local/share/bash-completion/completions/snapsync. Zsh: save it
    /// as `_snapsync` in a folder of $fpath. Fish: save it as
    /// ~/.config/fish/completions/snapsync.fish. PowerShell: add
    /// `snapsync completions powershell | Out-String | Invoke-Expression`
    /// to $PROFILE. Elvish: add `eval (snapsync completions elvish | slurp)`
    /// to rc.elv.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, as committed at docs/snapsync.1.
    #[command(hide = true)]
    Man,
}

/// `snapsync completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `snapsync links`.
#[derive(Debug, clap::Args)]
pub struct LinksArgs {
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Only the links of this target.
    #[arg(long, short, value_name = "TARGET")]
    pub target: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `snapsync targets`.
#[derive(Debug, clap::Args)]
pub struct TargetsArgs {
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `snapsync schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The JSON output whose schema to print; none: the spec documents'.
    #[arg(value_parser = output_parser())]
    pub output: Option<snapsync::outputs::JsonOutput>,
}

/// Parses an output's name; `--help` lists every name with its command.
fn output_parser() -> impl clap::builder::TypedValueParser<Value = snapsync::outputs::JsonOutput> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    use snapsync::outputs::JsonOutput;
    PossibleValuesParser::new(
        JsonOutput::ALL.map(|o| PossibleValue::new(o.name()).help(o.command())),
    )
    .try_map(|name| name.parse::<JsonOutput>())
}

/// `snapsync discover`.
#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// The target (of `type: caldav`) to explore, with its URL, login and TLS settings.
    pub target: String,
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Find this user's collections instead of the login's (repeatable).
    /// The login must be allowed to read them (a service account): the
    /// user's principal is the login's with its last segment replaced by U.
    #[arg(long = "user", short, value_name = "U")]
    pub users: Vec<String>,
    /// Output format: the YAML block to paste, or JSON for pipelines.
    #[arg(long, value_enum, default_value_t = DiscoverFormat::Yaml)]
    pub format: DiscoverFormat,
}

/// How `discover` prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscoverFormat {
    /// The `links:` block of a Target, with the other collections as comments.
    Yaml,
    /// Every collection found, and the proposed links (a versioned format).
    Json,
}

/// `snapsync runs`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    /// Show one run instead of listing them.
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    /// How many runs to list, newest first (0: every run).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub specs: StateSpecsArg,
}

/// `snapsync runs …`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show one run: its summary, then every operation it tried, failures first.
    Show(RunsShowArgs),
}

/// `snapsync runs show`.
#[derive(Debug, clap::Args)]
pub struct RunsShowArgs {
    /// The run's id (as `snapsync runs` and `snapsync apply` print it).
    pub id: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub specs: StateSpecsArg,
}

/// Where the `runs` commands find the `Stores` resource.
#[derive(Debug, clap::Args)]
pub struct StateSpecsArg {
    /// Spec files or folders whose `Stores` resource names the state store
    /// (used when `--state` is not given and the path exists).
    #[arg(long, value_name = "PATH", default_value = "snapshots.d")]
    pub specs: PathBuf,
}

/// `snapsync demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The folder of the demo world, deleted and rebuilt on every run. It
    /// must be missing, empty, or made by an earlier demo.
    #[arg(long, value_name = "DIR", default_value = ".snapsync/demo")]
    pub dir: PathBuf,
    /// Generated items per CRM user (at least 100, so that each user has
    /// events, tasks and contacts).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(100..=1_000_000)
    )]
    pub items: u64,
    /// The seed of the generator: the same seed gives the same items and
    /// the same changes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `snapsync generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// How many items.
    #[arg(long, default_value_t = 1000)]
    pub items: u64,
    /// The seed: the same seed gives the same items.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The folder to write into (created if needed).
    #[arg(long, short)]
    pub out: PathBuf,
    /// `files`: calendar-NNNNN.ics and contacts-NNNNN.vcf holding many
    /// items each; `vdir`: one file per item in scheduleItems/, tasks/, contacts/.
    #[arg(long, value_enum, default_value_t = GenerateLayout::Files)]
    pub layout: GenerateLayout,
    /// Items per file with `--layout files`.
    #[arg(long, default_value_t = 1000)]
    pub per_file: u64,
    /// The clock to generate at (RFC 3339, `2026-11-25T12:00:00Z`): no
    /// item was changed after it. Default: now. The same seed and clock
    /// give the same items.
    #[arg(long)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// How `generate` lays out its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateLayout {
    /// Many items per file.
    Files,
    /// One file per item, a folder per type.
    Vdir,
}

/// `snapsync plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Plan only these snapshots (by name; repeatable). Default: every
    /// snapshot in the specs.
    #[arg(long = "snapshot", short = 's', value_name = "NAME")]
    pub snapshots: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan (JSON) to FILE, for `snapsync apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit with 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// List unchanged items and items the filters do not match too.
    #[arg(long)]
    pub show_unchanged: bool,
    /// The clock that relative bounds (`-30d`, `today`) resolve against, as
    /// RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<DateTime<Utc>>,
}

/// `snapsync apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Spec files or folders (read recursively, *.yaml and *.yml).
    #[arg(default_value = "snapshots.d")]
    pub paths: Vec<PathBuf>,
    /// Apply only these snapshots (by name; repeatable).
    #[arg(
        long = "snapshot",
        short = 's',
        value_name = "NAME",
        conflicts_with = "plan"
    )]
    pub snapshots: Vec<String>,
    /// Carry out exactly this saved plan (from `plan --out FILE`), on the
    /// targets and stores it records, from any folder and without a
    /// question; operations whose items changed since are reported as
    /// stale, never forced.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (a saved plan never asks).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Refuse to run if a snapshot would delete more than N items (on top
    /// of each spec's maxDeletes).
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<u32>,
    /// Apply even where a source that had synced items now lists none, or
    /// where a snapshot would delete every item of a destination collection
    /// (normally refused: both look exactly like a broken server, a wrong
    /// path or a mistyped user).
    #[arg(long)]
    pub allow_empty_source: bool,
    /// How long to wait for another apply that holds a link (e.g. `30s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The clock that relative bounds resolve against, as RFC 3339 (default: now).
    #[arg(long, value_name = "TIME", conflicts_with = "plan")]
    pub now: Option<DateTime<Utc>>,
}

/// How `plan` shows its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people: grouped by snapshot, link and item type.
    Text,
    /// For pipelines and `apply --plan` (a documented, versioned format).
    Json,
    /// For a pull-request comment: a summary table, details folded.
    Markdown,
}

/// `snapsync crm …`.
#[derive(Debug, Subcommand)]
pub enum CrmCommand {
    /// Load .ics and .vcf files (or folders of them) into a user's items.
    ///
    /// A calendar file may hold many events and tasks, a .vcf many cards. A
    /// UID the user already has is updated when its content changed. Bad
    /// items are reported with their file and the reason; the rest is
    /// imported. Exit code 3 when some items could not be imported.
    Import(CrmImportArgs),
    /// Write a user's items out, one file per item, in vdir folders
    /// (`scheduleItems/`, `tasks/`, `contacts/`) that khal, todoman and khard read.
    Export(CrmExportArgs),
    /// List the store's users and how many items of each type they have.
    Users(CrmUsersArgs),
}

/// Where the CRM commands find the `Stores` resource.
#[derive(Debug, clap::Args)]
pub struct SpecsArg {
    /// Spec files or folders whose `Stores` resource names the CRM store
    /// (used when `--crm` is not given and the path exists).
    #[arg(long, value_name = "PATH", default_value = "snapshots.d")]
    pub specs: PathBuf,
}

/// `snapsync crm import`.
#[derive(Debug, clap::Args)]
pub struct CrmImportArgs {
    /// The CRM user who receives the items (created if new).
    #[arg(long, short)]
    pub user: String,
    /// Files and folders to import (folders are read recursively for .ics and .vcf).
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub specs: SpecsArg,
}

/// `snapsync crm export`.
#[derive(Debug, clap::Args)]
pub struct CrmExportArgs {
    /// The CRM user whose items are written.
    #[arg(long, short)]
    pub user: String,
    /// The folder to write into (created if needed). Existing files of the
    /// same items are replaced; other files are left alone.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub specs: SpecsArg,
}

/// `snapsync crm users`.
#[derive(Debug, clap::Args)]
pub struct CrmUsersArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub specs: SpecsArg,
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
