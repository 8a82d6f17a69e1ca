//! The real-time relays: committed events leave in the order written, and on
//! shutdown the connections end when told to, before the database goes away,
//! so stopping the service does not log a spurious "event listener failed;
//! reconnecting" (issue 13, "First run").

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

/// Events are committed with their change and leave through the relay: the
/// events of a rolled-back transaction never reach a listener, committed ones
/// do, in the order they were written, and none stays behind in the table.
#[tokio::test]
async fn events_leave_once_committed_in_the_order_written() {
    use diesel::sql_types::BigInt;
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    use serde_json::{Value, json};
    use wacrm_persistence::{AsyncPgConnection, StoreError, events};

    let database = TestDatabase::create().await;
    let shutdown = CancellationToken::new();
    let (realtime, running) = Realtime::start(database.url.clone(), shutdown.clone());
    let mut received = realtime.subscribe();
    listening_on(&database.url, CHANNEL, true).await;

    let mut conn = AsyncPgConnection::establish(&database.url).await.unwrap();
    let rolled_back = conn
        .transaction::<(), StoreError, _>(async |conn| {
            events::publish(conn, &json!({"type": "test.rolled_back"})).await?;
            Err(StoreError::NotFound)
        })
        .await;
    assert!(rolled_back.is_err());
    conn.transaction::<_, StoreError, _>(async |conn| {
        events::publish_all(
            conn,
            &[
                json!({"type": "test.first"}),
                json!({"type": "test.second"}),
            ],
        )
        .await
    })
    .await
    .unwrap();
    events::publish(&mut conn, &json!({"type": "test.third"}))
        .await
        .unwrap();

    let mut types = Vec::new();
    while types.len() < 3 {
        let payload = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the committed events arrive")
            .expect("the relay keeps up");
        let event: Value = serde_json::from_str(&payload).unwrap();
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(types, ["test.first", "test.second", "test.third"]);
    // Nothing more comes: the rolled-back event was never written.
    let more = tokio::time::timeout(Duration::from_millis(300), received.recv()).await;
    assert!(more.is_err(), "an unexpected event: {more:?}");

    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        waiting: i64,
    }
    let waiting: Waiting = diesel::sql_query("SELECT count(*) AS waiting FROM event_relay")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(waiting.waiting, 0, "every relayed event is removed");

    shutdown.cancel();
    running.await.unwrap();
}
