//! The webhook Lambda: serves the `webhook` rows of the route table (`keyhook_shared::app::routes`).
//! Wiring only: clients are built once, then its own routes are served (`FunctionRoutes`: the
//! binary links no other function's handlers).

// mimalloc on the hot paths (the webhook and validation): parsing JSON and reading items is
// mostly allocation, which it makes cheaper (docs/deploy.md, "Performance", has it measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), keyhook_shared::lambda_http::Error> {
    keyhook_shared::app::lambda::run(keyhook_shared::app::routes::FunctionRoutes::WEBHOOK).await
}
