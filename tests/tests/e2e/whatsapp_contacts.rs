//! WhatsApp contacts: CRUD as a marketer uses it, one contact per phone in
//! any spelling, a time zone from the phone's country, filters and counts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audience_fixtures::{block, set_consent};
use crate::harness::TestApp;

fn id(answer: &crate::harness::Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

fn names(answer: &crate::harness::Answer) -> Vec<String> {
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

#[tokio::test]
async fn a_whatsapp_contact_is_created_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let created = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({
                "name": "Wanjiru", "phone": "+254 712 345 678", "language": "sw",
                "labels": ["vip", " vip ", "nairobi"], "custom_fields": {"first_name": "Wanjiru", "plan": "gold"},
                "opt_in": {"status": "opted_in", "source": "website form", "at": "2026-11-01T10:00:00Z"},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["phone"], "+254 712 345 678");
    assert_eq!(created.body["phone_normalized"], "254712345678");
    // No zone given: Kenya's.
    assert_eq!(created.body["time_zone"], "Africa/Nairobi");
    assert_eq!(created.body["labels"], json!(["vip", "nairobi"]));
    assert_eq!(
        created.body["custom_fields"],
        json!({"first_name": "Wanjiru", "plan": "gold"})
    );
    assert_eq!(
        created.body["opt_in"],
        json!({"status": "opted_in", "source": "website form", "at": "2026-11-01T10:00:00Z"})
    );
    assert_eq!(created.body["consent"]["state"], "unknown");
    assert_eq!(created.body["blocked"], false);
    let contact = id(&created);

    let fetched = app
        .get(&format!("/api/v1/whatsapp-contacts/{contact}"), &token)
        .await;
    assert_eq!(fetched.body, created.body);

    // The same phone in another spelling is the same WhatsApp identity.
    let duplicate = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({"name": "W. again", "phone": "00254712345678"}),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.body);
    assert_eq!(duplicate.problem_code(), "whatsapp_contact_exists");
    assert_eq!(duplicate.body["existing_id"], contact.as_str());

    let updated = app
        .patch(
            &format!("/api/v1/whatsapp-contacts/{contact}"),
            &token,
            json!({"name": null, "time_zone": "Europe/London", "labels": ["gold"], "language": "pt-BR"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["name"], Value::Null);
    assert_eq!(updated.body["time_zone"], "Europe/London");
    assert_eq!(updated.body["labels"], json!(["gold"]));
    assert_eq!(
        updated.body["language"], "pt_BR",
        "written as templates name it"
    );
    assert_eq!(
        updated.body["custom_fields"], created.body["custom_fields"],
        "untouched fields stay"
    );
    // A zone reset to null is the phone's country's again.
    let reset = app
        .patch(
            &format!("/api/v1/whatsapp-contacts/{contact}"),
            &token,
            json!({"time_zone": null}),
        )
        .await;
    assert_eq!(reset.body["time_zone"], "Africa/Nairobi");

    // Moving another contact onto this phone is the same conflict.
    let other = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({"phone": "+55 11 98765-4321"}),
        )
        .await;
    assert_eq!(other.body["time_zone"], "America/Sao_Paulo");
    let moved = app
        .patch(
            &format!("/api/v1/whatsapp-contacts/{}", id(&other)),
            &token,
            json!({"phone": "+254712345678"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CONFLICT);
    assert_eq!(moved.body["existing_id"], contact.as_str());

    assert_eq!(
        app.delete(&format!("/api/v1/whatsapp-contacts/{contact}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/whatsapp-contacts/{contact}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_fields_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({
                "phone": "call me", "time_zone": "Mars/Olympus", "language": "English",
                "labels": [""], "custom_fields": {"First Name": "Ana"},
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.problem_code(), "validation_failed");
    let mut fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    // The time zone is checked only against a phone that parses.
    assert_eq!(fields, ["custom_fields", "labels", "language", "phone"]);

    let unknown_field = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({"phone": "+254712345678", "consent": {"state": "subscribed"}}),
        )
        .await;
    assert_eq!(
        unknown_field.status,
        StatusCode::BAD_REQUEST,
        "consent is read-only"
    );
}

#[tokio::test]
async fn whatsapp_contacts_need_their_permissions() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/whatsapp-contacts",
            &token,
            json!({"name": "Ana", "phone": "+254712345678"}),
        )
        .await;
    let contact = id(&created);
    let (_, viewer) = app.staff_with(&["whatsapp_contacts:view"]).await;
    let (_, stranger) = app.staff_with(&["contacts:view"]).await;

    let listed = app.get("/api/v1/whatsapp-contacts", &viewer).await;
    assert_eq!(names(&listed), ["Ana"]);
    let refused = app.get("/api/v1/whatsapp-contacts", &stranger).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["permission"], "whatsapp_contacts:view");

    for (answer, permission) in [
        (
            app.post(
                "/api/v1/whatsapp-contacts",
                &viewer,
                json!({"phone": "+254733000111"}),
            )
            .await,
            "whatsapp_contacts:create",
        ),
        (
            app.patch(
                &format!("/api/v1/whatsapp-contacts/{contact}"),
                &viewer,
                json!({"name": "X"}),
            )
            .await,
            "whatsapp_contacts:edit",
        ),
        (
            app.delete(&format!("/api/v1/whatsapp-contacts/{contact}"), &viewer)
                .await,
            "whatsapp_contacts:delete",
        ),
    ] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.problem_code(), "permission_denied");
        assert_eq!(answer.body["permission"], permission);
    }
    // Nothing changed.
    let still = app
        .get(&format!("/api/v1/whatsapp-contacts/{contact}"), &token)
        .await;
    assert_eq!(still.body["name"], "Ana");
}

#[tokio::test]
async fn the_list_filters_by_label_consent_and_text_and_counts_by_consent() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for (name, phone, labels) in [
        ("Ana", "+254712000001", json!(["vip"])),
        ("Bruno", "+254712000002", json!(["vip", "lagos"])),
        ("Carla", "+254712000003", json!([])),
        ("Dan", "+254712000004", json!(["vip"])),
    ] {
        let created = app
            .post(
                "/api/v1/whatsapp-contacts",
                &token,
                json!({"name": name, "phone": phone, "labels": labels}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    set_consent(&app, "254712000001", "subscribed").await;
    set_consent(&app, "254712000002", "opted_out").await;
    block(&app, "254712000004").await;

    let list = |query: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            app.get(&format!("/api/v1/whatsapp-contacts{query}"), token)
                .await
        }
    };
    assert_eq!(names(&list("?label=vip").await), ["Ana", "Bruno", "Dan"]);
    assert_eq!(names(&list("?consent=subscribed").await), ["Ana"]);
    assert_eq!(names(&list("?consent=opted_out").await), ["Bruno"]);
    assert_eq!(names(&list("?consent=unknown").await), ["Carla", "Dan"]);
    assert_eq!(names(&list("?consent=blocked").await), ["Dan"]);
    assert_eq!(names(&list("?label=vip&consent=unknown").await), ["Dan"]);
    assert_eq!(names(&list("?q=carl").await), ["Carla"]);
    assert_eq!(names(&list("?q=712000002").await), ["Bruno"]);

    let opted_out = list("?consent=opted_out").await;
    let bruno = &opted_out.body["items"][0];
    assert_eq!(bruno["consent"]["state"], "opted_out");
    assert_eq!(bruno["consent"]["reason"], "asked by phone");
    assert_eq!(bruno["consent"]["source"], "staff");
    let dan = &list("?consent=blocked").await.body["items"][0];
    assert_eq!(dan["blocked"], true);

    let counts = app
        .get("/api/v1/whatsapp-contacts/counts?label=vip", &token)
        .await;
    assert_eq!(counts.status, StatusCode::OK, "{}", counts.body);
    assert_eq!(
        counts.body,
        json!({"total": 3, "subscribed": 1, "opted_out": 1, "unknown": 1, "blocked": 1})
    );
    let subscribed = app
        .get(
            "/api/v1/whatsapp-contacts/counts?consent=subscribed",
            &token,
        )
        .await;
    assert_eq!(subscribed.body["total"], 1);
    assert_eq!(
        subscribed.body["unknown"], 2,
        "the split ignores the consent filter"
    );

    // Pages of two walk every contact once, newest first.
    let first = list("?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/api/v1/whatsapp-contacts?limit=2&cursor={cursor}"),
            &token,
        )
        .await;
    let seen: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["Dan", "Carla", "Bruno", "Ana"]);
    assert_eq!(second.body["next_cursor"], Value::Null);

    let bad = list("?created_after=2026-02-01T00:00:00Z&created_before=2026-01-01T00:00:00Z").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.problem_code(), "invalid_query");
}

/// The export's rows, parsed as a spreadsheet would, keyed by column name.
async fn export(
    app: &TestApp,
    token: &str,
    query: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/whatsapp-contacts/export{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let body = response.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_csv_export_holds_what_the_list_shows() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for body in [
        json!({"name": "Ana, \"the boss\"", "phone": "+254712000001", "labels": ["vip", "nairobi"], "language": "sw",
               "custom_fields": {"first_name": "Ana", "city": "Nairobi\nWestlands"}, "opt_in": {"status": "opted_in", "source": "form", "at": "2026-11-01T10:00:00Z"}}),
        json!({"phone": "+55 11 98765-4321", "labels": ["vip"], "custom_fields": {"plan": "gold"}}),
        json!({"name": "Not exported", "phone": "+254712000003", "custom_fields": {"secret_key": "x"}}),
    ] {
        let created = app.post("/api/v1/whatsapp-contacts", &token, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    set_consent(&app, "254712000001", "opted_out").await;

    let rows = export(&app, &token, "?label=vip").await;
    let listed = app.get("/api/v1/whatsapp-contacts?label=vip", &token).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    assert_eq!(rows.len(), 2);
    // Only the keys of the exported contacts become columns.
    assert!(rows[0].contains_key("custom_fields.first_name"));
    assert!(!rows[0].contains_key("custom_fields.secret_key"));
    for (row, item) in rows.iter().zip(items) {
        let text = |field: &str| item[field].as_str().unwrap_or_default().to_owned();
        assert_eq!(row["id"], text("id"));
        assert_eq!(row["name"], text("name"));
        assert_eq!(row["phone"], text("phone"));
        assert_eq!(row["phone_normalized"], text("phone_normalized"));
        assert_eq!(row["language"], text("language"));
        assert_eq!(row["time_zone"], text("time_zone"));
        let labels: Vec<&str> = row["labels"].split(';').collect();
        assert_eq!(json!(labels), item["labels"]);
        assert_eq!(
            row["opt_in_status"],
            item["opt_in"]["status"].as_str().unwrap()
        );
        assert_eq!(row["consent"], item["consent"]["state"].as_str().unwrap());
        for key in ["first_name", "city", "plan"] {
            assert_eq!(
                row[&format!("custom_fields.{key}")],
                item["custom_fields"][key].as_str().unwrap_or_default(),
                "{key}"
            );
        }
    }
    assert_eq!(rows[1]["name"], "Ana, \"the boss\"");
    assert_eq!(rows[1]["custom_fields.city"], "Nairobi\nWestlands");
    assert_eq!(rows[1]["consent"], "opted_out");

    let (_, stranger) = app.staff_with(&["contacts:view"]).await;
    let refused = app.get("/api/v1/whatsapp-contacts/export", &stranger).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["permission"], "whatsapp_contacts:view");
}

#[tokio::test]
async fn the_export_streams_every_page() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    // More than one page (1,000) of contacts, written directly for speed.
    let mut db = app.db().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO whatsapp_contacts (id, name, phone, phone_normalized, time_zone, custom_fields)
             SELECT gen_random_uuid(), 'Contact ' || n, '+2547' || lpad(n::text, 8, '0'), '2547' || lpad(n::text, 8, '0'),
                    'Africa/Nairobi', jsonb_build_object('n', n::text)
             FROM generate_series(1, 2500) AS n",
        ),
        &mut db,
    )
    .await
    .unwrap();
    let rows = export(&app, &token, "").await;
    assert_eq!(rows.len(), 2500);
    let distinct: std::collections::HashSet<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(distinct.len(), 2500);
    assert!(
        rows.iter()
            .all(|r| r["custom_fields.n"] == r["name"]["Contact ".len()..])
    );
}

#[tokio::test]
async fn leads_and_contacts_link_to_their_whatsapp_contact_and_conversations_show_consent() {
    let inbox = crate::audience_fixtures::meta_inbox(TestApp::spawn().await).await;
    let app = &inbox.app;
    let token = &inbox.admin;
    let whatsapp = id(&app
        .post(
            "/api/v1/whatsapp-contacts",
            token,
            json!({"name": "Ana", "phone": "+254 712 000 001"}),
        )
        .await);

    let lead = app
        .post(
            "/api/v1/leads",
            token,
            json!({"name": "Ana (lead)", "phone": "00254712000001"}),
        )
        .await;
    assert_eq!(lead.body["whatsapp_contact_id"], whatsapp.as_str());
    let unlinked = app
        .post(
            "/api/v1/leads",
            token,
            json!({"name": "Bruno", "phone": "+254712000002"}),
        )
        .await;
    assert_eq!(unlinked.body["whatsapp_contact_id"], Value::Null);
    let leads = app.get("/api/v1/leads", token).await;
    let linked: Vec<&Value> = leads.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["whatsapp_contact_id"])
        .collect();
    assert_eq!(linked, [&Value::Null, &json!(whatsapp)]);
    let contact = app
        .post(
            "/api/v1/contacts",
            token,
            json!({"name": "Ana (contact)", "phone": "+254712000001"}),
        )
        .await;
    assert_eq!(contact.body["whatsapp_contact_id"], whatsapp.as_str());
    let fetched = app
        .get(&format!("/api/v1/contacts/{}", id(&contact)), token)
        .await;
    assert_eq!(fetched.body["whatsapp_contact_id"], whatsapp.as_str());

    // The inbox shows where the customer's phone stands.
    crate::audience_fixtures::inbound_text(&inbox, "254712000001", "Hello").await;
    let (conversation, _) = inbox.only_conversation().await;
    assert_eq!(conversation["consent"]["state"], "unknown");
    assert_eq!(conversation["blocked"], false);
    set_consent(app, "254712000001", "opted_out").await;
    block(app, "254712000001").await;
    let (listed, _) = inbox.only_conversation().await;
    assert_eq!(listed["consent"]["state"], "opted_out");
    assert_eq!(listed["consent"]["reason"], "asked by phone");
    assert_eq!(listed["blocked"], true);
    let single = app
        .get(
            &format!("/api/v1/conversations/{}", listed["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(single.body["consent"], listed["consent"]);
    assert_eq!(single.body["blocked"], true);
}
