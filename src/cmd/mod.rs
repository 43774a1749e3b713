//! The commands' glue: read options, call the library, render its results.
//! Only this layer and `main.rs` write to stdout and stderr.

pub mod apply;
pub mod crm;
pub mod generate;
pub mod plan;

use std::io::{self, IsTerminal};

use crate::cli::Cli;

/// A progress bar on a terminal (none with -q or elsewhere, where log lines
/// tell the story).
pub fn progress_bar(cli: &Cli, len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    if cli.quiet > 0 || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}
