//! The operator's inbox: assignment, status, snoozing, read marks, counts,
//! search and who sees what.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn assign_resolve_and_reopen_on_a_new_message() {
    let (inbox, _meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.1", 60).await;
    let (agent, _) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    let path = |action: &str| format!("/api/v1/conversations/{conversation}/{action}");

    let assigned = inbox
        .app
        .post(&path("assign"), &inbox.admin, json!({"staff_id": agent}))
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["assigned_to"], agent.as_str());
    let nobody = inbox
        .app
        .post(
            &path("assign"),
            &inbox.admin,
            json!({"staff_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);

    let resolved = inbox
        .app
        .post(&path("status"), &inbox.admin, json!({"status": "resolved"}))
        .await;
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(inbox.conversations("?status=resolved").await.len(), 1);
    customer_writes(&inbox, "wamid.2", 30).await;
    let reopened = inbox
        .app
        .get(
            &format!("/api/v1/conversations/{conversation}"),
            &inbox.admin,
        )
        .await;
    assert_eq!(reopened.body["status"], "open");
    assert_eq!(reopened.body["unread_count"], 2);

    let bad = inbox
        .app
        .post(&path("status"), &inbox.admin, json!({"status": "snoozed"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "snooze_until");
    let wrong = inbox
        .app
        .post(&path("status"), &inbox.admin, json!({"status": "archived"}))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_by_itself() {
    let (inbox, _meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.1", 60).await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let snoozed = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/status"),
            &inbox.admin,
            json!({"status": "snoozed", "snooze_until": until}),
        )
        .await;
    assert_eq!(snoozed.body["status"], "snoozed");
    // The wake-up job runs periodically; run it as the scheduler would, until
    // the snooze is over and it has woken the conversation.
    let mut db = inbox.app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        wacrm_worker::enqueue(&mut db, &wacrm_worker::jobs::WakeSnoozed)
            .await
            .unwrap();
        inbox.app.run_jobs().await;
        let status = inbox
            .app
            .get(
                &format!("/api/v1/conversations/{conversation}"),
                &inbox.admin,
            )
            .await
            .body["status"]
            .clone();
        if status == "open" {
            break;
        }
        assert_eq!(status, "snoozed", "it only ever wakes up");
        assert!(
            std::time::Instant::now() < deadline,
            "still snoozed 8 s after the snooze ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(chrono::Utc::now() >= until, "not woken before its time");
}

#[tokio::test]
async fn mark_read_clears_unread_and_sends_a_read_receipt() {
    let (inbox, meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.LATEST", 60).await;
    meta.script_json("POST", &messages_path(), 200, json!({"success": true}));
    let read = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/read"),
            &inbox.admin,
            json!({}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["unread_count"], 0);
    inbox.app.run_jobs().await;
    let calls = meta.requests_to("POST", &messages_path());
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.LATEST"})
    );
    assert_eq!(inbox.conversations("?unread=true").await.len(), 0);
}

#[tokio::test]
async fn counts_search_and_filters() {
    let (inbox, _meta) = meta_outbox().await;
    inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Wanjiru", "phone": format!("+{CUSTOMER}")}),
        )
        .await;
    customer_writes(&inbox, "wamid.1", 60).await;
    let counts = inbox
        .app
        .get("/api/v1/conversations/counts", &inbox.admin)
        .await;
    assert_eq!(counts.status, StatusCode::OK, "{}", counts.body);
    assert_eq!(
        counts.body,
        json!({"lead": 1, "contact": 0, "staff": 0, "general": 0, "total": 1})
    );
    assert_eq!(
        inbox.conversations("?q=wanji").await.len(),
        1,
        "by profile name"
    );
    assert_eq!(
        inbox.conversations("?q=hello").await.len(),
        1,
        "by message text"
    );
    assert_eq!(inbox.conversations("?q=712345").await.len(), 1, "by phone");
    assert_eq!(inbox.conversations("?q=nothing-like-it").await.len(), 0);
    assert_eq!(
        inbox
            .conversations(&format!("?number_id={}", inbox.number_id))
            .await
            .len(),
        1
    );
    let bad = inbox
        .app
        .get("/api/v1/conversations?rel_type=alien", &inbox.admin)
        .await;
    assert_eq!(bad.problem_code(), "invalid_query");
}

#[tokio::test]
async fn agents_can_be_limited_to_their_own_and_unassigned_conversations() {
    let (inbox, _meta) = meta_outbox().await;
    let conversation = customer_writes(&inbox, "wamid.1", 60).await;
    let (_, agent) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    let (other, _) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/assign"),
            &inbox.admin,
            json!({"staff_id": other}),
        )
        .await;
    // By default every agent sees everything.
    assert_eq!(
        inbox.app.get("/api/v1/conversations", &agent).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    restrict_agents(&inbox).await;
    assert_eq!(
        inbox.app.get("/api/v1/conversations", &agent).await.body["items"],
        json!([])
    );
    assert_eq!(
        inbox
            .app
            .get(&format!("/api/v1/conversations/{conversation}"), &agent)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        inbox
            .app
            .get("/api/v1/conversations", &inbox.admin)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "admins see all"
    );
}
