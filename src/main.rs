//! The `snapsync` binary: parse the command line, set up logging, dispatch,
//! and map outcomes to exit codes in one place.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod cmd;

use cli::{Cli, ColorChoice, Command, LogFormat, OutputFormat, ValidateArgs};
use snapsync::spec::diagnostic::TextStyle;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    match run(&cli) {
        Ok(code) => code,
        // A reader that went away (`snapsync plan | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(io::stderr(), "error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether `error` comes from writing to a pipe whose reader has gone. The
/// cause is an `io::Error`, or one wrapped by `serde_json` (its writers
/// return their own error type, which `downcast_ref::<io::Error>` misses).
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Validate(args) => validate(cli, args),
        Command::Schema(args) => {
            let schema = match args.output {
                Some(output) => snapsync::formats::json_schema(output),
                None => snapsync::spec::schema::json_schema(),
            };
            let mut out = io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &schema)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crm(command) => cmd::crm::run(cli, command),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Plan(args) => cmd::plan::run(cli, args),
        Command::Apply(args) => cmd::apply::run(cli, args),
        Command::Links(args) => cmd::links::links(cli, args),
        Command::Targets(args) => cmd::links::targets(cli, args),
        Command::Discover(args) => cmd::discover::run(cli, args),
        Command::Runs(args) => cmd::runs::run(cli, args),
        Command::Demo(args) => cmd::demo::run(cli, args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man => cmd::man::run(),
    }
}

fn validate(cli: &Cli, args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let validation = snapsync::spec::validate(&args.paths, now).context("cannot validate")?;
    match args.format {
        OutputFormat::Json => {
            let mut out = io::stdout().lock();
            validation.render_json(&mut out)?;
        }
        OutputFormat::Text => {
            let style = text_style(cli, &io::stderr());
            if validation.has_errors() || cli.quiet == 0 {
                validation.render_diagnostics(style, &mut io::stderr().lock())?;
            }
            if validation.has_errors() {
                validation.render_summary(&mut io::stderr().lock())?;
            } else if cli.quiet == 0 {
                validation.render_summary(&mut io::stdout().lock())?;
            }
        }
    }
    Ok(if validation.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn text_style(cli: &Cli, stream: &impl IsTerminal) -> TextStyle {
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
}

fn init_tracing(cli: &Cli) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let level = match (cli.quiet, cli.verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SNAPSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // The HTTP client's trace level dumps every request byte by byte,
    // `Authorization` header included: its trace events are dropped,
    // whatever was asked for (secrets never reach a log).
    let no_http_dumps = tracing_subscriber::filter::filter_fn(|meta| {
        !(*meta.level() == tracing::Level::TRACE && meta.target().starts_with("ureq"))
    });
    let filter = filter.and(no_http_dumps);
    let layer = tracing_subscriber::fmt::layer().with_writer(io::stderr);
    match cli.log_format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().with_filter(filter))
            .init(),
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                layer
                    .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
                    .with_filter(filter),
            )
            .init(),
    }
}
