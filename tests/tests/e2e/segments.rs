//! Segments: saved filters evaluated when used, so a lead that writes to us
//! later enters a "recently active" segment without anyone editing it.

use reqwest::StatusCode;
use serde_json::json;

use crate::audience_fixtures::{inbound_text, meta_inbox};
use crate::harness::{Answer, TestApp};

fn id(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

fn sample_names(preview: &Answer) -> Vec<String> {
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let mut names: Vec<String> = preview.body["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_lead_segment_with_status_and_last_inbound_is_evaluated_when_used() {
    let inbox = meta_inbox(TestApp::spawn().await).await;
    let app = &inbox.app;
    let token = &inbox.admin;
    let hot = id(&app
        .post("/api/v1/lead-statuses", token, json!({"name": "Hot"}))
        .await);
    for (name, phone, status) in [
        ("Ana", "+254712000001", Some(&hot)),
        ("Bruno", "+254712000002", Some(&hot)),
        ("Carla", "+254712000003", None),
    ] {
        let created = app
            .post(
                "/api/v1/leads",
                token,
                json!({"name": name, "phone": phone, "status_id": status}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let created = app
        .post(
            "/api/v1/segments",
            token,
            json!({"name": "Hot and active", "target": "leads", "filter": {"status_id": hot, "last_inbound_within_days": 7}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["target"], "leads");
    assert_eq!(
        created.body["filter"],
        json!({"status_id": hot, "last_inbound_within_days": 7})
    );
    let segment = id(&created);
    let preview = || async {
        app.post(
            "/api/v1/audiences/preview",
            token,
            json!({"audience": {"segment_id": segment}}),
        )
        .await
    };

    // Nobody has written yet.
    assert_eq!(preview().await.body["size"], 0);

    // Ana writes; Carla writes too, but is not Hot.
    inbound_text(&inbox, "254712000001", "Hi, is the offer still on?").await;
    inbound_text(&inbox, "254712000003", "Hello").await;
    let now = preview().await;
    assert_eq!(now.body["size"], 1);
    assert_eq!(sample_names(&now), ["Ana"]);

    // Bruno writes later: the same segment now holds him as well.
    inbound_text(&inbox, "254712000002", "Me too").await;
    let later = preview().await;
    assert_eq!(later.body["size"], 2);
    assert_eq!(sample_names(&later), ["Ana", "Bruno"]);
}

#[tokio::test]
async fn segments_are_saved_replaced_and_deleted_with_typed_filters() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/segments",
            &token,
            json!({"name": "VIPs", "target": "whatsapp_contacts", "filter": {"label": "vip", "consent": "subscribed"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let segment = id(&created);
    let fetched = app
        .get(&format!("/api/v1/segments/{segment}"), &token)
        .await;
    assert_eq!(fetched.body, created.body);
    let listed = app.get("/api/v1/segments", &token).await;
    assert_eq!(listed.body["items"][0]["id"], segment.as_str());

    let same_name = app
        .post(
            "/api/v1/segments",
            &token,
            json!({"name": "VIPs", "target": "contacts", "filter": {}}),
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CONFLICT);
    assert_eq!(same_name.problem_code(), "already_exists");

    // A field of another target's filter is refused, as is an unknown target.
    for body in [
        json!({"name": "X", "target": "leads", "filter": {"label": "vip"}}),
        json!({"name": "X", "target": "contacts", "filter": {"status_id": segment}}),
        json!({"name": "X", "target": "staff", "filter": {}}),
        json!({"name": "X", "target": "leads", "filter": {}, "extra": 1}),
    ] {
        let answer = app.post("/api/v1/segments", &token, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
    }
    let bad_range = app
        .post(
            "/api/v1/segments",
            &token,
            json!({"name": "X", "target": "leads", "filter": {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(bad_range.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad_range.body["errors"][0]["field"],
        "filter.created_before"
    );

    let replaced = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/segments/{segment}"),
            Some(&token),
            Some(json!({"name": "Quiet contacts", "target": "contacts", "filter": {"consent": "unknown"}})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["target"], "contacts");
    assert_eq!(replaced.body["filter"], json!({"consent": "unknown"}));

    assert_eq!(
        app.delete(&format!("/api/v1/segments/{segment}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/segments/{segment}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn segments_take_the_group_permissions() {
    let app = TestApp::spawn().await;
    let (_, viewer) = app.staff_with(&["whatsapp_groups:view"]).await;
    let (_, stranger) = app.staff_with(&["leads:view"]).await;
    assert_eq!(
        app.get("/api/v1/segments", &viewer).await.status,
        StatusCode::OK
    );
    let refused = app.get("/api/v1/segments", &stranger).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["permission"], "whatsapp_groups:view");
    let create = app
        .post(
            "/api/v1/segments",
            &viewer,
            json!({"name": "X", "target": "leads", "filter": {}}),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(create.body["permission"], "whatsapp_groups:create");
}
