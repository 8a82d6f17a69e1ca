//! Lipachat: a flat payload, no signature; the webhook URL carries a secret.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Inbox;
use crate::harness::fake_provider::FakeProvider;

async fn lipachat_inbox() -> Inbox {
    Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await
}

#[tokio::test]
async fn a_text_message_from_seed_000_lands_in_the_inbox() {
    let inbox = lipachat_inbox().await;
    assert!(
        inbox.connection["webhook_url"]
            .as_str()
            .unwrap()
            .contains("/webhooks/lipachat/")
    );
    assert_eq!(inbox.connection["has_api_key"], true);
    assert!(
        inbox.connection.get("api_key").is_none(),
        "secrets are write-only"
    );
    let body = json!({
        "messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9",
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": "Habari, is the offer still on?"
    });
    let answer = inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["customer_phone"], "254712345678");
    assert_eq!(conversation["profile_name"], "Achieng");
    assert_eq!(conversation["number_id"], inbox.number_id.as_str());
    assert_eq!(messages[0]["body"], "Habari, is the offer still on?");
    assert_eq!(messages[0]["provider"], "lipachat");
}

#[tokio::test]
async fn a_wrong_or_missing_url_token_is_401_and_stores_nothing() {
    let inbox = lipachat_inbox().await;
    let path = inbox.webhook_path();
    let id = inbox.connection["id"].as_str().unwrap();
    let body = json!({"messageId": "m1", "from": "254712345678", "to": "254110090747", "type": "TEXT", "text": "hi"}).to_string();
    for bad in [
        format!("/webhooks/lipachat/{id}/not-the-token"),
        format!("/webhooks/lipachat/{id}"),
    ] {
        let answer = inbox.app.post_raw(&bad, body.as_bytes(), &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // The right token on the wrong provider's path is an unknown connection.
    let token = path.rsplit('/').next().unwrap();
    let other = inbox
        .app
        .post_raw(
            &format!("/webhooks/tata/{id}/{token}"),
            body.as_bytes(),
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert!(inbox.conversations("").await.is_empty());
}

#[tokio::test]
async fn an_image_link_is_downloaded_with_the_api_key_only_from_lipachat_itself() {
    let lipachat = FakeProvider::start().await;
    let elsewhere = FakeProvider::start().await;
    let inbox = lipachat_inbox().await;
    let id = inbox.connection["id"].as_str().unwrap();
    inbox
        .app
        .patch(
            &format!("/api/v1/connections/{id}"),
            &inbox.admin,
            json!({"base_url": lipachat.base_url, "credentials": {"api_key": "lipa-key"}}),
        )
        .await;
    lipachat.script(
        "GET",
        "/media/8f1c.jpg",
        200,
        "image/jpeg",
        b"jpeg-bytes".to_vec(),
    );
    elsewhere.script(
        "GET",
        "/cdn/v1.mp4",
        200,
        "video/mp4",
        b"mp4-bytes".to_vec(),
    );
    for (message_id, content) in [
        (
            "m-img",
            json!({"type": "IMAGE", "image": {"caption": "the receipt", "url": format!("{}/media/8f1c.jpg", lipachat.base_url)}}),
        ),
        (
            "m-vid",
            json!({"type": "VIDEO", "video": {"caption": "unboxing", "url": format!("{}/cdn/v1.mp4", elsewhere.base_url)}}),
        ),
    ] {
        let mut body = json!({"messageId": message_id, "from": "254712345678", "to": "254110090747", "profileName": "A"});
        body.as_object_mut()
            .unwrap()
            .extend(content.as_object().unwrap().clone());
        assert_eq!(
            inbox
                .app
                .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
                .await
                .status,
            StatusCode::OK
        );
    }
    inbox.app.run_jobs().await;
    let (_, messages) = inbox.only_conversation().await;
    for message in &messages {
        assert_eq!(message["media"]["downloaded"], true, "{message}");
        let bytes = inbox
            .app
            .client
            .get(inbox.app.url(&format!(
                "/api/v1/messages/{}/media",
                message["id"].as_str().unwrap()
            )))
            .bearer_auth(&inbox.admin)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let expected: &[u8] = if message["type"] == "image" {
            b"jpeg-bytes"
        } else {
            b"mp4-bytes"
        };
        assert_eq!(bytes.as_ref(), expected);
    }
    assert_eq!(
        lipachat.requests()[0]
            .headers
            .get("apikey")
            .map(String::as_str),
        Some("lipa-key")
    );
    assert!(
        !elsewhere.requests()[0].headers.contains_key("apikey"),
        "the key never leaves Lipachat's host"
    );
}

#[tokio::test]
async fn status_callbacks_for_unknown_messages_are_kept_as_history() {
    let inbox = lipachat_inbox().await;
    let body = json!({"messageId": "e66fc7b8-680f-4887-8dc8-ee062d65b54f", "status": "DELIVERED"});
    assert_eq!(
        inbox
            .app
            .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
            .await
            .status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;
    let processed: Vec<Value> = inbox.webhook_events("processed").await;
    assert_eq!(processed.len(), 1);
    assert!(inbox.conversations("").await.is_empty());
}
