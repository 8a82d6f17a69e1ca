//! Meta's typing indicator (with the read status) and WhatsApp Flow messages: sent as
//! Meta documents them, and the customer's filled-in Flow (`nfm_reply`) read back.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn typing_marks_the_last_message_read_and_shows_the_indicator() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(
        &inbox,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
        30,
    )
    .await;
    meta.script_json("POST", &messages_path(), 200, json!({"success": true}));

    let typing = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/typing"),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::ACCEPTED, "{}", typing.body);
    assert_eq!(typing.body["unread_count"], 0);
    assert!(meta.requests().is_empty(), "the call goes out as a job");
    inbox.app.run_jobs().await;
    let calls = meta.requests_to("POST", &messages_path());
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].headers["authorization"],
        format!("Bearer {META_TOKEN}")
    );
    // developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators/
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "status": "read",
               "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
               "typing_indicator": {"type": "text"}})
    );
    let log = inbox.app.get("/api/v1/activity-log", &inbox.admin).await;
    assert_eq!(log.body["items"][0]["operation"], "show_typing");
}

#[tokio::test]
async fn providers_without_a_typing_indicator_answer_unsupported() {
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616", "is_default": true}),
    )
    .await;
    let ts = chrono::Utc::now().timestamp().to_string();
    let inbound = json!({"contacts": [{"profile": {"name": "U"}, "wa_id": "919999999999"}],
        "messages": {"from": "919999999999", "id": "wamid.T", "timestamp": ts, "text": {"body": "hi"}, "type": "text"},
        "businessPhoneNumber": "+919355421616"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let typing = inbox
        .app
        .post(
            &format!(
                "/api/v1/conversations/{}/typing",
                conversation["id"].as_str().unwrap()
            ),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(typing.problem_code(), "unsupported_by_provider");
    assert_eq!(inbox.app.run_jobs().await, 0, "nothing queued");
}

#[tokio::test]
async fn a_flow_message_goes_out_as_meta_documents_it() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.in-flow", 60).await;
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.FLOW"));

    // Broken: both a flow_id and a flow_name, no first screen for navigate.
    let broken = send(
        &inbox,
        &conversation,
        json!({"type": "interactive", "interactive": {"kind": "flow", "body": "Book", "flow_id": "1",
               "flow_name": "booking", "flow_cta": "Book!"}}),
    )
    .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(broken.problem_code(), "validation_failed");
    let fields: Vec<&str> = broken.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["flow_name", "flow_action_payload"]);

    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "interactive", "interactive": {"kind": "flow", "header": "Flow message header",
               "body": "Flow message body", "footer": "Flow message footer",
               "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "flow_id": "1", "flow_cta": "Book!",
               "flow_action": "navigate",
               "flow_action_payload": {"screen": "BOOKING", "data": {"product_name": "name", "product_price": 100}}}}),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    assert_eq!(queued.body["type"], "interactive");
    assert_eq!(queued.body["body"], "Flow message body");
    let message = delivered(&inbox, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent");
    let calls = meta.requests_to("POST", &messages_path());
    assert_eq!(calls.len(), 1);
    // developers.facebook.com/documentation/business-messaging/whatsapp/flows/guides/sendingaflow/
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "interactive",
               "interactive": {"type": "flow",
                   "header": {"type": "text", "text": "Flow message header"},
                   "body": {"text": "Flow message body"},
                   "footer": {"text": "Flow message footer"},
                   "action": {"name": "flow", "parameters": {
                       "flow_message_version": "3", "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
                       "flow_id": "1", "flow_cta": "Book!", "flow_action": "navigate",
                       "flow_action_payload": {"screen": "BOOKING", "data": {"product_name": "name", "product_price": 100}}}}}})
    );
}

#[tokio::test]
async fn lipachat_cannot_send_a_flow() {
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let inbound = json!({"messageId": "in-1", "from": "254712345678", "to": "254110090747", "type": "TEXT", "text": "Hi"});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), inbound.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;
    let (conversation, _) = inbox.only_conversation().await;
    let refused = send(
        &inbox,
        conversation["id"].as_str().unwrap(),
        json!({"type": "interactive", "interactive": {"kind": "flow", "body": "Book", "flow_name": "booking",
               "flow_cta": "Book!", "flow_action": "data_exchange"}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "unsupported_by_provider");
}

#[tokio::test]
async fn a_filled_in_flow_comes_back_as_an_interactive_message() {
    let (inbox, _meta) = meta_outbox().await;
    // The `nfm_reply` webhook of developers.facebook.com/documentation/business-messaging/
    // whatsapp/flows/guides/receiveflowresponse/ (placeholders filled in).
    let ts = chrono::Utc::now().timestamp().to_string();
    let response_json = "{\"flow_token\": \"AQAAAAACS5FpgQ_cAAAAAD0QI3s.\", \"optional_param1\": \"value1\", \"optional_param2\": \"value2\"}";
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": CUSTOMER}],
        "messages": [{
            "context": {"from": "15550100999", "id": "gBGGEiRVVgBPAgm7FUgc73noXjo"},
            "from": CUSTOMER, "id": "wamid.NFM", "type": "interactive",
            "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": response_json, "body": "Sent", "name": "flow"}},
            "timestamp": ts
        }]
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK);
    inbox.app.run_jobs().await;
    assert!(inbox.webhook_events("failed").await.is_empty());
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["direction"], "inbound");
    assert_eq!(message["type"], "interactive");
    assert_eq!(message["body"], "[form submitted]");
    assert!(
        message["payload"].to_string().contains("optional_param1"),
        "the answers are kept: {}",
        message["payload"]
    );
}
