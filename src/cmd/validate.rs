//! `snapsync validate`: every problem in the specs, or that they are valid.

use std::io;

use anyhow::Context;

use crate::cli::{OutputFormat, ValidateArgs};
use crate::exit::Exit;
use crate::output::Output;

/// Runs `snapsync validate`.
pub fn run(output: &Output, args: &ValidateArgs) -> anyhow::Result<Exit> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let validation = snapsync::spec::validate(&args.paths, now).context("cannot validate")?;
    match args.format {
        OutputFormat::Json => {
            validation.render_json(&mut io::stdout().lock())?;
        }
        OutputFormat::Text => {
            if validation.has_errors() || !output.quiet() {
                validation.render_diagnostics(output.stderr_style(), &mut io::stderr().lock())?;
            }
            if validation.has_errors() {
                validation.render_summary(&mut io::stderr().lock())?;
            } else if !output.quiet() {
                validation.render_summary(&mut io::stdout().lock())?;
            }
        }
    }
    Ok(Exit::failure_unless(!validation.has_errors()))
}
