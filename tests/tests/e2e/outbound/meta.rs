//! Sending through Meta: the window, templates, idempotency, retries, errors.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn a_reply_inside_the_window_is_sent_exactly_as_meta_documents() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in1", 60).await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.OUT1"));

    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Your order ships today"}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    assert_eq!(queued.body["status"], "queued");
    assert_eq!(queued.body["direction"], "outbound");
    assert!(
        meta.requests().is_empty(),
        "nothing is sent from the request itself"
    );

    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["provider_message_id"], "wamid.OUT1");
    let calls = meta.requests_to("POST", &messages_path());
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].headers["authorization"],
        format!("Bearer {META_TOKEN}")
    );
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "text",
               "text": {"body": "Your order ships today", "preview_url": false}})
    );
    // The activity log has the call, and no secret.
    let log = inbox.app.get("/api/v1/activity-log", &inbox.admin).await;
    assert_eq!(log.status, StatusCode::OK);
    assert_eq!(log.body["items"][0]["operation"], "send_message");
    assert_eq!(log.body["items"][0]["status"], 200);
    assert!(!log.body.to_string().contains(META_TOKEN));
    // A status webhook for the sent message moves it forward.
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages[0]["id"], queued.body["id"], "newest first");
}

#[tokio::test]
async fn free_form_outside_the_window_is_refused_and_nothing_is_stored() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.old", 25 * 3600).await;
    let refused = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "hi again"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "session_expired");
    assert!(refused.body["expires_at"].is_string());
    assert!(refused.body["hint"].as_str().unwrap().contains("template"));
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 1, "only the customer's message");
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert!(meta.requests().is_empty());
}

fn template(name: &str, status: &str, body_text: &str) -> Value {
    json!({"name": name, "language": "en_US", "status": status, "category": "UTILITY", "id": format!("{name}-id"),
           "components": [{"type": "BODY", "text": body_text}]})
}

/// Syncs two pages of templates from the fake Graph API.
async fn sync_templates(inbox: &Inbox, meta: &FakeProvider) {
    let path = format!("/v25.0/{WABA_ID}/message_templates");
    let second = format!("{}{path}?limit=100&after=CURSOR2", meta.base_url);
    meta.script_json(
        "GET",
        &path,
        200,
        json!({"data": [template("order_update", "APPROVED", "Hi {{1}}, order {{2}} is on its way"), template("promo", "PENDING", "Sale!")],
               "paging": {"cursors": {"before": "A", "after": "CURSOR2"}, "next": second}}),
    );
    meta.script_json(
        "GET",
        &path,
        200,
        json!({"data": [template("welcome_back", "APPROVED", "Welcome back")], "paging": {"cursors": {"before": "B", "after": "END"}}}),
    );
    let sync = inbox
        .app
        .post("/api/v1/templates/sync", &inbox.admin, json!({}))
        .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
}

#[tokio::test]
async fn templates_sync_every_page_and_are_checked_before_sending() {
    let (inbox, meta) = meta_outbox().await;
    sync_templates(&inbox, &meta).await;
    let listed = inbox
        .app
        .get("/api/v1/templates?limit=10", &inbox.admin)
        .await;
    let mut names: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["order_update", "promo", "welcome_back"]);
    let calls = meta.requests_to("GET", &format!("/v25.0/{WABA_ID}/message_templates"));
    assert_eq!(calls.len(), 2, "both pages fetched");
    assert!(calls[1].query.contains("after=CURSOR2"));
    assert_eq!(
        inbox
            .app
            .get("/api/v1/templates?status=approved", &inbox.admin)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The window is closed: only templates may go.
    let conversation = customer_writes(&inbox, "wamid.old", 30 * 3600).await;
    let cases = [
        (
            json!({"name": "promo", "language": "en_US"}),
            "template_not_approved",
        ),
        (
            json!({"name": "missing", "language": "en_US"}),
            "template_not_found",
        ),
        (
            json!({"name": "order_update", "language": "en_US", "body_params": ["Asha"]}),
            "template_parameters_mismatch",
        ),
    ];
    for (template, code) in cases {
        let refused = send(
            &inbox,
            &conversation,
            json!({"type": "template", "template": template}),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(refused.problem_code(), code);
    }
    let mismatch = send(&inbox, &conversation, json!({"type": "template", "template": {"name": "order_update", "language": "en_US", "body_params": ["Asha"]}})).await;
    assert!(
        mismatch.body["detail"].as_str().unwrap().contains("2"),
        "{}",
        mismatch.body
    );

    meta.script_json("POST", &messages_path(), 200, accepted("wamid.TPL"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "template", "template": {"name": "order_update", "language": "en_US", "body_params": ["Asha", "#1042"]}}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    assert_eq!(
        delivered(&inbox, queued.body["id"].as_str().unwrap()).await["status"],
        "sent"
    );
    let sent = meta.requests_to("POST", &messages_path());
    assert_eq!(
        sent[0].json()["template"],
        json!({"name": "order_update", "language": {"code": "en_US"},
               "components": [{"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "#1042"}]}]})
    );
}

#[tokio::test]
async fn a_template_status_webhook_updates_the_template() {
    let (inbox, meta) = meta_outbox().await;
    sync_templates(&inbox, &meta).await;
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "message_template_status_update",
        "value": {"event": "APPROVED", "message_template_id": 1, "message_template_name": "promo", "message_template_language": "en_US", "reason": "NONE"}}]}]});
    let body = payload.to_string().into_bytes();
    let signature = format!("sha256={}", hmac_hex(META_SECRET, &body));
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
    let promo = inbox
        .app
        .get("/api/v1/templates?name=promo", &inbox.admin)
        .await;
    assert_eq!(promo.body["items"][0]["status"], "APPROVED");
}

#[tokio::test]
async fn an_idempotency_key_gives_one_send_and_the_same_answer() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.ONCE"));
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let post = |body: Value, key: &'static str| {
        let request = inbox
            .app
            .client
            .post(inbox.app.url(&path))
            .bearer_auth(&inbox.admin)
            .header("idempotency-key", key)
            .json(&body);
        async move { TestApp::answer(request.send().await.unwrap()).await }
    };
    let first = post(json!({"type": "text", "text": "once"}), "key-1").await;
    let again = post(json!({"text": "once", "type": "text"}), "key-1").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(first.body, again.body, "the same answer, replayed");
    let reused = post(json!({"type": "text", "text": "something else"}), "key-1").await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.problem_code(), "idempotency_key_reused");
    delivered(&inbox, first.body["id"].as_str().unwrap()).await;
    assert_eq!(meta.requests_to("POST", &messages_path()).len(), 1);
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_server_error_is_retried_to_success() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    meta.script_json("POST", &messages_path(), 500, json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "fbtrace_id": "x"}}));
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.RETRIED"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "retry me"}),
    )
    .await;
    inbox.app.run_jobs().await;
    let waiting = inbox
        .app
        .get(
            &format!("/api/v1/messages/{}", queued.body["id"].as_str().unwrap()),
            &inbox.admin,
        )
        .await;
    assert_eq!(waiting.body["status"], "queued");
    assert_eq!(waiting.body["error"]["code"], "delivery_retrying");
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["provider_message_id"], "wamid.RETRIED");
    assert_eq!(meta.requests_to("POST", &messages_path()).len(), 2);
}

#[tokio::test]
async fn a_permanent_error_is_recorded_once() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    meta.script_json("POST", &messages_path(), 400, json!({"error": {"message": "Message undeliverable", "type": "OAuthException", "code": 131026,
        "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."}, "fbtrace_id": "x"}}));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "hello?"}),
    )
    .await;
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["code"], "provider_rejected");
    assert_eq!(message["error"]["provider_code"], "131026");
    assert!(!message["error"]["title"].as_str().unwrap().is_empty());
    inbox.app.run_jobs().await;
    assert_eq!(
        meta.requests_to("POST", &messages_path()).len(),
        1,
        "not retried"
    );
    let log = inbox
        .app
        .get("/api/v1/activity-log?errors=true", &inbox.admin)
        .await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_expired_token_flags_the_connection() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    meta.script_json("POST", &messages_path(), 401, json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "x"}}));
    let queued = send(&inbox, &conversation, json!({"type": "text", "text": "hi"})).await;
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["code"], "provider_auth_failed");
    assert_eq!(message["error"]["provider_code"], "190");
    let connection = inbox
        .app
        .get(
            &format!(
                "/api/v1/connections/{}",
                inbox.connection["id"].as_str().unwrap()
            ),
            &inbox.admin,
        )
        .await;
    assert_eq!(connection.body["is_healthy"], false);
    assert!(connection.body["health_error"].is_string());
    assert!(!connection.body.to_string().contains(META_TOKEN));
}

#[tokio::test]
async fn a_crash_mid_send_ends_delivery_unknown_instead_of_a_second_send() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "did it go?"}),
    )
    .await;
    // A worker marked the send started and died before recording the answer.
    let id: uuid::Uuid = queued.body["id"].as_str().unwrap().parse().unwrap();
    let mut db = inbox.app.db().await;
    let started = wacrm_persistence::messages::start_sends(&mut db, &[id])
        .await
        .unwrap();
    assert_eq!(started.len(), 1, "the first attempt starts the send");
    let message = delivered(&inbox, &id.to_string()).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["code"], "delivery_unknown");
    assert!(meta.requests().is_empty(), "never sent a second time");
}

#[tokio::test]
async fn sending_by_phone_starts_a_conversation_and_needs_a_template() {
    let (inbox, meta) = meta_outbox().await;
    sync_templates(&inbox, &meta).await;
    let text = inbox
        .app
        .post(
            "/api/v1/messages",
            &inbox.admin,
            json!({"to_phone": "+254 733 000 111", "type": "text", "text": "hi"}),
        )
        .await;
    assert_eq!(text.problem_code(), "session_expired");
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.NEW"));
    let started = inbox
        .app
        .post("/api/v1/messages", &inbox.admin, json!({"to_phone": "+254 733 000 111", "type": "template", "template": {"name": "welcome_back", "language": "en_US"}}))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let conversations = inbox.conversations("").await;
    assert_eq!(conversations[0]["customer_phone"], "254733000111");
    assert_eq!(
        delivered(&inbox, started.body["id"].as_str().unwrap()).await["status"],
        "sent"
    );
}

#[tokio::test]
async fn no_number_able_to_send_is_503() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/messages",
            &admin,
            json!({"to_phone": "+254733000111", "type": "text", "text": "hi"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.problem_code(), "provider_not_configured");
}

#[tokio::test]
async fn sending_needs_the_inbox_permission() {
    let (inbox, _meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in", 60).await;
    let (_, viewer) = inbox.app.staff_with(&["leads:view"]).await;
    let denied = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &viewer,
            json!({"type": "text", "text": "x"}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["permission"], "whatsapp_chat:view");
}
