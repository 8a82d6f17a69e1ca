//! Templates on every provider: registered by hand where the provider lists none
//! (TATA), synced from Whats91's list, and sent once the 24-hour window has closed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{delivered, send};
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::{Inbox, hmac_hex};

const W91_SECRET: &str = "w91-signing-secret";

/// `POST /api/v1/templates` for this inbox's connection.
async fn register(inbox: &Inbox, template: Value) -> crate::harness::Answer {
    let mut body = template;
    body["connection_id"] = inbox.connection["id"].clone();
    inbox
        .app
        .post("/api/v1/templates", &inbox.admin, body)
        .await
}

/// A TATA customer who last wrote 30 hours ago (seed 004's inbound shape); returns
/// the conversation id.
async fn tata_customer_wrote_yesterday(inbox: &Inbox) -> String {
    let ts = (chrono::Utc::now().timestamp() - 30 * 3600).to_string();
    let inbound = json!({"contacts": [{"profile": {"name": "U"}, "wa_id": "919999999999"}],
        "messages": {"from": "919999999999", "id": "wamid.T-OLD", "timestamp": ts, "text": {"body": "hi"}, "type": "text"},
        "businessPhoneNumber": "+919355421616"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    assert_eq!(conversation["session"]["active"], false);
    conversation["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_template_registered_by_hand_reaches_a_tata_customer_after_the_window() {
    let tata = FakeProvider::start().await;
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616", "is_default": true}),
    )
    .await;
    inbox.point_at(&tata.base_url).await;
    let conversation = tata_customer_wrote_yesterday(&inbox).await;

    // Nothing is stored yet: the outbox refuses the template.
    let template = json!({"type": "template", "template": {"name": "order_update", "language": "en",
        "body_params": ["Asha", "#1042"]}});
    let refused = send(&inbox, &conversation, template.clone()).await;
    assert_eq!(refused.problem_code(), "template_not_found");

    // What is wrong is named field by field.
    let invalid = register(
        &inbox,
        json!({"name": "Order Update", "language": "english!", "category": "PROMO",
               "components": [{"type": "BODY", "text": "Hi {{2}}"}], "status": "MAYBE"}),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.problem_code(), "validation_failed");
    let mut fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "category",
            "components[0].text",
            "language",
            "name",
            "status"
        ]
    );

    let created = register(
        &inbox,
        json!({"name": "order_update", "language": "en", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today"},
                              {"type": "FOOTER", "text": "Reply STOP to opt out"}]}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["source"], "manual");
    assert_eq!(
        created.body["status"], "APPROVED",
        "the admin asserts approval"
    );
    assert_eq!(created.body["category"], "UTILITY");
    let again = register(
        &inbox,
        json!({"name": "order_update", "language": "en", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Hi"}]}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "already_exists");

    // Its parameters are derived from the body: one value is not enough.
    let short = send(
        &inbox,
        &conversation,
        json!({"type": "template", "template": {"name": "order_update", "language": "en", "body_params": ["Asha"]}}),
    )
    .await;
    assert_eq!(short.problem_code(), "template_parameters_mismatch");

    tata.script_json(
        "POST",
        "/whatsapp-cloud/messages",
        200,
        json!({"id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"}),
    );
    let queued = send(&inbox, &conversation, template).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    let calls = tata.requests_to("POST", "/whatsapp-cloud/messages");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["authorization"], "tata-key");
    // Meta's template send body, which TATA takes as it is
    // (developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates).
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "919999999999",
               "type": "template", "template": {"name": "order_update", "language": {"code": "en"},
               "components": [{"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "#1042"}]}]}})
    );

    // Paused by hand, it is no longer sendable; deleted, it is gone.
    let id = created.body["id"].as_str().unwrap();
    let paused = inbox
        .app
        .patch(
            &format!("/api/v1/templates/{id}"),
            &inbox.admin,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["status"], "PAUSED");
    let refused = send(
        &inbox,
        &conversation,
        json!({"type": "template", "template": {"name": "order_update", "language": "en", "body_params": ["A", "B"]}}),
    )
    .await;
    assert_eq!(refused.problem_code(), "template_not_approved");
    let deleted = inbox
        .app
        .delete(&format!("/api/v1/templates/{id}"), &inbox.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = inbox
        .app
        .get(&format!("/api/v1/templates/{id}"), &inbox.admin)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registering_templates_takes_the_templates_permission() {
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616", "is_default": true}),
    )
    .await;
    let (_, viewer) = inbox.app.staff_with(&["whatsapp_template:view"]).await;
    let body = json!({"connection_id": inbox.connection["id"], "name": "hello", "language": "en",
        "category": "UTILITY", "components": [{"type": "BODY", "text": "Hello"}]});
    let denied = inbox
        .app
        .post("/api/v1/templates", &viewer, body.clone())
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let (_, loader) = inbox
        .app
        .staff_with(&["whatsapp_template:load_template"])
        .await;
    let created = inbox.app.post("/api/v1/templates", &loader, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// A signed Whats91 webhook, processed.
async fn whats91_webhook(inbox: &Inbox, body: Value) {
    let body = body.to_string().into_bytes();
    let answer = inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            &body,
            &[("x-whats91-signature", &hmac_hex(W91_SECRET, &body))],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
}

#[tokio::test]
async fn whats91_templates_sync_page_by_page_and_go_out_in_their_language() {
    let whats91 = FakeProvider::start().await;
    let inbox = Inbox::new(
        "whats91",
        json!({"api_key": "w91_live_key", "signing_secret": W91_SECRET}),
        json!({"phone": "+91 62686 62275", "is_default": true}),
    )
    .await;
    inbox
        .point_at(&format!("{}/api/v2", whats91.base_url))
        .await;

    // Registered by hand before the provider listed it: the sync must leave it be.
    let manual = register(
        &inbox,
        json!({"name": "festival_offer_v1", "language": "en", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Our own wording {{1}}"}]}),
    )
    .await;
    assert_eq!(manual.status, StatusCode::CREATED, "{}", manual.body);

    // Whats91 documents `GET /api/v2/templates` but not its answer: the envelope and
    // pagination of its other v2 lists (whats91/developers.whats91.com,
    // public/llms/conversations.md) around templates as `POST /api/v2/templates`
    // answers them (public/llms/templates.md). See README, known limits.
    whats91.script_json("GET", "/api/v2/templates", 200, json!({"success": true, "message": "Templates retrieved",
        "data": {"senderId": "916268662275", "templates": [
            {"templateUid": "uid-1", "templateId": "w91_1", "templateName": "payment_reminder_v1", "category": "UTILITY",
             "language": "en_US", "status": "APPROVED", "metaTemplateId": "1234567890",
             "body": {"text": "Hello {{1}}, payment for invoice {{2}} is due on {{3}}."}},
            {"templateUid": "uid-2", "templateName": "festival_offer_v1", "category": "MARKETING", "language": "en",
             "status": "PENDING", "body": {"text": "Hello {{1}}, our festive offer is live."}}],
            "pagination": {"page": 1, "limit": 100, "total": 3, "totalPages": 2, "hasMore": true}},
        "metadata": {"apiVersion": "v2", "requestId": "request-uuid"}}));
    whats91.script_json("GET", "/api/v2/templates", 200, json!({"success": true,
        "data": {"templates": [{"templateUid": "uid-3", "templateName": "login_otp_v1", "category": "AUTHENTICATION",
            "language": "en", "status": "APPROVED", "buttons": [{"type": "COPY_CODE", "example": "123456"}]}],
            "pagination": {"page": 2, "limit": 100, "total": 3, "totalPages": 2, "hasMore": false}}}));
    let sync = inbox
        .app
        .post("/api/v1/templates/sync", &inbox.admin, json!({}))
        .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;

    let calls = whats91.requests_to("GET", "/api/v2/templates");
    assert_eq!(calls.len(), 2, "both pages fetched");
    assert_eq!(calls[0].headers["authorization"], "Bearer w91_live_key");
    assert_eq!(calls[0].query, "senderId=916268662275&page=1&limit=100");
    assert_eq!(calls[1].query, "senderId=916268662275&page=2&limit=100");
    let listed = inbox
        .app
        .get("/api/v1/templates?limit=10", &inbox.admin)
        .await;
    let mut rows: Vec<(String, String, String, String)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["language"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
                t["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    let row = |name: &str, language: &str, status: &str, source: &str| {
        (
            name.to_owned(),
            language.to_owned(),
            status.to_owned(),
            source.to_owned(),
        )
    };
    assert_eq!(
        rows,
        [
            row("festival_offer_v1", "en", "APPROVED", "manual"),
            row("login_otp_v1", "en", "APPROVED", "sync"),
            row("payment_reminder_v1", "en_US", "APPROVED", "sync"),
        ]
    );
    let kept = inbox
        .app
        .get(
            &format!("/api/v1/templates/{}", manual.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(
        kept.body["components"],
        json!([{"type": "BODY", "text": "Our own wording {{1}}"}])
    );

    // A synced template belongs to the provider.
    let synced = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "payment_reminder_v1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = inbox
        .app
        .patch(
            &format!("/api/v1/templates/{synced}"),
            &inbox.admin,
            json!({"status": "APPROVED"}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::CONFLICT);
    assert_eq!(edit.problem_code(), "template_not_manual");
    let removal = inbox
        .app
        .delete(&format!("/api/v1/templates/{synced}"), &inbox.admin)
        .await;
    assert_eq!(removal.problem_code(), "template_not_manual");

    // The customer wrote 30 hours ago: only a template may go, in its language.
    let old = (chrono::Utc::now() - chrono::Duration::hours(30)).to_rfc3339();
    whats91_webhook(&inbox, json!({"event": "message.inbound.text", "senderId": "916268662275",
        "data": {"from": "919900011122", "messageId": "wamid.W-OLD", "text": "quote?", "timestamp": old}}))
    .await;
    let (conversation, _) = inbox.only_conversation().await;
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    whats91.script_json("POST", "/api/v2/messages", 200, json!({"success": true, "message": "Message accepted by Meta",
        "data": {"messageId": "wamid.W91TPL", "message_id": "wamid.W91TPL", "queued": false, "status": "accepted"},
        "metadata": {"apiVersion": "v2", "requestId": "request-uuid"}}));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "template", "template": {"name": "payment_reminder_v1", "language": "en_US",
               "body_params": ["Devendar", "INV-1001", "31 March"]}}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["provider_message_id"], "wamid.W91TPL");
    let sent = whats91.requests_to("POST", "/api/v2/messages");
    assert_eq!(sent.len(), 1);
    // developers.whats91.com/messaging/meta-compatibility/template: Meta's template
    // object with `language.code`, plus the sender.
    assert_eq!(
        sent[0].json(),
        json!({"senderId": "916268662275", "messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "919900011122", "type": "template",
               "template": {"name": "payment_reminder_v1", "language": {"code": "en_US"}, "components": [
                   {"type": "body", "parameters": [{"type": "text", "text": "Devendar"},
                       {"type": "text", "text": "INV-1001"}, {"type": "text", "text": "31 March"}]}]}})
    );

    // A status webhook updates the manual template like a synced one
    // (Whats91's `template.status_update`, as in its webhook docs).
    whats91_webhook(&inbox, json!({"event": "template.status_update", "senderId": "916268662275",
        "data": {"templateName": "festival_offer_v1", "status": "REJECTED", "language": "en", "reason": "INCORRECT_CATEGORY"}}))
    .await;
    let updated = inbox
        .app
        .get(
            &format!("/api/v1/templates/{}", manual.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(updated.body["status"], "REJECTED");
    assert_eq!(updated.body["status_reason"], "INCORRECT_CATEGORY");
    assert_eq!(updated.body["source"], "manual");
}
