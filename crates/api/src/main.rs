//! `wacrm`: the one binary. `serve` (the default) runs the HTTP API.

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use wacrm_api::bootstrap::{self, Outcome};
use wacrm_api::database::Database;
use wacrm_api::{Application, Config, openapi, telemetry};
use wacrm_persistence::secrets::Cipher;
use wacrm_worker::WorkerContext;
use wacrm_worker::media_store::MediaStore;

#[derive(Parser)]
#[command(
    name = "wacrm",
    version,
    about = "The WhatsApp module of a CRM, as a REST/JSON service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and the background workers (the default;
    /// `WACRM_RUN_WORKERS=false` leaves the workers to `wacrm worker`).
    Serve,
    /// Run the background workers only.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Create an admin account (kept as it is if the email exists).
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "WACRM_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

/// `wacrm worker`: the background jobs without the HTTP API, until SIGINT/SIGTERM.
async fn run_workers_only(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let cipher = Cipher::new(&config.master_key_bytes()?)?;
    let media = MediaStore::open(config.media_url.as_deref(), &config.data_dir)?;
    let mut context = WorkerContext::new(
        database.pool.clone(),
        cipher,
        media,
        config.graph_version.clone(),
        config.egress(),
    )?;
    context.webhook_retention = config.webhook_retention();
    config.configure_webhook_delivery(&mut context);
    context.delivery_slots = config.delivery_slots;
    let (shutdown, running) = wacrm_api::app::start_workers(context);
    shutdown_signal().await;
    tracing::info!("stopping the workers; running jobs finish first");
    shutdown.cancel();
    let _ = running.await;
    database.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        let document = openapi::document()
            .to_pretty_json()
            .context("serialising the spec")?;
        println!("{document}");
        return Ok(());
    }
    let config = Config::from_env()?;
    telemetry::init(config.log_json);
    // Only now: a warning while the configuration was read would be lost.
    config.warn_generated_secrets();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(config).await?.run_until_stopped().await,
        Command::Worker => run_workers_only(config).await,
        Command::Migrate => {
            Database::open(&config).await?.close().await;
            Ok(())
        }
        Command::CreateAdmin { email, password } => {
            let database = Database::open(&config).await?;
            let outcome =
                bootstrap::ensure_admin(&database.pool, &email, &SecretString::from(password))
                    .await;
            database.close().await;
            match outcome? {
                Outcome::Created(id) => println!("created admin {email} ({id})"),
                Outcome::AlreadyExists(id) => {
                    println!("{email} already exists ({id}); left unchanged")
                }
            }
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}
