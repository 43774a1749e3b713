//! The JSON outputs and their committed schemas: every schema under
//! `schemas/` is the one snapsync generates (and prints with `snapsync
//! schema NAME`), and the real output of every command that prints JSON
//! validates against its schema, on a world where the output holds its
//! interesting parts (unapplied operations, flag changes, diagnostics).

use std::path::{Path, PathBuf};

use crate::support::radicale::{CollectionKind, PASSWORD, Radicale};
use crate::support::{Run, Snapsync, project};
use serde_json::Value;
use snapsync::outputs::JsonOutput;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The schema committed for `output`.
fn committed(output: JsonOutput) -> Value {
    let path = root().join("schemas").join(output.schema_file());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Validates `json` against the committed schema of `output`, failing with
/// every error, the JSON path it is at and the schema's rule; returns the
/// parsed JSON.
fn assert_matches(output: JsonOutput, json: &[u8]) -> Value {
    let instance: Value = serde_json::from_slice(json).unwrap_or_else(|e| {
        panic!(
            "{output}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(json)
        )
    });
    let schema = committed(output);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schemas/{} does not compile: {e}", output.schema_file()));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            format!(
                "  at {}: {e} (schema rule {})",
                e.instance_path().as_str(),
                e.schema_path().as_str()
            )
        })
        .collect();
    assert!(
        errors.is_empty(),
        "the output of `{}` does not match schemas/{}:\n{}\n{instance:#}",
        output.command(),
        output.schema_file(),
        errors.join("\n")
    );
    assert_eq!(
        instance["formatVersion"],
        output.format_version(),
        "{output}"
    );
    instance
}

/// Runs snapsync in `dir`, expecting exit code `code`.
fn run(dir: &Path, args: &[&str], code: i32) -> Run {
    Snapsync::new(dir).args(args).run().code(code)
}

/// A schema without its descriptions: what it accepts.
fn shape(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| key.as_str() != "description")
                .map(|(key, value)| (key.clone(), shape(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        other => other.clone(),
    }
}

#[test]
fn every_committed_output_schema_is_current() {
    for output in JsonOutput::ALL {
        let generated = serde_json::to_string_pretty(&snapsync::formats::json_schema(output))
            .expect("schema serializes")
            + "\n";
        let file = format!("schemas/{}", output.schema_file());
        let checked_in = std::fs::read_to_string(root().join(&file)).unwrap_or_default();
        if generated != checked_in
            && let Ok(old) = serde_json::from_str::<Value>(&checked_in)
        {
            let new = snapsync::formats::json_schema(output);
            assert!(
                shape(&old) == shape(&new)
                    || old["properties"]["formatVersion"] != new["properties"]["formatVersion"],
                "the shape of `{}` changed, but not its version: bump it in \
                 `JsonOutput::format_version` (src/outputs.rs), then run \
                 `cargo run -- schema {} > {file}`",
                output.command(),
                output.name()
            );
        }
        assert!(
            generated == checked_in,
            "{file} is stale: run `cargo run -- schema {} > {file}`",
            output.name()
        );
        let out = run(&root(), &["schema", output.name()], 0);
        assert_eq!(out.stdout(), checked_in, "snapsync schema {output}");
    }
    // No schema left behind for an output that is gone.
    let mut files: Vec<String> = std::fs::read_dir(root().join("schemas"))
        .expect("schemas/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = JsonOutput::ALL.iter().map(|o| o.schema_file()).collect();
    expected.push("snapsync.schema.json".to_owned());
    expected.sort();
    assert_eq!(files, expected, "schemas/ holds exactly these files");
}

#[test]
fn plan_apply_runs_links_targets_and_crm_outputs_match_their_schemas() {
    let dir = project(40);
    let root = dir.path();

    let out = run(
        root,
        &["plan", "--format", "json", "-s", "send-november"],
        0,
    );
    let plan = assert_matches(JsonOutput::Plan, &out.stdout);
    assert!(
        !plan["snapshots"][0]["filters"]
            .as_array()
            .expect("filters")
            .is_empty()
    );

    // A saved plan records its targets, its stores and a checksum.
    run(root, &["plan", "-s", "send-all", "--out", "plan.json"], 0);
    let saved = std::fs::read(root.join("plan.json")).expect("plan.json");
    let saved = assert_matches(JsonOutput::Plan, &saved);
    assert!(saved["checksum"].is_string(), "{saved:#}");

    let out = run(
        root,
        &["apply", "--yes", "--format", "json", "--plan", "plan.json"],
        0,
    );
    assert_matches(JsonOutput::ApplyReport, &out.stdout);
    // Replayed, its creates find their items there: stale, and listed.
    let out = run(
        root,
        &["apply", "--yes", "--format", "json", "--plan", "plan.json"],
        3,
    );
    let report = assert_matches(JsonOutput::ApplyReport, &out.stdout);
    assert!(
        !report["report"]["snapshots"][0]["unapplied"]
            .as_array()
            .expect("unapplied")
            .is_empty(),
        "{report:#}"
    );

    let runs = assert_matches(
        JsonOutput::Runs,
        &run(root, &["runs", "--format", "json"], 0).stdout,
    );
    assert_eq!(runs["runs"].as_array().expect("runs").len(), 2, "{runs:#}");
    for id in ["1", "2"] {
        let shown = run(root, &["runs", "show", id, "--format", "json"], 0);
        let shown = assert_matches(JsonOutput::RunsShow, &shown.stdout);
        assert!(shown["run"]["durationSeconds"].is_number(), "{shown:#}");
    }

    // Outbound disabled in the specs after items were synced: a flag change
    // the store has not recorded yet.
    let specs = root.join("snapshots.d/world.yaml");
    let world = std::fs::read_to_string(&specs).expect("specs");
    let world = world.replace(
        "      contacts: jdoe/contacts\n",
        "      contacts: jdoe/contacts\n      outbound: disabled\n",
    );
    std::fs::write(&specs, world).expect("write specs");
    let links = run(root, &["links", "--format", "json"], 0);
    let links = assert_matches(JsonOutput::Links, &links.stdout);
    let link = &links["links"][0];
    assert_eq!(link["flagChanges"][0]["flag"], "outbound", "{links:#}");
    assert!(
        link["recorded"].is_object() && link["lastSend"].is_object(),
        "{links:#}"
    );
    assert_matches(
        JsonOutput::Targets,
        &run(root, &["targets", "--format", "json"], 0).stdout,
    );

    let out = run(
        root,
        &["crm", "import", "--user", "ann", "gen", "--format", "json"],
        0,
    );
    assert_matches(JsonOutput::CrmImport, &out.stdout);
    // A file that is not an item: a problem the import lists (exit 3).
    std::fs::create_dir_all(root.join("broken")).expect("folder");
    std::fs::write(
        root.join("broken/bad.ics"),
        "BEGIN:VCALENDAR\nnot a calendar\n",
    )
    .expect("write");
    let out = run(
        root,
        &[
            "crm", "import", "--user", "ann", "broken", "--format", "json",
        ],
        3,
    );
    let import = assert_matches(JsonOutput::CrmImport, &out.stdout);
    assert!(!import["problems"].as_array().expect("problems").is_empty());
    let out = run(
        root,
        &[
            "crm", "export", "--user", "jdoe", "--out", "exported", "--format", "json",
        ],
        0,
    );
    assert_matches(JsonOutput::CrmExport, &out.stdout);
    let users = run(root, &["crm", "users", "--format", "json"], 0);
    let users = assert_matches(JsonOutput::CrmUsers, &users.stdout);
    assert_eq!(users["users"].as_array().expect("users").len(), 2);
}

#[test]
fn validate_outputs_match_their_schema_for_valid_and_invalid_specs() {
    let dir = project(0);
    let out = run(dir.path(), &["validate", "--format", "json"], 0);
    assert_matches(JsonOutput::Validate, &out.stdout);
    let fixtures = root().join("tests/fixtures");
    let mut checked = 0;
    for folder in ["invalid", "warnings"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures.join(folder))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let path = file.to_string_lossy().into_owned();
            let out = Snapsync::new(&root())
                .args(["validate", "--format", "json", &path])
                .run();
            let report = assert_matches(JsonOutput::Validate, &out.stdout);
            assert!(
                !report["diagnostics"]
                    .as_array()
                    .expect("diagnostics")
                    .is_empty(),
                "{path}"
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} fixtures");
}

#[test]
fn discover_output_matches_its_schema() {
    let server = Radicale::start();
    server.mkcol("alice/calendar/", CollectionKind::Calendar);
    server.mkcol("alice/tasks/", CollectionKind::TaskList);
    server.mkcol("alice/contacts/", CollectionKind::AddressBook);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(dir.path().join("snapshots.d")).expect("folder");
    std::fs::write(
        dir.path().join("snapshots.d/world.yaml"),
        format!(
            "apiVersion: snapsync/v1
kind: Target
metadata: {{ name: office }}
spec:
  type: caldav
  url: {}
  auth: {{ username: alice, passwordEnv: SNAPSYNC_TEST_PASSWORD }}
  links: []
",
            server.url()
        ),
    )
    .expect("write specs");
    let out = Snapsync::new(dir.path())
        .args(["discover", "office", "--format", "json", "-q"])
        .env("SNAPSYNC_TEST_PASSWORD", PASSWORD)
        .run()
        .success();
    let found = assert_matches(JsonOutput::Discover, &out.stdout);
    assert_eq!(
        found["users"][0]["collections"].as_array().map(Vec::len),
        Some(3)
    );
}
