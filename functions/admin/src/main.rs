//! The admin Lambda: serves the `admin` rows of the route table (`keyhook_shared::http::routes`).
//! Wiring only: clients are built once, then every request goes to the shared dispatcher.

#[tokio::main]
async fn main() -> Result<(), keyhook_shared::lambda_http::Error> {
    keyhook_shared::http::lambda::run(keyhook_shared::http::Function::Admin).await
}
