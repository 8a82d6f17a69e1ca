//! Bots, end to end: a customer writes through a webhook, the bots decide,
//! and the replies leave through the outbox to a fake provider.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::fake_provider::FakeProvider;
use crate::inbound::Inbox;
use crate::outbound::{CUSTOMER, accepted, customer_writes, messages_path, meta_outbox};

async fn bot(inbox: &Inbox, definition: Value) -> String {
    let created = inbox
        .app
        .post("/api/v1/bots", &inbox.admin, definition)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// What the fake Meta received, as (type, text-ish) pairs, in order.
fn sent(meta: &FakeProvider) -> Vec<Value> {
    meta.requests_to("POST", &messages_path())
        .iter()
        .map(|r| r.json())
        .filter(|b| b.get("status").is_none())
        .collect()
}

/// Runs jobs until no more are due (a bot reply is a second round of jobs).
/// Meta accepts every reply, each with a wamid of its own: one wamid twice in
/// a conversation is refused as a duplicate, and the delivery retried (which,
/// in order, would hold the conversation's next reply back).
fn accept_bot_replies(meta: &FakeProvider) {
    meta.script_json_each("POST", &messages_path(), 200, |n| {
        accepted(&format!("wamid.BOT.{n}"))
    });
}

async fn settle(inbox: &Inbox) {
    for _ in 0..4 {
        if inbox.app.run_jobs().await == 0 {
            break;
        }
    }
}

#[tokio::test]
async fn an_exact_bot_answers_ignoring_case_accents_and_punctuation() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    let id = bot(
        &inbox,
        json!({"name": "Greeter", "trigger": {"type": "exact", "values": ["hola"]},
        "response": {"type": "text", "text": "Hi {{name}}! How can we help?"}}),
    )
    .await;
    let created = inbox
        .app
        .get(&format!("/api/v1/bots/{id}"), &inbox.admin)
        .await;
    assert_eq!(created.body["reply_type"], 1);
    assert_eq!(created.body["bot_type"], 1);

    customer_writes(&inbox, "wamid.h1", 30).await; // "hello": no match
    settle(&inbox).await;
    assert!(sent(&meta).is_empty());
    crate::outbound::customer_says(&inbox, "wamid.h2", "¡HÓLA!").await;
    settle(&inbox).await;
    let replies = sent(&meta);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["text"]["body"], "Hi Wanjiru! How can we help?");
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages[0]["sent_by"], format!("bot:{id}"));
    assert_eq!(messages[0]["status"], "sent");
}

#[tokio::test]
async fn a_human_request_pauses_bots_until_the_conversation_is_resolved() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Prices", "trigger": {"type": "contains", "values": ["price"]},
        "response": {"type": "text", "text": "Our prices: example.com/prices"}}),
    )
    .await;
    bot(
        &inbox,
        json!({"name": "Handoff", "priority": 10, "trigger": {"type": "human_request"},
        "response": {"type": "text", "text": "A person will answer shortly."}}),
    )
    .await;
    let conversation =
        crate::outbound::customer_says(&inbox, "wamid.1", "I want to talk to a human").await;
    settle(&inbox).await;
    assert_eq!(
        sent(&meta).last().unwrap()["text"]["body"],
        "A person will answer shortly."
    );
    crate::outbound::customer_says(&inbox, "wamid.2", "what is the price?").await;
    settle(&inbox).await;
    assert_eq!(sent(&meta).len(), 1, "paused: no answer about prices");

    let resolved = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/status"),
            &inbox.admin,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK);
    settle(&inbox).await;
    crate::outbound::customer_says(&inbox, "wamid.3", "price please").await;
    settle(&inbox).await;
    assert_eq!(
        sent(&meta).last().unwrap()["text"]["body"],
        "Our prices: example.com/prices"
    );
}

#[tokio::test]
async fn bots_never_answer_staff_numbers_and_skip_free_form_outside_the_window() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Echo", "trigger": {"type": "contains", "values": ["hello"]},
        "response": {"type": "text", "text": "Hello to you"}}),
    )
    .await;
    // The customer's message is 30 hours old: the window it opened is closed.
    customer_writes(&inbox, "wamid.old", 30 * 3600).await;
    settle(&inbox).await;
    assert!(
        sent(&meta).is_empty(),
        "free-form outside the window is skipped"
    );

    let staff = inbox
        .app
        .post(
            "/api/v1/staff",
            &inbox.admin,
            json!({"name": "Carla", "email": "carla@example.com",
        "password": "long-enough", "phone": "+44 7700 900123", "permissions": []}),
        )
        .await;
    assert_eq!(staff.status, StatusCode::CREATED);
    crate::outbound::someone_says(&inbox, "447700900123", "wamid.staff", "hello team").await;
    settle(&inbox).await;
    assert!(sent(&meta).is_empty(), "a staff number gets no bot reply");
}

#[tokio::test]
async fn a_menu_is_navigated_by_number() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Menu", "trigger": {"type": "exact", "values": ["menu"]},
        "response": {"type": "menu", "body": "How can we help?", "items": [
            {"title": "Opening hours", "reply": "We open 8 to 5."},
            {"title": "Talk to us", "reply": "Someone will call you.", "handoff": true}
        ]}}),
    )
    .await;
    crate::outbound::customer_says(&inbox, "wamid.1", "Menu").await;
    settle(&inbox).await;
    let list = sent(&meta);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "interactive");
    assert_eq!(list[0]["interactive"]["type"], "list");
    crate::outbound::customer_says(&inbox, "wamid.2", "1").await;
    settle(&inbox).await;
    assert_eq!(
        sent(&meta).last().unwrap()["text"]["body"],
        "We open 8 to 5."
    );
}

#[tokio::test]
async fn a_rating_is_asked_on_resolve_and_stored() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Rate us", "trigger": {"type": "closed_rating"},
        "response": {"type": "rating", "question": "How did we do?"}}),
    )
    .await;
    let conversation = crate::outbound::customer_says(&inbox, "wamid.1", "thanks, all good").await;
    settle(&inbox).await;
    inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/status"),
            &inbox.admin,
            json!({"status": "resolved"}),
        )
        .await;
    settle(&inbox).await;
    assert!(!sent(&meta).is_empty(), "the rating question went out");
    crate::outbound::customer_says(&inbox, "wamid.2", "5").await;
    settle(&inbox).await;
    let rated = inbox
        .app
        .get(
            &format!("/api/v1/conversations/{conversation}"),
            &inbox.admin,
        )
        .await;
    assert_eq!(rated.body["rating"], 5);
}

#[tokio::test]
async fn ai_answers_in_auto_mode_with_the_history_as_context() {
    let (inbox, meta) = meta_outbox().await;
    let openai = FakeProvider::start().await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.AI"));
    openai.script_json("POST", "/v1/chat/completions", 200, json!({"id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "We deliver in 2 days."}, "finish_reason": "stop"}]}));
    let ai = json!({"provider": "openai", "mode": "auto", "model": "gpt-4o-mini", "api_key": "sk-test-secret", "base_url": openai.base_url});
    let saved = inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/settings/ai",
            Some(&inbox.admin),
            Some(ai),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["has_api_key"], true);
    assert!(!saved.body.to_string().contains("sk-test-secret"));
    bot(
        &inbox,
        json!({"name": "AI", "trigger": {"type": "contains", "values": ["deliver"]},
        "response": {"type": "ai", "instructions": "You are the shop's assistant."}}),
    )
    .await;
    crate::outbound::customer_says(&inbox, "wamid.1", "How fast do you deliver?").await;
    settle(&inbox).await;
    let call = &openai.requests_to("POST", "/v1/chat/completions")[0];
    assert_eq!(call.headers["authorization"], "Bearer sk-test-secret");
    let body = call.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "You are the shop's assistant."})
    );
    assert_eq!(
        body["messages"].as_array().unwrap().last().unwrap()["content"],
        "How fast do you deliver?"
    );
    assert_eq!(
        sent(&meta).last().unwrap()["text"]["body"],
        "We deliver in 2 days."
    );
}

#[tokio::test]
async fn ai_in_manual_mode_leaves_a_suggestion_for_staff() {
    let (inbox, meta) = meta_outbox().await;
    let gemini = FakeProvider::start().await;
    gemini.script_json("POST", "/v1beta/models/gemini-2.0-flash:generateContent", 200,
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Yes, size 42 is in stock."}]}}]}));
    let ai = json!({"provider": "gemini", "mode": "manual", "model": "gemini-2.0-flash", "api_key": "gm-key", "base_url": gemini.base_url});
    assert_eq!(
        inbox
            .app
            .call(
                Method::PUT,
                "/api/v1/settings/ai",
                Some(&inbox.admin),
                Some(ai)
            )
            .await
            .status,
        StatusCode::OK
    );
    bot(&inbox, json!({"name": "AI", "trigger": {"type": "contains", "values": ["stock"]}, "response": {"type": "ai"}})).await;
    let conversation =
        crate::outbound::customer_says(&inbox, "wamid.1", "is size 42 in stock?").await;
    settle(&inbox).await;
    let call = &gemini.requests()[0];
    assert_eq!(call.headers["x-goog-api-key"], "gm-key");
    assert!(
        !call.query.contains("gm-key"),
        "the key never goes in the URL"
    );
    assert!(sent(&meta).is_empty(), "manual: nothing is sent");
    let fetched = inbox
        .app
        .get(
            &format!("/api/v1/conversations/{conversation}"),
            &inbox.admin,
        )
        .await;
    assert_eq!(fetched.body["ai_suggestion"], "Yes, size 42 is in stock.");
}

#[tokio::test]
async fn a_failing_ai_leaves_the_message_to_staff() {
    let (inbox, meta) = meta_outbox().await;
    let openai = FakeProvider::start().await;
    openai.script_json(
        "POST",
        "/v1/chat/completions",
        500,
        json!({"error": {"message": "overloaded"}}),
    );
    let ai = json!({"provider": "openai", "mode": "auto", "model": "m", "api_key": "k", "base_url": openai.base_url});
    inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/settings/ai",
            Some(&inbox.admin),
            Some(ai),
        )
        .await;
    bot(&inbox, json!({"name": "AI", "trigger": {"type": "contains", "values": ["help"]}, "response": {"type": "ai"}})).await;
    crate::outbound::customer_says(&inbox, "wamid.1", "help me").await;
    settle(&inbox).await;
    assert_eq!(openai.requests().len(), 1);
    assert!(sent(&meta).is_empty());
    let (conversation, messages) = inbox.only_conversation().await;
    assert_eq!(
        conversation["unread_count"], 1,
        "still waiting for a person"
    );
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn the_dry_run_says_what_would_happen_and_changes_nothing() {
    let (inbox, meta) = meta_outbox().await;
    let id = bot(&inbox, json!({"name": "Hours", "trigger": {"type": "keyword", "keywords": ["open"], "synonyms": ["hours"]},
        "response": {"type": "text", "text": "We open at 8."}})).await;
    let conversation = crate::outbound::customer_says(&inbox, "wamid.1", "hi").await;
    settle(&inbox).await;
    let test = inbox
        .app
        .post(
            "/api/v1/bots/test",
            &inbox.admin,
            json!({"text": "what are your hours?", "conversation_id": conversation}),
        )
        .await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.body);
    assert_eq!(test.body["matched"], json!([id]));
    assert_eq!(test.body["replies"][0]["content"]["text"], "We open at 8.");
    let by_phone = inbox
        .app
        .post(
            "/api/v1/bots/test",
            &inbox.admin,
            json!({"text": "nothing relevant", "phone": "+254700000001"}),
        )
        .await;
    assert_eq!(by_phone.body["matched"], json!([]));
    // Exactly one of the two, and a number only with a phone (the document's oneOf).
    for (body, field) in [
        (
            json!({"text": "hi", "conversation_id": conversation, "phone": "+254700000001"}),
            "phone",
        ),
        (
            json!({"text": "hi", "conversation_id": conversation, "number_id": conversation}),
            "number_id",
        ),
        (json!({"text": "hi"}), "conversation_id"),
    ] {
        let refused = inbox
            .app
            .post("/api/v1/bots/test", &inbox.admin, body)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert_eq!(refused.body["errors"][0]["field"], field);
    }
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert!(meta.requests().is_empty());
    assert_eq!(inbox.only_conversation().await.1.len(), 1);
}

#[tokio::test]
async fn invalid_bots_are_refused_and_bots_need_permissions() {
    let (inbox, _meta) = meta_outbox().await;
    let empty = inbox
        .app
        .post(
            "/api/v1/bots",
            &inbox.admin,
            json!({"name": "x", "trigger": {"type": "exact", "values": []},
        "response": {"type": "text", "text": "y"}}),
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    let unknown = inbox
        .app
        .post(
            "/api/v1/bots",
            &inbox.admin,
            json!({"name": "x", "trigger": {"type": "telepathy"},
        "response": {"type": "text", "text": "y"}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let (_, viewer) = inbox.app.staff_with(&["whatsapp_bot:view"]).await;
    let denied = inbox
        .app
        .post("/api/v1/bots", &viewer, json!({"name": "x"}))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["permission"], "whatsapp_bot:create");
    assert_eq!(
        inbox.app.get("/api/v1/bots", &viewer).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_response_type_goes_out_in_the_providers_shape() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    // An approved template, as a sync would have stored it.
    let connection_id: uuid::Uuid = inbox.connection["id"].as_str().unwrap().parse().unwrap();
    let mut db = inbox.app.db().await;
    wacrm_persistence::templates::upsert_all(
        &mut db,
        connection_id,
        vec![wacrm_persistence::templates::SyncedTemplate {
            provider_template_id: Some("1".into()),
            name: "welcome_back".into(),
            language: "en_US".into(),
            category: Some("UTILITY".into()),
            status: "APPROVED".into(),
            components: json!([{"type": "BODY", "text": "Welcome back!"}]),
        }],
    )
    .await
    .unwrap();
    let cases = [
        (
            "t2",
            json!({"type": "template", "name": "welcome_back", "language": "en_US"}),
            "template",
        ),
        (
            "t5",
            json!({"type": "media", "kind": "image", "link": "https://example.com/catalogue.jpg", "caption": "Our catalogue"}),
            "image",
        ),
        (
            "t6",
            json!({"type": "location", "latitude": -1.2864, "longitude": 36.8172, "name": "Our shop"}),
            "location",
        ),
        (
            "t7",
            json!({"type": "buttons", "body": "Pick one", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}),
            "interactive",
        ),
        (
            "t11",
            json!({"type": "contact", "contacts": [{"name": {"formatted_name": "Sales desk", "first_name": "Sales"}, "phones": [{"phone": "+254700000000", "type": "WORK"}]}]}),
            "contacts",
        ),
        // Last: a flow holds the next reply, which would otherwise trigger nothing else.
        (
            "t4",
            json!({"type": "flow", "start": "ask", "nodes": [
            {"id": "ask", "type": "question", "text": "Which size?", "variable": "size"},
            {"id": "done", "type": "end", "text": "Size {{size}} noted."}],
            "edges": [{"from": "ask", "to": "done", "condition": {"type": "else"}}]}),
            "text",
        ),
    ];
    for (word, response, _) in &cases {
        let created = inbox.app.post("/api/v1/bots", &inbox.admin, json!({"name": word, "trigger": {"type": "exact", "values": [word]}, "response": response})).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{word}: {}",
            created.body
        );
    }
    for (n, (word, _, expected_type)) in cases.iter().enumerate() {
        crate::outbound::customer_says(&inbox, &format!("wamid.{n}"), word).await;
        settle(&inbox).await;
        let last = sent(&meta).last().cloned().unwrap_or(Value::Null);
        assert_eq!(last["type"], *expected_type, "{word}: {last}");
    }
    // The flow asked a question; the answer completes it.
    let flow = sent(&meta);
    assert!(flow.iter().any(|m| m["text"]["body"] == "Which size?"));
    crate::outbound::customer_says(&inbox, "wamid.size", "42").await;
    settle(&inbox).await;
    assert_eq!(
        sent(&meta).last().unwrap()["text"]["body"],
        "Size 42 noted."
    );
}

#[tokio::test]
async fn first_message_synonym_and_business_hours_triggers() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    // Closed all week: "outside business hours" holds whenever the test runs.
    let closed = inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/settings/business-hours",
            Some(&inbox.admin),
            Some(json!({"time_zone": "Africa/Nairobi"})),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    bot(&inbox, json!({"name": "Welcome", "priority": 30, "continue": true, "trigger": {"type": "first_message"},
        "response": {"type": "text", "text": "Welcome to our shop!"}})).await;
    bot(&inbox, json!({"name": "Closed", "priority": 20, "continue": true, "cooldown_minutes": 60, "trigger": {"type": "outside_business_hours"},
        "response": {"type": "text", "text": "We are closed now."}})).await;
    bot(&inbox, json!({"name": "Delivery", "priority": 10, "trigger": {"type": "synonym", "groups": [["deliver", "shipping", "envio"]]},
        "response": {"type": "text", "text": "Delivery takes 2 days."}})).await;
    crate::outbound::customer_says(&inbox, "wamid.1", "hi").await;
    settle(&inbox).await;
    let mut texts: Vec<String> = sent(&meta)
        .iter()
        .map(|m| m["text"]["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Two deliveries, in either order (no ordering within a conversation).
    texts.sort();
    assert_eq!(texts, ["We are closed now.", "Welcome to our shop!"]);
    crate::outbound::customer_says(&inbox, "wamid.2", "what about shipping?").await;
    settle(&inbox).await;
    let texts: Vec<String> = sent(&meta)
        .iter()
        .map(|m| m["text"]["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        texts.len(),
        3,
        "no second welcome, the closed notice cools down: {texts:?}"
    );
    assert_eq!(texts[2], "Delivery takes 2 days.");
    // A keyword (with its synonyms) matches whole words anywhere in the text.
    bot(&inbox, json!({"name": "Hours", "priority": 5, "trigger": {"type": "keyword", "keywords": ["open"], "synonyms": ["hours", "horario"]},
        "response": {"type": "text", "text": "We open at 8."}})).await;
    crate::outbound::customer_says(&inbox, "wamid.3", "What are your HOURS today?").await;
    settle(&inbox).await;
    assert_eq!(sent(&meta).last().unwrap()["text"]["body"], "We open at 8.");
}

#[tokio::test]
async fn timed_triggers_fire_after_silence_and_a_staff_reply_cancels_them() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Nudge", "trigger": {"type": "idle", "minutes": 1},
        "response": {"type": "text", "text": "Are you still there?"}}),
    )
    .await;
    bot(
        &inbox,
        json!({"name": "Waiting", "trigger": {"type": "no_staff_response", "minutes": 1},
        "response": {"type": "text", "text": "A colleague will reply soon."}}),
    )
    .await;
    // 1439 minutes before the 24-hour window closes: one minute after the message.
    bot(
        &inbox,
        json!({"name": "Closing", "trigger": {"type": "timeout_reminder", "minutes": 1439},
        "response": {"type": "text", "text": "Reply soon to keep chatting for free."}}),
    )
    .await;
    crate::outbound::customer_says(&inbox, "wamid.a", "let me check").await;
    let other =
        crate::outbound::someone_says(&inbox, "254733000111", "wamid.b", "one moment").await;
    settle(&inbox).await;
    // A person answers the second customer: bots pause there, the timer is moot.
    let answered = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{other}/messages"),
            &inbox.admin,
            json!({"type": "text", "text": "Sure, take your time"}),
        )
        .await;
    assert_eq!(answered.status, StatusCode::ACCEPTED);
    settle(&inbox).await;
    assert_eq!(sent(&meta).len(), 1, "only the staff reply so far");
    let timers = inbox
        .app
        .get("/api/v1/admin/jobs?status=queued", &inbox.admin)
        .await;
    assert!(
        timers.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|job| job["kind"] == "run_bots"),
        "{}",
        timers.body
    );

    // The timers come due a minute after the messages: run the jobs until the
    // three timed replies have gone out (the staff reply was the first send).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while sent(&meta).len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the timed replies never went out: {:?}",
            sent(&meta)
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        settle(&inbox).await;
    }
    for text in [
        "A colleague will reply soon.",
        "Reply soon to keep chatting for free.",
    ] {
        let to: Vec<Value> = sent(&meta)
            .into_iter()
            .filter(|m| m["text"]["body"] == text)
            .map(|m| m["to"].clone())
            .collect();
        assert_eq!(
            to,
            [json!(CUSTOMER)],
            "{text}: once, to the customer nobody answered"
        );
    }
    let nudges: Vec<Value> = sent(&meta)
        .into_iter()
        .filter(|m| m["text"]["body"] == "Are you still there?")
        .collect();
    assert_eq!(nudges.len(), 1, "one nudge, to the silent customer only");
    assert_eq!(nudges[0]["to"], CUSTOMER);
}

#[tokio::test]
async fn business_hours_and_first_message_in_session_triggers() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    let all_day: Vec<&str> = vec!["00:00-23:59"];
    // API.md's shape: `{time_zone, week}`, seven days Monday first.
    let open = json!({"time_zone": "America/Sao_Paulo", "week": vec![all_day.clone(); 7]});
    let saved = inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/settings/business-hours",
            Some(&inbox.admin),
            Some(open),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(
        saved.body,
        json!({"time_zone": "America/Sao_Paulo", "week": vec![all_day.clone(); 7]})
    );
    let read = inbox
        .app
        .get("/api/v1/settings/business-hours", &inbox.admin)
        .await;
    assert_eq!(read.body, saved.body);
    // Not seven days, or the days by name: not the documented shape.
    for wrong in [
        json!({"time_zone": "America/Sao_Paulo", "week": [all_day.clone()]}),
        json!({"time_zone": "America/Sao_Paulo", "monday": all_day.clone()}),
    ] {
        let refused = inbox
            .app
            .call(
                Method::PUT,
                "/api/v1/settings/business-hours",
                Some(&inbox.admin),
                Some(wrong),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    }
    bot(&inbox, json!({"name": "Back again", "priority": 20, "continue": true, "trigger": {"type": "first_message_in_session"},
        "response": {"type": "text", "text": "Welcome back!"}})).await;
    bot(&inbox, json!({"name": "Open", "priority": 10, "cooldown_minutes": 60, "trigger": {"type": "business_hours"},
        "response": {"type": "text", "text": "We are open and will answer shortly."}})).await;
    // An old message opened a window that has closed; the new one opens a session.
    customer_writes(&inbox, "wamid.old", 30 * 3600).await;
    settle(&inbox).await;
    let before = sent(&meta).len();
    crate::outbound::customer_says(&inbox, "wamid.new", "good morning").await;
    settle(&inbox).await;
    let mut texts: Vec<String> = sent(&meta)[before..]
        .iter()
        .map(|m| m["text"]["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Two replies are two deliveries, which may reach the provider in either
    // order (a known limit: no ordering of deliveries within a conversation).
    texts.sort();
    assert_eq!(
        texts,
        ["We are open and will answer shortly.", "Welcome back!"]
    );
    crate::outbound::customer_says(&inbox, "wamid.again", "anyone?").await;
    settle(&inbox).await;
    assert_eq!(
        sent(&meta).len(),
        before + 2,
        "same session, and the open notice cools down"
    );
}

#[tokio::test]
async fn a_bot_job_takes_over_the_bot_jobs_waiting_behind_it() {
    let (inbox, meta) = meta_outbox().await;
    for reply in ["wamid.BOT1", "wamid.BOT2", "wamid.BOT3"] {
        meta.script_json("POST", &messages_path(), 200, accepted(reply));
    }
    bot(
        &inbox,
        json!({"name": "Greeter", "trigger": {"type": "exact", "values": ["hola"]},
        "response": {"type": "text", "text": "Hi {{name}}!"}}),
    )
    .await;
    let customers = ["254700000001", "254700000002", "254700000003"];
    for (index, from) in customers.iter().enumerate() {
        crate::outbound::someone_writes(&inbox, from, &format!("wamid.in{index}"), "hola").await;
    }
    // One slot: one processing job takes over the other two webhooks' jobs,
    // one bot job the other two bot jobs; the three replies are delivered one
    // by one.
    let attempts = inbox
        .app
        .run_jobs_with(inbox.app.runner().concurrency(1))
        .await;
    assert_eq!(attempts, 1 + 1 + 3);
    let mut answered: Vec<String> = sent(&meta)
        .iter()
        .map(|reply| {
            assert_eq!(reply["text"]["body"], "Hi Wanjiru!");
            reply["to"].as_str().unwrap().to_owned()
        })
        .collect();
    answered.sort();
    assert_eq!(answered, customers);
    let jobs = inbox.app.get("/api/v1/admin/jobs", &inbox.admin).await;
    assert_eq!(jobs.body["items"], json!([]), "no job left behind");
}

/// `from`, whose WhatsApp profile says `name`, writes `text` now (the jobs do
/// not run).
async fn writes_as(inbox: &Inbox, from: &str, name: &str, wamid: &str, text: &str) {
    use crate::outbound::{META_SECRET, PHONE_NUMBER_ID, WABA_ID};
    let ts = chrono::Utc::now().timestamp();
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": name}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}}]
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// What each customer received, in order: a text's body, a menu's question.
fn received_by(meta: &FakeProvider, to: &str) -> Vec<String> {
    sent(meta)
        .iter()
        .filter(|reply| reply["to"] == to)
        .map(|reply| match reply["type"].as_str() {
            Some("text") => reply["text"]["body"].as_str().unwrap().to_owned(),
            _ => reply["interactive"]["body"]["text"]
                .as_str()
                .unwrap()
                .to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn one_bot_job_answers_each_conversation_of_a_batch_from_its_own_state() {
    let (inbox, meta) = meta_outbox().await;
    accept_bot_replies(&meta);
    bot(
        &inbox,
        json!({"name": "Greeter", "trigger": {"type": "exact", "values": ["hi"]},
        "response": {"type": "text", "text": "Hi {{name}}!"}}),
    )
    .await;
    bot(
        &inbox,
        json!({"name": "Food", "trigger": {"type": "exact", "values": ["food"]},
        "response": {"type": "menu", "body": "What would you like?", "items": [
            {"title": "Tea", "reply": "Tea is on its way."},
            {"title": "Cake", "reply": "Cake is on its way."}
        ]}}),
    )
    .await;
    bot(
        &inbox,
        json!({"name": "Help", "trigger": {"type": "exact", "values": ["help"]},
        "response": {"type": "menu", "body": "How can we help?", "items": [
            {"title": "Opening hours", "reply": "We open 8 to 5."},
            {"title": "Talk to us", "reply": "Someone will call you."}
        ]}}),
    )
    .await;
    let (amina, baraka, chebet) = ("254700000011", "254700000012", "254700000013");
    // Five messages of three customers, Amina's two in a row; one slot: one
    // processing job takes them all, and its one bot job answers them all.
    writes_as(&inbox, amina, "Amina", "wamid.a1", "hi").await;
    writes_as(&inbox, baraka, "Baraka", "wamid.b1", "help").await;
    writes_as(&inbox, amina, "Amina", "wamid.a2", "food").await;
    writes_as(&inbox, chebet, "Chebet", "wamid.c1", "Hi").await;
    let one_slot = || inbox.app.runner().concurrency(1);
    let attempts = inbox.app.run_jobs_with(one_slot()).await;
    assert_eq!(
        attempts,
        1 + 1 + 4,
        "one processing job, one bot job, four replies"
    );
    assert_eq!(
        received_by(&meta, amina),
        ["Hi Amina!", "What would you like?"]
    );
    assert_eq!(received_by(&meta, baraka), ["How can we help?"]);
    assert_eq!(received_by(&meta, chebet), ["Hi Chebet!"]);

    // Each answers "2", again in one batch: each menu, in each conversation's
    // own memory, takes its own answer; Chebet has no menu open.
    writes_as(&inbox, amina, "Amina", "wamid.a3", "2").await;
    writes_as(&inbox, baraka, "Baraka", "wamid.b2", "2").await;
    writes_as(&inbox, chebet, "Chebet", "wamid.c2", "2").await;
    inbox.app.run_jobs_with(one_slot()).await;
    assert_eq!(
        received_by(&meta, amina),
        ["Hi Amina!", "What would you like?", "Cake is on its way."]
    );
    assert_eq!(
        received_by(&meta, baraka),
        ["How can we help?", "Someone will call you."]
    );
    assert_eq!(received_by(&meta, chebet), ["Hi Chebet!"]);
    let jobs = inbox.app.get("/api/v1/admin/jobs", &inbox.admin).await;
    assert_eq!(jobs.body["items"], json!([]), "no job left behind");
}
