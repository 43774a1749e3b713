//! The JSON outputs' types and schemas.
//!
//! Every machine-readable output ([`JsonOutput`]) is one serde type whose doc
//! comments become its schema's descriptions. The plan's types live in
//! [`crate::plan`], the validation's in [`crate::spec::diagnostic`] and
//! discover's in [`crate::proposed_links`], beside the code that builds
//! them; the outputs the commands assemble (apply reports, runs, links,
//! targets, crm) are here. [`json_schema`] generates the schema of each,
//! committed under `schemas/` and printed by `snapsync schema NAME`.

pub mod apply;
pub mod crm;
pub mod links;
pub mod runs;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use crate::item::ItemType;
use crate::outputs::JsonOutput;

/// One value per item type, in the order plans list the types; every type
/// is always there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ByItemType<T> {
    /// For schedule items (events).
    pub schedule_items: T,
    /// For tasks.
    pub tasks: T,
    /// For contacts.
    pub contacts: T,
}

impl<T> ByItemType<T> {
    /// The value of each type, as `value` gives it.
    pub fn from_fn(mut value: impl FnMut(ItemType) -> T) -> ByItemType<T> {
        ByItemType {
            schedule_items: value(ItemType::ScheduleItems),
            tasks: value(ItemType::Tasks),
            contacts: value(ItemType::Contacts),
        }
    }
}

/// The JSON Schema (draft 2020-12) of `output`, as committed under
/// `schemas/` and printed by `snapsync schema NAME`. Every object it
/// describes is closed: a field it does not list is an error.
#[must_use]
pub fn json_schema(output: JsonOutput) -> Value {
    let schema = match output {
        JsonOutput::Plan => schemars::schema_for!(crate::plan::Plan),
        JsonOutput::ApplyReport => schemars::schema_for!(apply::ApplyReportJson<'static>),
        JsonOutput::Validate => {
            schemars::schema_for!(crate::spec::diagnostic::ValidationJson<'static>)
        }
        JsonOutput::Runs => schemars::schema_for!(runs::RunsJson<'static>),
        JsonOutput::RunsShow => schemars::schema_for!(runs::RunShowJson<'static>),
        JsonOutput::Links => schemars::schema_for!(links::LinksJson<'static>),
        JsonOutput::Targets => schemars::schema_for!(links::TargetsJson),
        JsonOutput::Discover => schemars::schema_for!(crate::proposed_links::DiscoverJson),
        JsonOutput::CrmImport => schemars::schema_for!(crm::CrmImportJson<'static>),
        JsonOutput::CrmExport => schemars::schema_for!(crm::CrmExportJson<'static>),
        JsonOutput::CrmUsers => schemars::schema_for!(crm::CrmUsersJson<'static>),
    };
    let mut schema = schema.to_value();
    close_objects(&mut schema);
    // `$schema`, then the schema's own `$id` and title, then the rest.
    if let Some(object) = schema.as_object_mut() {
        let mut head = serde_json::Map::new();
        if let Some(dialect) = object.remove("$schema") {
            head.insert("$schema".to_owned(), dialect);
        }
        let id = format!("https://snapsync.dev/schemas/{}", output.schema_file());
        head.insert("$id".to_owned(), json!(id));
        head.insert("title".to_owned(), json!(output.command()));
        object.remove("title");
        head.append(object);
        *object = head;
    }
    schema
}

/// Makes every object schema with listed properties refuse others
/// (`additionalProperties: false`), unless it already says what else it
/// takes: outputs are closed, so a misspelt or unknown field fails.
fn close_objects(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.contains_key("properties")
        && !object.contains_key("additionalProperties")
        && !object.contains_key("unevaluatedProperties")
    {
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "patternProperties" => {
                if let Some(children) = value.as_object_mut() {
                    children.values_mut().for_each(close_objects);
                }
            }
            "items" | "additionalProperties" | "not" | "if" | "then" | "else" => {
                close_objects(value);
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Some(children) = value.as_array_mut() {
                    children.iter_mut().for_each(close_objects);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
