//! TATA: Meta-shaped messages under `messages`, with `businessPhoneNumber`.

use reqwest::StatusCode;
use serde_json::json;

use super::Inbox;

#[tokio::test]
async fn the_seed_004_message_lands_in_the_inbox_and_adds_a_lead_note() {
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616"}),
    )
    .await;
    let lead = inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "User Name", "phone": "+91 99999 99999"}),
        )
        .await;
    let body = json!({
        "contacts": [{"profile": {"name": "User Name"}, "wa_id": "919999999999"}],
        "messages": {
            "from": "919999999999",
            "id": "wamid.HBgMOTE5MTA2MDg5MzQzFQIAEhggRTQzMEI1QjA5QkU0RkIwREI1MzQyQThENUQ4NkQ4RTMA",
            "timestamp": "1744109205",
            "text": {"body": "hi"},
            "type": "text"
        },
        "businessPhoneNumber": "+919355421616",
        "id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"
    });
    let answer = inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["rel_type"], "lead");
    assert_eq!(conversation["rel_id"], lead.body["id"]);
    assert_eq!(conversation["number_id"], inbox.number_id.as_str());
    assert_eq!(messages[0]["body"], "hi");
    assert_eq!(messages[0]["sent_at"], "2025-04-08T10:46:45Z");
    let notes = inbox
        .app
        .get(
            &format!("/api/v1/leads/{}/notes", lead.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(notes.body["items"][0]["body"], "WhatsApp message: hi");

    // With lead notes switched off, the next message adds none.
    let off = inbox
        .app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/inbound",
            Some(&inbox.admin),
            Some(json!({"lead_notes": false})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    let mut second = body.clone();
    second["messages"]["id"] = json!("wamid.second");
    inbox
        .app
        .post_raw(&inbox.webhook_path(), second.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let notes = inbox
        .app
        .get(
            &format!("/api/v1/leads/{}/notes", lead.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(notes.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_list_is_processed() {
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616"}),
    )
    .await;
    let body = json!({
        "statuses": [{"id": "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA==", "status": "sent", "timestamp": "1729161280", "recipient_id": "919999999999"}],
        "businessPhoneNumber": "+919355421616"
    });
    assert_eq!(
        inbox
            .app
            .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
            .await
            .status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
}
