//! Meta's events beyond plain messages and statuses (issue 9 items 5 and 7): a
//! message Meta could not describe, system errors, Business app echoes, marketing
//! preferences, template quality / category / lock / archive, `played`,
//! `request_welcome`, edits and revokes. Payload shapes follow Meta's webhook
//! reference (developers.facebook.com/documentation/business-messaging/whatsapp/
//! webhooks/reference/…) and pywa's test data (david-lev/pywa,
//! `tests/data/updates/`), as cited at each test.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Inbox;
use crate::outbound::{
    CUSTOMER, META_SECRET, PHONE_NUMBER_ID, WABA_ID, accepted, customer_says, delivered,
    messages_path, meta_outbox, send,
};

/// Posts one signed change of `field` (the number's metadata added) and runs the jobs.
async fn post(inbox: &Inbox, field: &str, mut value: Value) {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID});
    post_body(
        inbox,
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": Utc::now().timestamp(),
            "changes": [{"field": field, "value": value}]}]}),
    )
    .await;
}

async fn post_body(inbox: &Inbox, payload: Value) {
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
    for _ in 0..4 {
        if inbox.app.run_jobs().await == 0 {
            break;
        }
    }
}

fn now() -> String {
    Utc::now().timestamp().to_string()
}

async fn messages_of(inbox: &Inbox, conversation: &str) -> Vec<Value> {
    let answer = inbox
        .app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &inbox.admin,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"].as_array().unwrap().clone()
}

fn by_wamid<'a>(messages: &'a [Value], wamid: &str) -> &'a Value {
    messages
        .iter()
        .find(|message| message["provider_message_id"] == wamid)
        .unwrap_or_else(|| panic!("{wamid} not in {messages:?}"))
}

/// pywa `message.json` `interactive_message_with_err`: Meta could not describe the
/// message (an `interactive` message without its object) and says why in the value's
/// `errors`. The message is kept as unsupported with the error, the text next to it
/// applies, the webhook does not fail, and the error is listed for admins and on the
/// connection.
#[tokio::test]
async fn a_message_meta_could_not_describe_is_kept_and_the_rest_of_the_body_applies() {
    let (inbox, _meta) = meta_outbox().await;
    post(&inbox, "messages", json!({
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
        "messages": [
            {"context": {"from": "15550100999", "id": "wamid.gvwegfretge=="},
             "from": CUSTOMER, "id": "wamid.wegrchytvwcggt=", "timestamp": now(), "type": "interactive"},
            {"from": CUSTOMER, "id": "wamid.TEXT", "timestamp": now(), "type": "text", "text": {"body": "Are you there?"}}
        ],
        "errors": [{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
                    "error_data": {"details": "Unsupported webhook payload"}}]
    })).await;

    assert!(inbox.webhook_events("failed").await.is_empty());
    assert_eq!(inbox.webhook_events("processed").await.len(), 1);
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 2);
    let unsupported = by_wamid(&messages, "wamid.wegrchytvwcggt=");
    assert_eq!(unsupported["type"], "unsupported");
    assert_eq!(unsupported["direction"], "inbound");
    assert_eq!(
        unsupported["body"],
        "[unsupported message: Something went wrong]"
    );
    assert_eq!(unsupported["payload"]["errors"][0]["code"], 131000);
    assert_eq!(by_wamid(&messages, "wamid.TEXT")["body"], "Are you there?");
    assert_eq!(conversation["unread_count"], 2);

    let listed = inbox
        .app
        .get("/api/v1/admin/provider-errors", &inbox.admin)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let errors = listed.body["items"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "131000");
    assert_eq!(errors[0]["title"], "Something went wrong");
    assert_eq!(errors[0]["details"], "Unsupported webhook payload");
    assert_eq!(errors[0]["connection_id"], inbox.connection["id"]);
    assert_eq!(errors[0]["number_id"], inbox.number_id.as_str());
    let id = inbox.connection["id"].as_str().unwrap();
    let connection = inbox
        .app
        .get(&format!("/api/v1/connections/{id}"), &inbox.admin)
        .await;
    assert_eq!(connection.body["last_provider_error"]["code"], "131000");
    let staff = inbox.app.staff_with(&["whatsapp_chat:view"]).await.1;
    let refused = inbox.app.get("/api/v1/admin/provider-errors", &staff).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// Meta's `smb_message_echoes` reference: the business answered from the WhatsApp
/// Business app. The answer shows in the customer's conversation as outbound and
/// sent, by `business_app`, and nothing is sent to Meta again.
#[tokio::test]
async fn a_business_app_echo_shows_as_an_outbound_message_and_is_not_sent_again() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_says(&inbox, "wamid.Q", "Do you have size 42?").await;
    post(
        &inbox,
        "smb_message_echoes",
        json!({"message_echoes": [{
            "from": "15550100999", "to": CUSTOMER, "id": "wamid.ECHO", "timestamp": now(),
            "type": "text", "text": {"body": "Yes, in black and brown."}
        }]}),
    )
    .await;
    let messages = messages_of(&inbox, &conversation).await;
    assert_eq!(messages.len(), 2);
    let echo = by_wamid(&messages, "wamid.ECHO");
    assert_eq!(echo["direction"], "outbound");
    assert_eq!(echo["status"], "sent");
    assert_eq!(echo["sent_by"], "business_app");
    assert_eq!(echo["body"], "Yes, in black and brown.");
    assert!(meta.requests_to("POST", &messages_path()).is_empty());
    let (listed, _) = inbox.only_conversation().await;
    assert_eq!(
        listed["last_message"]["preview"],
        "Yes, in black and brown."
    );
    assert_eq!(listed["unread_count"], 1, "an echo is not unread");
    // Delivered twice, stored once.
    post(
        &inbox,
        "smb_message_echoes",
        json!({"message_echoes": [{
            "from": "15550100999", "to": CUSTOMER, "id": "wamid.ECHO", "timestamp": now(),
            "type": "text", "text": {"body": "Yes, in black and brown."}
        }]}),
    )
    .await;
    assert_eq!(messages_of(&inbox, &conversation).await.len(), 2);
}

/// Meta's `user_preferences` reference (stop, then resume): the consent store keeps
/// the customer's current marketing state and every change.
#[tokio::test]
async fn marketing_stop_and_resume_are_recorded_in_the_consent_store() {
    let (inbox, _meta) = meta_outbox().await;
    let preference = |value: &str, detail: &str, ts: i64| {
        json!({"contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
               "user_preferences": [{"wa_id": CUSTOMER, "detail": detail, "category": "marketing_messages",
                                     "value": value, "timestamp": ts}]})
    };
    let ts = Utc::now().timestamp();
    post(
        &inbox,
        "user_preferences",
        preference("stop", "User requested to stop marketing messages", ts - 60),
    )
    .await;
    let mut db = inbox.app.db().await;
    let state = wacrm_persistence::consent::find(&mut db, CUSTOMER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.state, "opted_out");
    assert_eq!(
        state.reason.as_deref(),
        Some("User requested to stop marketing messages")
    );
    assert_eq!(state.source, "meta:user_preferences");

    post(
        &inbox,
        "user_preferences",
        preference("resume", "User requested to resume marketing messages", ts),
    )
    .await;
    // A late copy of the older stop does not undo the newer resume.
    post(&inbox, "user_preferences", {
        let mut late = preference("stop", "User requested to stop marketing messages", ts - 60);
        late["contacts"] = json!([]);
        late
    })
    .await;
    let state = wacrm_persistence::consent::find(&mut db, CUSTOMER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.state, "subscribed");
    let history: Vec<String> = wacrm_persistence::consent::history(&mut db, CUSTOMER, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|change| change.state)
        .collect();
    assert_eq!(history, ["opted_out", "subscribed"]);
    assert!(inbox.webhook_events("failed").await.is_empty());
}

/// pywa `template_quality_update.json` and `template_category_update.json`, and
/// Meta's `message_template_status_update` reference (`LOCKED`, `UNLOCKED`,
/// `ARCHIVED`): the template list shows the change.
/// An APPROVED utility template `name` (Meta id 806312974732579), as a sync stores it.
async fn synced_template(inbox: &Inbox, name: &str) {
    let mut db = inbox.app.db().await;
    let connection_id = inbox.connection["id"].as_str().unwrap().parse().unwrap();
    wacrm_persistence::templates::upsert_all(
        &mut db,
        connection_id,
        vec![wacrm_persistence::templates::SyncedTemplate {
            provider_template_id: Some("806312974732579".into()),
            name: name.into(),
            language: "en_US".into(),
            category: Some("UTILITY".into()),
            status: "APPROVED".into(),
            components: json!([{"type": "BODY", "text": "Hello"}]),
        }],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn template_quality_category_lock_and_archive_change_the_template() {
    let (inbox, _meta) = meta_outbox().await;
    synced_template(&inbox, "welcome_template").await;
    let template = || async {
        let listed = inbox.app.get("/api/v1/templates", &inbox.admin).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        listed.body["items"][0].clone()
    };
    assert_eq!(template().await["quality_score"], Value::Null);
    let account_change = |field: &str, value: Value| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": 1_674_864_290,
               "changes": [{"field": field, "value": value}]}]})
    };
    post_body(
        &inbox,
        account_change(
            "message_template_quality_update",
            json!({
        "previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
        "message_template_id": 806_312_974_732_579_i64, "message_template_name": "welcome_template",
        "message_template_language": "en_US"}),
        ),
    )
    .await;
    post_body(
        &inbox,
        account_change(
            "template_category_update",
            json!({
        "message_template_id": 806_312_974_732_579_i64, "message_template_name": "welcome_template",
        "message_template_language": "en_US", "new_category": "MARKETING"}),
        ),
    )
    .await;
    post_body(&inbox, account_change("message_template_status_update", json!({
        "event": "LOCKED", "message_template_id": 806_312_974_732_579_i64, "message_template_name": "welcome_template",
        "message_template_language": "en_US", "reason": "NONE"}))).await;
    let changed = template().await;
    assert_eq!(changed["quality_score"], "YELLOW");
    assert_eq!(changed["category"], "MARKETING");
    assert_eq!(changed["locked"], true);
    assert_eq!(
        changed["status"], "APPROVED",
        "a locked template can still be sent"
    );

    post_body(&inbox, account_change("message_template_status_update", json!({
        "event": "UNLOCKED", "message_template_id": 806_312_974_732_579_i64, "message_template_name": "welcome_template",
        "message_template_language": "en_US", "reason": "NONE"}))).await;
    post_body(&inbox, account_change("message_template_status_update", json!({
        "event": "ARCHIVED", "message_template_id": 806_312_974_732_579_i64, "message_template_name": "welcome_template",
        "message_template_language": "en_US", "reason": "NONE"}))).await;
    let archived = template().await;
    assert_eq!(archived["locked"], false);
    assert_eq!(archived["status"], "ARCHIVED");
    let filtered = inbox
        .app
        .get("/api/v1/templates?status=ARCHIVED", &inbox.admin)
        .await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);
    assert!(inbox.webhook_events("failed").await.is_empty());
}

/// Issue 13: a template status whose reason is longer than a NOTIFY payload may be
/// (8000 bytes) used to fail its event forever; the change is kept whole and the
/// real-time event goes out without the long text. Envelope as in Meta's
/// `message_template_status_update` reference (see the test above).
#[tokio::test]
async fn a_template_rejected_with_an_8_kb_reason_is_applied_whole() {
    let (inbox, _meta) = meta_outbox().await;
    synced_template(&inbox, "order_update").await;
    let reason = format!("{}End.", "The template breaks a policy. ".repeat(300));
    assert!(reason.len() > 8_000);
    post_body(
        &inbox,
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": 1_674_864_290,
            "changes": [{"field": "message_template_status_update", "value": {
                "event": "REJECTED", "message_template_id": 806_312_974_732_579_i64,
                "message_template_name": "order_update", "message_template_language": "en_US",
                "reason": reason}}]}]}),
    )
    .await;
    assert!(inbox.webhook_events("failed").await.is_empty());
    assert!(inbox.webhook_events("pending").await.is_empty());
    let listed = inbox.app.get("/api/v1/templates", &inbox.admin).await;
    let template = &listed.body["items"][0];
    assert_eq!(template["status"], "REJECTED");
    assert_eq!(template["status_reason"], reason.as_str());
}

/// pywa `message_status.json` `played`: a voice message sent through the API is
/// played after it was read; `played` is the last status and a late `read` does not
/// move it back.
#[tokio::test]
async fn a_played_voice_message_stays_played() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_says(&inbox, "wamid.IN", "send me the voice note").await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.VOICE"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Here it comes"}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let id = queued.body["id"].as_str().unwrap().to_owned();
    assert_eq!(delivered(&inbox, &id).await["status"], "sent");
    let status = |name: &str, ts: i64| {
        json!({"statuses": [{"id": "wamid.VOICE", "status": name, "timestamp": ts.to_string(),
                             "recipient_id": CUSTOMER}]})
    };
    let ts = Utc::now().timestamp();
    post(&inbox, "messages", status("delivered", ts)).await;
    post(&inbox, "messages", status("played", ts + 5)).await;
    post(&inbox, "messages", status("read", ts + 6)).await;
    let message = inbox
        .app
        .get(&format!("/api/v1/messages/{id}"), &inbox.admin)
        .await
        .body;
    assert!(inbox.webhook_events("failed").await.is_empty());
    assert_eq!(message["status"], "played");
    let history: Vec<(String, bool)> = message["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["status"].as_str().unwrap().to_owned(),
                event["applied"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("delivered".to_owned(), true),
            ("played".to_owned(), true),
            ("read".to_owned(), false)
        ]
    );
}

/// Meta's `messages` reference, `type: "request_welcome"`: the customer opened the
/// chat for the first time. It is stored as a system event that opens the window (not
/// as an unsupported message) and a `first_message` bot welcomes them; their first
/// real message does not get a second welcome.
#[tokio::test]
async fn a_welcome_request_opens_the_chat_and_the_welcome_bot_answers() {
    let (inbox, meta) = meta_outbox().await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.BOT"));
    let created = inbox
        .app
        .post(
            "/api/v1/bots",
            &inbox.admin,
            json!({"name": "Welcome", "priority": 10, "trigger": {"type": "first_message"},
                   "response": {"type": "text", "text": "Welcome! How can we help?"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    post(&inbox, "messages", json!({
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
        "messages": [{"from": CUSTOMER, "id": "wamid.WELCOME", "timestamp": now(), "type": "request_welcome"}]
    })).await;
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(conversation["session"]["active"], true);
    let welcome = by_wamid(&messages, "wamid.WELCOME");
    assert_eq!(welcome["type"], "system");
    assert_eq!(welcome["body"], "[opened the chat]");
    assert_eq!(welcome["payload"]["type"], "request_welcome");
    let sent: Vec<Value> = meta
        .requests_to("POST", &messages_path())
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"]["body"], "Welcome! How can we help?");

    customer_says(&inbox, "wamid.HI", "hi").await;
    for _ in 0..3 {
        inbox.app.run_jobs().await;
    }
    assert_eq!(meta.requests_to("POST", &messages_path()).len(), 1);
}

/// pywa `edited_message.json` and `deleted_message.json`: the customer edits a message,
/// then deletes it. The inbox shows the new text, then that it was deleted; what it
/// said before is kept in `payload.revisions`.
#[tokio::test]
async fn an_edit_then_a_revoke_change_the_message_and_keep_its_history() {
    let (inbox, _meta) = meta_outbox().await;
    let conversation = customer_says(&inbox, "wamid.ORIGINAL", "See you at 5").await;
    post(
        &inbox,
        "messages",
        json!({"messages": [{
            "from": CUSTOMER, "id": "wamid.EDIT", "timestamp": now(), "type": "edit",
            "edit": {"original_message_id": "wamid.ORIGINAL",
                     "message": {"type": "text", "text": {"body": "See you at 6"}}}
        }]}),
    )
    .await;
    let messages = messages_of(&inbox, &conversation).await;
    assert_eq!(messages.len(), 1, "an edit is not a new message");
    let edited = by_wamid(&messages, "wamid.ORIGINAL");
    assert_eq!(edited["body"], "See you at 6");
    assert_eq!(edited["payload"]["revisions"][0]["body"], "See you at 5");
    assert!(edited["payload"]["edited_at"].is_string());

    post(
        &inbox,
        "messages",
        json!({"messages": [{
            "from": CUSTOMER, "id": "wamid.REVOKE", "timestamp": now(), "type": "revoke",
            "revoke": {"original_message_id": "wamid.ORIGINAL"}
        }]}),
    )
    .await;
    let messages = messages_of(&inbox, &conversation).await;
    let revoked = by_wamid(&messages, "wamid.ORIGINAL");
    assert_eq!(revoked["body"], "[message deleted]");
    assert!(revoked["payload"]["revoked_at"].is_string());
    let said: Vec<&str> = revoked["payload"]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|revision| revision["body"].as_str().unwrap())
        .collect();
    assert_eq!(said, ["See you at 5", "See you at 6"]);
    assert!(inbox.webhook_events("failed").await.is_empty());
}

/// A value's `errors` (the shape of the test above) are unbounded: one webhook
/// carrying more errors than one INSERT can bind (9 parameters a row, 65,535 a
/// statement) still records every one of them.
#[tokio::test]
async fn more_system_errors_than_one_insert_can_bind_are_all_recorded() {
    let (inbox, _meta) = meta_outbox().await;
    const ERRORS: usize = 65_535 / 9 + 100;
    let errors: Vec<Value> = (0..ERRORS)
        .map(|n| json!({"code": 131000, "title": format!("Something went wrong {n}")}))
        .collect();
    post(&inbox, "messages", json!({"errors": errors})).await;

    assert!(inbox.webhook_events("failed").await.is_empty());
    use diesel::QueryDsl as _;
    use diesel_async::RunQueryDsl as _;
    use wacrm_persistence::schema::provider_errors;
    let recorded: i64 = provider_errors::table
        .count()
        .get_result(&mut inbox.app.db().await)
        .await
        .unwrap();
    assert_eq!(recorded, i64::try_from(ERRORS).unwrap());
}
