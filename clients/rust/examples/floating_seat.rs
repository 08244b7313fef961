//! A floating-license app: take a seat at start, run while the background task heartbeats,
//! stop when the seat is lost, give it back at exit (the guard's drop).
//!
//! ```text
//! KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 \
//! KEYHOOK_KEYS=signing-keys.json \
//!   cargo run -p keyhook-client --example floating_seat -- XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
//! ```

use std::sync::Arc;

use keyhook_client::{Client, Config, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("KEYHOOK_URL")?;
    let product = std::env::var("KEYHOOK_PRODUCT")?;
    let keys = std::fs::read_to_string(std::env::var("KEYHOOK_KEYS")?)?;
    let key = std::env::args()
        .nth(1)
        .ok_or("usage: floating_seat LICENSE-KEY")?;
    let client = Arc::new(Client::new(Config::new(&url, &product, &keys)?)?);
    let device = keyhook_client::fingerprint::device_id(&product)?;

    let mut seat = match client.lease(&key, &device).await {
        Ok(seat) => seat,
        Err(Error::ConcurrencyLimit {
            in_use,
            max_concurrent,
        }) => {
            eprintln!("all seats in use ({in_use} of {max_concurrent}); try again later");
            std::process::exit(1);
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "seat taken until {} (heartbeat every {} s)",
        seat.lease().expires_at,
        seat.lease().heartbeat_seconds
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("exiting: the seat is given back"),
        lost = seat.lost() => eprintln!("seat lost: {lost:?}"),
    }
    Ok(())
}
