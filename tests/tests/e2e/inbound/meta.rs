//! Meta's WhatsApp Cloud API webhooks.

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Inbox, hmac_hex};
use crate::harness::TestApp;
use crate::harness::fake_provider::FakeProvider;

const APP_SECRET: &str = "meta-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
/// 2026-05-27 09:00:00 UTC.
const TS: i64 = 1_779_872_400;

async fn meta_inbox(app: TestApp, base_url: Option<&str>) -> Inbox {
    let inbox = Inbox::with_app(
        app,
        "meta",
        json!({"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": "verify-me", "waba_id": "102290129340398"}),
        json!({"phone": "+1 555 010 0999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await;
    if let Some(base_url) = base_url {
        let id = inbox.connection["id"].as_str().unwrap();
        let patched = inbox
            .app
            .patch(
                &format!("/api/v1/connections/{id}"),
                &inbox.admin,
                json!({"base_url": base_url, "credentials": {"access_token": "EAAG-test-token"}}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK);
    }
    inbox
}

fn envelope(changes: Vec<Value>) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": changes}]})
}

fn messages_change(messages: Vec<Value>, contacts: Vec<Value>) -> Value {
    json!({
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": contacts,
            "messages": messages,
        }
    })
}

fn contact(wa_id: &str, name: &str) -> Value {
    json!({"profile": {"name": name}, "wa_id": wa_id})
}

fn text(from: &str, id: &str, ts: i64, body: &str) -> Value {
    json!({"from": from, "id": id, "timestamp": ts.to_string(), "type": "text", "text": {"body": body}})
}

fn statuses_change(statuses: Vec<Value>) -> Value {
    json!({
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": statuses,
        }
    })
}

/// Sending arrives with the outbound work; until then the row a send leaves
/// behind is written directly: an outbound message the provider accepted.
/// Our reply `body`, sent through the API to the fake Graph API, which accepts
/// it as `wamid` (the answer in Meta's documentation of `POST
/// /{phone-number-id}/messages`); answers the message's id once it is `sent`.
async fn sent_message(
    inbox: &Inbox,
    meta: &FakeProvider,
    conversation: &Value,
    wamid: &str,
    body: &str,
) -> String {
    meta.script_json(
        "POST",
        &format!("/v25.0/{PHONE_NUMBER_ID}/messages"),
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "254712345678", "wa_id": "254712345678"}],
               "messages": [{"id": wamid}]}),
    );
    let conversation = conversation["id"].as_str().unwrap();
    let queued = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &inbox.admin,
            json!({"type": "text", "text": body}),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    inbox.app.run_jobs().await;
    let id = queued.body["id"].as_str().unwrap().to_owned();
    let message = inbox
        .app
        .get(&format!("/api/v1/messages/{id}"), &inbox.admin)
        .await;
    assert_eq!(message.body["status"], "sent", "{}", message.body);
    assert_eq!(message.body["provider_message_id"], wamid);
    id
}

async fn send(inbox: &Inbox, payload: &Value) -> crate::harness::Answer {
    inbox.post_meta(APP_SECRET, payload).await
}

#[tokio::test]
async fn a_text_message_opens_a_general_conversation_with_a_24_hour_window() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let payload = envelope(vec![messages_change(
        vec![text(
            "254712345678",
            "wamid.HBgMMjU0NzEyMzQ1Njc4FQIAEhggQTE=",
            TS,
            "Hello, I need help with my order",
        )],
        vec![contact("254712345678", "Wanjiru")],
    )]);
    let answer = send(&inbox, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
    // Stored and queued, not yet processed: the inbox is still empty.
    assert!(inbox.conversations("").await.is_empty());
    assert!(inbox.app.run_jobs().await >= 1);

    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["customer_phone"], "254712345678");
    assert_eq!(conversation["profile_name"], "Wanjiru");
    assert_eq!(conversation["rel_type"], "general");
    assert_eq!(conversation["rel_id"], Value::Null);
    assert_eq!(conversation["number_id"], inbox.number_id.as_str());
    assert_eq!(conversation["unread_count"], 1);
    assert_eq!(conversation["status"], "open");
    let expires = Utc.timestamp_opt(TS + 24 * 3600, 0).unwrap();
    assert_eq!(
        conversation["session"]["expires_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        expires
    );
    assert_eq!(conversation["session"]["active"], expires > Utc::now());
    assert_eq!(
        conversation["last_message"]["preview"],
        "Hello, I need help with my order"
    );

    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["direction"], "inbound");
    assert_eq!(message["type"], "text");
    assert_eq!(message["body"], "Hello, I need help with my order");
    assert_eq!(message["status"], "received");
    assert_eq!(
        message["provider_message_id"],
        "wamid.HBgMMjU0NzEyMzQ1Njc4FQIAEhggQTE="
    );
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
}

#[tokio::test]
async fn a_recent_message_keeps_the_window_open_and_an_older_late_one_never_shortens_it() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let now = Utc::now().timestamp();
    for (id, ts) in [("wamid.new", now - 60), ("wamid.old", now - 20 * 3600)] {
        let payload = envelope(vec![messages_change(
            vec![text("254712345678", id, ts, id)],
            vec![],
        )]);
        assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
        inbox.app.run_jobs().await;
    }
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 2);
    assert_eq!(conversation["session"]["active"], true);
    let expires: chrono::DateTime<Utc> = conversation["session"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires.timestamp(), now - 60 + 24 * 3600);
    assert_eq!(
        conversation["last_message"]["preview"], "wamid.new",
        "the older message is not the last one"
    );
}

#[tokio::test]
async fn senders_are_matched_to_leads_contacts_and_staff_in_that_order() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let app = &inbox.app;
    // The same person as contact and lead (the lead wins); Brazil's ninth digit differs.
    app.post(
        "/api/v1/contacts",
        &inbox.admin,
        json!({"name": "Ana (contact)", "phone": "+55 11 98765-4321"}),
    )
    .await;
    let lead = app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Ana", "phone": "+55 (11) 98765-4321"}),
        )
        .await;
    let contact = app
        .post(
            "/api/v1/contacts",
            &inbox.admin,
            json!({"name": "Bruno", "phone": "+254 733 000 111"}),
        )
        .await;
    let staff = app
        .post("/api/v1/staff", &inbox.admin, json!({"name": "Carla", "email": "carla@example.com", "password": "long-enough", "phone": "+44 7700 900123"}))
        .await;
    let payload = envelope(vec![messages_change(
        vec![
            text("551187654321", "wamid.a", TS, "oi"),
            text("254733000111", "wamid.b", TS, "hi"),
            text("447700900123", "wamid.c", TS, "it's me"),
            text("14155550000", "wamid.d", TS, "who dis"),
        ],
        vec![],
    )]);
    assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let rel = |phone: &str, conversations: &[Value]| {
        let c = conversations
            .iter()
            .find(|c| c["customer_phone"] == phone)
            .unwrap();
        (
            c["rel_type"].as_str().unwrap().to_owned(),
            c["rel_id"].clone(),
        )
    };
    let all = inbox.conversations("").await;
    assert_eq!(
        rel("551187654321", &all),
        ("lead".into(), lead.body["id"].clone())
    );
    assert_eq!(
        rel("254733000111", &all),
        ("contact".into(), contact.body["id"].clone())
    );
    assert_eq!(
        rel("447700900123", &all),
        ("staff".into(), staff.body["id"].clone())
    );
    assert_eq!(rel("14155550000", &all), ("general".into(), Value::Null));
    assert_eq!(inbox.conversations("?rel_type=lead").await.len(), 1);
    // Lead conversations also land as lead notes (on by default).
    let notes = app
        .get(
            &format!("/api/v1/leads/{}/notes", lead.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(notes.body["items"][0]["body"], "WhatsApp message: oi");
}

#[tokio::test]
async fn a_batched_post_applies_every_entry_message_and_status() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [messages_change(vec![text("254700000001", "wamid.1", TS, "one"), text("254700000002", "wamid.2", TS, "two")], vec![])]},
            {"id": "1", "changes": [
                messages_change(vec![text("254700000001", "wamid.3", TS + 1, "three")], vec![]),
                statuses_change(vec![json!({"id": "wamid.unknown", "status": "delivered", "timestamp": TS.to_string(), "recipient_id": "254700000009"})]),
            ]},
        ]
    });
    assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let conversations = inbox.conversations("").await;
    assert_eq!(conversations.len(), 2);
    let first = conversations
        .iter()
        .find(|c| c["customer_phone"] == "254700000001")
        .unwrap();
    assert_eq!(first["unread_count"], 2);
    assert_eq!(first["last_message"]["preview"], "three");
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
}

#[tokio::test]
async fn duplicates_make_one_message() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let payload = envelope(vec![messages_change(
        vec![text("254712345678", "wamid.dup", TS, "once")],
        vec![],
    )]);
    // The same delivery twice, and the same message inside another body.
    assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    let again = envelope(vec![messages_change(
        vec![text("254712345678", "wamid.dup", TS, "once")],
        vec![contact("254712345678", "W")],
    )]);
    assert_eq!(send(&inbox, &again).await.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(conversation["unread_count"], 1);
    assert_eq!(
        inbox.webhook_events("processed").await.len(),
        2,
        "identical bodies are stored once"
    );
}

#[tokio::test]
async fn a_bad_signature_is_401_and_stores_nothing() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let body = serde_json::to_vec(&envelope(vec![messages_change(
        vec![text("254712345678", "wamid.x", TS, "hi")],
        vec![],
    )]))
    .unwrap();
    let forged = format!("sha256={}", hmac_hex("not-the-secret", &body));
    for headers in [
        vec![("x-hub-signature-256", forged.as_str())],
        vec![("x-hub-signature-256", "sha256=zz")],
        vec![],
    ] {
        let answer = inbox
            .app
            .post_raw(&inbox.webhook_path(), &body, &headers)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.problem_code(), "invalid_signature");
    }
    // A valid signature over other bytes does not cover these.
    let mut tampered = body.clone();
    let signature = format!("sha256={}", hmac_hex(APP_SECRET, &body));
    tampered[10] ^= 1;
    assert_eq!(
        inbox
            .app
            .post_raw(
                &inbox.webhook_path(),
                &tampered,
                &[("x-hub-signature-256", &signature)]
            )
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert!(inbox.webhook_events("pending").await.is_empty());
    assert!(inbox.webhook_events("failed").await.is_empty());
    assert!(inbox.conversations("").await.is_empty());
}

#[tokio::test]
async fn unknown_connections_are_404_and_verification_echoes_the_challenge() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let unknown = inbox
        .app
        .post_raw(
            &format!("/webhooks/meta/{}", uuid::Uuid::now_v7()),
            b"{}",
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "unknown_connection");

    let path = inbox.webhook_path();
    let ok = inbox
        .app
        .client
        .get(inbox.app.url(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = inbox
        .app
        .client
        .get(inbox.app.url(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn statuses_move_forward_only_and_late_ones_are_history() {
    let meta = FakeProvider::start().await;
    let inbox = meta_inbox(TestApp::spawn().await, Some(&meta.base_url)).await;
    send(
        &inbox,
        &envelope(vec![messages_change(
            vec![text(
                "254712345678",
                "wamid.in",
                Utc::now().timestamp(),
                "x",
            )],
            vec![],
        )]),
    )
    .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let sent = sent_message(
        &inbox,
        &meta,
        &conversation,
        "wamid.out",
        "Your order shipped",
    )
    .await;
    let status = |s: &str, ts: i64| json!({"id": "wamid.out", "status": s, "timestamp": ts.to_string(), "recipient_id": "254712345678"});
    // `read` overtakes `delivered`; then a late `delivered` and a `failed`
    // arrive, each processed before the next comes (webhooks in flight at the
    // same time may be applied in either order; the final status is the same).
    send(
        &inbox,
        &envelope(vec![statuses_change(vec![status("read", TS + 10)])]),
    )
    .await;
    inbox.app.run_jobs().await;
    send(
        &inbox,
        &envelope(vec![statuses_change(vec![status("delivered", TS + 5)])]),
    )
    .await;
    inbox.app.run_jobs().await;
    let failed = json!({"id": "wamid.out", "status": "failed", "timestamp": (TS + 20).to_string(), "recipient_id": "254712345678",
        "errors": [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable", "error_data": {"details": "Receiver is incapable of receiving this message"}}]});
    send(&inbox, &envelope(vec![statuses_change(vec![failed])])).await;
    inbox.app.run_jobs().await;

    let message = inbox
        .app
        .get(&format!("/api/v1/messages/{sent}"), &inbox.admin)
        .await;
    assert_eq!(message.body["status"], "read");
    assert_eq!(message.body["error"], Value::Null);
    let history: Vec<(String, bool)> = message.body["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_owned(),
                h["applied"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("delivered".into(), false),
            ("read".into(), true),
            ("failed".into(), false)
        ]
    );
    let failure = &message.body["status_history"][2]["errors"][0];
    assert_eq!(failure["code"], "131026");
}

#[tokio::test]
async fn a_failed_status_keeps_the_providers_error() {
    let meta = FakeProvider::start().await;
    let inbox = meta_inbox(TestApp::spawn().await, Some(&meta.base_url)).await;
    send(
        &inbox,
        &envelope(vec![messages_change(
            vec![text(
                "254712345678",
                "wamid.in",
                Utc::now().timestamp(),
                "x",
            )],
            vec![],
        )]),
    )
    .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let sent = sent_message(&inbox, &meta, &conversation, "wamid.fail", "hello").await;
    let failed = json!({"id": "wamid.fail", "status": "failed", "timestamp": TS.to_string(), "recipient_id": "254712345678",
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
            "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]});
    send(&inbox, &envelope(vec![statuses_change(vec![failed])])).await;
    inbox.app.run_jobs().await;
    let message = inbox
        .app
        .get(&format!("/api/v1/messages/{sent}"), &inbox.admin)
        .await;
    assert_eq!(message.body["status"], "failed");
    assert_eq!(message.body["error"]["provider_code"], "131047");
    assert_eq!(message.body["error"]["title"], "Re-engagement message");
    assert!(
        message.body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
}

#[tokio::test]
async fn image_media_is_fetched_from_meta_and_served() {
    let meta = FakeProvider::start().await;
    let inbox = meta_inbox(TestApp::spawn().await, Some(&meta.base_url)).await;
    let media_url = format!("{}/whatsapp_business/attachments/?mid=1046", meta.base_url);
    meta.script_json(
        "GET",
        "/v25.0/1046",
        500,
        json!({"error": {"message": "temporary", "code": 2}}),
    );
    meta.script_json(
        "GET",
        "/v25.0/1046",
        200,
        json!({"messaging_product": "whatsapp", "url": media_url, "mime_type": "image/jpeg", "sha256": "abc", "file_size": 4, "id": "1046"}),
    );
    meta.script(
        "GET",
        "/whatsapp_business/attachments/",
        200,
        "image/jpeg",
        vec![0xFF, 0xD8, 0xFF, 0xE0],
    );
    let payload = envelope(vec![messages_change(
        vec![
            json!({"from": "254712345678", "id": "wamid.img", "timestamp": TS.to_string(), "type": "image",
            "image": {"caption": "my receipt", "mime_type": "image/jpeg", "sha256": "abc", "id": "1046"}}),
        ],
        vec![],
    )]);
    assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    // The first fetch met a 500: the message is there, its media not yet.
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages[0]["media"]["downloaded"], false);
    // Said in a fixed sentence (issue 13): a status or connection error here
    // would tell a sender of media links what answers inside our network.
    assert_eq!(
        messages[0]["media"]["last_error"],
        "the media could not be downloaded yet (retryable)"
    );
    let not_ready = inbox
        .app
        .get(
            &format!(
                "/api/v1/messages/{}/media",
                messages[0]["id"].as_str().unwrap()
            ),
            &inbox.admin,
        )
        .await;
    assert_eq!(not_ready.problem_code(), "media_not_ready");
    // The retry comes due after its backoff (a second or two).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while inbox.only_conversation().await.1[0]["media"]["downloaded"] == false
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        inbox.app.run_jobs().await;
    }

    let (_, messages) = inbox.only_conversation().await;
    let message = &messages[0];
    assert_eq!(message["type"], "image");
    assert_eq!(message["body"], "my receipt");
    assert_eq!(message["media"]["mime_type"], "image/jpeg");
    assert_eq!(
        message["media"]["downloaded"], true,
        "the 500 was retried: {message}"
    );
    let media = inbox
        .app
        .client
        .get(inbox.app.url(&format!(
            "/api/v1/messages/{}/media",
            message["id"].as_str().unwrap()
        )))
        .bearer_auth(&inbox.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), StatusCode::OK);
    assert_eq!(media.headers()["content-type"], "image/jpeg");
    assert_eq!(
        media.bytes().await.unwrap().as_ref(),
        [0xFF, 0xD8, 0xFF, 0xE0]
    );
    // Both calls carried the access token.
    let calls = meta.requests();
    assert_eq!(calls.iter().filter(|r| r.path == "/v25.0/1046").count(), 2);
    assert!(calls.iter().all(|r| r.method == "GET"));
    assert!(
        calls
            .iter()
            .all(|r| r.headers.get("authorization").map(String::as_str)
                == Some("Bearer EAAG-test-token"))
    );

    // Staff without the inbox permission cannot fetch it.
    let (_, outsider) = inbox.app.staff_with(&["leads:view"]).await;
    let denied = inbox
        .app
        .get(
            &format!("/api/v1/messages/{}/media", message["id"].as_str().unwrap()),
            &outsider,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn auto_lead_creates_a_lead_for_an_unknown_sender_when_enabled() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let app = &inbox.app;
    let status = app
        .post(
            "/api/v1/lead-statuses",
            &inbox.admin,
            json!({"name": "New"}),
        )
        .await
        .body["id"]
        .clone();
    let source = app
        .post(
            "/api/v1/lead-sources",
            &inbox.admin,
            json!({"name": "WhatsApp"}),
        )
        .await
        .body["id"]
        .clone();
    let (agent, _) = app.staff_with(&["whatsapp_chat:view"]).await;
    let settings = json!({"enabled": true, "status_id": status, "source_id": source, "assigned_staff_id": agent});
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/auto-lead",
            Some(&inbox.admin),
            Some(settings.clone()),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);

    let payload = envelope(vec![messages_change(
        vec![text("254712345678", "wamid.lead", TS, "price?")],
        vec![contact("254712345678", "Wanjiru K")],
    )]);
    send(&inbox, &payload).await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    assert_eq!(conversation["rel_type"], "lead");
    let lead = app
        .get(
            &format!("/api/v1/leads/{}", conversation["rel_id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(lead.body["name"], "Wanjiru K");
    assert_eq!(lead.body["phone_normalized"], "254712345678");
    assert_eq!(lead.body["status_id"], status);
    assert_eq!(lead.body["source_id"], source);
    assert_eq!(lead.body["assigned_staff_id"], agent.as_str());
}

#[tokio::test]
async fn auto_lead_is_off_by_default() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let settings = inbox
        .app
        .get("/api/v1/settings/auto-lead", &inbox.admin)
        .await;
    assert_eq!(settings.body["enabled"], false);
    send(
        &inbox,
        &envelope(vec![messages_change(
            vec![text("254712345678", "wamid.g", TS, "hi")],
            vec![],
        )]),
    )
    .await;
    inbox.app.run_jobs().await;
    assert_eq!(inbox.only_conversation().await.0["rel_type"], "general");
    assert_eq!(
        inbox.app.get("/api/v1/leads", &inbox.admin).await.body["items"],
        json!([])
    );
}

/// Stores each payload through the webhook endpoint, then hands all of them to
/// ONE processing job, as ingest does with webhooks that share a group commit.
async fn store_as_one_batch(inbox: &Inbox, payloads: &[Value]) {
    use diesel_async::RunQueryDsl as _;
    for payload in payloads {
        assert_eq!(send(inbox, payload).await.status, StatusCode::OK);
    }
    let pending: Vec<uuid::Uuid> = inbox
        .webhook_events("pending")
        .await
        .iter()
        .map(|event| event["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pending.len(), payloads.len());
    let mut db = inbox.app.db().await;
    diesel::sql_query("DELETE FROM jobs WHERE kind = 'process_webhooks'")
        .execute(&mut db)
        .await
        .unwrap();
    wacrm_worker::enqueue(
        &mut db,
        &wacrm_worker::jobs::ProcessWebhooks { event_ids: pending },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn webhooks_processed_in_one_batch_end_as_if_applied_one_by_one() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    let saved = inbox
        .app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/auto-lead",
            Some(&inbox.admin),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let one = |message: Value, name: &str| {
        let from = message["from"].as_str().unwrap().to_owned();
        envelope(vec![messages_change(
            vec![message],
            vec![contact(&from, name)],
        )])
    };
    let mut wrong_number = one(text("254700000003", "wamid.c1", TS, "lost?"), "C");
    wrong_number["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] =
        json!("999999999");
    store_as_one_batch(
        &inbox,
        &[
            // A writes three times, the latest first; one message comes twice.
            one(text("254700000001", "wamid.a3", TS + 120, "third"), "Amina"),
            one(text("254700000001", "wamid.a1", TS, "first"), "Amina"),
            one(text("254700000001", "wamid.a2", TS + 60, "second"), "Amina"),
            envelope(vec![messages_change(
                vec![text("254700000001", "wamid.a2", TS + 60, "second")],
                vec![],
            )]),
            // B is unknown: auto-lead makes one lead for both messages.
            one(text("254700000002", "wamid.b1", TS, "price?"), "Baraka"),
            one(
                text("254700000002", "wamid.b2", TS + 5, "and delivery?"),
                "Baraka",
            ),
            // Names a number we do not have: this event alone fails.
            wrong_number,
        ],
    )
    .await;

    // One job applied them all; the two auto-leads' `lead_created` events
    // (committed with them) are processed by a job each.
    assert_eq!(
        inbox.app.run_jobs().await,
        3,
        "one job applied them all, then one per lead_created"
    );

    let conversations = inbox.conversations("").await;
    assert_eq!(conversations.len(), 2);
    let of = |phone: &str| {
        conversations
            .iter()
            .find(|c| c["customer_phone"] == phone)
            .unwrap()
            .clone()
    };
    let a = of("254700000001");
    assert_eq!(a["unread_count"], 3, "the duplicate counts once");
    assert_eq!(
        a["last_message"]["preview"], "third",
        "the latest by timestamp"
    );
    let window = Utc.timestamp_opt(TS + 120, 0).unwrap() + chrono::Duration::hours(24);
    assert_eq!(
        a["session"]["expires_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        window
    );
    assert_eq!(a["rel_type"], "lead");
    let b = of("254700000002");
    assert_eq!(b["unread_count"], 2);
    assert_eq!(b["profile_name"], "Baraka");
    let leads = inbox.app.get("/api/v1/leads", &inbox.admin).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(leads.len(), 2, "one lead per unknown sender: {leads:?}");
    assert_eq!(
        b["rel_id"],
        leads.iter().find(|l| l["name"] == "Baraka").unwrap()["id"]
    );
    let notes = inbox
        .app
        .get(
            &format!("/api/v1/leads/{}/notes", b["rel_id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(notes.body["items"].as_array().unwrap().len(), 2);

    assert_eq!(inbox.webhook_events("processed").await.len(), 6);
    let failed = inbox.webhook_events("failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("999999999"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_batch_that_fails_applies_its_events_one_by_one_and_keeps_the_failing_one_for_a_retry() {
    use diesel_async::RunQueryDsl as _;
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    // A database error that only one message runs into.
    let mut db = inbox.app.db().await;
    diesel::sql_query(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.body = 'boom' THEN RAISE EXCEPTION 'boom is refused'; END IF;
             RETURN NEW;
         END $$",
    )
    .execute(&mut db)
    .await
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages
         FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let one = |from: &str, id: &str, body: &str| {
        envelope(vec![messages_change(
            vec![text(from, id, TS, body)],
            vec![],
        )])
    };
    store_as_one_batch(
        &inbox,
        &[
            one("254700000001", "wamid.ok1", "fine"),
            one("254700000002", "wamid.boom", "boom"),
            one("254700000003", "wamid.ok2", "also fine"),
        ],
    )
    .await;

    inbox.app.run_jobs().await;

    let phones: Vec<Value> = inbox
        .conversations("")
        .await
        .iter()
        .map(|c| c["customer_phone"].clone())
        .collect();
    assert_eq!(phones.len(), 2, "{phones:?}");
    assert!(phones.contains(&json!("254700000001")) && phones.contains(&json!("254700000003")));
    assert_eq!(inbox.webhook_events("processed").await.len(), 2);
    let pending = inbox.webhook_events("pending").await;
    assert_eq!(pending.len(), 1, "the failing event waits for the retry");
    let jobs = inbox
        .app
        .get("/api/v1/admin/jobs?status=queued", &inbox.admin)
        .await;
    let job = &jobs.body["items"][0];
    assert_eq!(job["kind"], "process_webhooks");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("boom is refused"),
        "{job}"
    );

    // Once the cause is gone, the retry applies it (and only it).
    diesel::sql_query("DROP TRIGGER refuse_boom ON messages")
        .execute(&mut db)
        .await
        .unwrap();
    diesel::sql_query("UPDATE jobs SET run_at = now()")
        .execute(&mut db)
        .await
        .unwrap();
    inbox.app.run_jobs().await;
    assert_eq!(inbox.conversations("").await.len(), 3);
    assert_eq!(inbox.webhook_events("processed").await.len(), 3);
}

#[tokio::test]
async fn a_processing_job_takes_over_the_webhook_jobs_waiting_behind_it() {
    let inbox = meta_inbox(TestApp::spawn().await, None).await;
    for (index, from) in ["254700000001", "254700000002", "254700000003"]
        .iter()
        .enumerate()
    {
        let payload = envelope(vec![messages_change(
            vec![text(from, &format!("wamid.t{index}"), TS, "hi")],
            vec![],
        )]);
        assert_eq!(send(&inbox, &payload).await.status, StatusCode::OK);
    }
    // One slot: the first job claimed does the work of the other two.
    let attempts = inbox
        .app
        .run_jobs_with(inbox.app.runner().concurrency(1))
        .await;
    assert_eq!(attempts, 1);
    assert_eq!(inbox.conversations("").await.len(), 3);
    assert_eq!(inbox.webhook_events("processed").await.len(), 3);
    let jobs = inbox.app.get("/api/v1/admin/jobs", &inbox.admin).await;
    assert_eq!(jobs.body["items"], json!([]), "no job left behind");
}
