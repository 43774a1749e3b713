//! An apply as people follow it: carried out with a progress bar, then the
//! operations not applied and the line that counts what was (`apply` and
//! `demo` both show them).

use std::io::{self, Write};

use snapsync::apply::{self, ApplyOptions, Report};
use snapsync::plan::{Action, Plan};
use snapsync::state::LinkLock;
use snapsync::workspace::Workspace;

use super::Output;

/// Carries out `plan` in `workspace`, holding `held` (the locks taken
/// before planning, if any), with a progress bar on a terminal. Returns the
/// report and how long it took, in seconds. A refusal (DESIGN 2.5) is an
/// error that says so; nothing was written.
pub fn execute(
    output: &Output,
    workspace: &Workspace,
    plan: &Plan,
    options: &ApplyOptions,
    held: Vec<LinkLock>,
) -> anyhow::Result<(Report, f64)> {
    let bar = output.progress_bar(0, "operations");
    let started = std::time::Instant::now();
    let mut progress = |p: apply::Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    };
    let result = workspace.execute(plan, options, held, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((result?, started.elapsed().as_secs_f64()))
}

/// Lists every operation that was not applied, on stderr.
pub fn write_unapplied(report: &Report) -> io::Result<()> {
    let mut err = io::stderr().lock();
    for unapplied in report.unapplied() {
        writeln!(err, "{unapplied}")?;
    }
    Ok(())
}

/// `Applied in 0.12 s: 3 created, 0 restored, 1 updated, 0 deleted; 0 failed, 0 stale.`
pub fn applied_line(report: &Report, seconds: f64) -> String {
    let applied = report.applied();
    let n = |a| applied.get(a);
    let failed = report
        .unapplied()
        .filter(|u| u.outcome == apply::NotApplied::Failed)
        .count();
    let stale = report
        .unapplied()
        .filter(|u| u.outcome == apply::NotApplied::Stale)
        .count();
    format!(
        "Applied in {seconds:.2} s: {} created, {} restored, {} updated, {} deleted; {failed} failed, {stale} stale.",
        n(Action::Create),
        n(Action::Restore),
        n(Action::Update),
        n(Action::Delete) + n(Action::OrphanDeleted),
    )
}
