//! Every client library against a running Keyhook, the same script in every language, the
//! outcomes compared exactly with the Rust client's (`keyhook-client`, driven here in-process as
//! the reference) and with what the script must give.
//!
//! The stack: a tenant, a product with `maxDevices: 2`, one signed test purchase of one license
//! per language. Each language `L` in [`LANGUAGES`] provides `clients/L/e2e.sh PHASE` (it builds
//! its example if needed, quietly, then runs it), given `KEYHOOK_URL`, `KEYHOOK_TENANT_ID`,
//! `KEYHOOK_PRODUCT_ID`, `KEYHOOK_LICENSE_KEY`, `KEYHOOK_CACHE_DIR` (a fresh directory per
//! language: its mark, files, answers and the key set it fetched online),
//! `KEYHOOK_ENVIRONMENT=test` and `KEYHOOK_CLOCK_OFFSET_SECONDS` (the client's clock is now + this).
//! The phases ([`PHASES`]): `online` (validate, activate on two devices, refused on the third,
//! deactivate, activate, validate, check out a license file), `offline` (Keyhook unreachable,
//! three days later: valid from the kept file) and `rollback` (unreachable, the clock then set
//! two days back, to a day inside the file's life and after everything signed: only the clock
//! mark can refuse it), then `seats`, on a floating product of its own (one seat, a meter
//! `exports` of 2 a month; its license, its product id and a fresh cache directory in the same
//! variables): a seat taken, a second device refused with the signed counts, the seat given
//! back and taken by the second device, usage recorded up to the limit and refused past it
//! (`VALID used/limit`, `USAGE_LIMIT_REACHED used/limit`), the seat given back (`RELEASED`).
//! Device ids are derived from the names `dev-A`, `dev-B`, `dev-C` as machine ids
//! (docs/integrate.md), so every language sends the same ids.
//!
//! Each step prints one JSON line on stdout, `{"step", "ok", "code", "offline"}`: `ok` is the
//! standing's `valid` (false for every error), `code` the signed answer's code (`VALID` for a
//! checked-out license file; a refused checkout's signed code) or, for an error, its kind as
//! every client names it (network, server, verification, test_license, retired_key, rollback,
//! grace_expired, no_offline_proof, …), and `offline` whether the outcome was decided without
//! an answer from Keyhook (a kept proof, or the errors network, rollback, grace_expired,
//! no_offline_proof).
//!
//! Nothing is skipped silently: every language whose `e2e.sh` exists runs, and a missing
//! toolchain fails the test (`make test` installs them); `KEYHOOK_CLIENTS=python,typescript`
//! narrows the run explicitly (a named language without `e2e.sh` fails).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyhook_client::{Client, Config, Environment, Error, Source};
use keyhook_format::VerifyError;
use keyhook_tests::{checkout_event, Stack, DAY};
use serde_json::{json, Value};

/// The languages besides the Rust reference.
const LANGUAGES: &[&str] = &["python", "typescript", "go", "java"];

/// The address the offline phases use: nothing listens there.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// How long one phase of one language may take (a first build of the Go or Java example
/// included).
const PHASE_TIMEOUT: Duration = Duration::from_secs(600);

type Steps = &'static [(&'static str, &'static str)];

/// The script: each phase, its clock offset in seconds, its steps (action, device name).
const PHASES: &[(&str, i64, Steps)] = &[
    (
        "online",
        0,
        &[
            ("validate", "dev-A"),
            ("activate", "dev-A"),
            ("activate", "dev-B"),
            ("activate", "dev-C"),
            ("deactivate", "dev-B"),
            ("activate", "dev-C"),
            ("validate", "dev-A"),
            ("checkout", "dev-A"),
        ],
    ),
    ("offline", 3 * DAY, &[("validate", "dev-A")]),
    ("rollback", DAY, &[("validate", "dev-A")]),
    (
        "seats",
        0,
        &[
            ("lease", "dev-A"),
            ("lease", "dev-B"),
            ("release", "dev-A"),
            ("lease", "dev-B"),
            ("usage", "dev-B"),
            ("usage", "dev-B"),
            ("usage", "dev-B"),
            ("release", "dev-B"),
        ],
    ),
];

/// The phases that talk to Keyhook (and fetch its key set first); the others find it
/// unreachable.
fn is_online(phase: &str) -> bool {
    matches!(phase, "online" | "seats")
}

/// What the script must give, line by line.
fn expected() -> Vec<Value> {
    let line = |step: &str, ok: bool, code: &str, offline: bool| json!({"step": step, "ok": ok, "code": code, "offline": offline});
    vec![
        line("online.1.validate dev-A", false, "NOT_ACTIVATED", false),
        line("online.2.activate dev-A", true, "VALID", false),
        line("online.3.activate dev-B", true, "VALID", false),
        line(
            "online.4.activate dev-C",
            false,
            "DEVICE_LIMIT_REACHED",
            false,
        ),
        line("online.5.deactivate dev-B", false, "NOT_ACTIVATED", false),
        line("online.6.activate dev-C", true, "VALID", false),
        line("online.7.validate dev-A", true, "VALID", false),
        line("online.8.checkout dev-A", true, "VALID", false),
        line("offline.1.validate dev-A", true, "VALID", true),
        line("rollback.1.validate dev-A", false, "rollback", true),
        line("seats.1.lease dev-A", true, "VALID", false),
        line(
            "seats.2.lease dev-B",
            false,
            "CONCURRENCY_LIMIT_REACHED 1/1",
            false,
        ),
        line("seats.3.release dev-A", true, "RELEASED", false),
        line("seats.4.lease dev-B", true, "VALID", false),
        line("seats.5.usage dev-B", true, "VALID 1/2", false),
        line("seats.6.usage dev-B", true, "VALID 2/2", false),
        line(
            "seats.7.usage dev-B",
            false,
            "USAGE_LIMIT_REACHED 2/2",
            false,
        ),
        line("seats.8.release dev-B", true, "RELEASED", false),
    ]
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(language: &str) -> PathBuf {
    root().join("clients").join(language).join("e2e.sh")
}

/// The languages to run: every one with an `e2e.sh`, or exactly those `KEYHOOK_CLIENTS` names.
fn languages() -> Vec<String> {
    match std::env::var("KEYHOOK_CLIENTS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "rust")
            .map(|l| {
                assert!(
                    LANGUAGES.contains(&l),
                    "KEYHOOK_CLIENTS names {l:?}; the languages are rust, {}",
                    LANGUAGES.join(", ")
                );
                assert!(
                    script(l).exists(),
                    "KEYHOOK_CLIENTS names {l}, which has no clients/{l}/e2e.sh"
                );
                l.to_string()
            })
            .collect(),
        _ => LANGUAGES
            .iter()
            .filter(|l| script(l).exists())
            .map(|l| l.to_string())
            .collect(),
    }
}

/// One run's settings.
#[derive(Clone)]
struct Run {
    base_url: String,
    tenant_id: String,
    product_id: String,
    key: String,
    cache: PathBuf,
    /// The floating, metered product of the `seats` phase and this run's license of it.
    seats_product_id: String,
    seats_key: String,
}

impl Run {
    /// The settings of `phase`: `seats` has its own product, license and cache directory.
    fn for_phase(&self, phase: &str) -> Run {
        if phase != "seats" {
            return self.clone();
        }
        Run {
            product_id: self.seats_product_id.clone(),
            key: self.seats_key.clone(),
            cache: self.cache.join("seats"),
            ..self.clone()
        }
    }
}

/// The kind of a client error, as every client names it.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Network(_) => "network",
        Error::Server { .. } => "server",
        Error::Verify(VerifyError::TestLicense) => "test_license",
        Error::Verify(VerifyError::RetiredKey { .. }) => "retired_key",
        Error::Verify(_) => "verification",
        Error::ClockRollback(_) => "rollback",
        Error::GraceExpired { .. } => "grace_expired",
        Error::NoOfflineProof(_) => "no_offline_proof",
        Error::Refused { .. } | Error::ConcurrencyLimit { .. } | Error::UsageLimit { .. } => {
            "refused"
        }
        Error::Config(_) => "config",
        Error::Cache(_) => "cache",
        Error::Fingerprint(_) => "fingerprint",
    }
}

/// The Rust client's clock is a function: one per offset of [`PHASES`].
fn clock_for(offset: i64) -> fn() -> time::OffsetDateTime {
    fn one_day_on() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::days(1)
    }
    fn three_days_on() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::days(3)
    }
    match offset {
        0 => time::OffsetDateTime::now_utc,
        DAY => one_day_on,
        o if o == 3 * DAY => three_days_on,
        other => panic!("no clock for an offset of {other} s"),
    }
}

/// The script with the Rust client, in-process: the reference.
async fn rust_reference(all: &Run) -> Vec<Value> {
    let mut lines = Vec::new();
    for (phase, offset, steps) in PHASES {
        let run = &all.for_phase(phase);
        std::fs::create_dir_all(&run.cache).unwrap();
        let keys_path = run.cache.join("keys.json");
        if is_online(phase) {
            let keys = reqwest::get(format!(
                "{}/api/tenants/{}/signing-keys",
                run.base_url, run.tenant_id
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
            std::fs::write(&keys_path, keys).unwrap();
        }
        let base_url = if is_online(phase) {
            run.base_url.as_str()
        } else {
            UNREACHABLE
        };
        let keys = std::fs::read_to_string(&keys_path).unwrap();
        let mut config = Config::new(base_url, &run.product_id, &keys).unwrap();
        config.cache_dir = Some(run.cache.clone());
        config.environment = Environment::Test;
        config.clock = clock_for(*offset);
        let client = std::sync::Arc::new(Client::new(config).unwrap());
        let mut seats = std::collections::HashMap::new();
        for (n, (action, name)) in steps.iter().enumerate() {
            let step = format!("{phase}.{}.{action} {name}", n + 1);
            let device = keyhook_client::fingerprint::device_id_from(&run.product_id, name);
            let key = run.key.as_str();
            if let Some(line) =
                seats_step(&client, &mut seats, &step, action, name, key, &device).await
            {
                lines.push(line);
                continue;
            }
            let outcome = match *action {
                "validate" => client.validate(Some(key), &device).await,
                "activate" => client.activate(key, &device, None).await,
                "deactivate" => client.deactivate(key, &device).await,
                "checkout" => match client.checkout_file(key, &device, None, false).await {
                    Ok(_) => {
                        lines.push(json!({"step": format!("{phase}.{}.{action} {name}", n + 1),
                                          "ok": true, "code": "VALID", "offline": false}));
                        continue;
                    }
                    Err(e) => Err(e),
                },
                other => panic!("no action {other}"),
            };
            let (ok, code, offline) = match outcome {
                Ok(s) => (s.valid, s.code, s.source != Source::Online),
                Err(Error::Refused { code, .. }) => (false, code, false),
                Err(e) => {
                    let k = kind(&e);
                    let offline = matches!(
                        k,
                        "network" | "rollback" | "grace_expired" | "no_offline_proof"
                    );
                    (false, k.to_string(), offline)
                }
            };
            lines.push(json!({"step": step, "ok": ok, "code": code, "offline": offline}));
        }
    }
    lines
}

/// The `seats` phase's actions (`lease`, `release`, `usage`) with the Rust client: the step's
/// line, or `None` for another action. Leases are kept by device name until released.
async fn seats_step(
    client: &std::sync::Arc<Client>,
    seats: &mut std::collections::HashMap<String, keyhook_client::LeaseGuard>,
    step: &str,
    action: &str,
    name: &str,
    key: &str,
    device: &str,
) -> Option<Value> {
    let line =
        |ok: bool, code: String| json!({"step": step, "ok": ok, "code": code, "offline": false});
    let refused = |e: Error| match e {
        Error::ConcurrencyLimit {
            in_use,
            max_concurrent,
        } => line(
            false,
            format!("CONCURRENCY_LIMIT_REACHED {in_use}/{max_concurrent}"),
        ),
        Error::UsageLimit { used, limit, .. } => {
            line(false, format!("USAGE_LIMIT_REACHED {used}/{limit}"))
        }
        Error::Refused { code, .. } => line(false, code),
        e => line(false, kind(&e).to_string()),
    };
    Some(match action {
        "lease" => match client.lease(key, device).await {
            Ok(seat) => {
                seats.insert(name.to_string(), seat);
                line(true, "VALID".into())
            }
            Err(e) => refused(e),
        },
        // No lease kept for the device (its `lease` step failed): nothing live to give back.
        "release" => match seats.remove(name) {
            None => line(false, "NOT_LIVE".into()),
            Some(seat) => match seat.release().await {
                Ok(true) => line(true, "RELEASED".into()),
                Ok(false) => line(false, "NOT_LIVE".into()),
                Err(e) => refused(e),
            },
        },
        "usage" => {
            let n = step.split('.').nth(1).unwrap();
            match client
                .record_usage(key, device, "exports", 1, &format!("e2e-seats-{n}"))
                .await
            {
                Ok(u) => line(true, format!("VALID {}/{}", u.used, u.limit)),
                Err(e) => refused(e),
            }
        }
        _ => return None,
    })
}

/// One phase of `language`'s e2e.sh: its stdout's lines, or why it failed.
fn run_phase(language: &str, phase: &str, offset: i64, run: &Run) -> Result<Vec<Value>, String> {
    let run = &run.for_phase(phase);
    let mut command = Command::new("bash");
    command
        .arg(script(language))
        .arg(phase)
        .env(
            "KEYHOOK_URL",
            if is_online(phase) {
                run.base_url.as_str()
            } else {
                UNREACHABLE
            },
        )
        .env("KEYHOOK_TENANT_ID", &run.tenant_id)
        .env("KEYHOOK_PRODUCT_ID", &run.product_id)
        .env("KEYHOOK_LICENSE_KEY", &run.key)
        .env("KEYHOOK_CACHE_DIR", &run.cache)
        .env("KEYHOOK_ENVIRONMENT", "test")
        .env("KEYHOOK_CLOCK_OFFSET_SECONDS", offset.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("{language} {phase}: bash: {e}"))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > PHASE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{language} {phase}: no end after {PHASE_TIMEOUT:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    eprintln!(
        "clients e2e: {language} {phase} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !status.success() {
        return Err(format!(
            "clients/{language}/e2e.sh {phase} failed ({status}); stdout:\n{out}\nstderr:\n{err}"
        ));
    }
    out.lines()
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                format!("clients/{language}/e2e.sh {phase}: a line that is not JSON ({e}): {l:?}\nstderr:\n{err}")
            })
        })
        .collect()
}

/// Every phase of `language`, in order.
fn run_language(language: &str, run: &Run) -> Result<Vec<Value>, String> {
    let mut lines = Vec::new();
    for (phase, offset, _) in PHASES {
        lines.extend(run_phase(language, phase, *offset, run)?);
    }
    Ok(lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_language_gives_the_rust_clients_outcomes_against_a_running_keyhook() {
    let languages = languages();
    eprintln!("clients e2e: rust (reference), {}", languages.join(", "));
    let stack = Stack::start().await;
    let tenant = stack.tenant("Clients").await;
    let app = stack.app(&tenant).await;
    let product = stack
        .product(&tenant, json!({"maxDevices": 2, "entitlements": ["pro"]}))
        .await;
    let (event, _) = checkout_event(&product, Some(languages.len() as u32 + 1));
    let (status, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    // The `seats` phase's product: one floating seat, 2 exports a month.
    let seats_product = stack
        .product(
            &tenant,
            json!({"maxConcurrent": 1, "leaseSeconds": 60,
                   "meters": [{"name": "exports", "limit": 2, "period": "month"}]}),
        )
        .await;
    let (event, _) = checkout_event(&seats_product, Some(languages.len() as u32 + 1));
    let (status, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    let keys_of = |product: &str| {
        let (stack, tenant, product) = (&stack, &tenant, product.to_string());
        async move {
            let keys: Vec<String> = stack
                .licenses(tenant, "")
                .await
                .iter()
                .filter(|l| l["productId"] == product.as_str())
                .map(|l| l["key"].as_str().unwrap().to_string())
                .collect();
            keys
        }
    };
    let keys = keys_of(&product).await;
    let seats_keys = keys_of(&seats_product).await;
    assert_eq!(keys.len(), languages.len() + 1);
    assert_eq!(seats_keys.len(), languages.len() + 1);
    let caches = std::env::temp_dir().join(format!("keyhook-clients-e2e-{}", tenant.id));
    let run_of = |i: usize, name: &str| Run {
        base_url: stack.base_url.clone(),
        tenant_id: tenant.id.clone(),
        product_id: product.clone(),
        key: keys[i].clone(),
        cache: caches.join(name),
        seats_product_id: seats_product.clone(),
        seats_key: seats_keys[i].clone(),
    };

    // The other languages run beside the reference, each on its own license.
    let others: Vec<_> = languages
        .iter()
        .enumerate()
        .map(|(i, language)| {
            let (language, run) = (language.clone(), run_of(i + 1, language));
            tokio::task::spawn_blocking(move || (language.clone(), run_language(&language, &run)))
        })
        .collect();
    let reference = rust_reference(&run_of(0, "rust")).await;
    assert_eq!(
        reference,
        expected(),
        "the Rust client's outcomes are not the script's"
    );
    let mut failures = Vec::new();
    for other in others {
        let (language, lines) = other.await.unwrap();
        match lines {
            Ok(lines) if lines == reference => {}
            Ok(lines) => failures.push(format!(
                "{language} differs from the Rust client:\n  got      {}\n  expected {}",
                lines
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n           "),
                reference
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n           ")
            )),
            Err(e) => failures.push(e),
        }
    }
    let _ = std::fs::remove_dir_all(&caches);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
