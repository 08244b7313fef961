//! The core crate's modules in layers, and every `crate::` import pointing down (or across
//! its own layer), never up. The test reads `shared/src`'s files, resolves each `crate::` and
//! `super::` path to the module it names, and fails naming every import that points up a layer.
//!
//! The layers, bottom to top:
//!
//! 1. **foundations**: `error`, `time`, `ids`, `clock`, `config`, `logging`, `cache`,
//!    `backoff`;
//! 2. **domain**: the rules and records (`domain`), with the API's text patterns
//!    (`domain::patterns`);
//! 3. **clients and their records**: `crypto` (the keyring caches tenant keys read from the
//!    table, so it sits with `store`), `store`, `stripe`, `mail`, `sdk`, and `http::outbound`
//!    (the one outbound HTTPS client, which `sdk` and `stripe` build on);
//! 4. **HTTP plumbing**: the rest of `http` (request, response, input, schema, auth, the
//!    webhook client): it reads tokens from the store and pages through it, so it sits above it;
//! 5. **services**: `services` (`Services`, and what the edges share: issuance, app secrets,
//!    the delivery queue, the per-IP budgets, the shared webhook URL's app cache);
//! 6. **edges**: `handlers` (HTTP requests), `consumers` (queues, streams, schedules),
//!    `dashboard`, `portal`, `import`;
//! 7. **app**: the route table, the OpenAPI document, idempotency and the Lambda adapter
//!    (`app`, or `http::{routes, openapi, published, idempotency, lambda}` where they still
//!    are).
//!
//! Code under `#[cfg(test)]` is not counted (a unit test may check a pattern against the
//! handler type that uses it). `KEYHOOK_LAYERS_SRC` points the count at another tree (another
//! checkout's `shared/src`), to measure it before a change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer with the module paths it holds, bottom first; a path belongs to the layer of
/// its longest listed prefix.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &[
            "error", "time", "ids", "clock", "config", "logging", "cache", "backoff",
        ],
    ),
    ("domain", &["domain"]),
    (
        "clients",
        &["crypto", "store", "stripe", "mail", "sdk", "http::outbound"],
    ),
    ("http plumbing", &["http"]),
    ("services", &["services"]),
    ("edges", &["handlers", "consumers", "dashboard", "portal"]),
    ("app", &["app"]),
];

/// What the crate root re-exports, by the module that defines it; the runtime crates
/// re-exported for the functions are not modules of the crate.
const ROOT_ITEMS: &[(&str, Option<&str>)] = &[
    ("Error", Some("error")),
    ("Result", Some("error")),
    ("Config", Some("config")),
    ("Services", Some("services")),
    ("aws_lambda_events", None),
    ("lambda_http", None),
    ("lambda_runtime", None),
];

/// The layer (index, name) of a module path.
fn layer_of(path: &[String]) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (i, (name, prefixes)) in LAYERS.iter().enumerate() {
        for prefix in *prefixes {
            let parts: Vec<&str> = prefix.split("::").collect();
            if path.len() >= parts.len()
                && path.iter().zip(&parts).all(|(a, b)| a == b)
                && best.is_none_or(|(len, _, _)| parts.len() > len)
            {
                best = Some((parts.len(), i, name));
            }
        }
    }
    best.map(|(_, i, name)| (i, name))
}

fn src_dir() -> PathBuf {
    match std::env::var_os("KEYHOOK_LAYERS_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/src"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("shared/src reads") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path (`http/schema.rs` is `http::schema`, `store/mod.rs` is `store`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source without comments and without `#[cfg(test)]` items; also the names of the
/// test-only modules it declares (`#[cfg(test)] mod x;`).
fn code_of(source: &str) -> (String, Vec<String>) {
    let no_comments: String = source
        .lines()
        .map(|l| match l.find("//") {
            // Not the `//` of a URL in a string.
            Some(i) if !l[..i].ends_with(':') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut test_modules = Vec::new();
    let mut rest = no_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        // The item ends at its `;` or at the brace closing its first `{`.
        let (mut depth, mut end) = (0usize, item.len());
        for (i, c) in item.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let declared = item[..end].trim();
        if let Some(name) = declared
            .strip_prefix("mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            test_modules.push(name.trim().to_string());
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_modules)
}

/// The paths a `use` tree or an inline path names: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`,
/// `a::c::e` (`self` names its parent).
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(inner) = tree.strip_prefix('{') {
        let inner = &inner[..inner.rfind('}').unwrap_or(inner.len())];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        return;
    }
    let name: String = tree
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        if !prefix.is_empty() {
            out.push(prefix.to_vec());
        }
        return;
    }
    let after = tree[name.len()..].trim_start();
    match after.strip_prefix("::") {
        Some(rest) => {
            let mut next = prefix.to_vec();
            next.push(name);
            expand(rest, &next, out);
        }
        None if name == "self" => out.push(prefix.to_vec()),
        None => {
            let mut path = prefix.to_vec();
            path.push(name);
            out.push(path);
        }
    }
}

/// Whether a path names something of the crate that has a layer, or a root item.
fn known(path: &[String]) -> bool {
    !path.is_empty()
        && (layer_of(path).is_some() || ROOT_ITEMS.iter().any(|(item, _)| path[0] == *item))
}

/// The path or `use` tree at the start of `rest`: its segments, and its braces if any.
fn tree_at(rest: &str) -> &str {
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth <= 1 => return &rest[..i + c.len_utf8()],
            '}' => depth -= 1,
            _ if depth > 0 || c.is_alphanumeric() || c == '_' || c == ':' => {}
            _ => return &rest[..i],
        }
    }
    rest
}

/// Every path after `crate::` or `super::` in `code`, made absolute from `module`.
fn paths_in(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for anchor in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().last();
            rest = &rest[at + anchor.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
                continue;
            }
            let mut tree = tree_at(rest);
            if anchor == "crate::" {
                expand(tree, &[], &mut out);
                continue;
            }
            // `super` of a file's module is its parent; inside an inline module of the file
            // it is the file's own module (tried when the parent's reading names nothing).
            let mut levels = 1;
            while let Some(r) = tree.strip_prefix("super::") {
                levels += 1;
                tree = r;
            }
            for base_len in [
                module.len().saturating_sub(levels),
                module.len() + 1 - levels,
            ] {
                let mut paths = Vec::new();
                expand(tree, &module[..base_len.min(module.len())], &mut paths);
                if paths.iter().all(|p| known(p)) {
                    out.extend(paths);
                    break;
                }
            }
        }
    }
    out
}

/// One import: the module that imports, the module path it names.
struct Import {
    file: String,
    from: Vec<String>,
    to: Vec<String>,
}

fn imports() -> Vec<Import> {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut parsed = Vec::new();
    for file in &files {
        let module = module_of(&root, file);
        let (code, tests) = code_of(&std::fs::read_to_string(file).unwrap());
        for name in tests {
            let mut m = module.clone();
            m.push(name);
            test_only.insert(m);
        }
        parsed.push((file, module, code));
    }
    let mut out = Vec::new();
    for (file, module, code) in parsed {
        if module.is_empty() || test_only.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        for mut to in paths_in(&code, &module) {
            if let Some((_, defined)) = ROOT_ITEMS.iter().find(|(item, _)| to[0] == *item) {
                match defined {
                    Some(m) => to = vec![m.to_string()],
                    None => continue,
                }
            }
            out.push(Import {
                file: file.strip_prefix(&root).unwrap().display().to_string(),
                from: module.clone(),
                to,
            });
        }
    }
    out
}

/// The unit a module counts in for cycles: its top-level module, with `http`'s application
/// part counted as `app`.
fn unit_of(path: &[String]) -> String {
    match layer_of(path) {
        Some((_, "app")) => "app".into(),
        _ => path[0].clone(),
    }
}

#[test]
fn every_module_has_a_layer() {
    let unknown: BTreeSet<String> = imports()
        .iter()
        .flat_map(|i| [&i.from, &i.to])
        .filter(|p| layer_of(p).is_none())
        .map(|p| p.join("::"))
        .collect();
    assert!(
        unknown.is_empty(),
        "modules in no layer (add them to LAYERS): {unknown:?}"
    );
}

#[test]
fn imports_point_down_a_layer_never_up() {
    let mut up = Vec::new();
    for i in imports() {
        let (Some((from, from_name)), Some((to, to_name))) = (layer_of(&i.from), layer_of(&i.to))
        else {
            continue;
        };
        if to > from {
            up.push(format!(
                "{}: {} ({from_name}) imports crate::{} ({to_name})",
                i.file,
                i.from.join("::"),
                i.to.join("::")
            ));
        }
    }
    up.sort();
    up.dedup();
    let cycles = cycles();
    eprintln!(
        "{} upward imports; {} import cycles between top-level modules: {cycles:?}",
        up.len(),
        cycles.len()
    );
    assert!(
        up.is_empty(),
        "{} imports point up a layer:\n{}",
        up.len(),
        up.join("\n")
    );
}

/// The pairs of top-level modules that import each other, directly or through others: each
/// strongly connected group of more than one module.
fn cycles() -> Vec<Vec<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in imports() {
        let (from, to) = (unit_of(&i.from), unit_of(&i.to));
        if from != to {
            edges.entry(from).or_default().insert(to);
        }
    }
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(m) = todo.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let units: BTreeSet<String> = edges.keys().cloned().collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut placed = BTreeSet::new();
    for u in &units {
        if placed.contains(u) {
            continue;
        }
        let from_u = reach(u);
        let group: Vec<String> = units
            .iter()
            .filter(|v| *v == u || (from_u.contains(*v) && reach(v).contains(u)))
            .cloned()
            .collect();
        if group.len() > 1 {
            placed.extend(group.iter().cloned());
            groups.push(group);
        }
    }
    groups
}
