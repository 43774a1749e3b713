//! `snapsync demo`: build the demo world, then validate, plan, apply and
//! plan again, printed for a person, with the command each step stands for.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::plan::StorePaths;
use crate::cli::{Cli, DemoArgs};
use snapsync::apply::ApplyOptions;
use snapsync::demo::{self, MAIN_SNAPSHOT, World, WorldOptions};
use snapsync::plan::render;
use snapsync::plural;
use snapsync::state::actor_from_env;

/// Exit code when some operations failed or were stale (as `apply`).
const PARTIAL: u8 = 3;

/// Runs `snapsync demo`.
#[allow(clippy::too_many_lines)]
pub fn run(cli: &Cli, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let color = crate::text_style(cli, &io::stdout()).color;
    let mut stdout = io::stdout().lock();
    let mut sink = io::sink();
    let mut out: &mut dyn Write = if cli.quiet > 0 {
        &mut sink
    } else {
        &mut stdout
    };
    if cli.crm.is_some() || cli.state.is_some() {
        writeln!(
            io::stderr(),
            "note: the demo uses its own stores in {}; --crm, --state, SNAPSYNC_CRM and \
             SNAPSYNC_STATE are ignored",
            args.dir.display()
        )?;
    }
    let spinner = spinner(cli);
    let options = WorldOptions {
        items_per_user: args.items,
        seed: args.seed,
        now,
    };
    let world = demo::build(&args.dir, &options, &mut |step| {
        tracing::info!("demo: {step}");
        if let Some(spinner) = &spinner {
            spinner.set_message(format!("{step}…"));
        }
    });
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let world = world?;
    describe(out, &world)?;
    let specs = shell_word(&world.specs);

    heading(
        out,
        color,
        "1/4 validate",
        &format!("snapsync validate {specs}"),
    )?;
    let validation = snapsync::spec::validate(std::slice::from_ref(&world.specs), now)
        .context("cannot validate")?;
    if !validation.has_errors() {
        // Warnings, if any (into_catalog shows them itself with -v).
        if cli.quiet == 0 && cli.verbose == 0 {
            let style = crate::text_style(cli, &io::stderr());
            validation.render_diagnostics(style, &mut io::stderr().lock())?;
        }
        validation.render_summary(out)?;
    }
    let catalog = match super::plan::into_catalog(cli, validation)? {
        Ok(catalog) => catalog,
        Err(code) => return Ok(code),
    };
    let stores = StorePaths::from_specs(&catalog);
    let names = [MAIN_SNAPSHOT.to_owned()];

    heading(
        out,
        color,
        "2/4 plan",
        &format!("snapsync plan {specs} -s {MAIN_SNAPSHOT}"),
    )?;
    let plan = super::plan::compile_at(&stores, &catalog, &names, now)?;
    let text = render::TextOptions {
        color,
        show_unchanged: false,
    };
    render::text(&plan, &mut out, text)?;
    if plan.has_errors() {
        bail!("the plan has errors (listed above); nothing was applied");
    }

    heading(
        out,
        color,
        "3/4 apply",
        &format!("snapsync apply {specs} -s {MAIN_SNAPSHOT} --yes"),
    )?;
    let apply_options = ApplyOptions {
        actor: actor_from_env(),
        ..ApplyOptions::default()
    };
    let (report, seconds) = super::apply::execute(cli, &plan, &catalog, &stores, &apply_options)?;
    super::apply::write_unapplied(&report)?;
    writeln!(out, "{}", super::apply::applied_line(&report, seconds))?;
    if report.unapplied().next().is_some() {
        return Ok(ExitCode::from(PARTIAL));
    }

    heading(
        out,
        color,
        "4/4 plan again",
        &format!("snapsync plan {specs} -s {MAIN_SNAPSHOT}"),
    )?;
    let again = super::plan::compile_at(&stores, &catalog, &names, chrono::Utc::now())?;
    if again.has_changes() || again.has_errors() {
        render::text(&again, &mut io::stderr().lock(), text)?;
        bail!("the plan after the apply still has changes (listed above)");
    }
    writeln!(out, "{}", render::summary_line(&again.totals()))?;

    next_steps(out, &specs, &folder(&world.dir))?;
    Ok(ExitCode::SUCCESS)
}

/// A spinner on a terminal, for the seconds the world takes to build with
/// many items (none with -q or elsewhere; -v logs the steps instead).
fn spinner(cli: &Cli) -> Option<indicatif::ProgressBar> {
    if cli.quiet > 0 || !io::stderr().is_terminal() {
        return None;
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(spinner)
}

fn heading(out: &mut dyn Write, color: bool, step: &str, what: &str) -> io::Result<()> {
    let line = format!("== {step}: {what}");
    writeln!(out)?;
    if color {
        writeln!(out, "\x1b[1m{line}\x1b[0m")
    } else {
        writeln!(out, "{line}")
    }
}

/// What the world holds, in a few lines.
fn describe(out: &mut dyn Write, world: &World) -> io::Result<()> {
    let dir = folder(&world.dir);
    let users: Vec<&str> = world.users.iter().map(|(u, _)| u.as_str()).collect();
    let per_user = world.users.first().map_or(0, |(_, n)| *n);
    let drift = &world.drift;
    if world.replaced {
        writeln!(
            out,
            "Rebuilt the demo world in {dir} from scratch (every run deletes the previous one):"
        )?;
    } else {
        writeln!(
            out,
            "Built a demo world in {dir} (every run of `snapsync demo` rebuilds it from scratch):"
        )?;
    }
    writeln!(
        out,
        "  specs      {}: the stores, a vdir target with a link per user, and",
        folder(&world.specs),
    )?;
    writeln!(
        out,
        "             the snapshots {}",
        world.snapshots.join(", ")
    )?;
    writeln!(
        out,
        "  CRM store  {dir}crm.sqlite: {} with {} each",
        users.join(", "),
        plural::count(per_user, "generated item", "generated items")
    )?;
    writeln!(
        out,
        "             (events, a share of them recurring; tasks with and without dates; contacts)"
    )?;
    writeln!(
        out,
        "  target     {dir}vdir/: a full send wrote {} there; since then, {} {}",
        plural::count(world.first_send, "item", "items"),
        drift.target_edited,
        plural::of(drift.target_edited, "item was", "items were")
    )?;
    writeln!(
        out,
        "             edited, {} deleted and {} added at the target, and {} added and {} deleted in the CRM",
        drift.target_deleted, drift.target_added, drift.crm_added, drift.crm_deleted
    )
}

fn next_steps(out: &mut dyn Write, specs: &str, dir: &str) -> io::Result<()> {
    let steps = [
        (
            format!("snapsync plan {specs}"),
            "every snapshot: all in sync".to_owned(),
        ),
        (
            format!("snapsync plan {specs} -s send-upcoming --show-unchanged"),
            "what a filter takes, and why".to_owned(),
        ),
        (
            format!("snapsync plan {specs} --format markdown"),
            "for a pull request".to_owned(),
        ),
        (
            format!("snapsync plan {specs} -s get-jdoe"),
            format!("the target wins: edit a file in {dir}vdir/jdoe/ first"),
        ),
        (
            format!("snapsync apply {specs} -s {MAIN_SNAPSHOT}"),
            "the CRM wins: asks, then writes".to_owned(),
        ),
    ];
    let width = steps
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0);
    writeln!(out)?;
    writeln!(
        out,
        "Try next (`snapsync` is `cargo run --release --` until you `cargo install --path .`):"
    )?;
    for (command, why) in steps {
        writeln!(out, "  {command:<width$}  # {why}")?;
    }
    Ok(())
}

/// A folder as the output names it: with one trailing slash.
fn folder(path: &Path) -> String {
    let text = shell_word(path);
    if text.ends_with('/') {
        text
    } else {
        format!("{text}/")
    }
}

/// A path as a shell word: quoted when it holds more than safe characters.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=@:,".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
