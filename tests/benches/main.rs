//! `make bench`'s benchmarks (not tests: they print figures and assert nothing about time), in
//! one binary so that the release profile's whole-program (fat) LTO links once rather than once
//! per benchmark. Each benchmark still runs in a process of its own (this binary, started again
//! with `KEYHOOK_BENCH_RUN`), so none measures another's leftover threads, caches or tables.
//!
//! `cargo bench -p keyhook-tests` runs them all, in the order below; `cargo bench -p
//! keyhook-tests validate purchase` runs those named.

// The allocator of the webhook and validate functions (functions/*/src/main.rs), whose hot
// paths these benchmarks measure.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod checkout;
mod import;
mod local_stack;
mod purchase;
mod validate;
mod webhooks_out;

/// Each benchmark by name, in the order they run.
const BENCHES: &[(&str, fn())] = &[
    ("purchase", purchase::main),
    ("validate", validate::main),
    ("admin", admin::main),
    ("checkout", checkout::main),
    ("import", import::main),
    ("webhooks_out", webhooks_out::main),
    ("local_stack", local_stack::main),
];

/// Set on the process that runs one benchmark.
const RUN: &str = "KEYHOOK_BENCH_RUN";

fn main() {
    if let Ok(name) = std::env::var(RUN) {
        let (_, run) = BENCHES
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no benchmark named {name}"));
        return run();
    }
    // cargo passes `--bench` (and any flags after `--`); the other arguments name benchmarks.
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Some(unknown) = named.iter().find(|n| BENCHES.iter().all(|(b, _)| b != n)) {
        let known: Vec<&str> = BENCHES.iter().map(|(b, _)| *b).collect();
        eprintln!(
            "no benchmark named {unknown}; the benchmarks: {}",
            known.join(", ")
        );
        std::process::exit(2);
    }
    let me = std::env::current_exe().expect("this binary's path");
    for (name, _) in BENCHES {
        if !named.is_empty() && !named.iter().any(|n| n == name) {
            continue;
        }
        let status = std::process::Command::new(&me)
            .env(RUN, name)
            .status()
            .unwrap_or_else(|e| panic!("starting the {name} benchmark: {e}"));
        if !status.success() {
            eprintln!("the {name} benchmark failed ({status})");
            std::process::exit(1);
        }
    }
}
