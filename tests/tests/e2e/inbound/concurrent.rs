//! Group-commit ingest under concurrent webhooks: many signed webhooks posted
//! at once (each twice, as providers redeliver) are all answered 200 after
//! their commit and are applied once each. How many commits and processing jobs
//! they share depends on timing (measured by bench/ingest, not asserted here).

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Inbox, hmac_hex};

const WEBHOOKS: usize = 200;

#[tokio::test]
async fn concurrent_webhooks_are_all_stored_and_each_applied_once() {
    let inbox = Inbox::new(
        "meta",
        json!({"access_token": "EAAG", "app_secret": "s", "verify_token": "v", "waba_id": "1"}),
        json!({"phone": "+15550100999", "provider_number_id": "111"}),
    )
    .await;
    // Twenty customers, ten messages each; every body is posted twice.
    let bodies: Vec<Vec<u8>> = (0..WEBHOOKS)
        .map(|n| {
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": {"phone_number_id": "111"},
                "messages": [{"from": format!("2547120000{:02}", n % 20), "id": format!("wamid.C{n}"),
                    "timestamp": (1_779_872_400 + n).to_string(), "type": "text", "text": {"body": format!("message {n}")}}]
            }}]}]})
            .to_string()
            .into_bytes()
        })
        .collect();
    let path = inbox.webhook_path();
    let posts = bodies.iter().chain(bodies.iter()).map(|body| {
        let signature = format!("sha256={}", hmac_hex("s", body));
        let request = inbox
            .app
            .client
            .post(inbox.app.url(&path))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body.clone());
        async move { request.send().await.map(|response| response.status()) }
    });
    let answers = join_all(posts).await;
    assert!(
        answers
            .iter()
            .all(|answer| matches!(answer, Ok(StatusCode::OK))),
        "{answers:?}"
    );

    // Every post answered 200 after its event and a job to process it were
    // committed: at most one job per post (group commits share theirs; how
    // many share depends on timing, so bench/ingest measures it).
    let jobs = queued_webhook_jobs(&inbox).await;
    assert!(
        (1..=2 * WEBHOOKS).contains(&jobs),
        "{jobs} processing jobs for {} posts",
        2 * WEBHOOKS
    );
    for _ in 0..10 {
        if inbox.app.run_jobs().await == 0 {
            break;
        }
    }
    assert!(inbox.webhook_events("failed").await.is_empty());
    assert_eq!(inbox.webhook_events("pending").await.len(), 0);
    assert_eq!(
        inbox.webhook_events("processed&limit=200").await.len(),
        WEBHOOKS,
        "each body stored once, though posted twice"
    );

    let conversations = inbox.conversations("?limit=200").await;
    assert_eq!(conversations.len(), 20);
    let mut wamids = Vec::new();
    for conversation in &conversations {
        let id = conversation["id"].as_str().unwrap();
        let messages = inbox
            .app
            .get(
                &format!("/api/v1/conversations/{id}/messages?limit=200"),
                &inbox.admin,
            )
            .await;
        let items = messages.body["items"].as_array().unwrap();
        assert_eq!(items.len(), WEBHOOKS / 20, "{conversation}");
        assert_eq!(conversation["unread_count"], WEBHOOKS / 20);
        wamids.extend(
            items
                .iter()
                .map(|message| message["provider_message_id"].clone()),
        );
    }
    let distinct: HashSet<String> = wamids.iter().map(Value::to_string).collect();
    assert_eq!((wamids.len(), distinct.len()), (WEBHOOKS, WEBHOOKS));
}

async fn queued_webhook_jobs(inbox: &Inbox) -> usize {
    use diesel::{ExpressionMethods as _, QueryDsl as _};
    use diesel_async::RunQueryDsl as _;
    use wacrm_persistence::schema::jobs;
    use wacrm_worker::Job as _;
    let count: i64 = jobs::table
        .filter(jobs::kind.eq(wacrm_worker::jobs::ProcessWebhooks::KIND))
        .count()
        .get_result(&mut inbox.app.db().await)
        .await
        .unwrap();
    usize::try_from(count).unwrap()
}
