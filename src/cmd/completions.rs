//! `snapsync completions SHELL`: the shell's completion script, generated
//! from the clap definitions in `cli.rs`, so it always knows every command
//! and flag.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Exit;

/// Runs `snapsync completions`.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut command = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "snapsync", &mut out);
    out.flush()?;
    Ok(Exit::Success)
}
