//! `snapsync apply`: plan (or read a saved plan), show it, confirm, execute.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use super::plan::StorePaths;
use crate::cli::{ApplyArgs, Cli, OutputFormat};
use snapsync::apply::{self, ApplyError, ApplyOptions, Report};
use snapsync::endpoint::StoreEndpoints;
use snapsync::endpoint::crm::CrmStore;
use snapsync::plan::{Action, PLAN_FORMAT_VERSION, Plan, SourceCache, render};
use snapsync::spec::model::Catalog;
use snapsync::state::{StateStore, actor_from_env};

/// Exit code when some operations failed or were stale.
const PARTIAL: u8 = 3;

fn read_plan(path: &std::path::Path) -> anyhow::Result<(Plan, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan (not JSON)", path.display()))?;
    let version = value
        .get("formatVersion")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        bail!(
            "{} is a plan of format version {}, but this snapsync reads version {PLAN_FORMAT_VERSION}; plan again",
            path.display(),
            version.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
        );
    }
    let plan: Plan = serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid plan", path.display()))?;
    Ok((plan, digest))
}

/// Runs `snapsync apply`.
pub fn run(cli: &Cli, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let catalog = match super::plan::load_catalog(cli, &args.paths, now)? {
        Ok(catalog) => catalog,
        Err(code) => return Ok(code),
    };
    // An apply that makes its own plan keeps the source items the plan
    // reads, and does not read them again (see SourceCache).
    let mut cache = SourceCache::new();
    let (plan, digest) = match &args.plan {
        Some(path) => {
            let (plan, digest) = read_plan(path)?;
            (plan, Some(digest))
        }
        None => (
            super::plan::compile(cli, &catalog, &args.snapshots, now, Some(&mut cache))?,
            None,
        ),
    };
    super::announce_both(cli, &StorePaths::of(cli, &catalog), &args.paths);
    // With --format json, stdout holds the report alone; the plan a person
    // reviews before confirming goes to stderr.
    if cli.quiet == 0 {
        if args.format == OutputFormat::Json {
            let options = render::TextOptions {
                color: crate::text_style(cli, &io::stderr()).color,
                show_unchanged: false,
            };
            let mut err = io::BufWriter::with_capacity(1 << 16, io::stderr().lock());
            render::text(&plan, &mut err, options)?;
            err.flush()?;
        } else {
            let options = render::TextOptions {
                color: crate::text_style(cli, &io::stdout()).color,
                show_unchanged: false,
            };
            let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            render::text(&plan, &mut out, options)?;
            out.flush()?;
        }
    }
    if plan.has_errors() {
        bail!("the plan has errors (listed above); nothing was applied");
    }
    if plan.has_changes() && !args.yes && !confirm()? {
        return Ok(ExitCode::from(1));
    }
    let stores = StorePaths::of(cli, &catalog);
    let options = ApplyOptions {
        max_deletes: args.max_deletes,
        lock_timeout: args.lock_timeout,
        actor: actor_from_env(),
        plan_digest: digest,
        allow_empty_source: args.allow_empty_source,
        source_cache: (!cache.is_empty()).then(|| std::sync::Arc::new(cache)),
        ..ApplyOptions::default()
    };
    let (report, seconds) = execute(cli, &plan, &catalog, &stores, &options)?;
    match args.format {
        OutputFormat::Json => {
            let value = json!({"formatVersion": 1, "report": report, "seconds": seconds});
            let mut out = io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_report(cli, &report, seconds)?,
    }
    Ok(if report.unapplied().next().is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PARTIAL)
    })
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
    let crm = CrmStore::open(&stores.crm).context("cannot open the CRM store")?;
    let mut state = StateStore::open(&stores.state).context("cannot open the state store")?;
    let endpoints = StoreEndpoints::new(crm);
    let bar = crate::cmd::progress_bar(cli, 0, "operations");
    let started = std::time::Instant::now();
    let result = apply::execute(plan, catalog, &endpoints, &mut state, options, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    });
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
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        writeln!(err, "Not applied.")?;
        Ok(false)
    }
}

fn write_report(cli: &Cli, report: &Report, seconds: f64) -> io::Result<()> {
    write_unapplied(report)?;
    if cli.quiet > 0 {
        return Ok(());
    }
    let mut out = io::stdout().lock();
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
        .filter(|u| u.outcome == apply::OpOutcome::Failed)
        .count();
    let stale = report
        .unapplied()
        .filter(|u| u.outcome == apply::OpOutcome::Stale)
        .count();
    format!(
        "Applied in {seconds:.2} s: {} created, {} restored, {} updated, {} deleted; {failed} failed, {stale} stale.",
        n(Action::Create),
        n(Action::Restore),
        n(Action::Update),
        n(Action::Delete) + n(Action::OrphanDeleted),
    )
}
