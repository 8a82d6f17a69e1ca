//! What every job of wacrm needs: the database, the secret cipher, an HTTP
//! client for the providers, the media store, and the signal that wakes workers.

use std::time::Duration;

use wacrm_persistence::PgPool;
use wacrm_persistence::secrets::Cipher;

use crate::media_store::MediaStore;
use crate::pacer::Pacer;
use crate::signal::JobSignal;

#[derive(Clone)]
pub struct WorkerContext {
    pub pool: PgPool,
    pub cipher: Cipher,
    pub http: reqwest::Client,
    pub media: MediaStore,
    /// Meta Graph API version, e.g. `v25.0`.
    pub graph_version: String,
    /// Per-number send pacing (messages per second).
    pub pacer: Pacer,
    /// Wakes the workers once queued jobs are committed.
    pub signal: JobSignal,
}

impl WorkerContext {
    pub fn new(pool: PgPool, cipher: Cipher, media: MediaStore, graph_version: String) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("wacrm/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            signal: JobSignal::start(pool.clone()),
            pool,
            cipher,
            http,
            media,
            graph_version,
            pacer: Pacer::default(),
        }
    }
}
