//! Relays PostgreSQL NOTIFY events to this node's SSE clients, and committed
//! events to NOTIFY.
//!
//! One LISTEN connection per node feeds a broadcast channel. Sending never
//! waits for a client: one that falls more than `BUFFER` events behind is
//! dropped (it reconnects and refetches), so a slow client never slows ingest.
//!
//! Events are committed to `event_relay` with the change that made them (see
//! `wacrm_persistence::events`); every node also runs a relay that moves them
//! to NOTIFY in batches, on a connection of its own. It looks again at once
//! while it finds full batches, else every `RELAY_POLL`: the most an event
//! waits before it leaves.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use wacrm_persistence::events::{self, CHANNEL};
use wacrm_worker::CancellationToken;

const BUFFER: usize = 256;
/// How often an idle relay looks for committed events.
const RELAY_POLL: Duration = Duration::from_millis(20);

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
        let listening = {
            let (url, sender) = (database_url.clone(), sender.clone());
            reconnecting("the event listener", shutdown.clone(), move || {
                listen(url.clone(), sender.clone())
            })
        };
        let relaying = {
            let stop = shutdown.clone();
            reconnecting("the event relay", shutdown, move || {
                relay_committed(database_url.clone(), stop.clone())
            })
        };
        let running = tokio::spawn(async move {
            tokio::join!(listening, relaying);
        });
        (Self { sender }, running)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Feeds this node's SSE clients from its LISTEN connection until it closes.
async fn listen(database_url: String, sender: broadcast::Sender<Arc<str>>) -> Result<(), Failure> {
    let mut conn = wacrm_persistence::pool::establish(&database_url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        // No receivers is fine: nobody is watching right now.
        let _ = sender.send(Arc::from(notification?.payload.as_str()));
    }
    Err("its connection closed".into())
}

/// Runs `work` until `shutdown`, starting it again a second after it fails.
async fn reconnecting<F, W>(what: &'static str, shutdown: CancellationToken, work: W)
where
    W: Fn() -> F,
    F: Future<Output = Result<(), Failure>>,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = work() => match outcome {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, "{what} failed; reconnecting"),
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Moves committed events to NOTIFY until `shutdown`.
async fn relay_committed(database_url: String, shutdown: CancellationToken) -> Result<(), Failure> {
    let mut conn = wacrm_persistence::pool::establish(&database_url).await?;
    loop {
        let relayed = events::relay(&mut conn).await?;
        if relayed < usize::try_from(events::RELAY_BATCH).unwrap_or(usize::MAX) {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(RELAY_POLL) => {}
            }
        }
    }
}
