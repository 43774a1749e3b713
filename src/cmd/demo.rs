//! `snapsync demo`: build the demo world, then validate, plan, apply and
//! plan again, printed for a person, with the command each step stands for.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::DemoArgs;
use crate::exit::Exit;
use crate::output::Output;
use crate::output::report::{applied_line, execute, write_unapplied};
use snapsync::apply::ApplyOptions;
use snapsync::demo::{self, MAIN_SNAPSHOT, World, WorldOptions};
use snapsync::plan::render;
use snapsync::plural;
use snapsync::state::actor_from_env;
use snapsync::workspace::{GivenStores, Workspace};

/// Runs `snapsync demo`.
#[allow(
    clippy::too_many_lines,
    reason = "the demo is one script read top to bottom: validate, plan, apply, plan again"
)]
pub fn run(output: &Output, args: &DemoArgs) -> anyhow::Result<Exit> {
    let now = chrono::Utc::now();
    let color = output.stdout_style().color;
    let mut stdout = io::stdout().lock();
    let mut sink = io::sink();
    let mut out: &mut dyn Write = if output.quiet() {
        &mut sink
    } else {
        &mut stdout
    };
    if output.given().crm.is_some() || output.given().state.is_some() {
        writeln!(
            io::stderr(),
            "note: the demo uses its own stores in {}; --crm, --state, SNAPSYNC_CRM and \
             SNAPSYNC_STATE are ignored",
            args.dir.display()
        )?;
    }
    // For the seconds the world takes to build with many items (-v logs
    // the steps instead).
    let spinner = output.spinner();
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
        // Warnings, if any (`ready` shows them itself with -v).
        if !output.quiet() && !output.verbose() {
            validation.render_diagnostics(output.stderr_style(), &mut io::stderr().lock())?;
        }
        validation.render_summary(out)?;
    }
    // The demo's own stores, whatever --crm and --state say (noted above).
    let mut workspace = output.ready(Workspace::from_validation(
        validation,
        std::slice::from_ref(&world.specs),
        GivenStores::default(),
        now,
    ))?;
    let names = [MAIN_SNAPSHOT.to_owned()];

    heading(
        out,
        color,
        "2/4 plan",
        &format!("snapsync plan {specs} -s {MAIN_SNAPSHOT}"),
    )?;
    let plan = workspace.compile(&names, None)?;
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
    let (report, seconds) = execute(output, &workspace, &plan, &apply_options, Vec::new())?;
    write_unapplied(&report)?;
    writeln!(out, "{}", applied_line(&report, seconds))?;
    if report.unapplied().next().is_some() {
        return Ok(Exit::Partial);
    }

    heading(
        out,
        color,
        "4/4 plan again",
        &format!("snapsync plan {specs} -s {MAIN_SNAPSHOT}"),
    )?;
    workspace.now = chrono::Utc::now();
    let again = workspace.compile(&names, None)?;
    if again.has_changes() || again.has_errors() {
        render::text(&again, &mut io::stderr().lock(), text)?;
        bail!("the plan after the apply still has changes (listed above)");
    }
    writeln!(out, "{}", render::summary_line(&again.totals()))?;

    next_steps(out, &specs, &folder(&world.dir))?;
    Ok(Exit::Success)
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
