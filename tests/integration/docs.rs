//! What documents the tool and is generated or checked against the code:
//! the shell completions, the man page (`docs/snapsync.1`) and the module
//! map (`ARCHITECTURE.md`).

use std::path::Path;
use std::process::Command;

use crate::support::{Snapsync, crate_root as root, text};

/// The commands every completion script and the man page must know.
const COMMANDS: [&str; 11] = [
    "validate",
    "schema",
    "plan",
    "apply",
    "demo",
    "crm",
    "links",
    "targets",
    "discover",
    "runs",
    "completions",
];

#[test]
fn each_shell_gets_a_completion_script_naming_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Snapsync::new(root())
            .args(["completions", shell])
            .run()
            .success();
        let script = out.stdout();
        assert!(!script.trim().is_empty(), "{shell}: an empty script");
        for command in COMMANDS
            .iter()
            .chain(&["import", "export", "users", "show"])
        {
            assert!(script.contains(command), "{shell}: `{command}` is missing");
        }
        // Long flags, without their dashes (fish writes `-l detailed-exitcode`).
        for flag in ["detailed-exitcode", "allow-empty-source", "lock-timeout"] {
            assert!(script.contains(flag), "{shell}: `{flag}` is missing");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_known_ones() {
    let out = Snapsync::new(root())
        .args(["completions", "tcsh"])
        .run()
        .code(2);
    let stderr = out.stderr();
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
    assert!(
        stderr.contains("bash") && stderr.contains("powershell"),
        "{stderr}"
    );
}

/// The bash script, sourced by bash, registers `_snapsync` for `snapsync`
/// and completes a command name and a `crm` command.
#[test]
fn the_bash_script_completes_commands_in_bash() {
    if Command::new("bash").arg("-c").arg("true").status().is_err() {
        // No bash on this machine: the generic test above still ran.
        return;
    }
    let out = Snapsync::new(root()).args(["completions", "bash"]).run();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let script = dir.path().join("snapsync.bash");
    std::fs::write(&script, &out.stdout).expect("write the script");
    let check = r#"
        source "$1" || exit 10
        complete -p snapsync | grep -q -- '-F _snapsync' || exit 11
        declare -F _snapsync >/dev/null || exit 12
        COMP_WORDS=(snapsync va); COMP_CWORD=1; COMP_LINE="snapsync va"; COMP_POINT=11
        _snapsync snapsync va snapsync
        echo "first: ${COMPREPLY[*]}"
        COMP_WORDS=(snapsync crm ""); COMP_CWORD=2; COMP_LINE="snapsync crm "; COMP_POINT=13
        _snapsync snapsync "" crm
        echo "crm: ${COMPREPLY[*]}"
    "#;
    let run = Command::new("bash")
        .arg("-c")
        .arg(check)
        .arg("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let said = text(&run.stdout);
    assert!(said.contains("first: validate\n"), "{said}");
    let crm = said
        .lines()
        .find_map(|l| l.strip_prefix("crm: "))
        .unwrap_or_default();
    for command in ["import", "export", "users"] {
        assert!(crm.split(' ').any(|w| w == command), "{said}");
    }
}

#[test]
fn the_checked_in_man_page_is_current() {
    let out = Snapsync::new(root()).args(["man"]).run().success();
    let checked_in = std::fs::read_to_string(root().join("docs/snapsync.1")).unwrap_or_default();
    assert!(
        out.stdout() == checked_in,
        "docs/snapsync.1 is stale: run `cargo run -- man > docs/snapsync.1`"
    );
}

#[test]
fn the_man_page_has_every_visible_command_and_no_hidden_one() {
    let page = text(&Snapsync::new(root()).args(["man"]).run().stdout);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
    assert!(page.contains("\n.TH snapsync 1 "), "{page}");
    let nested = ["crm import", "crm export", "crm users", "runs show"];
    for command in COMMANDS.iter().chain(&nested) {
        assert!(
            page.contains(&format!("\n.SS \"snapsync {command}\"\n")),
            "no section for `snapsync {command}`"
        );
    }
    for hidden in ["generate", "man", "help"] {
        assert!(
            !page.contains(&format!(".SS \"snapsync {hidden}\"")),
            "`snapsync {hidden}` is shown"
        );
    }
    // The string that spells an apostrophe is defined once, at the top.
    assert_eq!(page.matches(".ds Aq").count(), 2);
    // Environment variables are named, never their values.
    assert!(page.contains("\\fBSNAPSYNC_CRM\\fR environment variable"));
    Snapsync::new(root())
        .args(["man"])
        .env("SNAPSYNC_CRM", "/secret/crm.sqlite")
        .run()
        .stdout_is(page);
}

/// The folders whose paths ARCHITECTURE.md names.
const MAPPED: [&str; 5] = ["src/", "tests/", "docs/", "schemas/", "bench/"];

/// The paths under [`MAPPED`] folders that ARCHITECTURE.md names in code
/// spans (fenced blocks left out), without a trailing `/`.
fn paths_in_architecture() -> Vec<String> {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut prose = String::new();
    let mut fenced = false;
    for line in map.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            MAPPED.iter().any(|folder| span.starts_with(folder))
                && !span.contains(char::is_whitespace)
        })
        .map(|span| span.trim_end_matches('/').to_owned())
        .collect()
}

/// Every `.rs` file under `folder`, as a path relative to the crate.
fn rust_files(folder: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(folder).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root()).expect("under the crate");
            found.push(relative.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_path_the_architecture_names_exists() {
    let named = paths_in_architecture();
    assert!(named.len() > 50, "only {} paths found", named.len());
    let missing: Vec<&String> = named.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_architecture_names_every_source_file() {
    let named = paths_in_architecture();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let unnamed: Vec<&String> = files.iter().filter(|f| !named.contains(f)).collect();
    assert!(
        unnamed.is_empty(),
        "ARCHITECTURE.md does not name these files (add a line for each to its module map): {unnamed:?}"
    );
}
