//! `wacrm`: the one binary. `serve` (the default) runs the HTTP API.

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use wacrm_api::bootstrap::{self, Outcome};
use wacrm_api::database::Database;
use wacrm_api::{Application, Config, openapi, telemetry};

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
    /// Run the HTTP API (the default).
    Serve,
    /// Run background workers only.
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
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(config).await?.run_until_stopped().await,
        Command::Worker => anyhow::bail!(
            "there are no background jobs yet: the job queue arrives with webhook ingest"
        ),
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
