//! A test that dependencies between the crate's modules run one way: no
//! module imports, directly or through others, a module that imports it.
//!
//! A module here is one source file under `src/` (test files left out), and
//! a dependency is a `crate::…` or `super::…` path in its code (`use` lines
//! and paths written inline; comments and `#[cfg(test)] mod tests` left
//! out) that names another file's module. A module and the modules below it
//! (`item` and `item::codec`) are one unit for this test, so a `mod.rs` that
//! re-exports its children and a child that uses its parent's types are not
//! a circle; two siblings that import each other are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path below the crate root (`["item", "codec"]`).
type Module = Vec<String>;

/// Every module file under `dir`, with its text.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("src/ is readable").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file names")
            .to_string();
        if path.is_dir() {
            let mut below = prefix.to_vec();
            below.push(name);
            modules(&path, &below, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut module = prefix.to_vec();
            match stem {
                "mod" | "lib" => {}
                "tests" => continue,
                _ => module.push(stem.to_string()),
            }
            let text = std::fs::read_to_string(&path).expect("source is readable");
            out.insert(module, text);
        }
    }
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|next| {
                let next = next.trim();
                next.ends_with("mod tests {") || next.ends_with("mod tests;")
            })
        {
            break;
        }
        let line = line.split("//").next().unwrap_or_default();
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The paths a `use` tree names (`super::{a, b::{c, d}}` gives
/// `super::a`, `super::b::c`, `super::b::d`).
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        out.push(format!("{prefix}{path}"));
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let body = &tree[open + 1..];
    let inner = &body[..body.rfind('}').unwrap_or(body.len())];
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&inner[start..i], &head, out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].trim().is_empty() {
        expand(&inner[start..], &head, out);
    }
}

/// Every `crate::`/`super::` path of a file's code.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    // `use` statements first, with their braces expanded.
    let mut inline = String::new();
    while let Some(at) = rest.find("use ") {
        let starts_word = at == 0
            || !rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        inline.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(';') else {
            break;
        };
        if starts_word {
            expand(&rest[at + 4..at + end], "", &mut out);
        } else {
            inline.push_str(&rest[at..at + end]);
        }
        rest = &rest[at + end..];
    }
    inline.push_str(rest);
    // Then paths written inline (`super::component::stamp(…)`).
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut previous = None;
    for (at, _) in inline.match_indices("::") {
        let start = inline[..at]
            .rfind(|c: char| !is_path_char(c))
            .map_or(0, |i| i + 1);
        // Each `::` of one path finds the same start.
        if previous.replace(start) == Some(start) {
            continue;
        }
        let end = inline[at..]
            .find(|c: char| !is_path_char(c))
            .map_or(inline.len(), |i| at + i);
        let path = &inline[start..end];
        if path.starts_with("crate::") || path.starts_with("super::") {
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module file a path from `from` lands in: the longest prefix of it
/// that is a module. `None` for paths outside the crate.
fn target(from: &Module, path: &str, files: &BTreeMap<Module, String>) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut module = match segments.peek() {
        Some(&"crate") => {
            segments.next();
            Vec::new()
        }
        Some(&"super") => from.clone(),
        _ => return None,
    };
    while segments.peek() == Some(&"super") {
        segments.next();
        module.pop();
    }
    for segment in segments {
        module.push(segment.to_string());
        if !files.contains_key(&module) {
            module.pop();
            break;
        }
    }
    Some(module)
}

/// The module files under `src`, each with the other units it imports.
fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = BTreeMap::new();
    modules(src, &[], &mut files);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, text) in &files {
        let out = edges.entry(module.clone()).or_default();
        for path in paths(&code(text)) {
            let Some(to) = target(module, &path, &files) else {
                continue;
            };
            // A module and the modules below it are one unit.
            if !(to.starts_with(module) || module.starts_with(&to)) {
                out.insert(to);
            }
        }
    }
    edges
}

/// The circles among the modules under `src`, each as its modules joined
/// with ` -> `.
fn circles(src: &Path) -> Vec<String> {
    let edges = imports(src);
    let mut found = Vec::new();
    let mut finished = BTreeSet::new();
    for start in edges.keys() {
        search(start, &edges, &mut Vec::new(), &mut finished, &mut found);
    }
    found.sort();
    found
}

/// Depth-first search from `module`; an edge back to a module on `trail`
/// closes a circle.
fn search(
    module: &Module,
    edges: &BTreeMap<Module, BTreeSet<Module>>,
    trail: &mut Vec<Module>,
    finished: &mut BTreeSet<Module>,
    found: &mut Vec<String>,
) {
    if let Some(at) = trail.iter().position(|m| m == module) {
        let circle: Vec<String> = trail[at..]
            .iter()
            .chain([module])
            .map(|m| m.join("::"))
            .collect();
        found.push(circle.join(" -> "));
        return;
    }
    if finished.contains(module) {
        return;
    }
    trail.push(module.clone());
    for next in edges.get(module).into_iter().flatten() {
        search(next, edges, trail, finished, found);
    }
    trail.pop();
    finished.insert(module.clone());
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles(&src);
    assert!(
        found.is_empty(),
        "import circles between modules (move what both sides need into a \
         module both import):\n{}",
        found.join("\n")
    );
}

/// Protocol modules known to import another protocol, still to be moved.
/// `crm export` writes vdir folders: a job above both protocols that lives
/// under `endpoint::crm` for now.
const KNOWN_CROSSINGS: [&str; 1] = ["endpoint::crm::export -> endpoint::vdir"];

#[test]
fn no_protocol_imports_another() {
    // What two protocols share lives in `endpoint` itself.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let protocol = |m: &Module| -> Option<String> {
        (m.len() >= 2 && m[0] == "endpoint" && m[1] != "open" && m[1] != "naming")
            .then(|| m[1].clone())
    };
    let mut found = Vec::new();
    for (module, imported) in imports(&src) {
        let Some(from) = protocol(&module) else {
            continue;
        };
        for to in imported {
            let crossing = format!("{} -> {}", module.join("::"), to.join("::"));
            if protocol(&to).is_some_and(|p| p != from) && !KNOWN_CROSSINGS.contains(&&*crossing) {
                found.push(crossing);
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn use_trees_are_expanded() {
    let mut out = Vec::new();
    expand("super::{a, b::{c, d as e}, f::G}", "", &mut out);
    assert_eq!(
        out,
        ["super::a", "super::b::c", "super::b::d", "super::f::G"]
    );
    assert_eq!(
        paths("use crate::x::y;\nfn f() { super::z::w(); }\n"),
        ["crate::x::y", "super::z::w"]
    );
}
