//! A local Lambda Runtime API: runs a real function binary as Lambda would (the binary polls
//! `GET /2018-06-01/runtime/invocation/next`, posts `.../{id}/response` or `.../{id}/error`),
//! so the sample events in `events/` go through the exact code that ships, not a library call.
//! The deployment benchmark (`make bench-deploy`) uses it too: it records when the first
//! `next` arrives (cold start) and reads the process's peak RSS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The function's response (`/response`), parsed as JSON.
    Response(Value),
    /// The function reported an error (`/error` or `/init/error`).
    Error(Value),
}

struct Invocation {
    id: String,
    payload: Bytes,
}

#[derive(Default)]
struct Shared {
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    first_next: Option<Instant>,
    nexts: u64,
    init_error: Option<Value>,
}

struct Api {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    shared: Mutex<Shared>,
}

/// One Runtime API endpoint, for one function process.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    api: Arc<Api>,
    sender: mpsc::UnboundedSender<Invocation>,
    counter: std::sync::atomic::AtomicU64,
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    /// Serves the Runtime API on a free loopback port.
    pub async fn start() -> RuntimeApi {
        let (sender, receiver) = mpsc::unbounded_channel();
        let api = Arc::new(Api {
            queue: tokio::sync::Mutex::new(receiver),
            shared: Mutex::new(Shared::default()),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(respond),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(fail))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(Arc::clone(&api));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuntimeApi {
            addr,
            api,
            sender,
            counter: Default::default(),
        }
    }

    /// When the function first asked for work (it finished its init), if it has.
    pub fn first_next(&self) -> Option<Instant> {
        self.api.shared.lock().unwrap().first_next
    }

    /// An init error the function reported, if any.
    pub fn init_error(&self) -> Option<Value> {
        self.api.shared.lock().unwrap().init_error.clone()
    }

    /// Waits until the function has asked for its first invocation.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Instant> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Some(t) = self.first_next() {
                return Some(t);
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        None
    }

    /// Hands `payload` to the function and waits for its answer.
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Outcome {
        self.invoke_bytes(serde_json::to_vec(payload).unwrap().into(), timeout)
            .await
    }

    pub async fn invoke_bytes(&self, payload: Bytes, timeout: Duration) -> Outcome {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("8f3c2a1e-0000-4000-8000-{n:012}");
        let (tx, rx) = oneshot::channel();
        self.api
            .shared
            .lock()
            .unwrap()
            .waiting
            .insert(id.clone(), tx);
        self.sender
            .send(Invocation {
                id: id.clone(),
                payload,
            })
            .expect("runtime API is running");
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => panic!("invocation {id}: the runtime API dropped it"),
            Err(_) => panic!(
                "invocation {id}: no answer within {timeout:?} (init error: {:?})",
                self.init_error()
            ),
        }
    }
}

async fn next(State(api): State<Arc<Api>>) -> Response {
    {
        let mut shared = api.shared.lock().unwrap();
        shared.nexts += 1;
        shared.first_next.get_or_insert_with(Instant::now);
    }
    let Some(inv) = api.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        headers.insert(k, HeaderValue::from_str(&v).unwrap());
    };
    set("lambda-runtime-aws-request-id", inv.id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:keyhook-local".to_string(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=53995c3f42cd8ad8;Sampled=0".to_string(),
    );
    set("content-type", "application/json".to_string());
    (StatusCode::OK, headers, inv.payload).into_response()
}

fn finish(api: &Api, id: &str, outcome: Outcome) -> StatusCode {
    match api.shared.lock().unwrap().waiting.remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn respond(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(&api, &id, Outcome::Response(json_or_text(&body)))
}

async fn fail(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(&api, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State(api): State<Arc<Api>>, body: Bytes) -> StatusCode {
    let error = json_or_text(&body);
    let mut shared = api.shared.lock().unwrap();
    shared.init_error = Some(error.clone());
    for (_, tx) in shared.waiting.drain() {
        let _ = tx.send(Outcome::Error(error.clone()));
    }
    StatusCode::ACCEPTED
}

/// A function binary running against a [`RuntimeApi`]; killed on drop.
pub struct FunctionProcess {
    pub child: Child,
    pub started: Instant,
    pub log: PathBuf,
}

impl FunctionProcess {
    /// Starts `binary` with Lambda's environment (and nothing else of ours but `env`).
    pub fn spawn(binary: &Path, api: &RuntimeApi, env: &[(String, String)]) -> FunctionProcess {
        let name = binary.file_name().unwrap().to_string_lossy().into_owned();
        let log = std::env::temp_dir().join(format!(
            "keyhook-{name}-{}-{}.log",
            std::process::id(),
            api.addr.port()
        ));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        FunctionProcess {
            child,
            started,
            log,
        }
    }

    /// What the function logged so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Peak resident set size so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The API Gateway base URL the functions are given (`KEYHOOK_PUBLIC_BASE_URL`) when run on
/// the local Runtime API: the one the sample events' requests name.
pub const BASE_URL: &str = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";

/// The sample events (`events/` at the workspace's root).
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Where cargo put this build's binaries (`target/<profile>/`), from the running executable
/// (`target/<profile>/deps/<test>`), unless `KEYHOOK_FUNCTION_BIN_DIR` says otherwise.
pub fn binary_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KEYHOOK_FUNCTION_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap().to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The built binary of a Lambda function (`keyhook-webhook`, ...).
pub fn function_binary(name: &str) -> PathBuf {
    let path = binary_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (`make test` does)",
        path.display()
    );
    path
}
