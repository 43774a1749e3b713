//! `snapsync apply --format json`.

use schemars::JsonSchema;
use serde::Serialize;

use crate::apply::Report;
use crate::outputs::{FormatVersion, JsonOutput};

/// What `snapsync apply --format json` prints on stdout (the plan it shows
/// goes to stderr).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReportJson<'a> {
    /// The format's version.
    pub format_version: FormatVersion<{ JsonOutput::ApplyReport.format_version() }>,
    /// What each snapshot's apply did: its run in the journal, the
    /// operations applied (counted by action) and those not applied.
    pub report: &'a Report,
    /// How many errors the plan held: the links and targets they name were
    /// not applied, and the apply exits 3.
    pub plan_errors: usize,
    /// How long the apply took, in seconds.
    pub seconds: f64,
}
