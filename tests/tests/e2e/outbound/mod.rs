//! Sending, through the API, the outbox and fake provider servers that check
//! the exact requests; and the operator's inbox actions.

mod flows_and_typing;
mod inbox;
mod inbox_order;
mod meta;
mod ordering;
mod others;
mod statuses;
mod templates;
mod user_ids;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::{Inbox, hmac_hex};

pub const META_SECRET: &str = "meta-app-secret";
pub const META_TOKEN: &str = "EAAG-test-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
pub const CUSTOMER: &str = "254712345678";

/// A Meta connection pointed at a fake Graph API, with one number.
pub async fn meta_outbox() -> (Inbox, FakeProvider) {
    meta_outbox_on(TestApp::spawn().await).await
}

/// [`meta_outbox`] on an app started with settings of its own.
pub async fn meta_outbox_on(app: TestApp) -> (Inbox, FakeProvider) {
    let meta = FakeProvider::start().await;
    let inbox = Inbox::with_app(
        app,
        "meta",
        json!({"access_token": META_TOKEN, "app_secret": META_SECRET, "verify_token": "v", "waba_id": WABA_ID}),
        json!({"phone": "+15550100999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await;
    let id = inbox.connection["id"].as_str().unwrap();
    let patched = inbox
        .app
        .patch(
            &format!("/api/v1/connections/{id}"),
            &inbox.admin,
            json!({"base_url": meta.base_url, "credentials": {"access_token": META_TOKEN}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    (inbox, meta)
}

/// Agents (staff without `admin`) see their own and unassigned conversations only.
pub async fn restrict_agents(inbox: &Inbox) {
    let set = inbox
        .app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/inbox",
            Some(&inbox.admin),
            Some(json!({"visibility": "assigned_or_unassigned"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
}

/// The customer writes `seconds_ago` seconds ago; returns the conversation id.
pub async fn customer_writes(inbox: &Inbox, wamid: &str, seconds_ago: i64) -> String {
    let ts = Utc::now().timestamp() - seconds_ago;
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
        "messages": [{"from": CUSTOMER, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": "hello"}}]
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    inbox
        .conversations("")
        .await
        .iter()
        .find(|c| c["customer_phone"] == CUSTOMER)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The customer writes `text` now; returns the conversation id.
pub async fn customer_says(inbox: &Inbox, wamid: &str, text: &str) -> String {
    someone_says(inbox, CUSTOMER, wamid, text).await
}

/// `from` writes `text` now (the jobs run); returns the conversation id.
pub async fn someone_says(inbox: &Inbox, from: &str, wamid: &str, text: &str) -> String {
    someone_writes(inbox, from, wamid, text).await;
    inbox.app.run_jobs().await;
    inbox
        .conversations("")
        .await
        .iter()
        .find(|c| c["customer_phone"] == from)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `from`'s webhook for `text` is delivered now (no job runs).
pub async fn someone_writes(inbox: &Inbox, from: &str, wamid: &str, text: &str) {
    let ts = Utc::now().timestamp();
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}}]
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
}

pub fn accepted(wamid: &str) -> Value {
    json!({"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}], "messages": [{"id": wamid}]})
}

pub fn messages_path() -> String {
    format!("/v25.0/{PHONE_NUMBER_ID}/messages")
}

pub async fn send(inbox: &Inbox, conversation: &str, body: Value) -> crate::harness::Answer {
    inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &inbox.admin,
            body,
        )
        .await
}

/// Runs jobs until the message leaves `queued` (retries come due after a backoff).
pub async fn delivered(inbox: &Inbox, message_id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        inbox.app.run_jobs().await;
        let message = inbox
            .app
            .get(&format!("/api/v1/messages/{message_id}"), &inbox.admin)
            .await
            .body;
        if message["status"] != "queued" || std::time::Instant::now() > deadline {
            return message;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
