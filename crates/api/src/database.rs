//! Opens the database the configuration names, or starts the embedded cluster,
//! and applies pending migrations before anything else touches it.

use anyhow::Context;
use wacrm_persistence::embedded::EmbeddedPostgres;
use wacrm_persistence::{PgPool, migrate, pool};

use crate::config::Config;

pub struct Database {
    /// Workers, webhook ingest and start-up: no statement timeout.
    pub pool: PgPool,
    /// API requests: statements cancelled after the configured timeout.
    pub api_pool: PgPool,
    /// For connections outside the pool (LISTEN).
    pub url: String,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let (url, embedded) = match &config.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let cluster = EmbeddedPostgres::start(&config.data_dir, "wacrm")
                    .await
                    .context("starting the embedded PostgreSQL (DATABASE_URL is unset)")?;
                tracing::info!(data_dir = %config.data_dir.display(), "embedded PostgreSQL running");
                (cluster.database_url("wacrm"), Some(cluster))
            }
        };
        let applied = migrate::run_pending(&url)
            .await
            .context("applying migrations")?;
        if applied > 0 {
            tracing::info!(applied, "migrations applied");
        }
        let pool = pool::connect(&url, config.pool_size)?;
        let api_pool =
            pool::connect_with_timeout(&url, config.pool_size, config.api_statement_timeout)?;
        Ok(Self {
            pool,
            api_pool,
            url,
            embedded,
        })
    }

    /// Stops the embedded cluster, if this process started it.
    pub async fn close(self) {
        self.pool.close();
        self.api_pool.close();
        if let Some(cluster) = self.embedded {
            match cluster.stop().await {
                Ok(()) => tracing::info!("embedded PostgreSQL stopped"),
                Err(error) => tracing::error!(%error, "stopping the embedded PostgreSQL"),
            }
        }
    }
}
