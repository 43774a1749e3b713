//! `snapsync validate` and `snapsync schema`, driven through the real binary.

use std::path::{Path, PathBuf};

use crate::support::{Run, Snapsync, World, crate_root as root};

const NOW: &str = "2026-11-25T12:00:00Z";

/// snapsync run in the crate's folder.
fn snapsync(args: &[&str]) -> Run {
    Snapsync::new(root()).args(args).run()
}

/// The path of a fixture as the tests name it (relative to the crate root).
fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("fixture under the crate")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_invalid_fixture_fails_with_its_pinned_diagnostic() {
    insta::glob!("../fixtures/invalid", "*.yaml", |path| {
        let fixture = relative(path);
        let out = snapsync(&["validate", "--now", NOW, &fixture]);
        assert_eq!(out.status.code(), Some(1), "{fixture} must be invalid");
        assert_eq!(out.stdout(), "", "{fixture}: nothing on stdout");
        insta::assert_snapshot!(out.stderr());
    });
}

/// The specs of the fixture worlds the other tests copy are valid as they
/// stand.
#[test]
fn every_fixture_world_is_valid() {
    let worlds = std::fs::read_dir(root().join("tests/fixtures/worlds")).expect("the worlds");
    for entry in worlds {
        let name = entry.expect("a world").file_name();
        let name = name.to_str().expect("a UTF-8 name");
        let world = World::copy(name);
        if !world.path().join("snapshots.d").is_dir() {
            continue;
        }
        let out = world.snapsync().args(["validate", "--now", NOW]).run();
        assert_eq!(out.status.code(), Some(0), "world {name}: {}", out.stderr());
    }
}

#[test]
fn there_are_at_least_thirty_invalid_fixtures() {
    let count = std::fs::read_dir(root().join("tests/fixtures/invalid"))
        .expect("fixtures")
        .count();
    assert!(count >= 30, "only {count} invalid fixtures");
}

#[test]
fn warnings_do_not_fail_validation() {
    insta::glob!("../fixtures/warnings", "*.yaml", |path| {
        let fixture = relative(path);
        let out = snapsync(&["validate", "--now", NOW, &fixture]);
        assert_eq!(out.status.code(), Some(0), "{fixture} must be valid");
        insta::assert_snapshot!(format!(
            "stdout:\n{}\nstderr:\n{}",
            out.stdout(),
            out.stderr()
        ));
    });
}

#[test]
fn the_examples_are_valid_without_warnings() {
    let out = snapsync(&["validate", "snapshots.d"]);
    assert_eq!(out.stderr(), "");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout().starts_with("valid: "), "{}", out.stdout());
}

#[test]
fn validate_reads_snapshots_d_by_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    // With the target's vdir folder: a missing one is a warning.
    std::fs::create_dir_all(dir.path().join("snapshots.d/vdir")).expect("mkdir");
    std::fs::copy(
        root().join("tests/fixtures/cross-file/10-target.yaml"),
        dir.path().join("snapshots.d/target.yaml"),
    )
    .expect("copy");
    Snapsync::new(dir.path())
        .args(["validate"])
        .run()
        .success()
        .stdout_is("valid: 1 file, 1 resource (1 target, 0 snapshots)\n");
}

#[test]
fn every_example_starts_with_the_schema_line() {
    let mut files = Vec::new();
    collect_yaml(&root().join("snapshots.d"), &mut files);
    assert!(files.len() >= 5, "expected several examples");
    for file in files {
        let content = std::fs::read_to_string(&file).expect("example");
        let depth = file
            .strip_prefix(root())
            .expect("under root")
            .components()
            .count()
            - 1;
        let expected = format!(
            "# yaml-language-server: $schema={}schemas/snapsync.schema.json",
            "../".repeat(depth)
        );
        assert!(
            content.starts_with(&expected),
            "{} must start with `{expected}`",
            file.display()
        );
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn the_checked_in_schema_is_current() {
    let generated = serde_json::to_string_pretty(&snapsync::spec::schema::json_schema())
        .expect("schema serializes")
        + "\n";
    let checked_in =
        std::fs::read_to_string(root().join("schemas/snapsync.schema.json")).unwrap_or_default();
    assert!(
        generated == checked_in,
        "schemas/snapsync.schema.json is stale: run `cargo run -- schema > schemas/snapsync.schema.json`"
    );
    let out = snapsync(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout(), checked_in);
}

#[test]
fn the_schema_accepts_every_example_document() {
    let schema = snapsync::spec::schema::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut files = Vec::new();
    collect_yaml(&root().join("snapshots.d"), &mut files);
    for file in files {
        let content = std::fs::read_to_string(&file).expect("example");
        for document in snapsync::spec::yaml::parse_documents(&content).expect("YAML") {
            let value = document.root.to_json();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        }
    }
}

#[test]
fn a_folder_is_read_recursively_and_references_cross_files() {
    let out = snapsync(&["validate", "--now", NOW, "tests/fixtures/cross-file"]);
    assert_eq!(out.status.code(), Some(1));
    // Only the duplicate target fails: the snapshot found its target in
    // another file, and the README.txt was not read.
    insta::assert_snapshot!(out.stderr());
}

#[test]
fn a_missing_path_is_an_error() {
    let out = snapsync(&["validate", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr();
    assert!(
        stderr.contains("no/such/folder: cannot read: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn json_output_carries_every_diagnostic_with_its_position() {
    let out = snapsync(&[
        "validate",
        "--now",
        NOW,
        "--format",
        "json",
        "tests/fixtures/invalid/many-problems.yaml",
        "tests/fixtures/warnings/include-undated-with-modified.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["files"], 2);
    assert_eq!(report["warnings"], 1);
    let diagnostics = report["diagnostics"].as_array().expect("list");
    assert_eq!(report["errors"], diagnostics.len() - 1);
    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "schema::invalid-value");
    assert_eq!(first["file"], "tests/fixtures/invalid/many-problems.yaml");
    assert_eq!(first["line"], 24);
    assert_eq!(first["column"], 14);
    assert_eq!(first["snippet"], "  direction: sideways");
    assert_eq!(first["hint"], "expected one of `get`, `send`");
    let warning = diagnostics.last().expect("warning");
    assert_eq!(warning["severity"], "warning");
    assert_eq!(warning["code"], "spec::include-undated-with-modified");
}

#[test]
fn secrets_never_appear_in_any_output() {
    for (fixture, secret) in [
        ("tests/fixtures/invalid/inline-password.yaml", "hunter2"),
        (
            "tests/fixtures/invalid/credentials-in-url.yaml",
            "Winter2026",
        ),
        (
            "tests/fixtures/invalid/secret-in-password-env.yaml",
            "Winter2026",
        ),
    ] {
        let file = std::fs::read_to_string(root().join(fixture)).expect("fixture");
        assert!(file.contains(secret), "{fixture} holds the secret");
        for format in ["text", "json"] {
            let out = snapsync(&["validate", "--format", format, "-vvv", fixture]);
            assert_eq!(out.status.code(), Some(1));
            let all = out.stdout() + &out.stderr();
            assert!(!all.contains(secret), "{fixture} leaked its secret:\n{all}");
        }
    }
}

#[test]
fn relative_bounds_resolve_against_the_given_clock() {
    // `from: -30d, to: +90d` is fine at any clock, `to: 2026-12-01, from: -30d`
    // is inverted once the clock passes 2026-12-31.
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = std::fs::read_to_string(root().join("tests/fixtures/cross-file/10-target.yaml"))
        .expect("target")
        + "---\napiVersion: snapsync/v1\nkind: Snapshot\nmetadata:\n  name: s\nspec:\n  \
           direction: send\n  target: office-vdir\n  filters:\n    scheduleItems:\n      \
           dateOption: start\n      range: { from: -30d, to: 2026-12-01 }\n";
    let file = dir.path().join("spec.yaml");
    std::fs::write(&file, spec).expect("write");
    let file = file.to_string_lossy().into_owned();
    let early = snapsync(&["validate", "--now", "2026-11-25T12:00:00Z", &file]);
    assert_eq!(early.status.code(), Some(0), "{}", early.stderr());
    let late = snapsync(&["validate", "--now", "2027-01-15T12:00:00Z", &file]);
    assert_eq!(late.status.code(), Some(1));
    assert!(
        late.stderr().contains("with now = 2027-01-15T12:00:00Z"),
        "{}",
        late.stderr()
    );
}

#[test]
fn log_lines_follow_verbosity_and_format() {
    let quiet = snapsync(&["validate", "snapshots.d"]);
    assert_eq!(quiet.stderr(), "", "no log lines by default");
    let out = snapsync(&["-vv", "--log-format", "json", "validate", "snapshots.d"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = out
        .stderr()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "read spec file" && l["level"] == "DEBUG")
    );
    let summary = lines
        .iter()
        .find(|l| l["fields"]["message"] == "validated specs")
        .expect("summary line");
    assert_eq!(summary["fields"]["errors"], 0);
    let text_out = snapsync(&["-v", "validate", "snapshots.d"]);
    let stderr = text_out.stderr();
    assert!(
        stderr.contains("INFO") && stderr.contains("validated specs"),
        "{stderr}"
    );
    assert!(!stderr.contains("read spec file"), "debug lines need -vv");
}

#[test]
fn quiet_prints_nothing_for_valid_specs() {
    let out = snapsync(&["-q", "validate", "snapshots.d"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stderr(), "");
}

#[test]
fn a_folder_without_specs_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("notes.txt"), "not a spec").expect("write");
    let out = Snapsync::new(dir.path())
        .args(["validate", "."])
        .run()
        .code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains(".: no spec files in this folder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec files end in `.yaml` or `.yml`"),
        "{stderr}"
    );
}

/// Copies what a fresh clone holds of the folder `from` into `to`: its
/// folders, spec files and `.gitkeep` files, and nothing an apply wrote.
fn copy_as_cloned(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read the folder") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().expect("a name").to_owned();
        let spec = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if path.is_dir() {
            copy_as_cloned(&path, &to.join(&name));
        } else if spec || name == ".gitkeep" {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}

#[test]
fn every_example_validates_and_plans_in_a_fresh_clone() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_as_cloned(&root().join("snapshots.d"), &dir.path().join("snapshots.d"));
    copy_as_cloned(&root().join("vdir"), &dir.path().join("vdir"));

    Snapsync::new(dir.path())
        .args(["validate", "--now", NOW])
        .run()
        .success()
        .stderr_is("");

    let out = Snapsync::new(dir.path()).args(["plan", "--now", NOW]).run();
    let (stdout, stderr) = (out.stdout(), out.stderr());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Only the lines that name the stores, no error and no warning.
    assert!(
        stderr.lines().all(|l| l.starts_with("Using the ")),
        "{stderr}"
    );
    assert!(!stdout.contains("error"), "{stdout}");
    let mut examples = Vec::new();
    collect_yaml(&root().join("snapshots.d/snapshots"), &mut examples);
    assert!(examples.len() >= 5, "expected several snapshots");
    for example in examples {
        let name = example.file_stem().expect("a name").to_string_lossy();
        assert!(
            stdout.contains(&format!("Snapshot {name}: ")),
            "{name} is not planned:\n{stdout}"
        );
    }
    // A dry run: no store was created.
    assert!(!dir.path().join(".snapsync").exists());
}

#[test]
fn a_missing_vdir_folder_is_reported_once_per_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_as_cloned(&root().join("snapshots.d"), &dir.path().join("snapshots.d"));

    let out = Snapsync::new(dir.path())
        .args(["validate", "--now", NOW])
        .run();
    let stderr = out.stderr();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr
            .matches("the vdir folder snapshots.d/../vdir/office does not exist")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("spec::vdir-folder-missing"), "{stderr}");
    assert!(
        stderr.contains("[snapshots.d/10-targets.yaml:21:9]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: create it (`mkdir -p` it), or fix `path`"),
        "{stderr}"
    );

    // Six snapshots of the target, of up to three links and three item
    // types each: one error.
    let out = Snapsync::new(dir.path()).args(["plan", "--now", NOW]).run();
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(all.matches("does not exist").count(), 1, "{all}");
    assert!(
        all.contains(
            "target office-vdir: the vdir folder snapshots.d/../vdir/office does not exist \
             (create it, or fix spec.path in snapshots.d/10-targets.yaml:"
        ),
        "{all}"
    );
    assert!(
        all.contains("skipped: target office-vdir cannot be used (the error is shown above)"),
        "{all}"
    );
}
