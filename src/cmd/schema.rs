//! `snapsync schema [OUTPUT]`: the JSON Schema of spec documents, or of one
//! machine-readable output.

use std::io::{self, Write};

use crate::cli::SchemaArgs;
use crate::exit::Exit;

/// Runs `snapsync schema`.
pub fn run(args: &SchemaArgs) -> anyhow::Result<Exit> {
    let schema = match args.output {
        Some(output) => snapsync::formats::json_schema(output),
        None => snapsync::spec::schema::json_schema(),
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(Exit::Success)
}
