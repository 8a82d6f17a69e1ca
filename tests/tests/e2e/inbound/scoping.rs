//! Webhooks are bound to the connection they were posted to: what one
//! connection received never suppresses another's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Inbox;

/// Two Lipachat connections, each with a number for the same phone (an
/// account moved to a second API key, say); answers the second's webhook path.
async fn two_connections() -> (Inbox, String) {
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key-a"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let other = inbox
        .app
        .post(
            "/api/v1/connections",
            &inbox.admin,
            json!({"provider": "lipachat", "name": "second", "credentials": {"api_key": "lipa-key-b"}}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let number = inbox
        .app
        .post(
            "/api/v1/numbers",
            &inbox.admin,
            json!({"connection_id": other.body["id"], "phone": "254110090747", "is_default": true}),
        )
        .await;
    assert_eq!(number.status, StatusCode::CREATED, "{}", number.body);
    let url = other.body["webhook_url"].as_str().unwrap();
    let path = url[url.find("/webhooks/").unwrap()..].to_owned();
    (inbox, path)
}

/// Lipachat's sample inbound message (docs.lipachat.com/crm-workflow, seed 000).
fn message(text: &str) -> Value {
    json!({
        "messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9",
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": text
    })
}

async fn bodies_per_conversation(inbox: &Inbox) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for conversation in inbox.conversations("").await {
        let id = conversation["id"].as_str().unwrap();
        let messages = inbox
            .app
            .get(
                &format!("/api/v1/conversations/{id}/messages"),
                &inbox.admin,
            )
            .await;
        found.push(
            messages.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    found
}

#[tokio::test]
async fn the_same_body_on_two_connections_is_applied_on_both() {
    let (inbox, second) = two_connections().await;
    let body = message("Text Content").to_string();
    for path in [inbox.webhook_path(), second] {
        let answer = inbox.app.post_raw(&path, body.as_bytes(), &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    inbox.app.run_jobs().await;
    let found = bodies_per_conversation(&inbox).await;
    assert_eq!(found, vec![vec!["Text Content".to_owned()]; 2]);
}

#[tokio::test]
async fn the_same_provider_message_id_on_two_connections_is_applied_on_both() {
    let (inbox, second) = two_connections().await;
    for (path, text) in [
        (inbox.webhook_path(), "to the first"),
        (second, "to the second"),
    ] {
        let body = message(text).to_string();
        let answer = inbox.app.post_raw(&path, body.as_bytes(), &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    inbox.app.run_jobs().await;
    let mut found = bodies_per_conversation(&inbox).await;
    found.sort();
    assert_eq!(
        found,
        vec![
            vec!["to the first".to_owned()],
            vec!["to the second".to_owned()]
        ]
    );
    // A second delivery on one connection still changes nothing.
    let again = message("to the first").to_string();
    inbox
        .app
        .post_raw(&inbox.webhook_path(), again.as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    assert_eq!(bodies_per_conversation(&inbox).await.concat().len(), 2);
}
