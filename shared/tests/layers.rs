//! The library's modules depend one way only: no module reaches, through any chain of `use`s,
//! back to itself, and the core stays at the bottom (`domain` uses nothing of the crate, `ports`
//! only `domain`). Read from the source: every `crate::` and `super::` path outside tests and
//! comments. Hand-written rather than `cargo modules`, which would be one more tool to install
//! for one question.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path inside the crate, `["site", "pages"]`; the crate root is `[]`.
type ModulePath = Vec<String>;

fn modules(src: &Path) -> BTreeMap<ModulePath, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: ModulePath = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            found.insert(
                module,
                without_tests_and_comments(&std::fs::read_to_string(&path).unwrap()),
            );
        }
    }
    found
}

/// The code that ships: unit tests may reach anywhere, comments name modules freely.
fn without_tests_and_comments(source: &str) -> String {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path written after `crate::` or `super::`, with `{…}` groups expanded:
/// `crate::a::{b, c::{d}}` is `a::b`, `a::c::d`.
fn paths_used(code: &str, module: &ModulePath) -> Vec<ModulePath> {
    let mut used = Vec::new();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent(module))] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let preceded_by_word = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            rest = &rest[at + anchor.len()..];
            if !preceded_by_word {
                expand(rest, base.clone(), &mut used);
            }
        }
    }
    used
}

fn parent(module: &ModulePath) -> ModulePath {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// Reads one path (or group) at the start of `text`, prefixed by `prefix`.
fn expand(text: &str, mut prefix: ModulePath, used: &mut Vec<ModulePath>) {
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            for item in top_level_items(group) {
                expand(item, prefix.clone(), used);
            }
            return;
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        prefix.push(rest[..len].to_owned());
        rest = &rest[len..];
        match rest.strip_prefix("::") {
            Some(next) => rest = next.trim_start(),
            None => break,
        }
    }
    used.push(prefix);
}

/// The comma-separated items of a `{…}` group (whose opening brace is already read).
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The module a used path lands in: its longest prefix that is a module.
fn module_of(path: &ModulePath, known: &BTreeMap<ModulePath, String>) -> Option<ModulePath> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| known.contains_key(candidate))
}

/// `module -> modules it uses` at the given depth (1: top-level modules such as `intake`;
/// 2: `site::pages`), without a module's uses of itself.
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let name = |m: &ModulePath| m[..m.len().min(depth)].join("::");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &known {
        if module.is_empty() {
            continue;
        }
        for path in paths_used(code, module) {
            if let Some(target) = module_of(&path, &known)
                && name(&target) != name(module)
            {
                edges.entry(name(module)).or_default().insert(name(&target));
            }
        }
    }
    edges
}

/// A chain of uses that comes back to where it started, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        trail: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = trail.iter().position(|n| n == node) {
            let mut found = trail[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        trail.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, trail, done) {
                return Some(found);
            }
        }
        trail.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_depend_one_way() {
    let edges = graph(1);
    assert!(
        edges.contains_key("http"),
        "the reader found no uses at all"
    );
    if let Some(found) = circle(&edges) {
        panic!("modules use each other in a circle: {}", found.join(" -> "));
    }
}

#[test]
fn files_depend_one_way() {
    if let Some(found) = circle(&graph(usize::MAX)) {
        panic!("modules use each other in a circle: {}", found.join(" -> "));
    }
}

#[test]
fn the_core_stays_at_the_bottom() {
    let edges = graph(1);
    assert_eq!(
        edges.get("domain"),
        None,
        "domain must not use the rest of the crate"
    );
    let ports = edges.get("ports").cloned().unwrap_or_default();
    assert_eq!(
        ports,
        BTreeSet::from(["domain".to_owned()]),
        "ports use only domain"
    );
}

#[test]
fn the_reader_sees_groups_and_super() {
    let module = vec!["site".to_owned(), "pages".to_owned()];
    let used = paths_used(
        "use crate::a::{b, c::{d, e}};\nuse super::layout::x; fn f() { crate::g::h(); }",
        &module,
    );
    let used: Vec<String> = used.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        used,
        ["a::b", "a::c::d", "a::c::e", "g::h", "site::layout::x"]
    );
    let edges = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(circle(&edges).unwrap(), ["a", "b", "a"]);
}
