//! Relays PostgreSQL NOTIFY events to this node's SSE clients.
//!
//! One LISTEN connection per node feeds a broadcast channel. Sending never
//! waits for a client: one that falls more than `BUFFER` events behind is
//! dropped (it reconnects and refetches), so a slow client never slows ingest.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use wacrm_persistence::events::CHANNEL;
use wacrm_worker::CancellationToken;

const BUFFER: usize = 256;

#[derive(Clone)]
pub struct Realtime {
    sender: broadcast::Sender<Arc<str>>,
}

impl Realtime {
    /// Starts listening on the current tokio runtime, reconnecting on errors,
    /// until `shutdown` is cancelled; the handle ends then. Cancel it before
    /// the database stops, so that the connection closing on shutdown is not
    /// taken for a failure.
    pub fn start(
        database_url: String,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, _) = broadcast::channel(BUFFER);
        let running = tokio::spawn(relay(database_url, sender.clone(), shutdown));
        (Self { sender }, running)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}

async fn relay(
    database_url: String,
    sender: broadcast::Sender<Arc<str>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = listen(&database_url, &sender) => match outcome {
                Ok(()) => tracing::warn!("the event listener's connection closed; reconnecting"),
                Err(error) => tracing::warn!(%error, "the event listener failed; reconnecting"),
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn listen(
    database_url: &str,
    sender: &broadcast::Sender<Arc<str>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        // No receivers is fine: nobody is watching right now.
        let _ = sender.send(Arc::from(notification?.payload.as_str()));
    }
    Ok(())
}
