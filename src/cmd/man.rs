//! `snapsync man` (hidden): the man page, generated from the clap
//! definitions in `cli.rs`. `docs/snapsync.1` is its output, committed; a
//! test checks that it is fresh.
//!
//! One page holds every command, as `git help -a` would not: the global
//! options at the top, then under COMMANDS each visible command (and each
//! command of `crm` and `runs`) with its synopsis, description and options.
//! Hidden commands (`generate`, `man`) and `help` are left out.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Exit;

/// Runs `snapsync man`.
pub fn run() -> anyhow::Result<Exit> {
    let mut out = io::stdout().lock();
    out.write_all(&page()?)?;
    out.flush()?;
    Ok(Exit::Success)
}

/// The whole page, in roff.
fn page() -> io::Result<Vec<u8>> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let man = clap_mangen::Man::new(cli.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    writeln!(page, ".SH COMMANDS")?;
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        command_entry(command, &mut page)?;
    }
    man.render_version_section(&mut page)?;
    Ok(once_defined(&page))
}

/// One command under COMMANDS (then its own commands, if it has some): a
/// subsection named by its full invocation, its synopsis, description and
/// options. The global options, shown once at the top, and `--help` are
/// left out.
fn command_entry(command: &clap::Command, page: &mut Vec<u8>) -> io::Result<()> {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    let mut own = command.clone();
    let globals: Vec<clap::Id> = command
        .get_arguments()
        .filter(|a| a.is_global_set() || a.get_id() == "help")
        .map(|a| a.get_id().clone())
        .collect();
    for id in globals {
        own = own.mut_arg(id, |a| a.hide(true));
    }
    let man = clap_mangen::Man::new(own);
    writeln!(page, ".SS \"{name}\"")?;
    let mut body = Vec::new();
    man.render_synopsis_section(&mut body)?;
    man.render_description_section(&mut body)?;
    man.render_options_section(&mut body)?;
    page.extend_from_slice(&without_headings(&body));
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        command_entry(sub, page)?;
    }
    Ok(())
}

/// Roff with each section heading (`.SH …`) turned into a paragraph break,
/// so a command's parts sit inside its subsection.
fn without_headings(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(".SH ") {
            out.push_str(".PP\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// Each part `clap_mangen` renders starts by defining the `Aq` string (the
/// apostrophe, two lines): the page keeps the first definition only.
fn once_defined(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::new();
    let mut definition_lines = 0;
    for line in text.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq ") || line.starts_with(".el .ds Aq ") {
            definition_lines += 1;
            if definition_lines > 2 {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}
