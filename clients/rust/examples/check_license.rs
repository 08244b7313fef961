//! A merchant's app, in a few lines: check the license at start, activate this machine on
//! first run, keep a license file for offline use.
//!
//! ```text
//! KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 \
//! KEYHOOK_KEYS=signing-keys.json \
//!   cargo run -p keyhook-client --example check_license -- XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
//! ```
//! (`signing-keys.json`: the body of `GET /api/tenants/{tenantId}/signing-keys`; embed it in
//! your app with `include_str!`.)

use keyhook_client::{Client, Config, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("KEYHOOK_URL")?;
    let product = std::env::var("KEYHOOK_PRODUCT")?;
    let keys = std::fs::read_to_string(std::env::var("KEYHOOK_KEYS")?)?;
    let key = std::env::args()
        .nth(1)
        .ok_or("usage: check_license LICENSE-KEY")?;

    let mut config = Config::new(&url, &product, &keys)?;
    config.cache_dir = Some(std::env::temp_dir().join(format!("myapp-license-{product}")));
    config.grace = time::Duration::days(14);
    let client = Client::new(config)?;
    let device = keyhook_client::fingerprint::device_id(&product)?;

    let mut status = client.validate(Some(&key), &device).await?;
    if status.code == "NOT_ACTIVATED" {
        status = client.activate(&key, &device, Some("My computer")).await?;
    }
    if !status.valid {
        eprintln!("license refused: {} ({})", status.code, status.detail);
        std::process::exit(1);
    }
    // Online: refresh the license file that keeps the app working offline.
    if status.source == keyhook_client::Source::Online {
        match client.checkout_file(&key, &device, None, true).await {
            Ok((_, file)) => println!("offline until {}", file.expires_at),
            Err(Error::Network(_)) => {}
            Err(e) => eprintln!("no license file: {e}"),
        }
    }
    println!("licensed ({:?}): {}", status.source, status.detail);
    Ok(())
}
