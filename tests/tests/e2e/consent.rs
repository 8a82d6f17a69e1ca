//! Marketing consent end to end: stop and start words, the provider's reports
//! (Meta's `user_preferences` webhook and error 131050), staff, the blocklist,
//! and the outbox refusing what consent forbids for every sender.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::fake_provider::FakeProvider;
use crate::inbound::Inbox;
use crate::outbound::{
    CUSTOMER, META_SECRET, PHONE_NUMBER_ID, WABA_ID, accepted, customer_says, delivered,
    messages_path, meta_outbox, send,
};

const CONSENT: &str = "/api/v1/consent/254712345678";

async fn consent(inbox: &Inbox) -> Value {
    let answer = inbox.app.get(CONSENT, &inbox.admin).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn history(consent: &Value) -> Vec<(String, String)> {
    consent["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["state"].as_str().unwrap().to_owned(),
                change["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The texts the fake Graph API was asked to send, in order.
fn texts_sent(meta: &FakeProvider) -> Vec<String> {
    meta.requests_to("POST", &messages_path())
        .iter()
        .filter_map(|request| request.json()["text"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// Meta's template list entry (Graph API `GET /{waba}/message_templates`).
fn template(name: &str, category: &str) -> Value {
    json!({"name": name, "language": "en_US", "status": "APPROVED", "category": category, "id": format!("{name}-id"),
           "components": [{"type": "BODY", "text": "Hello {{1}}"}]})
}

/// Syncs an approved MARKETING and an approved UTILITY template.
async fn marketing_and_utility_templates(inbox: &Inbox, meta: &FakeProvider) {
    meta.script_json(
        "GET",
        &format!("/v25.0/{WABA_ID}/message_templates"),
        200,
        json!({"data": [template("spring_sale", "MARKETING"), template("order_update", "UTILITY")],
               "paging": {"cursors": {"before": "A", "after": "END"}}}),
    );
    let sync = inbox
        .app
        .post("/api/v1/templates/sync", &inbox.admin, json!({}))
        .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
}

fn template_message(name: &str) -> Value {
    json!({"type": "template", "template": {"name": name, "language": "en_US", "body_params": ["Wanjiru"]}})
}

#[tokio::test]
async fn stop_opts_out_and_start_resubscribes_each_confirmed_but_a_sentence_is_only_a_message() {
    let (inbox, meta) = meta_outbox().await;
    for wamid in ["wamid.CONFIRM-STOP", "wamid.CONFIRM-START"] {
        meta.script_json("POST", &messages_path(), 200, accepted(wamid));
    }

    // A sentence that contains a stop word is a conversation, not an opt-out.
    customer_says(&inbox, "wamid.S1", "please stop calling me").await;
    let unknown = consent(&inbox).await;
    assert_eq!(unknown["state"], "unknown");
    assert!(unknown["history"].as_array().unwrap().is_empty());

    customer_says(&inbox, "wamid.S2", " Stop! ").await;
    inbox.app.run_jobs().await;
    let out = consent(&inbox).await;
    assert_eq!(out["state"], "opted_out", "{out}");
    assert_eq!(out["source"], "customer:keyword");
    assert_eq!(out["reason"], "the customer wrote \"Stop!\"");

    customer_says(&inbox, "wamid.S3", "START").await;
    inbox.app.run_jobs().await;
    let back = consent(&inbox).await;
    assert_eq!(back["state"], "subscribed");
    assert_eq!(
        history(&back),
        [
            ("opted_out".into(), "customer:keyword".into()),
            ("subscribed".into(), "customer:keyword".into())
        ]
    );

    // Each word was confirmed inside the window it opened, by the consent replies.
    let sent = texts_sent(&meta);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains("no longer receive marketing"), "{sent:?}");
    assert!(
        sent[1].contains("subscribed to our messages again"),
        "{sent:?}"
    );
    let (_, messages) = inbox.only_conversation().await;
    let by_system = messages
        .iter()
        .filter(|message| message["sent_by"] == "system:consent")
        .count();
    assert_eq!(by_system, 2);
}

#[tokio::test]
async fn stop_words_and_replies_are_configurable() {
    let (inbox, meta) = meta_outbox().await;
    let put = |body: Value| {
        let app = &inbox.app;
        let admin = inbox.admin.clone();
        async move {
            app.call(
                Method::PUT,
                "/api/v1/settings/consent",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    let clash = put(json!({"stop_words": ["BASTA"], "start_words": ["basta!"], "stop_reply": null, "start_reply": null})).await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(clash.body["errors"][0]["field"], "start_words");

    let saved = put(json!({"stop_words": ["BASTA"], "start_words": ["VOLVER"], "stop_reply": "", "start_reply": null})).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["stop_reply"], Value::Null, "blank is no reply");

    customer_says(&inbox, "wamid.B1", "STOP").await;
    assert_eq!(
        consent(&inbox).await["state"],
        "unknown",
        "STOP is no longer a stop word"
    );
    customer_says(&inbox, "wamid.B2", "basta").await;
    inbox.app.run_jobs().await;
    assert_eq!(consent(&inbox).await["state"], "opted_out");
    assert!(
        meta.requests_to("POST", &messages_path()).is_empty(),
        "no reply configured"
    );
}

/// Meta's `user_preferences` webhook (marketing `stop`), then the outbox: a MARKETING
/// template is refused for every sender, a UTILITY one and a reply in the window go.
#[tokio::test]
async fn an_opted_out_customer_gets_no_marketing_template_but_utility_and_replies_go() {
    let (inbox, meta) = meta_outbox().await;
    marketing_and_utility_templates(&inbox, &meta).await;
    let conversation = customer_says(&inbox, "wamid.U1", "hello").await;
    // Shape from Meta's `user_preferences` webhook reference.
    let ts = chrono::Utc::now().timestamp();
    let preference = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": ts, "changes": [{"field": "user_preferences", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
        "user_preferences": [{"wa_id": CUSTOMER, "detail": "User requested to stop marketing messages", "category": "marketing_messages", "value": "stop", "timestamp": ts}]}}]}]});
    assert_eq!(
        inbox.post_meta(META_SECRET, &preference).await.status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;
    assert_eq!(consent(&inbox).await["source"], "meta:user_preferences");

    let refused = send(&inbox, &conversation, template_message("spring_sale")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "recipient_opted_out");
    // By phone, through an API key's route, the same rule.
    let by_phone = inbox
        .app
        .post(
            "/api/v1/messages",
            &inbox.admin,
            json!({"to_phone": "+254712345678", "type": "template", "template": {"name": "spring_sale", "language": "en_US", "body_params": ["Wanjiru"]}}),
        )
        .await;
    assert_eq!(by_phone.problem_code(), "recipient_opted_out");

    for wamid in ["wamid.UTIL", "wamid.REPLY"] {
        meta.script_json("POST", &messages_path(), 200, accepted(wamid));
    }
    let utility = send(&inbox, &conversation, template_message("order_update")).await;
    assert_eq!(utility.status, StatusCode::ACCEPTED, "{}", utility.body);
    let reply = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "Your order ships today"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    for queued in [&utility, &reply] {
        assert_eq!(
            delivered(&inbox, queued.body["id"].as_str().unwrap()).await["status"],
            "sent"
        );
    }
    let sent = meta.requests_to("POST", &messages_path());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json()["template"]["name"], "order_update");
}

/// A marketing template queued while the customer was subscribed, who then opts
/// out before it leaves: delivery checks again and nothing reaches Meta.
#[tokio::test]
async fn consent_is_checked_again_at_delivery() {
    let (inbox, meta) = meta_outbox().await;
    marketing_and_utility_templates(&inbox, &meta).await;
    let conversation = customer_says(&inbox, "wamid.D1", "hello").await;
    let queued = send(&inbox, &conversation, template_message("spring_sale")).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);

    let set = inbox
        .app
        .call(
            Method::PUT,
            CONSENT,
            Some(&inbox.admin),
            Some(json!({"state": "opted_out", "reason": "asked on a phone call"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["source"], "staff");
    assert!(
        set.body["history"][0]["changed_by"].is_string(),
        "who is kept"
    );

    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["code"], "recipient_opted_out");
    assert!(meta.requests_to("POST", &messages_path()).is_empty());
}

/// Meta refuses a marketing send with 131050 (error codes reference: "this
/// recipient has chosen to stop receiving marketing messages"), at send time or in
/// a failed status: either way the customer is opted out.
#[tokio::test]
async fn error_131050_opts_the_customer_out_at_send_and_in_a_status() {
    let (inbox, meta) = meta_outbox().await;
    marketing_and_utility_templates(&inbox, &meta).await;
    let conversation = customer_says(&inbox, "wamid.E1", "hello").await;
    meta.script_json(
        "POST",
        &messages_path(),
        400,
        json!({"error": {"message": "(#131050) Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
                         "type": "OAuthException", "code": 131050,
                         "error_data": {"messaging_product": "whatsapp", "details": "This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."},
                         "fbtrace_id": "AbCdEf131050"}}),
    );
    let queued = send(&inbox, &conversation, template_message("spring_sale")).await;
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["provider_code"], "131050");
    let out = consent(&inbox).await;
    assert_eq!(out["state"], "opted_out");
    assert_eq!(out["source"], "provider:131050");

    // Subscribed again by staff; then a status webhook reports 131050 for a send
    // Meta had accepted.
    let set = inbox
        .app
        .call(
            Method::PUT,
            CONSENT,
            Some(&inbox.admin),
            Some(json!({"state": "subscribed"})),
        )
        .await;
    assert_eq!(set.body["state"], "subscribed");
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.LATER"));
    let queued = send(&inbox, &conversation, template_message("spring_sale")).await;
    assert_eq!(
        delivered(&inbox, queued.body["id"].as_str().unwrap()).await["status"],
        "sent"
    );
    // The report comes a moment after staff resubscribed the customer.
    let ts = (chrono::Utc::now().timestamp() + 1).to_string();
    let failed = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "statuses": [{"id": "wamid.LATER", "status": "failed", "timestamp": ts, "recipient_id": CUSTOMER,
            "errors": [{"code": 131050, "title": "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
                        "message": "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
                        "error_data": {"details": "This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}}]}]}}]}]});
    assert_eq!(
        inbox.post_meta(META_SECRET, &failed).await.status,
        StatusCode::OK
    );
    inbox.app.run_jobs().await;
    let out = consent(&inbox).await;
    assert_eq!(out["state"], "opted_out");
    assert_eq!(
        history(&out)
            .iter()
            .map(|(state, _)| state.as_str())
            .collect::<Vec<_>>(),
        ["opted_out", "subscribed", "opted_out"]
    );
}

#[tokio::test]
async fn a_blocklisted_number_gets_nothing_not_even_replies_or_confirmations() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_says(&inbox, "wamid.K1", "hello").await;
    let blocked = inbox
        .app
        .post(
            "/api/v1/blocklist",
            &inbox.admin,
            json!({"phone": "+254 712 345 678", "reason": "abusive messages"}),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CREATED, "{}", blocked.body);
    assert_eq!(blocked.body["phone"], CUSTOMER);
    let again = inbox
        .app
        .post(
            "/api/v1/blocklist",
            &inbox.admin,
            json!({"phone": "254712345678"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    let reply = send(&inbox, &conversation, json!({"type": "text", "text": "hi"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.problem_code(), "recipient_blocked");
    // A STOP from a blocked number is recorded, and gets no confirmation.
    customer_says(&inbox, "wamid.K2", "STOP").await;
    inbox.app.run_jobs().await;
    let state = consent(&inbox).await;
    assert_eq!(state["blocked"], true);
    assert_eq!(state["state"], "opted_out");
    assert!(meta.requests_to("POST", &messages_path()).is_empty());

    let listed = inbox.app.get("/api/v1/blocklist", &inbox.admin).await;
    assert_eq!(listed.body["items"][0]["reason"], "abusive messages");
    let removed = inbox
        .app
        .delete("/api/v1/blocklist/+254712345678", &inbox.admin)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        inbox
            .app
            .delete("/api/v1/blocklist/254712345678", &inbox.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.AFTER"));
    let reply = send(&inbox, &conversation, json!({"type": "text", "text": "hi"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let after = consent(&inbox).await;
    // The customer's STOP carries its second-precision send time, so only the set
    // of changes is certain, not its order against the blocklist's.
    let mut states: Vec<String> = history(&after)
        .into_iter()
        .map(|(state, _)| state)
        .collect();
    states.sort();
    assert_eq!(states, ["blocked", "opted_out", "unblocked"]);
}

#[tokio::test]
async fn consent_and_the_blocklist_need_their_permissions() {
    let (inbox, _meta) = meta_outbox().await;
    let (_, viewer) = inbox.app.staff_with(&["whatsapp_contacts:view"]).await;
    assert_eq!(inbox.app.get(CONSENT, &viewer).await.status, StatusCode::OK);
    let set = inbox
        .app
        .call(
            Method::PUT,
            CONSENT,
            Some(&viewer),
            Some(json!({"state": "opted_out"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::FORBIDDEN);
    let block = inbox
        .app
        .post(
            "/api/v1/blocklist",
            &viewer,
            json!({"phone": "+254712345678"}),
        )
        .await;
    assert_eq!(block.status, StatusCode::FORBIDDEN);
    let (_, chat_only) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    assert_eq!(
        inbox.app.get(CONSENT, &chat_only).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        inbox
            .app
            .get("/api/v1/settings/consent", &viewer)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let bad = inbox.app.get("/api/v1/consent/call-me", &inbox.admin).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_code(), "validation_failed");
    // Digits that cannot be a phone have no consent, which is an answer.
    let none = inbox.app.get("/api/v1/consent/0000000", &inbox.admin).await;
    assert_eq!(none.body["state"], "unknown");
    let set = inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/consent/0000000",
            Some(&inbox.admin),
            Some(json!({"state": "opted_out"})),
        )
        .await;
    assert_eq!(
        set.problem_code(),
        "validation_failed",
        "only a phone can be set"
    );
}

/// A stop word is answered by the consent reply alone: a bot that would match
/// the word stays silent, and still answers a sentence that merely contains it.
#[tokio::test]
async fn bots_do_not_answer_a_stop_word() {
    let (inbox, meta) = meta_outbox().await;
    meta.script_json_each("POST", &messages_path(), 200, |n| {
        accepted(&format!("wamid.OUT.{n}"))
    });
    let bot = inbox
        .app
        .post(
            "/api/v1/bots",
            &inbox.admin,
            json!({"name": "Stopper", "trigger": {"type": "contains", "values": ["stop"]},
                   "response": {"type": "text", "text": "A bot heard you"}}),
        )
        .await;
    assert_eq!(bot.status, StatusCode::CREATED, "{}", bot.body);

    customer_says(&inbox, "wamid.BS1", "STOP").await;
    for _ in 0..4 {
        if inbox.app.run_jobs().await == 0 {
            break;
        }
    }
    let sent = texts_sent(&meta);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("no longer receive marketing"), "{sent:?}");

    customer_says(&inbox, "wamid.BS2", "how do I stop my order?").await;
    for _ in 0..4 {
        if inbox.app.run_jobs().await == 0 {
            break;
        }
    }
    assert_eq!(
        texts_sent(&meta).last().map(String::as_str),
        Some("A bot heard you")
    );
    assert_eq!(
        consent(&inbox).await["state"],
        "opted_out",
        "a sentence changes nothing"
    );
}
