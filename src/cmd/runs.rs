//! `snapsync runs` and `snapsync runs show ID`: the history of applies, from
//! the state store's journal.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::TimeDelta;

use crate::cli::{OutputFormat, RunsArgs, RunsCommand, RunsShowArgs, StateSpecsArg};
use crate::exit::Exit;
use crate::output::Output;
use crate::output::table::{Align, local_second, write_table};
use snapsync::formats::runs::{RunJson, RunShowJson, RunsJson};
use snapsync::outputs::FormatVersion;
use snapsync::plural;
use snapsync::spec::types::Direction;
use snapsync::state::{
    Action, JournalEntry, Outcome, OutcomeCounts, RunId, RunStatus, RunSummary, StateStore,
};
use snapsync::workspace::{Store, stores};

/// Runs `snapsync runs` or `snapsync runs show`.
pub fn run(output: &Output, args: &RunsArgs) -> anyhow::Result<Exit> {
    match &args.command {
        Some(RunsCommand::Show(show)) => show_run(output, show),
        None => list(output, args),
    }
}

fn open(output: &Output, specs: &StateSpecsArg) -> anyhow::Result<(PathBuf, StateStore)> {
    let path = stores::path_without_catalog(Store::State, output.given(), &specs.specs)?;
    output.announce(Store::State, &path, std::slice::from_ref(&specs.specs));
    let state = StateStore::open_read_only(&path).context("cannot read the state store")?;
    Ok((path, state))
}

fn list(output: &Output, args: &RunsArgs) -> anyhow::Result<Exit> {
    let (path, state) = open(output, &args.specs)?;
    let limit = if args.limit == 0 {
        usize::MAX
    } else {
        args.limit
    };
    // One more than asked for tells whether there are more.
    let mut runs = state.runs(limit.saturating_add(1))?;
    let more = runs.len() > limit;
    runs.truncate(limit);
    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let value = RunsJson {
                format_version: FormatVersion,
                state_store: &path,
                runs: runs.iter().map(RunJson::new).collect(),
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            if runs.is_empty() {
                writeln!(out, "No runs recorded in {}.", path.display())?;
                return Ok(Exit::Success);
            }
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    let n = |action| applied(r, action).to_string();
                    vec![
                        r.id.to_string(),
                        local_second(r.started),
                        r.duration().map_or_else(|| "-".to_owned(), human_duration),
                        r.snapshot.clone(),
                        direction_word(r.direction).to_owned(),
                        r.target.clone(),
                        r.status.to_string(),
                        n(Action::Create),
                        n(Action::Restore),
                        n(Action::Update),
                        n(Action::Delete),
                        r.failures.to_string(),
                        r.actor.clone(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &[
                    ("RUN", Align::Right),
                    ("STARTED", Align::Left),
                    ("DURATION", Align::Right),
                    ("SNAPSHOT", Align::Left),
                    ("DIRECTION", Align::Left),
                    ("TARGET", Align::Left),
                    ("STATUS", Align::Left),
                    ("CREATED", Align::Right),
                    ("RESTORED", Align::Right),
                    ("UPDATED", Align::Right),
                    ("DELETED", Align::Right),
                    ("FAILURES", Align::Right),
                    ("ACTOR", Align::Left),
                ],
                &rows,
            )?;
            let unfinished: Vec<&RunSummary> = runs
                .iter()
                .filter(|r| r.status == RunStatus::Interrupted)
                .collect();
            if !unfinished.is_empty() {
                writeln!(out)?;
            }
            for r in unfinished {
                writeln!(out, "Run {} was interrupted: {}", r.id, interrupted_note(r))?;
            }
            if more {
                writeln!(
                    out,
                    "\nThe last {}; --limit N lists more (0 lists every run).",
                    plural::count(limit, "run", "runs")
                )?;
            }
        }
    }
    Ok(Exit::Success)
}

fn show_run(output: &Output, args: &RunsShowArgs) -> anyhow::Result<Exit> {
    let (path, state) = open(output, &args.specs)?;
    let Some((summary, entries)) = state.run(RunId(args.id))? else {
        bail!(
            "no run {} in {}; `snapsync runs` lists them",
            args.id,
            path.display()
        );
    };
    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let value = RunShowJson {
                format_version: FormatVersion,
                state_store: &path,
                run: RunJson::new(&summary),
                operations: &entries,
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_run(&mut out, &summary, &entries)?,
    }
    Ok(Exit::Success)
}

#[allow(
    clippy::too_many_lines,
    reason = "one run's page, section by section, in the order it is printed"
)]
fn write_run(out: &mut impl Write, run: &RunSummary, entries: &[JournalEntry]) -> io::Result<()> {
    let way = match run.direction {
        Direction::Send => format!("send CRM → {}", run.target),
        Direction::Get => format!("get {} → CRM", run.target),
    };
    writeln!(
        out,
        "Run {}: {} ({way}), {}",
        run.id, run.snapshot, run.status
    )?;
    let started = local_second(run.started);
    let timing = match (run.status, run.duration()) {
        (RunStatus::Running, _) => format!("{started}, still running"),
        (RunStatus::Interrupted, _) => format!(
            "{started}, interrupted before it finished: {}",
            interrupted_note(run)
        ),
        (_, Some(took)) => format!("{started}, took {}", human_duration(took)),
        (_, None) => started,
    };
    writeln!(out, "  started  {timing}")?;
    writeln!(out, "  by       {}", run.actor)?;
    match &run.plan_digest {
        Some(digest) => writeln!(out, "  plan     a saved plan, digest {digest}")?,
        None => writeln!(out, "  plan     made by the apply itself")?,
    }
    let total = |pick: fn(&OutcomeCounts) -> u64| run.counts.values().map(pick).sum::<u64>();
    let skipped = total(|c| c.skipped);
    writeln!(
        out,
        "  result   {} created, {} restored, {} updated, {} deleted; {} failed, {} stale{}",
        applied(run, Action::Create),
        applied(run, Action::Restore),
        applied(run, Action::Update),
        applied(run, Action::Delete),
        total(|c| c.failed),
        total(|c| c.stale),
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        },
    )?;
    if run.synced_without_journal > 0 {
        writeln!(
            out,
            "  records  {} more {} recorded as synced by this run than its journal lists \
             (written before it stopped, or found already in sync)",
            run.synced_without_journal,
            if run.synced_without_journal == 1 {
                "item"
            } else {
                "items"
            }
        )?;
    }
    writeln!(out)?;
    if entries.is_empty() {
        // Only a run that went through its plan says the plan had no writes.
        if run.status == RunStatus::Succeeded {
            writeln!(
                out,
                "It journaled no operation: there was nothing to write."
            )?;
        } else {
            writeln!(out, "It journaled no operation.")?;
        }
        return Ok(());
    }
    let unapplied = entries
        .iter()
        .filter(|e| e.outcome != Outcome::Applied)
        .count();
    if unapplied > 0 {
        writeln!(
            out,
            "{unapplied} of {} {} not applied; {} listed first.\n",
            plural::count(entries.len(), "operation", "operations"),
            plural::of(unapplied, "was", "were"),
            plural::of(unapplied, "it is", "they are"),
        )?;
    }
    // Failures first, each group in plan order.
    let mut ordered: Vec<&JournalEntry> = entries.iter().collect();
    ordered.sort_by_key(|e| (e.outcome == Outcome::Applied, e.seq));
    let rows: Vec<Vec<String>> = ordered
        .into_iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.action.to_string(),
                e.link.clone(),
                e.item_type.to_string(),
                e.uid.clone(),
                e.label.clone().unwrap_or_default(),
                e.outcome.to_string(),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            ("SEQ", Align::Right),
            ("ACTION", Align::Left),
            ("LINK", Align::Left),
            ("TYPE", Align::Left),
            ("UID", Align::Left),
            ("LABEL", Align::Left),
            ("OUTCOME", Align::Left),
            ("MESSAGE", Align::Left),
        ],
        &rows,
    )
}

/// What an interrupted run did beyond its journal, and what to do.
fn interrupted_note(run: &RunSummary) -> String {
    let recorded = match run.synced_without_journal {
        0 => String::new(),
        1 => "its state records show 1 more item synced by it than its journal lists; ".to_owned(),
        n => format!("its state records show {n} more items synced by it than its journal lists; "),
    };
    format!(
        "{recorded}operations in flight may have been carried out without being recorded; \
         applying the snapshot again converges"
    )
}

/// How many operations of `action` the run applied.
fn applied(run: &RunSummary, action: Action) -> u64 {
    run.counts.get(&action).map_or(0, |c| c.applied)
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Get => "get",
        Direction::Send => "send",
    }
}

/// A duration as people read it: `0.35 s`, `4 min 12 s`, `2 h 5 min`.
fn human_duration(took: TimeDelta) -> String {
    let ms = took.num_milliseconds().max(0);
    let seconds = ms / 1000;
    match seconds {
        0..60 => format!("{seconds}.{:02} s", (ms % 1000) / 10),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        let d = |ms| human_duration(TimeDelta::milliseconds(ms));
        assert_eq!(d(0), "0.00 s");
        assert_eq!(d(351), "0.35 s");
        assert_eq!(d(59_999), "59.99 s");
        assert_eq!(d(252_000), "4 min 12 s");
        assert_eq!(d(7_500_000), "2 h 5 min");
        assert_eq!(d(-5), "0.00 s");
    }
}
