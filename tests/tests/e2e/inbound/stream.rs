//! Server-Sent Events: a new inbound message reaches a connected agent.

use reqwest::StatusCode;
use serde_json::json;

use super::{Inbox, hmac_hex};

#[tokio::test]
async fn a_connected_agent_receives_message_created() {
    let inbox = Inbox::new(
        "meta",
        json!({"access_token": "EAAG", "app_secret": "s", "verify_token": "v", "waba_id": "1"}),
        json!({"phone": "+15550100999", "provider_number_id": "111"}),
    )
    .await;
    let (_, agent) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    let unauthenticated = inbox
        .app
        .client
        .get(inbox.app.url("/api/v1/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    let response = inbox
        .app
        .client
        .get(inbox.app.url("/api/v1/stream"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();

    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "111"},
        "messages": [{"from": "254712345678", "id": "wamid.sse", "timestamp": "1779872400", "type": "text", "text": {"body": "live!"}}]
    }}]}]});
    let body = payload.to_string().into_bytes();
    let signature = format!("sha256={}", hmac_hex("s", &body));
    // The relay LISTENs on its own connection, opened asynchronously: a
    // webhook processed before that would announce to nobody.
    inbox
        .app
        .listening_on(wacrm_persistence::events::CHANNEL)
        .await;
    assert_eq!(
        inbox
            .app
            .post_raw(
                &inbox.webhook_path(),
                &body,
                &[("x-hub-signature-256", &signature)]
            )
            .await
            .status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;

    let received = crate::harness::read_stream_until(&mut stream, "event: message.created").await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert!(received.contains(messages[0]["id"].as_str().unwrap()));
    assert!(received.contains(conversation["id"].as_str().unwrap()));
}
