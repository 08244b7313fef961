//! The docs Lambda: serves the `docs` rows of the route table (`keyhook_shared::app::routes`),
//! `GET /docs` and its renderer. A function of its own so that the admin binary does not link
//! the renderer's bytes (`FunctionRoutes`: each binary links only its own handlers).

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), keyhook_shared::lambda_http::Error> {
    keyhook_shared::app::lambda::run(keyhook_shared::app::routes::FunctionRoutes::DOCS).await
}
