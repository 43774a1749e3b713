//! Tables, and what their cells hold as people read them: local times and
//! paths.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

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

/// A path as the output shows it: lexically cleaned (no `.`, no `name/..`),
/// relative to the working folder `cwd` when it lies inside it, absolute
/// otherwise (`snapshots.d/../vdir` is `vdir`; `../vdir` is
/// `/home/me/vdir`). Symbolic links are not followed: this only names the
/// place more plainly, for people to read and paste.
pub fn shown_path(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let path = match cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_owned(),
    };
    let clean = lexically_clean(&path);
    let inside = cwd
        .map(lexically_clean)
        .and_then(|cwd| clean.strip_prefix(cwd).ok().map(Path::to_owned));
    match inside {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative,
        None => clean,
    }
}

/// `path` without `.` components, and with each `name/..` pair removed
/// (a `..` at the root stays at the root; leading `..` of a relative path
/// stay).
fn lexically_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match clean.components().next_back() {
                Some(Component::Normal(_)) => {
                    clean.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => clean.push(".."),
            },
            other => clean.push(other),
        }
    }
    if clean.as_os_str().is_empty() {
        clean.push(".");
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_cleaned_and_relative_inside_the_working_folder() {
        let cwd = Path::new("/home/me/ops");
        let shown = |p: &str| shown_path(Path::new(p), Some(cwd)).display().to_string();
        assert_eq!(shown("snapshots.d/../vdir"), "vdir");
        assert_eq!(shown("./snapshots.d/./../vdir/office/"), "vdir/office");
        assert_eq!(shown("snapshots.d/.."), ".");
        assert_eq!(shown("../vdir"), "/home/me/vdir");
        assert_eq!(shown("snapshots.d/../../../../../x"), "/x");
        assert_eq!(shown("/home/me/ops/specs/../vdir"), "vdir");
        assert_eq!(shown("/srv/sync/./a/../vdir"), "/srv/sync/vdir");
        assert_eq!(shown("/home/me/opsx/vdir"), "/home/me/opsx/vdir");
        // Without a working folder, the path is only cleaned.
        let alone = |p: &str| shown_path(Path::new(p), None).display().to_string();
        assert_eq!(alone("snapshots.d/../vdir"), "vdir");
        assert_eq!(alone("a/../../vdir"), "../vdir");
        assert_eq!(alone("/a/../vdir"), "/vdir");
    }

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
