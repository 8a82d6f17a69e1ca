//! A conversation's messages reach the provider in the order they were
//! queued: a later one waits while an earlier one is retried (up to the
//! runner's order wait), and other conversations are never held up.

use serde_json::{Value, json};

use super::{
    CUSTOMER, accepted, customer_writes, delivered, messages_path, meta_outbox, send, someone_says,
};
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::Inbox;

const OTHER_CUSTOMER: &str = "254722000111";

fn server_error() -> Value {
    json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "fbtrace_id": "x"}})
}

/// Queues `text` in `conversation`; returns the message id.
async fn queue(inbox: &Inbox, conversation: &str, text: &str) -> String {
    let queued = send(inbox, conversation, json!({"type": "text", "text": text})).await;
    assert_eq!(
        queued.status,
        reqwest::StatusCode::ACCEPTED,
        "{}",
        queued.body
    );
    queued.body["id"].as_str().unwrap().to_owned()
}

/// The texts the provider was asked to send to `to`, in the order asked.
fn sent_to(meta: &FakeProvider, to: &str) -> Vec<String> {
    meta.requests_to("POST", &messages_path())
        .iter()
        .map(|request| request.json())
        .filter(|body| body["to"] == to)
        .map(|body| body["text"]["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn three_replies_reach_the_provider_in_order_while_another_conversation_goes_ahead() {
    let (inbox, meta) = meta_outbox().await;
    let first = customer_writes(&inbox, "wamid.in.1", 60).await;
    let second = someone_says(&inbox, OTHER_CUSTOMER, "wamid.in.2", "hi").await;
    // The first send fails (a retryable 500), every later one is accepted.
    meta.script_json("POST", &messages_path(), 500, server_error());
    for n in 1..=4 {
        meta.script_json(
            "POST",
            &messages_path(),
            200,
            accepted(&format!("wamid.out.{n}")),
        );
    }

    let menu = queue(&inbox, &first, "1. menu").await;
    let follow_up = queue(&inbox, &first, "2. follow-up").await;
    let last = queue(&inbox, &first, "3. last").await;
    inbox.app.run_jobs().await;
    // The menu failed and waits for its retry; the two after it wait for it.
    assert_eq!(sent_to(&meta, CUSTOMER), ["1. menu"]);

    // Meanwhile the other conversation's reply goes out at once.
    let other = queue(&inbox, &second, "other conversation").await;
    inbox.app.run_jobs().await;
    assert_eq!(sent_to(&meta, OTHER_CUSTOMER), ["other conversation"]);
    assert_eq!(sent_to(&meta, CUSTOMER), ["1. menu"], "still held back");

    for id in [&menu, &follow_up, &last, &other] {
        assert_eq!(delivered(&inbox, id).await["status"], "sent");
    }
    assert_eq!(
        sent_to(&meta, CUSTOMER),
        ["1. menu", "1. menu", "2. follow-up", "3. last"]
    );
}

#[tokio::test]
async fn a_message_failing_past_the_order_wait_no_longer_holds_the_next_back() {
    use diesel_async::RunQueryDsl as _;

    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    // The first message fails; the second would be accepted.
    meta.script_json("POST", &messages_path(), 500, server_error());
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.out"));
    let stuck = queue(&inbox, &conversation, "stuck").await;
    let next = queue(&inbox, &conversation, "next").await;

    inbox.app.run_jobs().await;
    assert_eq!(sent_to(&meta, CUSTOMER), ["stuck"]);
    // Within the order wait (2 minutes), the next one waits.
    inbox.app.run_jobs().await;
    assert_eq!(sent_to(&meta, CUSTOMER), ["stuck"]);

    // The first has been failing for longer than that (queued 3 minutes ago),
    // and its next retry is an hour away.
    let mut db = inbox.app.db().await;
    let aged = diesel::sql_query(
        "UPDATE jobs SET created_at = now() - interval '3 minutes', run_at = now() + interval '1 hour'
         WHERE kind = 'deliver_message' AND payload->>'message_id' = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&stuck)
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(aged, 1);
    inbox.app.run_jobs().await;
    // The next one goes ahead; the first still waits for its retry.
    assert_eq!(sent_to(&meta, CUSTOMER), ["stuck", "next"]);
    let next = inbox
        .app
        .get(&format!("/api/v1/messages/{next}"), &inbox.admin)
        .await;
    assert_eq!(next.body["status"], "sent");
    let stuck = inbox
        .app
        .get(&format!("/api/v1/messages/{stuck}"), &inbox.admin)
        .await;
    assert_eq!(stuck.body["status"], "queued");
}
