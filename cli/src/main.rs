//! `keyhook`: operator and local-development commands. Run `keyhook --help`.

use std::net::SocketAddr;
use std::time::Duration;

use aws_config::SdkConfig;
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};
use keyhook_cli::{import, provision, server, trigger, workers};
use keyhook_shared::dashboard::{link::DASHBOARD_SIGN_IN, team};
use keyhook_shared::handlers::admin::tenant;
use keyhook_shared::portal::sign_in::{
    link_url as portal_link_url, subject as portal_subject, PORTAL_SIGN_IN,
};
use keyhook_shared::{Config, Services};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "keyhook",
    version,
    about = "Keyhook: Stripe payments to delivered license keys"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole stack locally: provision resources, seed a demo tenant, serve every route and
    /// run the mailer. Expects AWS_ENDPOINT_URL to point at the emulator (see `make dev`).
    Dev(DevArgs),
    /// Serve every route and run the mailer against already provisioned resources
    /// (configuration from KEYHOOK_* variables).
    Serve {
        #[arg(long, env = "KEYHOOK_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Create the table, KMS key, queues and SES identity if missing.
    Provision(ProvisionArgs),
    /// Tenant administration.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Build a realistic Stripe event, sign it as Stripe does, and post it.
    Trigger {
        #[command(subcommand)]
        event: TriggerEvent,
    },
    /// Import licenses exported from ExisOne, Lukittu or Keygen (CSV or JSON), keys unchanged,
    /// through the admin API (`POST /api/licenses/import`) with your API token. Safe to re-run:
    /// licenses imported before are left as they are.
    Import(ImportArgs),
    /// Reconcile with Stripe: list each active app's recent events from Stripe's API and
    /// process those Keyhook never recorded (webhooks that never arrived). Idempotent.
    Reconcile {
        /// Only this Stripe app.
        #[arg(long = "app")]
        app_id: Option<String>,
        /// List events from this time (RFC 3339, or "30m", "12h", "3d" ago) instead of the
        /// app's watermark (Stripe keeps 30 days).
        #[arg(long)]
        since: Option<String>,
    },
    /// Emit `license.expired` (and delayed suspensions) for licenses that came due since the
    /// last sweep (the deliveries function runs this every 5 minutes on AWS).
    Sweep,
    /// Print the emails the local emulator's SES has recorded.
    Emails {
        #[arg(
            long,
            env = "AWS_ENDPOINT_URL",
            default_value = "http://127.0.0.1:5055"
        )]
        endpoint: String,
    },
}

#[derive(Args, Clone)]
struct ProvisionArgs {
    #[arg(long, env = "KEYHOOK_TABLE", default_value = "keyhook")]
    table: String,
    #[arg(long, env = "KEYHOOK_KMS_KEY_ID", default_value = "alias/keyhook")]
    kms_alias: String,
    #[arg(long, env = "KEYHOOK_MAIL_QUEUE_NAME", default_value = "keyhook-mail")]
    queue: String,
    #[arg(
        long,
        env = "KEYHOOK_DELIVERY_QUEUE_NAME",
        default_value = "keyhook-deliveries"
    )]
    delivery_queue: String,
    #[arg(
        long,
        env = "KEYHOOK_MAIL_FROM",
        default_value = "licenses@keyhook.local"
    )]
    mail_from: String,
}

impl ProvisionArgs {
    fn names(&self) -> provision::ResourceNames {
        provision::ResourceNames {
            table: self.table.clone(),
            kms_alias: self.kms_alias.clone(),
            queue: self.queue.clone(),
            delivery_queue: self.delivery_queue.clone(),
            mail_from: self.mail_from.clone(),
        }
    }
}

#[derive(Args)]
struct DevArgs {
    #[arg(long, env = "KEYHOOK_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    resources: ProvisionArgs,
    /// Where to write the demo's settings (sourced by `make trigger`).
    #[arg(long, default_value = ".keyhook/dev.env")]
    env_file: String,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant, its envelope key and signing key, and its first API token; with
    /// `--owner-email`, also its dashboard owner, who is emailed a sign-in link.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: Option<String>,
    },
    /// Delete a tenant and revoke all its API tokens.
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Put a tenant's licenses issued before the customer portal into its buyer index (each
    /// buyer's list in the portal). Idempotent; run once per tenant after deploying it.
    IndexBuyers {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum TriggerEvent {
    /// A paid one-time Checkout Session (`checkout.session.completed`).
    Checkout {
        #[arg(long)]
        product: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        quantity: Option<u32>,
        #[arg(long)]
        plan: Option<String>,
        /// Send a live-mode event.
        #[arg(long)]
        live: bool,
        /// The webhook URL to post to.
        #[arg(
            long,
            env = "KEYHOOK_WEBHOOK_URL",
            default_value = "http://127.0.0.1:8080/api/stripe/webhook"
        )]
        url: String,
        /// The app's webhook signing secret (`whsec_…`).
        #[arg(long, env = "KEYHOOK_WEBHOOK_SECRET")]
        secret: String,
    },
}

#[derive(Args)]
struct ImportArgs {
    /// The service the file was exported from.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(import::Format::NAMES)
        .map(|s| s.parse::<import::Format>().expect("one of the possible values")))]
    format: import::Format,
    /// The export: CSV (with a header row) or JSON.
    file: std::path::PathBuf,
    /// Show what would be imported; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keyhook's base URL.
    #[arg(long, env = "KEYHOOK_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin API token of the tenant to import into.
    #[arg(long, env = "KEYHOOK_TOKEN", hide_env_values = true)]
    token: String,
    /// Licenses per request (at most 1000).
    #[arg(long, default_value_t = import::BATCH)]
    batch: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// The allocator of the webhook and validate functions (functions/*/src/main.rs), whose code
// carries the local stack's load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    keyhook_shared::logging::init_text();
    // 8 MiB worker stacks: a dashboard page calls the admin API in-process (a dispatch inside
    // a dispatch), more than the 2 MiB default holds in a debug build.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(Cli::parse())) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Command::Dev(args) => dev(args).await,
        Command::Serve { addr } => {
            let sdk = operator_sdk().await;
            let services = Services::new(Config::from_env()?, &sdk);
            let bound = server::spawn(services.clone(), addr).await?;
            println!("Keyhook is serving every route on http://{bound}");
            spawn_mail_worker(&services, &sdk);
            let stream_arn = std::env::var("KEYHOOK_STREAM_ARN").ok();
            spawn_webhook_workers(&services, &sdk, stream_arn).await?;
            wait_for_ctrl_c().await;
            Ok(())
        }
        Command::Provision(args) => {
            let r = provision::provision(&operator_sdk().await, &args.names()).await?;
            println!("table:      {}\nstream:     {}\nkms key:    {}\nmail queue: {}\ndead-letter queue: {}\ndelivery queue: {}\ndelivery dead-letter queue: {}\nsender:     {}",
                r.table, r.stream_arn, r.kms_key_id, r.queue_url, r.dlq_url, r.delivery_queue_url, r.delivery_dlq_url, r.mail_from);
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Create { name, owner_email },
        } => {
            let services = services_from_env().await?;
            let (t, token) = match &owner_email {
                Some(email) => {
                    let (t, token, owner) =
                        team::create_tenant_with_owner(&services, &name, email).await?;
                    println!(
                        "owner:     {} (a sign-in link to {}/dashboard is on its way by email)",
                        owner.email, services.config.public_base_url
                    );
                    (t, token)
                }
                None => tenant::create_tenant(&services, &name).await?,
            };
            println!(
                "tenant:    {}\napi token: {token}\n(the token is shown only now)",
                t.id
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::IndexBuyers { id },
        } => {
            let services = services_from_env().await?;
            let indexed = services.store.index_buyers(&id).await?;
            println!("tenant {id}: {indexed} licenses added to the buyer index");
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Delete { id },
        } => {
            let services = services_from_env().await?;
            services.store.delete_tenant(&id).await?;
            println!("tenant {id} deleted; its API tokens no longer work and its Stripe apps receive no more events");
            Ok(())
        }
        Command::Trigger {
            event:
                TriggerEvent::Checkout {
                    product,
                    email,
                    name,
                    quantity,
                    plan,
                    live,
                    url,
                    secret,
                },
        } => {
            let event = trigger::checkout_completed(&trigger::CheckoutOptions {
                product_id: product,
                quantity,
                plan_id: plan,
                email,
                name,
                livemode: live,
            });
            let (body, header) = trigger::sign_event(&event, &secret);
            let (status, response) = trigger::post(&url, body, &header).await?;
            println!(
                "{} {} -> HTTP {status}\n{response}",
                event["type"].as_str().unwrap_or(""),
                event["id"].as_str().unwrap_or("")
            );
            if status >= 300 {
                return Err(format!("the webhook answered {status}").into());
            }
            Ok(())
        }
        Command::Import(args) => run_import(args).await,
        Command::Reconcile { app_id, since } => {
            let services = services_from_env().await?;
            let since = since.as_deref().map(parse_since).transpose()?;
            let runs = keyhook_shared::consumers::reconcile::run(
                &services,
                &keyhook_shared::consumers::reconcile::Options { app_id, since },
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&runs)?);
            if runs.iter().any(|r| r.error.is_some()) {
                return Err("reconciliation failed for some apps (see \"error\")".into());
            }
            Ok(())
        }
        Command::Sweep => {
            let services = services_from_env().await?;
            let report = keyhook_shared::consumers::deliveries::sweep::run(&services).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Emails { endpoint } => {
            // `service=ses`: only SES's models (scripts/moto_server.py; moto's own page
            // ignores it and answers every service's).
            let data: Value = reqwest::get(format!(
                "{}/moto-api/data.json?service=ses",
                endpoint.trim_end_matches('/')
            ))
            .await?
            .json()
            .await?;
            let messages = data["ses"]["Message"].clone();
            println!("{}", serde_json::to_string_pretty(&messages)?);
            Ok(())
        }
    }
}

async fn run_import(args: ImportArgs) -> Result<(), BoxError> {
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let parsed = import::parse(args.format, &text)?;
    for s in &parsed.skipped {
        println!("record {}: not imported: {}", s.record, s.reason);
    }
    println!(
        "{} licenses read from {}{}",
        parsed.licenses.len(),
        args.file.display(),
        if args.dry_run {
            " (dry run: nothing changes)"
        } else {
            ""
        }
    );
    let (mut created, mut unchanged, mut failed) = (0, 0, 0);
    import::send(
        &reqwest::Client::new(),
        &args.url,
        &args.token,
        &parsed.licenses,
        args.dry_run,
        args.batch,
        |report| {
            created += report.created;
            unchanged += report.unchanged;
            failed += report.failed;
            for r in &report.results {
                if let Some(error) = &r.error {
                    println!("{}: failed: {error}", r.external_id);
                }
            }
            println!("  … {} done", created + unchanged + failed);
        },
    )
    .await?;
    let verb = if args.dry_run {
        "would be created"
    } else {
        "created"
    };
    println!(
        "{created} {verb}, {unchanged} unchanged (imported before), {failed} failed, {} unreadable",
        parsed.skipped.len()
    );
    if failed > 0 || !parsed.skipped.is_empty() {
        return Err("some licenses were not imported (see above); fix them and run again".into());
    }
    Ok(())
}

/// The AWS SDK's configuration on an operator's machine: its full default chain (profiles,
/// SSO, `credential_process`), where a function on Lambda reads only its environment
/// (`keyhook_shared::sdk::config_from_env`); every client shares one HTTPS client.
async fn operator_sdk() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(keyhook_shared::sdk::http_client())
        .load()
        .await
}

/// Keyhook's services for a one-off command, configured from the environment.
async fn services_from_env() -> Result<Services, BoxError> {
    Ok(Services::new(Config::from_env()?, &operator_sdk().await))
}

fn spawn_mail_worker(services: &Services, sdk: &SdkConfig) {
    workers::spawn_mail_worker(services, aws_sdk_sqs::Client::new(sdk));
}

/// The outgoing-webhook workers: the stream consumer (the table's stream, found with
/// DescribeTable unless given) and the sender (with the sweep).
async fn spawn_webhook_workers(
    services: &Services,
    sdk: &SdkConfig,
    stream_arn: Option<String>,
) -> Result<(), BoxError> {
    let stream_arn = match stream_arn {
        Some(a) => a,
        None => aws_sdk_dynamodb::Client::new(sdk)
            .describe_table()
            .table_name(&services.config.table_name)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or("the table has no stream (run `keyhook provision`)")?,
    };
    workers::spawn_webhook_workers(
        services,
        aws_sdk_dynamodbstreams::Client::new(sdk),
        aws_sdk_sqs::Client::new(sdk),
        stream_arn,
    );
    Ok(())
}

/// `--since`: RFC 3339, or an age such as `30m`, `12h`, `3d`.
fn parse_since(s: &str) -> Result<time::OffsetDateTime, BoxError> {
    if let Some(t) = keyhook_shared::time::parse(s) {
        return Ok(t);
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("--since {s:?}: RFC 3339, or a number of m, h or d"))?;
    let age = match unit {
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => return Err(format!("--since {s:?}: RFC 3339, or a number of m, h or d").into()),
    };
    Ok(keyhook_shared::time::now() - age)
}

async fn wait_for_ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn dev(args: DevArgs) -> Result<(), BoxError> {
    let sdk = operator_sdk().await;
    let resources = provision::provision(&sdk, &args.resources.names()).await?;
    let base_url = format!("http://{}", args.addr);
    let config = Config {
        table_name: resources.table.clone(),
        kms_key_id: args.resources.kms_alias.clone(),
        mail_queue_url: resources.queue_url.clone(),
        delivery_queue_url: resources.delivery_queue_url.clone(),
        mail_from: resources.mail_from.clone(),
        public_base_url: base_url.clone(),
        stripe_api_base: std::env::var("KEYHOOK_STRIPE_API_BASE")
            .unwrap_or_else(|_| "https://api.stripe.com".into()),
        key_cache_ttl: Duration::from_secs(300),
        token_cache_ttl: keyhook_shared::store::read_cache::TOKEN_TTL,
        product_cache_ttl: keyhook_shared::store::read_cache::PRODUCT_TTL,
        webhook_tolerance: Duration::from_secs(300),
        mail_max_receives: provision::MAIL_MAX_RECEIVE_COUNT,
        dashboard_signup: false,
        // The merchant's endpoint in development listens on this machine (the example below).
        // Only here: a configuration from the environment refuses it.
        allow_loopback_webhooks: true,
        // Local events come from `keyhook trigger` and the Stripe CLI, not Stripe's addresses.
        stripe_source_ips: keyhook_shared::config::StripeSourceIps::Off,
    };
    let services = Services::new(config, &sdk);
    let bound = server::spawn(services.clone(), args.addr).await?;
    spawn_mail_worker(&services, &sdk);
    spawn_webhook_workers(&services, &sdk, Some(resources.stream_arn.clone())).await?;

    // The demo tenant is seeded through the HTTP API, like a merchant would; its owner signs in
    // to the dashboard with the link printed below (also emailed, as `make emails` shows).
    let owner_email =
        std::env::var("KEYHOOK_DEMO_OWNER").unwrap_or_else(|_| "owner@demo.example.com".into());
    let (tenant, token, owner) =
        team::create_tenant_with_owner(&services, "Demo Software", &owner_email).await?;
    let sign_in_token = DASHBOARD_SIGN_IN.issue(&services, &owner.email).await?;
    let sign_in_url = DASHBOARD_SIGN_IN.url(&services, &sign_in_token);
    let webhook_secret = format!(
        "whsec_{}",
        keyhook_shared::ids::random_symbols(32).to_ascii_lowercase()
    );
    let http = reqwest::Client::new();
    let app: Value = http
        .post(format!("{base_url}/api/stripe/apps"))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Demo Stripe account (test mode)",
            "publishableKey": "pk_test_demo000000000000",
            "secretKey": "sk_test_demo000000000000",
            "webhookSigningSecret": webhook_secret,
            "defaultCurrency": "usd",
            "isLive": false, "active": true, "isDefault": true
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let product: Value = http
        .post(format!("{base_url}/api/products"))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Demo Pro", "price": "29.99", "autoEmail": true, "defaultLicenseDays": 365
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let product_id = product["id"].as_str().unwrap_or_default();
    // A demo buyer with a license whose two devices are both activated: they sign in to the
    // customer portal with the link printed below and free one.
    let buyer = std::env::var("KEYHOOK_DEMO_BUYER")
        .unwrap_or_else(|_| "buyer@demo.example.com".into())
        .to_ascii_lowercase();
    let license: Value = http
        .post(format!("{base_url}/api/licenses"))
        .bearer_auth(&token)
        .json(&json!({
            "productId": product_id, "customerEmail": buyer, "customerName": "Demo Buyer",
            "maxDevices": 2, "sendEmail": false, "livemode": false
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for (device, name) in [
        ("demo-laptop", "Work laptop"),
        ("demo-desktop", "Home desktop"),
    ] {
        http.post(format!("{base_url}/api/licenses/activate"))
            .json(&json!({
                "licenseKey": license["key"], "productId": product_id, "deviceId": device,
                "deviceName": name, "environment": "test"
            }))
            .send()
            .await?
            .error_for_status()?;
    }
    let portal_url = format!("{base_url}/portal/{}", tenant.id);
    let portal_token = PORTAL_SIGN_IN
        .issue(&services, &portal_subject(&tenant.id, &buyer))
        .await?;
    let portal_link = portal_link_url(&services, &tenant.id, &portal_token);
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if let Some(dir) = std::path::Path::new(&args.env_file).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &args.env_file,
        format!(
            "KEYHOOK_URL={base_url}\nKEYHOOK_TOKEN={token}\nKEYHOOK_WEBHOOK_URL={app_webhook}\nKEYHOOK_WEBHOOK_SECRET={webhook_secret}\nKEYHOOK_DEMO_PRODUCT={product_id}\nAWS_ENDPOINT_URL={endpoint}\n",
            app_webhook = app["webhookUrl"].as_str().unwrap_or_default(),
        ),
    )?;
    println!(
        r#"
Keyhook is running on http://{bound} (every route, the mailer, and outgoing webhooks).

  Dashboard             {base_url}/dashboard
  Sign-in link          {sign_in_url}
                        (for {owner}; works once, for 15 minutes. Then ask for a new link
                        on the sign-in page and find it with `make emails`)

  Customer portal       {portal_url}
  Demo buyer            {buyer} (a license with both of its 2 devices in use)
  Buyer's sign-in link  {portal_link}
                        (works once, for 15 minutes; then ask for a new link on the
                        portal's page and find it with `make emails`)

  Tenant                {tenant_id}
  Admin API token       {token}
  Stripe app            {app_id} (test mode)
  Webhook URL           {app_webhook}   (the app's own; or {base_url}/api/stripe/webhook for every app)
  Webhook signing secret {webhook_secret}
  Demo product id       {product_id}

Try it (in another terminal):
  make trigger EMAIL=buyer@example.com        # a signed checkout.session.completed
  curl -s -H "Authorization: Bearer {token}" {base_url}/api/licenses
  make emails                                 # what SES sent (moto at {endpoint})
  curl -s -H "Authorization: Bearer {token}" -d '{{"url":"http://127.0.0.1:9000/hook"}}' {base_url}/api/webhook-endpoints
                                              # receive signed events (docs/webhooks.md)

These settings are also in {env_file}. Ctrl-C stops everything.
"#,
        tenant_id = tenant.id,
        app_id = app["id"].as_str().unwrap_or_default(),
        app_webhook = app["webhookUrl"].as_str().unwrap_or_default(),
        env_file = args.env_file,
        owner = owner.email,
    );
    wait_for_ctrl_c().await;
    Ok(())
}
