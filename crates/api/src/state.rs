//! What every handler shares.

use std::sync::Arc;

use wacrm_domain::{Clock, Country};
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{PgPool, PooledConnection};
use wacrm_providers::egress::Egress;
use wacrm_worker::JobSignal;
use wacrm_worker::media_store::MediaStore;

use crate::auth::tokens::TokenKeys;
use crate::connection_cache::ConnectionCache;
use crate::error::{ApiError, ApiResult};
use crate::ingest::Ingest;
use crate::realtime::Realtime;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: Arc<TokenKeys>,
    pub default_country: Option<Country>,
    pub cipher: Cipher,
    /// Base of the webhook URLs handed out.
    pub public_url: String,
    pub ingest: Ingest,
    pub connections: Arc<ConnectionCache>,
    pub realtime: Realtime,
    pub media: MediaStore,
    /// Wakes the workers after a handler committed jobs.
    pub jobs: JobSignal,
    /// Which addresses a configured base URL may name.
    pub egress: Egress,
    /// `WACRM_METRICS_TOKEN`: the bearer token `/metrics` requires, if any.
    pub metrics_token: Option<secrecy::SecretString>,
    /// `WACRM_STREAM_HEARTBEAT_SECS`: how often an SSE stream sends a comment
    /// line and checks its caller again.
    pub stream_heartbeat: std::time::Duration,
    /// `WACRM_IMPORT_MAX_BYTES`: the largest CSV file an import accepts.
    pub import_max_bytes: u64,
    /// The time schedules are read against (the system's, or a test's).
    pub clock: Clock,
}

impl AppState {
    pub async fn conn(&self) -> ApiResult<PooledConnection> {
        self.pool.get().await.map_err(|error| {
            tracing::error!(%error, "no database connection");
            ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not answering; try again shortly",
            )
        })
    }
}
