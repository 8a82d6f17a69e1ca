//! The SSE relay's LISTEN connection on shutdown: it ends when told to, before
//! the database goes away, so stopping the service does not log a spurious
//! "event listener failed; reconnecting" (issue 13, "First run").

use std::time::Duration;

use wacrm_api::realtime::Realtime;
use wacrm_persistence::events::CHANNEL;
use wacrm_worker::CancellationToken;

use crate::harness::{TestDatabase, listening_on};

#[tokio::test]
async fn the_event_relay_closes_its_connection_when_shut_down() {
    let database = TestDatabase::create().await;
    let shutdown = CancellationToken::new();
    let (_realtime, running) = Realtime::start(database.url.clone(), shutdown.clone());
    listening_on(&database.url, CHANNEL, true).await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the relay ends when shut down, instead of reconnecting")
        .expect("the relay does not panic");
    // Its connection is closed by then: the database can stop without the
    // relay noticing.
    listening_on(&database.url, CHANNEL, false).await;
}
