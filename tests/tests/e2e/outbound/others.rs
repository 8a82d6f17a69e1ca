//! Sending through Lipachat, Whats91 and TATA: each provider's own wire format.

use reqwest::StatusCode;
use serde_json::json;

use super::delivered;
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::{Inbox, hmac_hex};

/// A new base URL comes with the key sent to it (issue 13: never the stored one).
async fn pointed_at(inbox: &Inbox, fake: &FakeProvider, suffix: &str, api_key: &str) {
    let id = inbox.connection["id"].as_str().unwrap();
    let base_url = format!("{}{suffix}", fake.base_url);
    let patched = inbox
        .app
        .patch(
            &format!("/api/v1/connections/{id}"),
            &inbox.admin,
            json!({"base_url": base_url, "credentials": {"api_key": api_key}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
}

#[tokio::test]
async fn lipachat_text_uses_our_message_id_and_its_status_callback_matches() {
    let lipachat = FakeProvider::start().await;
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    pointed_at(&inbox, &lipachat, "/api/v1", "lipa-key").await;
    let inbound = json!({"messageId": "in-1", "from": "254712345678", "to": "254110090747", "type": "TEXT", "text": "Hi"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let conversation = conversation["id"].as_str().unwrap();

    lipachat.script_json("POST", "/api/v1/whatsapp/message/text", 200, json!({"status": "success", "message": "Message sent", "data": {"messageId": "ignored", "waId": "wamid.X"}}));
    let queued = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &inbox.admin,
            json!({"type": "text", "text": "Karibu!"}),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let ours = queued.body["id"].as_str().unwrap().to_owned();
    let message = delivered(&inbox, &ours).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["provider_message_id"], ours.as_str());
    let call = &lipachat.requests_to("POST", "/api/v1/whatsapp/message/text")[0];
    assert_eq!(call.headers["apikey"], "lipa-key");
    assert_eq!(
        call.json(),
        json!({"message": "Karibu!", "messageId": ours, "to": "254712345678", "from": "254110090747"})
    );

    let callback = json!({"messageId": ours, "status": "DELIVERED"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), callback.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let after = inbox
        .app
        .get(&format!("/api/v1/messages/{ours}"), &inbox.admin)
        .await;
    assert_eq!(after.body["status"], "delivered");

    // What Lipachat has no API for is refused up front, naming both.
    let location = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &inbox.admin,
            json!({"type": "location", "location": {"latitude": -1.29, "longitude": 36.82}}),
        )
        .await;
    assert_eq!(location.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(location.problem_code(), "unsupported_by_provider");
    assert!(
        location.body["detail"]
            .as_str()
            .unwrap()
            .contains("lipachat")
    );
}

#[tokio::test]
async fn whats91_free_form_goes_to_chat_with_the_bearer_key() {
    let whats91 = FakeProvider::start().await;
    let inbox = Inbox::new(
        "whats91",
        json!({"api_key": "w91_live_key", "signing_secret": "s"}),
        json!({"phone": "+91 62686 62275", "is_default": true}),
    )
    .await;
    pointed_at(&inbox, &whats91, "/api/v2", "w91_live_key").await;
    let now = chrono::Utc::now().to_rfc3339();
    let inbound = json!({"event": "message.inbound.text", "senderId": "916268662275",
        "data": {"from": "919900011122", "messageId": "wamid.W", "text": "quote?", "timestamp": now}}).to_string();
    inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            inbound.as_bytes(),
            &[("x-whats91-signature", &hmac_hex("s", inbound.as_bytes()))],
        )
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;

    whats91.script_json(
        "POST",
        "/api/v2/chat",
        200,
        json!({"success": true, "data": {"messageId": "wamid.W91OUT", "status": "sent"}}),
    );
    let queued = inbox
        .app
        .post(
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"].as_str().unwrap()
            ),
            &inbox.admin,
            json!({"type": "text", "text": "40 units: 12,000 INR"}),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["provider_message_id"], "wamid.W91OUT");
    let call = &whats91.requests_to("POST", "/api/v2/chat")[0];
    assert_eq!(call.headers["authorization"], "Bearer w91_live_key");
    assert_eq!(call.json()["to"], "919900011122");
    assert_eq!(call.json()["senderId"], "916268662275");
}

#[tokio::test]
async fn tata_takes_a_meta_shaped_body_and_answers_a_request_id() {
    let tata = FakeProvider::start().await;
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616", "is_default": true}),
    )
    .await;
    pointed_at(&inbox, &tata, "", "tata-key").await;
    let ts = chrono::Utc::now().timestamp().to_string();
    let inbound = json!({"contacts": [{"profile": {"name": "U"}, "wa_id": "919999999999"}],
        "messages": {"from": "919999999999", "id": "wamid.T", "timestamp": ts, "text": {"body": "hi"}, "type": "text"},
        "businessPhoneNumber": "+919355421616"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;

    tata.script_json(
        "POST",
        "/whatsapp-cloud/messages",
        200,
        json!({"id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"}),
    );
    let queued = inbox
        .app
        .post(
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"].as_str().unwrap()
            ),
            &inbox.admin,
            json!({"type": "text", "text": "hello from TATA"}),
        )
        .await;
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(
        message["provider_message_id"],
        "268e8b65-59a2-45df-9006-bd4b2aedbfdc"
    );
    let call = &tata.requests_to("POST", "/whatsapp-cloud/messages")[0];
    assert_eq!(call.headers["authorization"], "tata-key");
    assert_eq!(call.json()["to"], "919999999999");
    assert_eq!(call.json()["text"]["body"], "hello from TATA");
}
