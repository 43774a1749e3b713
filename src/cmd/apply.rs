//! `snapsync apply`: plan (or read a saved plan), show it, confirm, execute.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::bail;

use crate::cli::{ApplyArgs, OutputFormat};
use crate::exit::Exit;
use crate::output::report::{applied_line, execute, write_unapplied};
use crate::output::{Output, stdout_while_read};
use snapsync::apply::{ApplyOptions, Report};
use snapsync::formats::apply::ApplyReportJson;
use snapsync::outputs::FormatVersion;
use snapsync::plan::{Plan, SourceCache, render};
use snapsync::state::actor_from_env;
use snapsync::workspace::{SavedPlan, Workspace};

/// Runs `snapsync apply`.
pub fn run(output: &Output, args: &ApplyArgs) -> anyhow::Result<Exit> {
    match &args.plan {
        Some(path) => run_saved(output, args, path),
        None => run_planned(output, args),
    }
}

/// `apply --plan FILE`: the plan is the approval and holds all it needs
/// (DESIGN 2.5): no specs, no question. What the command line or specs
/// nearby now resolve to elsewhere than the plan recorded is refused.
fn run_saved(output: &Output, args: &ApplyArgs, path: &std::path::Path) -> anyhow::Result<Exit> {
    let SavedPlan {
        plan,
        digest,
        workspace,
    } = Workspace::of_saved_plan(path, output.given(), &args.paths)?;
    show_plan(output, args, &plan)?;
    let plan_errors = plan_errors(&plan)?;
    let options = ApplyOptions {
        max_deletes: args.max_deletes,
        lock_timeout: args.lock_timeout,
        actor: actor_from_env(),
        plan_digest: Some(digest),
        allow_empty_source: args.allow_empty_source,
        ..ApplyOptions::default()
    };
    // The locks are taken before any operation is checked: preconditions
    // are checked while no other apply can write these links.
    let (report, seconds) = execute(output, &workspace, &plan, &options, Vec::new())?;
    finish(output, args, &report, seconds, plan_errors)
}

/// `apply` without a saved plan: lock the links the snapshots cover, plan
/// while holding them, show the plan, ask, execute.
fn run_planned(output: &Output, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let workspace = output.load(&args.paths, now)?;
    let options = ApplyOptions {
        max_deletes: args.max_deletes,
        lock_timeout: args.lock_timeout,
        actor: actor_from_env(),
        allow_empty_source: args.allow_empty_source,
        ..ApplyOptions::default()
    };
    // The locks first, then the plan: an apply that waited for another
    // one plans what that one left, instead of a plan gone stale while it
    // waited.
    let held = workspace.lock(&args.snapshots, &options)?;
    // An apply that makes its own plan keeps the source items the plan
    // reads, and does not read them again (see SourceCache).
    let mut cache = SourceCache::new();
    let plan = workspace.compile(&args.snapshots, Some(&mut cache))?;
    output.announce_both(&workspace);
    show_plan(output, args, &plan)?;
    let plan_errors = plan_errors(&plan)?;
    if plan.has_changes() && !args.yes && !confirm()? {
        return Ok(Exit::Declined);
    }
    let options = ApplyOptions {
        source_cache: (!cache.is_empty()).then(|| std::sync::Arc::new(cache)),
        ..options
    };
    let (report, seconds) = execute(output, &workspace, &plan, &options, held)?;
    finish(output, args, &report, seconds, plan_errors)
}

/// Shows the plan before it is applied. With --format json, stdout holds
/// the report alone; the plan a person reviews goes to stderr.
fn show_plan(output: &Output, args: &ApplyArgs, plan: &Plan) -> anyhow::Result<()> {
    if output.quiet() {
        return Ok(());
    }
    if args.format == OutputFormat::Json {
        let options = render::TextOptions {
            color: output.stderr_style().color,
            show_unchanged: false,
        };
        let mut err = io::BufWriter::with_capacity(1 << 16, io::stderr().lock());
        render::text(plan, &mut err, options)?;
        err.flush()?;
    } else {
        let options = render::TextOptions {
            color: output.stdout_style().color,
            show_unchanged: false,
        };
        let mut stdout = io::BufWriter::with_capacity(1 << 16, stdout_while_read());
        render::text(plan, &mut stdout, options)?;
        stdout.flush()?;
    }
    Ok(())
}

/// Writes the report; exit 0 when every operation was applied, else 3.
fn finish(
    output: &Output,
    args: &ApplyArgs,
    report: &Report,
    seconds: f64,
    plan_errors: usize,
) -> anyhow::Result<Exit> {
    match args.format {
        OutputFormat::Json => {
            let value = ApplyReportJson {
                format_version: FormatVersion,
                report,
                plan_errors,
                seconds,
            };
            let mut out = stdout_while_read();
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_report(output, report, seconds)?,
    }
    if plan_errors > 0 {
        writeln!(
            io::stderr().lock(),
            "not applied: the parts of the plan with errors (listed above with the plan)"
        )?;
    }
    Ok(Exit::partial_unless(
        report.unapplied().next().is_none() && plan_errors == 0,
    ))
}

/// How many errors the plan holds, said on stderr before the apply goes on:
/// the parts of a plan with an error (a link whose CRM user does not exist,
/// a target that cannot be reached) have no operations, so everything else
/// is applied, and the apply exits 3 (DESIGN 2.5: an error is for its link,
/// and the rest of the plan goes on). A plan of errors alone, with no
/// operation at all, is an error before any write (exit 1).
fn plan_errors(plan: &Plan) -> anyhow::Result<usize> {
    let errors = plan.errors();
    if errors == 0 {
        return Ok(0);
    }
    if !plan.has_operations() {
        bail!("the plan has errors (listed above) and nothing else to do; nothing was applied");
    }
    writeln!(
        io::stderr().lock(),
        "error: the plan has {} (listed above): the links and targets {} name are not \
         applied; the rest of the plan is",
        snapsync::plural::count(errors, "error", "errors"),
        if errors == 1 { "it" } else { "they" }
    )?;
    Ok(errors)
}

/// Asks on the terminal; refuses without one.
fn confirm() -> anyhow::Result<bool> {
    if !io::stdin().is_terminal() {
        bail!(
            "not on a terminal, so there is no one to confirm: pass --yes to apply without asking \
             (review the plan first with `snapsync plan`)"
        );
    }
    let mut err = io::stderr().lock();
    write!(err, "Apply these changes? Only 'yes' is accepted: ")?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    if approves(&answer) {
        Ok(true)
    } else {
        writeln!(
            err,
            "Not applied, as you answered (exit code {}); nothing was written.",
            Exit::Declined.code()
        )?;
        Ok(false)
    }
}

/// Whether an answer to the prompt approves: `yes` alone, as Terraform asks.
fn approves(answer: &str) -> bool {
    answer.trim() == "yes"
}

fn write_report(output: &Output, report: &Report, seconds: f64) -> io::Result<()> {
    write_unapplied(report)?;
    if output.quiet() {
        return Ok(());
    }
    let mut stdout = stdout_while_read();
    writeln!(stdout, "{}", applied_line(report, seconds))?;
    for snapshot in &report.snapshots {
        writeln!(
            stdout,
            "  {}: run {} in the journal (`snapsync runs show {}`)",
            snapshot.snapshot, snapshot.run_id, snapshot.run_id
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_approves_and_declining_has_its_own_exit_code() {
        assert!(approves("yes\n"));
        assert!(approves("  yes  "));
        for answer in ["", "\n", "no\n", "y\n", "YES\n", "yes please\n"] {
            assert!(!approves(answer), "{answer:?}");
        }
        // Distinct from 0 (applied), 1 (error), 2 (plan: changes), 3 (partial).
        assert!(![0, 1, 2, 3].contains(&Exit::Declined.code()));
    }
}
