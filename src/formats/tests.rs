//! The outputs' schemas are strict: a misspelt field, an unknown one or
//! another format version fails, at any depth.

use std::path::Path;

use serde_json::{Value, json};

use super::links::{TargetJson, TargetsJson};
use super::{ByItemType, json_schema};
use crate::item::ItemType;
use crate::outputs::{FormatVersion, JsonOutput};
use crate::spec::types::TargetType;

/// The errors of `instance` against the schema of `output`, as
/// `path: message`.
fn errors(output: JsonOutput, instance: &Value) -> Vec<String> {
    let schema = json_schema(output);
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect()
}

fn targets() -> Value {
    serde_json::to_value(TargetsJson {
        format_version: FormatVersion,
        targets: vec![TargetJson {
            name: "office".into(),
            target_type: TargetType::Vdir,
            location: "vdir".into(),
            links: 2,
            pending_links: 0,
        }],
    })
    .expect("serializes")
}

#[test]
fn a_typed_output_matches_its_schema() {
    assert_eq!(
        errors(JsonOutput::Targets, &targets()),
        Vec::<String>::new()
    );
    let plan = serde_json::to_value(crate::plan::Plan::new(chrono::DateTime::UNIX_EPOCH))
        .expect("serializes");
    assert_eq!(errors(JsonOutput::Plan, &plan), Vec::<String>::new());
}

#[test]
fn a_misspelt_or_unknown_field_is_rejected_at_any_depth() {
    let mut misspelt = targets();
    let target = misspelt["targets"][0].as_object_mut().expect("object");
    let n = target.remove("pendingLinks").expect("pendingLinks");
    target.insert("pendingLink".into(), n);
    let found = errors(JsonOutput::Targets, &misspelt);
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("/targets/0: ") && e.contains("pendingLink")),
        "{found:?}"
    );

    let mut extra = targets();
    extra["comment"] = json!("hello");
    let found = errors(JsonOutput::Targets, &extra);
    assert!(found.iter().any(|e| e.contains("comment")), "{found:?}");
}

#[test]
fn a_misspelt_key_of_a_map_by_action_is_rejected() {
    let mut applied = crate::plan::Totals::default();
    applied.add(crate::plan::Action::Create, 2);
    let report = crate::apply::Report {
        snapshots: vec![crate::apply::SnapshotReport {
            snapshot: "send-all".into(),
            run_id: 1,
            applied,
            unapplied: Vec::new(),
        }],
    };
    let mut value = serde_json::to_value(super::apply::ApplyReportJson {
        format_version: FormatVersion,
        report: &report,
        plan_errors: 0,
        seconds: 0.5,
    })
    .expect("serializes");
    assert_eq!(
        errors(JsonOutput::ApplyReport, &value),
        Vec::<String>::new()
    );
    value["report"]["snapshots"][0]["applied"] = json!({"creat": 2});
    let found = errors(JsonOutput::ApplyReport, &value);
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("/report/snapshots/0/applied")),
        "{found:?}"
    );
}

#[test]
fn another_format_version_is_rejected() {
    let mut wrong = targets();
    wrong["formatVersion"] = json!(2);
    let found = errors(JsonOutput::Targets, &wrong);
    assert!(
        found.iter().any(|e| e.starts_with("/formatVersion: ")),
        "{found:?}"
    );
    let mut plan = serde_json::to_value(crate::plan::Plan::new(chrono::DateTime::UNIX_EPOCH))
        .expect("serializes");
    plan["formatVersion"] = json!(1);
    assert!(!errors(JsonOutput::Plan, &plan).is_empty());
}

#[test]
fn every_object_of_every_schema_is_closed() {
    fn walk(schema: &Value, at: &str, open: &mut Vec<String>) {
        match schema {
            Value::Object(object) => {
                if object.contains_key("properties")
                    && object.get("additionalProperties") != Some(&Value::Bool(false))
                {
                    open.push(at.to_owned());
                }
                for (key, value) in object {
                    walk(value, &format!("{at}/{key}"), open);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    walk(value, &format!("{at}/{i}"), open);
                }
            }
            _ => {}
        }
    }
    for output in JsonOutput::ALL {
        let schema = json_schema(output);
        let mut open = Vec::new();
        walk(&schema, "", &mut open);
        assert_eq!(open, Vec::<String>::new(), "{output}");
        assert_eq!(
            schema["properties"]["formatVersion"]["const"],
            output.format_version(),
            "{output}"
        );
        assert_eq!(
            schema["$id"],
            format!("https://snapsync.dev/schemas/{}", output.schema_file())
        );
        assert!(
            Path::new(&output.schema_file())
                .extension()
                .is_some_and(|e| e == "json")
        );
    }
}

#[test]
fn by_item_type_lists_the_types_in_their_order() {
    let value = serde_json::to_value(ByItemType::from_fn(ItemType::as_str)).expect("serializes");
    let keys: Vec<&String> = value.as_object().expect("object").keys().collect();
    let names: Vec<&str> = ItemType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(keys, names);
    assert!(
        value
            .as_object()
            .expect("object")
            .iter()
            .all(|(k, v)| v == k)
    );
}
