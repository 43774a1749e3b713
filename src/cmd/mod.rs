//! The commands' glue: read options, call the library, render its results.
//! Only this layer and `main.rs` write to stdout and stderr.

pub mod apply;
pub mod crm;
pub mod demo;
pub mod discover;
pub mod generate;
pub mod links;
pub mod plan;
pub mod runs;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::cli::Cli;
use snapsync::spec::model::{Catalog, Stores};

/// One of the two embedded stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The CRM store (`--crm`).
    Crm,
    /// The state store (`--state`).
    State,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Crm => "CRM store",
            Store::State => "state store",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Store::Crm => "--crm",
            Store::State => "--state",
        }
    }

    fn given(self, cli: &Cli) -> Option<&PathBuf> {
        match self {
            Store::Crm => cli.crm.as_ref(),
            Store::State => cli.state.as_ref(),
        }
    }

    fn of(self, stores: &Stores) -> PathBuf {
        match self {
            Store::Crm => stores.crm.clone(),
            Store::State => stores.state.clone(),
        }
    }

    /// Where the store is for commands that work from specs already read:
    /// the flag (or its environment variable), else the specs' `Stores`.
    pub fn path_in(self, cli: &Cli, catalog: &Catalog) -> PathBuf {
        self.given(cli)
            .cloned()
            .unwrap_or_else(|| self.of(&catalog.stores))
    }

    /// Where the store is for commands that need no specs: the flag, else
    /// the `Stores` resource of the specs at `specs` when they exist, else
    /// the default. Invalid specs are an error, never a silent default.
    pub fn path(self, cli: &Cli, specs: &Path) -> anyhow::Result<PathBuf> {
        if let Some(path) = self.given(cli) {
            return Ok(path.clone());
        }
        if !specs.exists() {
            return Ok(self.of(&Stores::default()));
        }
        let validation = snapsync::spec::validate(&[specs.to_owned()], chrono::Utc::now())
            .context("cannot read the specs")?;
        let Some(catalog) = validation.catalog else {
            bail!(
                "the specs in {} are not valid, so the {} they name is unknown; \
                 run `snapsync validate {}`, or pass {} PATH",
                specs.display(),
                self.name(),
                specs.display(),
                self.flag()
            );
        };
        Ok(self.of(&catalog.stores))
    }
}

/// A progress bar on a terminal (none with -q or elsewhere, where log lines
/// tell the story).
pub fn progress_bar(cli: &Cli, len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    if cli.quiet > 0 || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}

/// How a table column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// Writes an aligned table: a header line, then a line per row, columns two
/// spaces apart, no trailing spaces. Widths count characters, which is
/// right for the names, paths and numbers these tables hold (wide
/// characters would still line up their own column, if not the next).
pub fn write_table(
    out: &mut impl Write,
    columns: &[(&str, Align)],
    rows: &[Vec<String>],
) -> io::Result<()> {
    // A line break or tab in a label would break the table's lines.
    let clean = |cell: &str| -> String {
        cell.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| clean(cell)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let headers: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::new();
        for (i, ((_, align), width)) in columns.iter().zip(&widths).enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            match align {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// An instant as people read it: local time, to the minute.
pub fn local_minute(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// An instant as people read it: local time, to the second.
pub fn local_second(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up_and_trim_their_lines() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &[
                ("NAME", Align::Left),
                ("N", Align::Right),
                ("NOTE", Align::Left),
            ],
            &[
                vec!["jdoe".into(), "5".into(), String::new()],
                vec!["a".into(), "1234".into(), "two\nlines".into()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME     N  NOTE\n\
             jdoe     5\n\
             a     1234  two lines\n"
        );
    }
}
