//! `snapsync apply`: plan (or read a saved plan), show it, confirm, execute.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::plan::StorePaths;
use crate::cli::{ApplyArgs, Cli, OutputFormat};
use snapsync::apply::{self, ApplyError, ApplyOptions, Report};
use snapsync::endpoint::StoreEndpoints;
use snapsync::endpoint::crm::CrmStore;
use snapsync::formats::apply::ApplyReportJson;
use snapsync::outputs::FormatVersion;
use snapsync::plan::{Action, Plan, PlanFormatVersion, SavedPlanError, SourceCache, render};
use snapsync::spec::model::{Catalog, Snapshot};
use snapsync::state::{LinkLock, StateStore, actor_from_env};

/// Exit code when some operations failed or were stale.
const PARTIAL: u8 = 3;

/// Exit code when the operator declined at the prompt: nothing was
/// applied, at the operator's request (not an error, and not a success).
pub const DECLINED: u8 = 4;

/// Reads a saved plan: its format version, then its checksum and records.
/// Returns it and the digest of the file (for the journal).
fn read_plan(path: &std::path::Path) -> anyhow::Result<(Plan, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan (not JSON)", path.display()))?;
    let version = value
        .get("formatVersion")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PlanFormatVersion::VALUE)) {
        bail!(
            "{} is a plan of format version {}, but this snapsync reads version {}; plan again",
            path.display(),
            version.map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
            PlanFormatVersion::VALUE
        );
    }
    let plan: Plan = serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid plan", path.display()))?;
    plan.check_saved()
        .with_context(|| format!("{} is not applied", path.display()))?;
    Ok((plan, digest))
}

/// Runs `snapsync apply`.
pub fn run(cli: &Cli, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    match &args.plan {
        Some(path) => run_saved(cli, args, path),
        None => run_planned(cli, args),
    }
}

/// `apply --plan FILE`: the plan is the approval and holds all it needs
/// (DESIGN 2.5): no specs, no question. What the command line or specs
/// nearby now resolve to elsewhere than the plan recorded is refused.
fn run_saved(cli: &Cli, args: &ApplyArgs, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (plan, digest) = read_plan(path)?;
    refuse_moved(cli, args, &plan)?;
    let catalog = plan.recorded_catalog()?;
    let stores = StorePaths::from_specs(&catalog);
    show_plan(cli, args, &plan)?;
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
    let (report, seconds) = execute(cli, &plan, &catalog, &stores, &options)?;
    finish(cli, args, &report, seconds, plan_errors)
}

/// Refuses a saved plan when a vdir folder it reads or writes now resolves
/// elsewhere (a symbolic link put in its place), or when `--crm`/`--state`
/// (or their variables), or the specs at PATH (`snapshots.d` by default,
/// when it exists), now resolve a store, target, link or collection
/// elsewhere than the plan recorded, or disable a link it carries in its
/// snapshot's direction.
fn refuse_moved(cli: &Cli, args: &ApplyArgs, plan: &Plan) -> anyhow::Result<()> {
    // The vdir folders themselves, specs or not: one replaced by a symbolic
    // link since the plan was made would take its writes elsewhere.
    let mut mismatches = plan.moved_folders();
    for (flag, given, crm) in [
        ("--crm or SNAPSYNC_CRM", cli.crm.as_ref(), true),
        ("--state or SNAPSYNC_STATE", cli.state.as_ref(), false),
    ] {
        if let Some(path) = given {
            let what = format!(
                "the {} ({flag})",
                if crm { "CRM store" } else { "state store" }
            );
            mismatches.extend(plan.moved_store(&what, crm, path));
        }
    }
    let default_paths =
        args.paths.len() == 1 && args.paths[0] == std::path::Path::new("snapshots.d");
    if !default_paths || args.paths[0].exists() {
        let validation = snapsync::spec::validate(&args.paths, plan.now)
            .context("cannot read the specs to compare them with the plan")?;
        match validation.catalog {
            Some(catalog) if !validation.has_errors() => {
                mismatches.extend(plan.moved_targets(&catalog));
                // Specs without a `Stores` resource use the default stores:
                // say so, rather than name a resource they do not have.
                let declared = !snapsync::spec::declared_stores(&args.paths)
                    .unwrap_or_default()
                    .is_empty();
                let specs = args
                    .paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let what = |store: &str| {
                    if declared {
                        format!("the {store} (the specs' Stores)")
                    } else {
                        format!(
                            "the {store} the specs at {specs} use (the default: they declare no \
                             Stores)"
                        )
                    }
                };
                if cli.crm.is_none() {
                    mismatches.extend(plan.moved_store(
                        &what("CRM store"),
                        true,
                        &catalog.stores.crm,
                    ));
                }
                if cli.state.is_none() {
                    mismatches.extend(plan.moved_store(
                        &what("state store"),
                        false,
                        &catalog.stores.state,
                    ));
                }
            }
            _ if !default_paths => bail!(
                "the specs at {} are not valid, so the plan cannot be compared with them; \
                 run `snapsync validate`, or apply the plan without naming specs",
                args.paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => tracing::warn!(
                "the specs in snapshots.d are not valid, so the plan's locations were not \
                 compared with them; the plan is applied where it was made"
            ),
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(SavedPlanError::Moved { mismatches }.into())
    }
}

/// `apply` without a saved plan: lock the links the snapshots cover, plan
/// while holding them, show the plan, ask, execute.
fn run_planned(cli: &Cli, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let catalog = match super::plan::load_catalog(cli, &args.paths, now)? {
        Ok(catalog) => catalog,
        Err(code) => return Ok(code),
    };
    let stores = StorePaths::of(cli, &catalog);
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
    let held = {
        // Read-only: the locks are files beside the store, and a plan
        // that is then declined must leave the store as it was.
        let state =
            StateStore::open_read_only(&stores.state).context("cannot read the state store")?;
        let chosen: Vec<&Snapshot> = catalog
            .snapshots
            .iter()
            .filter(|s| args.snapshots.is_empty() || args.snapshots.contains(&s.name))
            .collect();
        apply::lock_covered_links(&catalog, &chosen, &state, &options)?
    };
    // An apply that makes its own plan keeps the source items the plan
    // reads, and does not read them again (see SourceCache).
    let mut cache = SourceCache::new();
    let plan = super::plan::compile(cli, &catalog, &args.snapshots, now, Some(&mut cache))?;
    super::announce_both(cli, &stores, &args.paths);
    show_plan(cli, args, &plan)?;
    let plan_errors = plan_errors(&plan)?;
    if plan.has_changes() && !args.yes && !confirm()? {
        return Ok(ExitCode::from(DECLINED));
    }
    let options = ApplyOptions {
        source_cache: (!cache.is_empty()).then(|| std::sync::Arc::new(cache)),
        ..options
    };
    let (report, seconds) = execute_holding(cli, &plan, &catalog, &stores, &options, held)?;
    finish(cli, args, &report, seconds, plan_errors)
}

/// Shows the plan before it is applied. With --format json, stdout holds
/// the report alone; the plan a person reviews goes to stderr.
fn show_plan(cli: &Cli, args: &ApplyArgs, plan: &Plan) -> anyhow::Result<()> {
    if cli.quiet > 0 {
        return Ok(());
    }
    if args.format == OutputFormat::Json {
        let options = render::TextOptions {
            color: crate::text_style(cli, &io::stderr()).color,
            show_unchanged: false,
        };
        let mut err = io::BufWriter::with_capacity(1 << 16, io::stderr().lock());
        render::text(plan, &mut err, options)?;
        err.flush()?;
    } else {
        let options = render::TextOptions {
            color: crate::text_style(cli, &io::stdout()).color,
            show_unchanged: false,
        };
        let mut out = io::BufWriter::with_capacity(1 << 16, super::stdout_while_read());
        render::text(plan, &mut out, options)?;
        out.flush()?;
    }
    Ok(())
}

/// Writes the report; exit 0 when every operation was applied, else 3.
fn finish(
    cli: &Cli,
    args: &ApplyArgs,
    report: &Report,
    seconds: f64,
    plan_errors: usize,
) -> anyhow::Result<ExitCode> {
    match args.format {
        OutputFormat::Json => {
            let value = ApplyReportJson {
                format_version: FormatVersion,
                report,
                plan_errors,
                seconds,
            };
            let mut out = super::stdout_while_read();
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_report(cli, report, seconds)?,
    }
    if plan_errors > 0 {
        writeln!(
            io::stderr().lock(),
            "not applied: the parts of the plan with errors (listed above with the plan)"
        )?;
    }
    Ok(if report.unapplied().next().is_none() && plan_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PARTIAL)
    })
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

/// Carries out `plan` on the stores at `stores`, with a progress bar on a
/// terminal. Returns the report and how long it took, in seconds. A
/// refusal (DESIGN 2.5) is an error that says so; nothing was written.
pub fn execute(
    cli: &Cli,
    plan: &Plan,
    catalog: &Catalog,
    stores: &StorePaths,
    options: &ApplyOptions,
) -> anyhow::Result<(Report, f64)> {
    execute_holding(cli, plan, catalog, stores, options, Vec::new())
}

/// [`execute`] by a caller that holds `held`, the locks it took before it
/// planned.
fn execute_holding(
    cli: &Cli,
    plan: &Plan,
    catalog: &Catalog,
    stores: &StorePaths,
    options: &ApplyOptions,
    held: Vec<LinkLock>,
) -> anyhow::Result<(Report, f64)> {
    let crm = CrmStore::open(&stores.crm).context("cannot open the CRM store")?;
    let mut state = StateStore::open(&stores.state).context("cannot open the state store")?;
    let endpoints = StoreEndpoints::new(crm);
    let bar = crate::cmd::progress_bar(cli, 0, "operations");
    let started = std::time::Instant::now();
    let mut progress = |p: apply::Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    };
    let result = apply::execute_holding(
        plan,
        catalog,
        &endpoints,
        &mut state,
        options,
        &mut progress,
        held,
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(ApplyError::Refused(refusal)) => bail!("refused: {refusal}"),
        Err(e) => return Err(e.into()),
    };
    Ok((report, started.elapsed().as_secs_f64()))
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
            "Not applied, as you answered (exit code {DECLINED}); nothing was written."
        )?;
        Ok(false)
    }
}

/// Whether an answer to the prompt approves: `yes` alone, as Terraform asks.
fn approves(answer: &str) -> bool {
    answer.trim() == "yes"
}

fn write_report(cli: &Cli, report: &Report, seconds: f64) -> io::Result<()> {
    write_unapplied(report)?;
    if cli.quiet > 0 {
        return Ok(());
    }
    let mut out = super::stdout_while_read();
    writeln!(out, "{}", applied_line(report, seconds))?;
    for snapshot in &report.snapshots {
        writeln!(
            out,
            "  {}: run {} in the journal (`snapsync runs show {}`)",
            snapshot.snapshot, snapshot.run_id, snapshot.run_id
        )?;
    }
    Ok(())
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
        assert!(![0, 1, 2, 3].contains(&DECLINED));
    }
}
