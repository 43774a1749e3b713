//! `snapsync schema`: the JSON Schema of spec documents.

use std::io::{self, Write};

use crate::exit::Exit;

/// Runs `snapsync schema`.
pub fn run() -> anyhow::Result<Exit> {
    let schema = snapsync::spec::schema::json_schema();
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(Exit::Success)
}
