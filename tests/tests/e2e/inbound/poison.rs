//! A poison webhook: a body whose content would break processing fails alone,
//! with its reason, and never holds back the events stored with it.

use reqwest::StatusCode;
use serde_json::json;

use super::Inbox;

/// Lipachat's inbound message (docs.lipachat.com/crm-workflow, "Sample webhook
/// payload", seed 000) with the `timestamp` reported in issue 13: it parses as
/// milliseconds in the year 262,000, where adding the 24-hour window overflows.
#[tokio::test]
async fn a_timestamp_out_of_range_fails_its_event_and_the_batch_still_applies() {
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let poison = json!({
        "messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9",
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": "poison",
        "timestamp": "8210266873199999"
    });
    let good = json!({
        "messageId": "0b6f2f57-3f0e-4c43-9d0c-3c1f5b2a9e11",
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": "Habari, is the offer still on?"
    });
    // Both stored before any job runs, so one job applies them together.
    for body in [&poison, &good] {
        let answer = inbox
            .app
            .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    inbox.app.run_jobs().await;

    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["body"], "Habari, is the offer still on?");
    let failed = inbox.webhook_events("failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let reason = failed[0]["error"].as_str().unwrap();
    assert!(reason.contains("timestamp"), "{reason}");
    let dead = inbox
        .app
        .get("/api/v1/admin/jobs?status=dead", &inbox.admin)
        .await;
    assert_eq!(dead.body["items"], json!([]));
    // Nothing is left to retry: the poison does not come back.
    assert_eq!(inbox.app.run_jobs().await, 0);
}
