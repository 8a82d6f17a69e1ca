//! Quick replies: canned answers an agent picks by shortcut, with variables
//! filled in for the conversation they answer.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};
use crate::tickets::{conversation_with, meta_inbox};

fn id(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

fn shortcuts(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| reply["shortcut"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_quick_reply_is_created_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let (agent, token) = app
        .staff_with(&[
            "quickreplies:view",
            "quickreplies:create",
            "quickreplies:edit",
            "quickreplies:delete",
        ])
        .await;
    let created = app
        .post(
            "/api/v1/quick-replies",
            &token,
            json!({"shortcut": " /hello ", "title": "Greeting", "body": "Hi {{first_name}}, I'm {{ agent }}. How can {{agent}} help?"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["shortcut"], "/hello");
    assert_eq!(created.body["title"], "Greeting");
    assert_eq!(created.body["variables"], json!(["first_name", "agent"]));
    assert_eq!(created.body["created_by"], agent.as_str());
    let reply = id(&created);
    let path = format!("/api/v1/quick-replies/{reply}");

    assert_eq!(app.get(&path, &token).await.body, created.body);

    let updated = app
        .patch(
            &path,
            &token,
            json!({"title": null, "body": "Your order {{order_id}} ships to {{name}} today"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["title"], Value::Null);
    assert_eq!(updated.body["shortcut"], "/hello", "untouched fields stay");
    assert_eq!(updated.body["variables"], json!(["order_id", "name"]));

    assert_eq!(
        app.delete(&path, &token).await.status,
        StatusCode::NO_CONTENT
    );
    for answer in [
        app.get(&path, &token).await,
        app.delete(&path, &token).await,
        app.patch(&path, &token, json!({"body": "x"})).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.problem_code(), "not_found");
    }
}

#[tokio::test]
async fn shortcuts_are_unique_without_regard_to_case() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let first = app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "/thanks", "body": "Thank you!"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "/THANKS", "body": "Thanks a lot!"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "already_exists");
    assert!(
        again.body["detail"].as_str().unwrap().contains("shortcut"),
        "{}",
        again.body
    );

    let other = id(&app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "/bye", "body": "Bye!"}),
        )
        .await);
    let renamed = app
        .patch(
            &format!("/api/v1/quick-replies/{other}"),
            &admin,
            json!({"shortcut": "/Thanks"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::CONFLICT);
    assert_eq!(renamed.problem_code(), "already_exists");
}

#[tokio::test]
async fn invalid_quick_replies_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "two words", "title": " ", "body": "x".repeat(4097)}),
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
    assert_eq!(fields, HashSet::from(["shortcut", "title", "body"]));

    let unknown = app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "/x", "body": "x", "category": "sales"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.problem_code(), "invalid_body");
}

#[tokio::test]
async fn quick_replies_are_searched_and_paged_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for (shortcut, title, body) in [
        ("/hours", Some("Opening hours"), "We open at 9."),
        ("/price", None, "The price list is attached."),
        ("/ship", Some("Shipping"), "Orders ship within 2 days."),
        ("/late", Some("Late order"), "Sorry, your order is late."),
    ] {
        let created = app
            .post(
                "/api/v1/quick-replies",
                &admin,
                json!({"shortcut": shortcut, "title": title, "body": body}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let all = app.get("/api/v1/quick-replies", &admin).await;
    assert_eq!(shortcuts(&all), ["/late", "/ship", "/price", "/hours"]);
    for (q, expected) in [
        ("PRICE", vec!["/price"]),
        ("hours", vec!["/hours"]),
        ("order", vec!["/late", "/ship"]),
        ("_", vec![]),
    ] {
        let found = app
            .get(&format!("/api/v1/quick-replies?q={q}"), &admin)
            .await;
        assert_eq!(shortcuts(&found), expected, "q={q}");
    }

    let first = app.get("/api/v1/quick-replies?limit=3", &admin).await;
    assert_eq!(shortcuts(&first), ["/late", "/ship", "/price"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/quick-replies?limit=3&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(shortcuts(&rest), ["/hours"]);
    assert_eq!(rest.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn each_quick_reply_action_needs_its_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let reply = id(&app
        .post(
            "/api/v1/quick-replies",
            &admin,
            json!({"shortcut": "/hi", "body": "Hi {{name}}"}),
        )
        .await);
    let path = format!("/api/v1/quick-replies/{reply}");
    let (_, nobody) = app.staff_with(&[]).await;
    let (_, viewer) = app.staff_with(&["quickreplies:view"]).await;
    let render = json!({"conversation_id": uuid::Uuid::now_v7()});

    let denied = [
        (
            app.get("/api/v1/quick-replies", &nobody).await,
            "quickreplies:view",
        ),
        (app.get(&path, &nobody).await, "quickreplies:view"),
        (
            app.post(
                "/api/v1/quick-replies",
                &viewer,
                json!({"shortcut": "/x", "body": "x"}),
            )
            .await,
            "quickreplies:create",
        ),
        (
            app.patch(&path, &viewer, json!({"body": "x"})).await,
            "quickreplies:edit",
        ),
        (app.delete(&path, &viewer).await, "quickreplies:delete"),
        (
            app.post(&format!("{path}/render"), &nobody, render.clone())
                .await,
            "quickreplies:view",
        ),
        // Rendering reads a conversation: the inbox permission too.
        (
            app.post(&format!("{path}/render"), &viewer, render.clone())
                .await,
            "whatsapp_chat:view",
        ),
    ];
    for (answer, permission) in denied {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{permission}");
        assert_eq!(answer.problem_code(), "permission_denied");
        assert_eq!(answer.body["permission"], permission);
    }
    assert_eq!(app.get(&path, &viewer).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_quick_reply_is_rendered_for_the_person_in_the_conversation() {
    let inbox = meta_inbox().await;
    let app = &inbox.app;
    let admin = &inbox.admin;
    app.post(
        "/api/v1/leads",
        admin,
        json!({"name": "Ana Souza", "phone": "+254 712 345 678"}),
    )
    .await;
    let reply = id(&app
        .post(
            "/api/v1/quick-replies",
            admin,
            json!({"shortcut": "/greet", "body": "Hi {{first_name}}! I'm {{ agent }}. Is {{phone}} the best number for {{Name}}? Order {{order_id}}."}),
        )
        .await);
    let render = format!("/api/v1/quick-replies/{reply}/render");
    let (_, agent) = app
        .staff_with(&["quickreplies:view", "whatsapp_chat:view"])
        .await;

    // A lead writes in: the lead's name, not the WhatsApp profile name.
    let lead_chat = conversation_with(&inbox, "254712345678", "Ana on WhatsApp").await;
    assert_eq!(lead_chat["rel_type"], "lead");
    let rendered = app
        .post(&render, &agent, json!({"conversation_id": lead_chat["id"]}))
        .await;
    assert_eq!(rendered.status, StatusCode::OK, "{}", rendered.body);
    assert_eq!(
        rendered.body,
        json!({"text": "Hi Ana! I'm Agent. Is +254712345678 the best number for Ana Souza? Order {{order_id}}."})
    );

    // An unknown sender: the profile name WhatsApp reported.
    let stranger = conversation_with(&inbox, "447700900123", "Wanjiru Kamau").await;
    assert_eq!(stranger["rel_type"], "general");
    let rendered = app
        .post(&render, admin, json!({"conversation_id": stranger["id"]}))
        .await;
    assert_eq!(
        rendered.body["text"],
        "Hi Wanjiru! I'm Administrator. Is +447700900123 the best number for Wanjiru Kamau? Order {{order_id}}."
    );

    // An API key is nobody: `{{agent}}` stays for the sender to fill.
    let key = app
        .post(
            "/api/v1/api-keys",
            admin,
            json!({"name": "bot", "permissions": ["quickreplies:view", "whatsapp_chat:view"]}),
        )
        .await;
    let secret = key.body["secret"].as_str().unwrap();
    let by_key = TestApp::answer(
        app.client
            .post(app.url(&render))
            .header("x-api-key", secret)
            .json(&json!({"conversation_id": lead_chat["id"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.body);
    assert!(
        by_key.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Hi Ana! I'm {{ agent }}.")
    );

    let no_conversation = app
        .post(
            &render,
            admin,
            json!({"conversation_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(no_conversation.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_conversation.problem_code(), "invalid_reference");
    assert_eq!(
        no_conversation.body["errors"][0]["field"],
        "conversation_id"
    );
    let no_reply = app
        .post(
            &format!("/api/v1/quick-replies/{}/render", uuid::Uuid::now_v7()),
            admin,
            json!({"conversation_id": lead_chat["id"]}),
        )
        .await;
    assert_eq!(no_reply.status, StatusCode::NOT_FOUND);
    assert_eq!(no_reply.problem_code(), "not_found");
}
