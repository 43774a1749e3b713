//! The JSON Schema of the spec language, generated from [`super::types`], and
//! the schema check that turns its errors into problems a person can act on.
//!
//! `jsonschema` reports each error with the JSON pointer of the offending
//! instance node; the loader maps that pointer to the node's span. The raw
//! messages are rewritten here ("unknown field `directon` in `spec`", with a
//! "did you mean" hint) because the people reading them write YAML, not JSON
//! Schema.

use std::collections::HashMap;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::{Value, json};

use super::codes::DiagnosticCode;
use super::types::Resource;
use super::yaml::escape_pointer;

/// The kinds of resource, in the order the schema lists them.
pub const KINDS: [&str; 3] = ["Target", "Snapshot", "Stores"];

/// The only `apiVersion` this snapsync reads.
pub const API_VERSION: &str = "snapsync/v1";

/// Keys that hold a secret when written inline. A spec must refer to secrets
/// instead (`passwordEnv`, `passwordFile`, `tokenEnv`).
pub const SECRET_KEYS: [&str; 8] = [
    "password",
    "passwd",
    "pass",
    "token",
    "bearerToken",
    "secret",
    "apiKey",
    "clientSecret",
];

/// Whether a mapping key names an inline secret.
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(key))
}

/// Keys whose value must be the *name* of an environment variable.
pub const SECRET_REFERENCE_KEYS: [&str; 2] = ["passwordEnv", "tokenEnv"];

/// Whether a text is an environment variable name. When the value of a
/// [`SECRET_REFERENCE_KEYS`] key is not, it is probably the secret itself.
#[must_use]
pub fn is_env_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The JSON Schema (draft 2020-12) of one spec document, as `snapsync schema`
/// prints it.
#[must_use]
pub fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(Resource).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".to_owned(),
            json!("https://snapsync.dev/schemas/snapsync.schema.json"),
        );
        object.insert("title".to_owned(), json!("snapsync resource"));
    }
    schema
}

/// Where a [`SchemaProblem`] should be underlined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The key of the node (an unknown or misspelt field).
    Key,
    /// The value of the node (a wrong type or value).
    Value,
    /// A mapping's key rather than its whole block (a missing field).
    Label,
}

/// One way a document breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The JSON pointer of the offending node.
    pub pointer: String,
    /// What part of the node to underline.
    pub anchor: Anchor,
    /// The diagnostic code.
    pub code: DiagnosticCode,
    /// What is wrong.
    pub message: String,
    /// The words under the underline.
    pub label: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// For an unknown field: the known field it probably means.
    pub suggestion: Option<String>,
}

/// Checks documents against the schema of their kind.
pub struct SchemaChecker {
    defs: Value,
    kinds: HashMap<&'static str, (Validator, Value)>,
}

impl std::fmt::Debug for SchemaChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaChecker").finish_non_exhaustive()
    }
}

/// Why the schema could not be compiled (a bug in snapsync, not in a spec).
#[derive(Debug, thiserror::Error)]
#[error("the built-in JSON Schema does not compile: {0}")]
pub struct SchemaBuildError(String);

impl SchemaChecker {
    /// Compiles one validator per kind, from the generated schema.
    ///
    /// # Errors
    /// When the generated schema does not compile, which is a bug.
    pub fn new() -> Result<Self, SchemaBuildError> {
        let schema = json_schema();
        let defs = schema.get("$defs").cloned().unwrap_or_else(|| json!({}));
        let branches = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .ok_or_else(|| SchemaBuildError("no oneOf of kinds".to_owned()))?;
        let mut kinds = HashMap::new();
        for kind in KINDS {
            let branch = branches
                .iter()
                .find(|b| b.pointer("/properties/kind/const") == Some(&json!(kind)))
                .ok_or_else(|| SchemaBuildError(format!("no branch for kind {kind}")))?;
            let mut standalone = branch.clone();
            if let Some(object) = standalone.as_object_mut() {
                object.insert("$defs".to_owned(), defs.clone());
                object.insert(
                    "$schema".to_owned(),
                    json!("https://json-schema.org/draft/2020-12/schema"),
                );
            }
            let validator = jsonschema::validator_for(&standalone)
                .map_err(|e| SchemaBuildError(e.to_string()))?;
            kinds.insert(kind, (validator, branch.clone()));
        }
        Ok(SchemaChecker { defs, kinds })
    }

    /// Checks a document of a known kind, except its `apiVersion` and `kind`
    /// (the loader checks those first, with better words).
    #[must_use]
    pub fn check(&self, kind: &str, instance: &Value) -> Vec<SchemaProblem> {
        let Some((validator, branch)) = self.kinds.get(kind) else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for error in validator.iter_errors(instance) {
            self.explain(branch, &error, instance, &mut problems);
        }
        problems.retain(|p| p.pointer != "/apiVersion" && p.pointer != "/kind");
        // A misspelt key is also a missing one; its "did you mean" says it all.
        let suggested: Vec<(String, String)> = problems
            .iter()
            .filter_map(|p| {
                let near = p.suggestion.clone()?;
                let parent = p
                    .pointer
                    .rsplit_once('/')
                    .map(|(parent, _)| parent.to_owned())?;
                Some((parent, near))
            })
            .collect();
        problems.retain(|p| {
            p.code != DiagnosticCode::SchemaMissingField
                || !suggested.iter().any(|(parent, near)| {
                    *parent == p.pointer && p.message.contains(&format!("`{near}`"))
                })
        });
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert((p.pointer.clone(), p.message.clone())));
        problems
    }

    fn explain(
        &self,
        branch: &Value,
        error: &ValidationError<'_>,
        instance: &Value,
        out: &mut Vec<SchemaProblem>,
    ) {
        let pointer = error.instance_path().as_str().to_owned();
        let value = instance.pointer(&pointer).unwrap_or(&Value::Null);
        let field = field_name(&pointer);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = self.property_names(branch, &pointer);
                for key in unexpected {
                    out.push(unknown_field(&pointer, key, &allowed));
                }
            }
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                // The loader checks these first, with better words.
                if !(pointer.is_empty() && (property == "apiVersion" || property == "kind")) {
                    out.push(self.missing_field(branch, &pointer, property));
                }
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(scalar_text).collect())
                    .unwrap_or_default();
                out.push(bad_choice(&pointer, value, &options));
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(bad_choice(&pointer, value, &[scalar_text(expected_value)]));
            }
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => {
                self.explain_alternatives(branch, context, instance, &pointer, value, out);
            }
            ValidationErrorKind::Type { kind } => {
                out.push(wrong_type(&pointer, value, kind));
            }
            ValidationErrorKind::Pattern { .. } => {
                out.push(bad_pattern(&pointer, value, field));
            }
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit } => {
                out.push(too_small(&pointer, field, limit, value));
            }
            ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => {
                out.push(value_problem(
                    &pointer,
                    format!(
                        "`{field}` must be at most {limit}, not {}",
                        scalar_text(value)
                    ),
                    "too large",
                ));
            }
            ValidationErrorKind::MinLength { .. } => {
                out.push(value_problem(
                    &pointer,
                    format!("`{field}` must not be empty"),
                    "empty",
                ));
            }
            ValidationErrorKind::MinItems { .. } => {
                let mut problem = value_problem(
                    &pointer,
                    format!("`{field}` must not be an empty list"),
                    "empty list",
                );
                problem.anchor = Anchor::Label;
                out.push(problem);
            }
            ValidationErrorKind::MinProperties { .. } => {
                let mut problem = value_problem(
                    &pointer,
                    format!("`{field}` must not be empty"),
                    "nothing in here",
                );
                problem.anchor = Anchor::Label;
                if field == "range" {
                    problem.hint = Some(
                        "give `from`, `to` or both; omit the filter to process every item"
                            .to_owned(),
                    );
                }
                out.push(problem);
            }
            ValidationErrorKind::UniqueItems => {
                let mut problem = value_problem(
                    &pointer,
                    format!("`{field}` lists the same value twice"),
                    "has a duplicate",
                );
                problem.anchor = Anchor::Label;
                out.push(problem);
            }
            _ => out.push(value_problem(&pointer, error.to_string(), "here")),
        }
    }

    /// A required field that is missing, with the field's description as
    /// the hint.
    fn missing_field(&self, branch: &Value, pointer: &str, property: &str) -> SchemaProblem {
        let child = format!("{pointer}/{}", escape_pointer(property));
        let hint = self
            .description(branch, &child)
            .map(|d| format!("`{property}`: {}", first_sentence(&d)));
        SchemaProblem {
            pointer: pointer.to_owned(),
            anchor: Anchor::Label,
            code: DiagnosticCode::SchemaMissingField,
            message: format!("missing field `{property}` in {}", place(pointer)),
            label: format!("`{property}` is required here"),
            hint,
            suggestion: None,
        }
    }

    /// Explains a `oneOf`/`anyOf` failure. Documented enums are `oneOf`s of
    /// constants, so when every alternative is a constant, it is a bad choice;
    /// otherwise the alternative that came closest is explained.
    fn explain_alternatives(
        &self,
        branch: &Value,
        context: &[Vec<ValidationError<'static>>],
        instance: &Value,
        pointer: &str,
        value: &Value,
        out: &mut Vec<SchemaProblem>,
    ) {
        let mut constants = Vec::new();
        let all_constants = context.iter().all(|errors| {
            errors.iter().all(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    constants.push(scalar_text(expected_value));
                    true
                }
                ValidationErrorKind::Type { .. } => true,
                _ => false,
            })
        });
        if all_constants && !constants.is_empty() {
            if value.is_string() || value.is_null() {
                out.push(bad_choice(pointer, value, &constants));
            } else {
                out.push(wrong_type(
                    pointer,
                    value,
                    &TypeKind::Single(JsonType::String),
                ));
            }
            return;
        }
        // `Option<T>` becomes `anyOf: [T, null]`: the non-null alternative is
        // the one that explains the problem.
        let best = context
            .iter()
            .filter(|errors| !errors.is_empty())
            .min_by_key(|errors| {
                let only_type = errors
                    .iter()
                    .all(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }));
                (only_type && !value.is_null(), errors.len())
            });
        match best {
            Some(errors) => {
                for error in errors {
                    self.explain(branch, error, instance, out);
                }
            }
            None => out.push(value_problem(
                pointer,
                "value not allowed here".to_owned(),
                "here",
            )),
        }
    }

    /// The schema node that describes the instance node at `pointer`.
    fn schema_at<'a>(&'a self, branch: &'a Value, pointer: &str) -> Option<&'a Value> {
        let mut node = branch;
        for segment in pointer.split('/').skip(1) {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            node = self.resolve(node);
            node = if let Some(child) = node.get("properties").and_then(|p| p.get(&segment)) {
                child
            } else if let Some(items) = node.get("items") {
                items
            } else {
                node.get("additionalProperties").filter(|a| a.is_object())?
            };
        }
        Some(node)
    }

    /// Follows `$ref`s and picks the object alternative of an `anyOf`.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        for _ in 0..8 {
            if let Some(name) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                match self.defs.get(name) {
                    Some(target) => node = target,
                    None => return node,
                }
            } else if let Some(alternative) = node
                .get("anyOf")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|s| s.get("type") != Some(&json!("null"))))
            {
                node = alternative;
            } else {
                return node;
            }
        }
        node
    }

    fn property_names(&self, branch: &Value, pointer: &str) -> Vec<String> {
        self.schema_at(branch, pointer)
            .map(|n| self.resolve(n))
            .and_then(|n| n.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn description(&self, branch: &Value, pointer: &str) -> Option<String> {
        let node = self.schema_at(branch, pointer)?;
        node.get("description")
            .or_else(|| self.resolve(node).get("description"))
            .and_then(Value::as_str)
            .map(ToOwned::to_owned)
    }
}

/// The last segment of a pointer: the field a problem is about.
fn field_name(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or(pointer)
}

/// A pointer as a dotted YAML path (`spec.filters.tasks`), for messages.
#[must_use]
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// "`spec.filters`", or "the document" for the root.
fn place(pointer: &str) -> String {
    if pointer.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{}`", dotted(pointer))
    }
}

fn first_sentence(text: &str) -> String {
    let text = text.replace('\n', " ");
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

/// The closest candidate to a misspelt word, if any is close enough.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn one_of_list(options: &[String]) -> String {
    options
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_field(parent: &str, key: &str, allowed: &[String]) -> SchemaProblem {
    let pointer = format!("{parent}/{}", escape_pointer(key));
    if is_secret_key(key) {
        return SchemaProblem {
            pointer,
            anchor: Anchor::Key,
            code: DiagnosticCode::InlineSecret,
            message: format!("a secret is written inline (`{}`)", dotted(&format!("{parent}/{key}"))),
            label: "secrets must not be written in a spec".to_owned(),
            hint: Some(
                "specs live in Git, where every reader sees them: put the secret in an environment \
                 variable or a file and use `passwordEnv`, `passwordFile` or `tokenEnv`"
                    .to_owned(),
            ),
            suggestion: None,
        };
    }
    let near = did_you_mean(key, allowed.iter().map(String::as_str));
    let hint = match near {
        Some(near) => Some(format!("did you mean `{near}`?")),
        None if !allowed.is_empty() => Some(format!("expected one of {}", one_of_list(allowed))),
        None => None,
    };
    SchemaProblem {
        pointer,
        anchor: Anchor::Key,
        code: DiagnosticCode::SchemaUnknownField,
        message: format!("unknown field `{key}` in {}", place(parent)),
        label: "unknown field".to_owned(),
        hint,
        suggestion: near.map(ToOwned::to_owned),
    }
}

fn bad_choice(pointer: &str, value: &Value, options: &[String]) -> SchemaProblem {
    let text = scalar_text(value);
    let hint = match did_you_mean(&text, options.iter().map(String::as_str)) {
        Some(near) => format!(
            "did you mean `{near}`? expected one of {}",
            one_of_list(options)
        ),
        None => format!("expected one of {}", one_of_list(options)),
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        anchor: Anchor::Value,
        code: DiagnosticCode::SchemaInvalidValue,
        message: format!("`{text}` is not a valid `{}`", field_name(pointer)),
        label: "not one of the allowed values".to_owned(),
        hint: Some(hint),
        suggestion: None,
    }
}

fn type_name(kind: &TypeKind) -> String {
    let name = |t: JsonType| match t {
        JsonType::Array => "a list",
        JsonType::Boolean => "a boolean (`true` or `false`)",
        JsonType::Integer => "a whole number",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "a mapping",
        JsonType::String => "a string",
    };
    match kind {
        TypeKind::Single(t) => name(*t).to_owned(),
        TypeKind::Multiple(set) => {
            let names: Vec<&str> = set
                .iter()
                .filter(|t| *t != JsonType::Null)
                .map(name)
                .collect();
            names.join(" or ")
        }
    }
}

fn found_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "a whole number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn wrong_type(pointer: &str, value: &Value, kind: &TypeKind) -> SchemaProblem {
    let expected = type_name(kind);
    let field = field_name(pointer);
    let subject = if pointer.is_empty() {
        "the document".to_owned()
    } else if field.bytes().all(|b| b.is_ascii_digit()) {
        format!("`{}`", dotted(pointer))
    } else {
        format!("`{field}`")
    };
    let hint = match (value, expected.as_str()) {
        (Value::String(s), e) if e.starts_with("a boolean") => Some(
            if matches!(
                s.to_lowercase().as_str(),
                "yes" | "no" | "on" | "off" | "y" | "n"
            ) {
                format!("YAML 1.2 reads `{s}` as text: write `true` or `false`")
            } else {
                "write `true` or `false`".to_owned()
            },
        ),
        (Value::String(s), "a whole number" | "a number") if s.parse::<f64>().is_ok() => {
            Some(format!("remove the quotes: `{s}`"))
        }
        (Value::Array(_), "a mapping") => {
            Some("write the fields as `key: value` lines, without a leading `- `".to_owned())
        }
        (_, "a list") => Some("write each entry on its own line, starting with `- `".to_owned()),
        (Value::Null, _) => Some("give a value after the colon, or remove the key".to_owned()),
        (Value::Number(n), "a string") => Some(format!("quote it if you meant text: `\"{n}\"`")),
        _ => None,
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        anchor: if value.is_object() || value.is_array() {
            Anchor::Label
        } else {
            Anchor::Value
        },
        code: DiagnosticCode::SchemaWrongType,
        message: format!("{subject} must be {expected}, not {}", found_name(value)),
        label: format!("expected {expected}"),
        hint,
        suggestion: None,
    }
}

fn bad_pattern(pointer: &str, value: &Value, field: &str) -> SchemaProblem {
    let text = scalar_text(value);
    let (message, hint) = match field {
        "name" if pointer.contains("/links/") => (
            format!("`{text}` is not a valid link name"),
            "link names use letters, digits, `-`, `_`, `.` and `@`, and start with a letter or digit",
        ),
        "name" => (
            format!("`{text}` is not a valid name"),
            "names use letters, digits, `-`, `_` and `.`, start with a letter or digit, and have at most 63 characters",
        ),
        // Never echo it: a value here is often the secret itself, pasted in
        // the wrong place.
        "passwordEnv" | "tokenEnv" => (
            format!("`{field}` is not an environment variable name"),
            "give the variable's name (letters, digits and `_`), not the secret itself",
        ),
        _ => (
            format!("`{text}` is not a valid `{field}`"),
            "see the spec reference (docs/specs.md) for the expected format",
        ),
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        anchor: Anchor::Value,
        code: DiagnosticCode::SchemaInvalidValue,
        message,
        label: "invalid format".to_owned(),
        hint: Some(hint.to_owned()),
        suggestion: None,
    }
}

/// A number below the schema's minimum.
fn too_small(pointer: &str, field: &str, limit: &Value, value: &Value) -> SchemaProblem {
    let mut problem = value_problem(
        pointer,
        format!(
            "`{field}` must be at least {limit}, not {}",
            scalar_text(value)
        ),
        "too small",
    );
    if field == "maxDeletes" {
        problem.hint =
            Some("omit `maxDeletes` for no limit, or give 0 to refuse any delete".to_owned());
    }
    problem
}

fn value_problem(pointer: &str, message: String, label: &str) -> SchemaProblem {
    SchemaProblem {
        pointer: pointer.to_owned(),
        anchor: Anchor::Value,
        code: DiagnosticCode::SchemaInvalidValue,
        message,
        label: label.to_owned(),
        hint: None,
        suggestion: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> SchemaChecker {
        SchemaChecker::new().expect("schema compiles")
    }

    fn snapshot(spec: &Value) -> Value {
        json!({
            "apiVersion": "snapsync/v1",
            "kind": "Snapshot",
            "metadata": { "name": "s" },
            "spec": spec,
        })
    }

    #[test]
    fn a_valid_snapshot_has_no_problems() {
        let doc = snapshot(&json!({ "direction": "send", "target": "t" }));
        assert_eq!(checker().check("Snapshot", &doc), vec![]);
    }

    #[test]
    fn a_misspelt_field_suggests_the_right_one() {
        let doc = snapshot(&json!({ "directon": "send", "direction": "send", "target": "t" }));
        let problems = checker().check("Snapshot", &doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/spec/directon");
        assert_eq!(problems[0].message, "unknown field `directon` in `spec`");
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("did you mean `direction`?")
        );
    }

    #[test]
    fn a_wrong_enum_value_lists_the_choices() {
        let doc = snapshot(&json!({ "direction": "sned", "target": "t" }));
        let problems = checker().check("Snapshot", &doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].message, "`sned` is not a valid `direction`");
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("did you mean `send`? expected one of `get`, `send`")
        );
    }

    #[test]
    fn a_missing_field_is_reported_on_its_parent_with_its_description() {
        let doc = snapshot(&json!({ "direction": "send" }));
        let problems = checker().check("Snapshot", &doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/spec");
        assert_eq!(problems[0].anchor, Anchor::Label);
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("`target`: The name of the Target resource.")
        );
    }

    #[test]
    fn an_inline_password_is_a_secret_problem() {
        let doc = json!({
            "apiVersion": "snapsync/v1", "kind": "Target", "metadata": { "name": "t" },
            "spec": { "type": "caldav", "url": "https://x/", "links": [],
                      "auth": { "username": "u", "password": "hunter2" } },
        });
        let problems = checker().check("Target", &doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code, DiagnosticCode::InlineSecret);
        assert!(!format!("{problems:?}").contains("hunter2"));
    }

    #[test]
    fn a_nested_optional_struct_is_explained_through_its_anyof() {
        let doc = snapshot(&json!({
            "direction": "send", "target": "t",
            "filters": { "tasks": { "dateOption": "due", "range": { "from": "today" }, "includeUndated": "yes" } },
        }));
        let problems = checker().check("Snapshot", &doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/spec/filters/tasks/includeUndated");
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("YAML 1.2 reads `yes` as text: write `true` or `false`")
        );
    }

    #[test]
    fn dotted_paths_read_like_yaml() {
        assert_eq!(dotted("/spec/links/0/name"), "spec.links[0].name");
        assert_eq!(dotted(""), "");
    }
}
