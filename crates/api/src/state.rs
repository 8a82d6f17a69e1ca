//! What every handler shares.

use std::sync::Arc;

use wacrm_domain::Country;
use wacrm_persistence::{PgPool, PooledConnection};

use crate::auth::tokens::TokenKeys;
use crate::error::{ApiError, ApiResult};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: Arc<TokenKeys>,
    pub default_country: Option<Country>,
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
