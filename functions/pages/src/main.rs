//! The pages Lambda: serves the `pages` rows of the route table (`keyhook_shared::app::routes`),
//! the merchant dashboard and the customer portal (`/dashboard...`, `/portal/...`, their
//! assets and form posts). A function of its own so that the admin binary does not link the
//! pages' templates and code (`FunctionRoutes`: each binary links only its own handlers); the
//! pages call the same typed operations as the admin API.

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), keyhook_shared::lambda_http::Error> {
    keyhook_shared::app::lambda::run(keyhook_shared::app::routes::FunctionRoutes::PAGES).await
}
