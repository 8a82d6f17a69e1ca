//! Audience previews: how many distinct phones a send would reach, what is
//! left out and why, and a sample, over leads, contacts, WhatsApp contacts,
//! groups and segments.

use diesel_async::RunQueryDsl as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audience_fixtures::{block, set_consent};
use crate::harness::{Answer, TestApp};

fn id(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

async fn preview(app: &TestApp, token: &str, audience: Value) -> Answer {
    app.post(
        "/api/v1/audiences/preview",
        token,
        json!({"audience": audience}),
    )
    .await
}

#[tokio::test]
async fn a_lead_audience_counts_distinct_phones_and_says_what_it_left_out() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut ids = std::collections::HashMap::new();
    for (name, phone) in [
        ("Ana", Some("+254 712 000 001")),
        // Ana's number again, in another spelling: one phone, one message.
        ("Ana (work)", Some("00254712000001")),
        ("No phone", None),
        ("Opted out", Some("+254712000002")),
        ("Blocked", Some("+254712000003")),
        ("Legacy", Some("+254712000004")),
    ] {
        let created = app
            .post(
                "/api/v1/leads",
                &token,
                json!({"name": name, "phone": phone}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        ids.insert(name, id(&created));
    }
    set_consent(&app, "254712000002", "opted_out").await;
    set_consent(&app, "254712000001", "subscribed").await;
    block(&app, "254712000003").await;
    // A phone stored before numbers were checked: kept as written, never normalised.
    let mut db = app.db().await;
    diesel::sql_query(
        "UPDATE leads SET phone = 'call reception', phone_normalized = NULL WHERE name = 'Legacy'",
    )
    .execute(&mut db)
    .await
    .unwrap();

    let answer = preview(&app, &token, json!({"leads": {}})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["records"], 6);
    assert_eq!(answer.body["size"], 2);
    assert_eq!(
        answer.body["excluded"],
        json!({"no_phone": 1, "invalid_phone": 1, "opted_out": 1, "blocked": 1, "duplicate": 1})
    );
    // The oldest record stands for a shared phone.
    assert_eq!(
        answer.body["sample"],
        json!([
            {"rel_type": "lead", "id": ids["Ana"], "name": "Ana", "phone": "254712000001", "consent": "subscribed"},
            {"rel_type": "lead", "id": ids["Opted out"], "name": "Opted out", "phone": "254712000002", "consent": "opted_out"},
        ])
    );

    // Filters apply before counting: only the subscribed.
    let subscribed = preview(&app, &token, json!({"leads": {"consent": "subscribed"}})).await;
    assert_eq!(subscribed.body["records"], 2);
    assert_eq!(subscribed.body["size"], 1);
    assert_eq!(subscribed.body["excluded"]["duplicate"], 1);
}

#[tokio::test]
async fn overlapping_groups_reach_each_phone_once() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut contacts = Vec::new();
    for (name, phone) in [
        ("Ana", "+254712000001"),
        ("Bruno", "+254712000002"),
        ("Carla", "+254712000003"),
    ] {
        contacts.push(id(&app
            .post(
                "/api/v1/whatsapp-contacts",
                &token,
                json!({"name": name, "phone": phone, "labels": ["launch"]}),
            )
            .await));
    }
    let first = id(&app
        .post("/api/v1/whatsapp-groups", &token, json!({"name": "First"}))
        .await);
    let second = id(&app
        .post("/api/v1/whatsapp-groups", &token, json!({"name": "Second"}))
        .await);
    for (group, members) in [
        (&first, [&contacts[0], &contacts[1]]),
        (&second, [&contacts[1], &contacts[2]]),
    ] {
        let added = app
            .post(
                &format!("/api/v1/whatsapp-groups/{group}/members"),
                &token,
                json!({"contact_ids": members}),
            )
            .await;
        assert_eq!(added.body["added"], 2);
    }
    block(&app, "254712000003").await;

    let answer = preview(&app, &token, json!({"whatsapp_groups": [first, second]})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Bruno is in both groups: two records, one recipient.
    assert_eq!(answer.body["records"], 4);
    assert_eq!(answer.body["size"], 2);
    assert_eq!(answer.body["excluded"]["duplicate"], 1);
    assert_eq!(answer.body["excluded"]["blocked"], 1);
    let names: Vec<&str> = answer.body["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ana", "Bruno"]);
    assert_eq!(answer.body["sample"][0]["rel_type"], "whatsapp_contact");

    // The same people as a WhatsApp contact filter, and through a segment.
    let by_filter = preview(
        &app,
        &token,
        json!({"whatsapp_contacts": {"label": "launch"}}),
    )
    .await;
    assert_eq!(by_filter.body["records"], 3);
    assert_eq!(by_filter.body["size"], 2);
    let segment = id(&app
        .post(
            "/api/v1/segments",
            &token,
            json!({"name": "Launch", "target": "whatsapp_contacts", "filter": {"label": "launch", "consent": "blocked"}}),
        )
        .await);
    let by_segment = preview(&app, &token, json!({"segment_id": segment})).await;
    assert_eq!(by_segment.body["records"], 1);
    assert_eq!(by_segment.body["size"], 0);

    // Contacts are an audience too.
    app.post(
        "/api/v1/contacts",
        &token,
        json!({"name": "Dora", "phone": "+254712000009"}),
    )
    .await;
    let contacts_audience = preview(&app, &token, json!({"contacts": {}})).await;
    assert_eq!(contacts_audience.body["size"], 1);
    assert_eq!(contacts_audience.body["sample"][0]["rel_type"], "contact");
}

#[tokio::test]
async fn an_audience_is_exactly_one_known_kind_and_needs_the_view_permission() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let nobody = uuid::Uuid::now_v7().to_string();
    for (audience, field) in [
        (json!({}), "audience"),
        (json!({"leads": {}, "contacts": {}}), "audience"),
        (json!({"everyone": true}), "audience"),
        (json!({"leads": {"label": "vip"}}), "audience"),
        (json!({"whatsapp_groups": []}), "audience.whatsapp_groups"),
        (
            json!({"leads": {"last_inbound_within_days": 0}}),
            "audience.last_inbound_within_days",
        ),
        (json!({"segment_id": nobody}), "audience.segment_id"),
        (
            json!({"whatsapp_groups": [nobody]}),
            "audience.whatsapp_groups",
        ),
    ] {
        let answer = preview(&app, &token, audience.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{audience}: {}",
            answer.body
        );
        assert_eq!(answer.body["errors"][0]["field"], field, "{audience}");
    }

    let (_, marketer) = app.staff_with(&["whatsapp_contacts:view"]).await;
    assert_eq!(
        preview(&app, &marketer, json!({"whatsapp_contacts": {}}))
            .await
            .status,
        StatusCode::OK
    );
    let leads = preview(&app, &marketer, json!({"leads": {}})).await;
    assert_eq!(leads.status, StatusCode::FORBIDDEN);
    assert_eq!(leads.body["permission"], "leads:view");
}
