//! Failed webhook events are visible to admins, with their reason, and replayable.

use reqwest::StatusCode;
use serde_json::json;

use super::{Inbox, hmac_hex};

const SECRET: &str = "meta-app-secret";

async fn meta_inbox() -> Inbox {
    Inbox::new(
        "meta",
        json!({"access_token": "EAAG", "app_secret": SECRET, "verify_token": "v", "waba_id": "1"}),
        json!({"phone": "+15550100999", "provider_number_id": "111"}),
    )
    .await
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_stored_failed_and_answered_200() {
    let inbox = meta_inbox().await;
    let body = b"<xml>not json</xml>";
    let signature = format!("sha256={}", hmac_hex(SECRET, body));
    let answer = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            body,
            &[("x-hub-signature-256", &signature)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let failed = inbox.webhook_events("failed").await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["error"].as_str().unwrap().contains("not JSON"));
    assert_eq!(failed[0]["body"], "<xml>not json</xml>");
}

#[tokio::test]
async fn an_event_for_an_unknown_number_fails_visibly_and_replays_once_the_number_exists() {
    let inbox = meta_inbox().await;
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100777", "phone_number_id": "222"},
        "messages": [{"from": "254712345678", "id": "wamid.late", "timestamp": "1779872400", "type": "text", "text": {"body": "anyone?"}}]
    }}]}]});
    let body = payload.to_string().into_bytes();
    let signature = format!("sha256={}", hmac_hex(SECRET, &body));
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
    let failed = inbox.webhook_events("failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("222"),
        "{}",
        failed[0]
    );
    assert!(inbox.conversations("").await.is_empty());

    let number = json!({"connection_id": inbox.connection["id"], "phone": "+15550100777", "provider_number_id": "222"});
    assert_eq!(
        inbox
            .app
            .post("/api/v1/numbers", &inbox.admin, number)
            .await
            .status,
        StatusCode::CREATED
    );
    let event_id = failed[0]["id"].as_str().unwrap();
    let retried = inbox
        .app
        .post(
            &format!("/api/v1/admin/webhook-events/{event_id}/retry"),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    inbox.app.run_jobs().await;
    assert_eq!(inbox.conversations("").await.len(), 1);
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
    let again = inbox
        .app
        .post(
            &format!("/api/v1/admin/webhook-events/{event_id}/retry"),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "not_failed");
}

#[tokio::test]
async fn only_admins_see_failed_events_and_dead_jobs() {
    let inbox = meta_inbox().await;
    let (_, agent) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    for path in [
        "/api/v1/admin/webhook-events",
        "/api/v1/admin/jobs?status=dead",
        "/api/v1/connections",
    ] {
        let answer = inbox.app.get(path, &agent).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.body["permission"], "admin");
    }
    let jobs = inbox
        .app
        .get("/api/v1/admin/jobs?status=dead", &inbox.admin)
        .await;
    assert_eq!(jobs.status, StatusCode::OK);
    assert_eq!(jobs.body["items"], json!([]));
}

#[tokio::test]
async fn deleting_a_connection_deletes_its_stored_webhooks() {
    let inbox = meta_inbox().await;
    let other = inbox
        .app
        .post(
            "/api/v1/connections",
            &inbox.admin,
            json!({"provider": "meta", "name": "other", "credentials": {"access_token": "EAAG", "app_secret": SECRET, "verify_token": "v", "waba_id": "2"}}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let other_url = other.body["webhook_url"].as_str().unwrap();
    let other_path = &other_url[other_url.find("/webhooks/").unwrap()..];
    for (path, body) in [
        (inbox.webhook_path(), "<xml>mine</xml>"),
        (other_path.to_owned(), "<xml>theirs</xml>"),
    ] {
        let signature = format!("sha256={}", hmac_hex(SECRET, body.as_bytes()));
        let answer = inbox
            .app
            .post_raw(
                &path,
                body.as_bytes(),
                &[("x-hub-signature-256", &signature)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(inbox.webhook_events("failed").await.len(), 2);

    let id = inbox.connection["id"].as_str().unwrap();
    let deleted = inbox
        .app
        .delete(&format!("/api/v1/connections/{id}"), &inbox.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let left = inbox.webhook_events("failed").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["connection_id"], other.body["id"]);
}
