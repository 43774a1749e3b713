//! `snapsync crm import | export | users`.

use std::io::{self, Write};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::{CrmCommand, CrmExportArgs, CrmImportArgs, CrmUsersArgs, OutputFormat, SpecsArg};
use crate::exit::Exit;
use crate::output::Output;
use snapsync::endpoint::crm::{self, CrmStore, ImportProblem, ImportReport};
use snapsync::formats::ByItemType;
use snapsync::formats::crm::{
    CrmExportJson, CrmImportJson, CrmUserJson, CrmUsersJson, ExportProblemJson, FileMessageJson,
    ImportCountsJson,
};
use snapsync::item::ItemType;
use snapsync::outputs::FormatVersion;
use snapsync::plural;
use snapsync::workspace::{Store, stores};

/// Runs a `crm` subcommand. Some items not imported or exported is
/// [`Exit::Partial`].
pub fn run(output: &Output, command: &CrmCommand) -> anyhow::Result<Exit> {
    match command {
        CrmCommand::Import(args) => import(output, args),
        CrmCommand::Export(args) => export(output, args),
        CrmCommand::Users(args) => users(output, args),
    }
}

fn open(output: &Output, specs: &SpecsArg) -> anyhow::Result<CrmStore> {
    let path = stores::path_without_catalog(Store::Crm, output.given(), &specs.specs)?;
    output.announce(Store::Crm, &path, std::slice::from_ref(&specs.specs));
    tracing::info!(store = %path.display(), "opening the CRM store");
    CrmStore::open(&path).context("cannot open the CRM store")
}

fn import(output: &Output, args: &CrmImportArgs) -> anyhow::Result<Exit> {
    let sources = crm::import_sources(&args.paths).map_err(|p| anyhow::anyhow!("{p}"))?;
    if sources.is_empty() {
        bail!(
            "no .ics or .vcf file found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Opened once the input is known to be there: a failing import leaves
    // no new store behind.
    let store = open(output, &args.specs)?;
    let started = Instant::now();
    let bar = output.progress_bar(sources.len() as u64, "files");
    let report = crm::import(&store, &args.user, &sources, |done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    })
    .context("the import stopped")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    match args.format {
        OutputFormat::Json => write_import_json(&store, &args.user, &report, seconds)?,
        OutputFormat::Text => write_import_text(output, &store, &args.user, &report, seconds)?,
    }
    Ok(Exit::partial_unless(report.problems.is_empty()))
}

fn export(output: &Output, args: &CrmExportArgs) -> anyhow::Result<Exit> {
    let store = open(output, &args.specs)?;
    if !store.users()?.iter().any(|u| u.name == args.user) {
        bail!(
            "{} has no user {}; `snapsync crm users` lists them",
            store.path().display(),
            args.user
        );
    }
    let started = Instant::now();
    let report = crm::export(&store, &args.user, &args.out).context("the export stopped")?;
    let seconds = started.elapsed().as_secs_f64();
    match args.format {
        OutputFormat::Json => {
            let value = CrmExportJson {
                format_version: FormatVersion,
                store: store.path(),
                user: &args.user,
                out: &args.out,
                files: ByItemType::from_fn(|t| report.written.get(&t).copied().unwrap_or(0)),
                replaced: report.replaced,
                problems: report
                    .problems
                    .iter()
                    .map(|p| ExportProblemJson {
                        item_type: p.item_type,
                        uid: p.uid.clone(),
                        message: p.message.clone(),
                    })
                    .collect(),
                seconds,
            };
            let mut out = io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            let mut err = io::stderr().lock();
            for problem in &report.problems {
                writeln!(err, "error: {problem}")?;
            }
            if !output.quiet() {
                let mut out = io::stdout().lock();
                writeln!(
                    out,
                    "Exported {} of CRM user {} to {} in {seconds:.2} s",
                    plural::count(report.files(), "item", "items"),
                    args.user,
                    args.out.display()
                )?;
                for t in ItemType::ALL {
                    let n = report.written.get(&t).copied().unwrap_or(0);
                    writeln!(
                        out,
                        "  {:<14} {n:>7} {:<5} in {}",
                        t.as_str(),
                        plural::of(n, "file", "files"),
                        crm::export_folder(&args.out, t).display()
                    )?;
                }
                if report.replaced > 0 {
                    writeln!(
                        out,
                        "{} replaced",
                        plural::count(report.replaced, "existing file was", "existing files were")
                    )?;
                }
            }
        }
    }
    Ok(Exit::partial_unless(report.problems.is_empty()))
}

fn write_import_text(
    output: &Output,
    store: &CrmStore,
    user: &str,
    report: &ImportReport,
    seconds: f64,
) -> io::Result<()> {
    let mut err = io::stderr().lock();
    for path in &report.latin1 {
        writeln!(
            err,
            "warning: {}: not UTF-8; read as Latin-1",
            path.display()
        )?;
    }
    for problem in &report.problems {
        writeln!(err, "error: {problem}")?;
    }
    for warning in &report.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    // Test calendars and merged exports repeat UIDs often; a few examples
    // say what happened, -v lists them all.
    let shown = if output.verbose() { usize::MAX } else { 5 };
    for duplicate in report.duplicates.iter().take(shown) {
        writeln!(err, "warning: {duplicate}")?;
    }
    if report.duplicates.len() > shown {
        writeln!(
            err,
            "warning: {} more UIDs were held by more than one file (-v lists them)",
            report.duplicates.len() - shown
        )?;
    }
    if output.verbose() {
        for (path, skipped) in &report.skipped {
            writeln!(err, "note: {}: {skipped}", path.display())?;
        }
    }
    if output.quiet() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "Imported {} from {} for CRM user {user} into {} in {seconds:.2} s",
        plural::count(report.items(), "item", "items"),
        plural::count(report.files, "file", "files"),
        store.path().display(),
    )?;
    for item_type in ItemType::ALL {
        let counts = report.counts.get(&item_type).copied().unwrap_or_default();
        writeln!(
            out,
            "  {:<14} {:>7} created  {:>7} updated  {:>7} unchanged",
            item_type.as_str(),
            counts.created,
            counts.updated,
            counts.unchanged
        )?;
    }
    if !report.skipped.is_empty() {
        writeln!(
            out,
            "{} skipped: not an event, task or contact (-v lists them)",
            plural::count(report.skipped.len(), "component", "components")
        )?;
    }
    if !report.problems.is_empty() {
        writeln!(
            out,
            "{} could not be imported (listed above)",
            plural::count(report.problems.len(), "item or file", "items or files")
        )?;
    }
    Ok(())
}

fn write_import_json(
    store: &CrmStore,
    user: &str,
    report: &ImportReport,
    seconds: f64,
) -> io::Result<()> {
    let file_messages = |problems: &[ImportProblem]| -> Vec<FileMessageJson> {
        problems
            .iter()
            .map(|p| FileMessageJson {
                file: p.file.clone(),
                message: p.message.clone(),
            })
            .collect()
    };
    let value = CrmImportJson {
        format_version: FormatVersion,
        store: store.path(),
        user,
        files: report.files,
        items: ByItemType::from_fn(|t| {
            let c = report.counts.get(&t).copied().unwrap_or_default();
            ImportCountsJson {
                created: c.created,
                updated: c.updated,
                unchanged: c.unchanged,
            }
        }),
        problems: file_messages(&report.problems),
        duplicates: file_messages(&report.duplicates),
        skipped: report
            .skipped
            .iter()
            .map(|(file, skipped)| FileMessageJson {
                file: file.clone(),
                message: skipped.to_string(),
            })
            .collect(),
        latin1: &report.latin1,
        warnings: file_messages(&report.warnings),
        seconds,
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)
}

fn users(output: &Output, args: &CrmUsersArgs) -> anyhow::Result<Exit> {
    let store = open(output, &args.specs)?;
    let users = store.users().context("cannot list the users")?;
    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let value = CrmUsersJson {
                format_version: FormatVersion,
                store: store.path(),
                users: users
                    .iter()
                    .map(|u| CrmUserJson {
                        name: u.name.clone(),
                        items: ByItemType::from_fn(|t| u.counts.get(&t).copied().unwrap_or(0)),
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            if users.is_empty() {
                writeln!(
                    out,
                    "{} holds no user yet; add items with `snapsync crm import --user NAME FILE…`",
                    store.path().display()
                )?;
                return Ok(Exit::Success);
            }
            let width = users.iter().map(|u| u.name.len()).max().unwrap_or(4).max(4);
            writeln!(
                out,
                "{:<width$}  {:>13}  {:>7}  {:>8}",
                "USER", "SCHEDULEITEMS", "TASKS", "CONTACTS"
            )?;
            for user in &users {
                let n = |t| user.counts.get(&t).copied().unwrap_or(0);
                writeln!(
                    out,
                    "{:<width$}  {:>13}  {:>7}  {:>8}",
                    user.name,
                    n(ItemType::ScheduleItems),
                    n(ItemType::Tasks),
                    n(ItemType::Contacts)
                )?;
            }
        }
    }
    Ok(Exit::Success)
}
