//! YAML loading with spans.
//!
//! The spec files are parsed once, by `saphyr-parser`'s event stream, into a
//! small tree of [`Node`]s that remember where each key and value sits in the
//! source. The same tree feeds the JSON Schema check (as a `serde_json::Value`),
//! the typed resources (through serde) and every diagnostic's location, so an
//! error is always reported at the node that caused it.
//!
//! Scalars follow the YAML 1.2 core schema: `yes`, `on` and `2026-10-01` are
//! strings, as YAML 1.2 says; only `true`/`false`, `null`/`~`, integers and
//! floats are resolved from plain scalars.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};
use serde_json::{Map, Number, Value};

/// A byte range in a source file.
pub type Span = Range<usize>;

/// More nodes than this after alias expansion is refused ("billion laughs").
const MAX_NODES: usize = 1_000_000;

/// A YAML node and where it sits in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// The bytes the value covers.
    pub span: Span,
}

/// The value of a [`Node`].
#[derive(Debug, Clone)]
pub enum NodeValue {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, with each key's span.
    Map(Vec<(String, Span, Node)>),
}

impl NodeValue {
    /// The word a YAML user knows this kind of value by.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) | NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

/// Why a YAML stream could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// Where it went wrong.
    pub span: Span,
    /// Where an earlier, related node sits (the first of two duplicate keys).
    pub related: Option<(Span, String)>,
    /// What to do about it.
    pub hint: Option<String>,
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root node.
    pub root: Node,
    /// Where every node sits, by JSON pointer (`/spec/filters/tasks`).
    pub index: SpanIndex,
}

/// Where the nodes of a document sit, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    entries: HashMap<String, NodeSpans>,
}

/// The spans of one node: its key (for a mapping value) and its value.
#[derive(Debug, Clone)]
pub struct NodeSpans {
    /// The key that introduced the node, for mapping values.
    pub key: Option<Span>,
    /// The value itself.
    pub value: Span,
}

impl SpanIndex {
    /// The spans of the node at `pointer`, if it exists.
    #[must_use]
    pub fn get(&self, pointer: &str) -> Option<&NodeSpans> {
        self.entries.get(pointer)
    }

    /// The best span to underline when something is wrong with the node at
    /// `pointer`: a scalar's value, or the key of a mapping or list (a whole
    /// block would underline many lines). Falls back to the nearest ancestor.
    #[must_use]
    pub fn label_span(&self, pointer: &str) -> Span {
        let mut pointer = pointer;
        loop {
            if let Some(spans) = self.entries.get(pointer) {
                return spans.key.clone().unwrap_or_else(|| spans.value.clone());
            }
            match pointer.rfind('/') {
                Some(cut) => pointer = &pointer[..cut],
                None => return 0..0,
            }
        }
    }

    /// The span of the value at `pointer`, or of its nearest ancestor.
    #[must_use]
    pub fn value_span(&self, pointer: &str) -> Span {
        let mut pointer = pointer;
        loop {
            if let Some(spans) = self.entries.get(pointer) {
                return spans.value.clone();
            }
            match pointer.rfind('/') {
                Some(cut) => pointer = &pointer[..cut],
                None => return 0..0,
            }
        }
    }

    /// The span of the key at `pointer`, or of its value when it has no key.
    #[must_use]
    pub fn key_span(&self, pointer: &str) -> Span {
        match self.entries.get(pointer) {
            Some(NodeSpans { key: Some(key), .. }) => key.clone(),
            _ => self.value_span(pointer),
        }
    }
}

/// Escapes one segment of a JSON pointer (RFC 6901).
#[must_use]
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Node {
    /// The node as JSON, for the schema check and serde.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::Number((*i).into()),
            NodeValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, _, value) in entries {
                    map.insert(key.clone(), value.to_json());
                }
                Value::Object(map)
            }
        }
    }

    fn index_into(&self, pointer: &mut String, key: Option<Span>, index: &mut SpanIndex) {
        index.entries.insert(
            pointer.clone(),
            NodeSpans {
                key,
                value: self.span.clone(),
            },
        );
        let len = pointer.len();
        match &self.value {
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    item.index_into(pointer, None, index);
                    pointer.truncate(len);
                }
            }
            NodeValue::Map(entries) => {
                for (k, key_span, value) in entries {
                    pointer.push('/');
                    pointer.push_str(&escape_pointer(k));
                    value.index_into(pointer, Some(key_span.clone()), index);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// Converts the parser's character positions to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    /// Byte offset of every 64th character, for non-ASCII text.
    checkpoints: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let checkpoints = if ascii {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(64)
                .map(|(byte, _)| byte)
                .collect()
        };
        Offsets {
            text,
            ascii,
            checkpoints,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let Some(&start) = self.checkpoints.get(char_index / 64) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth(char_index % 64)
            .map_or(self.text.len(), |(b, _)| start + b)
    }

    fn span(&self, span: &YamlSpan) -> Span {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        start..end
    }
}

/// Parses every document of a YAML stream.
///
/// # Errors
/// The first syntax error, a duplicate key, an unsupported tag or a
/// non-string mapping key; YAML cannot be read past a syntax error, so the
/// documents before it are dropped too.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let offsets = Offsets::new(text);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        documents: Vec::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| {
            let at = offsets.byte(error.marker().index());
            syntax_error(error.info(), at..at)
        })?;
        builder.event(event, &span)?;
    }
    Ok(builder
        .documents
        .into_iter()
        .map(|root| {
            let mut index = SpanIndex::default();
            root.index_into(&mut String::new(), None, &mut index);
            Document { root, index }
        })
        .collect())
}

fn syntax_error(info: &str, span: Span) -> YamlError {
    let hint = if info.contains("tab") {
        Some("YAML does not allow tabs for indentation: indent with spaces".to_owned())
    } else if info.contains("did not find expected") || info.contains("unclosed") {
        Some("check the quotes and brackets that open before this point".to_owned())
    } else if info.contains("mapping values are not allowed") {
        Some("a value that contains `: ` must be quoted, or the indentation is off".to_owned())
    } else {
        Some("check the indentation and quoting around this point".to_owned())
    };
    YamlError {
        message: format!("invalid YAML: {info}"),
        span,
        related: None,
        hint,
    }
}

enum Frame {
    Seq {
        anchor: usize,
        start: usize,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        start: usize,
        entries: Vec<(String, Span, Node)>,
        pending_key: Option<(String, Span)>,
    },
}

struct Builder<'a, 'b> {
    offsets: &'a Offsets<'b>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    documents: Vec<Node>,
}

impl Builder<'_, '_> {
    fn event(&mut self, event: Event<'_>, span: &YamlSpan) -> Result<(), YamlError> {
        let at = self.offsets.span(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_deref(), &at)?;
                let node = Node { value, span: at };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)
            }
            Event::Alias(anchor) => self.alias(anchor, at),
            Event::SequenceStart(anchor, tag) => {
                reject_tag(tag.as_deref(), &at, "tag:yaml.org,2002:seq")?;
                self.stack.push(Frame::Seq {
                    anchor,
                    start: at.start,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                reject_tag(tag.as_deref(), &at, "tag:yaml.org,2002:map")?;
                self.stack.push(Frame::Map {
                    anchor,
                    start: at.start,
                    entries: Vec::new(),
                    pending_key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => self.end_collection(&at),
            Event::DocumentStart(_) => {
                self.anchors.clear();
                Ok(())
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        }
    }

    /// An alias: a copy of its anchor's node, counted against the node limit
    /// (so an alias bomb stops early).
    fn alias(&mut self, anchor: usize, at: Span) -> Result<(), YamlError> {
        let node = self
            .anchors
            .get(&anchor)
            .cloned()
            .ok_or_else(|| YamlError {
                message: "alias refers to an unknown anchor".to_owned(),
                span: at.clone(),
                related: None,
                hint: Some("define the anchor (`&name`) before its alias (`*name`)".to_owned()),
            })?;
        self.nodes += count_nodes(&node);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                message: "document too large after expanding aliases".to_owned(),
                span: at,
                related: None,
                hint: Some(
                    "specs never need this many nodes; is the file generated by mistake?"
                        .to_owned(),
                ),
            });
        }
        self.push(Node {
            value: node.value,
            span: at,
        })
    }

    /// The end of a sequence or mapping: its node, with the span from its
    /// start to its last child.
    fn end_collection(&mut self, at: &Span) -> Result<(), YamlError> {
        let node = match self.stack.pop() {
            Some(Frame::Seq {
                anchor,
                start,
                items,
            }) => {
                let end = items.last().map_or(at.end, |n| n.span.end);
                (
                    anchor,
                    Node {
                        value: NodeValue::Seq(items),
                        span: start..end.max(start),
                    },
                )
            }
            Some(Frame::Map {
                anchor,
                start,
                entries,
                ..
            }) => {
                let end = entries.last().map_or(at.end, |(_, _, n)| n.span.end);
                (
                    anchor,
                    Node {
                        value: NodeValue::Map(entries),
                        span: start..end.max(start),
                    },
                )
            }
            None => return Ok(()),
        };
        let (anchor, node) = node;
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node)
    }

    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        self.nodes += 1;
        match self.stack.last_mut() {
            None => {
                self.documents.push(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => {
                if let Some((key, key_span)) = pending_key.take() {
                    entries.push((key, key_span, node));
                    Ok(())
                } else {
                    let key = match node.value {
                        NodeValue::String(s) => s,
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::Float(f) => f.to_string(),
                        NodeValue::Null => "null".to_owned(),
                        NodeValue::Seq(_) | NodeValue::Map(_) => {
                            return Err(YamlError {
                                message:
                                    "a mapping key must be a plain value, not a list or mapping"
                                        .to_owned(),
                                span: node.span,
                                related: None,
                                hint: Some("write keys as plain words, like `target:`".to_owned()),
                            });
                        }
                    };
                    if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == key) {
                        return Err(YamlError {
                        message: format!("duplicate key `{key}`"),
                        span: node.span,
                        related: Some((first.clone(), "first defined here".to_owned())),
                        hint: Some(
                            "YAML keeps only one value per key: remove one of the two, or merge them"
                                .to_owned(),
                        ),
                    });
                    }
                    *pending_key = Some((key, node.span));
                    Ok(())
                }
            }
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        NodeValue::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeValue::Map(entries) => {
            1 + entries
                .iter()
                .map(|(_, _, n)| count_nodes(n))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn reject_tag(tag: Option<&saphyr_parser::Tag>, at: &Span, allowed: &str) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(tag) if format!("{}{}", tag.handle, tag.suffix) == allowed => Ok(()),
        Some(tag) => Err(unsupported_tag(tag, at)),
    }
}

fn unsupported_tag(tag: &saphyr_parser::Tag, at: &Span) -> YamlError {
    YamlError {
        message: format!("unsupported YAML tag `{}{}`", tag.handle, tag.suffix),
        span: at.clone(),
        related: None,
        hint: Some("specs use plain YAML values; remove the tag".to_owned()),
    }
}

/// Resolves a scalar by the YAML 1.2 core schema.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
    at: &Span,
) -> Result<NodeValue, YamlError> {
    if let Some(tag) = tag {
        let name = if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            tag.suffix.as_str()
        } else {
            return Err(unsupported_tag(tag, at));
        };
        let bad = |what: &str| YamlError {
            message: format!("`{text}` is not {what}"),
            span: at.clone(),
            related: None,
            hint: Some(format!("remove the `!!{name}` tag or fix the value")),
        };
        return match name {
            "str" => Ok(NodeValue::String(text.to_owned())),
            "null" => Ok(NodeValue::Null),
            "bool" => resolve_plain(text)
                .filter(|v| matches!(v, NodeValue::Bool(_)))
                .ok_or_else(|| bad("a boolean")),
            "int" => resolve_plain(text)
                .filter(|v| matches!(v, NodeValue::Int(_)))
                .ok_or_else(|| bad("an integer")),
            "float" => match resolve_plain(text) {
                Some(NodeValue::Float(f)) => Ok(NodeValue::Float(f)),
                #[allow(clippy::cast_precision_loss)]
                Some(NodeValue::Int(i)) => Ok(NodeValue::Float(i as f64)),
                _ => Err(bad("a number")),
            },
            _ => Err(unsupported_tag(tag, at)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeValue::String(text.to_owned()));
    }
    Ok(resolve_plain(text).unwrap_or_else(|| NodeValue::String(text.to_owned())))
}

/// The core schema's reading of a plain scalar, or `None` for a string.
fn resolve_plain(text: &str) -> Option<NodeValue> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(NodeValue::Null),
        "true" | "True" | "TRUE" => return Some(NodeValue::Bool(true)),
        "false" | "False" | "FALSE" => return Some(NodeValue::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(NodeValue::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(NodeValue::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(NodeValue::Float(f64::NAN)),
        _ => {}
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).ok().map(NodeValue::Int);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(NodeValue::Int);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(NodeValue::Int);
    }
    if is_core_float(digits) {
        return text.parse().ok().map(NodeValue::Float);
    }
    None
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && (frac.is_some() || exponent.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Document {
        let mut docs = parse_documents(text).expect("valid YAML");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let doc = one(
            "a: 2026-10-01\nb: yes\nc: 12\nd: -30d\ne: '12'\nf: true\ng: ~\nh: 1.5\ni: +12w\nj: 0x1F\nk: 1e3\n",
        );
        let json = doc.root.to_json();
        assert_eq!(json["a"], "2026-10-01");
        assert_eq!(json["b"], "yes");
        assert_eq!(json["c"], 12);
        assert_eq!(json["d"], "-30d");
        assert_eq!(json["e"], "12");
        assert_eq!(json["f"], true);
        assert!(json["g"].is_null());
        assert_eq!(json["h"], 1.5);
        assert_eq!(json["i"], "+12w");
        assert_eq!(json["j"], 31);
        assert_eq!(json["k"], 1000.0);
    }

    #[test]
    fn indexes_keys_and_values_by_pointer() {
        let text = "spec:\n  links:\n    - jdoe\n    - asmith\n";
        let doc = one(text);
        let key = doc.index.key_span("/spec/links");
        assert_eq!(&text[key], "links");
        let item = doc.index.value_span("/spec/links/1");
        assert_eq!(&text[item], "asmith");
        // A missing node falls back to its nearest ancestor.
        assert_eq!(&text[doc.index.label_span("/spec/links/7")], "links");
    }

    #[test]
    fn spans_are_bytes_even_after_non_ascii_text() {
        let text = "name: Zoë Ürün\nnext: here\n";
        let doc = one(text);
        assert_eq!(&text[doc.index.value_span("/next")], "here");
    }

    #[test]
    fn reports_duplicate_keys_with_both_places() {
        let text = "kind: Target\nname: a\nkind: Snapshot\n";
        let error = parse_documents(text).expect_err("duplicate key");
        assert_eq!(error.message, "duplicate key `kind`");
        assert_eq!(error.span.start, text.rfind("kind").expect("second key"));
        assert_eq!(error.related.expect("first key").0.start, 0);
    }

    #[test]
    fn expands_aliases() {
        let doc = one("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(doc.root.to_json()["copy"]["x"], 1);
    }

    #[test]
    fn reads_several_documents() {
        let docs = parse_documents("a: 1\n---\nb: 2\n").expect("valid");
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn rejects_unknown_tags() {
        let error = parse_documents("a: !secret x\n").expect_err("tag");
        assert!(error.message.contains("unsupported YAML tag"), "{error:?}");
    }

    #[test]
    fn reports_syntax_errors_with_a_position() {
        let text = "a: 'unclosed\nb: 2\n";
        let error = parse_documents(text).expect_err("syntax");
        assert!(error.message.starts_with("invalid YAML"), "{error:?}");
    }

    #[test]
    fn refuses_alias_bombs() {
        use std::fmt::Write;
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            let aliases = vec![format!("*a{prev}"); 10].join(", ");
            writeln!(text, "a{i}: &a{i} [{aliases}]").expect("writes to a String");
        }
        let error = parse_documents(&text).expect_err("too large");
        assert!(error.message.contains("too large"), "{error:?}");
    }
}
