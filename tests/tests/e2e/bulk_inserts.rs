//! Multi-row INSERTs of an unbounded number of rows stay under PostgreSQL's
//! 65,535 bind parameters per statement (the webhook-reachable case, system
//! errors, is in `inbound::meta_events`).

use uuid::Uuid;
use wacrm_persistence::conversations::{self, CustomerKey};

use crate::inbound::Inbox;

/// A batch of webhooks naming more new customers than one INSERT of
/// conversations can bind (4 parameters a row) creates each of them, in
/// seconds (settling each key looks its rows up rather than scanning them).
#[tokio::test]
async fn more_new_conversations_than_one_insert_can_bind_are_all_created() {
    let inbox = Inbox::new(
        "lipachat",
        serde_json::json!({"api_key": "lipa-key"}),
        serde_json::json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let number: Uuid = inbox.number_id.parse().unwrap();
    const CUSTOMERS: u64 = 65_535 / 4 + 100;
    let keys: Vec<CustomerKey> = (0..CUSTOMERS)
        .map(|n| CustomerKey::phone(number, &format!("2547{n:08}")))
        .collect();

    let mut db = inbox.app.db().await;
    let locked = {
        use diesel_async::AsyncConnection as _;
        db.transaction::<_, wacrm_persistence::StoreError, _>(async |conn| {
            conversations::lock_or_create_many(conn, &keys).await
        })
        .await
        .expect("creating the conversations")
    };
    assert_eq!(locked.rows.len() as u64, CUSTOMERS);
    assert_eq!(locked.of_key.len() as u64, CUSTOMERS);
}
