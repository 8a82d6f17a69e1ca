//! Arranging consent and blocklist state for the audience tests, through the
//! consent and blocklist endpoints as staff would.

use reqwest::{Method, StatusCode};

use crate::harness::TestApp;

/// Staff record that `phone` (normalised digits) is `state` (`subscribed` or
/// `opted_out`).
pub async fn set_consent(app: &TestApp, phone: &str, state: &str) {
    let admin = app.admin_token().await;
    let set = app
        .call(
            Method::PUT,
            &format!("/api/v1/consent/{phone}"),
            Some(&admin),
            Some(serde_json::json!({"state": state, "reason": "asked by phone"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
}

/// `phone` (normalised digits) is put on the blocklist.
pub async fn block(app: &TestApp, phone: &str) {
    let admin = app.admin_token().await;
    let blocked = app
        .post(
            "/api/v1/blocklist",
            &admin,
            serde_json::json!({"phone": phone, "reason": "abuse"}),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CREATED, "{}", blocked.body);
}

const APP_SECRET: &str = "meta-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";

/// An app with a Meta connection and number, to receive customers' messages.
pub async fn meta_inbox(app: TestApp) -> crate::inbound::Inbox {
    crate::inbound::Inbox::with_app(
        app,
        "meta",
        serde_json::json!({"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": "verify-me", "waba_id": "102290129340398"}),
        serde_json::json!({"phone": "+1 555 010 0999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await
}

/// `from` (digits) writes `body` now, as Meta's `messages` webhook reports it
/// (the payload of Meta's "Text Messages" webhook example), and the worker
/// processes it.
pub async fn inbound_text(inbox: &crate::inbound::Inbox, from: &str, body: &str) {
    let now = chrono::Utc::now().timestamp();
    let payload = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
                "messages": [{"from": from, "id": format!("wamid.{}", uuid::Uuid::now_v7().simple()), "timestamp": now.to_string(), "type": "text", "text": {"body": body}}],
            }
        }]}]
    });
    let answer = inbox.post_meta(APP_SECRET, &payload).await;
    assert_eq!(answer.status, reqwest::StatusCode::OK, "{}", answer.body);
    inbox.app.run_jobs().await;
}
