//! Support tickets: opened by hand, on their own or from a conversation (which
//! links the lead or contact writing in), then worked, filtered and closed.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};
use crate::inbound::Inbox;

const APP_SECRET: &str = "meta-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";

fn id(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

fn subjects(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["subject"].as_str().unwrap().to_owned())
        .collect()
}

/// An app with a Meta connection and one business number.
pub async fn meta_inbox() -> Inbox {
    Inbox::new(
        "meta",
        json!({"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": "verify-me", "waba_id": "102290129340398"}),
        json!({"phone": "+1 555 010 0999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await
}

/// The conversation a text from `from` (E.164 digits) opens, once Meta's
/// webhook is in and the jobs have run.
pub async fn conversation_with(inbox: &Inbox, from: &str, profile_name: &str) -> Value {
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": profile_name}, "wa_id": from}],
                "messages": [{
                    "from": from, "id": format!("wamid.{from}"), "timestamp": "1779872400",
                    "type": "text", "text": {"body": "My order never arrived"},
                }],
            },
        }]}],
    });
    let answer = inbox.post_meta(APP_SECRET, &payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    inbox.app.run_jobs().await;
    inbox
        .conversations("")
        .await
        .into_iter()
        .find(|conversation| conversation["customer_phone"] == from)
        .unwrap_or_else(|| panic!("no conversation with {from}"))
}

#[tokio::test]
async fn a_ticket_is_opened_worked_and_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let me = app.get("/api/v1/me", &admin).await.body["id"].clone();
    let (agent, _) = app.staff_with(&["tickets:view"]).await;

    let opened = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({"subject": "  Refund for order 1042 ", "description": "Paid twice", "priority": "high", "assigned_to": agent}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["subject"], "Refund for order 1042");
    assert_eq!(opened.body["description"], "Paid twice");
    assert_eq!(opened.body["status"], "open", "new tickets are open");
    assert_eq!(opened.body["priority"], "high");
    assert_eq!(opened.body["assigned_to"], agent.as_str());
    assert_eq!(opened.body["created_by"], me);
    assert_eq!(opened.body["conversation_id"], Value::Null);
    let ticket = id(&opened);

    let fetched = app.get(&format!("/api/v1/tickets/{ticket}"), &admin).await;
    assert_eq!(fetched.body, opened.body);

    let worked = app
        .patch(
            &format!("/api/v1/tickets/{ticket}"),
            &admin,
            json!({"status": "resolved", "assigned_to": null, "description": null}),
        )
        .await;
    assert_eq!(worked.status, StatusCode::OK, "{}", worked.body);
    assert_eq!(worked.body["status"], "resolved");
    assert_eq!(worked.body["assigned_to"], Value::Null);
    assert_eq!(worked.body["description"], Value::Null);
    assert_eq!(worked.body["priority"], "high", "untouched fields stay");
    assert_eq!(worked.body["subject"], "Refund for order 1042");

    assert_eq!(
        app.delete(&format!("/api/v1/tickets/{ticket}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    for answer in [
        app.get(&format!("/api/v1/tickets/{ticket}"), &admin).await,
        app.delete(&format!("/api/v1/tickets/{ticket}"), &admin)
            .await,
        app.patch(
            &format!("/api/v1/tickets/{ticket}"),
            &admin,
            json!({"status": "closed"}),
        )
        .await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.problem_code(), "not_found");
    }
}

#[tokio::test]
async fn invalid_fields_are_all_reported_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({"subject": "  ", "status": "snoozed", "priority": "critical"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.problem_code(), "validation_failed");
    let fields: HashSet<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, HashSet::from(["subject", "status", "priority"]));

    let unknown = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({"subject": "Hi", "severity": "high"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.problem_code(), "invalid_body");

    let ticket = id(&app
        .post("/api/v1/tickets", &admin, json!({"subject": "Hi"}))
        .await);
    let patch = app
        .patch(
            &format!("/api/v1/tickets/{ticket}"),
            &admin,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(patch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(patch.body["errors"][0]["field"], "status");
}

#[tokio::test]
async fn tickets_go_only_to_active_staff_and_link_only_existing_records() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (agent, _) = app.staff_with(&[]).await;
    let ticket = id(&app
        .post("/api/v1/tickets", &admin, json!({"subject": "Broken link"}))
        .await);
    let path = format!("/api/v1/tickets/{ticket}");

    let ghost = uuid::Uuid::now_v7();
    let unknown = app
        .patch(&path, &admin, json!({"assigned_to": ghost}))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.problem_code(), "invalid_reference");
    assert_eq!(unknown.body["errors"][0]["field"], "assigned_to");

    let deactivated = app
        .patch(
            &format!("/api/v1/staff/{agent}"),
            &admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    let inactive = app
        .patch(&path, &admin, json!({"assigned_to": agent}))
        .await;
    assert_eq!(inactive.problem_code(), "invalid_reference");
    let on_create = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({"subject": "x", "assigned_to": agent}),
        )
        .await;
    assert_eq!(on_create.problem_code(), "invalid_reference");

    app.patch(
        &format!("/api/v1/staff/{agent}"),
        &admin,
        json!({"is_active": true}),
    )
    .await;
    let assigned = app
        .patch(&path, &admin, json!({"assigned_to": agent}))
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["assigned_to"], agent.as_str());

    for field in ["lead_id", "contact_id", "conversation_id"] {
        let answer = app
            .post(
                "/api/v1/tickets",
                &admin,
                json!({"subject": "x", field: ghost}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(answer.problem_code(), "invalid_reference");
        assert_eq!(answer.body["errors"][0]["field"], field);
    }
}

#[tokio::test]
async fn tickets_filter_newest_first_and_page_without_repeats() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (agent, _) = app.staff_with(&[]).await;
    let lead = id(&app
        .post("/api/v1/leads", &admin, json!({"name": "Ana"}))
        .await);
    let contact = id(&app
        .post("/api/v1/contacts", &admin, json!({"name": "Bruno"}))
        .await);
    for (subject, status, priority, assignee, lead_id, contact_id) in [
        ("Printer jam", "open", "low", None, None, None),
        (
            "Refund request",
            "pending",
            "high",
            Some(&agent),
            Some(&lead),
            None,
        ),
        (
            "Wrong size shipped",
            "open",
            "urgent",
            Some(&agent),
            None,
            Some(&contact),
        ),
        ("Refund done?", "closed", "normal", None, Some(&lead), None),
    ] {
        let created = app
            .post(
                "/api/v1/tickets",
                &admin,
                json!({"subject": subject, "status": status, "priority": priority,
                       "assigned_to": assignee, "lead_id": lead_id, "contact_id": contact_id}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }

    let all = app.get("/api/v1/tickets", &admin).await;
    assert_eq!(
        subjects(&all),
        [
            "Refund done?",
            "Wrong size shipped",
            "Refund request",
            "Printer jam"
        ],
        "newest first"
    );
    let cases = [
        ("status=open", vec!["Wrong size shipped", "Printer jam"]),
        ("priority=urgent", vec!["Wrong size shipped"]),
        (
            &format!("assigned_to={agent}"),
            vec!["Wrong size shipped", "Refund request"],
        ),
        (
            &format!("lead_id={lead}"),
            vec!["Refund done?", "Refund request"],
        ),
        (&format!("contact_id={contact}"), vec!["Wrong size shipped"]),
        ("q=REFUND", vec!["Refund done?", "Refund request"]),
        (
            &format!("q=refund&status=pending&assigned_to={agent}"),
            vec!["Refund request"],
        ),
        ("q=%25", vec![]),
    ];
    for (query, expected) in cases {
        let answer = app.get(&format!("/api/v1/tickets?{query}"), &admin).await;
        assert_eq!(subjects(&answer), expected, "{query}");
    }

    for bad in ["status=snoozed", "priority=critical"] {
        let answer = app.get(&format!("/api/v1/tickets?{bad}"), &admin).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(answer.problem_code(), "invalid_query");
    }

    // Pages of one: every ticket once, in the same order as the whole list.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("/api/v1/tickets?limit=1&cursor={cursor}"),
            None => "/api/v1/tickets?limit=1".to_owned(),
        };
        let page = app.get(&url, &admin).await;
        walked.extend(subjects(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, subjects(&all));
}

#[tokio::test]
async fn each_ticket_action_needs_its_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let ticket = id(&app
        .post("/api/v1/tickets", &admin, json!({"subject": "Hi"}))
        .await);
    let path = format!("/api/v1/tickets/{ticket}");
    let (_, nobody) = app.staff_with(&[]).await;
    let (_, viewer) = app.staff_with(&["tickets:view"]).await;
    let conversation = uuid::Uuid::now_v7();

    let denied = [
        (app.get("/api/v1/tickets", &nobody).await, "tickets:view"),
        (app.get(&path, &nobody).await, "tickets:view"),
        (
            app.post("/api/v1/tickets", &viewer, json!({"subject": "x"}))
                .await,
            "tickets:create",
        ),
        (
            app.post(
                &format!("/api/v1/conversations/{conversation}/tickets"),
                &viewer,
                json!({"subject": "x"}),
            )
            .await,
            "tickets:create",
        ),
        (
            app.patch(&path, &viewer, json!({"status": "closed"})).await,
            "tickets:edit",
        ),
        (app.delete(&path, &viewer).await, "tickets:delete"),
    ];
    for (answer, permission) in denied {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{permission}");
        assert_eq!(answer.problem_code(), "permission_denied");
        assert_eq!(answer.body["permission"], permission);
    }
    assert_eq!(app.get(&path, &viewer).await.status, StatusCode::OK);

    let (_, worker) = app
        .staff_with(&["tickets:view", "tickets:edit", "tickets:delete"])
        .await;
    assert_eq!(
        app.patch(&path, &worker, json!({"status": "closed"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&path, &worker).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_ticket_opened_from_a_conversation_links_the_lead_or_contact_writing_in() {
    let inbox = meta_inbox().await;
    let app = &inbox.app;
    let admin = &inbox.admin;
    let lead = id(&app
        .post(
            "/api/v1/leads",
            admin,
            json!({"name": "Ana Souza", "phone": "+254 712 345 678"}),
        )
        .await);
    let contact = id(&app
        .post(
            "/api/v1/contacts",
            admin,
            json!({"name": "Bruno", "phone": "+254 733 000 111"}),
        )
        .await);
    let (agent, agent_token) = app.staff_with(&["tickets:create"]).await;

    let from_lead = conversation_with(&inbox, "254712345678", "Ana").await;
    assert_eq!(from_lead["rel_type"], "lead");
    let conversation = from_lead["id"].as_str().unwrap();
    let opened = app
        .post(
            &format!("/api/v1/conversations/{conversation}/tickets"),
            &agent_token,
            json!({"subject": "Order never arrived", "description": "Ordered on the 2nd", "priority": "urgent", "assigned_to": agent}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["conversation_id"], conversation);
    assert_eq!(opened.body["lead_id"], lead.as_str());
    assert_eq!(opened.body["contact_id"], Value::Null);
    assert_eq!(opened.body["status"], "open");
    assert_eq!(opened.body["priority"], "urgent");
    assert_eq!(opened.body["assigned_to"], agent.as_str());
    assert_eq!(opened.body["created_by"], agent.as_str());
    let listed = app
        .get(&format!("/api/v1/tickets?lead_id={lead}"), admin)
        .await;
    assert_eq!(subjects(&listed), ["Order never arrived"]);
    let listed = app
        .get(
            &format!("/api/v1/tickets?conversation_id={conversation}"),
            admin,
        )
        .await;
    assert_eq!(listed.body["items"][0]["id"], opened.body["id"]);

    let from_contact = conversation_with(&inbox, "254733000111", "Bruno").await;
    assert_eq!(from_contact["rel_type"], "contact");
    let opened = app
        .post(
            &format!(
                "/api/v1/conversations/{}/tickets",
                from_contact["id"].as_str().unwrap()
            ),
            admin,
            json!({"subject": "Invoice copy"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["contact_id"], contact.as_str());
    assert_eq!(opened.body["lead_id"], Value::Null);
    assert_eq!(opened.body["priority"], "normal");

    // An unknown sender links only the conversation.
    let stranger = conversation_with(&inbox, "447700900123", "Stranger").await;
    assert_eq!(stranger["rel_type"], "general");
    let opened = app
        .post(
            &format!(
                "/api/v1/conversations/{}/tickets",
                stranger["id"].as_str().unwrap()
            ),
            admin,
            json!({"subject": "Who is this?"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["conversation_id"], stranger["id"]);
    assert_eq!(opened.body["lead_id"], Value::Null);
    assert_eq!(opened.body["contact_id"], Value::Null);

    let missing = app
        .post(
            &format!("/api/v1/conversations/{}/tickets", uuid::Uuid::now_v7()),
            admin,
            json!({"subject": "x"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem_code(), "not_found");
    let invalid = app
        .post(
            &format!("/api/v1/conversations/{conversation}/tickets"),
            admin,
            json!({"subject": "", "priority": "asap", "status": "open"}),
        )
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::BAD_REQUEST,
        "the status is not chosen here"
    );
    let invalid = app
        .post(
            &format!("/api/v1/conversations/{conversation}/tickets"),
            admin,
            json!({"subject": "", "priority": "asap"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["errors"].as_array().unwrap().len(), 2);

    // Deleting the lead keeps the ticket, unlinked.
    app.delete(&format!("/api/v1/leads/{lead}"), admin).await;
    let kept = app
        .get(
            &format!("/api/v1/tickets?conversation_id={conversation}"),
            admin,
        )
        .await;
    assert_eq!(kept.body["items"][0]["lead_id"], Value::Null);
}
