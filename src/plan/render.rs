//! Showing a plan: text for people, JSON for pipelines (and for `apply
//! --plan`), Markdown for pull-request comments.

use std::borrow::Cow;
use std::io::{self, Write};

use crate::spec::types::OrphanPolicy;

use super::{Action, Level, Notice, Operation, Plan, Section, SnapshotPlan, Totals};
use crate::plural;
use crate::spec::types::Direction;

/// How the text form looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colours (on a terminal only).
    pub color: bool,
    /// List items kept as they are and items the filters do not match, not
    /// just count them.
    pub show_unchanged: bool,
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// The sign and colour of an action in the text form.
fn marker(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create | Action::Restore => ("+", "32"),
        Action::Update => ("~", "33"),
        Action::Delete | Action::OrphanDeleted => ("-", "31"),
        Action::OrphanKept => ("!", "36"),
        Action::Keep => ("=", "2"),
        Action::NotMatched => ("·", "2"),
    }
}

fn direction_words(snapshot: &SnapshotPlan) -> String {
    match snapshot.direction {
        Direction::Send => format!("send CRM → {}", snapshot.target),
        Direction::Get => format!("get {} → CRM", snapshot.target),
    }
}

fn notice_line(color: bool, notice: &Notice) -> String {
    match notice.level {
        Level::Notice => format!("{} {}", paint(color, "36", "note:"), notice.message),
        Level::Warning => format!("{} {}", paint(color, "33", "warning:"), notice.message),
        Level::Error => format!("{} {}", paint(color, "31", "error:"), notice.message),
    }
}

/// Writes the plan for people: snapshot, link and item type, a line per item
/// that would change, counts for the rest, totals at the end.
///
/// # Errors
/// Writing fails.
pub fn text(plan: &Plan, out: &mut impl Write, options: TextOptions) -> io::Result<()> {
    let color = options.color;
    for snapshot in &plan.snapshots {
        let scope = if snapshot.filtered {
            format!("filtered ({})", snapshot.timezone)
        } else {
            "full".to_owned()
        };
        writeln!(
            out,
            "{} {}: {}, {scope}  [{}]",
            paint(color, "1", "Snapshot"),
            paint(color, "1", &snapshot.snapshot),
            direction_words(snapshot),
            snapshot.origin
        )?;
        for filter in &snapshot.filters {
            writeln!(out, "  filter {}: {}", filter.item_type, filter.description)?;
        }
        for notice in &snapshot.notices {
            writeln!(out, "  {}", notice_line(color, notice))?;
        }
        for link in &snapshot.links {
            writeln!(out)?;
            writeln!(out, "  link {} (CRM user {})", link.link, link.user)?;
            for notice in &link.notices {
                writeln!(out, "    {}", notice_line(color, notice))?;
            }
            for section in &link.sections {
                section_text(section, snapshot.orphans, out, options)?;
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", summary_line(&plan.totals()))?;
    Ok(())
}

/// The widest an item's summary is shown in the text form, in characters.
const SUMMARY_WIDTH: usize = 40;

/// `text` cut to at most `max` characters: a longer text keeps its first
/// `max - 1` characters and ends with `…`, so a reader sees it was cut.
/// Cuts fall between characters, never inside one.
fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.char_indices().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let keep = max.saturating_sub(1);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    Cow::Owned(format!("{}…", &text[..end]))
}

fn section_text(
    section: &Section,
    orphans_policy: OrphanPolicy,
    out: &mut impl Write,
    options: TextOptions,
) -> io::Result<()> {
    let color = options.color;
    writeln!(
        out,
        "    {}: {} → {}",
        section.item_type, section.source, section.destination
    )?;
    for notice in &section.notices {
        writeln!(out, "      {}", notice_line(color, notice))?;
    }
    let shown: Vec<&Operation> = section
        .operations
        .iter()
        .filter(|op| options.show_unchanged || op.action.writes())
        .collect();
    let width = shown
        .iter()
        .map(|op| op.summary.as_deref().unwrap_or("").chars().count())
        .max()
        .unwrap_or(0)
        .min(SUMMARY_WIDTH);
    let uid_width = shown
        .iter()
        .map(|op| op.uid.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    for op in shown {
        let (sign, code) = marker(op.action);
        let summary = shorten(op.summary.as_deref().unwrap_or(""), SUMMARY_WIDTH);
        // Padding goes outside the colour codes, so columns line up either way.
        let pad = uid_width.saturating_sub(op.uid.chars().count());
        writeln!(
            out,
            "      {} {:<14} {summary:<width$}  {}{:pad$}  {}",
            paint(color, code, sign),
            paint(color, code, op.action.as_str()),
            paint(color, "2", &op.uid),
            "",
            op.reason
        )?;
    }
    let kept = section.totals.get(Action::Keep);
    let not_matched = section.totals.get(Action::NotMatched);
    let orphans = section.totals.get(Action::OrphanKept);
    if !options.show_unchanged && kept + not_matched + orphans > 0 {
        let mut parts = Vec::new();
        if kept > 0 {
            parts.push(format!("{kept} unchanged"));
        }
        if not_matched > 0 {
            parts.push(format!("{not_matched} not matched by the filter"));
        }
        if orphans > 0 {
            // With `orphans: delete`, orphans are kept only while deletion
            // is suspended (an unreadable source item; a notice says so).
            let why = match orphans_policy {
                OrphanPolicy::Keep => "orphans: keep",
                OrphanPolicy::Delete => "orphan deletion suspended, see above",
            };
            parts.push(format!(
                "{orphans} only at the destination and never synced, kept ({why})"
            ));
        }
        writeln!(
            out,
            "      {} (--show-unchanged lists them)",
            parts.join(", ")
        )?;
    } else if section.operations.is_empty() && section.notices.is_empty() {
        writeln!(out, "      nothing here")?;
    }
    Ok(())
}

/// `Plan: 3 to create, 1 to update, 1 to delete; 2 orphans kept; 12 unchanged; 40 not matched.`
#[must_use]
pub fn summary_line(totals: &Totals) -> String {
    let n = |a| totals.get(a);
    let mut changes = vec![format!("{} to create", n(Action::Create))];
    if n(Action::Restore) > 0 {
        changes.push(format!("{} to restore", n(Action::Restore)));
    }
    changes.push(format!("{} to update", n(Action::Update)));
    changes.push(format!(
        "{} to delete",
        n(Action::Delete) + n(Action::OrphanDeleted)
    ));
    let mut parts = vec![changes.join(", ")];
    if n(Action::OrphanKept) > 0 {
        parts.push(format!(
            "{} kept",
            plural::count(n(Action::OrphanKept), "orphan", "orphans")
        ));
    }
    parts.push(format!("{} unchanged", n(Action::Keep)));
    if n(Action::NotMatched) > 0 {
        parts.push(format!("{} not matched", n(Action::NotMatched)));
    }
    format!("Plan: {}.", parts.join("; "))
}

/// Writes the plan as JSON (the format `apply --plan` reads; see
/// [`crate::outputs::JsonOutput::Plan`]).
///
/// # Errors
/// Writing fails.
pub fn json(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

fn cell(text: &str) -> String {
    // Item text comes from calendars anyone can write to: no HTML of theirs
    // reaches a pull-request comment, and no `|` breaks the table.
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text as a code span in a table cell, shown as it is: fenced by one more
/// backtick than its longest run of them, with `|` escaped (a table needs
/// that even inside a code span).
fn code_cell(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Writes the plan as a pull-request comment: a summary table, then the
/// changes of each snapshot folded in `<details>` (a snapshot with no
/// change and no notice gets a plain `NAME: no changes.` line instead).
///
/// # Errors
/// Writing fails.
pub fn markdown(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "### snapsync plan\n")?;
    writeln!(
        out,
        "| snapshot | direction | target | create | restore | update | delete | orphans kept | unchanged | not matched |"
    )?;
    writeln!(
        out,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for snapshot in &plan.snapshots {
        let t = snapshot.totals();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&snapshot.snapshot),
            match snapshot.direction {
                Direction::Send => "send",
                Direction::Get => "get",
            },
            cell(&snapshot.target),
            t.get(Action::Create),
            t.get(Action::Restore),
            t.get(Action::Update),
            t.get(Action::Delete) + t.get(Action::OrphanDeleted),
            t.get(Action::OrphanKept),
            t.get(Action::Keep),
            t.get(Action::NotMatched),
        )?;
    }
    writeln!(out, "\n{}", summary_line(&plan.totals()))?;
    for snapshot in &plan.snapshots {
        let notices: Vec<&Notice> = snapshot
            .notices
            .iter()
            .chain(snapshot.links.iter().flat_map(|l| &l.notices))
            .chain(snapshot.sections().flat_map(|(_, s)| &s.notices))
            .collect();
        let tables: Vec<(&str, &Section, Vec<&Operation>)> = snapshot
            .sections()
            .map(|(link, section)| {
                let ops: Vec<&Operation> = section
                    .operations
                    .iter()
                    .filter(|op| op.action.writes() || op.action == Action::OrphanKept)
                    .collect();
                (link.link.as_str(), section, ops)
            })
            .filter(|(_, _, ops)| !ops.is_empty())
            .collect();
        // Nothing to fold away: an empty `<details>` only makes a reviewer
        // click to find nothing.
        if notices.is_empty() && tables.is_empty() {
            writeln!(out, "\n{}: no changes.", cell(&snapshot.snapshot))?;
            continue;
        }
        let changes = snapshot.totals().writes();
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>{}: {}</summary>\n",
            cell(&snapshot.snapshot),
            plural::count(changes, "change", "changes")
        )?;
        for filter in &snapshot.filters {
            writeln!(
                out,
                "- filter {}: {}",
                filter.item_type,
                cell(&filter.description)
            )?;
        }
        for notice in notices {
            let word = match notice.level {
                Level::Notice => "note",
                Level::Warning => "**warning**",
                Level::Error => "**error**",
            };
            writeln!(out, "- {word}: {}", cell(&notice.message))?;
        }
        for (link, section, ops) in tables {
            writeln!(out, "\n#### link {} · {}\n", cell(link), section.item_type)?;
            writeln!(out, "| action | item | UID | why |")?;
            writeln!(out, "| --- | --- | --- | --- |")?;
            for op in ops {
                writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    op.action,
                    cell(op.summary.as_deref().unwrap_or("")),
                    code_cell(&op.uid),
                    cell(&op.reason)
                )?;
            }
        }
        writeln!(out, "\n</details>")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_escape_html_and_pipes_and_code_spans_keep_backticks() {
        assert_eq!(
            cell("Pipe | in title <img src=x onerror=alert(1)> & more\nline"),
            "Pipe \\| in title &lt;img src=x onerror=alert(1)&gt; &amp; more line"
        );
        assert_eq!(code_cell("ev-1"), "`ev-1`");
        assert_eq!(code_cell("ev-4|x`y"), "``ev-4\\|x`y``");
        assert_eq!(code_cell("`a``"), "``` `a`` ```");
    }

    #[test]
    fn a_long_summary_is_cut_between_characters_and_ends_with_an_ellipsis() {
        assert_eq!(shorten("Kickoff", 40), "Kickoff");
        let forty = "a".repeat(40);
        assert_eq!(shorten(&forty, 40), forty);
        let long = "a".repeat(41);
        let cut = shorten(&long, 40);
        assert_eq!(cut, format!("{}…", "a".repeat(39)));
        assert_eq!(cut.chars().count(), 40);
        // Multi-byte characters are never split.
        let accents = "é".repeat(50);
        assert_eq!(shorten(&accents, 40), format!("{}…", "é".repeat(39)));
        assert_eq!(shorten("Réunion d'équipe", 8), "Réunion…");
        assert_eq!(shorten("", 40), "");
    }

    #[test]
    fn the_summary_line_counts_orphans_in_the_right_number() {
        let totals = |orphans: u64| {
            let mut totals = Totals::default();
            totals.add(Action::OrphanKept, orphans);
            totals.add(Action::Keep, 2);
            summary_line(&totals)
        };
        assert_eq!(
            totals(0),
            "Plan: 0 to create, 0 to update, 0 to delete; 2 unchanged."
        );
        assert_eq!(
            totals(1),
            "Plan: 0 to create, 0 to update, 0 to delete; 1 orphan kept; 2 unchanged."
        );
        assert_eq!(
            totals(2),
            "Plan: 0 to create, 0 to update, 0 to delete; 2 orphans kept; 2 unchanged."
        );
    }
}
