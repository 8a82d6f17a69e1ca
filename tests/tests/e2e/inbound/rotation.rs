//! Rotating the secret in a Lipachat/TATA webhook URL: a new URL at once, the
//! old one still accepted for a grace period, the inbox untouched.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Inbox;

/// Lipachat's sample inbound message (docs.lipachat.com/crm-workflow, seed 000).
fn message(id: &str, text: &str) -> Vec<u8> {
    json!({
        "messageId": id,
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": text
    })
    .to_string()
    .into_bytes()
}

fn path_of(connection: &Value) -> String {
    let url = connection["webhook_url"].as_str().unwrap();
    url[url.find("/webhooks/").unwrap()..].to_owned()
}

async fn lipachat_inbox() -> Inbox {
    Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await
}

#[tokio::test]
async fn a_rotated_token_gives_a_new_url_and_the_old_one_works_for_the_grace_period() {
    let inbox = lipachat_inbox().await;
    let old = inbox.webhook_path();
    let id = inbox.connection["id"].as_str().unwrap();
    assert_eq!(
        inbox
            .app
            .post_raw(&old, &message("m1", "before"), &[])
            .await
            .status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;

    let rotated = inbox
        .app
        .post(
            &format!("/api/v1/connections/{id}/rotate-webhook-token"),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = path_of(&rotated.body);
    assert_ne!(new, old);
    assert!(rotated.body["previous_webhook_url_valid_until"].is_string());
    for (path, id, text) in [
        (&old, "m2", "on the old url"),
        (&new, "m3", "on the new url"),
    ] {
        let answer = inbox.app.post_raw(path, &message(id, text), &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }
    inbox.app.run_jobs().await;
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 3, "the conversation is kept: {messages:?}");
    let fetched = inbox
        .app
        .get(&format!("/api/v1/connections/{id}"), &inbox.admin)
        .await;
    assert_eq!(path_of(&fetched.body), new);
}

#[tokio::test]
async fn without_a_grace_period_the_old_url_is_refused_at_once() {
    let inbox = lipachat_inbox().await;
    let old = inbox.webhook_path();
    let id = inbox.connection["id"].as_str().unwrap();
    let rotated = inbox
        .app
        .post(
            &format!("/api/v1/connections/{id}/rotate-webhook-token"),
            &inbox.admin,
            json!({"grace_period_hours": 0}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let answer = inbox.app.post_raw(&old, &message("m1", "late"), &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = inbox
        .app
        .post_raw(&path_of(&rotated.body), &message("m1", "new"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // A second rotation retires the first token for good.
    let again = inbox
        .app
        .post(
            &format!("/api/v1/connections/{id}/rotate-webhook-token"),
            &inbox.admin,
            json!({"grace_period_hours": 721}),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
}
