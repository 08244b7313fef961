//! The figures `make bench` ends its run with (issue 17's table, `tests/bench_summary.rs`):
//! each benchmark records what it measured as JSON under the figures directory, and the
//! summary reads them back and compares them with their targets. Nothing here is a target or
//! a result: only measured values go in.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// Where figures are written: `$KEYHOOK_BENCH_FIGURES`, else `target/bench-figures`.
pub fn dir() -> PathBuf {
    std::env::var_os("KEYHOOK_BENCH_FIGURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-figures")
        })
}

/// Records `figures` (name -> measured value) as the group `group` (one file per group,
/// replaced on each run).
pub fn record(group: &str, figures: &[(&str, Value)]) {
    let dir = dir();
    std::fs::create_dir_all(&dir).expect("figures directory");
    let object: Map<String, Value> = figures
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let path = dir.join(format!("{group}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&object).unwrap())
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The figures of every group recorded, by group.
pub fn read_all() -> Map<String, Value> {
    let mut all = Map::new();
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return all;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let group = path.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            all.insert(group, serde_json::from_str(&text).unwrap());
        }
    }
    all
}
