//! The binary's front door through the real binary: which store a command
//! opened and why (the flag or its environment variable), one exit code
//! per meaning, and saved plans refused before any write.

use std::path::Path;

use crate::support::{Snapsync, project};

/// Runs snapsync and returns its exit code, stdout and stderr.
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Snapsync::new(dir).args(args).run();
    (out.status.code(), out.stdout(), out.stderr())
}

#[test]
fn the_store_a_command_opens_is_said_with_the_flag_or_variable_that_named_it() {
    let dir = project(0);
    let state = dir.path().join("elsewhere.sqlite");
    let by_env = Snapsync::new(dir.path())
        .arg("links")
        .env("SNAPSYNC_STATE", &state)
        .run()
        .success();
    let absolute = std::path::absolute(&state).unwrap();
    let said = |from: &str| {
        format!(
            "Using the state store {} (from {from})\n",
            absolute.display()
        )
    };
    assert!(
        by_env.stderr().starts_with(&said("SNAPSYNC_STATE")),
        "{}",
        by_env.stderr()
    );
    let (code, _, stderr) = run(dir.path(), &["links", "--state", state.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.starts_with(&said("--state")), "{stderr}");
}

#[test]
fn each_outcome_has_its_exit_code() {
    let dir = project(3);
    // 2: the plan has changes, with --detailed-exitcode only.
    let (code, _, stderr) = run(dir.path(), &["plan", "-q", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["plan", "-q"]);
    assert_eq!(code, Some(0), "{stderr}");
    // 1: invalid specs, shown once as diagnostics and a summary, with no
    // `error:` line after them.
    std::fs::write(
        dir.path().join("snapshots.d/broken.yaml"),
        "kind: Nonsense\n",
    )
    .unwrap();
    for command in ["plan", "apply", "links", "targets"] {
        let (code, stdout, stderr) = run(dir.path(), &[command]);
        assert_eq!(code, Some(1), "{command}: {stderr}");
        assert_eq!(stdout, "", "{command}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("invalid: 2 errors") && !stderr.contains("error: "),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn a_saved_plan_that_is_not_one_of_this_version_is_refused() {
    let dir = project(0);
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, "{\"formatVersion\": 99}").unwrap();
    let (code, _, stderr) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        format!(
            "error: plan.json is a plan of format version 99, but this snapsync reads version \
             {}; plan again\n",
            snapsync::plan::PlanFormatVersion::VALUE
        )
    );
    std::fs::write(&plan, "not JSON").unwrap();
    let (code, _, stderr) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "error: plan.json is not a plan (not JSON): expected ident at line 1 column 2\n"
    );
}

#[test]
fn a_saved_plan_is_not_compared_with_named_specs_that_are_invalid() {
    let dir = project(2);
    let (code, _, stderr) = run(dir.path(), &["plan", "-q", "--out", "plan.json"]);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/x.yaml"), "kind: Nonsense\n").unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["apply", "-q", "--plan", "plan.json", "broken"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "error: the specs at broken are not valid, so the plan cannot be compared with them; \
         run `snapsync validate`, or apply the plan without naming specs\n"
    );
}
