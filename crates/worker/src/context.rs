//! What every job of wacrm needs: the database, the secret cipher, an HTTP
//! client for the providers, the media store, and the signal that wakes workers.

use wacrm_domain::Clock;
use wacrm_persistence::PgPool;
use wacrm_persistence::secrets::Cipher;
use wacrm_providers::egress::{Egress, HttpClient};

use crate::deliveries::Deliveries;
use crate::jobs::webhook_endpoints::WebhookDelivery;
use crate::media_store::MediaStore;
use crate::pacer::Pacer;
use crate::signal::JobSignal;

#[derive(Clone)]
pub struct WorkerContext {
    pub pool: PgPool,
    pub cipher: Cipher,
    /// Every outgoing request goes through it: public addresses only, no
    /// redirects (see `wacrm_providers::egress`).
    pub http: HttpClient,
    pub media: MediaStore,
    /// Meta Graph API version, e.g. `v25.0`.
    pub graph_version: String,
    /// Per-number send pacing (messages per second).
    pub pacer: Pacer,
    /// Deliveries' starts and records, grouped into batches.
    pub deliveries: Deliveries,
    /// Wakes the workers once queued jobs are committed.
    pub signal: JobSignal,
    /// How long processed webhook bodies are kept (`WACRM_WEBHOOK_RETENTION_DAYS`).
    pub webhook_retention: chrono::Duration,
    /// The time schedules are read against (the system's, or a test's).
    pub clock: Clock,
    /// Integrators' webhooks: the client for endpoints allowed private
    /// targets, the failure run that disables an endpoint, requests in flight.
    pub webhook_delivery: WebhookDelivery,
    /// `WACRM_DELIVERY_SLOTS`: sends in flight at once; `None`: sized from the
    /// numbers' rates (`jobs::delivery_runner`).
    pub delivery_slots: Option<usize>,
}

/// Processed webhook bodies are kept this long unless configured otherwise.
pub const DEFAULT_WEBHOOK_RETENTION: chrono::Duration = chrono::Duration::days(30);

impl WorkerContext {
    /// Fails only when the HTTP client's TLS backend cannot start. Spawns
    /// tasks: call it on the runtime the workers run on.
    pub fn new(
        pool: PgPool,
        cipher: Cipher,
        media: MediaStore,
        graph_version: String,
        egress: Egress,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            signal: JobSignal::start(pool.clone()),
            pacer: Pacer::new(pool.clone()),
            deliveries: Deliveries::start(pool.clone(), cipher.clone()),
            pool,
            cipher,
            http: HttpClient::new(egress)?,
            media,
            graph_version,
            webhook_retention: DEFAULT_WEBHOOK_RETENTION,
            clock: Clock::system(),
            webhook_delivery: WebhookDelivery::new()?,
            delivery_slots: None,
        })
    }
}
