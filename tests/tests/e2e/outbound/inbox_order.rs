//! The inbox by activity: order, keyset pages while messages arrive, the
//! unread filter and counts, and the bounds on search (length cap, statement
//! timeout).

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use diesel_async::RunQueryDsl as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

/// One webhook carrying a message from each of `customers`, processed.
async fn customers_write(inbox: &Inbox, customers: &[String], tag: &str) {
    let ts = Utc::now().timestamp();
    let messages: Vec<Value> = customers
        .iter()
        .map(|from| json!({"from": from, "id": format!("wamid.{tag}.{from}"), "timestamp": ts.to_string(), "type": "text", "text": {"body": format!("{tag} from {from}")}}))
        .collect();
    let contacts: Vec<Value> = customers
        .iter()
        .map(|from| json!({"profile": {"name": format!("Customer {from}")}, "wa_id": from}))
        .collect();
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": contacts, "messages": messages
    }}]}]});
    let answer = inbox.post_meta(META_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    inbox.app.run_jobs().await;
}

fn phone(k: usize) -> String {
    format!("2547000000{k:02}")
}

fn phones_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["customer_phone"].as_str().unwrap().to_owned())
        .collect()
}

/// The page `cursor` names (`None`: the first), and the next cursor.
async fn page(inbox: &Inbox, limit: usize, cursor: Option<&str>) -> (Vec<Value>, Option<String>) {
    let path = match cursor {
        Some(cursor) => format!("/api/v1/conversations?limit={limit}&cursor={cursor}"),
        None => format!("/api/v1/conversations?limit={limit}"),
    };
    let answer = inbox.app.get(&path, &inbox.admin).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    (
        answer.body["items"].as_array().unwrap().clone(),
        answer.body["next_cursor"].as_str().map(str::to_owned),
    )
}

/// Newest activity first, ties by id (newest first).
fn assert_by_activity(items: &[Value]) {
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|c| {
            (
                c["last_activity_at"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let parsed: Vec<(chrono::DateTime<Utc>, &str)> = keys
        .iter()
        .map(|(at, id)| (at.parse().unwrap(), id.as_str()))
        .collect();
    for pair in parsed.windows(2) {
        assert!(pair[0] > pair[1], "not by activity: {keys:?}");
    }
}

#[tokio::test]
async fn a_conversation_moves_to_the_top_when_its_customer_writes_or_staff_reply() {
    let (inbox, meta) = meta_outbox().await;
    for k in 1..=3 {
        customers_write(&inbox, &[phone(k)], "first").await;
    }
    assert_eq!(
        phones_of(&inbox.conversations("").await),
        [phone(3), phone(2), phone(1)],
        "newest conversation first"
    );

    // The oldest conversation hears from its customer again.
    customers_write(&inbox, &[phone(1)], "again").await;
    let items = inbox.conversations("").await;
    assert_eq!(phones_of(&items), [phone(1), phone(3), phone(2)]);
    assert_by_activity(&items);

    // An agent answers the one at the bottom: an outbound reply counts too.
    let bottom = items[2]["id"].as_str().unwrap().to_owned();
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.reply"));
    let sent = send(
        &inbox,
        &bottom,
        json!({"type": "text", "text": "On our way"}),
    )
    .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let items = inbox.conversations("").await;
    assert_eq!(phones_of(&items), [phone(2), phone(1), phone(3)]);
    assert_by_activity(&items);
    assert_eq!(items[0]["last_message"]["preview"], "On our way");
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_while_messages_arrive() {
    let (inbox, _meta) = meta_outbox().await;
    // Six customers in one webhook (one transaction: the same activity time,
    // so the order falls to the ids across a page boundary), then six more
    // one by one.
    let batch: Vec<String> = (1..=6).map(phone).collect();
    customers_write(&inbox, &batch, "first").await;
    for k in 7..=12 {
        customers_write(&inbox, &[phone(k)], "first").await;
    }
    let everyone: Vec<String> = phones_of(&inbox.conversations("?limit=200").await);
    assert_eq!(everyone.len(), 12);

    let mut seen: Vec<String> = Vec::new();
    let (items, mut cursor) = page(&inbox, 4, None).await;
    assert_by_activity(&items);
    seen.extend(phones_of(&items));
    // Between pages: a conversation already read moves up again, one not read
    // yet moves above the boundary, and a new customer writes.
    let already_seen = seen[1].clone();
    let not_yet_seen = everyone[9].clone();
    customers_write(&inbox, std::slice::from_ref(&already_seen), "again").await;
    customers_write(&inbox, std::slice::from_ref(&not_yet_seen), "again").await;
    customers_write(&inbox, &[phone(13)], "first").await;
    let mut moved: HashSet<String> = HashSet::from([not_yet_seen.clone()]);
    let mut pages = 1;
    while let Some(next) = cursor {
        let (items, following) = page(&inbox, 4, Some(&next)).await;
        assert_by_activity(&items);
        seen.extend(phones_of(&items));
        cursor = following;
        pages += 1;
        if pages == 2 {
            // One more arrives while paging: a conversation further down.
            let lower = everyone[10].clone();
            customers_write(&inbox, std::slice::from_ref(&lower), "again").await;
            moved.insert(lower);
        }
    }

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a conversation repeated: {seen:?}"
    );
    for phone in &everyone {
        if !moved.contains(phone) {
            assert!(
                seen.contains(phone),
                "{phone} did not move and was skipped: {seen:?}"
            );
        }
    }
    assert!(
        !seen.contains(&phone(13)),
        "a conversation newer than the first page is not listed below it"
    );
    // Reloading the first page shows what moved, at the top.
    let (top, _) = page(&inbox, 4, None).await;
    assert_eq!(phones_of(&top)[..2], [everyone[10].clone(), phone(13)]);
}

#[tokio::test]
async fn unread_filter_and_counts_follow_messages_reads_and_changes() {
    let (inbox, _meta) = meta_outbox().await;
    let customers: Vec<String> = (1..=5).map(phone).collect();
    customers_write(&inbox, &customers, "first").await;
    let items = inbox.conversations("").await;
    let id_of = |k: usize| {
        items
            .iter()
            .find(|c| c["customer_phone"] == phone(k).as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let read = |k: usize| {
        let path = format!("/api/v1/conversations/{}/read", id_of(k));
        let app = &inbox.app;
        let admin = inbox.admin.clone();
        async move {
            let answer = app.post(&path, &admin, json!({})).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
    };
    read(1).await;
    read(2).await;
    read(3).await;
    let (agent, _) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    let assigned = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{}/assign", id_of(4)),
            &inbox.admin,
            json!({"staff_id": agent}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let resolved = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{}/status", id_of(1)),
            &inbox.admin,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    // A read conversation hears from its customer again: unread once more.
    customers_write(&inbox, &[phone(2)], "again").await;

    assert_eq!(
        phones_of(&inbox.conversations("?unread=true").await),
        [phone(2), phone(5), phone(4)]
    );
    assert_eq!(
        phones_of(&inbox.conversations("?unread=false").await),
        [phone(3), phone(1)]
    );

    // The counts agree with the list under every filter, before and after
    // the count rows are folded.
    let filters = [
        "",
        "?unread=true",
        "?unread=false",
        "?status=open",
        "?status=resolved",
        &format!("?assigned_to={agent}"),
        "?status=open&unread=true",
        &format!("?number_id={}", inbox.number_id),
        "?q=Customer",
    ];
    for fold in [false, true] {
        if fold {
            let mut conn = inbox.app.db().await;
            assert!(
                wacrm_persistence::inbox::compact_counts(&mut conn)
                    .await
                    .unwrap()
            );
        }
        for filter in &filters {
            let listed = inbox
                .conversations(&format!(
                    "{filter}{}limit=200",
                    if filter.is_empty() { "?" } else { "&" }
                ))
                .await;
            let counts = inbox
                .app
                .get(
                    &format!("/api/v1/conversations/counts{filter}"),
                    &inbox.admin,
                )
                .await;
            assert_eq!(counts.status, StatusCode::OK, "{}", counts.body);
            assert_eq!(
                counts.body["total"],
                listed.len(),
                "{filter} (folded: {fold}): {}",
                counts.body
            );
            for rel in ["lead", "contact", "staff", "general"] {
                let of_rel = listed.iter().filter(|c| c["rel_type"] == rel).count();
                assert_eq!(counts.body[rel], of_rel, "{filter} {rel}: {}", counts.body);
            }
        }
    }
}

#[tokio::test]
async fn counts_stay_exact_under_concurrent_changes() {
    let (inbox, _meta) = meta_outbox().await;
    let customers: Vec<String> = (1..=12).map(phone).collect();
    customers_write(&inbox, &customers, "first").await;
    let ids: Vec<String> = inbox
        .conversations("")
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let (agent, _) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    // Every conversation is read, assigned and resolved at once by parallel
    // requests, while more messages land and the count rows are folded.
    let mut tasks = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let app_url = inbox.app.url("");
        let admin = inbox.admin.clone();
        let id = id.clone();
        let agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let call = |path: String, body: Value| {
                client
                    .post(format!("{}{path}", app_url.trim_end_matches('/')))
                    .bearer_auth(&admin)
                    .json(&body)
                    .send()
            };
            let path = |action: &str| format!("/api/v1/conversations/{id}/{action}");
            assert!(
                call(path("read"), json!({}))
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            );
            if k % 2 == 0 {
                let assign = call(path("assign"), json!({"staff_id": agent}));
                assert!(assign.await.unwrap().status().is_success());
            }
            if k % 3 == 0 {
                let status = call(path("status"), json!({"status": "resolved"}));
                assert!(status.await.unwrap().status().is_success());
            }
        }));
    }
    customers_write(&inbox, &customers[..4], "again").await;
    let mut conn = inbox.app.db().await;
    wacrm_persistence::inbox::compact_counts(&mut conn)
        .await
        .unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    for filter in [
        "",
        "?unread=true",
        "?status=resolved",
        "?status=open&unread=false",
    ] {
        let listed = inbox
            .conversations(&format!(
                "{filter}{}limit=200",
                if filter.is_empty() { "?" } else { "&" }
            ))
            .await
            .len();
        let counts = inbox
            .app
            .get(
                &format!("/api/v1/conversations/counts{filter}"),
                &inbox.admin,
            )
            .await;
        assert_eq!(counts.body["total"], listed, "{filter}: {}", counts.body);
    }
    let by_agent = inbox
        .app
        .get(
            &format!("/api/v1/conversations/counts?assigned_to={agent}"),
            &inbox.admin,
        )
        .await;
    assert_eq!(by_agent.body["total"], 6);
}

#[tokio::test]
async fn a_search_term_must_be_1_to_200_characters() {
    let (inbox, _meta) = meta_outbox().await;
    customers_write(&inbox, &[phone(1)], "first").await;
    for path in ["/api/v1/conversations", "/api/v1/conversations/counts"] {
        for q in [String::new(), "x".repeat(201), "é".repeat(201)] {
            let answer = inbox
                .app
                .get(&format!("{path}?q={}", urlencode(&q)), &inbox.admin)
                .await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {q}"
            );
            assert_eq!(answer.problem_code(), "validation_failed");
            assert_eq!(answer.body["errors"][0]["field"], "q");
        }
        // 200 characters (not bytes) are fine.
        let answer = inbox
            .app
            .get(
                &format!("{path}?q={}", urlencode(&"é".repeat(200))),
                &inbox.admin,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let found = inbox.conversations("?q=first%20from").await;
    assert_eq!(found.len(), 1, "a term in message text");
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn a_query_past_the_statement_timeout_answers_query_timeout() {
    let meta = crate::harness::fake_provider::FakeProvider::start().await;
    let inbox = Inbox::with_app(
        crate::harness::TestApp::spawn_with(&[("WACRM_API_STATEMENT_TIMEOUT_MS", "300")]).await,
        "meta",
        json!({"access_token": META_TOKEN, "app_secret": META_SECRET, "verify_token": "v", "waba_id": WABA_ID}),
        json!({"phone": "+15550100999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await;
    drop(meta);
    customers_write(&inbox, &[phone(1)], "first").await;

    // The test holds a lock the list must wait for: the statement waits past
    // the timeout and PostgreSQL cancels it.
    let mut holder = inbox.app.db().await;
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .unwrap();
    diesel::sql_query("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        inbox.app.get("/api/v1/conversations?q=first", &inbox.admin),
    )
    .await
    .expect("the request is cancelled by the statement timeout, not left waiting");
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.problem_code(), "query_timeout");
    assert_eq!(
        answer.headers["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(answer.headers.contains_key("retry-after"));

    diesel::sql_query("COMMIT")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_eq!(inbox.conversations("?q=first").await.len(), 1);
}
