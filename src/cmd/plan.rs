//! `snapsync plan`: the dry run.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{Cli, PlanArgs, PlanFormat};
use snapsync::endpoint::StoreEndpoints;
use snapsync::endpoint::crm::CrmStore;
use snapsync::plan::{self, Plan, SourceCache, render};
use snapsync::spec::Validation;
use snapsync::spec::model::{Catalog, Stores};
use snapsync::state::StateStore;

/// Exit code of `--detailed-exitcode` when the plan has changes.
const CHANGES: u8 = 2;

/// The validated specs, or the diagnostics and exit code 1.
pub fn load_catalog(
    cli: &Cli,
    paths: &[PathBuf],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Result<Catalog, ExitCode>> {
    let validation = snapsync::spec::validate(paths, now).context("cannot validate")?;
    into_catalog(cli, validation)
}

/// The catalog of a validation; or, when the specs have errors, every
/// diagnostic and the summary on stderr, and exit code 1. Warnings are
/// shown with -v only (the commands that plan have more to say).
pub fn into_catalog(
    cli: &Cli,
    validation: Validation,
) -> anyhow::Result<Result<Catalog, ExitCode>> {
    if validation.has_errors() {
        let style = crate::text_style(cli, &io::stderr());
        let mut err = io::stderr().lock();
        validation.render_diagnostics(style, &mut err)?;
        validation.render_summary(&mut err)?;
        return Ok(Err(ExitCode::from(1)));
    }
    if cli.verbose > 0 {
        let style = crate::text_style(cli, &io::stderr());
        validation.render_diagnostics(style, &mut io::stderr().lock())?;
    }
    let Some(catalog) = validation.catalog else {
        bail!("the specs are valid but hold no resources");
    };
    Ok(Ok(catalog))
}

/// Where the CRM store and the state store are for one run.
#[derive(Debug, Clone)]
pub struct StorePaths {
    /// The CRM store's SQLite file.
    pub crm: PathBuf,
    /// The state store's SQLite file.
    pub state: PathBuf,
}

impl StorePaths {
    /// `--crm` and `--state` (or their environment variables), else the
    /// specs' `Stores` resource.
    pub fn of(cli: &Cli, catalog: &Catalog) -> StorePaths {
        StorePaths {
            crm: super::Store::Crm.path_in(cli, catalog),
            state: super::Store::State.path_in(cli, catalog),
        }
    }

    /// The same paths, as the specs' model holds them.
    pub fn as_stores(&self) -> Stores {
        Stores {
            crm: self.crm.clone(),
            state: self.state.clone(),
        }
    }

    /// The specs' `Stores` resource, whatever the command line and the
    /// environment say.
    pub fn from_specs(catalog: &Catalog) -> StorePaths {
        StorePaths {
            crm: catalog.stores.crm.clone(),
            state: catalog.stores.state.clone(),
        }
    }
}

/// Compiles the plan of `names` (every snapshot when empty), reading the
/// stores without writing to them.
pub fn compile(
    cli: &Cli,
    catalog: &Catalog,
    names: &[String],
    now: chrono::DateTime<chrono::Utc>,
    cache: Option<&mut SourceCache>,
) -> anyhow::Result<Plan> {
    compile_into(&StorePaths::of(cli, catalog), catalog, names, now, cache)
}

/// [`compile`], with the stores at `stores`.
pub fn compile_at(
    stores: &StorePaths,
    catalog: &Catalog,
    names: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Plan> {
    compile_into(stores, catalog, names, now, None)
}

/// [`compile_at`], keeping the source items it reads in `cache` if given.
fn compile_into(
    stores: &StorePaths,
    catalog: &Catalog,
    names: &[String],
    now: chrono::DateTime<chrono::Utc>,
    cache: Option<&mut SourceCache>,
) -> anyhow::Result<Plan> {
    for name in names {
        if !catalog.snapshots.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = catalog.snapshots.iter().map(|s| s.name.as_str()).collect();
            let hint = snapsync::spec::schema::did_you_mean(name, known.iter().copied())
                .map(|near| format!("; did you mean `{near}`?"))
                .unwrap_or_default();
            bail!(
                "no snapshot named {name} in the specs{hint} (they define: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    let snapshots: Vec<_> = catalog
        .snapshots
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect();
    if snapshots.is_empty() {
        bail!("the specs define no snapshot to plan");
    }
    let crm = CrmStore::open_read_only(&stores.crm).context("cannot read the CRM store")?;
    let state = StateStore::open_read_only(&stores.state).context("cannot read the state store")?;
    let endpoints = StoreEndpoints::new(crm);
    let mut plan = match cache {
        Some(cache) => plan::compile_keeping(catalog, &snapshots, &endpoints, &state, now, cache)?,
        None => plan::compile(catalog, &snapshots, &endpoints, &state, now)?,
    };
    // What the plan was made against, and its checksum: a saved plan is
    // applied there, as it was saved, and needs no specs (DESIGN 2.5).
    plan.record(catalog, &stores.as_stores());
    Ok(plan)
}

/// Runs `snapsync plan`.
pub fn run(cli: &Cli, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let catalog = match load_catalog(cli, &args.paths, now)? {
        Ok(catalog) => catalog,
        Err(code) => return Ok(code),
    };
    let plan = compile(cli, &catalog, &args.snapshots, now, None)?;
    // Once they were read: a plan that failed before names no store.
    super::announce_both(cli, &StorePaths::of(cli, &catalog), &args.paths);
    if let Some(path) = &args.out {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write the plan to {}", path.display()))?,
        );
        render::json(&plan, &mut file)?;
        file.flush()
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    }
    // A plan of a million items is a million lines: written in blocks, not
    // a system call per line.
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    match args.format {
        PlanFormat::Json => render::json(&plan, &mut out)?,
        PlanFormat::Markdown => render::markdown(&plan, &mut out)?,
        PlanFormat::Text => {
            let options = render::TextOptions {
                color: crate::text_style(cli, &io::stdout()).color,
                show_unchanged: args.show_unchanged,
            };
            render::text(&plan, &mut out, options)?;
            if let Some(path) = &args.out {
                if plan.has_errors() && !plan.has_operations() {
                    // An apply refuses a plan of errors alone: do not suggest one.
                    writeln!(
                        out,
                        "Saved the plan to {}, but it has errors (listed above) and cannot be \
                         applied; fix them and plan again.",
                        path.display()
                    )?;
                } else if plan.has_errors() {
                    writeln!(
                        out,
                        "Saved the plan to {}, but it has errors (listed above): `snapsync apply \
                         --plan {}` applies only the parts without errors; fix them and plan \
                         again to apply it all.",
                        path.display(),
                        path.display()
                    )?;
                } else {
                    writeln!(
                        out,
                        "Saved the plan to {}; apply it with `snapsync apply --plan {}`.",
                        path.display(),
                        path.display()
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(if plan.has_errors() {
        ExitCode::from(1)
    } else if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
