//! Every status finds its message: sent through the API to a fake provider,
//! then the provider's status webhook, before or after the delivery commits.
//!
//! Shapes: Meta's status webhook from developers.facebook.com/docs/whatsapp/
//! cloud-api/webhooks/payload-examples ("Message status updates"); TATA's from
//! seed 004 (TATA Webhook Setup Guide, `{statuses, businessPhoneNumber}`);
//! Whats91's from developers.whats91.com/webhooks/samples and seed 002
//! (`data.messageId`, `status`, `recipient`, `timestamp`), its queued send answer
//! from developers.whats91.com/messaging (`data.queued`, `queueUid`, `reportUid`,
//! `status: "waiting_reconnect"`) and reports/message-status (`reportUid`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    CUSTOMER, META_SECRET, PHONE_NUMBER_ID, WABA_ID, accepted, customer_says, delivered,
    messages_path, meta_outbox, send,
};
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::{Inbox, hmac_hex};

/// Meta's status webhook for `wamid` on the number `phone_number_id`, signed
/// with `secret`, posted to `path`.
async fn meta_status(
    inbox: &Inbox,
    path: &str,
    secret: &str,
    phone_number_id: &str,
    wamid: &str,
    status: &str,
) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100999", "phone_number_id": phone_number_id},
        "statuses": [{"id": wamid, "status": status, "timestamp": ts, "recipient_id": CUSTOMER,
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}}]
    }}]}]});
    let body = payload.to_string().into_bytes();
    let signature = format!("sha256={}", hmac_hex(secret, &body));
    let answer = inbox
        .app
        .post_raw(path, &body, &[("x-hub-signature-256", &signature)])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

async fn message(inbox: &Inbox, id: &str) -> Value {
    inbox
        .app
        .get(&format!("/api/v1/messages/{id}"), &inbox.admin)
        .await
        .body
}

fn history(message: &Value) -> Vec<(String, bool)> {
    message["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_owned(),
                h["applied"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_meta_status_processed_before_the_delivery_commits_is_applied_when_it_does() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_says(&inbox, "wamid.IN1", "hello").await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.EARLY"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "On its way"}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let id = queued.body["id"].as_str().unwrap();

    // Meta calls back before our delivery job has recorded the wamid.
    let path = inbox.webhook_path();
    meta_status(
        &inbox,
        &path,
        META_SECRET,
        PHONE_NUMBER_ID,
        "wamid.EARLY",
        "delivered",
    )
    .await;
    inbox.app.run_webhook_jobs_only().await;
    assert_eq!(message(&inbox, id).await["status"], "queued");

    inbox.app.run_jobs().await;
    let after = message(&inbox, id).await;
    assert_eq!(after["status"], "delivered", "{after}");
    assert_eq!(after["provider_message_id"], "wamid.EARLY");
    assert_eq!(history(&after), [("delivered".to_owned(), true)]);
    assert_eq!(inbox.webhook_events("failed").await.len(), 0);

    // Later reports match as usual.
    meta_status(
        &inbox,
        &path,
        META_SECRET,
        PHONE_NUMBER_ID,
        "wamid.EARLY",
        "read",
    )
    .await;
    inbox.app.run_jobs().await;
    assert_eq!(message(&inbox, id).await["status"], "read");
}

#[tokio::test]
async fn a_status_posted_to_another_connection_never_touches_the_message() {
    let (inbox, meta) = meta_outbox().await;
    // A second Meta connection (another app, another number) on the same fake.
    let other = inbox
        .app
        .post(
            "/api/v1/connections",
            &inbox.admin,
            json!({"provider": "meta", "name": "second", "credentials": {"access_token": "EAAG-other", "app_secret": "other-secret", "verify_token": "v2", "waba_id": "2"}}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let other_id = other.body["id"].as_str().unwrap();
    inbox
        .app
        .patch(
            &format!("/api/v1/connections/{other_id}"),
            &inbox.admin,
            json!({"base_url": meta.base_url, "credentials": {"access_token": "EAAG-other"}}),
        )
        .await;
    let number = inbox
        .app
        .post(
            "/api/v1/numbers",
            &inbox.admin,
            json!({"connection_id": other_id, "phone": "+15550100888", "provider_number_id": "222"}),
        )
        .await;
    assert_eq!(number.status, StatusCode::CREATED, "{}", number.body);

    // The message goes out through the first connection.
    let conversation = customer_says(&inbox, "wamid.IN2", "hi").await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.A1"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Hello"}),
    )
    .await;
    let id = queued.body["id"].as_str().unwrap();
    assert_eq!(delivered(&inbox, id).await["status"], "sent");

    // A report naming its wamid arrives on the second connection: processed,
    // recorded there, and the message is untouched.
    let url = other.body["webhook_url"].as_str().unwrap();
    let other_path = &url[url.find("/webhooks/").unwrap()..];
    meta_status(
        &inbox,
        other_path,
        "other-secret",
        "222",
        "wamid.A1",
        "read",
    )
    .await;
    inbox.app.run_jobs().await;
    let untouched = message(&inbox, id).await;
    assert_eq!(untouched["status"], "sent");
    assert!(history(&untouched).is_empty(), "{untouched}");
    assert_eq!(inbox.webhook_events("processed").await.len(), 2);

    // On its own connection it applies.
    meta_status(
        &inbox,
        &inbox.webhook_path(),
        META_SECRET,
        PHONE_NUMBER_ID,
        "wamid.A1",
        "read",
    )
    .await;
    inbox.app.run_jobs().await;
    assert_eq!(message(&inbox, id).await["status"], "read");
}

/// A TATA inbox pointed at a fake Omni API, with the customer's first message in.
async fn tata_outbox() -> (Inbox, FakeProvider, String) {
    let tata = FakeProvider::start().await;
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616", "is_default": true}),
    )
    .await;
    inbox.point_at(&tata.base_url).await;
    let ts = chrono::Utc::now().timestamp().to_string();
    let inbound = json!({"contacts": [{"profile": {"name": "User Name"}, "wa_id": "919999999999"}],
        "messages": {"from": "919999999999", "id": "wamid.TIN", "timestamp": ts, "text": {"body": "hi"}, "type": "text"},
        "businessPhoneNumber": "+919355421616", "id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    (inbox, tata, conversation)
}

async fn tata_status(inbox: &Inbox, wamid: &str, status: &str) {
    // A second apart, in the order WhatsApp reports them: statuses posted within one
    // second must not tie on their time.
    let step = ["sent", "delivered", "read"]
        .iter()
        .position(|s| *s == status)
        .unwrap_or(0) as i64;
    let ts = (chrono::Utc::now().timestamp() - 3 + step).to_string();
    let body = json!({
        "statuses": [{"id": wamid, "status": status, "timestamp": ts, "recipient_id": "919999999999"}],
        "businessPhoneNumber": "+919355421616"
    });
    let answer = inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn tata_statuses_reach_a_send_answered_with_the_wamid_or_only_a_request_id() {
    let (inbox, tata, conversation) = tata_outbox().await;
    // Answered with the wamid: statuses match it directly.
    tata.script_json(
        "POST",
        "/whatsapp-cloud/messages",
        200,
        json!({"messageId": "wamid.HBgMOTE5OTk5OTk5OTk5FQIAERgSQUFBQQA="}),
    );
    // The fake answers in order: the second send gets the request id only.
    tata.script_json(
        "POST",
        "/whatsapp-cloud/messages",
        200,
        json!({"id": "268e8b65-59a2-45df-9006-bd4b2aedbf01"}),
    );
    let first = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "one"}),
    )
    .await;
    let first = first.body["id"].as_str().unwrap().to_owned();
    let sent = delivered(&inbox, &first).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    tata_status(
        &inbox,
        "wamid.HBgMOTE5OTk5OTk5OTk5FQIAERgSQUFBQQA=",
        "delivered",
    )
    .await;
    inbox.app.run_jobs().await;
    assert_eq!(message(&inbox, &first).await["status"], "delivered");

    // Answered with only TATA's request id: the first status naming an unknown
    // wamid for this customer claims it.
    let second = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "two"}),
    )
    .await;
    let second = second.body["id"].as_str().unwrap().to_owned();
    let sent = delivered(&inbox, &second).await;
    assert_eq!(sent["status"], "sent");
    assert_eq!(
        sent["provider_message_id"],
        "268e8b65-59a2-45df-9006-bd4b2aedbf01"
    );
    tata_status(
        &inbox,
        "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA==",
        "sent",
    )
    .await;
    tata_status(
        &inbox,
        "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA==",
        "read",
    )
    .await;
    inbox.app.run_jobs().await;
    let read = message(&inbox, &second).await;
    assert_eq!(read["status"], "read", "{read}");
    assert_eq!(
        read["provider_message_id"],
        "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA=="
    );
    assert_eq!(
        history(&read),
        [("sent".to_owned(), false), ("read".to_owned(), true)]
    );
    // The first message kept its own status.
    assert_eq!(message(&inbox, &first).await["status"], "delivered");
}

#[tokio::test]
async fn a_tata_status_that_beats_a_request_id_only_send_is_applied_when_it_commits() {
    let (inbox, tata, conversation) = tata_outbox().await;
    tata.script_json(
        "POST",
        "/whatsapp-cloud/messages",
        200,
        json!({"id": "268e8b65-59a2-45df-9006-bd4b2aedbf02"}),
    );
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "quick"}),
    )
    .await;
    let id = queued.body["id"].as_str().unwrap();
    tata_status(&inbox, "wamid.EARLYTATA", "delivered").await;
    inbox.app.run_webhook_jobs_only().await;
    assert_eq!(message(&inbox, id).await["status"], "queued");
    inbox.app.run_jobs().await;
    let after = message(&inbox, id).await;
    assert_eq!(after["status"], "delivered", "{after}");
    assert_eq!(after["provider_message_id"], "wamid.EARLYTATA");
}

/// A Whats91 inbox pointed at a fake v2 API, with the customer's first message in.
async fn whats91_outbox() -> (Inbox, FakeProvider, String) {
    let whats91 = FakeProvider::start().await;
    let inbox = Inbox::new(
        "whats91",
        json!({"api_key": "w91_live_key", "signing_secret": "s"}),
        json!({"phone": "+91 62686 62275", "is_default": true}),
    )
    .await;
    inbox
        .point_at(&format!("{}/api/v2", whats91.base_url))
        .await;
    whats91_event(
        &inbox,
        json!({"event": "message.inbound.text", "senderId": "916268662275",
               "data": {"from": "918888888888", "messageId": "wamid.W91IN", "text": "status?",
                        "timestamp": chrono::Utc::now().to_rfc3339()}}),
    )
    .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    (inbox, whats91, conversation)
}

async fn whats91_event(inbox: &Inbox, event: Value) {
    let body = event.to_string();
    let answer = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            body.as_bytes(),
            &[("x-whats91-signature", &hmac_hex("s", body.as_bytes()))],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

fn whats91_status(data: Value) -> Value {
    let status = data["status"].as_str().unwrap().to_owned();
    json!({"event": format!("message.status.{status}"), "senderId": "916268662275", "webhookUid": "wh_abc", "data": data})
}

fn queued_answer(n: u8) -> Value {
    json!({"success": true, "message": "Queued until the sender reconnects",
           "data": {"queued": true, "queueUid": format!("queue-{n}"), "reportUid": format!("report-{n}"),
                    "status": "waiting_reconnect"}})
}

#[tokio::test]
async fn a_whats91_queued_send_matches_its_queue_id_and_then_its_wamid() {
    let (inbox, whats91, conversation) = whats91_outbox().await;
    whats91.script_json("POST", "/api/v2/chat", 200, queued_answer(1));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Your quote"}),
    )
    .await;
    let id = queued.body["id"].as_str().unwrap();
    let sent = delivered(&inbox, id).await;
    assert_eq!(sent["provider_message_id"], "queue-1");

    // Once the number reconnects, the report names the wamid beside the queue id…
    let ts = chrono::Utc::now().to_rfc3339();
    whats91_event(
        &inbox,
        whats91_status(
            json!({"messageId": "wamid.W91Q", "queueUid": "queue-1", "status": "delivered",
                              "recipient": "918888888888", "timestamp": ts}),
        ),
    )
    .await;
    inbox.app.run_jobs().await;
    let after = message(&inbox, id).await;
    assert_eq!(after["status"], "delivered", "{after}");
    assert_eq!(after["provider_message_id"], "wamid.W91Q");
    // …and later reports naming only the wamid match it.
    whats91_event(
        &inbox,
        whats91_status(json!({"messageId": "wamid.W91Q", "status": "read",
                              "recipient": "918888888888", "timestamp": ts})),
    )
    .await;
    inbox.app.run_jobs().await;
    assert_eq!(message(&inbox, id).await["status"], "read");
}

#[tokio::test]
async fn a_whats91_queued_send_is_claimed_by_a_report_naming_only_the_wamid() {
    let (inbox, whats91, conversation) = whats91_outbox().await;
    whats91.script_json("POST", "/api/v2/chat", 200, queued_answer(2));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Later"}),
    )
    .await;
    let id = queued.body["id"].as_str().unwrap();
    assert_eq!(delivered(&inbox, id).await["status"], "sent");
    whats91_event(
        &inbox,
        whats91_status(json!({"messageId": "wamid.W91R", "status": "delivered",
                              "recipient": "918888888888", "timestamp": chrono::Utc::now().to_rfc3339()})),
    )
    .await;
    inbox.app.run_jobs().await;
    let after = message(&inbox, id).await;
    assert_eq!(after["status"], "delivered", "{after}");
    assert_eq!(after["provider_message_id"], "wamid.W91R");
}
