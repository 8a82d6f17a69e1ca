//! WhatsApp groups: named lists of WhatsApp contacts, filled and emptied in
//! bulk by ids or by a contact filter, with member counts kept.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};

fn id(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

/// Creates contacts `name -> (phone, labels)`; returns their ids in order.
async fn contacts(app: &TestApp, token: &str, people: &[(&str, &str, Value)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, phone, labels) in people {
        let created = app
            .post(
                "/api/v1/whatsapp-contacts",
                token,
                json!({"name": name, "phone": phone, "labels": labels}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        ids.push(id(&created));
    }
    ids
}

async fn member_names(app: &TestApp, token: &str, group: &str) -> Vec<String> {
    let answer = app
        .get(&format!("/api/v1/whatsapp-groups/{group}/members"), token)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let mut names: Vec<String> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn member_count(app: &TestApp, token: &str, group: &str) -> i64 {
    app.get(&format!("/api/v1/whatsapp-groups/{group}"), token)
        .await
        .body["member_count"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_group_is_created_renamed_and_deleted_with_unique_names() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/whatsapp-groups",
            &token,
            json!({"name": "VIP Nairobi", "description": "Gold plan"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["member_count"], 0);
    let group = id(&created);

    let again = app
        .post(
            "/api/v1/whatsapp-groups",
            &token,
            json!({"name": "VIP Nairobi"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "already_exists");

    let renamed = app
        .patch(
            &format!("/api/v1/whatsapp-groups/{group}"),
            &token,
            json!({"name": "VIP Kenya", "description": null}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "VIP Kenya");
    assert_eq!(renamed.body["description"], Value::Null);
    let listed = app.get("/api/v1/whatsapp-groups", &token).await;
    assert_eq!(listed.body["items"][0]["name"], "VIP Kenya");

    // Deleting a group keeps its contacts.
    let people = contacts(&app, &token, &[("Ana", "+254712000001", json!([]))]).await;
    app.post(
        &format!("/api/v1/whatsapp-groups/{group}/members"),
        &token,
        json!({"contact_ids": people}),
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/whatsapp-groups/{group}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/whatsapp-groups/{group}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/whatsapp-contacts/{}", people[0]), &token)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn members_are_added_and_removed_in_bulk_by_ids_and_by_filter() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let people = contacts(
        &app,
        &token,
        &[
            ("Ana", "+254712000001", json!(["vip"])),
            ("Bruno", "+254712000002", json!(["vip"])),
            ("Carla", "+254712000003", json!([])),
            ("Dan", "+254712000004", json!(["vip"])),
        ],
    )
    .await;
    let group = id(&app
        .post("/api/v1/whatsapp-groups", &token, json!({"name": "Launch"}))
        .await);
    let members = format!("/api/v1/whatsapp-groups/{group}/members");

    // By ids: an unknown id is reported, the rest go in.
    let stranger = uuid::Uuid::now_v7().to_string();
    let added = app
        .post(
            &members,
            &token,
            json!({"contact_ids": [people[0], people[2], stranger]}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(
        added.body,
        json!({"added": 2, "unknown_contact_ids": [stranger]})
    );
    assert_eq!(member_names(&app, &token, &group).await, ["Ana", "Carla"]);
    assert_eq!(member_count(&app, &token, &group).await, 2);

    // A filter is an object: an array is refused, never an empty filter that
    // would add every contact.
    let array = app
        .post(&members, &token, json!({"filter": [null, null]}))
        .await;
    assert!(array.status.is_client_error(), "{}", array.body);
    assert_eq!(member_count(&app, &token, &group).await, 2);

    // By filter: every `vip` contact; Ana is already in and counts nothing.
    let by_filter = app
        .post(&members, &token, json!({"filter": {"label": "vip"}}))
        .await;
    assert_eq!(by_filter.status, StatusCode::OK, "{}", by_filter.body);
    assert_eq!(by_filter.body["added"], 2);
    assert_eq!(
        member_names(&app, &token, &group).await,
        ["Ana", "Bruno", "Carla", "Dan"]
    );
    assert_eq!(member_count(&app, &token, &group).await, 4);
    let repeated = app
        .post(&members, &token, json!({"filter": {"label": "vip"}}))
        .await;
    assert_eq!(repeated.body["added"], 0, "adding is idempotent");

    // The contact list's group filter sees the same members.
    let listed = app
        .get(
            &format!("/api/v1/whatsapp-contacts?group_id={group}&label=vip"),
            &token,
        )
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);

    let removed = app
        .post(
            &format!("{members}/remove"),
            &token,
            json!({"contact_ids": [people[1]]}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(
        removed.body,
        json!({"removed": 1, "unknown_contact_ids": []})
    );
    let removed = app
        .post(
            &format!("{members}/remove"),
            &token,
            json!({"filter": {"q": "carla"}}),
        )
        .await;
    assert_eq!(removed.body["removed"], 1);
    assert_eq!(member_names(&app, &token, &group).await, ["Ana", "Dan"]);
    assert_eq!(member_count(&app, &token, &group).await, 2);

    // A deleted contact leaves its groups.
    app.delete(&format!("/api/v1/whatsapp-contacts/{}", people[3]), &token)
        .await;
    assert_eq!(member_count(&app, &token, &group).await, 1);

    // Neither both kinds at once, nor a bad filter, nor too many ids.
    for body in [
        json!({"contact_ids": [], "filter": {}}),
        json!({"filter": {"status_id": stranger}}),
        json!({}),
    ] {
        let answer = app.post(&members, &token, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
    }
    let too_many: Vec<String> = (0..10_001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let answer = app
        .post(&members, &token, json!({"contact_ids": too_many}))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["errors"][0]["field"], "contact_ids");
    let reversed = app
        .post(
            &members,
            &token,
            json!({"filter": {"last_inbound_within_days": 0}}),
        )
        .await;
    assert_eq!(reversed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reversed.body["errors"][0]["field"],
        "filter.last_inbound_within_days"
    );
}

#[tokio::test]
async fn groups_need_their_permissions() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let group = id(&app
        .post("/api/v1/whatsapp-groups", &token, json!({"name": "Launch"}))
        .await);
    let (_, viewer) = app.staff_with(&["whatsapp_groups:view"]).await;
    let (_, contacts_only) = app.staff_with(&["whatsapp_contacts:view"]).await;

    assert_eq!(
        app.get("/api/v1/whatsapp-groups", &viewer).await.status,
        StatusCode::OK
    );
    let refused = app.get("/api/v1/whatsapp-groups", &contacts_only).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["permission"], "whatsapp_groups:view");
    for (answer, permission) in [
        (
            app.post("/api/v1/whatsapp-groups", &viewer, json!({"name": "X"}))
                .await,
            "whatsapp_groups:create",
        ),
        (
            app.patch(
                &format!("/api/v1/whatsapp-groups/{group}"),
                &viewer,
                json!({"name": "X"}),
            )
            .await,
            "whatsapp_groups:edit",
        ),
        (
            app.post(
                &format!("/api/v1/whatsapp-groups/{group}/members"),
                &viewer,
                json!({"contact_ids": []}),
            )
            .await,
            "whatsapp_groups:edit",
        ),
        (
            app.delete(&format!("/api/v1/whatsapp-groups/{group}"), &viewer)
                .await,
            "whatsapp_groups:delete",
        ),
    ] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.body["permission"], permission);
    }
}
