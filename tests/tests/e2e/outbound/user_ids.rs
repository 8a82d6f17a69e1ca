//! Customers Meta names by a business-scoped user id (BSUID) instead of, or as
//! well as, a phone number: users who adopted a WhatsApp username (2026).
//!
//! Payload shapes: Meta's "Business-scoped user IDs" guide
//! (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/):
//! an incoming message carries `from_user_id` and `contacts[].user_id`, the
//! user's `profile.username`, and `from` / `wa_id` only when Meta may share the
//! phone; a send to a BSUID names it in `recipient` instead of `to`, and the
//! answer's `contacts[]` has `input` and `user_id` (field-by-field tables:
//! https://dualhook.com/docs/contacts-bsuid-webhooks and
//! https://dualhook.com/docs/contacts-bsuid-api-changes). Identity changes are system
//! messages (`user_changed_user_id`, `user_changed_number`) with `system.user_id`,
//! `system.previous_user_id` and, for a number change, `system.wa_id`
//! (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/
//! and the changelog of 2026-08-11).

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

const BSUID: &str = "US.13491208655302741918";

/// A `messages` webhook from the customer, as Meta shapes it for a user with a
/// username: `from` and `wa_id` only when `phone` is given.
async fn webhook(inbox: &Inbox, message: Value, contact: Value) {
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [contact],
        "messages": [message]
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    assert!(
        inbox.webhook_events("failed").await.is_empty(),
        "no webhook failed: {:?}",
        inbox.webhook_events("failed").await
    );
}

/// A text from the customer now: by user id, and by phone too when `phone` is given.
async fn customer_texts(
    inbox: &Inbox,
    phone: Option<&str>,
    user_id: &str,
    wamid: &str,
    text: &str,
) {
    let mut message = json!({"from_user_id": user_id, "id": wamid,
        "timestamp": Utc::now().timestamp().to_string(), "type": "text", "text": {"body": text}});
    let mut contact =
        json!({"profile": {"name": "Amara", "username": "amara.k"}, "user_id": user_id});
    if let Some(phone) = phone {
        message["from"] = json!(phone);
        contact["wa_id"] = json!(phone);
    }
    webhook(inbox, message, contact).await;
}

async fn messages_of(inbox: &Inbox, conversation: &Value) -> Vec<Value> {
    let answer = inbox
        .app
        .get(
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"].as_str().unwrap()
            ),
            &inbox.admin,
        )
        .await;
    answer.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_customer_known_only_by_user_id_is_in_the_inbox_and_replies_go_to_their_user_id() {
    let (inbox, meta) = meta_outbox().await;
    customer_texts(&inbox, None, BSUID, "wamid.U1", "Is the blue one in stock?").await;

    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["customer_phone"], Value::Null);
    assert_eq!(conversation["customer_user_id"], BSUID);
    assert_eq!(conversation["username"], "amara.k");
    assert_eq!(conversation["profile_name"], "Amara");
    // No phone: nothing to match a lead, contact or staff member by.
    assert_eq!(conversation["rel_type"], "general");
    assert_eq!(conversation["session"]["active"], true);
    assert_eq!(messages[0]["body"], "Is the blue one in stock?");
    // The inbox search finds the customer by username and by user id.
    assert_eq!(inbox.conversations("?q=amara.k").await.len(), 1);
    assert_eq!(inbox.conversations("?q=US.134912").await.len(), 1);

    meta.script_json(
        "POST",
        &messages_path(),
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": BSUID, "user_id": BSUID}],
               "messages": [{"id": "wamid.OUT-U1"}]}),
    );
    let id = conversation["id"].as_str().unwrap();
    let queued = send(
        &inbox,
        id,
        json!({"type": "text", "text": "Yes, size M and L"}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["provider_message_id"], "wamid.OUT-U1");
    let calls = meta.requests_to("POST", &messages_path());
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "recipient": BSUID,
               "type": "text", "text": {"body": "Yes, size M and L", "preview_url": false}})
    );
}

#[tokio::test]
async fn a_later_message_with_phone_and_user_id_links_the_phone_and_finds_the_lead() {
    let (inbox, meta) = meta_outbox().await;
    let lead = inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Amara Kimani", "phone": "+254 712 345 678"}),
        )
        .await;
    assert_eq!(lead.status, StatusCode::CREATED, "{}", lead.body);
    customer_texts(&inbox, None, BSUID, "wamid.U1", "hello").await;
    let (first, _) = inbox.only_conversation().await;
    assert_eq!(first["rel_type"], "general");

    // Meta shares the phone again (e.g. we wrote to it in the last 30 days).
    customer_texts(&inbox, Some(CUSTOMER), BSUID, "wamid.U2", "it's Amara").await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["id"], first["id"], "the same conversation");
    assert_eq!(conversation["customer_phone"], CUSTOMER);
    assert_eq!(conversation["customer_user_id"], BSUID);
    assert_eq!(conversation["rel_type"], "lead");
    assert_eq!(conversation["rel_id"], lead.body["id"]);
    assert_eq!(conversation["unread_count"], 2);
    assert_eq!(messages.len(), 2);

    // A later message by user id alone still belongs to the lead: its
    // conversation has the phone now.
    customer_texts(&inbox, None, BSUID, "wamid.U3", "any news?").await;
    let (conversation, _) = inbox.only_conversation().await;
    assert_eq!(conversation["rel_type"], "lead");
    assert_eq!(conversation["customer_phone"], CUSTOMER);

    // With the phone known, replies go to it, as Meta asks.
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.OUT-P"));
    let id = conversation["id"].as_str().unwrap();
    let queued = send(&inbox, id, json!({"type": "text", "text": "On its way"})).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    assert_eq!(
        delivered(&inbox, queued.body["id"].as_str().unwrap()).await["status"],
        "sent"
    );
    let call = &meta.requests_to("POST", &messages_path())[0];
    assert_eq!(call.json()["to"], CUSTOMER);
    assert!(call.json().get("recipient").is_none());
}

#[tokio::test]
async fn a_conversation_by_phone_and_one_by_user_id_merge_into_the_older() {
    let (inbox, _meta) = meta_outbox().await;
    // Before Meta sent user ids: a conversation by phone.
    let older = someone_says(&inbox, CUSTOMER, "wamid.P1", "first, by phone").await;
    // The same person by user id alone: nothing says yet that it is them.
    customer_texts(&inbox, None, BSUID, "wamid.U1", "then by user id").await;
    assert_eq!(inbox.conversations("").await.len(), 2);

    // A message naming both: one customer, one conversation, the older one.
    customer_texts(&inbox, Some(CUSTOMER), BSUID, "wamid.B1", "now both").await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["id"], older.as_str());
    assert_eq!(conversation["customer_phone"], CUSTOMER);
    assert_eq!(conversation["customer_user_id"], BSUID);
    assert_eq!(conversation["username"], "amara.k");
    assert_eq!(conversation["unread_count"], 3);
    assert_eq!(conversation["last_message"]["preview"], "now both");
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["now both", "then by user id", "first, by phone"]);
}

#[tokio::test]
async fn identity_change_events_move_the_conversation_to_the_new_user_id_and_number() {
    let (inbox, _meta) = meta_outbox().await;
    customer_texts(&inbox, Some(CUSTOMER), BSUID, "wamid.U1", "hi").await;
    let (conversation, _) = inbox.only_conversation().await;

    // The user's BSUID changed; Meta shares no phone with this event.
    let renewed = "US.99887766554433221100";
    webhook(
        &inbox,
        json!({"id": "wamid.SYS1", "timestamp": Utc::now().timestamp().to_string(), "type": "system",
               "system": {"body": format!("User Amara changed from {BSUID} to {renewed}"),
                          "user_id": renewed, "previous_user_id": BSUID, "type": "user_changed_user_id"}}),
        json!({"profile": {"name": "Amara"}, "user_id": renewed}),
    )
    .await;
    let (moved, messages) = inbox.only_conversation().await;
    assert_eq!(moved["id"], conversation["id"]);
    assert_eq!(moved["customer_user_id"], renewed);
    assert_eq!(moved["customer_phone"], CUSTOMER, "the phone stays");
    assert_eq!(messages[0]["type"], "system");

    // A message by the new id alone lands in the same conversation.
    customer_texts(&inbox, None, renewed, "wamid.U2", "still me").await;
    let (same, _) = inbox.only_conversation().await;
    assert_eq!(same["id"], conversation["id"]);

    // A new phone number, and with it a new BSUID.
    let new_phone = "254722000333";
    let newest = "US.11112222333344445555";
    webhook(
        &inbox,
        json!({"from": CUSTOMER, "id": "wamid.SYS2", "timestamp": Utc::now().timestamp().to_string(), "type": "system",
               "system": {"body": format!("User Amara changed from {CUSTOMER} to {new_phone}"),
                          "wa_id": new_phone, "user_id": newest, "previous_user_id": renewed,
                          "type": "user_changed_number"}}),
        json!({"profile": {"name": "Amara"}, "wa_id": CUSTOMER}),
    )
    .await;
    let (moved, _) = inbox.only_conversation().await;
    assert_eq!(moved["id"], conversation["id"]);
    assert_eq!(moved["customer_phone"], new_phone);
    assert_eq!(moved["customer_user_id"], newest);
    let found = messages_of(&inbox, &moved).await;
    assert_eq!(found.len(), 4);
}

#[tokio::test]
async fn a_provider_other_than_meta_refuses_a_customer_without_a_phone() {
    // TATA relays Meta's message objects as they are; one from a username user
    // has no `from`.
    let tata = FakeProvider::start().await;
    let inbox = Inbox::with_app(
        TestApp::spawn().await,
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616"}),
    )
    .await;
    let body = json!({
        "contacts": [{"profile": {"name": "Amara", "username": "amara.k"}, "user_id": BSUID}],
        "messages": {"from_user_id": BSUID, "id": "wamid.T1", "timestamp": Utc::now().timestamp().to_string(),
                     "text": {"body": "hi"}, "type": "text"},
        "businessPhoneNumber": "+919355421616",
        "id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"
    });
    let answer = inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    assert_eq!(conversation["customer_user_id"], BSUID);

    let refused = send(
        &inbox,
        conversation["id"].as_str().unwrap(),
        json!({"type": "text", "text": "hello"}),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.problem_code(), "unsupported_by_provider");
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert!(tata.requests().is_empty());
}
