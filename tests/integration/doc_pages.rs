//! The Markdown documentation: the README is one page that starts with the
//! two commands, its spec example validates, every relative link in the
//! documents leads to a file and a heading that exist, and `docs/commands.md`
//! names every flag and environment variable of the man page.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The README's budget: a page a newcomer reads in five minutes.
const README_MAX_LINES: usize = 200;

/// The Markdown files whose links are checked, relative to the crate.
fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "bench/README.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs folder")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| {
            path.strip_prefix(root())
                .expect("under the crate")
                .to_owned()
        })
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines of `markdown` outside fenced code blocks, with inline code
/// spans removed (a link shown as code is not a link).
fn prose_lines(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        let prose: String = line
            .chars()
            .filter(|&c| {
                if c == '`' {
                    in_code = !in_code;
                    return false;
                }
                !in_code
            })
            .collect();
        lines.push(prose);
    }
    lines
}

/// The targets of the inline links `[text](target)` of `markdown`.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(markdown) {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            targets.push(target.to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// The anchors GitHub gives the headings of `markdown`: lower case, spaces
/// to `-`, punctuation other than `-` and `_` dropped, and `-1`, `-2`…
/// after a repeated one.
fn anchors(markdown: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .flat_map(char::to_lowercase)
            .collect();
        let mut anchor = slug.clone();
        let mut n = 0;
        while found.contains(&anchor) {
            n += 1;
            anchor = format!("{slug}-{n}");
        }
        found.insert(anchor);
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file_and_heading() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = read(&document.to_string_lossy());
        let folder = document.parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                document.clone()
            } else {
                folder.join(path)
            };
            if !root().join(&file).exists() {
                broken.push(format!(
                    "{}: {target} (no file {})",
                    document.display(),
                    file.display()
                ));
                continue;
            }
            if !anchor.is_empty() {
                let headings = anchors(&read(&file.to_string_lossy()));
                if !headings.contains(anchor) {
                    broken.push(format!(
                        "{}: {target} (no such heading)",
                        document.display()
                    ));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_github() {
    let found = anchors("# `snapsync plan`: the dry run\n## CalDAV/CardDAV targets\n## A\n## A\n");
    for anchor in [
        "snapsync-plan-the-dry-run",
        "caldavcarddav-targets",
        "a",
        "a-1",
    ] {
        assert!(found.contains(anchor), "{anchor} not in {found:?}");
    }
    let links = link_targets("[`a`](x.md#b) and [c](<d>) `[e](f)`\n```\n[g](h)\n```\n");
    assert_eq!(links, ["x.md#b", "<d>"]);
}

/// The text of the first fenced block of `markdown` whose info string is
/// `info` (`sh`, `yaml`).
fn first_block<'a>(markdown: &'a str, info: &str) -> &'a str {
    let opening = format!("```{info}\n");
    let start = markdown
        .find(&opening)
        .unwrap_or_else(|| panic!("no ```{info} block"))
        + opening.len();
    let length = markdown[start..].find("```").unwrap_or_default();
    &markdown[start..start + length]
}

#[test]
fn the_readme_starts_with_the_two_commands() {
    let readme = read("README.md");
    let first = readme.find("```").expect("a code block in the README");
    assert_eq!(
        readme.find("```sh\n"),
        Some(first),
        "the first code block holds the two commands"
    );
    assert!(
        !readme[..first].contains("\n## "),
        "the two commands come before the first section"
    );
    let commands: Vec<&str> = first_block(&readme, "sh")
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .collect();
    assert_eq!(commands, ["cargo run --release -- demo", "bash .ci/run"]);
}

#[test]
fn the_readme_is_one_page() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, over its budget of {README_MAX_LINES}: move the detail to docs/"
    );
}

/// The README's spec example, saved where its paths lead, is valid and
/// draws no warning.
#[test]
fn the_readme_spec_example_validates() {
    let readme = read("README.md");
    let example = first_block(&readme, "yaml");
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(dir.path().join("snapshots.d")).expect("a specs folder");
    std::fs::create_dir_all(dir.path().join("vdir/office")).expect("the vdir folder");
    std::fs::write(dir.path().join("snapshots.d/example.yaml"), example).expect("write the spec");
    let out = Command::new(env!("CARGO_BIN_EXE_snapsync"))
        .current_dir(dir.path())
        .args(["validate", "--format", "json"])
        .output()
        .expect("snapsync runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("\"warnings\": 0"), "{report}");
    assert!(report.contains("\"resources\": 2"), "{report}");
}

/// Every long flag and environment variable the man page (generated from
/// the command line) names is documented in `docs/commands.md`.
#[test]
fn the_command_reference_names_every_flag_of_the_man_page() {
    let page = read("docs/snapsync.1").replace("\\-", "-");
    let reference = read("docs/commands.md");
    let mut named = Vec::new();
    for piece in page.split("\\fB--").skip(1) {
        let flag: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        named.push(format!("--{flag}"));
    }
    for piece in page.split("\\fB").skip(1) {
        let word = piece.split("\\fR").next().unwrap_or_default();
        if word.starts_with("SNAPSYNC_") {
            named.push(word.to_owned());
        }
    }
    named.sort();
    named.dedup();
    assert!(
        named.len() > 20,
        "only {} flags found: {named:?}",
        named.len()
    );
    let missing: Vec<&String> = named
        .iter()
        .filter(|flag| !reference.contains(flag.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/commands.md does not name {missing:?}"
    );
}

/// The `area::kebab-case` codes a Markdown text names in code spans.
fn codes_named(markdown: &str) -> HashSet<String> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.split_once("::").is_some_and(|(area, name)| {
                ["file", "yaml", "schema", "spec"].contains(&area)
                    && !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_spec_reference_lists_every_diagnostic_code_and_no_other() {
    use snapsync::spec::codes::DiagnosticCode;
    let specs = read("docs/specs.md");
    let table = &specs[specs
        .find("## Diagnostic codes")
        .expect("the codes section")..];
    let named = codes_named(table);
    let known: HashSet<String> = DiagnosticCode::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect();
    let mut missing: Vec<_> = known.difference(&named).collect();
    missing.sort();
    let mut unknown: Vec<_> = named.difference(&known).collect();
    unknown.sort();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/specs.md#diagnostic-codes and DiagnosticCode disagree: \
         missing from the docs {missing:?}, not a code {unknown:?}"
    );
}

#[test]
fn the_command_reference_lists_every_json_output_and_its_schema() {
    use snapsync::outputs::JsonOutput;
    let commands = read("docs/commands.md");
    let section = &commands[commands
        .find("## Machine-readable output")
        .expect("the outputs section")..];
    for output in JsonOutput::ALL {
        assert!(
            section.contains(&format!("`{}`", output.name())),
            "docs/commands.md#machine-readable-output does not name the output `{}`",
            output.name()
        );
        assert!(
            section.contains(&format!("`schemas/{}`", output.schema_file())),
            "docs/commands.md#machine-readable-output does not name {}",
            output.schema_file()
        );
    }
}
