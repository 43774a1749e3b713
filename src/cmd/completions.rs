//! `snapsync completions SHELL`: the shell's completion script, generated
//! from the clap definitions in `cli.rs`, so it always knows every command
//! and flag.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

/// Runs `snapsync completions`.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "snapsync", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
