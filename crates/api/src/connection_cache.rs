//! Connections as the webhook path needs them, cached for a few seconds so a
//! burst of webhooks costs one lookup and one decryption per connection.
//!
//! A plain map with a TTL check: a cache crate (moka) would bring a large
//! dependency for a handful of entries. Changes made through this node's API
//! apply at once (`forget`); other nodes see them within `TTL`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;
use wacrm_persistence::connections::{self, Connection};
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{PgPool, StoreError};

use crate::error::{ApiError, ApiResult};

const TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct ConnectionCache {
    entries: RwLock<HashMap<Uuid, (Instant, Arc<Connection>)>>,
}

impl ConnectionCache {
    pub async fn get(
        &self,
        pool: &PgPool,
        cipher: &Cipher,
        id: Uuid,
    ) -> ApiResult<Arc<Connection>> {
        if let Some(hit) = self.fresh(id) {
            return Ok(hit);
        }
        let mut conn = pool.get().await.map_err(ApiError::internal)?;
        let connection = match connections::find(&mut conn, cipher, id).await {
            Ok(connection) => Arc::new(connection),
            Err(StoreError::NotFound) => return Err(unknown_connection()),
            Err(other) => return Err(other.into()),
        };
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(id, (Instant::now(), connection.clone()));
        }
        Ok(connection)
    }

    pub fn forget(&self, id: Uuid) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }

    fn fresh(&self, id: Uuid) -> Option<Arc<Connection>> {
        let entries = self.entries.read().ok()?;
        let (stored_at, connection) = entries.get(&id)?;
        (stored_at.elapsed() < TTL).then(|| connection.clone())
    }
}

pub fn unknown_connection() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "unknown_connection",
        "no such connection",
    )
}
