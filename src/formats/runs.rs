//! `snapsync runs --format json` and `snapsync runs show ID --format json`.

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::outputs::{FormatVersion, JsonOutput};
use crate::state::{JournalEntry, RunSummary};

/// What `snapsync runs --format json` prints: the latest runs first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunsJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::Runs.format_version() }>,
    /// The state store whose journal is listed.
    pub state_store: &'a Path,
    /// The runs, newest first (at most `--limit`).
    pub runs: Vec<RunJson<'a>>,
}

/// What `snapsync runs show ID --format json` prints.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunShowJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::RunsShow.format_version() }>,
    /// The state store whose journal holds the run.
    pub state_store: &'a Path,
    /// The run.
    pub run: RunJson<'a>,
    /// Every operation the run journaled, in plan order.
    pub operations: &'a [JournalEntry],
}

/// One run, with its duration.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunJson<'a> {
    /// The run as the journal records it.
    #[serde(flatten)]
    pub summary: &'a RunSummary,
    /// How long it ran, in seconds; null until it finishes.
    pub duration_seconds: Option<f64>,
}

impl<'a> RunJson<'a> {
    /// The JSON of `run`.
    #[must_use]
    pub fn new(run: &'a RunSummary) -> RunJson<'a> {
        RunJson {
            summary: run,
            duration_seconds: run
                .duration()
                .and_then(|d| d.to_std().ok())
                .map(|d| d.as_secs_f64()),
        }
    }
}
