//! The `snapsync` binary: parse the command line, set up logging, dispatch,
//! and map outcomes to exit codes in one place.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod cmd;
mod exit;
mod output;

use cli::{Cli, Command, LogFormat};
use exit::{Exit, Reported};
use output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let out = Output::new(&cli);
    let exit = match run(&cli.command, &out) {
        Ok(exit) => exit,
        Err(error) => match error.downcast_ref::<Reported>() {
            // Said already, on stderr (invalid specs).
            Some(Reported(exit)) => *exit,
            // A reader that went away (`snapsync plan | head`) is not an error.
            None if is_broken_pipe(&error) => Exit::Success,
            None => {
                let _ = writeln!(io::stderr(), "error: {error:#}");
                Exit::Failure
            }
        },
    };
    ExitCode::from(exit.code())
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

/// Runs the command, with the global options resolved into `out`.
fn run(command: &Command, out: &Output) -> anyhow::Result<Exit> {
    match command {
        Command::Validate(args) => cmd::validate::run(out, args),
        Command::Schema(args) => cmd::schema::run(args),
        Command::Crm(command) => cmd::crm::run(out, command),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Plan(args) => cmd::plan::run(out, args),
        Command::Apply(args) => cmd::apply::run(out, args),
        Command::Links(args) => cmd::links::links(out, args),
        Command::Targets(args) => cmd::links::targets(out, args),
        Command::Discover(args) => cmd::discover::run(out, args),
        Command::Runs(args) => cmd::runs::run(out, args),
        Command::Demo(args) => cmd::demo::run(out, args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man => cmd::man::run(),
    }
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
