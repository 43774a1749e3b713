//! `snapsync plan`: the dry run.

use std::io::{self, Write};

use anyhow::Context;

use crate::cli::{PlanArgs, PlanFormat};
use crate::exit::Exit;
use crate::output::Output;
use snapsync::plan::render;

/// Runs `snapsync plan`.
pub fn run(output: &Output, args: &PlanArgs) -> anyhow::Result<Exit> {
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let workspace = output.load(&args.paths, now)?;
    let plan = workspace.compile(&args.snapshots, None)?;
    // Once they were read: a plan that failed before names no store.
    output.announce_both(&workspace);
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
    let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    match args.format {
        PlanFormat::Json => render::json(&plan, &mut stdout)?,
        PlanFormat::Markdown => render::markdown(&plan, &mut stdout)?,
        PlanFormat::Text => {
            let options = render::TextOptions {
                color: output.stdout_style().color,
                show_unchanged: args.show_unchanged,
            };
            render::text(&plan, &mut stdout, options)?;
            if let Some(path) = &args.out {
                if plan.has_errors() && !plan.has_operations() {
                    // An apply refuses a plan of errors alone: do not suggest one.
                    writeln!(
                        stdout,
                        "Saved the plan to {}, but it has errors (listed above) and cannot be \
                         applied; fix them and plan again.",
                        path.display()
                    )?;
                } else if plan.has_errors() {
                    writeln!(
                        stdout,
                        "Saved the plan to {}, but it has errors (listed above): `snapsync apply \
                         --plan {}` applies only the parts without errors; fix them and plan \
                         again to apply it all.",
                        path.display(),
                        path.display()
                    )?;
                } else {
                    writeln!(
                        stdout,
                        "Saved the plan to {}; apply it with `snapsync apply --plan {}`.",
                        path.display(),
                        path.display()
                    )?;
                }
            }
        }
    }
    stdout.flush()?;
    Ok(if plan.has_errors() {
        Exit::Failure
    } else if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
