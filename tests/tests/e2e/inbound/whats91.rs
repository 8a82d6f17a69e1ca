//! Whats91 Webhooks v2: `X-Whats91-Signature` and the optional `X-CRM-Webhook-Token`.

use reqwest::StatusCode;
use serde_json::json;

use super::{Inbox, hmac_hex};

const SECRET: &str = "w91-signing-secret";

async fn whats91_inbox(verification_token: Option<&str>) -> Inbox {
    let mut credentials = json!({"api_key": "w91_live_key", "signing_secret": SECRET});
    if let Some(token) = verification_token {
        credentials["verification_token"] = json!(token);
    }
    Inbox::new(
        "whats91",
        credentials,
        json!({"phone": "+91 62686 62275", "is_default": true}),
    )
    .await
}

fn inbound_text() -> Vec<u8> {
    json!({
        "event": "message.inbound.text",
        "webhookUid": "wh_7f3a",
        "senderId": "916268662275",
        "data": {"from": "919900011122", "messageId": "wamid.W91", "text": "Need a quote for 40 units", "timestamp": "2026-05-27T09:00:00Z", "profileName": "Ravi"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_signed_inbound_text_lands_in_the_inbox() {
    let inbox = whats91_inbox(None).await;
    let body = inbound_text();
    let answer = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            &body,
            &[("x-whats91-signature", &hmac_hex(SECRET, &body))],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["customer_phone"], "919900011122");
    assert_eq!(conversation["number_id"], inbox.number_id.as_str());
    assert_eq!(messages[0]["body"], "Need a quote for 40 units");
    assert_eq!(messages[0]["sent_at"], "2026-05-27T09:00:00Z");
}

#[tokio::test]
async fn signature_and_verification_token_are_both_enforced() {
    let inbox = whats91_inbox(Some("crm-token")).await;
    let body = inbound_text();
    let good = hmac_hex(SECRET, &body);
    let bad = hmac_hex("other", &body);
    for headers in [
        vec![("x-whats91-signature", good.as_str())],
        vec![
            ("x-whats91-signature", good.as_str()),
            ("x-crm-webhook-token", "wrong"),
        ],
        vec![
            ("x-whats91-signature", bad.as_str()),
            ("x-crm-webhook-token", "crm-token"),
        ],
    ] {
        assert_eq!(
            inbox
                .app
                .post_raw(&inbox.webhook_path(), &body, &headers)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(inbox.app.run_jobs().await, 0);
    let accepted = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            &body,
            &[
                ("x-whats91-signature", &good),
                ("x-crm-webhook-token", "crm-token"),
            ],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK);
}

#[tokio::test]
async fn template_status_updates_are_processed() {
    let inbox = whats91_inbox(None).await;
    let body = json!({"event": "template.status_update", "senderId": "916268662275",
        "data": {"templateName": "order_update", "status": "APPROVED", "language": "en"}})
    .to_string()
    .into_bytes();
    let answer = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            &body,
            &[("x-whats91-signature", &hmac_hex(SECRET, &body))],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
}
